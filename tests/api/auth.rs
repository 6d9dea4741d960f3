//! Bearer tokens (API.md §2).

use actix_web::http::{Method, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::helpers::{SECRET, TestApp, token};

fn sign(claims: &Value) -> String {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

fn claims() -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": "t", "iat": now, "exp": now + 600, "iss": "clientele", "aud": "clientele", "scope": "admin"})
}

fn b64(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

async fn status_with(app: &TestApp, token: &str) -> (StatusCode, Option<String>) {
    let r = app.get("/v1/clients", token).await;
    (r.status, r.header("www-authenticate"))
}

#[actix_web::test]
async fn valid_token_passes_and_missing_token_is_401_with_challenge() {
    let app = TestApp::new().await;
    assert_eq!(status_with(&app, &sign(&claims())).await.0, StatusCode::OK);
    let r = app.send(Method::GET, "/v1/clients", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer "));
    assert!(r.header("www-authenticate").unwrap().contains("error=\"invalid_request\""));
    assert_eq!(r.body["status"], 401);
    let r = app.send(Method::GET, "/v1/clients", None, None, &[("authorization", "Basic dXNlcjpwYXNz")]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn bad_tokens_are_refused_with_401() {
    let app = TestApp::new().await;
    let now = chrono::Utc::now().timestamp();
    let mut cases: Vec<(&str, String)> = vec![
        ("garbage", "not.a.jwt".into()),
        (
            "expired beyond leeway",
            sign(&json!({"sub":"t","iat":now-700,"exp":now-60,"iss":"clientele","aud":"clientele","scope":"admin"})),
        ),
        (
            "wrong issuer",
            sign(&json!({"sub":"t","iat":now,"exp":now+600,"iss":"evil","aud":"clientele","scope":"admin"})),
        ),
        (
            "wrong audience",
            sign(&json!({"sub":"t","iat":now,"exp":now+600,"iss":"clientele","aud":"other","scope":"admin"})),
        ),
        (
            "string exp",
            sign(
                &json!({"sub":"t","iat":now,"exp":(now+600).to_string(),"iss":"clientele","aud":"clientele","scope":"admin"}),
            ),
        ),
        (
            "wrong key",
            encode(
                &Header::new(Algorithm::HS256),
                &claims(),
                &EncodingKey::from_secret(b"another-secret-another-secret-another"),
            )
            .unwrap(),
        ),
        ("alg none", format!("{}.{}.", b64(&json!({"alg":"none","typ":"JWT"})), b64(&claims()))),
        (
            "HS512 not configured",
            encode(&Header::new(Algorithm::HS512), &claims(), &EncodingKey::from_secret(SECRET.as_bytes())).unwrap(),
        ),
    ];
    for missing in ["sub", "exp", "iat", "iss", "aud"] {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(missing);
        cases.push(("missing claim", sign(&c)));
    }
    let mut empty_sub = claims();
    empty_sub["sub"] = json!("");
    cases.push(("empty sub", sign(&empty_sub)));
    for (what, t) in cases {
        let (status, challenge) = status_with(&app, &t).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(challenge.unwrap().contains("error=\"invalid_token\""), "{what}");
    }
}

#[actix_web::test]
async fn leeway_accepts_a_token_expired_seconds_ago() {
    let app = TestApp::new().await;
    let now = chrono::Utc::now().timestamp();
    let t = sign(&json!({"sub":"t","iat":now-600,"exp":now-10,"iss":"clientele","aud":"clientele","scope":"admin"}));
    assert_eq!(status_with(&app, &t).await.0, StatusCode::OK);
}

#[actix_web::test]
async fn token_in_query_string_is_refused() {
    let app = TestApp::new().await;
    let t = token("admin");
    let r = app.send(Method::GET, &format!("/v1/clients?access_token={t}"), Some(&t), None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn missing_scope_is_403_with_insufficient_scope() {
    let app = TestApp::new().await;
    let r = app.get("/v1/clients", &token("contacts:read orders:read")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let challenge = r.header("www-authenticate").unwrap();
    assert!(challenge.contains("error=\"insufficient_scope\"") && challenge.contains("clients:read"), "{challenge}");
    let r = app.post("/v1/clients", &token("clients:read"), json!({"name": "X"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/v1/clients", &token("clients:read")).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn rsa_public_key_file_verifies_rs256_and_refuses_hs256_confusion() {
    use clientele::auth::JwtKeys;
    use clientele::config::JwtConfig;
    let dir = std::env::temp_dir().join(format!("clientele-key-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let public = dir.join("public.pem");
    std::fs::write(&public, RSA_PUBLIC).unwrap();
    let keys = JwtKeys::from_config(&JwtConfig {
        secret: None,
        public_key_file: Some(public.to_string_lossy().into()),
        issuer: "clientele".into(),
        audience: "clientele".into(),
    })
    .unwrap();
    let rs =
        encode(&Header::new(Algorithm::RS256), &claims(), &EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap())
            .unwrap();
    assert_eq!(keys.verify(&rs).unwrap().sub, "t");
    // HS256 signed with the public key's bytes: the classic confusion attack.
    let forged =
        encode(&Header::new(Algorithm::HS256), &claims(), &EncodingKey::from_secret(RSA_PUBLIC.as_bytes())).unwrap();
    assert!(keys.verify(&forged).is_err());
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_web::test]
async fn jwks_keys_are_chosen_by_kid_and_an_unknown_kid_is_refused() {
    use clientele::auth::JwtKeys;
    use clientele::config::JwtConfig;
    let keys = JwtKeys::from_config(&JwtConfig {
        secret: None,
        public_key_file: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/keys/jwks.json").into()),
        issuer: "clientele".into(),
        audience: "clientele".into(),
    })
    .unwrap();
    let signer = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("k1".into());
    assert_eq!(keys.verify(&encode(&header, &claims(), &signer).unwrap()).unwrap().sub, "t");
    header.kid = Some("k2".into());
    assert!(keys.verify(&encode(&header, &claims(), &signer).unwrap()).is_err(), "unknown kid");
    assert!(keys.mint("x", "admin", 60, None).is_err(), "no signing key without a secret");
}

const RSA_PRIVATE: &str = include_str!("keys/rsa_private.pem");
const RSA_PUBLIC: &str = include_str!("keys/rsa_public.pem");
