//! Identity of data subjects (API.md §10): a request from a `dsar:submit`
//! token waits as `identity_unverified` until the person confirms it through
//! a one-time link sent to the email already on file, never an ID copy.
//!
//! - The link's token is `HMAC(key, request id, nonce)`, 32 bytes in
//!   base64url: 128 random bits of nonce under the server's key. The
//!   database keeps the nonce and the token's SHA-256, so a copy of the
//!   database alone cannot verify anything, and the mailer can rebuild the
//!   link after a restart (the outbox lives in the request row).
//! - The answer to the submitter, and what the submitter's callback
//!   receives, are the same whether or not the email is known: the mail
//!   (or the controller-only `dsar.verification_requested` event) exists
//!   only for a known one, and goes out after the commit.
//! - The link is valid 7 days and works once; the request expires after 30
//!   days unverified.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bytea, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::events;
use super::suppression::SuppressionKey;
use crate::auth::Actor;
use crate::db::schema::dsar_requests;
use crate::error::AppError;
use crate::models::dsar::DsarRow;

/// How long a verification link works.
pub const LINK_VALID_DAYS: i64 = 7;
/// How long a request may stay unverified before it expires.
pub const UNVERIFIED_EXPIRE_DAYS: i64 = 30;
/// Attempts at sending one verification mail before it is marked failed.
pub const MAIL_ATTEMPTS: i32 = 6;

/// The domain separation label of link tokens under the server's key.
const LABEL: &[u8] = b"clientele dsar verification link";

/// The token of a request's link.
pub fn token_for(key: &SuppressionKey, id: Uuid, nonce: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(key.mac(LABEL, &[id.as_bytes(), nonce]))
}

/// What the database keeps of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The public link of a token.
pub fn link(public_url: &str, token: &str) -> String {
    format!("{}/v1/dsar/verify/{token}", public_url.trim_end_matches('/'))
}

/// The verification state a new unverified request starts with.
pub struct Pending {
    pub nonce: Vec<u8>,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// A fresh nonce and its token for request `id`.
pub fn pending(key: &SuppressionKey, id: Uuid, now: DateTime<Utc>) -> Pending {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).expect("the OS random source is available");
    let token = token_for(key, id, &nonce);
    Pending { nonce: nonce.to_vec(), token, expires_at: now + Duration::days(LINK_VALID_DAYS) }
}

/// The `dsar.verification_requested` event of a request whose subject is on
/// file: for the controller's own mailer, which needs the link when the
/// service does not send it (`link` is `None` when SMTP sends it). It names the
/// contact, never an address: the mailer reads the email on file. Never
/// delivered to the submitter's callback (see `events::SUBSCRIBED`).
pub fn requested_doc(row: &DsarRow, contact_id: Uuid, link: Option<&str>) -> Value {
    json!({
        "id": row.id,
        "type": row.kind,
        "status": row.status,
        "contact_id": contact_id,
        "delivery": if link.is_some() { "event" } else { "smtp" },
        "verification_url": link,
        "expires_at": row.verify_expires_at,
    })
}

/// The one actor of verifications: the person who followed the link.
fn subject_actor() -> Actor {
    Actor::new("data-subject:email-link", &[], None)
}

/// Whether `token` can be one of ours (43 base64url characters), so that
/// garbage never reaches the database.
fn well_formed(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `POST /v1/dsar/verify/{token}` (public): moves the request to `received`
/// and starts its one-month clock. The same 404 for an unknown token and one
/// already used; 410 for an expired one. Returns the request's status view
/// (what events carry: no personal data) with `due_at` from now.
pub fn verify(
    conn: &mut PgConnection,
    token: &str,
    status_doc: impl Fn(&DsarRow) -> Option<Value>,
) -> Result<DsarRow, AppError> {
    if !well_formed(token) {
        return Err(AppError::NotFound("verification link"));
    }
    let hash = token_hash(token);
    conn.transaction(|conn| {
        let row: Option<DsarRow> = dsar_requests::table
            .filter(dsar_requests::verify_token_hash.eq(&hash))
            .select(DsarRow::as_select())
            .for_update()
            .first(conn)
            .optional()?;
        let Some(row) = row else { return Err(AppError::NotFound("verification link")) };
        let now = Utc::now().trunc_subsecs(6);
        if row.verify_expires_at.is_none_or(|t| t <= now) {
            return Err(AppError::Gone(
                "this verification link has expired; the request can be submitted again".into(),
            ));
        }
        let row: DsarRow = diesel::update(dsar_requests::table.find(row.id))
            .set((
                dsar_requests::status.eq("received"),
                dsar_requests::verification.eq("email_link"),
                dsar_requests::verified_at.eq(now),
                dsar_requests::due_at.eq(super::dsar::one_month_after(now)),
                dsar_requests::verify_token_hash.eq(None::<Vec<u8>>),
                dsar_requests::updated_at.eq(now),
                dsar_requests::version.eq(dsar_requests::version + 1),
            ))
            .returning(DsarRow::as_returning())
            .get_result(conn)?;
        let fields = vec!["status".into(), "verification".into(), "due_at".into()];
        events::change(conn, &subject_actor(), "dsar.received", "dsar_request", row.id, fields, status_doc(&row))?;
        Ok(row)
    })
}

/// Expires the requests still unverified [`UNVERIFIED_EXPIRE_DAYS`] before
/// `now` (at most 500 a call), with a `dsar.expired` event each. `now` is a
/// parameter so that tests move the sweep's clock instead of waiting.
pub fn expire_unverified(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    status_doc: impl Fn(&DsarRow) -> Option<Value>,
) -> Result<usize, AppError> {
    let sweeper = Actor::new("dsar-expiry", &[], None);
    conn.transaction(|conn| {
        let due: Vec<Uuid> = dsar_requests::table
            .filter(dsar_requests::status.eq("identity_unverified"))
            .filter(dsar_requests::created_at.le(now - Duration::days(UNVERIFIED_EXPIRE_DAYS)))
            .order(dsar_requests::created_at)
            .limit(500)
            .select(dsar_requests::id)
            .for_update()
            .skip_locked()
            .load(conn)?;
        if due.is_empty() {
            return Ok(0);
        }
        let rows: Vec<DsarRow> = diesel::update(dsar_requests::table.filter(dsar_requests::id.eq_any(&due)))
            .set((
                dsar_requests::status.eq("expired"),
                dsar_requests::closed_at.eq(now),
                dsar_requests::verify_token_hash.eq(None::<Vec<u8>>),
                dsar_requests::updated_at.eq(diesel::dsl::now),
                dsar_requests::version.eq(dsar_requests::version + 1),
            ))
            .returning(DsarRow::as_returning())
            .get_results(conn)?;
        for row in &rows {
            events::change(
                conn,
                &sweeper,
                "dsar.expired",
                "dsar_request",
                row.id,
                vec!["status".into()],
                status_doc(row),
            )?;
        }
        Ok(rows.len())
    })
}

/// One verification mail to send.
#[derive(QueryableByName)]
pub struct Outgoing {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text, column_name = "type")]
    pub kind: String,
    #[diesel(sql_type = Bytea)]
    pub nonce: Vec<u8>,
    #[diesel(sql_type = Timestamptz)]
    pub expires_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub email: String,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Leases up to `n` due mails for five minutes (`SKIP LOCKED`: one sender per
/// mail across replicas). A mail whose contact is gone is marked failed.
pub fn claim_mail(conn: &mut PgConnection, n: i64) -> QueryResult<Vec<Outgoing>> {
    conn.transaction(|conn| {
        // Verified by the event's link, rejected or expired meanwhile: nothing to send.
        diesel::sql_query(
            "UPDATE dsar_requests SET verify_mail = NULL, verify_mail_next_at = NULL \
             WHERE verify_mail = 'pending' AND status <> 'identity_unverified'",
        )
        .execute(conn)?;
        // The contact was erased, or has no email any more.
        diesel::sql_query(
            "UPDATE dsar_requests d SET verify_mail = 'failed', verify_mail_next_at = NULL \
             WHERE d.verify_mail = 'pending' AND NOT EXISTS \
               (SELECT 1 FROM contacts c WHERE c.id = d.verify_contact_id AND c.email IS NOT NULL)",
        )
        .execute(conn)?;
        diesel::sql_query(
            "WITH due AS ( \
               SELECT id FROM dsar_requests \
               WHERE verify_mail = 'pending' AND verify_mail_next_at <= now() \
               ORDER BY verify_mail_next_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
             UPDATE dsar_requests d SET verify_mail_attempts = d.verify_mail_attempts + 1, \
               verify_mail_next_at = now() + interval '5 minutes' \
             FROM due, contacts c \
             WHERE d.id = due.id AND c.id = d.verify_contact_id AND c.email IS NOT NULL \
             RETURNING d.id, d.type, d.verify_nonce AS nonce, d.verify_expires_at AS expires_at, c.email, \
               d.verify_mail_attempts AS attempts",
        )
        .bind::<diesel::sql_types::BigInt, _>(n)
        .load(conn)
    })
}

/// Records the outcome of a send: sent, retried later (backing off), or failed for good.
pub fn mail_outcome(
    conn: &mut PgConnection,
    m: &Outgoing,
    sent: Result<(), super::mailer::SendError>,
) -> QueryResult<()> {
    use super::mailer::SendError;
    let (state, retry_in): (&str, Option<i64>) = match sent {
        Ok(()) => ("sent", None),
        Err(SendError::Transient) if m.attempts < MAIL_ATTEMPTS => ("pending", Some(30 * (1 << m.attempts.min(10)))),
        Err(_) => ("failed", None),
    };
    diesel::sql_query(
        "UPDATE dsar_requests SET verify_mail = $2, \
           verify_mail_next_at = CASE WHEN $3::int IS NULL THEN NULL ELSE now() + make_interval(secs => $3::int) END \
         WHERE id = $1 AND verify_mail = 'pending'",
    )
    .bind::<SqlUuid, _>(m.id)
    .bind::<Text, _>(state)
    .bind::<Nullable<Integer>, _>(retry_in.map(|s| s as i32))
    .execute(conn)?;
    Ok(())
}

/// Sends the verification mails that are due (the background job, and tests
/// that drive it by hand). Database work and SMTP run on the blocking pool,
/// never holding a connection during a send. Returns the mails sent.
pub async fn deliver_due(state: &crate::state::AppState) -> Result<usize, AppError> {
    let Some(mailer) = state.mailer.clone() else { return Ok(0) };
    let batch = crate::db::run(&state.pool, |c| Ok(claim_mail(c, 16)?)).await?;
    let mut sent = 0;
    for m in batch {
        let (key, public_url, mailer) = (state.suppression.clone(), state.config.public_url.clone(), mailer.clone());
        let (m, outcome) = actix_web::web::block(move || {
            let link = link(&public_url, &token_for(&key, m.id, &m.nonce));
            let expires = m.expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
            let outcome = mailer.send_verification(&m.email, &m.kind, &link, &expires);
            (m, outcome)
        })
        .await
        .map_err(AppError::internal)?;
        match outcome {
            Ok(()) => sent += 1,
            // The request id only: the address and the server's answer (which may quote it) stay out of logs.
            Err(e) => {
                tracing::warn!(request = %m.id, permanent = (e == super::mailer::SendError::Permanent), "verification mail not sent")
            }
        }
        crate::db::run(&state.pool, move |c| Ok(mail_outcome(c, &m, outcome)?)).await?;
    }
    Ok(sent)
}
