//! The suppression list: HMAC-SHA256 of normalised emails (never the email
//! itself), so an erased or objecting person does not come back as a prospect.

use diesel::prelude::*;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;
use utoipa::ToSchema;

use crate::auth::{Actor, Scope};
use crate::db::schema::suppression_list;
use crate::domain::Email;
use crate::error::AppError;

/// The HMAC key of the suppression list (`CLIENTELE_SUPPRESSION_KEY`).
#[derive(Clone)]
pub struct SuppressionKey(SecretSlice<u8>);

impl std::fmt::Debug for SuppressionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SuppressionKey(<redacted>)")
    }
}

impl SuppressionKey {
    /// A key from its bytes.
    pub fn new(bytes: &[u8]) -> Self {
        SuppressionKey(SecretSlice::from(bytes.to_vec()))
    }

    /// A key derived from another secret (the JWT secret, in `--dev` only).
    pub fn derived_from(secret: &[u8]) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"clientele suppression list");
        Self::new(&mac.finalize().into_bytes())
    }

    /// HMAC of `parts` under this key, separated from the list's own use by
    /// `label` (the verification links of data-subject requests use it).
    pub fn mac(&self, label: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret()).expect("HMAC takes any key length");
        mac.update(label);
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// HMAC of the normalised (trimmed, lowercased) email.
    pub fn hmac(&self, email: &Email) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret()).expect("HMAC takes any key length");
        mac.update(email.normalized().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// Why an email was suppressed.
#[derive(Debug, Clone, Copy)]
pub enum Reason {
    /// Erased on request.
    Erasure,
    /// The person objected.
    Objection,
    /// Erased at the end of its retention period.
    Retention,
}

/// Adds a hash to the list (idempotent).
pub fn add(conn: &mut PgConnection, hmac: &[u8], reason: Reason) -> QueryResult<usize> {
    let reason = match reason {
        Reason::Erasure => "erasure",
        Reason::Objection => "objection",
        Reason::Retention => "retention",
    };
    diesel::insert_into(suppression_list::table)
        .values((suppression_list::email_hmac.eq(hmac), suppression_list::reason.eq(reason)))
        .on_conflict_do_nothing()
        .execute(conn)
}

/// True when the hash is on the list.
pub fn contains(conn: &mut PgConnection, hmac: &[u8]) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(suppression_list::table.find(hmac))).get_result(conn)
}

/// Body of `POST /v1/suppression/check`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckInput {
    /// The email to check; it is hashed, never stored.
    pub email: String,
}

/// Answer of `POST /v1/suppression/check`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckOut {
    pub suppressed: bool,
}

/// `POST /v1/suppression/check`: lets a plugin skip a re-import before it happens.
pub fn check(
    conn: &mut PgConnection,
    actor: &Actor,
    key: &SuppressionKey,
    mut body: Map<String, Value>,
) -> Result<CheckOut, AppError> {
    actor.require(Scope::ContactsRead)?;
    let email = match body.remove("email") {
        Some(Value::String(s)) => Email::parse(&s).map_err(|e| AppError::field("email", e.code, e.message))?,
        _ => return Err(AppError::field("email", "required", "an email is required")),
    };
    if let Some(k) = body.keys().next() {
        return Err(AppError::field(k.clone(), "unknown_field", "this field does not exist"));
    }
    Ok(CheckOut { suppressed: contains(conn, &key.hmac(&email))? })
}
