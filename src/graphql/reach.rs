//! `reachability`: may I contact these people (API.md §8), as
//! `POST /v1/reachability/check`.

use std::sync::Arc;

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use serde::Serialize;
use uuid::Uuid;

use super::{run, to_map};
use crate::services::reachability::{self, ReachabilityOut, Recipient};
use crate::services::suppression::SuppressionKey;

/// Days an order keeps a contract in progress (`CLIENTELE_CONTRACT_WINDOW_DAYS`), in the schema data.
#[derive(Debug, Clone, Copy)]
pub struct ContractWindow(pub i32);

/// How the person would be reached.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "crate::services::reachability::ReachChannel")]
#[serde(rename_all = "snake_case")]
pub enum ReachChannel {
    Email,
    Sms,
    Phone,
}

/// Why a recipient may not be contacted.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::services::reachability::Reason")]
pub enum BlockReason {
    /// A consumer without a current grant for the purpose.
    NoConsent,
    /// The consent for the purpose was withdrawn.
    Withdrawn,
    /// The person objected (Art. 21).
    Objection,
    /// On the suppression list.
    Suppressed,
    /// Processing is restricted (Art. 18).
    Restricted,
    /// Data not obtained from the person, whose Art. 14 notice is not recorded.
    Art14NoticePending,
    /// Not in the file, or without an address on this channel.
    Unknown,
}

/// One person to reach: exactly one of `contactId`, `email`, `phone`.
#[derive(InputObject, SimpleObject, Serialize, Clone)]
#[graphql(input_name = "RecipientInput", name = "Recipient")]
pub struct RecipientGql {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl From<Recipient> for RecipientGql {
    fn from(r: Recipient) -> Self {
        RecipientGql { contact_id: r.contact_id, email: r.email, phone: r.phone }
    }
}

/// A blocked recipient and why.
#[derive(SimpleObject)]
pub struct BlockedRecipient {
    pub recipient: RecipientGql,
    pub reason: BlockReason,
}

/// Every recipient, in one of the two lists, in the order asked.
#[derive(SimpleObject)]
pub struct Reachability {
    pub allowed: Vec<RecipientGql>,
    pub blocked: Vec<BlockedRecipient>,
}

impl From<ReachabilityOut> for Reachability {
    fn from(o: ReachabilityOut) -> Self {
        Reachability {
            allowed: o.allowed.into_iter().map(Into::into).collect(),
            blocked: o
                .blocked
                .into_iter()
                .map(|b| BlockedRecipient { recipient: b.recipient.into(), reason: b.reason.into() })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct CheckBody {
    channel: ReachChannel,
    purpose: String,
    recipients: Vec<RecipientGql>,
    #[serde(skip_serializing_if = "Option::is_none")]
    with_notice: Option<bool>,
}

/// The reachability query.
#[derive(Default)]
pub struct ReachQuery;

#[Object]
impl ReachQuery {
    /// May I contact these people, on this channel, for this purpose? Up to
    /// 1,000 recipients, with the rules of `POST /v1/reachability/check`
    /// (`contacts:read`).
    async fn reachability(
        &self,
        ctx: &Context<'_>,
        channel: ReachChannel,
        #[graphql(desc = "A key of the purposes.")] purpose: String,
        recipients: Vec<RecipientGql>,
        #[graphql(desc = "The message carries the Art. 14 notice itself.")] with_notice: Option<bool>,
    ) -> Result<Reachability> {
        let body = to_map(&CheckBody { channel, purpose, recipients, with_notice })?;
        let key = ctx.data::<Arc<SuppressionKey>>()?.clone();
        let window = ctx.data::<ContractWindow>().map(|w| w.0).unwrap_or(365);
        Ok(run(ctx, move |c, a| reachability::check(c, a, &key, window, body)).await?.into())
    }
}
