//! Verification keys, built once at startup, and token minting.

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

/// Every key the service verifies tokens with, and its own signing key.
pub struct JwtKeys {
    signing: Option<EncodingKey>,
    verifying: Vec<VerifyingKey>,
    issuer: String,
    audience: String,
}

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
