//! Contacts (people) and their interactions.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use diesel::prelude::*;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::audit;
use super::events;
use super::segments;
use super::stats::Stats;
use super::suppression::{self, SuppressionKey};
use super::to_doc;
use super::{Precondition, changed_fields, check_custom_fields, check_tags, decode, patched};
use crate::auth::{Actor, Scope};
use crate::db::schema::{contacts, interactions};
use crate::domain::{Direction, Email, InteractionKind, LawfulBasis, Phone, Status, birth_date_in_past};
use crate::error::AppError;
use crate::models::contact::{self as model, Contact, ContactWrite};
use crate::models::interaction::Interaction;
use crate::pagination::{Page, PageRequest, SortKey};

/// The writable fields of a contact.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    /// The company this person works for.
    pub client_id: Option<Uuid>,
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: Option<String>,
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: Option<String>,
    /// Unique, case-insensitive.
    #[schema(example = "jeanne.martin@example.com")]
    pub email: Option<String>,
    /// E.164: `+`, then 8 to 15 digits, the first not 0 (spaces ignored).
    #[schema(example = "+33612345678", pattern = r"^ *\+ *[1-9]( *[0-9]){7,14} *$")]
    pub phone: Option<String>,
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub job_title: Option<String>,
    /// In the past.
    pub birth_date: Option<NaiveDate>,
    /// Lifecycle status (default `prospect`).
    pub status: Option<Status>,
    /// Acquisition channel.
    #[validate(length(max = 100))]
    #[schema(max_length = 100)]
    pub source: Option<String>,
    /// Lawful basis of the processing (default `legitimate_interest`).
    pub lawful_basis: Option<LawfulBasis>,
    /// Last contact initiated by the person (the clock of prospect retention).
    pub last_interaction_at: Option<DateTime<Utc>>,
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Map<String, Value>>,
    /// `professional` (B2B: messages about the person's job) or `consumer`;
    /// default `professional` when `client_id` is set, else `consumer`.
    pub audience: Option<Audience>,
    /// Where the data came from (Art. 14): set on create or by import.
    #[validate(nested)]
    pub provenance: Option<Provenance>,
}

/// Who the person is to us, for the rules of direct marketing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// A private person.
    Consumer,
    /// Reached for their job (B2B).
    Professional,
}

impl Audience {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Consumer => "consumer",
            Audience::Professional => "professional",
        }
    }
}

/// The default audience: `professional` for someone at a company.
pub fn default_audience(client_id: Option<Uuid>) -> Audience {
    if client_id.is_some() { Audience::Professional } else { Audience::Consumer }
}

/// How the data was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceType {
    /// From the person: a form.
    Form,
    /// From the person: a purchase.
    Checkout,
    /// A file we imported of our own contacts.
    Import,
    /// Bought from a vendor (Art. 14: a notice is owed).
    Purchase,
    /// Received from a partner (Art. 14: a notice is owed).
    Partner,
    /// Taken from a public register (Art. 14: a notice is owed).
    PublicRegister,
    /// Typed in by staff.
    Manual,
    /// Sent by an integration.
    Api,
}

impl SourceType {
    /// Data not obtained from the person: the person must be told within a month (Art. 14(3)(a)).
    pub fn owes_notice(self) -> bool {
        matches!(self, SourceType::Purchase | SourceType::Partner | SourceType::PublicRegister)
    }
}

/// The vendor or partner the data came from.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Vendor {
    #[validate(required, length(min = 1, max = 200))]
    #[schema(required = true, min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// SIREN: 9 digits (spaces ignored) whose Luhn key is valid (422 `invalid_checksum`).
    #[schema(example = "732829320", pattern = r"^ *([0-9] *){9}$")]
    pub siren: Option<String>,
}

/// Where a contact's data came from.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    #[validate(required)]
    #[schema(required = true)]
    pub source_type: Option<SourceType>,
    /// Required for `purchase` and `partner`: the notice names it.
    #[validate(nested)]
    pub vendor: Option<Vendor>,
    /// When we obtained the data (default now): the notice is due a month later.
    pub acquired_at: Option<DateTime<Utc>>,
    /// When the source collected it from the person.
    pub collected_at: Option<DateTime<Utc>>,
    /// The vendor's reference of its own proof (consent, contract).
    #[validate(length(max = 500))]
    pub vendor_proof_ref: Option<String>,
}

/// A contact as the API returns it.
#[derive(Clone, Serialize, ToSchema)]
pub struct ContactOut {
    pub id: Uuid,
    pub client_id: Option<Uuid>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub job_title: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub status: Status,
    pub source: Option<String>,
    pub lawful_basis: LawfulBasis,
    /// Set by a restriction request: writes other than by a request are refused.
    pub restricted: bool,
    pub last_interaction_at: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub custom_fields: Value,
    pub stats: Stats,
    pub audience: Audience,
    /// Where the data came from.
    #[schema(value_type = Option<Provenance>)]
    pub provenance: Option<Value>,
    /// Data not obtained from the person: when the Art. 14 notice is due.
    pub art14_notice_due_at: Option<DateTime<Utc>>,
    /// When the notice was sent (`POST /v1/contacts/{id}/notices`).
    pub art14_notice_sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl ContactOut {
    /// Builds the answer from a row.
    pub fn from_row(c: Contact) -> Self {
        ContactOut {
            id: c.id,
            client_id: c.client_id,
            first_name: c.first_name,
            last_name: c.last_name,
            email: c.email,
            phone: c.phone,
            job_title: c.job_title,
            birth_date: c.birth_date,
            status: c.status.parse().unwrap_or(Status::Prospect),
            source: c.source,
            lawful_basis: c.lawful_basis.parse().unwrap_or(LawfulBasis::LegitimateInterest),
            restricted: c.restricted,
            last_interaction_at: c.last_interaction_at,
            tags: serde_json::from_value(c.tags).unwrap_or_default(),
            custom_fields: c.custom_fields,
            stats: Stats {
                orders_count: c.orders_count,
                total_spent_cents: c.total_spent_cents,
                spent_last_12m_cents: c.spent_last_12m_cents,
                first_order_at: c.first_order_at,
                last_order_at: c.last_order_at,
                last_order_total_cents: c.last_order_total_cents,
            },
            audience: if c.audience == "professional" { Audience::Professional } else { Audience::Consumer },
            provenance: c.provenance,
            art14_notice_due_at: c.art14_notice_due_at,
            art14_notice_sent_at: c.art14_notice_sent_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: c.version,
        }
    }

    pub(crate) fn input(&self) -> ContactInput {
        ContactInput {
            client_id: self.client_id,
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            job_title: self.job_title.clone(),
            birth_date: self.birth_date,
            status: Some(self.status),
            source: self.source.clone(),
            lawful_basis: Some(self.lawful_basis),
            last_interaction_at: self.last_interaction_at,
            tags: Some(self.tags.clone()),
            custom_fields: self.custom_fields.as_object().cloned(),
            audience: Some(self.audience),
            provenance: self.provenance.clone().and_then(|p| serde_json::from_value(p).ok()),
        }
    }
}

/// The provenance to store and the notice it owes (`None` when none is owed).
fn provenance(errors: &mut super::Errors, p: Option<Provenance>) -> (Option<Value>, Option<DateTime<Utc>>) {
    let Some(p) = p else { return (None, None) };
    let Some(kind) = p.source_type else { return (None, None) };
    if let Some(siren) = p.vendor.as_ref().and_then(|v| v.siren.as_deref()) {
        errors.take("provenance.vendor.siren", crate::domain::Siren::parse(siren));
    }
    if matches!(kind, SourceType::Purchase | SourceType::Partner) && p.vendor.is_none() {
        errors.push("provenance.vendor", "required", "a notice must name the vendor or partner the data came from");
    }
    let acquired = p.acquired_at.unwrap_or_else(|| Utc::now().trunc_subsecs(6));
    let due = kind.owes_notice().then(|| super::dsar::one_month_after(acquired));
    let stored = Provenance { acquired_at: Some(acquired), ..p };
    (serde_json::to_value(stored).ok(), due)
}

/// Validates a contact document into the row to write.
pub fn validate(map: Map<String, Value>) -> Result<ContactWrite, AppError> {
    let (input, mut errors) = decode::<ContactInput>(map);
    let Some(input) = input else {
        return Err(AppError::Validation(errors.0));
    };
    let email = errors.opt("email", input.email.as_deref(), Email::parse);
    let phone = errors.opt("phone", input.phone.as_deref(), Phone::parse);
    if let Some(d) = input.birth_date {
        errors.take("birth_date", birth_date_in_past(d, Utc::now().date_naive()));
    }
    if input.email.is_none() && input.phone.is_none() && input.last_name.is_none() {
        errors.push("email", "required", "a contact needs at least an email, a phone or a last name");
    }
    let tags = input.tags.clone().unwrap_or_default();
    check_tags(&mut errors, &tags);
    let custom = input.custom_fields.clone().unwrap_or_default();
    check_custom_fields(&mut errors, &custom);
    let (provenance, notice_due) = provenance(&mut errors, input.provenance.clone());
    errors.finish()?;
    Ok(ContactWrite {
        client_id: input.client_id,
        first_name: input.first_name.map(|s| s.trim().to_owned()),
        last_name: input.last_name.map(|s| s.trim().to_owned()),
        email: email.map(|e| e.as_str().to_owned()),
        phone: phone.map(|p| p.as_str().to_owned()),
        job_title: input.job_title,
        birth_date: input.birth_date,
        status: input.status.unwrap_or(Status::Prospect).as_str().to_owned(),
        source: input.source,
        lawful_basis: input.lawful_basis.unwrap_or(LawfulBasis::LegitimateInterest).as_str().to_owned(),
        last_interaction_at: input.last_interaction_at,
        tags: Value::from(tags),
        custom_fields: Value::Object(custom),
        audience: input.audience.unwrap_or_else(|| default_audience(input.client_id)).as_str().to_owned(),
        provenance,
        art14_notice_due_at: notice_due,
    })
}

/// The answer for one row.
pub fn out(_conn: &mut PgConnection, c: Contact) -> Result<ContactOut, AppError> {
    Ok(ContactOut::from_row(c))
}

/// Inserts a validated contact (used by order customer matching too).
pub fn insert(conn: &mut PgConnection, write: &ContactWrite) -> Result<Contact, AppError> {
    Ok(diesel::insert_into(contacts::table)
        .values((contacts::id.eq(Uuid::now_v7()), write))
        .returning(Contact::as_returning())
        .get_result(conn)?)
}

/// Refuses a suppressed email for a prospect, unless under a contract
/// (a suppressed person may come back only by buying).
fn refuse_suppressed(conn: &mut PgConnection, key: &SuppressionKey, w: &ContactWrite) -> Result<(), AppError> {
    let prospecting = w.status == Status::Prospect.as_str() && w.lawful_basis != LawfulBasis::Contract.as_str();
    let Some(email) = w.email.as_deref().filter(|_| prospecting) else { return Ok(()) };
    let email = Email::parse(email).map_err(|e| AppError::field("email", e.code, e.message))?;
    if suppression::contains(conn, &key.hmac(&email))? {
        return Err(AppError::Conflict {
            code: "suppressed",
            detail: "this email is on the suppression list: it may come back only under lawful_basis `contract`".into(),
            field: Some("email".into()),
        });
    }
    Ok(())
}

/// `POST /v1/contacts`.
pub fn create(
    conn: &mut PgConnection,
    actor: &Actor,
    key: &SuppressionKey,
    body: Map<String, Value>,
) -> Result<ContactOut, AppError> {
    actor.require(Scope::ContactsWrite)?;
    let write = validate(body)?;
    conn.transaction(|conn| {
        refuse_suppressed(conn, key, &write)?;
        let row = insert(conn, &write)?;
        let out = out(conn, row)?;
        let fields = audit::set_fields(&to_doc(&write));
        events::change(conn, actor, "contact.created", "contact", out.id, fields, Some(to_doc(&out)))?;
        Ok(out)
    })
}

/// `GET /v1/contacts/{id}`.
pub fn get(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> Result<ContactOut, AppError> {
    actor.require(Scope::ContactsRead)?;
    let row = model::find(conn, id, false)?.ok_or(AppError::NotFound("contact"))?;
    out(conn, row)
}

fn refuse_restricted(c: &Contact) -> Result<(), AppError> {
    if c.restricted {
        return Err(AppError::Conflict {
            code: "restricted",
            detail: "processing of this contact is restricted; only a data-subject request may change it".into(),
            field: None,
        });
    }
    Ok(())
}

/// `PATCH /v1/contacts/{id}`: an RFC 7396 merge patch.
pub fn update(
    conn: &mut PgConnection,
    actor: &Actor,
    key: &SuppressionKey,
    id: Uuid,
    patch: Map<String, Value>,
    pre: &Precondition,
) -> Result<ContactOut, AppError> {
    actor.require(Scope::ContactsWrite)?;
    conn.transaction(|conn| {
        let row = model::find(conn, id, true)?.ok_or(AppError::NotFound("contact"))?;
        let current = ContactWrite::from(&row);
        // 422 before 412: see `clients::update`.
        let write = validate(patched(&ContactOut::from_row(row.clone()).input(), patch)?)?;
        pre.check(row.version)?;
        refuse_restricted(&row)?;
        if write == current {
            return out(conn, row);
        }
        if write.email != current.email || write.status != current.status || write.lawful_basis != current.lawful_basis
        {
            refuse_suppressed(conn, key, &write)?;
        }
        let fields = changed_fields(&to_doc(&current), &to_doc(&write));
        let row = diesel::update(contacts::table.find(id))
            .set((&write, contacts::version.eq(contacts::version + 1), contacts::updated_at.eq(diesel::dsl::now)))
            .returning(Contact::as_returning())
            .get_result(conn)?;
        let out = out(conn, row)?;
        events::change(conn, actor, "contact.updated", "contact", id, fields, Some(to_doc(&out)))?;
        Ok(out)
    })
}

/// `DELETE /v1/contacts/{id}`: removes the person and their interactions;
/// their orders stay, detached. (Erasure with proof is a data-subject request.)
pub fn delete(conn: &mut PgConnection, actor: &Actor, id: Uuid, pre: &Precondition) -> Result<(), AppError> {
    actor.require(Scope::ContactsWrite)?;
    conn.transaction(|conn| {
        let row = model::find(conn, id, true)?.ok_or(AppError::NotFound("contact"))?;
        pre.check(row.version)?;
        refuse_restricted(&row)?;
        diesel::delete(contacts::table.find(id)).execute(conn)?;
        events::change(conn, actor, "contact.deleted", "contact", id, vec![], None)?;
        Ok(())
    })
}

/// Filters of `GET /v1/contacts`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactFilter {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub after: Option<String>,
    /// `created_at` (default) or `updated_at`.
    pub sort: Option<SortKey>,
    pub status: Option<Status>,
    pub client_id: Option<Uuid>,
    /// Exact email, case-insensitive.
    pub email: Option<String>,
    pub tag: Option<String>,
    /// Prefix of the first name, last name or email, case-insensitive.
    pub q: Option<String>,
    /// A segment: the current consent for this purpose is granted, and the
    /// contact is neither suppressed nor restricted.
    pub consent: Option<String>,
    pub audience: Option<Audience>,
    /// Rows updated after this time, for people browsing recent changes. Not
    /// for sync: `updated_at` is when the writing transaction started, so a
    /// row can commit later with an earlier time. Integrators mirroring us
    /// use `GET /v1/sync/{resource}`, which never skips a committed change.
    pub updated_after: Option<DateTime<Utc>>,
}

/// `GET /v1/contacts` (and `GET /v1/clients/{id}/contacts`).
pub fn list(conn: &mut PgConnection, actor: &Actor, f: ContactFilter) -> Result<Page<ContactOut>, AppError> {
    list_with(conn, actor, f, None).map(|(page, _)| page)
}

/// A list page with a segment filter ANDed to the list's parameters
/// (GraphQL's `filter:`), and the condition it ran (for `totalCount`).
pub fn list_with(
    conn: &mut PgConnection,
    actor: &Actor,
    f: ContactFilter,
    segment: Option<&Value>,
) -> Result<(Page<ContactOut>, segments::Condition), AppError> {
    use serde_json::json;
    actor.require(Scope::ContactsRead)?;
    let page = PageRequest::parse(f.limit, f.after.as_deref(), f.sort)?;
    // The list's parameters are conditions of the segment language: one
    // implementation, one set of indexes.
    let c = |field: &str, op: &str, value: Value| json!({"field": field, "op": op, "value": value});
    let mut params: Vec<(&str, Value)> = Vec::new();
    if let Some(s) = f.status {
        params.push(("status", c("status", "eq", json!(s.as_str()))));
    }
    if let Some(id) = f.client_id {
        params.push(("client_id", c("client_id", "eq", json!(id))));
    }
    if let Some(a) = f.audience {
        params.push(("audience", c("audience", "eq", json!(a.as_str()))));
    }
    if let Some(e) = f.email {
        params.push(("email", c("email", "eq", json!(e))));
    }
    if let Some(t) = f.tag {
        params.push(("tag", c("tags", "contains", json!(t))));
    }
    if let Some(q) = f.q {
        params.push(("q", c("q", "prefix", json!(q))));
    }
    if let Some(p) = f.consent {
        params.push(("consent", c("consent", "granted", json!(p))));
    }
    if let Some(v) = f.updated_after {
        params.push(("updated_after", c("updated_at", "after", json!(v))));
    }
    let mut cond = segments::list_condition(conn, segments::Resource::Contacts, &params)?;
    if let Some(filter) = segment {
        cond = cond.and(segments::body_condition(conn, segments::Resource::Contacts, Some(filter), false)?);
    }
    Ok((segments::contacts_page(conn, cond.clone(), page)?, cond))
}

/// A new interaction with a contact.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InteractionInput {
    #[validate(required)]
    #[schema(required = true)]
    pub kind: Option<InteractionKind>,
    /// `inbound` (from the person: moves `last_interaction_at`) or `outbound`.
    #[validate(required)]
    #[schema(required = true)]
    pub direction: Option<Direction>,
    /// When it happened (default: now). Not in the future.
    pub occurred_at: Option<DateTime<Utc>>,
    /// At most 2,000 characters.
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub summary: Option<String>,
}

/// An interaction as the API returns it.
#[derive(Clone, Serialize, ToSchema)]
pub struct InteractionOut {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub kind: InteractionKind,
    pub direction: Direction,
    pub occurred_at: DateTime<Utc>,
    pub summary: Option<String>,
    /// The token subject that recorded it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl From<Interaction> for InteractionOut {
    fn from(i: Interaction) -> Self {
        InteractionOut {
            id: i.id,
            contact_id: i.contact_id,
            kind: i.kind.parse().unwrap_or(InteractionKind::Note),
            direction: i.direction.parse().unwrap_or(Direction::Outbound),
            occurred_at: i.occurred_at,
            summary: i.summary,
            created_by: i.created_by,
            created_at: i.created_at,
        }
    }
}

/// `POST /v1/contacts/{id}/interactions`.
pub fn add_interaction(
    conn: &mut PgConnection,
    actor: &Actor,
    contact_id: Uuid,
    body: Map<String, Value>,
) -> Result<InteractionOut, AppError> {
    actor.require(Scope::ContactsWrite)?;
    let (input, mut errors) = decode::<InteractionInput>(body);
    // Postgres keeps microseconds: answer what a later read will return.
    let now = Utc::now().trunc_subsecs(6);
    if let Some(at) = input.as_ref().and_then(|i| i.occurred_at)
        && at > now + chrono::Duration::minutes(5)
    {
        errors.push("occurred_at", "in_future", "an interaction cannot happen in the future");
    }
    if let Some(summary) = input.as_ref().and_then(|i| i.summary.as_deref()) {
        super::sensitive::check(&mut errors, "summary", summary);
    }
    errors.finish()?;
    let input = input.expect("no errors means decoded");
    let (kind, direction) = (input.kind.expect("required"), input.direction.expect("required"));
    conn.transaction(|conn| {
        let contact = model::find(conn, contact_id, true)?.ok_or(AppError::NotFound("contact"))?;
        refuse_restricted(&contact)?;
        let row = Interaction {
            id: Uuid::now_v7(),
            contact_id,
            kind: kind.as_str().into(),
            direction: direction.as_str().into(),
            occurred_at: input.occurred_at.unwrap_or(now),
            summary: input.summary,
            created_by: actor.sub.clone(),
            created_at: now,
        };
        diesel::insert_into(interactions::table).values(&row).execute(conn)?;
        crate::record::flag_doc(conn, "interaction", row.id, serde_json::json!({"summary": row.summary}))?;
        audit::record(
            conn,
            actor,
            "interaction.created",
            "interaction",
            row.id,
            vec!["contact_id".into(), "kind".into(), "direction".into()],
        )?;
        if direction == Direction::Inbound {
            touch_last_interaction(conn, contact_id, row.occurred_at)?;
        }
        Ok(row.into())
    })
}

/// Moves `last_interaction_at` forward (only what comes from the person does).
pub fn touch_last_interaction(conn: &mut PgConnection, contact_id: Uuid, at: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(contacts::table.find(contact_id))
        .filter(contacts::last_interaction_at.is_null().or(contacts::last_interaction_at.lt(at)))
        .set((contacts::last_interaction_at.eq(at), contacts::updated_at.eq(diesel::dsl::now)))
        .execute(conn)
}

/// Paging of `GET /v1/contacts/{id}/interactions`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InteractionFilter {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub after: Option<String>,
}

/// `GET /v1/contacts/{id}/interactions`, oldest first.
pub fn list_interactions(
    conn: &mut PgConnection,
    actor: &Actor,
    contact_id: Uuid,
    f: InteractionFilter,
) -> Result<Page<InteractionOut>, AppError> {
    actor.require(Scope::ContactsRead)?;
    let page = PageRequest::parse(f.limit, f.after.as_deref(), None)?;
    model::find(conn, contact_id, false)?.ok_or(AppError::NotFound("contact"))?;
    let mut q = interactions::table
        .filter(interactions::contact_id.eq(contact_id))
        .select(Interaction::as_select())
        .into_boxed();
    if let Some(c) = page.after {
        q = q.filter(
            interactions::created_at.gt(c.at()).or(interactions::created_at.eq(c.at()).and(interactions::id.gt(c.id))),
        );
    }
    let rows = q.order((interactions::created_at, interactions::id)).limit(page.limit + 1).load(conn)?;
    Ok(page.page(rows, |i: &Interaction| (i.created_at, i.id), InteractionOut::from))
}

/// Every interaction of a contact, oldest first (exports).
pub fn interactions_of(conn: &mut PgConnection, contact_id: Uuid) -> Result<Vec<InteractionOut>, AppError> {
    let rows: Vec<Interaction> = interactions::table
        .filter(interactions::contact_id.eq(contact_id))
        .order((interactions::created_at, interactions::id))
        .select(Interaction::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(InteractionOut::from).collect())
}

/// The fields a person provided, for portability (Art. 20): the writable document.
pub fn provided(c: &ContactOut) -> Value {
    serde_json::to_value(c.input()).unwrap_or_default()
}

/// Applies a rectification request's changes (validated as a PATCH is, but
/// allowed on a restricted contact); returns the changed field names.
pub fn apply_rectification(
    conn: &mut PgConnection,
    actor: &Actor,
    row: Contact,
    changes: Map<String, Value>,
) -> Result<Vec<String>, AppError> {
    let id = row.id;
    let current = ContactWrite::from(&row);
    let write = validate(patched(&ContactOut::from_row(row).input(), changes)?)?;
    let fields = changed_fields(&to_doc(&current), &to_doc(&write));
    if fields.is_empty() {
        return Ok(fields);
    }
    let row = diesel::update(contacts::table.find(id))
        .set((&write, contacts::version.eq(contacts::version + 1), contacts::updated_at.eq(diesel::dsl::now)))
        .returning(Contact::as_returning())
        .get_result(conn)?;
    let out = out(conn, row)?;
    events::change(conn, actor, "contact.updated", "contact", id, fields.clone(), Some(to_doc(&out)))?;
    Ok(fields)
}
