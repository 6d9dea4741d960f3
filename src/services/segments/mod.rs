//! Segments (API.md §12): search and count with the filter language, saved
//! segments with their members, and the list filters, all compiled by
//! [`filter`] into one SQL statement per page.

pub mod filter;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

pub use filter::{Condition, Resource};

use super::clients::ClientOut;
use super::contacts::ContactOut;
use super::reachability::ReachChannel;
use super::{Precondition, changed_fields, decode, patched, to_doc};
use crate::auth::{Actor, Scope};
use crate::db::schema::{clients, contacts, purposes, segments};
use crate::error::{AppError, FieldError};
use crate::models::client::Client;
use crate::models::contact::Contact;
use crate::pagination::{Page, PageRequest, SortKey};

/// The scopes that read and write a resource's segments.
fn scopes(resource: Resource) -> (Scope, Scope) {
    match resource {
        Resource::Contacts => (Scope::ContactsRead, Scope::ContactsWrite),
        Resource::Clients => (Scope::ClientsRead, Scope::ClientsWrite),
    }
}

/// A filter: `{"all": [...]}` or `{"any": [...]}` (see API.md §12).
fn filter_of(map: &Map<String, Value>) -> Option<&Value> {
    map.get("filter")
}

/// Checks the purposes a filter names exist, then turns errors into a 422.
fn finish(conn: &mut PgConnection, parsed: filter::Parsed) -> Result<Condition, AppError> {
    let mut errors = parsed.errors;
    if !parsed.purposes.is_empty() {
        let names: Vec<&str> = parsed.purposes.iter().map(|p| p.1.as_str()).collect();
        let known: Vec<String> =
            purposes::table.filter(purposes::key.eq_any(&names)).select(purposes::key).load(conn)?;
        for (path, p) in &parsed.purposes {
            if !known.contains(p) && !errors.iter().any(|e| &e.field == path) {
                errors.push(FieldError::new(path, "unknown_purpose", "no such purpose (see /v1/purposes)"));
            }
        }
    }
    if errors.is_empty() { Ok(parsed.condition) } else { Err(AppError::Validation(errors)) }
}

/// Compiles a list's query parameters.
pub fn list_condition(
    conn: &mut PgConnection,
    resource: Resource,
    params: &[(&str, Value)],
) -> Result<Condition, AppError> {
    finish(conn, filter::compile_params(resource, params))
}

/// Compiles a filter from a request body's `filter`.
pub fn body_condition(
    conn: &mut PgConnection,
    resource: Resource,
    filter: Option<&Value>,
    saved: bool,
) -> Result<Condition, AppError> {
    match filter {
        None | Some(Value::Null) => Err(AppError::field("filter", "required", "a filter is required")),
        Some(f) => finish(conn, filter::compile(resource, f, "filter", saved)),
    }
}

/// A page of contacts matching a condition.
pub fn contacts_page(
    conn: &mut PgConnection,
    cond: Condition,
    page: PageRequest,
) -> Result<Page<ContactOut>, AppError> {
    let q = contacts::table.select(Contact::as_select()).filter(cond).into_boxed();
    let rows: Vec<Contact> = crate::paginate!(q, contacts, page).load(conn)?;
    let key = |c: &Contact| (if page.sort == SortKey::UpdatedAt { c.updated_at } else { c.created_at }, c.id);
    Ok(page.page(rows, key, ContactOut::from_row))
}

/// A page of clients matching a condition.
pub fn clients_page(conn: &mut PgConnection, cond: Condition, page: PageRequest) -> Result<Page<ClientOut>, AppError> {
    let q = clients::table.select(Client::as_select()).filter(cond).into_boxed();
    let rows: Vec<Client> = crate::paginate!(q, clients, page).load(conn)?;
    let key = |c: &Client| (if page.sort == SortKey::UpdatedAt { c.updated_at } else { c.created_at }, c.id);
    Ok(page.page(rows, key, ClientOut::from_row))
}

/// The exact number of rows matching a condition.
pub fn count_of(conn: &mut PgConnection, resource: Resource, cond: Condition) -> Result<i64, AppError> {
    Ok(match resource {
        Resource::Contacts => contacts::table.filter(cond).count().get_result(conn)?,
        Resource::Clients => clients::table.filter(cond).count().get_result(conn)?,
    })
}

/// `POST /v1/{contacts,clients}/search`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchInput {
    /// The filter (API.md §12).
    #[validate(required)]
    #[schema(required = true)]
    pub filter: Option<Value>,
    /// Page size, 1 to 200 (default 50).
    #[validate(range(min = 1, max = 200))]
    #[schema(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub after: Option<String>,
    /// `created_at` (default) or `updated_at`.
    pub sort: Option<SortKey>,
}

/// `POST /v1/{contacts,clients}/count`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountInput {
    /// The filter (API.md §12).
    #[validate(required)]
    #[schema(required = true)]
    pub filter: Option<Value>,
}

/// An exact count.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct CountOut {
    pub count: i64,
}

fn search_input(
    conn: &mut PgConnection,
    resource: Resource,
    body: Map<String, Value>,
) -> Result<(Condition, PageRequest), AppError> {
    let (input, errors) = decode::<SearchInput>(body.clone());
    errors.finish()?;
    let input = input.ok_or_else(|| AppError::field("filter", "required", "a filter is required"))?;
    let page = PageRequest::parse(input.limit, input.after.as_deref(), input.sort)?;
    let cond = body_condition(conn, resource, filter_of(&body), false)?;
    Ok((cond, page))
}

/// `POST /v1/contacts/search`.
pub fn search_contacts(
    conn: &mut PgConnection,
    actor: &Actor,
    body: Map<String, Value>,
) -> Result<Page<ContactOut>, AppError> {
    actor.require(Scope::ContactsRead)?;
    let (cond, page) = search_input(conn, Resource::Contacts, body)?;
    contacts_page(conn, cond, page)
}

/// `POST /v1/clients/search`.
pub fn search_clients(
    conn: &mut PgConnection,
    actor: &Actor,
    body: Map<String, Value>,
) -> Result<Page<ClientOut>, AppError> {
    actor.require(Scope::ClientsRead)?;
    let (cond, page) = search_input(conn, Resource::Clients, body)?;
    clients_page(conn, cond, page)
}

/// `POST /v1/{contacts,clients}/count`.
pub fn count(
    conn: &mut PgConnection,
    actor: &Actor,
    resource: Resource,
    body: Map<String, Value>,
) -> Result<CountOut, AppError> {
    actor.require(scopes(resource).0)?;
    let (_, errors) = decode::<CountInput>(body.clone());
    errors.finish()?;
    let cond = body_condition(conn, resource, filter_of(&body), false)?;
    Ok(CountOut { count: count_of(conn, resource, cond)? })
}

/// What a segment selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SegmentResource {
    Contacts,
    Clients,
}

impl From<SegmentResource> for Resource {
    fn from(r: SegmentResource) -> Self {
        match r {
            SegmentResource::Contacts => Resource::Contacts,
            SegmentResource::Clients => Resource::Clients,
        }
    }
}

/// A saved segment as written.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentInput {
    /// 1 to 200 characters.
    #[validate(required, length(min = 1, max = 200))]
    #[schema(required = true, min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// `contacts` or `clients`; immutable.
    #[validate(required)]
    #[schema(required = true)]
    pub resource: Option<SegmentResource>,
    /// The filter (API.md §12). A saved filter may not use the fields that
    /// name a person (`email`, `first_name`, `last_name`, `q`).
    #[validate(required)]
    #[schema(required = true)]
    pub filter: Option<Value>,
}

/// A saved segment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SegmentOut {
    pub id: Uuid,
    pub name: String,
    pub resource: SegmentResource,
    pub filter: Value,
    /// The token subject that created it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = segments, check_for_backend(diesel::pg::Pg))]
struct Row {
    id: Uuid,
    name: String,
    resource: String,
    filter: Value,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i32,
}

impl Row {
    fn resource(&self) -> SegmentResource {
        if self.resource == "clients" { SegmentResource::Clients } else { SegmentResource::Contacts }
    }
    fn out(self) -> SegmentOut {
        SegmentOut {
            resource: self.resource(),
            id: self.id,
            name: self.name,
            filter: self.filter,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        }
    }
}

fn validate_segment(conn: &mut PgConnection, input: &SegmentInput) -> Result<(), AppError> {
    if let (Some(r), f) = (input.resource, input.filter.as_ref()) {
        body_condition(conn, r.into(), f, true)?;
    }
    Ok(())
}

fn decode_segment(body: Map<String, Value>) -> Result<SegmentInput, AppError> {
    let (input, mut errors) = decode::<SegmentInput>(body);
    if let Some(name) = input.as_ref().and_then(|i| i.name.as_deref())
        && name.trim().is_empty()
    {
        errors.push("name", "blank", "a name is not only blanks");
    }
    errors.finish()?;
    input.ok_or_else(|| AppError::field("name", "required", "a name is required"))
}

/// `POST /v1/segments`.
pub fn create(conn: &mut PgConnection, actor: &Actor, body: Map<String, Value>) -> Result<SegmentOut, AppError> {
    // Either write scope may create (of its resource): without both, the
    // body is not even read.
    if !actor.has(Scope::ClientsWrite) {
        actor.require(Scope::ContactsWrite)?;
    }
    let input = decode_segment(body)?;
    let resource = input.resource.expect("required");
    actor.require(scopes(resource.into()).1)?;
    validate_segment(conn, &input)?;
    conn.transaction(|conn| {
        let id = Uuid::now_v7();
        let row: Row = diesel::insert_into(segments::table)
            .values((
                segments::id.eq(id),
                segments::name.eq(input.name.clone().unwrap_or_default()),
                segments::resource.eq(Resource::from(resource).as_str()),
                segments::filter.eq(input.filter.clone().unwrap_or(Value::Null)),
                segments::created_by.eq(actor.sub.clone()),
            ))
            .returning(Row::as_returning())
            .get_result(conn)?;
        super::audit::record(conn, actor, "segment.created", "segment", id, super::audit::set_fields(&to_doc(&input)))?;
        Ok(row.out())
    })
}

fn find(conn: &mut PgConnection, actor: &Actor, id: Uuid, write: bool) -> Result<Row, AppError> {
    // Without either scope, a 403 before the lookup says nothing of what exists.
    let (contacts, clients) =
        if write { (Scope::ContactsWrite, Scope::ClientsWrite) } else { (Scope::ContactsRead, Scope::ClientsRead) };
    if !actor.has(clients) {
        actor.require(contacts)?;
    }
    let q = segments::table.find(id).select(Row::as_select());
    let row = if write { q.for_update().first(conn) } else { q.first(conn) }
        .optional()?
        .ok_or(AppError::NotFound("segment"))?;
    let (read, w) = scopes(row.resource().into());
    actor.require(if write { w } else { read })?;
    Ok(row)
}

/// `GET /v1/segments/{id}`.
pub fn get(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> Result<SegmentOut, AppError> {
    Ok(find(conn, actor, id, false)?.out())
}

/// Filters of `GET /v1/segments`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SegmentFilter {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub after: Option<String>,
    pub resource: Option<SegmentResource>,
}

/// `GET /v1/segments`: the segments of the resources the token may read.
pub fn list(conn: &mut PgConnection, actor: &Actor, f: SegmentFilter) -> Result<Page<SegmentOut>, AppError> {
    let readable: Vec<&str> = [Resource::Contacts, Resource::Clients]
        .into_iter()
        .filter(|r| actor.has(scopes(*r).0))
        .filter(|r| f.resource.is_none_or(|x| Resource::from(x) == *r))
        .map(|r| r.as_str())
        .collect();
    if readable.is_empty() {
        actor.require(f.resource.map_or(Scope::ContactsRead, |r| scopes(r.into()).0))?;
    }
    let page = PageRequest::parse(f.limit, f.after.as_deref(), None)?;
    let q = segments::table.select(Row::as_select()).filter(segments::resource.eq_any(readable)).into_boxed();
    let rows: Vec<Row> = crate::paginate!(q, segments, page).load(conn)?;
    Ok(page.page(rows, |r| (r.created_at, r.id), Row::out))
}

/// `PATCH /v1/segments/{id}` (merge patch of `name` and `filter`).
pub fn update(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    pre: Precondition,
    patch: Map<String, Value>,
) -> Result<SegmentOut, AppError> {
    conn.transaction(|conn| {
        let row = find(conn, actor, id, true)?;
        let before = SegmentInput {
            name: Some(row.name.clone()),
            resource: Some(row.resource()),
            filter: Some(row.filter.clone()),
        };
        if patch.get("resource").is_some_and(|r| Some(r) != serde_json::to_value(row.resource()).ok().as_ref()) {
            return Err(AppError::field("resource", "immutable", "a segment's resource cannot change"));
        }
        // The filter is replaced whole: merging two filters' JSON (RFC 7396
        // merges objects key by key) would make nonsense of both.
        let mut patch = patch;
        let new_filter = patch.remove("filter");
        let mut merged = patched(&before, patch)?;
        if let Some(f) = new_filter {
            merged.insert("filter".into(), f);
        }
        let input = decode_segment(merged)?;
        validate_segment(conn, &input)?;
        // The body is judged before the version, as for every resource: a
        // malformed patch is a 422 whatever the ETag.
        pre.check(row.version)?;
        let fields = changed_fields(&to_doc(&before), &to_doc(&input));
        if fields.is_empty() {
            return Ok(row.out());
        }
        let row: Row = diesel::update(segments::table.find(id))
            .set((
                segments::name.eq(input.name.clone().unwrap_or_default()),
                segments::filter.eq(input.filter.clone().unwrap_or(Value::Null)),
                segments::updated_at.eq(diesel::dsl::now),
                segments::version.eq(segments::version + 1),
            ))
            .returning(Row::as_returning())
            .get_result(conn)?;
        super::audit::record(conn, actor, "segment.updated", "segment", id, fields)?;
        Ok(row.out())
    })
}

/// `DELETE /v1/segments/{id}`.
pub fn delete(conn: &mut PgConnection, actor: &Actor, id: Uuid, pre: Precondition) -> Result<(), AppError> {
    conn.transaction(|conn| {
        let row = find(conn, actor, id, true)?;
        pre.check(row.version)?;
        diesel::delete(segments::table.find(id)).execute(conn)?;
        super::audit::record(conn, actor, "segment.deleted", "segment", id, Vec::new())?;
        Ok(())
    })
}

/// Query of `GET /v1/segments/{id}/members` and `/count`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// Page size, 1 to 200 (default 50). Members only.
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`. Members only.
    pub after: Option<String>,
    /// `created_at` (default) or `updated_at`. Members only.
    pub sort: Option<SortKey>,
    /// With `purpose`: only the contacts that may be reached on this channel
    /// for this purpose, by the rules of `POST /v1/reachability` (contact
    /// segments only).
    pub channel: Option<ReachChannel>,
    /// A key of `/v1/purposes`, with `channel`.
    pub purpose: Option<String>,
    /// The message carries the Art. 14 notice: contacts still owed one are
    /// not left out for it.
    pub with_notice: Option<bool>,
}

/// Members of a segment, a page of contacts or of clients.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Members {
    Contacts(Page<ContactOut>),
    Clients(Page<ClientOut>),
}

fn members_condition(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    q: &MembersQuery,
    contract_window_days: i32,
) -> Result<(Resource, Condition), AppError> {
    let row = find(conn, actor, id, false)?;
    let resource: Resource = row.resource().into();
    let mut cond = finish(conn, filter::compile(resource, &row.filter, "filter", true))?;
    match (q.channel, q.purpose.clone()) {
        (None, None) => {}
        (Some(channel), Some(purpose)) => {
            if resource != Resource::Contacts {
                return Err(AppError::field("channel", "not_applicable", "reachability applies to contact segments"));
            }
            if purposes::table.find(&purpose).select(purposes::key).first::<String>(conn).optional()?.is_none() {
                return Err(AppError::field("purpose", "unknown_purpose", "no such purpose (see /v1/purposes)"));
            }
            cond = cond.and(reach_condition(channel, purpose, q.with_notice.unwrap_or(false), contract_window_days));
        }
        (Some(_), None) => return Err(AppError::field("purpose", "required", "`channel` goes with `purpose`")),
        (None, Some(_)) => return Err(AppError::field("channel", "required", "`purpose` goes with `channel`")),
    }
    Ok((resource, cond))
}

/// Query of `GET /v1/segments/{id}/count`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CountQuery {
    /// With `purpose`: only the contacts that may be reached on this channel
    /// for this purpose (contact segments only).
    pub channel: Option<ReachChannel>,
    /// A key of `/v1/purposes`, with `channel`.
    pub purpose: Option<String>,
    /// The message carries the Art. 14 notice.
    pub with_notice: Option<bool>,
}

/// The reachability rules of API.md §8 as one condition on contacts.
fn reach_condition(channel: ReachChannel, purpose: String, with_notice: bool, contract_window_days: i32) -> Condition {
    let address = match channel {
        ReachChannel::Email => "contacts.email IS NOT NULL",
        ReachChannel::Sms | ReachChannel::Phone => "contacts.phone IS NOT NULL",
    };
    let notice = if with_notice {
        String::new()
    } else {
        " AND NOT (contacts.art14_notice_due_at IS NOT NULL AND contacts.art14_notice_sent_at IS NULL)".to_owned()
    };
    // Consumers need a current grant (or, by phone, a contract in
    // progress); professionals may be reached unless they withdrew.
    let contract = if channel == ReachChannel::Phone {
        format!(
            " OR EXISTS (SELECT 1 FROM orders o WHERE o.contact_id = contacts.id \
               AND o.status NOT IN ('cancelled', 'refunded') \
               AND o.ordered_at >= now() - make_interval(days => {contract_window_days}))"
        )
    } else {
        String::new()
    };
    let base = Condition::raw(&format!("NOT contacts.restricted AND NOT contacts.suppressed AND {address}{notice}"));
    let granted = Condition::raw_text(
        "EXISTS (SELECT 1 FROM consent_state s WHERE s.contact_id = contacts.id AND s.status = 'granted' AND s.purpose = ",
        purpose.clone(),
        ")",
    );
    let not_withdrawn = Condition::raw_text(
        "NOT EXISTS (SELECT 1 FROM consent_state s WHERE s.contact_id = contacts.id AND s.status = 'withdrawn' \
         AND s.purpose = ",
        purpose,
        ")",
    );
    let others = Condition::raw(&format!("contacts.audience = 'professional'{contract}"));
    base.and(granted.or(not_withdrawn.and(others)))
}

/// `GET /v1/segments/{id}/members`.
pub fn members(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    q: MembersQuery,
    contract_window_days: i32,
) -> Result<Members, AppError> {
    let page = PageRequest::parse(q.limit, q.after.as_deref(), q.sort)?;
    let (resource, cond) = members_condition(conn, actor, id, &q, contract_window_days)?;
    Ok(match resource {
        Resource::Contacts => Members::Contacts(contacts_page(conn, cond, page)?),
        Resource::Clients => Members::Clients(clients_page(conn, cond, page)?),
    })
}

/// `GET /v1/segments/{id}/count`.
pub fn count_members(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    q: CountQuery,
    contract_window_days: i32,
) -> Result<CountOut, AppError> {
    let q = MembersQuery { channel: q.channel, purpose: q.purpose, with_notice: q.with_notice, ..Default::default() };
    let (resource, cond) = members_condition(conn, actor, id, &q, contract_window_days)?;
    Ok(CountOut { count: count_of(conn, resource, cond)? })
}

/// `EXPLAIN (FORMAT JSON)` of any query, for the tests that hold every
/// single-field filter to an index.
struct Explain<Q>(Q);

impl<Q> diesel::query_builder::QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>> diesel::query_builder::QueryFragment<diesel::pg::Pg>
    for Explain<Q>
{
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        out.push_sql("EXPLAIN (FORMAT JSON) ");
        self.0.walk_ast(out.reborrow())
    }
}

impl<Q> diesel::query_builder::Query for Explain<Q> {
    type SqlType = diesel::sql_types::Text;
}

impl<Q> RunQueryDsl<PgConnection> for Explain<Q> {}

/// The plans of a filter's first page and of its count, as Postgres would
/// run them now: `(page, count)`.
pub fn explain(conn: &mut PgConnection, resource: Resource, filter: &Value) -> Result<(Value, Value), AppError> {
    let page = PageRequest::parse(None, None, None)?;
    let parse = |s: String| serde_json::from_str::<Value>(&s).map_err(AppError::internal);
    let (p, c) = match resource {
        Resource::Contacts => {
            let q = contacts::table
                .select(Contact::as_select())
                .filter(body_condition(conn, resource, Some(filter), false)?)
                .into_boxed();
            let p: String = Explain(crate::paginate!(q, contacts, page)).get_result(conn)?;
            let cond = body_condition(conn, resource, Some(filter), false)?;
            let c: String = Explain(contacts::table.filter(cond).count()).get_result(conn)?;
            (p, c)
        }
        Resource::Clients => {
            let q = clients::table
                .select(Client::as_select())
                .filter(body_condition(conn, resource, Some(filter), false)?)
                .into_boxed();
            let p: String = Explain(crate::paginate!(q, clients, page)).get_result(conn)?;
            let cond = body_condition(conn, resource, Some(filter), false)?;
            let c: String = Explain(clients::table.filter(cond).count()).get_result(conn)?;
            (p, c)
        }
    };
    Ok((parse(p)?, parse(c)?))
}
