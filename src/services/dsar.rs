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
use super::{audit, erasure, events};
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
    pub requested_by: Option<String>,
    #[validate(length(max = 2000))]
    pub note: Option<String>,
    /// Each status change is POSTed there, signed with `callback_secret` (shown once).
    #[validate(length(max = 2048))]
    pub callback_url: Option<String>,
    /// The submitter's own reference for this request.
    #[validate(length(min = 1, max = 200))]
    pub external_id: Option<String>,
}

/// `received`, `completed` or `rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DsarStatus {
    Received,
    Completed,
    Rejected,
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
    /// One month after receipt (three once extended).
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
    /// What processing did (counts, never personal data).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub version: i32,
}

fn status_of(s: &str) -> DsarStatus {
    match s {
        "completed" => DsarStatus::Completed,
        "rejected" => DsarStatus::Rejected,
        _ => DsarStatus::Received,
    }
}

/// The view of `row` for `actor`: full for `dsar:manage`, status only otherwise.
fn view(actor: &Actor, row: DsarRow) -> DsarOut {
    shape(actor.has(Scope::DsarManage), row)
}

/// What events and callbacks carry: the status, no personal data.
fn status_doc(row: &DsarRow) -> Option<Value> {
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

/// `POST /v1/dsar` (`dsar:submit` or `dsar:manage`).
pub fn submit(
    conn: &mut PgConnection,
    actor: &Actor,
    key: &SuppressionKey,
    allow_private: bool,
    body: Map<String, Value>,
) -> Result<DsarOut, AppError> {
    if !actor.has(Scope::DsarManage) {
        actor.require(Scope::DsarSubmit)?;
    }
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
        let hmac = match (&email, subject.contact_id) {
            (Some(e), _) => Some(key.hmac(e)),
            (None, Some(id)) => contact_model::find(conn, id, false)?
                .and_then(|c| c.email)
                .and_then(|e| Email::parse(&e).ok())
                .map(|e| key.hmac(&e)),
            _ => None,
        };
        let now = Utc::now().trunc_subsecs(6);
        let row = DsarRow {
            id: Uuid::now_v7(),
            kind: kind.as_str().into(),
            status: "received".into(),
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
        events::change(conn, actor, "dsar.received", "dsar_request", row.id, vec!["type".into()], status_doc(&row))?;
        let mut out = view(actor, row.clone());
        // The submitter sees what it sent, once, in the 201 answer.
        out.subject = Some(Subject { email: row.subject_email, contact_id: row.subject_contact_id });
        out.callback_secret = callback_secret;
        Ok(out)
    })
}

/// Loads a request visible to `actor`: a submitter sees only its own (404 otherwise).
fn visible(conn: &mut PgConnection, actor: &Actor, id: Uuid, lock: bool) -> Result<DsarRow, AppError> {
    if !actor.has(Scope::DsarManage) {
        actor.require(Scope::DsarSubmit)?;
    }
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
    if !actor.has(Scope::DsarManage) {
        actor.require(Scope::DsarSubmit)?;
    }
    let page = PageRequest::parse(f.limit, f.after.as_deref(), None)?;
    let mut q = dsar_requests::table.select(DsarRow::as_select()).into_boxed();
    if !actor.has(Scope::DsarManage) {
        q = q.filter(dsar_requests::requester.eq(actor.sub.clone()));
    }
    if let Some(s) = f.status {
        q = q.filter(
            dsar_requests::status
                .eq(serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()),
        );
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
    #[schema(required = true)]
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
        must_be_open(&row)?;
        let row = save_close(conn, id, "rejected", None, Some(why))?;
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
        let due = row.received_at.checked_add_months(Months::new(3)).unwrap_or(row.due_at);
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
    if let Some(id) = row.subject_contact_id {
        return Ok(erasure::lock_contact(conn, id)?);
    }
    match row.subject_email.as_deref() {
        Some(e) => Ok(contact_model::find_by_email(conn, e, true)?),
        None => Ok(None),
    }
}

/// `POST /v1/dsar/{id}/process` (`dsar:manage`): runs the request in one
/// transaction and completes it with a `result`.
pub fn process(conn: &mut PgConnection, actor: &Actor, key: &SuppressionKey, id: Uuid) -> Result<DsarOut, AppError> {
    actor.require(Scope::DsarManage)?;
    conn.transaction(|conn| {
        let row = model::find(conn, id, true)?.ok_or(AppError::NotFound("request"))?;
        must_be_open(&row)?;
        let kind = DsarType::parse(&row.kind);
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
                json!({"data_held": false, "detail": "no personal data is held about this subject"})
            }
            Some(contact) => {
                // Later reads and exports find the subject by id, whatever its email becomes.
                diesel::update(dsar_requests::table.find(id))
                    .set(dsar_requests::subject_contact_id.eq(contact.id))
                    .execute(conn)?;
                run(conn, actor, key, kind, &row, contact)?
            }
        };
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
) -> Result<Value, AppError> {
    let contact_id = contact.id;
    Ok(match kind {
        DsarType::Access | DsarType::Portability => json!({
            "data_held": true,
            "export": format!("/v1/dsar/{}/export", row.id),
            "formats": ["json", "csv"],
        }),
        DsarType::Erasure => serde_json::to_value(erasure::erase(conn, actor, key, &contact, Reason::Erasure)?)
            .map_err(AppError::internal)?,
        DsarType::Rectification => {
            let changes = row.changes.clone().and_then(|v| v.as_object().cloned()).unwrap_or_default();
            let fields = contacts::apply_rectification(conn, actor, contact, changes)?;
            json!({"data_held": true, "rectified_fields": fields})
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
            json!({"data_held": true, "restricted": true})
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
            json!({"data_held": true, "withdrawn": withdrawn, "suppressed": suppressed})
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
