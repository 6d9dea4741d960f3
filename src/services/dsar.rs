//! Data-subject requests: submission, the one-month deadline and its single
//! extension, rejection, and processing of the six rights in one transaction.

use chrono::{DateTime, Months, SubsecRound, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::consents::{self, ConsentInput, ConsentStatus};
use super::contacts::{self, ContactInput};
use super::export::{self, Kind};
use super::suppression::{self, Reason, SuppressionKey};
use super::{Errors, decode};
use super::{audit, erasure, events, identity};
use crate::auth::{Actor, Scope};
use crate::db::schema::{contacts as contacts_t, dsar_requests, purposes};
use crate::domain::Email;
use crate::error::AppError;
use crate::models::contact::{self as contact_model, Contact};
use crate::models::dsar::{self as model, DsarRow};
use crate::pagination::{Page, PageRequest};

/// Told to the subject with every rejection (Art. 12(4)).
pub const COMPLAINT_NOTICE: &str = "You have the right to lodge a complaint with a supervisory authority \
(in France, the CNIL: https://www.cnil.fr/fr/plaintes) and to seek a judicial remedy.";

/// The right exercised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DsarType {
    Access,
    Rectification,
    Erasure,
    Portability,
    Restriction,
    Objection,
}

impl DsarType {
    fn as_str(self) -> &'static str {
        match self {
            DsarType::Access => "access",
            DsarType::Rectification => "rectification",
            DsarType::Erasure => "erasure",
            DsarType::Portability => "portability",
            DsarType::Restriction => "restriction",
            DsarType::Objection => "objection",
        }
    }
    fn parse(s: &str) -> Self {
        serde_json::from_value(Value::String(s.into())).unwrap_or(DsarType::Access)
    }
}

/// Who the request is about: an email or a contact id.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    pub email: Option<String>,
    pub contact_id: Option<Uuid>,
}

/// A new request.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DsarInput {
    /// Required (checked by hand: `validator` would name it `kind`).
    #[schema(required = true, value_type = DsarType)]
    #[serde(rename = "type")]
    pub kind: Option<DsarType>,
    #[validate(required)]
    #[schema(required = true)]
    pub subject: Option<Subject>,
    /// Rectification: the contact fields to set (validated as a PATCH is).
    #[schema(value_type = Option<Object>)]
    pub changes: Option<Map<String, Value>>,
    /// Who asked (free text, e.g. the relaying shop).
    #[validate(length(max = 500))]
    #[schema(max_length = 500)]
    pub requested_by: Option<String>,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    /// Each status change is POSTed there, signed with `callback_secret` (shown once).
    #[validate(length(max = 2048))]
    #[schema(max_length = 2048)]
    pub callback_url: Option<String>,
    /// The submitter's own reference for this request.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub external_id: Option<String>,
}

/// Where a request stands: `identity_unverified` (waiting for the person to
/// follow the link sent to the email on file), `received` (the one-month
/// clock runs), `completed`, `rejected`, or `expired` (never verified within
/// 30 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DsarStatus {
    IdentityUnverified,
    Received,
    Completed,
    Rejected,
    Expired,
}

impl DsarStatus {
    fn as_str(self) -> &'static str {
        match self {
            DsarStatus::IdentityUnverified => "identity_unverified",
            DsarStatus::Received => "received",
            DsarStatus::Completed => "completed",
            DsarStatus::Rejected => "rejected",
            DsarStatus::Expired => "expired",
        }
    }
}

/// How the subject's identity was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// The person followed the one-time link sent to the email on file.
    EmailLink,
    /// Submitted with `dsar:submit_verified`: the partner authenticated the person itself.
    Partner,
    /// Submitted with `dsar:manage`: verified by the controller.
    Controller,
    /// Received before verification existed.
    Legacy,
}

/// A request as the API returns it. A `dsar:submit` token sees its own
/// requests' status only: no subject, changes, note or result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DsarOut {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: DsarType,
    pub status: DsarStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    /// The token `sub` that submitted it.
    pub requester: String,
    pub received_at: DateTime<Utc>,
    /// How identity was established; null while `identity_unverified`.
    pub verification: Option<Verification>,
    /// When identity was established; the deadline counts from then.
    pub verified_at: Option<DateTime<Utc>>,
    /// While `identity_unverified`: when the request expires unless verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Erasure: the `dsar:manage` subject that approved it (with
    /// `CLIENTELE_DSAR_ERASURE_APPROVAL=true`, required before processing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<DateTime<Utc>>,
    /// One month after verification (three once extended). While
    /// `identity_unverified`, provisional: it is set again on verification.
    pub due_at: DateTime<Utc>,
    pub extended: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension_reason: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
    /// With a rejection: the right to complain to the supervisory authority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complaint_notice: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub changes: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The submitter's own reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Signing key of the status callbacks: in the 201 answer only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_secret: Option<String>,
    /// Once completed: what processing did (counts and field names, never
    /// personal data). Which fields are set depends on the request's `type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<DsarResult>)]
    pub result: Option<Value>,
    pub version: i32,
}

/// What processing a request did, by its `type`: every kind sets
/// `data_held`; with no data held only `detail` follows. Access and
/// portability: `export`, `export_zip`, `formats`. Erasure: `deleted`,
/// `anonymised`, `retained`, `suppressed`. Rectification: `rectified_fields`.
/// Restriction: `restricted`. Objection: `withdrawn`, `suppressed`. A field
/// that does not apply is absent, never null.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct DsarResult {
    /// Whether any personal data about the subject was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub data_held: Option<bool>,
    /// With `data_held: false`: a sentence saying so.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub detail: Option<String>,
    /// Access, portability: the path of the JSON export.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub export: Option<String>,
    /// Access, portability: the path of the ZIP export (one CSV per kind of record).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub export_zip: Option<String>,
    /// Access, portability: the formats of the export (`json`, `csv`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub formats: Option<Vec<String>>,
    /// Erasure: rows deleted, per kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub deleted: Option<std::collections::BTreeMap<String, i64>>,
    /// Erasure: rows kept with their personal data cleared, per kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub anonymised: Option<std::collections::BTreeMap<String, i64>>,
    /// Erasure: what is kept, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub retained: Option<Vec<erasure::Retained>>,
    /// Erasure, objection: the email's HMAC is on the suppression list.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub suppressed: Option<bool>,
    /// Rectification: the contact fields changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub rectified_fields: Option<Vec<String>>,
    /// Restriction: the contact is now restricted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub restricted: Option<bool>,
    /// Objection: the marketing purposes whose consent was withdrawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub withdrawn: Option<Vec<String>>,
}

fn status_of(s: &str) -> DsarStatus {
    match s {
        "identity_unverified" => DsarStatus::IdentityUnverified,
        "completed" => DsarStatus::Completed,
        "rejected" => DsarStatus::Rejected,
        "expired" => DsarStatus::Expired,
        _ => DsarStatus::Received,
    }
}

fn verification_of(s: &str) -> Verification {
    match s {
        "email_link" => Verification::EmailLink,
        "partner" => Verification::Partner,
        "controller" => Verification::Controller,
        _ => Verification::Legacy,
    }
}

/// The view of `row` for `actor`: full for `dsar:manage`, status only otherwise.
fn view(actor: &Actor, row: DsarRow) -> DsarOut {
    shape(actor.has(Scope::DsarManage), row)
}

/// What events and callbacks carry: the status, no personal data.
pub fn status_doc(row: &DsarRow) -> Option<Value> {
    serde_json::to_value(shape(false, row.clone())).ok()
}

fn shape(full: bool, row: DsarRow) -> DsarOut {
    let rejected = row.status == "rejected";
    DsarOut {
        id: row.id,
        kind: DsarType::parse(&row.kind),
        status: status_of(&row.status),
        subject: full.then_some(Subject { email: row.subject_email, contact_id: row.subject_contact_id }),
        requester: row.requester,
        received_at: row.received_at,
        verification: row.verification.as_deref().map(verification_of),
        verified_at: row.verified_at,
        expires_at: (row.status == "identity_unverified")
            .then(|| row.created_at + chrono::Duration::days(identity::UNVERIFIED_EXPIRE_DAYS)),
        approved_by: row.approved_by.filter(|_| full),
        approved_at: row.approved_at,
        due_at: row.due_at,
        extended: row.extended,
        extension_reason: row.extension_reason.filter(|_| full),
        closed_at: row.closed_at,
        rejection_reason: row.rejection_reason,
        complaint_notice: rejected.then_some(COMPLAINT_NOTICE),
        changes: row.changes.filter(|_| full).and_then(|v| v.as_object().cloned()),
        requested_by: row.requested_by.filter(|_| full),
        note: row.note.filter(|_| full),
        result: row.result.filter(|_| full),
        external_id: row.external_id,
        callback_secret: None,
        version: row.version,
    }
}

/// The same day of the next month, or its last day when it has no such day.
pub fn one_month_after(t: DateTime<Utc>) -> DateTime<Utc> {
    t.checked_add_months(Months::new(1)).unwrap_or(t)
}

/// What requests need beyond a connection, read once from the configuration.
#[derive(Debug, Clone)]
pub struct DsarSetup {
    /// The suppression list's key; also the key of verification links.
    pub key: std::sync::Arc<SuppressionKey>,
    /// Callback URLs may be private or plain http.
    pub allow_private: bool,
    /// Where the person reaches the service (`CLIENTELE_PUBLIC_URL`): the links' base.
    pub public_url: String,
    /// The service sends verification mails itself (`CLIENTELE_SMTP_URL` is set);
    /// otherwise the `dsar.verification_requested` event carries the link.
    pub smtp: bool,
    /// An erasure needs a second `dsar:manage` subject's approval (`CLIENTELE_DSAR_ERASURE_APPROVAL`).
    pub erasure_approval: bool,
}

impl DsarSetup {
    /// A setup for tools and benches: no SMTP, no approval, links on `http://localhost`.
    pub fn local(key: std::sync::Arc<SuppressionKey>) -> Self {
        DsarSetup {
            key,
            allow_private: true,
            public_url: "http://localhost".into(),
            smtp: false,
            erasure_approval: false,
        }
    }
}

/// Whether `actor` may submit or follow requests, and how its submissions are verified.
fn submitter(actor: &Actor) -> Result<Option<&'static str>, AppError> {
    if actor.has(Scope::DsarManage) {
        Ok(Some("controller"))
    } else if actor.has(Scope::DsarSubmitVerified) {
        Ok(Some("partner"))
    } else {
        actor.require(Scope::DsarSubmit)?;
        Ok(None)
    }
}

/// `POST /v1/dsar` (`dsar:submit`, `dsar:submit_verified` or `dsar:manage`).
/// A `dsar:submit` request starts as `identity_unverified` (see `identity`).
pub fn submit(
    conn: &mut PgConnection,
    actor: &Actor,
    setup: &DsarSetup,
    body: Map<String, Value>,
) -> Result<DsarOut, AppError> {
    let verification = submitter(actor)?;
    let (key, allow_private) = (&*setup.key, setup.allow_private);
    let (input, mut errors) = decode::<DsarInput>(body);
    let Some(input) = input else { return Err(AppError::Validation(errors.0)) };
    if input.kind.is_none() {
        errors.push("type", "required", "this field is required");
    }
    let subject = input.subject.clone().unwrap_or_default();
    let email = match (&subject.email, &subject.contact_id) {
        (Some(e), None) => errors.take("subject.email", Email::parse(e)),
        (None, Some(_)) => None,
        _ if input.subject.is_some() => {
            errors.push("subject", "invalid", "give exactly one of email or contact_id");
            None
        }
        _ => None,
    };
    match (input.kind, &input.changes) {
        (Some(DsarType::Rectification), None) => errors.push("changes", "required", "what to rectify"),
        (Some(DsarType::Rectification), Some(c)) => {
            let (_, e) = decode::<ContactInput>(c.clone());
            errors.0.extend(Errors(e.0).prefixed("changes"));
            // Where the data came from is the controller's record (Art. 14), not the person's to rewrite.
            if c.contains_key("provenance") {
                errors.push("changes.provenance", "not_allowed", "provenance is recorded by the controller");
            }
        }
        (Some(_), Some(_)) => errors.push("changes", "not_allowed", "only a rectification carries changes"),
        _ => {}
    }
    if let Some(url) = &input.callback_url {
        super::webhooks::check_url("callback_url", url, allow_private, &mut errors);
    }
    errors.finish()?;
    let kind = input.kind.expect("required");
    conn.transaction(|conn| {
        // The subject on file, found the same way whatever the outcome (the
        // answer must not tell whether the email is known).
        let on_file = match (&email, subject.contact_id) {
            (Some(e), _) => match contact_model::find_by_email(conn, e.as_str(), false)? {
                // An email of a contact merged into another reaches the survivor.
                None => match super::merge::contact_survivor_by_hmac(conn, &key.hmac(e))? {
                    Some(id) => contact_model::find(conn, id, false)?,
                    None => None,
                },
                found => found,
            },
            (None, Some(id)) => match contact_model::find(conn, id, false)? {
                None => match super::merge::contact_survivor(conn, id)? {
                    Some(survivor) => contact_model::find(conn, survivor, false)?,
                    None => None,
                },
                found => found,
            },
            _ => None,
        };
        let on_file_email: Option<(Uuid, Email)> =
            on_file.as_ref().and_then(|c| c.email.as_deref().and_then(|e| Email::parse(e).ok()).map(|e| (c.id, e)));
        let hmac = match (&email, &on_file_email) {
            (Some(e), _) => Some(key.hmac(e)),
            (None, Some((_, e))) => Some(key.hmac(e)),
            _ => None,
        };
        let now = Utc::now().trunc_subsecs(6);
        let id = Uuid::now_v7();
        let pending = verification.is_none().then(|| identity::pending(key, id, now));
        let recipient = pending.as_ref().and(on_file_email.as_ref().map(|(cid, _)| *cid));
        let row = DsarRow {
            id,
            kind: kind.as_str().into(),
            status: if pending.is_some() { "identity_unverified" } else { "received" }.into(),
            subject_email: email.map(|e| e.as_str().to_owned()),
            subject_contact_id: subject.contact_id,
            subject_hmac: hmac,
            changes: input.changes.map(Value::Object),
            requested_by: input.requested_by,
            note: input.note,
            requester: actor.sub.clone(),
            received_at: now,
            due_at: one_month_after(now),
            extended: false,
            extension_reason: None,
            closed_at: None,
            rejection_reason: None,
            result: None,
            created_at: now,
            updated_at: now,
            version: 1,
            external_id: input.external_id.clone(),
            verification: verification.map(str::to_owned),
            verified_at: verification.map(|_| now),
            verify_nonce: pending.as_ref().map(|p| p.nonce.clone()),
            verify_token_hash: pending.as_ref().map(|p| identity::token_hash(&p.token)),
            verify_expires_at: pending.as_ref().map(|p| p.expires_at),
            verify_contact_id: recipient,
            verify_mail: (recipient.is_some() && setup.smtp).then(|| "pending".to_owned()),
            verify_mail_attempts: 0,
            verify_mail_next_at: (recipient.is_some() && setup.smtp).then_some(now),
            approved_by: None,
            approved_at: None,
        };
        diesel::insert_into(dsar_requests::table).values(&row).execute(conn)?;
        let callback_secret = match &input.callback_url {
            Some(url) => {
                let secret = super::webhooks::new_secret();
                diesel::insert_into(crate::db::schema::webhooks::table)
                    .values((
                        crate::db::schema::webhooks::id.eq(Uuid::now_v7()),
                        crate::db::schema::webhooks::url.eq(url),
                        crate::db::schema::webhooks::events.eq(json!(["dsar.*"])),
                        crate::db::schema::webhooks::secret.eq(&secret),
                        crate::db::schema::webhooks::dsar_id.eq(row.id),
                        crate::db::schema::webhooks::external_id.eq(&input.external_id),
                        crate::db::schema::webhooks::created_by.eq(&actor.sub),
                    ))
                    .execute(conn)?;
                Some(secret)
            }
            None => None,
        };
        match (&pending, recipient) {
            (None, _) => {
                events::change(
                    conn,
                    actor,
                    "dsar.received",
                    "dsar_request",
                    row.id,
                    vec!["type".into()],
                    status_doc(&row),
                )?;
                if verification == Some("partner") {
                    // The partner vouched for the person: said in the audit, by whom.
                    audit::record(
                        conn,
                        actor,
                        "dsar.identity_vouched",
                        "dsar_request",
                        row.id,
                        vec!["verification".into()],
                    )?;
                }
            }
            (Some(p), contact) => {
                let fields = vec!["type".into(), "status".into()];
                events::change(
                    conn,
                    actor,
                    "dsar.identity_unverified",
                    "dsar_request",
                    row.id,
                    fields,
                    status_doc(&row),
                )?;
                if let Some(contact) = contact {
                    let link = (!setup.smtp).then(|| identity::link(&setup.public_url, &p.token));
                    let doc = identity::requested_doc(&row, contact, link.as_deref());
                    events::emit(
                        conn,
                        "dsar.verification_requested",
                        "dsar_request",
                        &row.id.to_string(),
                        vec![],
                        Some(doc),
                    )?;
                }
            }
        }
        let mut out = view(actor, row.clone());
        // The submitter sees what it sent, once, in the 201 answer.
        out.subject = Some(Subject { email: row.subject_email, contact_id: row.subject_contact_id });
        out.callback_secret = callback_secret;
        Ok(out)
    })
}

/// Loads a request visible to `actor`: a submitter sees only its own (404 otherwise).
fn visible(conn: &mut PgConnection, actor: &Actor, id: Uuid, lock: bool) -> Result<DsarRow, AppError> {
    submitter(actor)?;
    let row = model::find(conn, id, lock)?.ok_or(AppError::NotFound("request"))?;
    if !actor.has(Scope::DsarManage) && row.requester != actor.sub {
        return Err(AppError::NotFound("request"));
    }
    Ok(row)
}

/// `GET /v1/dsar/{id}`.
pub fn get(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> Result<DsarOut, AppError> {
    let row = visible(conn, actor, id, false)?;
    Ok(view(actor, row))
}

/// Filters of `GET /v1/dsar`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DsarFilter {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub after: Option<String>,
    pub status: Option<DsarStatus>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<DsarType>,
    /// Requests still open whose deadline is before this instant.
    pub due_before: Option<DateTime<Utc>>,
}

/// `GET /v1/dsar`: every request for `dsar:manage`, one's own for `dsar:submit`.
pub fn list(conn: &mut PgConnection, actor: &Actor, f: DsarFilter) -> Result<Page<DsarOut>, AppError> {
    submitter(actor)?;
    let page = PageRequest::parse(f.limit, f.after.as_deref(), None)?;
    let mut q = dsar_requests::table.select(DsarRow::as_select()).into_boxed();
    if !actor.has(Scope::DsarManage) {
        q = q.filter(dsar_requests::requester.eq(actor.sub.clone()));
    }
    if let Some(s) = f.status {
        q = q.filter(dsar_requests::status.eq(s.as_str()));
    }
    if let Some(k) = f.kind {
        q = q.filter(dsar_requests::type_.eq(k.as_str()));
    }
    if let Some(t) = f.due_before {
        q = q.filter(dsar_requests::due_at.lt(t).and(dsar_requests::status.eq("received")));
    }
    let rows: Vec<DsarRow> = crate::paginate!(q, dsar_requests, page).load(conn)?;
    Ok(page.page(rows, |r: &DsarRow| (r.created_at, r.id), |r| view(actor, r)))
}

fn must_be_open(row: &DsarRow) -> Result<(), AppError> {
    if row.status == "identity_unverified" {
        return Err(AppError::Conflict {
            code: "identity_unverified",
            detail: "the data subject has not confirmed the request yet (the link sent to the email on file)".into(),
            field: None,
        });
    }
    if row.status != "received" {
        return Err(AppError::Conflict {
            code: "closed",
            detail: format!("the request is already {}", row.status),
            field: None,
        });
    }
    Ok(())
}

/// Body of reject and extend.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonInput {
    #[validate(required, length(min = 1, max = 2000))]
    #[schema(required = true, min_length = 1, max_length = 2000)]
    pub reason: Option<String>,
}

fn reason(body: Map<String, Value>) -> Result<String, AppError> {
    let (input, errors) = decode::<ReasonInput>(body);
    errors.finish()?;
    Ok(input.and_then(|i| i.reason).unwrap_or_default())
}

fn save_close(
    conn: &mut PgConnection,
    id: Uuid,
    status: &str,
    result: Option<Value>,
    rejection: Option<String>,
) -> Result<DsarRow, AppError> {
    Ok(diesel::update(dsar_requests::table.find(id))
        .set((
            dsar_requests::status.eq(status),
            dsar_requests::result.eq(result),
            dsar_requests::rejection_reason.eq(rejection),
            dsar_requests::closed_at.eq(diesel::dsl::now),
            dsar_requests::updated_at.eq(diesel::dsl::now),
            dsar_requests::version.eq(dsar_requests::version + 1),
        ))
        .returning(DsarRow::as_returning())
        .get_result(conn)?)
}

/// `POST /v1/dsar/{id}/reject` (`dsar:manage`).
pub fn reject(conn: &mut PgConnection, actor: &Actor, id: Uuid, body: Map<String, Value>) -> Result<DsarOut, AppError> {
    actor.require(Scope::DsarManage)?;
    let why = reason(body)?;
    conn.transaction(|conn| {
        let row = model::find(conn, id, true)?.ok_or(AppError::NotFound("request"))?;
        // An unverified request may be refused (manifestly unfounded, Art. 12(5)).
        if row.status != "identity_unverified" {
            must_be_open(&row)?;
        }
        let row = diesel::update(dsar_requests::table.find(id))
            .set(dsar_requests::verify_token_hash.eq(None::<Vec<u8>>))
            .returning(DsarRow::as_returning())
            .get_result(conn)?;
        let row = save_close(conn, row.id, "rejected", None, Some(why))?;
        events::change(
            conn,
            actor,
            "dsar.rejected",
            "dsar_request",
            id,
            vec!["status".into(), "rejection_reason".into()],
            status_doc(&row),
        )?;
        Ok(view(actor, row))
    })
}

/// `POST /v1/dsar/{id}/extend` (`dsar:manage`): once, before the first
/// deadline, to three months after receipt (Art. 12(3)).
pub fn extend(conn: &mut PgConnection, actor: &Actor, id: Uuid, body: Map<String, Value>) -> Result<DsarOut, AppError> {
    actor.require(Scope::DsarManage)?;
    let why = reason(body)?;
    conn.transaction(|conn| {
        let row = model::find(conn, id, true)?.ok_or(AppError::NotFound("request"))?;
        must_be_open(&row)?;
        if row.extended || Utc::now() >= row.due_at {
            return Err(AppError::Conflict {
                code: "not_extendable",
                detail: "a request can be extended once, before its first deadline".into(),
                field: None,
            });
        }
        let from = row.verified_at.unwrap_or(row.received_at);
        let due = from.checked_add_months(Months::new(3)).unwrap_or(row.due_at);
        let row = diesel::update(dsar_requests::table.find(id))
            .set((
                dsar_requests::due_at.eq(due),
                dsar_requests::extended.eq(true),
                dsar_requests::extension_reason.eq(why),
                dsar_requests::updated_at.eq(diesel::dsl::now),
                dsar_requests::version.eq(dsar_requests::version + 1),
            ))
            .returning(DsarRow::as_returning())
            .get_result(conn)?;
        events::change(
            conn,
            actor,
            "dsar.extended",
            "dsar_request",
            id,
            vec!["due_at".into(), "extension_reason".into()],
            status_doc(&row),
        )?;
        Ok(view(actor, row))
    })
}

/// Finds (and locks) the subject of a request.
fn subject_of(conn: &mut PgConnection, row: &DsarRow) -> Result<Option<Contact>, AppError> {
    // A contact merged into another: the request reaches the survivor.
    if let Some(id) = row.subject_contact_id {
        return match erasure::lock_contact(conn, id)? {
            None => match super::merge::contact_survivor(conn, id)? {
                Some(survivor) => Ok(erasure::lock_contact(conn, survivor)?),
                None => Ok(None),
            },
            found => Ok(found),
        };
    }
    match row.subject_email.as_deref() {
        Some(e) => match contact_model::find_by_email(conn, e, true)? {
            None => match row.subject_hmac.as_deref() {
                Some(h) => match super::merge::contact_survivor_by_hmac(conn, h)? {
                    Some(survivor) => Ok(erasure::lock_contact(conn, survivor)?),
                    None => Ok(None),
                },
                None => Ok(None),
            },
            found => Ok(found),
        },
        None => Ok(None),
    }
}

/// `POST /v1/dsar/{id}/approve` (`dsar:manage`): the second person's
/// approval of an erasure, by a subject other than the submitter; the one who
/// processes it must be another again.
pub fn approve(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> Result<DsarOut, AppError> {
    actor.require(Scope::DsarManage)?;
    conn.transaction(|conn| {
        let row = model::find(conn, id, true)?.ok_or(AppError::NotFound("request"))?;
        must_be_open(&row)?;
        let conflict = |code, detail: &str| AppError::Conflict { code, detail: detail.into(), field: None };
        if DsarType::parse(&row.kind) != DsarType::Erasure {
            return Err(conflict("not_applicable", "only an erasure is approved"));
        }
        if row.approved_by.is_some() {
            return Err(conflict("already_approved", "this erasure is already approved"));
        }
        if row.requester == actor.sub {
            return Err(conflict("same_subject", "the approval must come from another person than the submitter"));
        }
        let row: DsarRow = diesel::update(dsar_requests::table.find(id))
            .set((
                dsar_requests::approved_by.eq(&actor.sub),
                dsar_requests::approved_at.eq(diesel::dsl::now),
                dsar_requests::updated_at.eq(diesel::dsl::now),
                dsar_requests::version.eq(dsar_requests::version + 1),
            ))
            .returning(DsarRow::as_returning())
            .get_result(conn)?;
        let fields = vec!["approved_by".into(), "approved_at".into()];
        events::change(conn, actor, "dsar.approved", "dsar_request", id, fields, status_doc(&row))?;
        Ok(view(actor, row))
    })
}

/// `POST /v1/dsar/{id}/process` (`dsar:manage`): runs the request in one
/// transaction and completes it with a `result`. 409 while unverified, and
/// for an erasure awaiting its approval (when required) or approved by the
/// same subject.
pub fn process(conn: &mut PgConnection, actor: &Actor, setup: &DsarSetup, id: Uuid) -> Result<DsarOut, AppError> {
    actor.require(Scope::DsarManage)?;
    let key = &*setup.key;
    conn.transaction(|conn| {
        let row = model::find(conn, id, true)?.ok_or(AppError::NotFound("request"))?;
        must_be_open(&row)?;
        let kind = DsarType::parse(&row.kind);
        if kind == DsarType::Erasure {
            match &row.approved_by {
                Some(by) if *by == actor.sub => {
                    return Err(AppError::Conflict {
                        code: "same_subject",
                        detail: "the erasure must be processed by another person than the one who approved it".into(),
                        field: None,
                    });
                }
                None if setup.erasure_approval => {
                    return Err(AppError::Conflict {
                        code: "approval_required",
                        detail: "an erasure needs POST /v1/dsar/{id}/approve by a second dsar:manage subject first"
                            .into(),
                        field: None,
                    });
                }
                _ => {}
            }
        }
        let subject = subject_of(conn, &row)?;
        let result = match subject {
            None => {
                if let (DsarType::Erasure | DsarType::Objection, Some(h)) = (kind, &row.subject_hmac) {
                    suppression::add(
                        conn,
                        h,
                        if kind == DsarType::Erasure { Reason::Erasure } else { Reason::Objection },
                    )?;
                }
                if kind == DsarType::Erasure
                    && let Some(h) = &row.subject_hmac
                {
                    erasure::scrub_requests_by_hmac(conn, h)?;
                }
                DsarResult {
                    data_held: Some(false),
                    detail: Some("no personal data is held about this subject".into()),
                    ..DsarResult::default()
                }
            }
            Some(contact) => {
                // Later reads and exports find the subject by id, whatever its email becomes.
                diesel::update(dsar_requests::table.find(id))
                    .set(dsar_requests::subject_contact_id.eq(contact.id))
                    .execute(conn)?;
                run(conn, actor, key, kind, &row, contact)?
            }
        };
        let result = serde_json::to_value(result).map_err(AppError::internal)?;
        let row = save_close(conn, id, "completed", Some(result), None)?;
        let fields = vec!["status".into(), "result".into()];
        events::change(conn, actor, "dsar.completed", "dsar_request", id, fields, status_doc(&row))?;
        Ok(view(actor, row))
    })
}

fn run(
    conn: &mut PgConnection,
    actor: &Actor,
    key: &SuppressionKey,
    kind: DsarType,
    row: &DsarRow,
    contact: Contact,
) -> Result<DsarResult, AppError> {
    let contact_id = contact.id;
    let held = DsarResult { data_held: Some(true), ..DsarResult::default() };
    Ok(match kind {
        DsarType::Access | DsarType::Portability => DsarResult {
            export: Some(format!("/v1/dsar/{}/export", row.id)),
            export_zip: Some(format!("/v1/dsar/{}/export.zip", row.id)),
            formats: Some(vec!["json".into(), "csv".into()]),
            ..held
        },
        DsarType::Erasure => {
            let r = erasure::erase(conn, actor, key, &contact, Reason::Erasure)?;
            DsarResult {
                deleted: Some(r.deleted),
                anonymised: Some(r.anonymised),
                retained: Some(r.retained),
                suppressed: Some(r.suppressed),
                ..held
            }
        }
        DsarType::Rectification => {
            let changes = row.changes.clone().and_then(|v| v.as_object().cloned()).unwrap_or_default();
            let fields = contacts::apply_rectification(conn, actor, contact, changes)?;
            DsarResult { rectified_fields: Some(fields), ..held }
        }
        DsarType::Restriction => {
            diesel::update(contacts_t::table.find(contact_id))
                .set((
                    contacts_t::restricted.eq(true),
                    contacts_t::version.eq(contacts_t::version + 1),
                    contacts_t::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)?;
            audit::record(conn, actor, "contact.restricted", "contact", contact_id, vec!["restricted".into()])?;
            let data = contact_model::find(conn, contact_id, false)?
                .map(|c| contacts::out(conn, c))
                .transpose()?
                .and_then(|o| serde_json::to_value(o).ok());
            events::emit(conn, "contact.updated", "contact", &contact_id.to_string(), vec!["restricted".into()], data)?;
            DsarResult { restricted: Some(true), ..held }
        }
        DsarType::Objection => {
            let marketing: Vec<String> = purposes::table
                .filter(purposes::marketing.eq(true))
                .select(purposes::key)
                .order(purposes::key)
                .load(conn)?;
            let current = consents::current_of(&consents::events_of(conn, contact_id)?);
            let mut withdrawn = Vec::new();
            for p in marketing {
                if current.iter().any(|e| e.purpose == p && e.status == ConsentStatus::Granted) {
                    let input = ConsentInput {
                        purpose: Some(p.clone()),
                        status: Some(ConsentStatus::Withdrawn),
                        channel: None,
                        collected_at: None,
                        proof: None,
                    };
                    consents::append(conn, actor, contact_id, &input)?;
                    withdrawn.push(p);
                }
            }
            let suppressed = match contact.email.as_deref().and_then(|e| Email::parse(e).ok()) {
                Some(e) => {
                    suppression::add(conn, &key.hmac(&e), Reason::Objection)?;
                    true
                }
                None => false,
            };
            diesel::update(contacts_t::table.find(contact_id)).set(contacts_t::suppressed.eq(true)).execute(conn)?;
            audit::record(conn, actor, "contact.objected", "contact", contact_id, vec!["consents".into()])?;
            DsarResult { withdrawn: Some(withdrawn), suppressed: Some(suppressed), ..held }
        }
    })
}

/// `GET /v1/dsar/{id}/export` (`dsar:manage`): the subject's data, for a
/// completed access or portability request. Audited.
pub fn export(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> Result<Value, AppError> {
    actor.require(Scope::DsarManage)?;
    conn.transaction(|conn| {
        let row = model::find(conn, id, false)?.ok_or(AppError::NotFound("request"))?;
        let kind = match DsarType::parse(&row.kind) {
            DsarType::Access => Kind::Access,
            DsarType::Portability => Kind::Portability,
            _ => {
                return Err(AppError::Conflict {
                    code: "no_export",
                    detail: "only access and portability requests have an export".into(),
                    field: None,
                });
            }
        };
        if row.status != "completed" {
            return Err(AppError::Conflict {
                code: "not_completed",
                detail: "process the request first".into(),
                field: None,
            });
        }
        let contact = match row.subject_contact_id {
            Some(cid) => contact_model::find(conn, cid, false)?,
            None => None,
        };
        let doc = export::document(conn, kind, contact)?;
        audit::record(conn, actor, "dsar.exported", "dsar_request", id, vec![])?;
        Ok(doc)
    })
}
