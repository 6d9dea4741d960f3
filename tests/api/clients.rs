//! `/v1/clients`: fields, validation, merge patch, ETags, filters, pages.

use actix_web::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, admin};

pub async fn create_client(app: &TestApp, body: Value) -> Value {
    let r = app.post("/v1/clients", &admin(), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

#[actix_web::test]
async fn create_get_patch_delete_with_etags() {
    let app = TestApp::new().await;
    let t = admin();
    let r = app
        .post(
            "/v1/clients",
            &t,
            json!({
                "name": "Acme SAS", "siren": "732 829 320", "siret": "73282932000009", "vat_number": "FR44732829320",
                "naf_code": "6201Z", "sector": "software", "employee_count": 42, "annual_revenue_cents": 100_000_000,
                "currency": "EUR", "website": "https://acme.example", "tags": ["vip", "b2b"],
                "billing_address": {"line1": "1 rue de la Paix", "postal_code": "75002", "city": "Paris", "country": "fr"},
                "custom_fields": {"crm_id": 12, "nested": {"a": 1, "b": 2}}
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
    assert_eq!(r.header("location").unwrap(), format!("/v1/clients/{id}"));
    assert_eq!(r.header("etag").unwrap(), "\"1\"");
    assert_eq!(r.body["siren"], "732829320");
    assert_eq!(r.body["naf_code"], "62.01Z");
    assert_eq!(r.body["status"], "prospect");
    assert_eq!(r.body["billing_address"]["country"], "FR");
    assert_eq!(r.body["stats"]["orders_count"], 0);

    let r = app.get(&format!("/v1/clients/{id}"), &t).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("etag").unwrap(), "\"1\"");

    // Merge patch: null clears, nested objects merge, absent fields stay.
    let r = app
        .send(
            Method::PATCH,
            &format!("/v1/clients/{id}"),
            Some(&t),
            Some(&json!({"sector": null, "custom_fields": {"nested": {"a": null, "c": 3}}, "employee_count": 50})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["sector"], Value::Null);
    assert_eq!(r.body["employee_count"], 50);
    assert_eq!(r.body["custom_fields"], json!({"crm_id": 12, "nested": {"b": 2, "c": 3}}));
    assert_eq!(r.body["name"], "Acme SAS");
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.header("etag").unwrap(), "\"2\"");

    // A stale ETag: 412, nothing changed.
    let r = app
        .send(
            Method::PATCH,
            &format!("/v1/clients/{id}"),
            Some(&t),
            Some(&json!({"name": "Other"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(app.get(&format!("/v1/clients/{id}"), &t).await.body["name"], "Acme SAS");

    // A patch that changes nothing keeps the version.
    let r = app.patch(&format!("/v1/clients/{id}"), &t, json!({"name": "Acme SAS"})).await;
    assert_eq!(r.body["version"], 2);

    let r = app.send(Method::DELETE, &format!("/v1/clients/{id}"), Some(&t), None, &[("if-match", "\"9\"")]).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = app.delete(&format!("/v1/clients/{id}"), &t).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.get(&format!("/v1/clients/{id}"), &t).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("content-type").unwrap(), "application/problem+json");
}

#[actix_web::test]
async fn validation_lists_every_failing_field() {
    let app = TestApp::new().await;
    let r = app
        .post(
            "/v1/clients",
            &admin(),
            json!({
                "siren": "732829321", "siret": "12345", "naf_code": "62-01", "vat_number": "FR00732829320",
                "employee_count": -1, "currency": "EURO", "website": "ftp:/x", "id": "mass-assignment",
                "stats": {}, "billing_address": {"line1": "x", "city": "Paris", "country": "ZZ"},
                "tags": "not-an-array"
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.header("content-type").unwrap(), "application/problem+json");
    let fields = r.error_fields();
    for f in [
        "name",
        "siren",
        "siret",
        "naf_code",
        "vat_number",
        "employee_count",
        "currency",
        "website",
        "id",
        "stats",
        "billing_address.country",
        "tags",
    ] {
        assert!(fields.contains(&f.to_owned()), "{f} missing from {fields:?}");
    }
    assert_eq!(r.body["status"], 422);
    assert!(r.body["errors"].as_array().unwrap().iter().all(|e| e["code"].is_string() && e["message"].is_string()));
}

#[actix_web::test]
async fn siret_must_start_with_siren_and_fr_vat_must_match() {
    let app = TestApp::new().await;
    let r =
        app.post("/v1/clients", &admin(), json!({"name": "X", "siren": "732829320", "siret": "44306184100047"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), vec!["siret"]);
    let r = app
        .post("/v1/clients", &admin(), json!({"name": "X", "siren": "732829320", "vat_number": "FR83404833048"}))
        .await;
    assert_eq!(r.error_fields(), vec!["vat_number"]);
    // La Poste: SIRET valid by the sum-of-digits rule, not Luhn.
    let r = app
        .post("/v1/clients", &admin(), json!({"name": "La Poste", "siren": "356000000", "siret": "35600000000048"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[actix_web::test]
async fn duplicate_siren_is_409() {
    let app = TestApp::new().await;
    create_client(&app, json!({"name": "A", "siren": "732829320"})).await;
    let r = app.post("/v1/clients", &admin(), json!({"name": "B", "siren": "732829320"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_fields(), vec!["siren"]);
}

#[actix_web::test]
async fn filters_select_the_right_clients() {
    let app = TestApp::new().await;
    let t = admin();
    create_client(&app, json!({"name": "Alpha Conseil", "sector": "consulting", "employee_count": 5, "tags": ["vip"], "naf_code": "70.22Z"})).await;
    create_client(&app, json!({"name": "alphabet", "sector": "software", "employee_count": 500, "annual_revenue_cents": 900, "currency": "EUR"})).await;
    create_client(&app, json!({"name": "Beta", "sector": "software", "employee_count": 50, "status": "former_customer", "tags": ["vip", "x"]})).await;
    let names = |r: &crate::helpers::Res| -> Vec<String> {
        r.body["data"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names(&app.get("/v1/clients?q=alp", &t).await), ["Alpha Conseil", "alphabet"]);
    assert_eq!(names(&app.get("/v1/clients?q=%25", &t).await), Vec::<String>::new());
    assert_eq!(names(&app.get("/v1/clients?sector=software", &t).await), ["alphabet", "Beta"]);
    assert_eq!(names(&app.get("/v1/clients?tag=vip", &t).await), ["Alpha Conseil", "Beta"]);
    assert_eq!(names(&app.get("/v1/clients?status=former_customer", &t).await), ["Beta"]);
    assert_eq!(names(&app.get("/v1/clients?employee_count_gte=50&employee_count_lte=100", &t).await), ["Beta"]);
    assert_eq!(names(&app.get("/v1/clients?annual_revenue_gte=100", &t).await), ["alphabet"]);
    assert_eq!(names(&app.get("/v1/clients?naf_code=7022Z", &t).await), ["Alpha Conseil"]);
    assert_eq!(names(&app.get("/v1/clients?spent_last_12m_gte=1", &t).await), Vec::<String>::new());
    assert_eq!(names(&app.get("/v1/clients?updated_after=2000-01-01T00:00:00Z", &t).await).len(), 3);
    let r = app.get("/v1/clients?status=vip", &t).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), vec!["status"]);
    let r = app.get("/v1/clients?colour=red", &t).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), vec!["colour"]);
}

#[actix_web::test]
async fn cursor_pagination_walks_every_row_once_in_both_orders() {
    let app = TestApp::new().await;
    let t = admin();
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(create_client(&app, json!({"name": format!("C{i}")})).await["id"].as_str().unwrap().to_owned());
    }
    // Touch the first one: it moves to the end of the updated_at order.
    app.patch(&format!("/v1/clients/{}", ids[0]), &t, json!({"sector": "x"})).await;
    for (sort, expected_last) in [("created_at", ids[6].clone()), ("updated_at", ids[0].clone())] {
        let mut seen = Vec::new();
        let mut url = format!("/v1/clients?limit=3&sort={sort}");
        loop {
            let r = app.get(&url, &t).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            seen.extend(r.body["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()));
            match r.body["next_cursor"].as_str() {
                Some(c) => url = format!("/v1/clients?limit=3&sort={sort}&after={c}"),
                None => break,
            }
        }
        assert_eq!(seen.len(), 7, "{sort}");
        assert_eq!(seen.last().unwrap(), &expected_last, "{sort}");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 7);
    }
    for bad in ["/v1/clients?limit=0", "/v1/clients?limit=201", "/v1/clients?after=bogus", "/v1/clients?limit=x"] {
        let r = app.get(bad, &t).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let r = app.get("/v1/clients?limit=3", &t).await;
    let cursor = r.body["next_cursor"].as_str().unwrap();
    let r = app.get(&format!("/v1/clients?sort=updated_at&after={cursor}"), &t).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a cursor is bound to its order");
}
