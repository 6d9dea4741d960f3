//! What the server enforces, written into the OpenAPI document from the
//! same constants and rules that enforce it, so the two cannot drift:
//!
//! - `limit` query parameters: `minimum`/`maximum`/`default` from
//!   [`crate::pagination`];
//! - `If-Match` and `Idempotency-Key` headers: the grammar their extractors
//!   parse ([`IF_MATCH_PATTERN`], [`IDEMPOTENCY_KEY_PATTERN`]);
//! - merge-patch bodies: a `…Patch` schema per create schema (every field
//!   optional, fields a create requires not nullable, no unknown field);
//! - `links` from each create to the reads, updates and deletions of what
//!   it made, and down the tree (client → contact under it → order), so a
//!   stateful client (Schemathesis) can chain them.
//!
//! Applied to the document as JSON after utoipa built it from the routing.

use serde_json::{Map, Value, json};

use crate::pagination::{DEFAULT_LIMIT, MAX_LIMIT};

/// `If-Match` (RFC 9110 §13.1.1): `*` or a list of entity tags, strong or
/// weak. The extractor parses exactly this; anything else is a 422.
pub const IF_MATCH_PATTERN: &str = r#"^(\*|(W/)?"[!#-~]*"([ \t]*,[ \t]*(W/)?"[!#-~]*")*)$"#;
/// `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub const IDEMPOTENCY_KEY_PATTERN: &str = r"^[!-~]{1,255}$";

/// Applies every rule to a document.
pub fn apply(doc: &mut Value) {
    parameters(doc);
    integer_bounds(doc);
    field_rules(doc);
    required_not_null(doc);
    patch_schemas(doc);
    links(doc);
}

/// An integer field holds what its Rust type holds: `int32`/`int64` bounds
/// where no tighter one is stated (past them the decoder says `invalid_type`).
fn integer_bounds(v: &mut Value) {
    match v {
        Value::Object(o) => {
            let integer = o
                .get("type")
                .is_some_and(|t| t == "integer" || t.as_array().is_some_and(|a| a.iter().any(|t| t == "integer")));
            let bounds = match o.get("format").and_then(Value::as_str) {
                Some("int32") => Some((json!(i32::MIN), json!(i32::MAX))),
                Some("int64") => Some((json!(i64::MIN), json!(i64::MAX))),
                _ => None,
            };
            if let (true, Some((lo, hi))) = (integer, bounds) {
                o.entry("minimum").or_insert(lo);
                o.entry("maximum").or_insert(hi);
            }
            o.values_mut().for_each(integer_bounds);
        }
        Value::Array(a) => a.iter_mut().for_each(integer_bounds),
        _ => {}
    }
}

/// Rules of single fields that their services check by hand, written from
/// the constants those checks use.
fn field_rules(doc: &mut Value) {
    use crate::services::{orders, webhooks};
    let tag = json!({"type": "string", "minLength": 1, "maxLength": 50, "pattern": "\\S"});
    let schemas = &mut doc["components"]["schemas"];
    for name in ["ClientInput", "ContactInput"] {
        if let Some(tags) = schemas[name]["properties"].get_mut("tags") {
            tags["items"] = tag.clone();
            tags["maxItems"] = json!(50);
            tags["description"] = json!("At most 50 tags, 1 to 50 characters each, not only blanks.");
        }
    }
    if let Some(o) = schemas["BatchInput"]["properties"].get_mut("orders") {
        o["minItems"] = json!(1);
        o["maxItems"] = json!(orders::MAX_BATCH);
    }
    if let Some(s) = schemas["OrderInput"]["properties"].get_mut("source") {
        s["pattern"] = json!(orders::SOURCE_PATTERN);
    }
    if let Some(e) = schemas["WebhookInput"]["properties"].get_mut("events") {
        e["items"]["pattern"] = json!(webhooks::EVENT_PATTERN);
    }
    if let Some(n) = schemas["ClientInput"]["properties"].get_mut("name") {
        n["pattern"] = json!("\\S");
    }
    // A rectification's changes are a merge patch of the contact.
    if let Some(c) = schemas["DsarInput"]["properties"].get_mut("changes") {
        let description = c["description"].clone();
        *c = json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/ContactPatch"}], "description": description});
    }
    if let Some(h) = schemas["CheckpointInput"]["properties"].get_mut("hash") {
        h["pattern"] = json!("^[0-9a-fA-F]{64}$");
    }
    // Canonical standard base64 with padding (what the decoder accepts:
    // unused trailing bits zero).
    if let Some(s) = schemas["CheckpointInput"]["properties"].get_mut("signature") {
        s["pattern"] = json!("^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$");
    }
    if let Some(k) = schemas["PurposeInput"]["properties"].get_mut("key") {
        k["pattern"] = json!(crate::services::register::PURPOSE_KEY_PATTERN);
    }
    if let Some(m) = schemas["Proof"]["properties"].get_mut("method") {
        m["enum"] = json!(crate::services::consents::PROOF_METHODS);
        if let Some(t) = m.get("type").cloned()
            && t.is_array()
        {
            m["enum"].as_array_mut().expect("array").push(Value::Null);
        }
    }
    // The path of an upsert names the source; a list filter takes any text.
    for (path, _, op) in operations(doc) {
        if !path.starts_with("/v1/orders/external/") {
            continue;
        }
        for p in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
            if p["name"] == "source" && p["in"] == "path" {
                p["schema"]["pattern"] = json!(orders::SOURCE_PATTERN);
            }
        }
    }
    // Every request body refuses fields it does not have (API.md §3), free-form
    // objects (`custom_fields`, `changes`: no `properties`) aside. GraphQL
    // requests may carry `extensions` (GraphQL over HTTP).
    for name in request_schemas(doc) {
        let schema = &mut doc["components"]["schemas"][&name];
        if name != "GraphqlRequest" && schema.get("properties").is_some() {
            schema["additionalProperties"] = Value::Bool(false);
        }
    }
}

/// Names of the component schemas a request body reaches, through `$ref`s.
fn request_schemas(doc: &Value) -> Vec<String> {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(r) =
                    o.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"))
                {
                    out.push(r.to_owned());
                }
                o.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut todo = Vec::new();
    for item in doc["paths"].as_object().into_iter().flat_map(|p| p.values()) {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            if let Some(body) = op.get("requestBody") {
                refs(body, &mut todo);
            }
        }
    }
    let mut seen: Vec<String> = Vec::new();
    while let Some(name) = todo.pop() {
        if seen.contains(&name) {
            continue;
        }
        refs(&doc["components"]["schemas"][&name], &mut todo);
        seen.push(name);
    }
    seen
}

/// A field a request must carry (`#[validate(required)]`, documented as
/// `required`) is refused as null too: its schema in a request says so.
fn required_not_null(doc: &mut Value) {
    for name in request_schemas(doc) {
        let schema = &mut doc["components"]["schemas"][&name];
        let required: Vec<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            for field in &required {
                if let Some(prop) = props.get_mut(field) {
                    not_null(prop);
                }
            }
        }
    }
}

fn operations(doc: &mut Value) -> impl Iterator<Item = (&String, &String, &mut Value)> {
    doc["paths"].as_object_mut().into_iter().flat_map(|paths| {
        paths.iter_mut().flat_map(|(path, item)| {
            item.as_object_mut()
                .into_iter()
                .flat_map(move |ops| ops.iter_mut().map(move |(method, op)| (path, method, op)))
        })
    })
}

fn parameters(doc: &mut Value) {
    for (_, _, op) in operations(doc) {
        let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else { continue };
        for p in params {
            let (name, place) = (p["name"].as_str().unwrap_or_default().to_owned(), p["in"].clone());
            let schema = &mut p["schema"];
            match (name.as_str(), place.as_str().unwrap_or_default()) {
                ("limit", "query") => {
                    schema["minimum"] = json!(1);
                    schema["maximum"] = json!(MAX_LIMIT);
                    schema["default"] = json!(DEFAULT_LIMIT);
                }
                ("If-Match", "header") => {
                    *schema = json!({"type": "string", "pattern": IF_MATCH_PATTERN});
                    p["description"] = json!(
                        "ETag(s) the write applies to (RFC 9110 §13.1.1: `*` or a list of entity tags; \
                         weak tags never match). A malformed value is a 422; a well-formed one that \
                         does not match the current version is a 412, but only once the body is \
                         valid: a request that fails validation is a 422 whatever its If-Match."
                    );
                }
                ("Idempotency-Key", "header") => {
                    schema["pattern"] = json!(IDEMPOTENCY_KEY_PATTERN);
                    schema["minLength"] = json!(1);
                }
                _ => {}
            }
        }
    }
}

/// A merge patch of `create`: every field optional; a field the create
/// requires may not be cleared (not nullable); unknown fields refused.
fn patch_of(create: &Value) -> Value {
    let mut patch = create.clone();
    let required: Vec<String> = patch
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if let Some(o) = patch.as_object_mut() {
        o.remove("required");
        o.insert("additionalProperties".into(), Value::Bool(false));
        o.insert("minProperties".into(), json!(0));
        let what = o.get("description").and_then(Value::as_str).unwrap_or_default().to_owned();
        o.insert(
            "description".into(),
            json!(format!(
                "A JSON merge patch (RFC 7396) of: {what} Every field is optional; `null` clears a field \
                 (except those a creation requires); a key that is no field is refused, even set to null. \
                 The patched document must pass the same validation as a creation."
            )),
        );
    }
    if let Some(props) = patch.get_mut("properties").and_then(Value::as_object_mut) {
        for name in &required {
            if let Some(prop) = props.get_mut(name) {
                not_null(prop);
            }
        }
    }
    patch
}

fn not_null(prop: &mut Value) {
    if let Some(types) = prop.get_mut("type").and_then(Value::as_array_mut) {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            prop["type"] = types[0].clone();
        }
    }
    if let Some(one_of) = prop.get_mut("oneOf").and_then(Value::as_array_mut) {
        one_of.retain(|s| s.get("type").and_then(Value::as_str) != Some("null"));
        if one_of.len() == 1 {
            *prop = one_of[0].clone();
        }
    }
}

fn patch_schemas(doc: &mut Value) {
    let mut made: Map<String, Value> = Map::new();
    let schemas = doc["components"]["schemas"].clone();
    for (_, method, op) in operations(doc) {
        if method != "patch" {
            continue;
        }
        let Some(body) = op.pointer_mut("/requestBody/content/application~1merge-patch+json/schema") else {
            continue;
        };
        let Some(name) = body.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()) else {
            continue;
        };
        let patch_name = format!("{}Patch", name.trim_end_matches("Input"));
        if let Some(create) = schemas.get(name) {
            made.insert(patch_name.clone(), patch_of(create));
            *body = json!({"$ref": format!("#/components/schemas/{patch_name}")});
        }
    }
    if let Some(s) = doc["components"]["schemas"].as_object_mut() {
        s.extend(made);
    }
}

/// `(source operation, status, link name, target operation, parameters, body)`.
type LinkSpec = (&'static str, &'static str, &'static str, &'static str, Value, Option<Value>);

fn link_specs() -> Vec<LinkSpec> {
    let by_id = || json!({"id": "$response.body#/id"});
    let versioned = || json!({"id": "$response.body#/id", "header.If-Match": "$response.header.ETag"});
    let mut specs: Vec<LinkSpec> = Vec::new();
    for (create, status, get, update, delete) in [
        ("create_client", "201", "get_client", "update_client", "delete_client"),
        ("create_contact", "201", "get_contact", "update_contact", "delete_contact"),
        ("create_order", "201", "get_order", "update_order", "delete_order"),
        ("upsert_order", "201", "get_order", "update_order", "delete_order"),
        ("upsert_order", "200", "get_order", "update_order", "delete_order"),
    ] {
        specs.push((create, status, "Get", get, by_id(), None));
        specs.push((create, status, "Update", update, versioned(), None));
        specs.push((create, status, "Delete", delete, versioned(), None));
        // After an update: read it back, delete the new version.
        specs.push((update, "200", "Get", get, json!({"id": "$request.path.id"}), None));
        specs.push((update, "200", "Delete", delete, versioned(), None));
    }
    for (name, target, params, body) in [
        ("CreateContact", "create_contact", None, Some(json!({"client_id": "$response.body#/id"}))),
        ("CreateOrder", "create_order", None, Some(json!({"client_id": "$response.body#/id"}))),
        ("ListContacts", "list_client_contacts", Some(by_id()), None),
        ("ListOrders", "list_client_orders", Some(by_id()), None),
    ] {
        specs.push(("create_client", "201", name, target, params.unwrap_or_else(|| json!({})), body));
    }
    for (name, target, params, body) in [
        ("CreateOrder", "create_order", None, Some(json!({"contact_id": "$response.body#/id"}))),
        ("CreateInteraction", "create_interaction", Some(by_id()), None),
        ("ListInteractions", "list_interactions", Some(by_id()), None),
        ("RecordConsent", "record_consent", Some(by_id()), None),
        ("ListOrders", "list_contact_orders", Some(by_id()), None),
    ] {
        specs.push(("create_contact", "201", name, target, params.unwrap_or_else(|| json!({})), body));
    }
    specs
}

fn links(doc: &mut Value) {
    let specs = link_specs();
    for (_, _, op) in operations(doc) {
        let Some(id) = op.get("operationId").and_then(Value::as_str).map(str::to_owned) else { continue };
        for (source, status, name, target, params, body) in specs.iter().filter(|s| s.0 == id) {
            let Some(response) = op.pointer_mut(&format!("/responses/{status}")) else { continue };
            // `parameters` always present: utoipa reads a link back only with it.
            let mut link = json!({"operationId": target, "parameters": params});
            if let Some(b) = body {
                link["requestBody"] = b.clone();
            }
            link["description"] = json!(format!("{name} what `{source}` answered"));
            response["links"][*name] = link;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The fields the decoder refuses to go without (`#[validate(required)]`
    /// or a serde field without default).
    fn required_of<T: serde::de::DeserializeOwned + validator::Validate>() -> BTreeSet<String> {
        let (_, errors) = crate::services::decode::<T>(Map::new());
        errors.0.iter().filter(|e| e.code == "required").map(|e| e.field.clone()).collect()
    }

    /// The codes the decoder of `T` gives `field` when it alone is `value`.
    type Probe = fn(&str, Value) -> Vec<String>;
    fn probe<T: serde::de::DeserializeOwned + validator::Validate>(field: &str, value: Value) -> Vec<String> {
        let mut map = Map::new();
        map.insert(field.to_owned(), value);
        let (_, errors) = crate::services::decode::<T>(map);
        errors.0.into_iter().filter(|e| e.field == field).map(|e| e.code).collect()
    }

    /// Every string length and integer bound the document states is the one
    /// the decoder enforces, and where the document states none the decoder
    /// enforces none: lengths and ranges cannot drift.
    #[test]
    fn lengths_and_ranges_are_those_the_decoder_enforces() {
        use crate::services::*;
        let doc = crate::openapi();
        let schemas = &doc["components"]["schemas"];
        let decoders: Vec<(&str, Probe)> = vec![
            ("ClientInput", probe::<clients::ClientInput>),
            ("Address", probe::<clients::Address>),
            ("ContactInput", probe::<contacts::ContactInput>),
            ("InteractionInput", probe::<contacts::InteractionInput>),
            ("OrderInput", probe::<orders::OrderInput>),
            ("LineInput", probe::<orders::LineInput>),
            ("CustomerInput", probe::<orders::CustomerInput>),
            ("ConsentInput", probe::<consents::ConsentInput>),
            ("Proof", probe::<consents::Proof>),
            ("DsarInput", probe::<dsar::DsarInput>),
            ("ReasonInput", probe::<dsar::ReasonInput>),
            ("PurposeInput", probe::<register::PurposeInput>),
            ("ActivityInput", probe::<register::ActivityInput>),
            ("WebhookInput", probe::<webhooks::WebhookInput>),
            ("RevokeInput", probe::<tokens::RevokeInput>),
            ("CheckpointInput", probe::<crate::record::audit::CheckpointInput>),
        ];
        let mut probed = 0;
        for (name, probe) in decoders {
            for (field, prop) in schemas[name]["properties"].as_object().unwrap() {
                let types = prop["type"].to_string();
                let refused = |v: Value, code: &str| probe(field, v).iter().any(|c| c == code);
                if types.contains("\"string\"") && prop.get("format").is_none() && prop.get("enum").is_none() {
                    let max = prop["maxLength"].as_u64().map(|n| n as usize);
                    let min = prop["minLength"].as_u64().unwrap_or(0) as usize;
                    let at = |n: usize| Value::String("a".repeat(n));
                    match max {
                        Some(n) => {
                            assert!(!refused(at(n), "length"), "{name}.{field}: {n} chars refused");
                            assert!(refused(at(n + 1), "length"), "{name}.{field}: {} chars accepted", n + 1);
                        }
                        None => {
                            assert!(!refused(at(100_000), "length"), "{name}.{field} has an undocumented maxLength")
                        }
                    }
                    if min > 0 {
                        assert!(refused(at(min - 1), "length"), "{name}.{field}: {} chars accepted", min - 1);
                    }
                    assert!(!refused(at(min.max(1)), "length"), "{name}.{field}: undocumented minLength");
                    probed += 1;
                }
                if types.contains("\"integer\"") {
                    let (lo, hi) = if prop["format"] == "int32" {
                        (i64::from(i32::MIN), i64::from(i32::MAX))
                    } else {
                        (i64::MIN, i64::MAX)
                    };
                    match prop["minimum"].as_i64().filter(|m| *m != lo) {
                        Some(m) => {
                            assert!(!refused(json!(m), "range"), "{name}.{field}: {m} refused");
                            assert!(refused(json!(m - 1), "range"), "{name}.{field}: {} accepted", m - 1);
                        }
                        None => assert!(!refused(json!(lo), "range"), "{name}.{field} has an undocumented minimum"),
                    }
                    match prop["maximum"].as_i64().filter(|m| *m != hi) {
                        Some(m) => {
                            assert!(!refused(json!(m), "range"), "{name}.{field}: {m} refused");
                            assert!(refused(json!(m + 1), "range"), "{name}.{field}: {} accepted", m + 1);
                        }
                        None => assert!(!refused(json!(hi), "range"), "{name}.{field} has an undocumented maximum"),
                    }
                    probed += 1;
                }
            }
        }
        assert!(probed >= 40, "{probed} fields probed");
    }

    /// What the document calls required is what the decoder requires, and
    /// none of it is nullable in a request: the two cannot drift.
    #[test]
    fn required_fields_are_those_the_decoder_requires() {
        use crate::services::*;
        let doc = crate::openapi();
        let schemas = &doc["components"]["schemas"];
        let cases: Vec<(&str, BTreeSet<String>)> = vec![
            ("ClientInput", required_of::<clients::ClientInput>()),
            ("Address", required_of::<clients::Address>()),
            ("ContactInput", required_of::<contacts::ContactInput>()),
            ("InteractionInput", required_of::<contacts::InteractionInput>()),
            ("OrderInput", required_of::<orders::OrderInput>()),
            ("LineInput", required_of::<orders::LineInput>()),
            ("CustomerInput", required_of::<orders::CustomerInput>()),
            ("ConsentInput", required_of::<consents::ConsentInput>()),
            ("Proof", required_of::<consents::Proof>()),
            // `type` is checked by hand (validator would name it `kind`).
            ("DsarInput", required_of::<dsar::DsarInput>().into_iter().chain(["type".to_owned()]).collect()),
            ("ReasonInput", required_of::<dsar::ReasonInput>()),
            ("PurposeInput", required_of::<register::PurposeInput>()),
            ("ActivityInput", required_of::<register::ActivityInput>()),
            ("PoliciesInput", required_of::<register::PoliciesInput>()),
            ("PolicyInput", required_of::<register::PolicyInput>()),
            ("WebhookInput", required_of::<webhooks::WebhookInput>()),
            ("RevokeInput", required_of::<tokens::RevokeInput>()),
            ("CheckpointInput", required_of::<crate::record::audit::CheckpointInput>()),
        ];
        for (name, decoder) in cases {
            let schema = &schemas[name];
            let documented: BTreeSet<String> = schema["required"]
                .as_array()
                .map(|r| r.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            assert_eq!(documented, decoder, "{name}: documented required vs decoder");
            for field in &documented {
                let prop = &schema["properties"][field];
                assert!(!prop.to_string().contains("\"null\""), "{name}.{field} is required, so not nullable: {prop}");
            }
        }
    }

    /// Every link names an operation of the document, and every parameter
    /// it sets is one that operation has.
    #[test]
    fn links_point_at_operations_and_their_parameters() {
        let doc = crate::openapi();
        let mut ops: Map<String, Value> = Map::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                    ops.insert(id.to_owned(), op.clone());
                }
            }
        }
        let mut count = 0;
        for op in ops.values() {
            for response in op["responses"].as_object().unwrap().values() {
                for link in response.get("links").and_then(Value::as_object).into_iter().flat_map(|l| l.values()) {
                    let target = &ops[link["operationId"].as_str().unwrap()];
                    for name in link.get("parameters").and_then(Value::as_object).into_iter().flat_map(|p| p.keys()) {
                        let name = name.strip_prefix("header.").unwrap_or(name);
                        assert!(
                            target["parameters"].as_array().unwrap().iter().any(|p| p["name"] == name),
                            "{name} is no parameter of {}",
                            link["operationId"]
                        );
                    }
                    count += 1;
                }
            }
        }
        assert!(count >= 30, "{count} links");
    }

    #[test]
    fn limits_are_those_the_pagination_enforces() {
        let doc = crate::openapi();
        let mut seen = 0;
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                for p in op.get("parameters").and_then(Value::as_array).into_iter().flatten() {
                    if p["name"] == "limit" {
                        assert_eq!(p["schema"]["minimum"], 1);
                        assert_eq!(p["schema"]["maximum"], MAX_LIMIT);
                        seen += 1;
                    }
                }
            }
        }
        assert!(seen >= 10);
        assert!(crate::pagination::PageRequest::parse(Some(MAX_LIMIT), None, None).is_ok());
        assert!(crate::pagination::PageRequest::parse(Some(MAX_LIMIT + 1), None, None).is_err());
        assert!(crate::pagination::PageRequest::parse(Some(0), None, None).is_err());
    }

    #[test]
    fn patch_schemas_have_nothing_required_and_refuse_unknown_keys() {
        let doc = crate::openapi();
        let patch = &doc["components"]["schemas"]["ClientPatch"];
        assert!(patch.get("required").is_none());
        assert_eq!(patch["additionalProperties"], false);
        assert_eq!(patch["properties"]["name"]["type"], "string", "a client's name cannot be cleared");
        let body = &doc["paths"]["/v1/clients/{id}"]["patch"]["requestBody"]["content"]["application/merge-patch+json"];
        assert_eq!(body["schema"]["$ref"], "#/components/schemas/ClientPatch");
    }
}
