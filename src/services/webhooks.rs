//! Webhook subscriptions: URL safety, CRUD, delivery logs and redelivery.

use std::net::{IpAddr, ToSocketAddrs};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{Errors, Precondition, audit, changed_fields, decode, patched};
use crate::auth::{Actor, Scope};
use crate::db::schema::{events, webhook_attempts, webhook_deliveries, webhooks};
use crate::error::AppError;
use crate::pagination::{Page, PageRequest};

/// True for addresses a webhook must never reach: loopback, private,
/// link-local (cloud metadata), carrier-grade NAT, unspecified, multicast,
/// broadcast, documentation and unique-local ranges.
/// Addresses no webhook or callback may reach, even with
/// `CLIENTELE_WEBHOOK_ALLOW_PRIVATE=true`: link-local (where cloud metadata
/// services answer, `169.254.169.254`, `fe80::/10`), the other known metadata
/// addresses (`fd00:ec2::254` on AWS, `100.100.100.200` on Alibaba Cloud),
/// unspecified (`0.0.0.0`, `::`, which reach the local host), broadcast and
/// multicast.
pub fn never_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.octets()[0] == 0
                || v4.octets() == [100, 100, 100, 200]
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return never_ip(IpAddr::V4(v4));
            }
            v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.segments() == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254]
        }
    }
}

/// Addresses refused unless private networks are allowed (and [`never_ip`] always).
pub fn forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_ip(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || s[0] == 0x2001 && s[1] == 0x0db8
        }
    }
}

/// Checks a webhook or callback URL: https (unless private networks are
/// allowed), no credentials, and a host that resolves only to public addresses.
pub fn check_url(field: &str, raw: &str, allow_private: bool, errors: &mut Errors) {
    let Ok(url) = url::Url::parse(raw) else {
        return errors.push(field, "invalid_format", "must be an absolute URL");
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return errors.push(field, "insecure", "must use https"),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return errors.push(field, "credentials", "must not carry credentials");
    }
    let Some(host) = url.host_str() else { return errors.push(field, "invalid_format", "must name a host") };
    let port = url.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if allow_private {
        // Private networks are allowed, the metadata service never is.
        if let Ok(addrs) = (host, port).to_socket_addrs()
            && addrs.into_iter().any(|a| never_ip(a.ip()))
        {
            errors.push(
                field,
                "forbidden_address",
                "must not resolve to a link-local, metadata or unspecified address",
            );
        }
        return;
    }
    match (host, port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            if addrs.is_empty() || addrs.iter().any(|a| forbidden_ip(a.ip())) {
                errors.push(
                    field,
                    "forbidden_address",
                    "must not resolve to a loopback, private, link-local or metadata address",
                );
            }
        }
        Err(_) => errors.push(field, "unresolvable", "the host does not resolve"),
    }
}

/// A new secret: shown once.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    format!("whsec_{}", hex::encode(bytes))
}

/// The writable fields of a subscription.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// Where events are POSTed (https; public addresses only).
    #[validate(required, length(max = 2048))]
    #[schema(required = true, example = "https://shop.example/clientele-hook", max_length = 2048)]
    pub url: Option<String>,
    /// Patterns: `*`, `contact.*`, `order.created`... (default `["*"]`).
    #[validate(length(min = 1, max = 50))]
    #[schema(min_items = 1, max_items = 50)]
    pub events: Option<Vec<String>>,
    /// Default true. Re-enabling clears the failure state.
    pub enabled: Option<bool>,
}

/// A subscription as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookOut {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub enabled: bool,
    /// Signing key, returned once, at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Since when deliveries fail (disabled after 3 days).
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

type Row = (Uuid, String, Value, bool, Option<DateTime<Utc>>, Option<String>, DateTime<Utc>, DateTime<Utc>, i32);

macro_rules! cols {
    () => {
        (
            webhooks::id,
            webhooks::url,
            webhooks::events,
            webhooks::enabled,
            webhooks::failing_since,
            webhooks::disabled_reason,
            webhooks::created_at,
            webhooks::updated_at,
            webhooks::version,
        )
    };
}

fn out(r: Row) -> WebhookOut {
    WebhookOut {
        id: r.0,
        url: r.1,
        events: serde_json::from_value(r.2).unwrap_or_default(),
        enabled: r.3,
        secret: None,
        failing_since: r.4,
        disabled_reason: r.5,
        created_at: r.6,
        updated_at: r.7,
        version: r.8,
    }
}

/// [`valid_pattern`] as a pattern, for the OpenAPI document.
pub const EVENT_PATTERN: &str = r"^(\*|[a-z_]+\.(\*|[a-z_]+))$";

fn valid_pattern(p: &str) -> bool {
    if p == "*" {
        return true;
    }
    let Some((res, action)) = p.split_once('.') else { return false };
    let word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    word(res) && (action == "*" || word(action))
}

fn validate(map: Map<String, Value>, allow_private: bool) -> Result<(String, Vec<String>, bool), AppError> {
    let (input, mut errors) = decode::<WebhookInput>(map);
    let Some(input) = input else { return Err(AppError::Validation(errors.0)) };
    if let Some(url) = &input.url {
        check_url("url", url, allow_private, &mut errors);
    }
    let events = input.events.unwrap_or_else(|| vec!["*".into()]);
    if let Some(i) = events.iter().position(|p| !valid_pattern(p)) {
        errors.push(format!("events[{i}]"), "invalid_format", "`*`, `<resource>.*` or `<resource>.<action>`");
    }
    errors.finish()?;
    Ok((input.url.unwrap_or_default(), events, input.enabled.unwrap_or(true)))
}

fn find(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<Row, AppError> {
    let q = webhooks::table.find(id).filter(webhooks::dsar_id.is_null()).select(cols!());
    let row = if lock { q.for_update().first(conn).optional()? } else { q.first(conn).optional()? };
    row.ok_or(AppError::NotFound("webhook"))
}

/// `POST /v1/webhooks`: the answer carries the secret, once.
pub fn create(
    conn: &mut PgConnection,
    actor: &Actor,
    allow_private: bool,
    body: Map<String, Value>,
) -> Result<WebhookOut, AppError> {
    actor.require(Scope::WebhooksManage)?;
    let (url, events, enabled) = validate(body, allow_private)?;
    let secret = new_secret();
    conn.transaction(|conn| {
        let row: Row = diesel::insert_into(webhooks::table)
            .values((
                webhooks::id.eq(Uuid::now_v7()),
                webhooks::url.eq(&url),
                webhooks::events.eq(Value::from(events)),
                webhooks::secret.eq(&secret),
                webhooks::enabled.eq(enabled),
                webhooks::created_by.eq(&actor.sub),
            ))
            .returning(cols!())
            .get_result(conn)?;
        audit::record(conn, actor, "webhook.created", "webhook", row.0, vec!["url".into(), "events".into()])?;
        let mut out = out(row);
        out.secret = Some(secret);
        Ok(out)
    })
}

/// `GET /v1/webhooks`.
pub fn list(conn: &mut PgConnection, actor: &Actor) -> Result<Vec<WebhookOut>, AppError> {
    actor.require(Scope::WebhooksManage)?;
    let rows: Vec<Row> =
        webhooks::table.filter(webhooks::dsar_id.is_null()).order(webhooks::created_at).select(cols!()).load(conn)?;
    Ok(rows.into_iter().map(out).collect())
}

/// `GET /v1/webhooks/{id}`.
pub fn get(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> Result<WebhookOut, AppError> {
    actor.require(Scope::WebhooksManage)?;
    Ok(out(find(conn, id, false)?))
}

/// `PATCH /v1/webhooks/{id}`: url, events, enabled (merge patch).
pub fn update(
    conn: &mut PgConnection,
    actor: &Actor,
    allow_private: bool,
    id: Uuid,
    patch: Map<String, Value>,
    pre: &Precondition,
) -> Result<WebhookOut, AppError> {
    actor.require(Scope::WebhooksManage)?;
    conn.transaction(|conn| {
        let row = out(find(conn, id, true)?);
        let before = serde_json::json!({"url": row.url, "events": row.events, "enabled": row.enabled});
        let map = patched(&before, patch)?;
        let fields = changed_fields(&before, &Value::Object(map.clone()));
        // 422 before 412: see `clients::update`.
        let (url, events, enabled) = validate(map, allow_private)?;
        pre.check(row.version)?;
        if fields.is_empty() {
            return Ok(row);
        }
        if enabled && !row.enabled {
            diesel::update(webhooks::table.find(id))
                .set((webhooks::failing_since.eq(None::<DateTime<Utc>>), webhooks::disabled_reason.eq(None::<String>)))
                .execute(conn)?;
        }
        let updated: Row = diesel::update(webhooks::table.find(id))
            .set((
                webhooks::url.eq(url),
                webhooks::events.eq(Value::from(events)),
                webhooks::enabled.eq(enabled),
                webhooks::updated_at.eq(diesel::dsl::now),
                webhooks::version.eq(webhooks::version + 1),
            ))
            .returning(cols!())
            .get_result(conn)?;
        audit::record(conn, actor, "webhook.updated", "webhook", id, fields)?;
        Ok(out(updated))
    })
}

/// `DELETE /v1/webhooks/{id}`.
pub fn delete(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> Result<(), AppError> {
    actor.require(Scope::WebhooksManage)?;
    conn.transaction(|conn| {
        find(conn, id, true)?;
        diesel::delete(webhooks::table.find(id)).execute(conn)?;
        audit::record(conn, actor, "webhook.deleted", "webhook", id, vec![])?;
        Ok(())
    })
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptOut {
    pub attempted_at: DateTime<Utc>,
    /// HTTP status of the receiver's answer, if any.
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

/// The delivery of one event to one webhook.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryOut {
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `succeeded` or `failed` (after 3 days of retries).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The latest attempts, newest first (at most 10).
    pub recent_attempts: Vec<AttemptOut>,
}

/// Paging of `GET /v1/webhooks/{id}/deliveries` (newest first).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryFilter {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub after: Option<String>,
    /// `pending`, `succeeded` or `failed`.
    pub status: Option<String>,
}

type DeliveryRow =
    (Uuid, Uuid, String, String, i32, DateTime<Utc>, Option<i32>, Option<String>, DateTime<Utc>, DateTime<Utc>);

/// `GET /v1/webhooks/{id}/deliveries`: oldest first, with recent attempts.
pub fn deliveries(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    f: DeliveryFilter,
) -> Result<Page<DeliveryOut>, AppError> {
    actor.require(Scope::WebhooksManage)?;
    find(conn, id, false)?;
    let page = PageRequest::parse(f.limit, f.after.as_deref(), None)?;
    let mut q = webhook_deliveries::table
        .inner_join(events::table.on(events::id.eq(webhook_deliveries::event_id)))
        .filter(webhook_deliveries::webhook_id.eq(id))
        .select((
            webhook_deliveries::id,
            webhook_deliveries::event_id,
            events::type_,
            webhook_deliveries::status,
            webhook_deliveries::attempts,
            webhook_deliveries::next_attempt_at,
            webhook_deliveries::last_status_code,
            webhook_deliveries::last_error,
            webhook_deliveries::created_at,
            webhook_deliveries::updated_at,
        ))
        .into_boxed();
    if let Some(s) = f.status {
        q = q.filter(webhook_deliveries::status.eq(s));
    }
    if let Some(c) = page.after {
        q = q.filter(
            webhook_deliveries::created_at
                .gt(c.at())
                .or(webhook_deliveries::created_at.eq(c.at()).and(webhook_deliveries::id.gt(c.id))),
        );
    }
    let rows: Vec<DeliveryRow> =
        q.order((webhook_deliveries::created_at, webhook_deliveries::id)).limit(page.limit + 1).load(conn)?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    type AttemptRow = (Uuid, DateTime<Utc>, Option<i32>, Option<String>, i32);
    let attempts: Vec<AttemptRow> = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq_any(&ids))
        .order(webhook_attempts::id.desc())
        .select((
            webhook_attempts::delivery_id,
            webhook_attempts::attempted_at,
            webhook_attempts::status_code,
            webhook_attempts::error,
            webhook_attempts::duration_ms,
        ))
        .load(conn)?;
    Ok(page.page(
        rows,
        |r| (r.8, r.0),
        |r| DeliveryOut {
            event_id: r.1,
            event_type: r.2,
            next_attempt_at: (r.3 == "pending").then_some(r.5),
            status: r.3,
            attempts: r.4,
            last_status_code: r.6,
            last_error: r.7,
            created_at: r.8,
            updated_at: r.9,
            recent_attempts: attempts
                .iter()
                .filter(|a| a.0 == r.0)
                .take(10)
                .map(|a| AttemptOut { attempted_at: a.1, status_code: a.2, error: a.3.clone(), duration_ms: a.4 })
                .collect(),
        },
    ))
}

/// `POST /v1/webhooks/{id}/deliveries/{event_id}/redeliver`: queues the event
/// again, now (whether or not it was delivered before).
pub fn redeliver(conn: &mut PgConnection, actor: &Actor, id: Uuid, event_id: Uuid) -> Result<(), AppError> {
    actor.require(Scope::WebhooksManage)?;
    conn.transaction(|conn| {
        find(conn, id, false)?;
        let seq: i64 = events::table
            .filter(events::id.eq(event_id))
            .select(events::seq)
            .first(conn)
            .optional()?
            .ok_or(AppError::NotFound("event"))?;
        diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::id.eq(Uuid::now_v7()),
                webhook_deliveries::webhook_id.eq(id),
                webhook_deliveries::event_id.eq(event_id),
                webhook_deliveries::event_seq.eq(seq),
            ))
            .on_conflict((webhook_deliveries::webhook_id, webhook_deliveries::event_id))
            .do_update()
            .set((
                webhook_deliveries::status.eq("pending"),
                webhook_deliveries::next_attempt_at.eq(diesel::dsl::now),
                webhook_deliveries::locked_until.eq(None::<DateTime<Utc>>),
                webhook_deliveries::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        audit::record(conn, actor, "webhook.redelivered", "webhook", id, vec![event_id.to_string()])?;
        Ok(())
    })
}
