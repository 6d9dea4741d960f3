//! Consents, data-subject requests and the register over GraphQL: the rules
//! are the services' (proof of a grant, a submitter's view), GraphQL only
//! translates them.

use serde_json::{Value, json};

use super::{codes, exec, fields, ok};
use crate::helpers::TestApp;
use clientele::auth::{Actor, Scope};

/// Runs `query` as the token subject `sub` holding `scopes`.
async fn exec_as(app: &TestApp, sub: &str, scopes: &str, query: &str, variables: Value) -> Value {
    let scopes: Vec<Scope> = scopes.split_whitespace().map(|s| s.parse().unwrap()).collect();
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables))
        .data(Actor::new(sub, &scopes, None));
    serde_json::to_value(app.state.graphql.execute(request).await).unwrap()
}

const RECORD: &str = "mutation($id: UUID!, $input: ConsentInput!) {
    recordConsent(contactId: $id, input: $input) { purpose status channel recordedBy proof { method wording wordingVersion } } }";

/// A demonstrable grant of `purpose`.
pub fn grant(purpose: &str) -> Value {
    json!({"purpose": purpose, "status": "GRANTED", "channel": "WEB_FORM", "collectedAt": "2026-06-01T10:00:00Z",
           "proof": {"method": "checkbox", "wording": "Yes, send me the newsletter", "wordingVersion": "v3"}})
}

#[actix_web::test]
async fn a_grant_needs_proof_and_then_shows_on_the_contact() {
    let app = TestApp::new().await;
    let c = crate::contacts::create_contact(&app, json!({"email": "ana@example.com", "last_name": "A"})).await;
    let id = c["id"].as_str().unwrap();

    let r =
        exec(&app, "admin", RECORD, json!({"id": id, "input": {"purpose": "newsletter", "status": "GRANTED"}})).await;
    assert_eq!(codes(&r), ["VALIDATION"], "{r}");
    let got = fields(&r);
    for f in ["collectedAt", "channel", "proof"] {
        assert!(got.contains(&f.to_owned()), "{f} missing from {got:?}");
    }
    let mut pre_checked = grant("newsletter");
    pre_checked["proof"]["method"] = json!("pre_checked");
    let r = exec(&app, "admin", RECORD, json!({"id": id, "input": pre_checked})).await;
    assert_eq!(fields(&r), ["proof.method"], "{r}");

    let d = ok(&app, RECORD, json!({"id": id, "input": grant("newsletter")})).await;
    assert_eq!(d["recordConsent"]["status"], "GRANTED");
    assert_eq!(d["recordConsent"]["channel"], "WEB_FORM");
    assert_eq!(d["recordConsent"]["proof"]["wordingVersion"], "v3", "the casing of ProofInput");
    ok(&app, RECORD, json!({"id": id, "input": grant("sms_marketing")})).await;
    ok(&app, RECORD, json!({"id": id, "input": {"purpose": "sms_marketing", "status": "WITHDRAWN"}})).await;

    let q = "query($id: UUID!) { contact(id: $id) { consents { purpose status } } }";
    let d = ok(&app, q, json!({"id": id})).await;
    assert_eq!(
        d["contact"]["consents"],
        json!([{"purpose": "newsletter", "status": "GRANTED"}, {"purpose": "sms_marketing", "status": "WITHDRAWN"}])
    );
    // The same state as REST.
    let rest = app.get(&format!("/v1/contacts/{id}/consents"), &crate::helpers::admin()).await;
    assert_eq!(rest.body["data"].as_array().map(Vec::len), Some(2), "{}", rest.body);

    // Without consents:read only that field fails.
    let q = "query($id: UUID!) { contact(id: $id) { email consents { purpose } } }";
    let r = exec(&app, "contacts:read", q, json!({"id": id})).await;
    assert_eq!(r["data"]["contact"]["email"], "ana@example.com", "{r}");
    assert_eq!(r["data"]["contact"]["consents"], Value::Null);
    assert_eq!(codes(&r), ["FORBIDDEN"]);
    assert_eq!(r["errors"][0]["path"], json!(["contact", "consents"]));
    assert_eq!(r["errors"][0]["extensions"]["scope"], "consents:read");
    // Nor can it record one.
    let r = exec(&app, "consents:read", RECORD, json!({"id": id, "input": grant("newsletter")})).await;
    assert_eq!(codes(&r), ["FORBIDDEN"]);
}

const SUBMIT: &str = "mutation($input: DsarInput!) { submitDsar(input: $input) {
    id type status subject { email } requester callbackSecret externalId } }";

#[actix_web::test]
async fn a_submitter_sees_its_own_requests_status_only() {
    let app = TestApp::new().await;
    crate::contacts::create_contact(&app, json!({"email": "subject@example.com", "last_name": "S"})).await;
    let input = json!({"type": "ACCESS", "subject": {"email": "subject@example.com"}, "requestedBy": "Shop A",
        "callbackUrl": "https://shop-a.example/dsar", "externalId": "A-1"});
    let r = exec_as(&app, "shop-a", "dsar:submit", SUBMIT, json!({"input": input})).await;
    assert!(r.get("errors").is_none(), "{r}");
    let sent = &r["data"]["submitDsar"];
    assert_eq!(sent["status"], "IDENTITY_UNVERIFIED");
    assert_eq!(sent["subject"]["email"], "subject@example.com", "the answer echoes what was sent");
    assert_eq!(sent["requester"], "shop-a");
    assert_eq!(sent["externalId"], "A-1");
    assert!(sent["callbackSecret"].as_str().is_some_and(|s| !s.is_empty()), "shown once: {sent}");
    let id = sent["id"].as_str().unwrap();

    let q = "query($id: UUID!) { dsarRequest(id: $id) { status subject { email } requestedBy result callbackSecret } }";
    let r = exec_as(&app, "shop-a", "dsar:submit", q, json!({"id": id})).await;
    assert_eq!(
        r["data"]["dsarRequest"],
        json!({"status": "IDENTITY_UNVERIFIED", "subject": null, "requestedBy": null, "result": null, "callbackSecret": null}),
        "{r}"
    );
    let r = exec_as(&app, "shop-b", "dsar:submit", q, json!({"id": id})).await;
    assert_eq!(codes(&r), ["NOT_FOUND"], "{r}");
    assert!(!r.to_string().contains("subject@example.com"));

    let list =
        "{ dsarRequests(status: IDENTITY_UNVERIFIED, type: ACCESS) { nodes { id status } pageInfo { hasNextPage } } }";
    let r = exec_as(&app, "shop-b", "dsar:submit", list, json!({})).await;
    assert_eq!(r["data"]["dsarRequests"]["nodes"], json!([]), "{r}");
    let r = exec_as(&app, "shop-a", "dsar:submit", list, json!({})).await;
    assert_eq!(r["data"]["dsarRequests"]["nodes"], json!([{"id": id, "status": "IDENTITY_UNVERIFIED"}]), "{r}");

    // A submitter cannot process; a bad submission lists its fields.
    let r = exec_as(
        &app,
        "shop-a",
        "dsar:submit",
        "mutation($id: UUID!) { processDsar(id: $id) { id } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(codes(&r), ["FORBIDDEN"]);
    let bad = json!({"type": "ERASURE", "subject": {}, "changes": {"last_name": "X"}, "callbackUrl": "nope"});
    let r = exec_as(&app, "shop-a", "dsar:submit", SUBMIT, json!({"input": bad})).await;
    assert_eq!(codes(&r), ["VALIDATION"], "{r}");
    let got = fields(&r);
    for f in ["subject", "changes", "callbackUrl"] {
        assert!(got.contains(&f.to_owned()), "{f} missing from {got:?}");
    }
}

#[actix_web::test]
async fn requests_are_processed_rejected_and_extended_by_mutation() {
    let app = TestApp::new().await;
    crate::contacts::create_contact(&app, json!({"email": "subject@example.com", "last_name": "S"})).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let input = json!({"type": "ACCESS", "subject": {"email": "subject@example.com"}});
        ids.push(ok(&app, SUBMIT, json!({"input": input})).await["submitDsar"]["id"].as_str().unwrap().to_owned());
    }

    let q = "mutation($id: UUID!) { processDsar(id: $id) { status closedAt result } }";
    let d = ok(&app, q, json!({"id": ids[0]})).await;
    assert_eq!(d["processDsar"]["status"], "COMPLETED");
    assert!(d["processDsar"]["closedAt"].is_string() && d["processDsar"]["result"].is_object(), "{d}");
    let r = exec(&app, "admin", q, json!({"id": ids[0]})).await;
    assert_eq!(codes(&r), ["CONFLICT"], "a closed request stays closed");

    let q = "mutation($id: UUID!, $r: String!) { rejectDsar(id: $id, reason: $r) { status rejectionReason complaintNotice } }";
    let r = exec(&app, "admin", q, json!({"id": ids[1], "r": ""})).await;
    assert_eq!(fields(&r), ["reason"], "{r}");
    let d = ok(&app, q, json!({"id": ids[1], "r": "manifestly unfounded"})).await;
    assert_eq!(d["rejectDsar"]["status"], "REJECTED");
    assert!(d["rejectDsar"]["complaintNotice"].as_str().is_some_and(|n| n.contains("supervisory authority")));

    let q = "mutation($id: UUID!) { extendDsar(id: $id, reason: \"complex\") { extended extensionReason dueAt receivedAt } }";
    let d = ok(&app, q, json!({"id": ids[2]})).await;
    assert_eq!(d["extendDsar"]["extended"], true);
    assert_eq!(d["extendDsar"]["extensionReason"], "complex");
    let r = exec(&app, "admin", q, json!({"id": ids[2]})).await;
    assert_eq!(codes(&r), ["CONFLICT"], "once only");

    let d =
        ok(&app, "{ dsarRequests(first: 2) { nodes { status } pageInfo { hasNextPage endCursor } } }", json!({})).await;
    assert_eq!(d["dsarRequests"]["nodes"], json!([{"status": "COMPLETED"}, {"status": "REJECTED"}]));
    let after = d["dsarRequests"]["pageInfo"]["endCursor"].clone();
    let q = "query($a: String) { dsarRequests(after: $a) { nodes { extended } pageInfo { hasNextPage } } }";
    let d = ok(&app, q, json!({"a": after})).await;
    assert_eq!(d["dsarRequests"], json!({"nodes": [{"extended": true}], "pageInfo": {"hasNextPage": false}}));
}

#[actix_web::test]
async fn purposes_and_register_are_readable_and_purposes_writable() {
    let app = TestApp::new().await;
    let r = exec(&app, "register:read", "{ purposes { key lawfulBasis retentionDays marketing } }", json!({})).await;
    assert!(r.get("errors").is_none(), "{r}");
    let keys: Vec<&str> =
        r["data"]["purposes"].as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
    for k in ["email_marketing", "newsletter", "partner_sharing", "phone_prospecting", "profiling", "sms_marketing"] {
        assert!(keys.contains(&k), "{k}: {r}");
    }
    let q = "{ register { activities { name lawfulBasis purposes recipients retention transfers securityMeasures }
        purposes { key } retentionPolicies { status days basis } } }";
    let r = exec(&app, "register:read", q, json!({})).await;
    let reg = &r["data"]["register"];
    assert_eq!(reg["activities"].as_array().map(Vec::len), Some(3), "{r}");
    assert!(reg["activities"][0]["name"].is_string() && reg["activities"][0]["retention"].is_string());
    assert_eq!(reg["purposes"].as_array().map(Vec::len), Some(keys.len()));
    assert!(!reg["retentionPolicies"].as_array().unwrap().is_empty());
    let r = exec(&app, "contacts:read", "{ purposes { key } }", json!({})).await;
    assert_eq!(codes(&r), ["FORBIDDEN"]);

    let create = "mutation($input: PurposeInput!) { createPurpose(input: $input) { key version } }";
    let input = json!({"key": "webinars", "description": "Webinar invitations", "lawfulBasis": "CONSENT", "retentionDays": 730});
    let r = exec(&app, "register:read", create, json!({"input": input})).await;
    assert_eq!(codes(&r), ["FORBIDDEN"]);
    let r = exec(&app, "register:write", create, json!({"input": input})).await;
    assert_eq!(r["data"]["createPurpose"], json!({"key": "webinars", "version": 1}), "{r}");
    let r = exec(&app, "register:write", create, json!({"input": input})).await;
    assert_eq!(codes(&r), ["CONFLICT"]);
    let bad = json!({"key": "Bad Key", "description": "", "lawfulBasis": "CONSENT", "retentionDays": 0});
    let r = exec(&app, "register:write", create, json!({"input": bad})).await;
    let got = fields(&r);
    for f in ["key", "description", "retentionDays"] {
        assert!(got.contains(&f.to_owned()), "{f} missing from {got:?}");
    }
    let update =
        "mutation($v: Int) { updatePurpose(key: \"webinars\", input: {retentionDays: 365}, expectedVersion: $v) {
        retentionDays version } }";
    let r = exec(&app, "register:write", update, json!({"v": 1})).await;
    assert_eq!(r["data"]["updatePurpose"], json!({"retentionDays": 365, "version": 2}), "{r}");
    let r = exec(&app, "register:write", update, json!({"v": 1})).await;
    assert_eq!(codes(&r), ["PRECONDITION_FAILED"]);
}
