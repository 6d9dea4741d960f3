//! The scope matrix, read from the OpenAPI document: for every operation, no
//! token is 401, every scope but the needed ones is 403, and the needed scope
//! alone passes authorisation. An endpoint without a scope rule fails here;
//! the public ones (`security: []`) are listed in [`PUBLIC`] and must answer
//! without a token.

use std::collections::BTreeSet;

use actix_web::http::{Method, StatusCode};
use clientele::auth::Scope;
use serde_json::json;

use crate::helpers::{TestApp, token};

/// The operations anyone may call: the data subject's verification link.
const PUBLIC: &[(&str, &str)] = &[("GET", "/v1/dsar/verify/{token}"), ("POST", "/v1/dsar/verify/{token}")];

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{id}" | "{event_id}" => uuid::Uuid::now_v7().to_string(),
            "{key}" => "no_such_purpose".into(),
            "{n}" => "1".into(),
            "{source}" => "shop".into(),
            "{external_id}" => "ext-1".into(),
            "{token}" => "A".repeat(43),
            s if s.starts_with('{') => panic!("unknown path parameter {s}"),
            s => s.into(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[actix_web::test]
async fn every_operation_enforces_its_scopes() {
    let app = TestApp::new().await;
    let doc = clientele::openapi();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let url = concrete(path);
            if op["security"].as_array().is_some_and(|a| a.iter().all(|r| r.as_object().is_some_and(|o| o.is_empty())))
            {
                assert!(
                    PUBLIC.contains(&(method.as_str(), path.as_str())),
                    "{method} {path} is public but not in PUBLIC"
                );
                let r = app.send(method.clone(), &url, None, None, &[]).await;
                assert!(
                    !r.status.is_server_error() && r.status != StatusCode::UNAUTHORIZED,
                    "{method} {path}: {}",
                    r.status
                );
                checked += 1;
                continue;
            }
            let alternatives: Vec<Vec<String>> = op["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} has no security rule"))
                .iter()
                .map(|req| serde_json::from_value(req["bearer"].clone()).unwrap())
                .collect();
            assert!(
                !alternatives.is_empty() && alternatives.iter().all(|a| !a.is_empty()),
                "{method} {path}: empty scope rule"
            );
            let needed: BTreeSet<&str> = alternatives.iter().flatten().map(String::as_str).collect();
            let body = matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));

            let r = app.send(method.clone(), &url, None, body.as_ref(), &[]).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path} without a token");

            let others: Vec<&str> =
                Scope::ALL.iter().map(|s| s.as_str()).filter(|s| *s != "admin" && !needed.contains(s)).collect();
            let r = app.send(method.clone(), &url, Some(&token(&others.join(" "))), body.as_ref(), &[]).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path} with every scope but {needed:?}: {}", r.body);

            for alt in &alternatives {
                let r = app.send(method.clone(), &url, Some(&token(&alt.join(" "))), body.as_ref(), &[]).await;
                assert!(
                    r.status != StatusCode::UNAUTHORIZED && r.status != StatusCode::FORBIDDEN,
                    "{method} {path} with {alt:?} alone: {} {}",
                    r.status,
                    r.body
                );
                assert!(!r.status.is_server_error(), "{method} {path}: {}", r.body);
            }
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked} operations checked");
}
