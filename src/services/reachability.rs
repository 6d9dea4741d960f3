//! May I contact these people, on this channel, for this purpose? (API.md §8)
//!
//! One statement answers a whole call (up to 1,000 recipients): each
//! recipient is found by contact id, email or phone, with its current
//! consent for the purpose, its suppression, restriction, Art. 14 notice and
//! whether a contract is in progress.
//!
//! | channel | consumer | professional |
//! | --- | --- | --- |
//! | email, sms | a current grant | allowed unless withdrawn or objected |
//! | phone | a current grant, or a contract in progress (L223-1 as amended by loi 2025-594) | allowed unless withdrawn or objected |
//!
//! Suppressed and restricted people are never allowed; a contact whose data
//! was not obtained from them is blocked until its Art. 14 notice is recorded,
//! unless the caller says the message itself carries it (`with_notice`).

use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Bytea, Integer, Nullable, Text, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::decode;
use super::suppression::SuppressionKey;
use crate::auth::{Actor, Scope};
use crate::db::schema::purposes;
use crate::domain::{Email, Phone};
use crate::error::AppError;

/// Most recipients in one call.
pub const MAX_RECIPIENTS: usize = 1000;

/// How the person would be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReachChannel {
    Email,
    Sms,
    Phone,
}

/// One person to reach: exactly one of `contact_id`, `email`, `phone` (a
/// null counts as absent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// E.164, or a French national number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// The question.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReachabilityInput {
    #[validate(required)]
    #[schema(required = true)]
    pub channel: Option<ReachChannel>,
    /// A key of `/v1/purposes`.
    #[validate(required)]
    #[schema(required = true, example = "newsletter")]
    pub purpose: Option<String>,
    /// 1 to 1,000.
    #[validate(required, length(min = 1, max = 1000))]
    #[schema(required = true, min_items = 1, max_items = 1000)]
    pub recipients: Option<Vec<Recipient>>,
    /// The message itself carries the Art. 14 notice: contacts still owed
    /// one are not blocked for it.
    pub with_notice: Option<bool>,
}

/// Why a recipient may not be contacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A consumer without a current grant for the purpose.
    NoConsent,
    /// The consent for the purpose was withdrawn.
    Withdrawn,
    /// The person objected (Art. 21).
    Objection,
    /// On the suppression list (erased, or objected).
    Suppressed,
    /// Processing is restricted (Art. 18).
    Restricted,
    /// Data not obtained from the person, whose Art. 14 notice is not recorded.
    Art14NoticePending,
    /// Not in the file, or without an address on this channel.
    Unknown,
}

/// A blocked recipient and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Blocked {
    pub recipient: Recipient,
    pub reason: Reason,
}

/// The answer: every recipient in one of the two lists, in the order asked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReachabilityOut {
    pub allowed: Vec<Recipient>,
    pub blocked: Vec<Blocked>,
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = Integer)]
    i: i32,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    contact_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    audience: Option<String>,
    #[diesel(sql_type = Bool)]
    restricted: bool,
    #[diesel(sql_type = Bool)]
    suppressed: bool,
    #[diesel(sql_type = Nullable<Text>)]
    suppression: Option<String>,
    #[diesel(sql_type = Bool)]
    has_address: bool,
    #[diesel(sql_type = Bool)]
    notice_pending: bool,
    #[diesel(sql_type = Nullable<Text>)]
    consent: Option<String>,
    #[diesel(sql_type = Bool)]
    contract: bool,
}

/// The statement: `$1..$5` the recipients (index, id, email, phone, email
/// HMAC), `$6` the purpose, `$7` the channel, `$8` the contract window in days.
const CHECK: &str = "\
WITH r AS (SELECT * FROM unnest($1::int[], $2::uuid[], $3::text[], $4::text[], $5::bytea[]) AS r(i, id, email, phone, hmac)) \
SELECT r.i, c.id AS contact_id, c.audience, coalesce(c.restricted, false) AS restricted, \
  coalesce(c.suppressed, false) AS suppressed, \
  (SELECT s.reason FROM suppression_list s WHERE s.email_hmac = r.hmac) AS suppression, \
  coalesce(CASE $7 WHEN 'email' THEN c.email IS NOT NULL ELSE c.phone IS NOT NULL END, false) AS has_address, \
  coalesce(c.art14_notice_due_at IS NOT NULL AND c.art14_notice_sent_at IS NULL, false) AS notice_pending, \
  (SELECT e.status FROM consent_events e WHERE e.contact_id = c.id AND e.purpose = $6 \
     ORDER BY e.collected_at DESC, e.id DESC LIMIT 1) AS consent, \
  coalesce(EXISTS (SELECT 1 FROM orders o WHERE o.contact_id = c.id AND o.status NOT IN ('cancelled', 'refunded') \
     AND o.ordered_at >= now() - make_interval(days => $8)), false) AS contract \
FROM r LEFT JOIN LATERAL ( \
  (SELECT c.* FROM contacts c WHERE c.id = r.id) \
  UNION ALL (SELECT c.* FROM contacts c WHERE lower(c.email) = lower(r.email)) \
  UNION ALL (SELECT c.* FROM contacts c WHERE c.phone = r.phone ORDER BY c.created_at, c.id LIMIT 1) \
  LIMIT 1) c ON true \
ORDER BY r.i";

/// `POST /v1/reachability/check` (`contacts:read`).
pub fn check(
    conn: &mut PgConnection,
    actor: &Actor,
    key: &SuppressionKey,
    contract_window_days: i32,
    body: Map<String, Value>,
) -> Result<ReachabilityOut, AppError> {
    actor.require(Scope::ContactsRead)?;
    let (input, mut errors) = decode::<ReachabilityInput>(body);
    let Some(input) = input else { return Err(AppError::Validation(errors.0)) };
    let recipients = input.recipients.clone().unwrap_or_default();
    let (mut ids, mut emails, mut phones, mut hmacs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, r) in recipients.iter().enumerate() {
        let field = format!("recipients[{i}]");
        let (mut id, mut email, mut phone, mut hmac) = (None, None, None, None);
        match (r.contact_id, r.email.as_deref(), r.phone.as_deref()) {
            (Some(c), None, None) => id = Some(c),
            (None, Some(e), None) => {
                if let Some(e) = errors.take(&format!("{field}.email"), Email::parse(e)) {
                    hmac = Some(key.hmac(&e));
                    email = Some(e.as_str().to_owned());
                }
            }
            (None, None, Some(p)) => {
                phone = errors.take(&format!("{field}.phone"), Phone::parse(p)).map(|p| p.as_str().to_owned());
            }
            _ => errors.push(&field, "invalid", "give exactly one of contact_id, email or phone"),
        }
        ids.push(id);
        emails.push(email);
        phones.push(phone);
        hmacs.push(hmac);
    }
    let purpose = input.purpose.clone().unwrap_or_default();
    if input.purpose.is_some()
        && purposes::table.find(&purpose).select(purposes::key).first::<String>(conn).optional()?.is_none()
    {
        errors.push("purpose", "unknown_purpose", "no such purpose (see /v1/purposes)");
    }
    errors.finish()?;
    let channel = input.channel.expect("required");
    let index: Vec<i32> = (0..recipients.len() as i32).collect();
    let found: Vec<Found> = diesel::sql_query(CHECK)
        .bind::<Array<Integer>, _>(&index)
        .bind::<Array<Nullable<SqlUuid>>, _>(&ids)
        .bind::<Array<Nullable<Text>>, _>(&emails)
        .bind::<Array<Nullable<Text>>, _>(&phones)
        .bind::<Array<Nullable<Bytea>>, _>(&hmacs)
        .bind::<Text, _>(&purpose)
        .bind::<Text, _>(if channel == ReachChannel::Email { "email" } else { "phone" })
        .bind::<Integer, _>(contract_window_days)
        .load(conn)?;
    let with_notice = input.with_notice.unwrap_or(false);
    let mut out = ReachabilityOut { allowed: Vec::new(), blocked: Vec::new() };
    for f in found {
        let recipient = recipients[f.i as usize].clone();
        match verdict(channel, with_notice, &f) {
            None => out.allowed.push(recipient),
            Some(reason) => out.blocked.push(Blocked { recipient, reason }),
        }
    }
    Ok(out)
}

/// `None`: allowed.
fn verdict(channel: ReachChannel, with_notice: bool, f: &Found) -> Option<Reason> {
    let suppressed = match f.suppression.as_deref() {
        Some("objection") => Some(Reason::Objection),
        Some(_) => Some(Reason::Suppressed),
        None if f.suppressed => Some(Reason::Suppressed),
        None => None,
    };
    if f.contact_id.is_none() {
        return Some(suppressed.unwrap_or(Reason::Unknown));
    }
    if f.restricted {
        return Some(Reason::Restricted);
    }
    if let Some(s) = suppressed {
        return Some(s);
    }
    if !f.has_address {
        return Some(Reason::Unknown);
    }
    if f.notice_pending && !with_notice {
        return Some(Reason::Art14NoticePending);
    }
    let consumer = f.audience.as_deref() != Some("professional");
    match f.consent.as_deref() {
        Some("granted") => None,
        Some(_) => Some(Reason::Withdrawn),
        None if !consumer => None,
        None if channel == ReachChannel::Phone && f.contract => None,
        None => Some(Reason::NoConsent),
    }
}
