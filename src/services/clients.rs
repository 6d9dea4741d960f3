//! Clients: companies (B2B).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::audit;
use super::events;
use super::stats::Stats;
use super::{Precondition, changed_fields, check_custom_fields, check_tags, decode, patched, to_doc};
use crate::auth::{Actor, Scope};
use crate::db::schema::clients;
use crate::domain::{Country, Currency, NafCode, Siren, Siret, Status, VatNumber};
use crate::error::AppError;
use crate::models::client::{self as model, Client, ClientWrite};
use crate::pagination::{Page, PageRequest, SortKey};

/// A postal address.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// First line (street).
    #[validate(required, length(min = 1, max = 200))]
    #[schema(required = true, min_length = 1, max_length = 200)]
    pub line1: Option<String>,
    /// Second line.
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub line2: Option<String>,
    /// Postal code.
    #[validate(length(min = 1, max = 20))]
    #[schema(min_length = 1, max_length = 20)]
    pub postal_code: Option<String>,
    /// City.
    #[validate(required, length(min = 1, max = 100))]
    #[schema(required = true, min_length = 1, max_length = 100)]
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2 country code (an assigned one; case ignored on input).
    #[validate(required)]
    #[schema(required = true, example = "FR", pattern = r"^\s*[A-Za-z]{2}\s*$")]
    pub country: Option<String>,
}

/// The writable fields of a client (create, or the result of a merge patch).
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientInput {
    /// Company name.
    #[validate(required, length(min = 1, max = 200))]
    #[schema(required = true, example = "Acme SAS", min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// Lifecycle status (default `prospect`; becomes `customer` with the first order that is not cancelled).
    pub status: Option<Status>,
    /// SIREN: 9 digits (spaces ignored) whose Luhn key is valid (not
    /// expressible as a pattern: checked by the server, 422 `invalid_checksum`). Unique.
    #[schema(example = "732829320", pattern = r"^ *([0-9] *){9}$")]
    pub siren: Option<String>,
    /// SIRET: 14 digits (spaces ignored) with a valid Luhn key (La Poste's
    /// establishments excepted); when `siren` is given too, its first 9 digits
    /// must be the SIREN (422 `mismatch`). Neither rule fits a pattern.
    #[schema(pattern = r"^ *([0-9] *){14}$")]
    pub siret: Option<String>,
    /// EU VAT number; for FR the key must match the SIREN.
    pub vat_number: Option<String>,
    /// NAF/APE code, `NN.NNL` (the dot optional on input; answered with it).
    #[schema(example = "62.01Z", pattern = r"^\s*[0-9]{2}\.?[0-9]{2}[A-Za-z]\s*$")]
    pub naf_code: Option<String>,
    /// Free-text sector.
    #[validate(length(max = 100))]
    #[schema(max_length = 100)]
    pub sector: Option<String>,
    /// Head count (≥ 0).
    #[validate(range(min = 0))]
    #[schema(minimum = 0)]
    pub employee_count: Option<i32>,
    /// Annual revenue in minor units (≥ 0).
    #[validate(range(min = 0))]
    #[schema(minimum = 0)]
    pub annual_revenue_cents: Option<i64>,
    /// ISO 4217 code of `annual_revenue_cents` (an assigned one: 422
    /// `unknown_code` otherwise); required with it.
    #[schema(example = "EUR", pattern = r"^\s*[A-Z]{3}\s*$")]
    pub currency: Option<String>,
    /// Web site (absolute http(s) URL).
    #[validate(url, length(max = 2048))]
    #[schema(max_length = 2048)]
    pub website: Option<String>,
    /// Billing address.
    #[validate(nested)]
    pub billing_address: Option<Address>,
    /// How the company was acquired.
    #[validate(length(max = 100))]
    #[schema(max_length = 100)]
    pub acquisition_channel: Option<String>,
    /// Account owner (a user name in the integrator's system).
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub owner: Option<String>,
    /// Tags (at most 50, 1 to 50 characters each).
    pub tags: Option<Vec<String>>,
    /// Free-form object (at most 50 keys, 16 KiB).
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Map<String, Value>>,
}

/// A client as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientOut {
    pub id: Uuid,
    pub name: String,
    pub status: Status,
    pub siren: Option<String>,
    pub siret: Option<String>,
    pub vat_number: Option<String>,
    pub naf_code: Option<String>,
    pub sector: Option<String>,
    pub employee_count: Option<i32>,
    pub annual_revenue_cents: Option<i64>,
    pub currency: Option<String>,
    pub website: Option<String>,
    pub billing_address: Option<Address>,
    pub acquisition_channel: Option<String>,
    pub owner: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub custom_fields: Value,
    pub stats: Stats,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Incremented by every write; the `ETag` is this number, quoted.
    pub version: i32,
}

fn status_of(s: &str) -> Status {
    s.parse().unwrap_or(Status::Prospect)
}

impl ClientOut {
    /// Builds the answer from a row.
    pub(crate) fn from_row(c: Client) -> Self {
        ClientOut {
            id: c.id,
            name: c.name,
            status: status_of(&c.status),
            siren: c.siren,
            siret: c.siret,
            vat_number: c.vat_number,
            naf_code: c.naf_code,
            sector: c.sector,
            employee_count: c.employee_count,
            annual_revenue_cents: c.annual_revenue_cents,
            currency: c.currency,
            website: c.website,
            billing_address: c.billing_address.and_then(|v| serde_json::from_value(v).ok()),
            acquisition_channel: c.acquisition_channel,
            owner: c.owner,
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
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: c.version,
        }
    }

    /// The writable document of this client, the base of a merge patch.
    pub(crate) fn input(&self) -> ClientInput {
        ClientInput {
            name: Some(self.name.clone()),
            status: Some(self.status),
            siren: self.siren.clone(),
            siret: self.siret.clone(),
            vat_number: self.vat_number.clone(),
            naf_code: self.naf_code.clone(),
            sector: self.sector.clone(),
            employee_count: self.employee_count,
            annual_revenue_cents: self.annual_revenue_cents,
            currency: self.currency.clone(),
            website: self.website.clone(),
            billing_address: self.billing_address.clone(),
            acquisition_channel: self.acquisition_channel.clone(),
            owner: self.owner.clone(),
            tags: Some(self.tags.clone()),
            custom_fields: self.custom_fields.as_object().cloned(),
        }
    }
}

/// Validates a client document into the row to write, listing every failing field.
pub fn validate(map: Map<String, Value>) -> Result<ClientWrite, AppError> {
    let (input, mut errors) = decode::<ClientInput>(map);
    let Some(input) = input else {
        return Err(AppError::Validation(errors.0));
    };
    // The database refuses a blank name (CHECK on btrim): say so at the edge.
    if input.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        errors.push("name", "blank", "must hold more than blanks");
    }
    let siren = errors.opt("siren", input.siren.as_deref(), Siren::parse);
    let siret = errors.opt("siret", input.siret.as_deref(), Siret::parse);
    let vat = errors.opt("vat_number", input.vat_number.as_deref(), VatNumber::parse);
    let naf = errors.opt("naf_code", input.naf_code.as_deref(), NafCode::parse);
    let currency = errors.opt("currency", input.currency.as_deref(), Currency::parse);
    if let (Some(siren), Some(siret)) = (&siren, &siret)
        && siret.siren().as_str() != siren.as_str()
    {
        errors.push("siret", "mismatch", "the first 9 digits of the SIRET must be the SIREN");
    }
    if let Some(vat_siren) = vat.as_ref().and_then(|v| v.fr_siren().map(str::to_owned)) {
        let known = siren
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .or_else(|| siret.as_ref().map(|s| s.siren().as_str().to_owned()));
        if known.is_some_and(|s| s != vat_siren) {
            errors.push("vat_number", "mismatch", "a French VAT number must carry the company's SIREN");
        }
    }
    if let Some(w) = &input.website
        && !(w.starts_with("https://") || w.starts_with("http://"))
    {
        errors.push("website", "url", "must be an absolute http(s) URL");
    }
    if input.annual_revenue_cents.is_some() && input.currency.is_none() {
        errors.push("currency", "required", "required with annual_revenue_cents");
    }
    let mut address = input.billing_address.clone();
    if let Some(a) = address.as_mut()
        && let Some(c) = a.country.as_deref()
        && let Some(country) = errors.take("billing_address.country", Country::parse(&c.trim().to_ascii_uppercase()))
    {
        a.country = Some(country.as_str().to_owned());
    }
    let tags = input.tags.clone().unwrap_or_default();
    check_tags(&mut errors, &tags);
    let custom = input.custom_fields.clone().unwrap_or_default();
    check_custom_fields(&mut errors, &custom);
    errors.finish()?;
    Ok(ClientWrite {
        name: input.name.unwrap_or_default().trim().to_owned(),
        status: input.status.unwrap_or(Status::Prospect).as_str().to_owned(),
        siren: siren.map(|s| s.as_str().to_owned()),
        siret: siret.map(|s| s.as_str().to_owned()),
        vat_number: vat.map(|v| v.as_str().to_owned()),
        naf_code: naf.map(|n| n.as_str().to_owned()),
        sector: input.sector,
        employee_count: input.employee_count,
        annual_revenue_cents: input.annual_revenue_cents,
        currency: currency.map(|c| c.as_str().to_owned()),
        website: input.website,
        billing_address: address.map(|a| serde_json::to_value(a).unwrap_or_default()),
        acquisition_channel: input.acquisition_channel,
        owner: input.owner,
        tags: Value::from(tags),
        custom_fields: Value::Object(custom),
    })
}

/// The answer for a client id, without scope checks (events).
pub fn out_by_id(conn: &mut PgConnection, id: Uuid) -> Result<Option<ClientOut>, AppError> {
    model::find(conn, id, false)?.map(|c| out(conn, c)).transpose()
}

fn out(_conn: &mut PgConnection, c: Client) -> Result<ClientOut, AppError> {
    Ok(ClientOut::from_row(c))
}

/// `POST /v1/clients`.
pub fn create(conn: &mut PgConnection, actor: &Actor, body: Map<String, Value>) -> Result<ClientOut, AppError> {
    actor.require(Scope::ClientsWrite)?;
    let write = validate(body)?;
    conn.transaction(|conn| {
        let row = diesel::insert_into(clients::table)
            .values((clients::id.eq(Uuid::now_v7()), &write))
            .returning(Client::as_returning())
            .get_result(conn)?;
        let out = out(conn, row)?;
        let fields = audit::set_fields(&to_doc(&write));
        events::change(conn, actor, "client.created", "client", out.id, fields, Some(to_doc(&out)))?;
        Ok(out)
    })
}

/// `GET /v1/clients/{id}`.
pub fn get(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> Result<ClientOut, AppError> {
    actor.require(Scope::ClientsRead)?;
    let row = model::find(conn, id, false)?.ok_or(AppError::NotFound("client"))?;
    out(conn, row)
}

/// 404 unless the client exists (for the nested lists).
pub fn exists(conn: &mut PgConnection, id: Uuid) -> Result<(), AppError> {
    model::find(conn, id, false)?.map(|_| ()).ok_or(AppError::NotFound("client"))
}

/// `PATCH /v1/clients/{id}`: an RFC 7396 merge patch.
pub fn update(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    patch: Map<String, Value>,
    pre: &Precondition,
) -> Result<ClientOut, AppError> {
    actor.require(Scope::ClientsWrite)?;
    conn.transaction(|conn| {
        let row = model::find(conn, id, true)?.ok_or(AppError::NotFound("client"))?;
        let current = ClientWrite::from(&row);
        // A request that fails validation is a 422 whatever its If-Match;
        // 412 is for a valid change aimed at another version.
        let write = validate(patched(&ClientOut::from_row(row.clone()).input(), patch)?)?;
        pre.check(row.version)?;
        if write == current {
            return out(conn, row);
        }
        let fields = changed_fields(&to_doc(&current), &to_doc(&write));
        let row = diesel::update(clients::table.find(id))
            .set((&write, clients::version.eq(clients::version + 1), clients::updated_at.eq(diesel::dsl::now)))
            .returning(Client::as_returning())
            .get_result(conn)?;
        let out = out(conn, row)?;
        events::change(conn, actor, "client.updated", "client", id, fields, Some(to_doc(&out)))?;
        Ok(out)
    })
}

/// `DELETE /v1/clients/{id}`: refused (409) while orders reference it.
pub fn delete(conn: &mut PgConnection, actor: &Actor, id: Uuid, pre: &Precondition) -> Result<(), AppError> {
    actor.require(Scope::ClientsWrite)?;
    conn.transaction(|conn| {
        let row = model::find(conn, id, true)?.ok_or(AppError::NotFound("client"))?;
        pre.check(row.version)?;
        diesel::delete(clients::table.find(id)).execute(conn)?;
        events::change(conn, actor, "client.deleted", "client", id, vec![], None)?;
        Ok(())
    })
}

/// Filters of `GET /v1/clients`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClientFilter {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub after: Option<String>,
    /// `created_at` (default) or `updated_at`.
    pub sort: Option<SortKey>,
    pub status: Option<Status>,
    pub sector: Option<String>,
    /// NAF/APE code, `NN.NNL` (the dot optional).
    #[param(pattern = r"^\s*[0-9]{2}\.?[0-9]{2}[A-Za-z]\s*$")]
    pub naf_code: Option<String>,
    /// Clients carrying this tag.
    pub tag: Option<String>,
    /// Name prefix, case-insensitive.
    pub q: Option<String>,
    pub employee_count_gte: Option<i32>,
    pub employee_count_lte: Option<i32>,
    pub annual_revenue_gte: Option<i64>,
    pub annual_revenue_lte: Option<i64>,
    pub spent_last_12m_gte: Option<i64>,
    pub last_order_before: Option<DateTime<Utc>>,
    pub last_order_after: Option<DateTime<Utc>>,
    /// Rows updated after this time, for people browsing recent changes. Not
    /// for sync: `updated_at` is when the writing transaction started, so a
    /// row can commit later with an earlier time. Integrators mirroring us
    /// use `GET /v1/sync/{resource}`, which never skips a committed change.
    pub updated_after: Option<DateTime<Utc>>,
}

/// Escapes `%`, `_` and `\` for a LIKE prefix.
pub fn like_prefix(q: &str) -> String {
    let mut s = q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    s.push('%');
    s
}

/// `GET /v1/clients`.
pub fn list(conn: &mut PgConnection, actor: &Actor, f: ClientFilter) -> Result<Page<ClientOut>, AppError> {
    list_with(conn, actor, f, None).map(|(page, _)| page)
}

/// A list page with a segment filter ANDed to the list's parameters
/// (GraphQL's `filter:`), and the condition it ran (for `totalCount`).
pub fn list_with(
    conn: &mut PgConnection,
    actor: &Actor,
    f: ClientFilter,
    segment: Option<&Value>,
) -> Result<(Page<ClientOut>, super::segments::Condition), AppError> {
    use serde_json::json;
    actor.require(Scope::ClientsRead)?;
    let page = PageRequest::parse(f.limit, f.after.as_deref(), f.sort)?;
    // The list's parameters are conditions of the segment language: one
    // implementation, one set of indexes.
    let c = |field: &str, op: &str, value: Value| json!({"field": field, "op": op, "value": value});
    let mut params: Vec<(&str, Value)> = Vec::new();
    if let Some(s) = f.status {
        params.push(("status", c("status", "eq", json!(s.as_str()))));
    }
    if let Some(s) = f.sector {
        params.push(("sector", c("sector", "eq", json!(s))));
    }
    if let Some(n) = f.naf_code {
        params.push(("naf_code", c("naf_code", "eq", json!(n))));
    }
    if let Some(t) = f.tag {
        params.push(("tag", c("tags", "contains", json!(t))));
    }
    if let Some(q) = f.q {
        params.push(("q", c("q", "prefix", json!(q))));
    }
    for (name, field, op, v) in [
        ("employee_count_gte", "employee_count", "gte", f.employee_count_gte.map(i64::from)),
        ("employee_count_lte", "employee_count", "lte", f.employee_count_lte.map(i64::from)),
        ("annual_revenue_gte", "annual_revenue_cents", "gte", f.annual_revenue_gte),
        ("annual_revenue_lte", "annual_revenue_cents", "lte", f.annual_revenue_lte),
        ("spent_last_12m_gte", "stats.spent_last_12m_cents", "gte", f.spent_last_12m_gte),
    ] {
        if let Some(v) = v {
            params.push((name, c(field, op, json!(v))));
        }
    }
    if let Some(v) = f.last_order_before {
        params.push(("last_order_before", c("stats.last_order_at", "before", json!(v))));
    }
    if let Some(v) = f.last_order_after {
        params.push(("last_order_after", c("stats.last_order_at", "after", json!(v))));
    }
    if let Some(v) = f.updated_after {
        params.push(("updated_after", c("updated_at", "after", json!(v))));
    }
    let mut cond = super::segments::list_condition(conn, super::segments::Resource::Clients, &params)?;
    if let Some(filter) = segment {
        cond =
            cond.and(super::segments::body_condition(conn, super::segments::Resource::Clients, Some(filter), false)?);
    }
    Ok((super::segments::clients_page(conn, cond.clone(), page)?, cond))
}
