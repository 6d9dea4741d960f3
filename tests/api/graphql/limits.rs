//! Depth, complexity, aliases, directives, introspection; errors that need
//! no data (unavailable database, unknown ids).

use serde_json::{Value, json};

use super::{codes, exec, exec_on};
use crate::helpers::{TestApp, TestDb, config, keys};
use clientele::config::GraphqlConfig;
use clientele::state::AppState;

#[actix_web::test]
async fn depth_is_capped() {
    let app = TestApp::new().await;
    // Depth 10 (the default cap): accepted.
    let q = "{ clients(first: 1) { nodes { contacts(first: 1) { nodes { client { contacts(first: 1) { nodes {
        orders(first: 1) { nodes { id } } } } } } } } } }";
    let r = exec(&app, "admin", q, json!({})).await;
    assert!(r.get("errors").is_none(), "{r}");
    // Depth 11: refused before anything runs.
    let q = "{ clients(first: 1) { nodes { contacts(first: 1) { nodes { client { contacts(first: 1) { nodes {
        orders(first: 1) { nodes { lines { name } } } } } } } } } } }";
    let r = exec(&app, "admin", q, json!({})).await;
    assert_eq!(codes(&r), ["QUERY_TOO_DEEP"], "{r}");
    assert_eq!(r["data"], Value::Null);
}

#[actix_web::test]
async fn complexity_counts_what_connections_may_fetch() {
    let app = TestApp::new().await;
    // 50 contacts × 10 orders of a few fields: well within the default 10,000.
    let q = "{ contacts(first: 50) { nodes { email orders(first: 10) { nodes { id totalCents status } } } } }";
    let r = exec(&app, "admin", q, json!({})).await;
    assert!(r.get("errors").is_none(), "{r}");
    // 200 × 200 × 200 rows: refused, although the document is tiny.
    let q =
        "{ clients(first: 200) { nodes { contacts(first: 200) { nodes { orders(first: 200) { nodes { id } } } } } } }";
    let r = exec(&app, "admin", q, json!({})).await;
    assert_eq!(codes(&r), ["QUERY_TOO_COMPLEX"], "{r}");
    // Aliases multiply a field without nesting: they count too, and are capped.
    let many: String = (0..31).map(|i| format!("a{i}: clients(first: 1) {{ nodes {{ id }} }} ")).collect();
    let r = exec(&app, "admin", &format!("{{ {many} }}"), json!({})).await;
    assert_eq!(codes(&r), ["QUERY_TOO_MANY_ALIASES"], "{r}");
    let many: String = (0..30).map(|i| format!("a{i}: clients(first: 200) {{ nodes {{ id name }} }} ")).collect();
    let r = exec(&app, "admin", &format!("{{ {many} }}"), json!({})).await;
    assert_eq!(codes(&r), ["QUERY_TOO_COMPLEX"], "30 × 200 × 3 > 10,000: {r}");
    // Directives per field are capped as well.
    let q = "{ clients @skip(if: false) @skip(if: false) @skip(if: false) @skip(if: false) @skip(if: false) @skip(if: false) { nodes { id } } }";
    let r = exec(&app, "admin", q, json!({})).await;
    assert_eq!(codes(&r), ["GRAPHQL_PARSE_FAILED"], "{r}");
}

#[actix_web::test]
async fn limits_and_introspection_follow_the_configuration() {
    let db = TestDb::new();
    let mut cfg = config(&db.url);
    cfg.graphql = GraphqlConfig { max_depth: 3, max_complexity: 20, introspection: false };
    let state = AppState::new(cfg, keys());
    let deep = "{ clients(first: 1) { nodes { contacts(first: 1) { nodes { id } } } } }";
    let r = exec_on(&state.graphql, "admin", deep, json!({})).await;
    assert_eq!(codes(&r), ["QUERY_TOO_DEEP"], "{r}");
    let r = exec_on(&state.graphql, "admin", "{ clients(first: 5) { nodes { id name } } }", json!({})).await;
    assert!(r.get("errors").is_none(), "5 × 3 points: {r}");
    let r = exec_on(&state.graphql, "admin", "{ clients(first: 20) { nodes { id name } } }", json!({})).await;
    assert_eq!(codes(&r), ["QUERY_TOO_COMPLEX"], "{r}");
    let r = exec_on(&state.graphql, "admin", "{ __schema { types { name } } }", json!({})).await;
    assert_eq!(r, json!({"data": {"__schema": null}}), "introspection is off: nothing is described");
    let on = GraphqlConfig::default();
    let schema = clientele::graphql::schema(state.pool.clone(), state.dsar.clone(), 365, &on);
    let r = exec_on(&schema, "admin", "{ __type(name: \"Client\") { name } }", json!({})).await;
    assert_eq!(r["data"]["__type"]["name"], "Client", "{r}");
}

/// The cost model the README documents, to the point.
#[actix_web::test]
async fn complexity_is_first_times_the_selection() {
    let db = TestDb::new();
    let pool = AppState::new(config(&db.url), keys()).pool;
    let q = "{ contacts(first: 50) { nodes { orders(first: 10) { nodes { id totalCents } } } } }";
    let without_first = "{ contacts(first: 50) { nodes { orders { nodes { id totalCents } } } } }";
    for (query, cost) in [(q, 1550), (without_first, 7550)] {
        for (limit, refused) in [(cost, false), (cost - 1, true)] {
            let cfg = GraphqlConfig { max_complexity: limit, ..GraphqlConfig::default() };
            let r = exec_on(
                &clientele::graphql::schema(pool.clone(), crate::helpers::dsar_setup(), 365, &cfg),
                "admin",
                query,
                json!({}),
            )
            .await;
            assert_eq!(codes(&r).contains(&"QUERY_TOO_COMPLEX".to_owned()), refused, "{query} at {limit}: {r}");
        }
    }
}

#[actix_web::test]
async fn database_down_is_unavailable_with_retry_after() {
    let mut cfg = config("postgres://postgres@127.0.0.1:9/nowhere");
    cfg.pool_timeout = std::time::Duration::from_millis(300);
    let state = AppState::new(cfg, keys());
    let r = exec_on(&state.graphql, "admin", "{ clients { nodes { id } } }", json!({})).await;
    assert_eq!(codes(&r), ["UNAVAILABLE"], "{r}");
    assert_eq!(r["errors"][0]["extensions"]["retryAfter"], 1);
    assert!(!r.to_string().contains("127.0.0.1"), "no internals: {r}");
}

#[actix_web::test]
async fn no_actor_no_data() {
    let app = TestApp::new().await;
    let r = serde_json::to_value(app.state.graphql.execute("{ clients { nodes { id } } }").await).unwrap();
    assert_eq!(codes(&r), ["UNAUTHENTICATED"], "{r}");
}

/// graphql-js `getIntrospectionQuery()` (v16, default options, with the nine
/// `ofType` levels of v17): what GraphiQL, Apollo and codegen tools send.
const GRAPHQL_JS_INTROSPECTION: &str = "query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}";

#[actix_web::test]
async fn the_standard_introspection_query_is_answered_within_its_own_bound() {
    let app = TestApp::new().await;
    let r = exec(&app, "admin", GRAPHQL_JS_INTROSPECTION, json!({})).await;
    assert!(r.get("errors").is_none(), "{r}");
    let types = r["data"]["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "Contact"), "{}", types.len());
    // Through HTTP too, as GraphiQL sends it.
    let res = app
        .post(
            "/graphql",
            &crate::helpers::admin(),
            json!({"query": GRAPHQL_JS_INTROSPECTION, "operationName": "IntrospectionQuery"}),
        )
        .await;
    assert!(res.body.get("errors").is_none() && res.body["data"]["__schema"].is_object(), "{}", res.body);
    // Still bounded: an introspection deeper than its own limit is refused,
    let mut deep = String::from("{ __schema { types { ");
    for _ in 0..clientele::graphql::INTROSPECTION_MAX_DEPTH {
        deep.push_str("ofType { ");
    }
    deep.push_str("name");
    deep.push_str(&" }".repeat(clientele::graphql::INTROSPECTION_MAX_DEPTH + 3));
    let r = exec(&app, "admin", &deep, json!({})).await;
    assert_eq!(codes(&r), ["QUERY_TOO_DEEP"], "{r}");
    // and data never rides along on the introspection bound.
    let mixed =
        "{ __typename clients(first: 1) { nodes { contacts(first: 1) { nodes { client { contacts(first: 1) { nodes {
        orders(first: 1) { nodes { lines { name } } } } } } } } } } }";
    assert_eq!(codes(&exec(&app, "admin", mixed, json!({})).await), ["QUERY_TOO_DEEP"]);
}
