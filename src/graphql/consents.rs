//! The consent ledger (API.md §4, Consents): the `Consent` type behind
//! `Contact.consents`, its input and the `recordConsent` mutation.

use async_graphql::{Context, Enum, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{run_write, to_map};
use crate::services::consents::{self, ConsentEvent};

/// Whether the person consents.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "crate::services::consents::ConsentStatus")]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    /// Consent given.
    Granted,
    /// Consent withdrawn.
    Withdrawn,
}

/// Where a consent was collected.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "crate::services::consents::Channel", name = "ConsentChannel")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A form on a web site.
    WebForm,
    /// An online checkout.
    Checkout,
    /// An email.
    Email,
    /// A phone call.
    Phone,
    /// A paper form.
    Paper,
    /// Another system, through the API.
    Api,
    /// A bulk import.
    Import,
}

/// One event of the ledger; `Contact.consents` gives the latest per purpose.
pub struct Consent(pub ConsentEvent);

#[Object]
impl Consent {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn contact_id(&self) -> Uuid {
        self.0.contact_id
    }
    /// A key of `purposes`.
    async fn purpose(&self) -> &str {
        &self.0.purpose
    }
    async fn status(&self) -> ConsentStatus {
        self.0.status.into()
    }
    async fn channel(&self) -> Option<Channel> {
        self.0.channel.map(Into::into)
    }
    /// When the person expressed it.
    async fn collected_at(&self) -> DateTime<Utc> {
        self.0.collected_at
    }
    /// What makes the grant demonstrable, as recorded: the fields of
    /// `ProofInput`, with the same names.
    async fn proof(&self) -> Option<ProofInput> {
        self.0.proof.as_ref().and_then(|p| serde_json::from_value(p.clone()).ok())
    }
    /// The token subject that recorded it.
    async fn recorded_by(&self) -> &str {
        &self.0.recorded_by
    }
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.recorded_at
    }
}

/// How consent was expressed and shown: `ProofInput` when recorded, `Proof`
/// when read back, with the same fields.
#[derive(async_graphql::InputObject, async_graphql::SimpleObject, Serialize, serde::Deserialize)]
#[graphql(input_name = "ProofInput", name = "Proof")]
pub struct ProofInput {
    /// `checkbox`, `double_opt_in`, `signature`, `verbal` or `other`
    /// (`pre_checked` and `terms_acceptance` are refused: neither is consent).
    pub method: Option<String>,
    /// IP address of the person.
    pub ip: Option<String>,
    /// Browser of the person.
    pub user_agent: Option<String>,
    /// URL of the form (absolute).
    pub form_url: Option<String>,
    /// The exact wording shown to the person.
    pub wording: Option<String>,
    /// Version of that wording.
    pub wording_version: Option<String>,
    /// A reference to stored evidence (signed form, recording...).
    pub evidence_ref: Option<String>,
}

/// A consent event: a grant needs `channel`, `collectedAt`, `proof.method`
/// and `proof.wording`; a withdrawal only `purpose` and `status`.
#[derive(InputObject, Serialize)]
pub struct ConsentInput {
    /// A key of `purposes`.
    pub purpose: String,
    /// Grant or withdrawal.
    pub status: ConsentStatus,
    /// Required for a grant.
    pub channel: Option<Channel>,
    /// Required for a grant (default now for a withdrawal). Not in the future.
    pub collected_at: Option<DateTime<Utc>>,
    /// Required for a grant.
    pub proof: Option<ProofInput>,
}

/// Consent mutations (`consents:write`).
#[derive(Default)]
pub struct ConsentMutation;

#[Object]
impl ConsentMutation {
    /// Appends a grant or a withdrawal to a contact's ledger (as `POST
    /// /v1/contacts/{id}/consents`); a restricted contact accepts withdrawals only.
    async fn record_consent(
        &self,
        ctx: &Context<'_>,
        contact_id: Uuid,
        input: ConsentInput,
    ) -> Result<Option<Consent>> {
        let body = to_map(&input)?;
        Ok(Some(Consent(run_write(ctx, move |c, a| consents::record(c, a, contact_id, body.clone())).await?)))
    }
}
