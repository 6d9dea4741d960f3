//! The consent ledger: append-only grant and withdrawal events per contact
//! and purpose, with the proof that makes a grant demonstrable (Art. 7(1)).

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::events;
use super::{Errors, decode};
use crate::auth::{Actor, Scope};
use crate::db::schema::{consent_events, contacts, purposes};
use crate::error::AppError;
use crate::models::contact as contact_model;

/// `granted` or `withdrawn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    Granted,
    Withdrawn,
}

/// Where the consent was collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    WebForm,
    Checkout,
    Email,
    Phone,
    Paper,
    Api,
    Import,
}

/// How consent was expressed. `pre_checked` and `terms_acceptance` are
/// refused: neither is consent.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// `checkbox`, `double_opt_in`, `signature`, `verbal` or `other`.
    #[validate(required)]
    #[schema(required = true)]
    pub method: Option<String>,
    #[validate(length(max = 45))]
    #[schema(max_length = 45)]
    pub ip: Option<String>,
    #[validate(length(max = 500))]
    #[schema(max_length = 500)]
    pub user_agent: Option<String>,
    #[validate(url, length(max = 2048))]
    #[schema(max_length = 2048)]
    pub form_url: Option<String>,
    /// The exact wording shown to the person.
    #[validate(length(min = 1, max = 5000))]
    #[schema(min_length = 1, max_length = 5000)]
    pub wording: Option<String>,
    #[validate(length(max = 100))]
    #[schema(max_length = 100)]
    pub wording_version: Option<String>,
    /// A reference to stored evidence (signed form, recording...).
    #[validate(length(max = 500))]
    #[schema(max_length = 500)]
    pub evidence_ref: Option<String>,
}

/// A consent event to record.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// A key of `/v1/purposes`.
    #[validate(required)]
    #[schema(required = true, example = "newsletter")]
    pub purpose: Option<String>,
    #[validate(required)]
    #[schema(required = true)]
    pub status: Option<ConsentStatus>,
    /// Required for a grant.
    pub channel: Option<Channel>,
    /// When the person expressed it; required for a grant (default now for a withdrawal).
    pub collected_at: Option<DateTime<Utc>>,
    /// Required for a grant, with `method` and `wording`.
    #[validate(nested)]
    pub proof: Option<Proof>,
}

/// A recorded consent event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentEvent {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub purpose: String,
    pub status: ConsentStatus,
    pub channel: Option<Channel>,
    pub collected_at: DateTime<Utc>,
    /// The proof as recorded (a `Proof`; `one_click` for a withdrawal by a
    /// one-click unsubscribe link).
    #[schema(value_type = Option<Proof>)]
    pub proof: Option<Value>,
    /// Token `sub` that recorded it.
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

type Row = (Uuid, Uuid, String, String, Option<String>, DateTime<Utc>, Option<Value>, String, DateTime<Utc>);

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(Value::String(s.to_owned())).ok()
}

fn event(r: Row) -> ConsentEvent {
    ConsentEvent {
        id: r.0,
        contact_id: r.1,
        purpose: r.2,
        status: parse(&r.3).unwrap_or(ConsentStatus::Withdrawn),
        channel: r.4.as_deref().and_then(parse),
        collected_at: r.5,
        proof: r.6,
        recorded_by: r.7,
        recorded_at: r.8,
    }
}

macro_rules! columns {
    () => {
        (
            consent_events::id,
            consent_events::contact_id,
            consent_events::purpose,
            consent_events::status,
            consent_events::channel,
            consent_events::collected_at,
            consent_events::proof,
            consent_events::recorded_by,
            consent_events::recorded_at,
        )
    };
}

fn as_str<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Validates an event: a grant needs `collected_at`, `channel`, `proof.method` and `proof.wording`.
/// The methods of proof that demonstrate consent (checked below; the
/// OpenAPI document lists them as the enum of `proof.method`).
pub const PROOF_METHODS: [&str; 5] = ["checkbox", "double_opt_in", "signature", "verbal", "other"];

fn validate(conn: &mut PgConnection, body: Map<String, Value>) -> Result<ConsentInput, AppError> {
    let (input, mut errors) = decode::<ConsentInput>(body);
    let Some(input) = input else { return Err(AppError::Validation(errors.0)) };
    if let Some(p) = &input.purpose
        && !diesel::select(diesel::dsl::exists(purposes::table.find(p))).get_result::<bool>(conn)?
    {
        errors.push("purpose", "unknown_purpose", "not a key of /v1/purposes");
    }
    if input.status == Some(ConsentStatus::Granted) {
        require_grant_proof(&input, &mut errors);
    }
    if let Some(method) = input.proof.as_ref().and_then(|p| p.method.as_deref()) {
        match method {
            m if PROOF_METHODS.contains(&m) => {}
            "pre_checked" | "terms_acceptance" => errors.push(
                "proof.method",
                "not_consent",
                "a pre-checked box or the acceptance of terms is not consent (GDPR Art. 4(11), recital 32)",
            ),
            _ => errors.push(
                "proof.method",
                "unknown_value",
                "must be one of: checkbox, double_opt_in, signature, verbal, other",
            ),
        }
    }
    if input.collected_at.is_some_and(|t| t > Utc::now() + chrono::Duration::minutes(5)) {
        errors.push("collected_at", "in_future", "consent cannot be collected in the future");
    }
    errors.finish()?;
    Ok(input)
}

fn require_grant_proof(input: &ConsentInput, errors: &mut Errors) {
    let why = "a grant must be demonstrable (Art. 7(1))";
    if input.collected_at.is_none() {
        errors.push("collected_at", "required", why);
    }
    if input.channel.is_none() {
        errors.push("channel", "required", why);
    }
    match &input.proof {
        None => errors.push("proof", "required", why),
        Some(p) => {
            if p.method.is_none() {
                errors.push("proof.method", "required", why);
            }
            if p.wording.as_deref().is_none_or(|w| w.trim().is_empty()) {
                errors.push("proof.wording", "required", "the wording shown to the person is required");
            }
        }
    }
}

/// Appends an event without checks of scope or restriction (used by
/// objection requests too). Audited.
pub fn append(
    conn: &mut PgConnection,
    actor: &Actor,
    contact_id: Uuid,
    input: &ConsentInput,
) -> Result<ConsentEvent, AppError> {
    let status = input.status.unwrap_or(ConsentStatus::Withdrawn);
    let purpose = input.purpose.clone().unwrap_or_default();
    let now = Utc::now().trunc_subsecs(6);
    let row: Row = diesel::insert_into(consent_events::table)
        .values((
            consent_events::id.eq(Uuid::now_v7()),
            consent_events::contact_id.eq(contact_id),
            consent_events::purpose.eq(&purpose),
            consent_events::status.eq(as_str(&status)),
            consent_events::channel.eq(input.channel.map(|c| as_str(&c)).or_else(|| Some("api".into()))),
            consent_events::collected_at.eq(input.collected_at.map(|t| t.trunc_subsecs(6)).unwrap_or(now)),
            consent_events::proof.eq(input.proof.as_ref().map(|p| serde_json::to_value(p).unwrap_or_default())),
            consent_events::recorded_by.eq(&actor.sub),
        ))
        .returning(columns!())
        .get_result(conn)?;
    let action = if status == ConsentStatus::Granted { "consent.granted" } else { "consent.withdrawn" };
    let event = event(row);
    let data = serde_json::to_value(&event).ok();
    if status == ConsentStatus::Granted {
        // A fresh, demonstrable grant lifts an earlier objection's suppression flag.
        diesel::update(contacts::table.find(contact_id))
            .filter(contacts::suppressed)
            .set(contacts::suppressed.eq(false))
            .execute(conn)?;
    }
    // Last: the audit entry holds the chain head until commit.
    events::change(conn, actor, action, "contact", contact_id, vec![format!("consents.{purpose}")], data)?;
    Ok(event)
}

/// `POST /v1/contacts/{id}/consents`: records a grant or a withdrawal. A
/// restricted contact accepts withdrawals only.
pub fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    contact_id: Uuid,
    body: Map<String, Value>,
) -> Result<ConsentEvent, AppError> {
    actor.require(Scope::ConsentsWrite)?;
    conn.transaction(|conn| {
        let contact = contact_model::find(conn, contact_id, true)?.ok_or(AppError::NotFound("contact"))?;
        let input = validate(conn, body)?;
        if contact.restricted && input.status == Some(ConsentStatus::Granted) {
            return Err(AppError::Conflict {
                code: "restricted",
                detail: "processing of this contact is restricted; only withdrawals are accepted".into(),
                field: None,
            });
        }
        append(conn, actor, contact_id, &input)
    })
}

/// Every event of a contact, oldest first (`GET .../consents/history`).
pub fn history(conn: &mut PgConnection, actor: &Actor, contact_id: Uuid) -> Result<Vec<ConsentEvent>, AppError> {
    actor.require(Scope::ConsentsRead)?;
    contact_model::find(conn, contact_id, false)?.ok_or(AppError::NotFound("contact"))?;
    events_of(conn, contact_id)
}

/// Every event of a contact, without scope checks (exports).
pub fn events_of(conn: &mut PgConnection, contact_id: Uuid) -> Result<Vec<ConsentEvent>, AppError> {
    let rows: Vec<Row> = consent_events::table
        .filter(consent_events::contact_id.eq(contact_id))
        .order((consent_events::collected_at, consent_events::id))
        .select(columns!())
        .load(conn)?;
    Ok(rows.into_iter().map(event).collect())
}

/// The events of every contact in id order after `after`, `limit` at most,
/// without scope checks (export jobs page through the ledger with it).
pub fn page_by_id(conn: &mut PgConnection, after: Option<Uuid>, limit: i64) -> Result<Vec<ConsentEvent>, AppError> {
    let mut q = consent_events::table.order(consent_events::id).limit(limit).select(columns!()).into_boxed();
    if let Some(a) = after {
        q = q.filter(consent_events::id.gt(a));
    }
    let rows: Vec<Row> = q.load(conn)?;
    Ok(rows.into_iter().map(event).collect())
}

/// The current state per purpose of several contacts at once, without scope
/// checks (the batch behind `Contact.consents`): one statement, the latest
/// event of each (contact, purpose) by `collected_at`, purposes in order.
pub fn current_of_many(
    conn: &mut PgConnection,
    contact_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<ConsentEvent>>, AppError> {
    let rows: Vec<Row> = consent_events::table
        .filter(consent_events::contact_id.eq_any(contact_ids))
        .distinct_on((consent_events::contact_id, consent_events::purpose))
        .order((
            consent_events::contact_id,
            consent_events::purpose,
            consent_events::collected_at.desc(),
            consent_events::id.desc(),
        ))
        .select(columns!())
        .load(conn)?;
    let mut out: HashMap<Uuid, Vec<ConsentEvent>> = HashMap::new();
    for r in rows {
        let e = event(r);
        out.entry(e.contact_id).or_default().push(e);
    }
    Ok(out)
}

/// The current state per purpose: the latest event by `collected_at`.
pub fn current_of(events: &[ConsentEvent]) -> Vec<ConsentEvent> {
    let mut latest: Vec<ConsentEvent> = Vec::new();
    for e in events {
        match latest.iter_mut().find(|l| l.purpose == e.purpose) {
            Some(l) if (e.collected_at, e.id) > (l.collected_at, l.id) => *l = e.clone(),
            Some(_) => {}
            None => latest.push(e.clone()),
        }
    }
    latest.sort_by(|a, b| a.purpose.cmp(&b.purpose));
    latest
}

/// `GET /v1/contacts/{id}/consents`: the current state per purpose.
pub fn current(conn: &mut PgConnection, actor: &Actor, contact_id: Uuid) -> Result<Vec<ConsentEvent>, AppError> {
    Ok(current_of(&history(conn, actor, contact_id)?))
}
