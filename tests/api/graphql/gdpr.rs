//! Consents over GraphQL: the rules
//! are the services' (proof of a grant), GraphQL only
//! translates them.

use serde_json::{Value, json};

use super::{codes, exec, fields, ok};
use crate::helpers::TestApp;

const RECORD: &str = "mutation($id: UUID!, $input: ConsentInput!) {
    recordConsent(contactId: $id, input: $input) { purpose status channel recordedBy proof } }";

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
    assert_eq!(d["recordConsent"]["proof"]["wording_version"], "v3");
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
