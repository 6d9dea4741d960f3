//! One-click unsubscribe (RFC 8058; API.md §8).
//!
//! One link per contact and purpose. Its token is `HMAC(key, contact,
//! purpose, nonce)` in base64url (a 128-bit random nonce under the server
//! key): asking again gives the same URL, the database keeps only the nonce
//! and the token's SHA-256, and the URL carries no personal data. `POST
//! /u/<token>` withdraws the consent once (a second POST changes nothing);
//! `GET` only shows a page, since mail scanners fetch links. An unknown
//! token gets the same answer. Erasure deletes the contact, and with it its
//! links.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bytea, Text, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::consents::{self, Channel, ConsentInput, ConsentStatus, Proof};
use super::decode;
use super::suppression::SuppressionKey;
use crate::auth::{Actor, Scope};
use crate::db::schema::{contacts, purposes, unsubscribe_links};
use crate::error::AppError;

const LABEL: &[u8] = b"clientele one-click unsubscribe";

/// The `proof.method` of a withdrawal by a one-click link: recorded by the
/// server, never accepted from a client (the document's `RecordedProof`).
pub const ONE_CLICK: &str = "one_click";

/// One link to make.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    #[validate(required)]
    #[schema(required = true)]
    pub contact_id: Option<Uuid>,
    /// A key of `/v1/purposes`: what the person leaves.
    #[validate(required)]
    #[schema(required = true, example = "newsletter")]
    pub purpose: Option<String>,
}

/// `POST /v1/unsubscribe-links`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinksInput {
    /// 1 to 1,000.
    #[validate(required, length(min = 1, max = 1000), nested)]
    #[schema(required = true, min_items = 1, max_items = 1000)]
    pub recipients: Option<Vec<LinkRequest>>,
}

/// The two headers to put on the message (RFC 2369, RFC 8058).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Headers {
    #[serde(rename = "List-Unsubscribe")]
    pub list_unsubscribe: String,
    #[serde(rename = "List-Unsubscribe-Post")]
    pub list_unsubscribe_post: &'static str,
}

/// A link.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Link {
    pub contact_id: Uuid,
    pub purpose: String,
    pub url: String,
    pub headers: Headers,
}

/// The links, in the order asked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinksOut {
    pub data: Vec<Link>,
}

fn token(key: &SuppressionKey, contact: Uuid, purpose: &str, nonce: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(key.mac(LABEL, &[contact.as_bytes(), purpose.as_bytes(), nonce]))
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// `POST /v1/unsubscribe-links` (`consents:write`): idempotent, the same URL
/// for the same contact and purpose.
pub fn links(
    conn: &mut PgConnection,
    actor: &Actor,
    key: &SuppressionKey,
    public_url: &str,
    body: Map<String, Value>,
) -> Result<LinksOut, AppError> {
    actor.require(Scope::ConsentsWrite)?;
    let (input, mut errors) = decode::<LinksInput>(body);
    let Some(input) = input else { return Err(AppError::Validation(errors.0)) };
    let asked = input.recipients.unwrap_or_default();
    let ids: Vec<Uuid> = asked.iter().filter_map(|r| r.contact_id).collect();
    let keys: Vec<String> = asked.iter().filter_map(|r| r.purpose.clone()).collect();
    let known_contacts: std::collections::HashSet<Uuid> = contacts::table
        .filter(contacts::id.eq_any(&ids))
        .select(contacts::id)
        .load::<Uuid>(conn)?
        .into_iter()
        .collect();
    let known_purposes: std::collections::HashSet<String> = purposes::table
        .filter(purposes::key.eq_any(&keys))
        .select(purposes::key)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    for (i, r) in asked.iter().enumerate() {
        if r.contact_id.is_some_and(|c| !known_contacts.contains(&c)) {
            errors.push(format!("recipients[{i}].contact_id"), "not_found", "no such contact");
        }
        if r.purpose.as_ref().is_some_and(|p| !known_purposes.contains(p)) {
            errors.push(format!("recipients[{i}].purpose"), "unknown_purpose", "no such purpose (see /v1/purposes)");
        }
    }
    errors.finish()?;
    let pairs: Vec<(Uuid, String)> =
        asked.iter().map(|r| (r.contact_id.unwrap_or_default(), r.purpose.clone().unwrap_or_default())).collect();
    let (c, p): (Vec<Uuid>, Vec<String>) = pairs.iter().cloned().unzip();
    let nonces: Vec<Vec<u8>> = pairs
        .iter()
        .map(|_| {
            let mut n = [0u8; 16];
            getrandom::fill(&mut n).expect("the OS random source is available");
            n.to_vec()
        })
        .collect();
    let hashes: Vec<Vec<u8>> = pairs.iter().zip(&nonces).map(|((c, p), n)| hash(&token(key, *c, p, n))).collect();
    conn.transaction(|conn| {
        diesel::sql_query(
            "INSERT INTO unsubscribe_links (contact_id, purpose, nonce, token_hash) \
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::bytea[]) \
             ON CONFLICT (contact_id, purpose) DO NOTHING",
        )
        .bind::<Array<SqlUuid>, _>(&c)
        .bind::<Array<Text>, _>(&p)
        .bind::<Array<Bytea>, _>(&nonces)
        .bind::<Array<Bytea>, _>(&hashes)
        .execute(conn)?;
        let stored: Vec<(Uuid, String, Vec<u8>)> = unsubscribe_links::table
            .filter(unsubscribe_links::contact_id.eq_any(&c))
            .select((unsubscribe_links::contact_id, unsubscribe_links::purpose, unsubscribe_links::nonce))
            .load(conn)?;
        let nonce_of: std::collections::HashMap<(Uuid, String), Vec<u8>> =
            stored.into_iter().map(|(c, p, n)| ((c, p), n)).collect();
        let base = public_url.trim_end_matches('/');
        let data = pairs
            .into_iter()
            .map(|(contact_id, purpose)| {
                let n = nonce_of.get(&(contact_id, purpose.clone())).cloned().unwrap_or_default();
                let url = format!("{base}/u/{}", token(key, contact_id, &purpose, &n));
                Link {
                    headers: Headers {
                        list_unsubscribe: format!("<{url}>"),
                        list_unsubscribe_post: "List-Unsubscribe=One-Click",
                    },
                    contact_id,
                    purpose,
                    url,
                }
            })
            .collect();
        Ok(LinksOut { data })
    })
}

/// What a one-click POST did (the answer to the person is the same either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A withdrawal was recorded.
    Withdrawn,
    /// Already withdrawn, or an unknown or erased link: nothing changed.
    Unchanged,
}

/// `POST /u/<token>` (public): records the withdrawal once.
pub fn one_click(conn: &mut PgConnection, token: &str, user_agent: Option<String>) -> Result<Outcome, AppError> {
    if token.len() != 43 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Ok(Outcome::Unchanged);
    }
    let h = hash(token);
    conn.transaction(|conn| {
        let link: Option<(Uuid, String)> = unsubscribe_links::table
            .filter(unsubscribe_links::token_hash.eq(&h))
            .select((unsubscribe_links::contact_id, unsubscribe_links::purpose))
            .for_update()
            .first(conn)
            .optional()?;
        let Some((contact_id, purpose)) = link else { return Ok(Outcome::Unchanged) };
        // Lock the person, so that two clicks record one withdrawal.
        crate::models::contact::find(conn, contact_id, true)?;
        let current = consents::current_of(&consents::events_of(conn, contact_id)?);
        let withdrawn = current.iter().any(|e| e.purpose == purpose && e.status == ConsentStatus::Withdrawn);
        let used = |conn: &mut PgConnection| {
            diesel::update(unsubscribe_links::table.filter(unsubscribe_links::token_hash.eq(&h)))
                .set(unsubscribe_links::used_at.eq(diesel::dsl::now))
                .execute(conn)
        };
        if withdrawn {
            used(conn)?;
            return Ok(Outcome::Unchanged);
        }
        let input = ConsentInput {
            purpose: Some(purpose),
            status: Some(ConsentStatus::Withdrawn),
            channel: Some(Channel::Email),
            collected_at: None,
            proof: Some(Proof {
                method: Some(ONE_CLICK.into()),
                ip: None,
                user_agent: user_agent.map(|u| u.chars().take(500).collect()),
                form_url: None,
                wording: None,
                wording_version: None,
                evidence_ref: None,
            }),
        };
        consents::append(conn, &Actor::new("data-subject:one-click", &[], None), contact_id, &input)?;
        used(conn)?;
        Ok(Outcome::Withdrawn)
    })
}
