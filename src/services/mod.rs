//! One function per operation, shared by REST and GraphQL: scope check,
//! validation, transaction. Inputs arrive as JSON objects (REST bodies,
//! GraphQL inputs serialised) and are decoded here, so both transports list
//! the same failing fields.

pub mod audit;
pub mod clients;
pub mod consents;
pub mod contacts;
pub mod delivery;
pub mod dsar;
pub mod duplicates;
pub mod erasure;
pub mod events;
pub mod export;
pub mod exports;
pub mod identity;
pub mod imports;
pub mod mailer;
pub mod merge;
pub mod notices;
pub mod orders;
pub mod reachability;
pub mod register;
pub mod related;
pub mod retention;
pub mod review;
pub mod segments;
pub mod sensitive;
pub mod stats;
pub mod suppression;
pub mod tokens;
pub mod unsubscribe;
pub mod webhooks;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::domain::DomainError;
use crate::error::{AppError, FieldError};

/// An `If-Match` requirement on a write.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Precondition {
    /// No `If-Match`: last write wins.
    #[default]
    None,
    /// `If-Match: *`.
    Exists,
    /// `If-Match` with these versions (ETags).
    Versions(Vec<i32>),
}

impl Precondition {
    /// Fails with 412 unless `version` satisfies the precondition.
    pub fn check(&self, version: i32) -> Result<(), AppError> {
        match self {
            Precondition::Versions(v) if !v.contains(&version) => Err(AppError::PreconditionFailed),
            _ => Ok(()),
        }
    }
}

/// Failing fields collected while turning an input into a write.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    /// Records a failing field unless that field already failed.
    pub fn push(&mut self, field: impl Into<String>, code: &str, message: impl Into<String>) {
        let field = field.into();
        if !self.0.iter().any(|e| e.field == field) {
            self.0.push(FieldError::new(field, code, message));
        }
    }

    /// Keeps the value of a domain parse, or records its error.
    pub fn take<T>(&mut self, field: &str, r: Result<T, DomainError>) -> Option<T> {
        r.map_err(|e| self.push(field, e.code, e.message)).ok()
    }

    /// Parses an optional string with a domain constructor.
    pub fn opt<T>(
        &mut self,
        field: &str,
        v: Option<&str>,
        parse: impl Fn(&str) -> Result<T, DomainError>,
    ) -> Option<T> {
        v.and_then(|s| self.take(field, parse(s)))
    }

    /// Prefixes every field (for items of a batch).
    pub fn prefixed(self, prefix: &str) -> Vec<FieldError> {
        self.0
            .into_iter()
            .map(|mut e| {
                e.field = if e.field.is_empty() { prefix.to_owned() } else { format!("{prefix}.{}", e.field) };
                e
            })
            .collect()
    }

    /// `Ok` when nothing failed, else a 422 listing every field.
    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() { Ok(()) } else { Err(AppError::Validation(self.0)) }
    }
}

/// The message of a serde error, without the offending value (which may be
/// personal data).
fn serde_message(msg: &str) -> String {
    match msg.find("expected") {
        Some(i) => format!("invalid value: {}", msg[i..].split(" at line").next().unwrap_or_default()),
        None => "invalid value".into(),
    }
}

/// Decodes a JSON object into `T`, listing every failing field: unknown
/// fields (mass assignment is impossible), wrong types, then `validator`
/// rules. `T`'s fields are all optional; required ones use
/// `#[validate(required)]`, so a removed bad field never hides the others.
pub fn decode<T: DeserializeOwned + Validate>(mut map: Map<String, Value>) -> (Option<T>, Errors) {
    let mut errors = Errors::default();
    // Postgres text cannot hold NUL: refuse it here rather than fail there.
    let with_nul: Vec<String> = map.iter().filter(|(_, v)| has_nul(v)).map(|(k, _)| k.clone()).collect();
    for k in with_nul {
        map.remove(&k);
        errors.push(k, "invalid_characters", "text must not contain NUL characters");
    }
    // JSON has one number type: `28548.0` is the integer 28548 (JSON Schema
    // says so too), so integral floats are read as integers, except inside
    // free-form `custom_fields`, which keep the number as sent.
    for (k, v) in map.iter_mut() {
        if k != "custom_fields" {
            integral_floats(v);
        }
    }
    for _ in 0..64 {
        match serde_path_to_error::deserialize::<_, T>(Value::Object(map.clone())) {
            Ok(value) => {
                if let Err(v) = value.validate() {
                    flatten_validation("", &v, &mut errors);
                }
                return (Some(value), errors);
            }
            Err(e) => {
                let path = e.path().to_string();
                let path = if path == "." { String::new() } else { path };
                let msg = e.into_inner().to_string();
                let (field, code, message) = if let Some(rest) = msg.strip_prefix("unknown field `") {
                    let name = rest.split('`').next().unwrap_or_default();
                    let field = if path.is_empty() || path.ends_with(name) {
                        if path.is_empty() { name.to_owned() } else { path.clone() }
                    } else {
                        format!("{path}.{name}")
                    };
                    (field, "unknown_field", "this field does not exist or is read-only".to_owned())
                } else if let Some(rest) = msg.strip_prefix("missing field `") {
                    let name = rest.split('`').next().unwrap_or_default();
                    let field = if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
                    (field, "required", "this field is required".to_owned())
                } else {
                    (path.clone(), "invalid_type", serde_message(&msg))
                };
                let top = field.split(['.', '[']).next().unwrap_or_default().to_owned();
                errors.push(field, code, message);
                if map.remove(&top).is_none() {
                    return (None, errors);
                }
            }
        }
    }
    (None, errors)
}

/// Rewrites floats with no fractional part that fit an i64 as integers.
fn integral_floats(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f >= i64::MIN as f64
                && f < i64::MAX as f64
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(integral_floats),
        Value::Object(m) => m.values_mut().for_each(integral_floats),
        _ => {}
    }
}

/// True when a JSON value holds a NUL character in any string or key.
pub fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

fn flatten_validation(prefix: &str, errs: &ValidationErrors, out: &mut Errors) {
    let join = |name: &str| {
        if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") }
    };
    for (name, kind) in errs.errors() {
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    let message = e.message.as_ref().map(|m| m.to_string()).unwrap_or_else(|| match e.code.as_ref() {
                        "required" => "this field is required".into(),
                        "length" => length_message(e),
                        "range" => range_message(e),
                        "url" => "must be an absolute URL".into(),
                        "email" => "must be an email address".into(),
                        other => format!("failed the `{other}` rule"),
                    });
                    out.push(join(name), &e.code, message);
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten_validation(&join(name), inner, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    flatten_validation(&format!("{}[{i}]", join(name)), inner, out);
                }
            }
        }
    }
}

fn bound(e: &validator::ValidationError, key: &str) -> Option<String> {
    e.params.get(key).map(|v| v.to_string())
}

fn length_message(e: &validator::ValidationError) -> String {
    match (bound(e, "min"), bound(e, "max")) {
        (Some(min), Some(max)) => format!("length must be between {min} and {max}"),
        (Some(min), None) => format!("length must be at least {min}"),
        (None, Some(max)) => format!("length must be at most {max}"),
        _ => "invalid length".into(),
    }
}

fn range_message(e: &validator::ValidationError) -> String {
    match (bound(e, "min"), bound(e, "max")) {
        (Some(min), Some(max)) => format!("must be between {min} and {max}"),
        (Some(min), None) => format!("must be at least {min}"),
        (None, Some(max)) => format!("must be at most {max}"),
        _ => "out of range".into(),
    }
}

/// Applies an RFC 7396 JSON merge patch to `target`.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// The writable document `base` with an RFC 7396 merge `patch` applied: what
/// a PATCH validates whole, as a create would be.
///
/// A key of the patch that is not a field of `base` (which serialises every
/// writable field) is refused, even set to null: merging would drop it
/// silently, and an unknown field is a failing field (API.md §3).
pub fn patched(base: &impl serde::Serialize, patch: Map<String, Value>) -> Result<Map<String, Value>, AppError> {
    let mut doc = serde_json::to_value(base).unwrap_or_default();
    refuse_unknown_keys(&doc, &patch)?;
    merge_patch(&mut doc, &Value::Object(patch));
    Ok(match doc {
        Value::Object(map) => map,
        _ => Map::new(),
    })
}

/// 422 listing every key of `patch` that `doc` (a document holding every
/// writable field) does not have.
pub fn refuse_unknown_keys(doc: &Value, patch: &Map<String, Value>) -> Result<(), AppError> {
    let mut errors = Errors::default();
    for key in patch.keys() {
        if doc.get(key).is_none() {
            errors.push(key.clone(), "unknown_field", "this field does not exist or is read-only");
        }
    }
    errors.finish()
}

/// A serialisable value as a JSON document (field diffs, event payloads).
pub fn to_doc(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// Names of the top-level fields whose values differ between two documents.
pub fn changed_fields(before: &Value, after: &Value) -> Vec<String> {
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return Vec::new();
    };
    let mut keys: Vec<String> = b.keys().chain(a.keys()).filter(|k| b.get(*k) != a.get(*k)).cloned().collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Checks `tags`: at most 50, each 1 to 50 characters, no duplicates.
pub fn check_tags(errors: &mut Errors, tags: &[String]) {
    if tags.len() > 50 {
        errors.push("tags", "too_many", "at most 50 tags");
    } else if let Some(i) = tags.iter().position(|t| t.trim().is_empty() || t.chars().count() > 50) {
        errors.push(format!("tags[{i}]"), "invalid_length", "a tag has 1 to 50 characters");
    }
}

/// Checks `custom_fields`: at most 50 keys and 16 KiB serialised.
pub fn check_custom_fields(errors: &mut Errors, fields: &Map<String, Value>) {
    if fields.len() > 50 || serde_json::to_vec(fields).map_or(0, |v| v.len()) > 16 * 1024 {
        errors.push("custom_fields", "too_large", "at most 50 keys and 16 KiB");
    }
    sensitive::check_custom_fields(errors, "custom_fields", fields);
}

/// Applies a [`PageRequest`](crate::pagination::PageRequest) to a boxed
/// query on `$table`: keyset condition `(sort_col, id) > cursor` (a row
/// comparison, served by the `(sort_col, id)` indexes), order and `limit + 1`.
#[macro_export]
macro_rules! paginate {
    ($q:expr, $table:ident, $page:expr) => {{
        use $crate::pagination::SortKey;
        let page: &$crate::pagination::PageRequest = &$page;
        let mut q = $q;
        let col = match page.sort {
            SortKey::CreatedAt => "created_at",
            SortKey::UpdatedAt => "updated_at",
        };
        if let Some(c) = page.after {
            q = q.filter($crate::pagination::After { table: stringify!($table), col, at: c.at(), id: c.id });
        }
        let q = match page.sort {
            SortKey::CreatedAt => q.order(($table::created_at.asc(), $table::id.asc())),
            SortKey::UpdatedAt => q.order(($table::updated_at.asc(), $table::id.asc())),
        };
        q.limit(page.limit + 1)
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc7396_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (json!({"a":"b","b":"c"}), json!({"a":null}), json!({"b":"c"})),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (json!({"a":{"b":"c"}}), json!({"a":{"b":"d","c":null}}), json!({"a":{"b":"d"}})),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (json!({}), json!({"a":{"bb":{"ccc":null}}}), json!({"a":{"bb":{}}})),
        ];
        for (mut target, patch, expected) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, expected, "patch {patch}");
        }
    }

    #[derive(serde::Deserialize, Validate, Debug)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        #[validate(required, length(min = 1, max = 3))]
        name: Option<String>,
        #[validate(range(min = 0))]
        count: Option<i64>,
        #[allow(dead_code)]
        flag: Option<bool>,
    }

    #[test]
    fn decode_lists_every_failing_field_without_values() {
        let map = json!({"name": "toolong", "count": "x@example.com", "flag": 3, "extra": 1, "other": 2});
        let (value, errors) = decode::<Sample>(map.as_object().unwrap().clone());
        assert!(value.is_some());
        let fields: Vec<_> = errors.0.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        for expected in [
            ("extra", "unknown_field"),
            ("other", "unknown_field"),
            ("count", "invalid_type"),
            ("flag", "invalid_type"),
            ("name", "length"),
        ] {
            assert!(fields.contains(&expected), "{expected:?} missing from {fields:?}");
        }
        assert!(errors.0.iter().all(|e| !e.message.contains("example.com")));
    }

    #[test]
    fn integral_floats_are_integers() {
        let (value, errors) = decode::<Sample>(json!({"name": "ab", "count": 28548.0}).as_object().unwrap().clone());
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        assert_eq!(value.unwrap().count, Some(28548));
        let (_, errors) = decode::<Sample>(json!({"name": "ab", "count": 1.5}).as_object().unwrap().clone());
        assert_eq!(errors.0[0].code, "invalid_type");
    }

    #[test]
    fn decode_reports_required() {
        let (_, errors) = decode::<Sample>(Map::new());
        assert_eq!(errors.0[0].field, "name");
        assert_eq!(errors.0[0].code, "required");
    }

    #[test]
    fn preconditions() {
        assert!(Precondition::None.check(3).is_ok());
        assert!(Precondition::Exists.check(3).is_ok());
        assert!(Precondition::Versions(vec![2, 3]).check(3).is_ok());
        assert!(matches!(Precondition::Versions(vec![2]).check(3), Err(AppError::PreconditionFailed)));
    }
}
