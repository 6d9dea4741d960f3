//! Verification keys, built once at startup, and token minting.

use std::collections::HashMap;
use std::sync::RwLock;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::JwtConfig;
use crate::error::AppError;

/// Accepted clock skew on `exp`, `nbf` and `iat`.
const LEEWAY_SECS: u64 = 30;
/// Shortest HS256 secret accepted (RFC 7518 §3.2: at least the hash size).
const MIN_SECRET_BYTES: usize = 32;

/// The claims Clientele reads (RFC 9068 style `scope`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// Subject: who the token was issued to.
    pub sub: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Space-separated scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Token id, used for revocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// A key that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Neither a secret nor a public key is configured.
    #[error("no token key configured: set CLIENTELE_JWT_SECRET or CLIENTELE_JWT_PUBLIC_KEY_FILE (or run with --dev)")]
    Missing,
    /// The secret is too short.
    #[error("CLIENTELE_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")]
    ShortSecret,
    /// The key file cannot be read or parsed.
    #[error("CLIENTELE_JWT_PUBLIC_KEY_FILE: {0}")]
    File(String),
    /// Minting needs the HS256 secret.
    #[error("minting tokens needs CLIENTELE_JWT_SECRET")]
    NoSigningKey,
    /// Encoding failed.
    #[error("cannot sign token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

struct VerifyingKey {
    kid: Option<String>,
    key: DecodingKey,
    validation: Validation,
}

/// Every key the service verifies tokens with, its own signing key, and the
/// tokens it verified already.
pub struct JwtKeys {
    signing: Option<EncodingKey>,
    verifying: Vec<VerifyingKey>,
    issuer: String,
    audience: String,
    verified: RwLock<HashMap<Box<str>, Verified>>,
}

/// A token whose signature and claims passed, until it expires: an
/// integrator sends the same token with every request, and verifying it
/// again (base64, HMAC or RSA, the claims' JSON, the scopes) was 5% of the
/// server's CPU on a read (issue 13). Revocation is still checked on every
/// request, against the token's `jti`.
#[derive(Clone)]
struct Verified {
    /// The actor the token stands for (no request id yet).
    actor: super::Actor,
    exp: i64,
}

/// Tokens kept at most; past it, the expired ones go, then all of them.
const VERIFIED_MAX: usize = 4096;

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys").field("keys", &self.verifying.len()).finish_non_exhaustive()
    }
}

fn validation(alg: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = LEEWAY_SECS;
    v.validate_exp = true;
    v.validate_nbf = true;
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    v
}

impl JwtKeys {
    /// Loads the keys named by the configuration.
    pub fn from_config(cfg: &JwtConfig) -> Result<Self, KeyError> {
        let mut keys = JwtKeys {
            signing: None,
            verifying: Vec::new(),
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
            verified: RwLock::default(),
        };
        if let Some(secret) = &cfg.secret {
            keys.add_secret(secret.expose_secret().as_bytes())?;
        }
        if let Some(path) = &cfg.public_key_file {
            let text = std::fs::read(path).map_err(|e| KeyError::File(e.to_string()))?;
            keys.add_public(&text)?;
        }
        if keys.verifying.is_empty() {
            return Err(KeyError::Missing);
        }
        Ok(keys)
    }

    /// A fresh random HS256 key, for `serve --dev` and tests.
    pub fn ephemeral(issuer: &str, audience: &str) -> Self {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the OS random source is available");
        Self::from_secret(&hex::encode(secret), issuer, audience).expect("64 bytes is long enough")
    }

    /// Keys from an HS256 secret only.
    pub fn from_secret(secret: &str, issuer: &str, audience: &str) -> Result<Self, KeyError> {
        Self::from_config(&JwtConfig {
            secret: Some(SecretString::from(secret.to_owned())),
            public_key_file: None,
            issuer: issuer.into(),
            audience: audience.into(),
        })
    }

    fn add_secret(&mut self, secret: &[u8]) -> Result<(), KeyError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::ShortSecret);
        }
        self.signing = Some(EncodingKey::from_secret(secret));
        self.verifying.push(VerifyingKey {
            kid: None,
            key: DecodingKey::from_secret(secret),
            validation: validation(Algorithm::HS256, &self.issuer, &self.audience),
        });
        Ok(())
    }

    fn add_public(&mut self, bytes: &[u8]) -> Result<(), KeyError> {
        let file_err = |e: jsonwebtoken::errors::Error| KeyError::File(e.to_string());
        if bytes.trim_ascii_start().starts_with(b"{") {
            let set: JwkSet = serde_json::from_slice(bytes).map_err(|e| KeyError::File(e.to_string()))?;
            let before = self.verifying.len();
            for jwk in set.keys.iter().filter(|k| k.is_supported()) {
                let key = DecodingKey::from_jwk(jwk).map_err(file_err)?;
                let alg = match jwk.common.key_algorithm {
                    Some(a) => a.to_string().parse::<Algorithm>().map_err(file_err)?,
                    None => match &jwk.algorithm {
                        jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                        jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                        jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                        jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_) => {
                            return Err(KeyError::File("symmetric keys are not accepted in a JWKS".into()));
                        }
                    },
                };
                if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
                    return Err(KeyError::File("symmetric keys are not accepted in a JWKS".into()));
                }
                self.verifying.push(VerifyingKey {
                    kid: jwk.common.key_id.clone(),
                    key,
                    validation: validation(alg, &self.issuer, &self.audience),
                });
            }
            if self.verifying.len() == before {
                return Err(KeyError::File("the JWKS holds no supported key".into()));
            }
            return Ok(());
        }
        let (key, alg) = if let Ok(k) = DecodingKey::from_rsa_pem(bytes) {
            (k, Algorithm::RS256)
        } else if let Ok(k) = DecodingKey::from_ec_pem(bytes) {
            (k, Algorithm::ES256)
        } else {
            (DecodingKey::from_ed_pem(bytes).map_err(file_err)?, Algorithm::EdDSA)
        };
        self.verifying.push(VerifyingKey { kid: None, key, validation: validation(alg, &self.issuer, &self.audience) });
        Ok(())
    }

    /// Verifies a compact JWT: the header's algorithm picks the key (never the
    /// other way round, so an RSA public key is never used as an HMAC secret).
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        let invalid = |d: &str| AppError::Unauthorized { error: "invalid_token", description: d.to_owned() };
        let header = decode_header(token).map_err(|_| invalid("malformed token or unsupported algorithm"))?;
        let candidates = self.verifying.iter().filter(|k| k.validation.algorithms.contains(&header.alg));
        let key = match &header.kid {
            Some(kid) => candidates
                .filter(|k| k.kid.as_deref() == Some(kid.as_str()) || k.kid.is_none())
                .max_by_key(|k| k.kid.is_some()),
            None => candidates.min_by_key(|k| k.kid.is_some()),
        }
        .ok_or_else(|| invalid("no key accepts this token's algorithm or key id"))?;
        let data = decode::<Claims>(token, &key.key, &key.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            invalid(match e.kind() {
                ErrorKind::ExpiredSignature => "token expired",
                ErrorKind::ImmatureSignature => "token not yet valid",
                ErrorKind::InvalidIssuer => "wrong issuer",
                ErrorKind::InvalidAudience => "wrong audience",
                ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
                ErrorKind::InvalidSignature => "bad signature",
                _ => "invalid token",
            })
        })?;
        if data.claims.sub.trim().is_empty()
            || data.claims.sub.len() > 200
            || data.claims.sub.chars().any(char::is_control)
        {
            return Err(invalid("the subject must be 1 to 200 printable characters"));
        }
        Ok(data.claims)
    }

    /// [`verify`](Self::verify), once per token until it expires (the same
    /// leeway as the first verification): the actor it stands for.
    pub fn verify_cached(&self, token: &str) -> Result<super::Actor, AppError> {
        let now = chrono::Utc::now().timestamp();
        let live = |v: &Verified| now <= v.exp.saturating_add(LEEWAY_SECS as i64);
        if let Some(v) = self.verified.read().ok().and_then(|m| m.get(token).filter(|v| live(v)).cloned()) {
            return Ok(v.actor);
        }
        let claims = self.verify(token)?;
        let scopes: Vec<super::Scope> =
            claims.scope.as_deref().unwrap_or_default().split_whitespace().filter_map(|s| s.parse().ok()).collect();
        let actor = super::Actor::new(claims.sub, &scopes, claims.jti);
        if let Ok(mut m) = self.verified.write() {
            if m.len() >= VERIFIED_MAX {
                m.retain(|_, v| live(v));
                if m.len() >= VERIFIED_MAX {
                    m.clear();
                }
            }
            m.insert(token.into(), Verified { actor: actor.clone(), exp: claims.exp });
        }
        Ok(actor)
    }

    /// Signs an HS256 token for `sub` with the given scopes, valid `ttl` seconds.
    pub fn mint(&self, sub: &str, scope: &str, ttl_secs: i64, jti: Option<String>) -> Result<String, KeyError> {
        let key = self.signing.as_ref().ok_or(KeyError::NoSigningKey)?;
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: sub.into(),
            exp: now + ttl_secs,
            iat: now,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            scope: Some(scope.into()),
            jti: jti.or_else(|| Some(uuid::Uuid::now_v7().to_string())),
        };
        Ok(encode(&Header::new(Algorithm::HS256), &claims, key)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::from_secret("unit-test-secret-unit-test-secret-0123", "clientele", "clientele").unwrap()
    }

    #[test]
    fn a_verified_token_is_kept_until_it_expires_and_no_longer() {
        let k = keys();
        let now = chrono::Utc::now().timestamp();
        let token = k.mint("plugin", "contacts:read", 600, None).unwrap();
        let actor = k.verify_cached(&token).unwrap();
        assert!(actor.has(crate::auth::Scope::ContactsRead) && !actor.has(crate::auth::Scope::OrdersRead));
        assert!(k.verified.read().unwrap().contains_key(token.as_str()));

        // Kept past its expiry (and the leeway): verified again, and refused.
        let expired = k.mint("plugin", "admin", -(LEEWAY_SECS as i64) - 60, None).unwrap();
        let stale =
            Verified { actor: crate::auth::Actor::new("plugin", &[crate::auth::Scope::Admin], None), exp: now - 100 };
        k.verified.write().unwrap().insert(expired.as_str().into(), stale);
        assert!(k.verify_cached(&expired).is_err(), "an expired token must not be served from the cache");

        // A forged token is never kept.
        let at = token.len() - 10;
        let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
        let forged = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
        assert!(k.verify_cached(&forged).is_err());
        assert!(!k.verified.read().unwrap().contains_key(forged.as_str()));
    }

    #[test]
    fn the_kept_tokens_are_bounded() {
        let k = keys();
        for i in 0..VERIFIED_MAX + 10 {
            let t = k.mint(&format!("sub-{i}"), "contacts:read", 600, None).unwrap();
            k.verify_cached(&t).unwrap();
        }
        assert!(k.verified.read().unwrap().len() <= VERIFIED_MAX);
    }
}
