//! Stored `Idempotency-Key` answers.

use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::idempotency_keys::dsl as k;

/// How long a key is remembered.
pub const KEY_TTL_HOURS: i64 = 24;
/// A key still "running" after this long belongs to a crashed request.
pub const ABANDONED_AFTER_SECS: i64 = 300;

/// What a stored key says about a new request carrying it.
pub enum Claim {
    /// First use: run the request, then [`complete`] or [`release`].
    Fresh,
    /// Same key, different request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
    /// Replay this answer.
    Replay { status: i16, headers: serde_json::Value, body: Vec<u8> },
}

/// Hash, status, headers, body and age in seconds of a stored key.
type Stored = (Vec<u8>, Option<i16>, Option<serde_json::Value>, Option<Vec<u8>>, f64);

/// Claims `key` for `subject`, or reports what is stored under it.
pub fn claim(conn: &mut PgConnection, subject: &str, key: &str, hash: &[u8]) -> QueryResult<Claim> {
    conn.transaction(|conn| {
        let inserted = diesel::insert_into(k::idempotency_keys)
            .values((k::subject.eq(subject), k::key.eq(key), k::request_hash.eq(hash)))
            .on_conflict_do_nothing()
            .execute(conn)?;
        if inserted == 1 {
            return Ok(Claim::Fresh);
        }
        let (stored_hash, status, headers, body, age): Stored = k::idempotency_keys
            .filter(k::subject.eq(subject).and(k::key.eq(key)))
            .select((
                k::request_hash,
                k::status_code,
                k::response_headers,
                k::response_body,
                diesel::dsl::sql::<diesel::sql_types::Double>("extract(epoch FROM now() - created_at)::float8"),
            ))
            .for_update()
            .first(conn)?;
        let expired = age > (KEY_TTL_HOURS * 3600) as f64;
        let abandoned = status.is_none() && age > ABANDONED_AFTER_SECS as f64;
        if expired || abandoned {
            diesel::update(k::idempotency_keys.filter(k::subject.eq(subject).and(k::key.eq(key))))
                .set((
                    k::request_hash.eq(hash),
                    k::status_code.eq(None::<i16>),
                    k::response_headers.eq(None::<serde_json::Value>),
                    k::response_body.eq(None::<Vec<u8>>),
                    k::resource_id.eq(None::<Uuid>),
                    k::created_at.eq(diesel::dsl::now),
                ))
                .execute(conn)?;
            return Ok(Claim::Fresh);
        }
        if stored_hash != hash {
            return Ok(Claim::Mismatch);
        }
        Ok(match status {
            None => Claim::InProgress,
            Some(status) => {
                Claim::Replay { status, headers: headers.unwrap_or_default(), body: body.unwrap_or_default() }
            }
        })
    })
}

/// Stores the answer of the request that claimed the key.
pub fn complete(
    conn: &mut PgConnection,
    subject: &str,
    key: &str,
    status: i16,
    headers: serde_json::Value,
    body: &[u8],
    resource_id: Option<Uuid>,
) -> QueryResult<usize> {
    diesel::update(k::idempotency_keys.filter(k::subject.eq(subject).and(k::key.eq(key))))
        .set((
            k::status_code.eq(status),
            k::response_headers.eq(headers),
            k::response_body.eq(body),
            k::resource_id.eq(resource_id),
        ))
        .execute(conn)
}

/// Forgets a key whose request failed in a way worth retrying.
pub fn release(conn: &mut PgConnection, subject: &str, key: &str) -> QueryResult<usize> {
    diesel::delete(k::idempotency_keys.filter(k::subject.eq(subject).and(k::key.eq(key)))).execute(conn)
}

/// Deletes keys older than their time to live.
pub fn purge_expired(conn: &mut PgConnection) -> QueryResult<usize> {
    diesel::delete(k::idempotency_keys.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
        "created_at < now() - interval '{KEY_TTL_HOURS} hours'"
    ))))
    .execute(conn)
}
