//! Data quality (API.md §9): duplicates and merges.

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, admin, token};

async fn contact(app: &TestApp, body: Value) -> String {
    crate::contacts::create_contact(app, body).await["id"].as_str().unwrap().to_owned()
}

async fn client(app: &TestApp, body: Value) -> String {
    crate::clients::create_client(app, body).await["id"].as_str().unwrap().to_owned()
}

fn consent(purpose: &str, status: &str, at: &str) -> Value {
    let mut c = json!({"purpose": purpose, "status": status, "collected_at": at});
    if status == "granted" {
        c["channel"] = json!("web_form");
        c["proof"] = json!({"method": "checkbox", "wording": "Yes, send me the newsletter"});
    }
    c
}

fn candidate<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list.as_array().unwrap().iter().find(|c| c["id"] == id)
}

#[actix_web::test]
async fn contact_duplicates_by_email_case_phone_format_and_similar_name_at_one_client() {
    let app = TestApp::new().await;
    let t = admin();
    let acme = client(&app, json!({"name": "Acme"})).await;
    let other = client(&app, json!({"name": "Other"})).await;
    let jean = contact(
        &app,
        json!({"email": "jean.dupont@example.com", "first_name": "Jean", "last_name": "Dupont", "client_id": acme}),
    )
    .await;
    let tagged = contact(&app, json!({"email": "Jean.Dupont+shop@Example.com", "last_name": "JD"})).await;
    let phoned = contact(&app, json!({"phone": "+33 6 12 34 56 78", "last_name": "Martin"})).await;
    let accented = contact(
        &app,
        json!({"first_name": "Jéan", "last_name": "Dupond", "client_id": acme, "email": "jd2@example.com"}),
    )
    .await;
    let elsewhere = contact(
        &app,
        json!({"first_name": "Jean", "last_name": "Dupont", "client_id": other, "email": "jd3@example.com"}),
    )
    .await;
    let unrelated = contact(&app, json!({"first_name": "Zoé", "last_name": "Kowalski", "client_id": acme})).await;

    let r = app.get(&format!("/v1/contacts/{jean}/duplicates"), &t).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list = &r.body["data"];
    assert_eq!(candidate(list, &tagged).unwrap()["rules"], json!(["email"]), "{list}");
    assert_eq!(candidate(list, &accented).unwrap()["rules"], json!(["name"]), "{list}");
    assert!(candidate(list, &elsewhere).is_none(), "a same name at another client is no candidate: {list}");
    assert!(candidate(list, &unrelated).is_none() && candidate(list, &jean).is_none());
    let scores: Vec<f64> = list.as_array().unwrap().iter().map(|c| c["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "best first: {scores:?}");
    assert!(scores[0] > 0.9, "an email match is strong: {scores:?}");

    // A draft: the email in another case, the phone as people type it.
    let r = app
        .post(
            "/v1/contacts/duplicates",
            &t,
            json!({"data": [{"email": "JEAN.DUPONT@EXAMPLE.COM"}, {"phone": "06.12.34.56.78"}, {"last_name": "Nobody"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = &r.body["data"];
    assert!(candidate(&d[0]["candidates"], &jean).is_some() && candidate(&d[0]["candidates"], &tagged).is_some());
    assert_eq!(candidate(&d[1]["candidates"], &phoned).unwrap()["rules"], json!(["phone"]));
    assert_eq!(d[2]["candidates"], json!([]));
    // By ids, in order.
    let r = app.post("/v1/contacts/duplicates", &t, json!({"ids": [phoned, jean]})).await;
    assert_eq!(r.body["data"][0]["id"], phoned.as_str());
    assert!(candidate(&r.body["data"][1]["candidates"], &tagged).is_some());

    // Errors name the place.
    let r = app.post("/v1/contacts/duplicates", &t, json!({"data": [{"email": "not an email"}]})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), vec!["data[0].email"]);
    let r = app
        .post("/v1/contacts/duplicates", &t, json!({"data": [{"email": "a@example.com", "job_title": "CFO"}]}))
        .await;
    assert_eq!(r.error_fields(), vec!["data[0].job_title"], "a draft carries only what the rules read");
    let r = app.post("/v1/contacts/duplicates", &t, json!({"ids": [jean], "data": []})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let many: Vec<Value> = (0..101).map(|_| json!({})).collect();
    let r = app.post("/v1/contacts/duplicates", &t, json!({"data": many})).await;
    assert_eq!(r.error_fields(), vec!["data"]);
    let r = app.post("/v1/contacts/duplicates", &t, json!({"ids": [uuid::Uuid::now_v7()]})).await;
    assert_eq!(r.error_fields(), vec!["ids[0]"]);
    assert_eq!(
        app.get(&format!("/v1/contacts/{}/duplicates", uuid::Uuid::now_v7()), &t).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/v1/contacts/{jean}/duplicates"), &token("clients:read")).await.status,
        StatusCode::FORBIDDEN
    );
}

#[actix_web::test]
async fn client_duplicates_by_siren_vat_and_similar_name_in_a_postal_code() {
    let app = TestApp::new().await;
    let t = admin();
    let address = |pc: &str| json!({"line1": "1 rue de la Paix", "postal_code": pc, "city": "Paris", "country": "FR"});
    let acme =
        client(&app, json!({"name": "ACME S.A.S.", "siren": "732829320", "billing_address": address("75002")})).await;
    let twin = client(&app, json!({"name": "Acmé SAS", "billing_address": address("75002")})).await;
    let far = client(&app, json!({"name": "Acme SAS", "billing_address": address("69001")})).await;
    let r = app.get(&format!("/v1/clients/{acme}/duplicates"), &t).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(candidate(&r.body["data"], &twin).unwrap()["rules"], json!(["name"]), "{}", r.body);
    assert!(candidate(&r.body["data"], &far).is_none(), "{}", r.body);
    let r = app
        .post(
            "/v1/clients/duplicates",
            &t,
            json!({"data": [{"siren": "732 829 320"}, {"vat_number": "FR44732829320"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(candidate(&r.body["data"][0]["candidates"], &acme).unwrap()["rules"], json!(["siren"]));
    let r = app.post("/v1/clients/duplicates", &t, json!({"data": [{"siren": "123"}]})).await;
    assert_eq!(r.error_fields(), vec!["data[0].siren"]);
}

#[actix_web::test]
async fn a_contact_merge_moves_orders_and_consents_keeps_a_withdrawal_and_forwards_the_merged_id() {
    let app = TestApp::new().await;
    let t = admin();
    let acme = client(&app, json!({"name": "Acme"})).await;
    let survivor = contact(&app, json!({"email": "marie@example.com", "last_name": "Curie", "client_id": acme})).await;
    let merged = contact(
        &app,
        json!({"email": "marie.curie@example.com", "first_name": "Marie", "phone": "+33612345678", "tags": ["vip"]}),
    )
    .await;
    for (who, total) in [(&survivor, 1000), (&merged, 2500), (&merged, 500)] {
        let r = app
            .post(
                "/v1/orders",
                &t,
                json!({"contact_id": who, "status": "paid", "currency": "EUR", "total_cents": total}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    // The merged one withdrew the newsletter; the survivor granted it later.
    for (who, c) in [
        (&merged, consent("newsletter", "granted", "2026-01-01T00:00:00Z")),
        (&merged, consent("newsletter", "withdrawn", "2026-02-01T00:00:00Z")),
        (&survivor, consent("newsletter", "granted", "2026-03-01T00:00:00Z")),
    ] {
        let r = app.post(&format!("/v1/contacts/{who}/consents"), &t, c).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let r = app
        .post(&format!("/v1/contacts/{merged}/interactions"), &t, json!({"kind": "call", "direction": "inbound"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    // A dry run answers the result and writes nothing.
    let body = json!({"survivor_id": survivor, "merged_ids": [merged], "fields": {"job_title": "Physicist"}});
    let mut dry = body.clone();
    dry["dry_run"] = json!(true);
    let r = app.post("/v1/contacts/merge", &t, dry).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["dry_run"], true);
    assert_eq!(r.body["survivor"]["stats"]["orders_count"], 3);
    assert_eq!(app.get(&format!("/v1/contacts/{merged}"), &t).await.status, StatusCode::OK, "a dry run wrote nothing");

    app.settle().await;
    let (_, before_merge) = crate::record::sync(&app, "contacts", None).await;
    let r = app.post("/v1/contacts/merge", &t, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let s = &r.body["survivor"];
    assert_eq!(s["email"], "marie@example.com", "the survivor's own values stay");
    assert_eq!(s["first_name"], "Marie", "empty ones are filled from the merged contact");
    assert_eq!(s["phone"], "+33612345678");
    assert_eq!(s["job_title"], "Physicist", "`fields` override");
    assert_eq!(s["tags"], json!(["vip"]));
    assert_eq!(s["stats"]["orders_count"], 3, "stats recomputed: {s}");
    assert_eq!(s["stats"]["total_spent_cents"], 4000);
    assert_eq!(r.body["moved"]["orders"], 2);
    assert_eq!(r.body["moved"]["consent_events"], 2);
    assert_eq!(r.body["moved"]["interactions"], 1);
    assert_eq!(r.body["moved"]["withdrawals_kept"], json!(["newsletter"]));

    // The later grant does not undo the withdrawal.
    let reach = app
        .post(
            "/v1/reachability/check",
            &t,
            json!({"channel": "email", "purpose": "newsletter", "recipients": [{"contact_id": survivor}]}),
        )
        .await;
    assert_eq!(reach.body["blocked"][0]["reason"], "withdrawn", "{}", reach.body);
    let orders = app.get(&format!("/v1/contacts/{survivor}/orders"), &t).await.body;
    assert_eq!(orders["data"].as_array().unwrap().len(), 3);

    // The merged id answers 301 to the survivor; its tombstone says merged.
    let r = app.get(&format!("/v1/contacts/{merged}"), &t).await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(r.header("location").unwrap(), format!("/v1/contacts/{survivor}"));
    // The feed shows what is below the horizon of the order of record, which
    // other tests' transactions on the same server may hold back a moment.
    app.settle().await;
    let events = app.get("/v1/events?type=contact.merged", &t).await.body;
    let merged_event = events["data"].as_array().unwrap().iter().find(|e| e["resource_id"] == merged.as_str()).cloned();
    assert_eq!(merged_event.unwrap_or_default()["data"]["survivor_id"], survivor.as_str(), "{events}");
    let (changes, _) = crate::record::sync(&app, "contacts", Some(&before_merge)).await;
    let tomb: Vec<&Value> = changes.iter().filter(|c| c["id"] == merged.as_str()).collect();
    assert_eq!(tomb, [&json!({"id": merged, "deleted": true, "reason": "merged", "merged_into": survivor})]);
    assert!(changes.iter().any(|c| c["id"] == survivor.as_str() && c["job_title"] == "Physicist"));

    // Merging it again is a 422 naming it; an unknown survivor is a 404.
    let r = app.post("/v1/contacts/merge", &t, json!({"survivor_id": survivor, "merged_ids": [merged]})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["errors"][0]["code"], "already_merged");
    let r = app
        .post("/v1/contacts/merge", &t, json!({"survivor_id": uuid::Uuid::now_v7(), "merged_ids": [survivor]}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.post("/v1/contacts/merge", &t, json!({"survivor_id": survivor, "merged_ids": [survivor]})).await;
    assert_eq!(r.error_fields(), vec!["merged_ids[0]"]);
    let r = app.post("/v1/contacts/merge", &t, json!({"survivor_id": survivor, "merged_ids": []})).await;
    assert_eq!(r.error_fields(), vec!["merged_ids"]);

    // An erasure naming the merged id, or its old email, reaches the survivor.
    let d = app.post("/v1/dsar", &t, json!({"type": "erasure", "subject": {"email": "marie.curie@example.com"}})).await;
    assert_eq!(d.status, StatusCode::CREATED, "{}", d.body);
    let done = app.post(&format!("/v1/dsar/{}/process", d.body["id"].as_str().unwrap()), &t, json!({})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["result"]["deleted"]["contacts"], 1, "{}", done.body);
    assert_eq!(app.get(&format!("/v1/contacts/{survivor}"), &t).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("/v1/contacts/{merged}"), &t).await.status,
        StatusCode::NOT_FOUND,
        "the forward went too"
    );
}

#[actix_web::test]
async fn a_contact_with_an_open_request_is_not_merged() {
    let app = TestApp::new().await;
    let t = admin();
    let a = contact(&app, json!({"email": "a@example.com", "last_name": "A"})).await;
    let b = contact(&app, json!({"email": "b@example.com", "last_name": "B"})).await;
    let d = app.post("/v1/dsar", &t, json!({"type": "access", "subject": {"email": "b@example.com"}})).await;
    assert_eq!(d.status, StatusCode::CREATED, "{}", d.body);
    let r = app.post("/v1/contacts/merge", &t, json!({"survivor_id": a, "merged_ids": [b]})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["errors"][0]["code"], "open_request", "{}", r.body);
    assert_eq!(app.get(&format!("/v1/contacts/{b}"), &t).await.status, StatusCode::OK);
    // Restricted wins.
    let c = contact(&app, json!({"email": "c@example.com", "last_name": "C"})).await;
    let mut conn = app.db.conn();
    use diesel::RunQueryDsl;
    diesel::sql_query(format!("UPDATE contacts SET restricted = true WHERE id = '{c}'")).execute(&mut conn).unwrap();
    let r = app.post("/v1/contacts/merge", &t, json!({"survivor_id": a, "merged_ids": [c]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["survivor"]["restricted"], true, "{}", r.body);
}

#[actix_web::test]
async fn a_client_merge_moves_contacts_and_orders_and_recomputes_stats() {
    let app = TestApp::new().await;
    let t = admin();
    let survivor = client(&app, json!({"name": "Acme"})).await;
    let merged = client(&app, json!({"name": "ACME SAS", "siren": "732829320", "sector": "Retail"})).await;
    let person = contact(&app, json!({"email": "p@example.com", "last_name": "P", "client_id": merged})).await;
    for (who, total) in [(&survivor, 100), (&merged, 200)] {
        let r = app
            .post(
                "/v1/orders",
                &t,
                json!({"client_id": who, "status": "paid", "currency": "EUR", "total_cents": total}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let r = app.post("/v1/clients/merge", &t, json!({"survivor_id": survivor, "merged_ids": [merged]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["survivor"]["siren"], "732829320", "a SIREN the survivor lacked moves to it");
    assert_eq!(r.body["survivor"]["sector"], "Retail");
    assert_eq!(r.body["survivor"]["stats"]["orders_count"], 2);
    assert_eq!(r.body["survivor"]["stats"]["total_spent_cents"], 300);
    assert_eq!(r.body["moved"]["contacts"], 1);
    let p = app.get(&format!("/v1/contacts/{person}"), &t).await.body;
    assert_eq!(p["client_id"], survivor.as_str());
    let r = app.get(&format!("/v1/clients/{merged}"), &t).await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(r.header("location").unwrap(), format!("/v1/clients/{survivor}"));
    let drift = crate::orders::stats_drift(&app);
    assert!(drift.is_empty(), "stored stats drifted:\n{}", drift.join("\n"));
}

#[actix_web::test]
async fn graphql_merges_and_resolves_merged_ids_to_the_survivor() {
    let app = TestApp::new().await;
    let t = admin();
    let a = contact(&app, json!({"email": "g1@example.com", "last_name": "Gauss"})).await;
    let b = contact(&app, json!({"email": "g2@example.com", "first_name": "Carl", "last_name": "Gauss"})).await;
    let q = "mutation($s: UUID!, $m: [UUID!]!) { mergeContacts(survivorId: $s, mergedIds: $m, fields: {jobTitle: \"Mathematician\"}) { survivor { id firstName jobTitle } mergedIds dryRun moved { orders } } }";
    let r = app.post("/graphql", &t, json!({"query": q, "variables": {"s": a, "m": [b]}})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["errors"].is_null(), "{}", r.body);
    let m = &r.body["data"]["mergeContacts"];
    assert_eq!(m["survivor"]["firstName"], "Carl", "{m}");
    assert_eq!(m["survivor"]["jobTitle"], "Mathematician");
    assert_eq!(m["mergedIds"], json!([b]));
    let r = app.post("/graphql", &t, json!({"query": format!("{{ contact(id: \"{b}\") {{ id }} }}")})).await;
    assert_eq!(r.body["data"]["contact"]["id"], a.as_str(), "{}", r.body);
    let r = app.post("/graphql", &t, json!({"query": q, "variables": {"s": a, "m": [b]}})).await;
    assert_eq!(r.body["errors"][0]["extensions"]["code"], "VALIDATION", "{}", r.body);
}
