//! What the server enforces, written into the OpenAPI document from the
//! same constants and rules that enforce it, so the two cannot drift:
//!
//! - `limit` query parameters: `minimum`/`maximum`/`default` from
//!   [`crate::pagination`];
//! - `If-Match` and `Idempotency-Key` headers: the grammar their extractors
//!   parse ([`IF_MATCH_PATTERN`], [`IDEMPOTENCY_KEY_PATTERN`]);
//! - merge-patch bodies: a `…Patch` schema per create schema (every field
//!   optional, fields a create requires not nullable, no unknown field);
//! - generic schemas (`Page_ContactOut`, `SyncItem_OrderOut`) reference
//!   their item schema instead of holding a copy of it;
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
    shared_refs(doc);
    parameters(doc);
    integer_bounds(doc);
    field_rules(doc);
    required_not_null(doc);
    recorded_proof(doc);
    patch_schemas(doc);
    segment_filters(doc);
    duplicates_inputs(doc);
    links(doc);
}

/// The ISO 4217 codes [`Currency::parse`] takes, as a pattern (surrounding
/// blanks allowed, as the parser trims them).
///
/// [`Currency::parse`]: crate::domain::Currency::parse
pub fn currency_pattern() -> String {
    let mut codes = Vec::new();
    for a in b'A'..=b'Z' {
        for b in b'A'..=b'Z' {
            for c in b'A'..=b'Z' {
                let code = String::from_utf8(vec![a, b, c]).expect("ascii");
                if crate::domain::Currency::parse(&code).is_ok() {
                    codes.push(code);
                }
            }
        }
    }
    format!(r"^\s*({})\s*$", codes.join("|"))
}

/// The ISO 3166-1 alpha-2 codes the address parser takes, in either case.
pub fn country_pattern() -> String {
    let mut codes: Vec<String> = isocountry::CountryCode::iter()
        .map(|c| c.alpha2().chars().map(|ch| format!("[{ch}{}]", ch.to_ascii_lowercase())).collect())
        .collect();
    codes.sort();
    codes.dedup();
    format!(r"^\s*({})\s*$", codes.join("|"))
}

/// A duplicate check takes exactly one of `ids` and `data`: a `oneOf` of
/// the two, each required in its branch and neither null.
fn duplicates_inputs(doc: &mut Value) {
    for name in ["ContactDuplicatesInput", "ClientDuplicatesInput"] {
        let schema = &mut doc["components"]["schemas"][name];
        let Some(props) = schema.get("properties").cloned() else { continue };
        let branch = |key: &str| {
            let mut prop = props[key].clone();
            not_null(&mut prop);
            json!({"type": "object", "required": [key], "properties": {key: prop}, "additionalProperties": false})
        };
        let description = schema.get("description").cloned().unwrap_or(Value::Null);
        *schema = json!({"oneOf": [branch("ids"), branch("data")]});
        if !description.is_null() {
            schema["description"] = description;
        }
    }
}

/// The segment filter language, from the compiler's field table: a schema
/// per resource (and per saved use, which refuses the fields naming a
/// person), referenced by the search, count and segment bodies.
fn segment_filters(doc: &mut Value) {
    use crate::services::segments::filter::{Resource, schemas};
    let mut made = Vec::new();
    made.extend(schemas(Resource::Contacts, false, "ContactSegment"));
    made.extend(schemas(Resource::Clients, false, "ClientSegment"));
    made.extend(schemas(Resource::Contacts, true, "SavedContactSegment"));
    let filter_ref = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let s = &mut doc["components"]["schemas"];
    for (input, prefix) in
        [("SearchInput", "Contact"), ("SearchInput", "Client"), ("CountInput", "Contact"), ("CountInput", "Client")]
    {
        let mut schema = s[input].clone();
        schema["properties"]["filter"] = filter_ref(&format!("{prefix}SegmentFilter"));
        s[format!("{prefix}{input}")] = schema;
    }
    // A saved segment's filter follows its resource.
    let base = s["SegmentInput"].clone();
    let mut one_of = Vec::new();
    for (resource, filter) in [("contacts", "SavedContactSegmentFilter"), ("clients", "ClientSegmentFilter")] {
        let mut v = base.clone();
        v["properties"]["resource"] = json!({"type": "string", "enum": [resource]});
        v["properties"]["filter"] = filter_ref(filter);
        v.as_object_mut().map(|o| o.remove("description"));
        one_of.push(v);
    }
    let description = base.get("description").cloned().unwrap_or(json!("A saved segment as written."));
    s["SegmentInput"] = json!({"description": description, "oneOf": one_of});
    // An empty page is a page of contacts and of clients alike.
    if let Some(m) = s.get_mut("Members").and_then(Value::as_object_mut)
        && let Some(v) = m.remove("oneOf")
    {
        m.insert("anyOf".into(), v);
    }
    if let Some(p) = s.get_mut("SegmentPatch") {
        p["properties"]["filter"] = json!({"anyOf": [filter_ref("SavedContactSegmentFilter"), filter_ref("ClientSegmentFilter")],
            "description": "A filter of the segment's resource; it replaces the old one whole (it is not merged)."});
    }
    if let Some(o) = s.as_object_mut() {
        o.extend(made);
    }
    for (path, prefix) in [("/v1/contacts", "Contact"), ("/v1/clients", "Client")] {
        for (op, input) in [("search", "SearchInput"), ("count", "CountInput")] {
            if let Some(b) = doc["paths"][format!("{path}/{op}")]["post"]
                .pointer_mut("/requestBody/content/application~1json/schema")
            {
                *b = filter_ref(&format!("{prefix}{input}"));
            }
        }
    }
    for input in ["SearchInput", "CountInput"] {
        if let Some(o) = doc["components"]["schemas"].as_object_mut() {
            o.remove(input);
        }
    }
}

/// utoipa 5 composes a generic's type parameter inline: `Page<ContactOut>`
/// holds a copy of `ContactOut`, which generators turn into a second type
/// (`PageContactOutDataItem`). Every inline copy of a component schema (an
/// object with properties, equal to it) becomes a `$ref` to it.
fn shared_refs(doc: &mut Value) {
    let named: Vec<(String, Value)> = doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, s)| s.get("properties").is_some())
        .map(|(n, s)| (n.clone(), s.clone()))
        .collect();
    fn walk(v: &mut Value, named: &[(String, Value)], root: bool) {
        if !root
            && v.get("properties").is_some()
            && let Some((name, _)) = named.iter().find(|(_, s)| s == v)
        {
            *v = json!({"$ref": format!("#/components/schemas/{name}")});
            return;
        }
        match v {
            Value::Object(o) => o.values_mut().for_each(|v| walk(v, named, false)),
            Value::Array(a) => a.iter_mut().for_each(|v| walk(v, named, false)),
            _ => {}
        }
    }
    for schema in doc["components"]["schemas"].as_object_mut().into_iter().flat_map(|s| s.values_mut()) {
        walk(schema, &named, true);
    }
    walk(&mut doc["paths"], &named, true);
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
    // Each resource at most once (the decoder refuses a repeat).
    if let Some(r) = schemas["ExportInput"]["properties"].get_mut("resources") {
        r["uniqueItems"] = json!(true);
    }
    // A merged id listed twice is refused (`duplicate`).
    if let Some(m) = schemas["MergeInput"]["properties"].get_mut("merged_ids") {
        m["uniqueItems"] = json!(true);
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
    // Only assigned codes: a generator that follows the document makes
    // orders and addresses the server takes (a bare `[A-Z]{3}` almost never
    // named a currency, so no fuzzed order was ever created).
    let (currency, country) = (currency_pattern(), country_pattern());
    for (name, field, pattern) in [
        ("OrderInput", "currency", &currency),
        ("ClientInput", "currency", &currency),
        ("Address", "country", &country),
    ] {
        if let Some(f) = schemas[name]["properties"].get_mut(field) {
            f["pattern"] = json!(pattern);
        }
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
    // The ZIP export has an operation of its own; `?format=csv` stays for
    // existing clients, deprecated.
    for (path, _, op) in operations(doc) {
        if path != "/v1/dsar/{id}/export" {
            continue;
        }
        for p in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
            if p["name"] == "format" && p["in"] == "query" {
                p["deprecated"] = Value::Bool(true);
            }
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

/// A recorded consent event's proof is a `Proof` as the client sent it,
/// or the server's own for a one-click withdrawal (`one_click`, a method no
/// client may send): `RecordedProof`, the request schema with that method
/// added and no ban on further fields (an answer may grow).
fn recorded_proof(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    let mut recorded = schemas["Proof"].clone();
    if let Some(o) = recorded.as_object_mut() {
        o.remove("additionalProperties");
        o.insert(
            "description".into(),
            json!(format!(
                "A consent's proof as recorded: what the client sent, or `{}` for a withdrawal \
                 by a one-click unsubscribe link.",
                crate::services::unsubscribe::ONE_CLICK
            )),
        );
    }
    if let Some(methods) = recorded.pointer_mut("/properties/method/enum").and_then(Value::as_array_mut) {
        methods.push(json!(crate::services::unsubscribe::ONE_CLICK));
    }
    if let Some(p) = schemas["ConsentEvent"]["properties"].get_mut("proof") {
        let description = p
            .pointer("/oneOf/1/description")
            .or_else(|| p.get("description"))
            .cloned()
            .unwrap_or_else(|| json!("The proof as recorded."));
        *p = json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/RecordedProof"}],
            "description": description});
    }
    schemas["RecordedProof"] = recorded;
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
    if let Some(values) = prop.get_mut("enum").and_then(Value::as_array_mut) {
        values.retain(|v| !v.is_null());
    }
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
            ("MergeInput", required_of::<merge::MergeInput>()),
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

    /// A list's items are its item schema by reference, not a copy.
    #[test]
    fn generic_schemas_reference_their_items() {
        let doc = crate::openapi();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut seen = 0;
        for (name, schema) in schemas {
            let Some((generic, item)) = name.split_once('_') else { continue };
            let target = if generic == "SyncPage" { format!("SyncItem_{item}") } else { item.to_owned() };
            let refs = schema.to_string();
            assert!(refs.contains(&format!("\"#/components/schemas/{target}\"")), "{name} does not reference {target}");
            assert!(!refs.contains("\"properties\":{\"id\""), "{name} holds an inline copy: {refs}");
            seen += 1;
        }
        assert!(seen >= 14, "{seen} generic schemas");
        assert_eq!(
            schemas["Page_ContactOut"]["properties"]["data"]["items"],
            json!({"$ref": "#/components/schemas/ContactOut"})
        );
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
