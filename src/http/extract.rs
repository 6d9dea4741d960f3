//! Request extractors: JSON bodies with every failing field listed, and
//! `If-Match` preconditions.

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde_json::{Map, Value};

use crate::error::AppError;
use crate::services::Precondition;

/// Largest accepted body (API.md §3: 1 MiB).
pub const BODY_LIMIT: usize = 1 << 20;
/// Largest accepted batch body (10 MiB).
pub const BATCH_BODY_LIMIT: usize = 10 << 20;

/// A JSON object body of at most `LIMIT` bytes. Wrong media type → 415,
/// oversize → 413, bad JSON → 400, not an object → 422. Typed parsing (with
/// every failing field listed) happens in the service layer.
pub struct JsonBody<const LIMIT: usize = BODY_LIMIT>(pub Map<String, Value>);

fn is_json(req: &HttpRequest) -> bool {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads the whole body, refusing more than `limit` bytes.
pub async fn read_body(payload: &mut Payload, limit: usize) -> Result<web::Bytes, AppError> {
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest(format!("cannot read body: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Parses bytes as a JSON object.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, AppError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(AppError::field("body", "invalid_type", "the body must be a JSON object")),
        // Well-formed JSON, but a number no f64 holds (`1e400`): a failing
        // field, as any other value the server cannot take.
        Err(e) if e.to_string().starts_with("number out of range") => Err(AppError::field(
            "body",
            "number_out_of_range",
            format!("a number at line {} column {} is beyond ±1.7976931348623157e308", e.line(), e.column()),
        )),
        Err(e) => Err(AppError::BadRequest(format!("malformed JSON at line {} column {}", e.line(), e.column()))),
    }
}

/// What can be refused from the headers alone: a media type other than
/// JSON (415) or a declared length over `limit` (413).
pub fn check_json_headers(req: &HttpRequest, limit: usize) -> Result<(), AppError> {
    if !is_json(req) {
        return Err(AppError::UnsupportedMediaType);
    }
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(AppError::PayloadTooLarge(limit));
    }
    Ok(())
}

impl<const LIMIT: usize> FromRequest for JsonBody<LIMIT> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let checked = check_json_headers(req, LIMIT);
        let mut payload = payload.take();
        Box::pin(async move {
            checked?;
            let bytes = read_body(&mut payload, LIMIT).await?;
            parse_object(&bytes).map(JsonBody)
        })
    }
}

/// A JSON object body of a bulk write, read only once the request holds a
/// slot of the pool's bulk lane ([`crate::db::bulk_slot`]): requests queued
/// behind running batches hold no body in memory, only their socket.
pub struct BulkJsonBody<const LIMIT: usize> {
    /// The slot, to hold until the write is done.
    pub slot: crate::db::BulkSlot,
    /// The body.
    pub body: Map<String, Value>,
}

impl<const LIMIT: usize> FromRequest for BulkJsonBody<LIMIT> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let checked = check_json_headers(req, LIMIT);
        let state = req.app_data::<web::Data<crate::state::AppState>>().cloned();
        let mut payload = payload.take();
        Box::pin(async move {
            checked?;
            let state = state.ok_or_else(|| AppError::Internal("no application state".into()))?;
            let slot = crate::db::bulk_slot(&state.pool).await?;
            let bytes = read_body(&mut payload, LIMIT).await?;
            let body = parse_object(&bytes)?;
            drop(bytes);
            Ok(BulkJsonBody { slot, body })
        })
    }
}

/// The `If-Match` header of a request, as a service precondition.
pub struct IfMatch(pub Precondition);

impl FromRequest for IfMatch {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let mut lines = req.headers().get_all(header::IF_MATCH).peekable();
        if lines.peek().is_none() {
            return std::future::ready(Ok(IfMatch(Precondition::None)));
        }
        let mut tags = Vec::new();
        let mut any = false;
        for line in lines {
            match line.to_str().ok().and_then(parse_if_match) {
                Some(IfMatchValue::Any) => any = true,
                Some(IfMatchValue::Tags(t)) => tags.extend(t),
                None => {
                    let e = AppError::field(
                        "If-Match",
                        "invalid_format",
                        "`*` or a list of entity tags such as \"3\" (RFC 9110 §13.1.1)",
                    );
                    return std::future::ready(Err(e));
                }
            }
        }
        let pre = if any {
            Precondition::Exists
        } else {
            // Strong comparison (RFC 9110 §13.1.1): weak tags never match,
            // nor do tags that are not one of our versions.
            Precondition::Versions(
                tags.iter().filter_map(|t| t.strip_prefix('"')?.strip_suffix('"')?.parse().ok()).collect(),
            )
        };
        std::future::ready(Ok(IfMatch(pre)))
    }
}

/// A parsed `If-Match` field line.
enum IfMatchValue {
    Any,
    /// Entity tags as written, weak ones with their `W/`.
    Tags(Vec<String>),
}

/// Parses one `If-Match` line: `*` or `1#entity-tag` (RFC 9110 §8.8.3),
/// exactly the grammar of [`crate::rest::contract::IF_MATCH_PATTERN`].
fn parse_if_match(v: &str) -> Option<IfMatchValue> {
    if v == "*" {
        return Some(IfMatchValue::Any);
    }
    let mut tags = Vec::new();
    let mut rest = v;
    loop {
        let start = rest;
        rest = rest.strip_prefix("W/").unwrap_or(rest);
        rest = rest.strip_prefix('"')?;
        let end = rest.find('"')?;
        if !rest[..end].bytes().all(|b| b == b'!' || (b'#'..=b'~').contains(&b)) {
            return None;
        }
        rest = &rest[end + 1..];
        tags.push(start[..start.len() - rest.len()].to_owned());
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() && rest.is_empty() {
            return Some(IfMatchValue::Tags(tags));
        }
        rest = trimmed.strip_prefix(',')?.trim_start_matches([' ', '\t']);
    }
}

/// The strong `ETag` of a resource version.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// Query-string filters of a list; a bad or unknown parameter is a 422
/// naming it.
pub struct Filter<T>(pub T);

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for Filter<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let qs = req.query_string();
        if let Some((name, _)) =
            url::form_urlencoded::parse(qs.as_bytes()).find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            let e = AppError::field(name.replace('\0', ""), "invalid_characters", "must not contain NUL characters");
            return std::future::ready(Err(e));
        }
        let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(qs.as_bytes()));
        std::future::ready(serde_path_to_error::deserialize::<_, T>(de).map(Filter).map_err(|e| {
            let path = e.path().to_string();
            let msg = e.into_inner().to_string();
            if let Some(rest) = msg.strip_prefix("unknown field `") {
                let name = rest.split('`').next().unwrap_or_default();
                AppError::field(name, "unknown_parameter", "this query parameter does not exist")
            } else {
                AppError::field(path, "invalid_value", "this query parameter has an invalid value")
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_grammar() {
        for ok in ["*", "\"1\"", "W/\"1\"", "\"1\", \"2\"", "\"1\",W/\"x\"", "\"\"", "\"a,b\""] {
            assert!(parse_if_match(ok).is_some(), "{ok}");
        }
        for bad in ["", "g", "null", "1", "\"1", "\"1\" ,", "\"1\" \"2\"", "*, \"1\"", " \"1\"", "\"1\" ", "\"é\""] {
            assert!(parse_if_match(bad).is_none(), "{bad}");
        }
    }
}
