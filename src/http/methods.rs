//! `405 Method Not Allowed` with `Allow` (RFC 9110 §15.5.6) for a path the
//! API has, asked with a method it does not take; `404` stays for paths it
//! does not have.
//!
//! The table is read from the OpenAPI document, which is itself built from
//! the routing (`utoipa_actix_web`), so the methods a 405 names are exactly
//! the ones routed and documented.

use actix_web::HttpRequest;
use serde_json::Value;

use crate::error::AppError;

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
}

/// Every path template of the API with the methods it takes.
#[derive(Debug, Clone, Default)]
pub struct Methods {
    paths: Vec<(Vec<Segment>, Vec<&'static str>)>,
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.strip_prefix('/').unwrap_or(path).split('/')
}

impl Methods {
    /// The table of a document: each path item's operations.
    pub fn from_doc(doc: &Value) -> Self {
        let mut paths = Vec::new();
        for (template, item) in doc["paths"].as_object().into_iter().flatten() {
            let methods: Vec<&'static str> = ["GET", "POST", "PUT", "PATCH", "DELETE"]
                .into_iter()
                .filter(|m| item.get(m.to_ascii_lowercase()).is_some())
                .collect();
            let segs = segments(template)
                .map(|s| {
                    if s.starts_with('{') && s.ends_with('}') { Segment::Param } else { Segment::Literal(s.to_owned()) }
                })
                .collect();
            paths.push((segs, methods));
        }
        Methods { paths }
    }

    /// The methods of the template matching `path`, if any. When several
    /// match, the most specific wins (literal segments before parameters,
    /// left to right), as OpenAPI matches concrete paths before templated ones.
    pub fn allowed(&self, path: &str) -> Option<&[&'static str]> {
        let parts: Vec<&str> = segments(path).collect();
        self.paths
            .iter()
            .filter(|(segs, _)| {
                segs.len() == parts.len()
                    && segs.iter().zip(&parts).all(|(s, p)| match s {
                        Segment::Literal(l) => l == p,
                        Segment::Param => !p.is_empty(),
                    })
            })
            .max_by_key(|(segs, _)| segs.iter().map(|s| matches!(s, Segment::Literal(_))).collect::<Vec<_>>())
            .map(|(_, m)| m.as_slice())
    }

    /// What a request that no route took, or whose path parameters did not
    /// parse, deserves: 405 with `Allow` when its path is one of the API's
    /// and the method is not one it takes there, else 404 (`what` not found).
    pub fn refusal(&self, req: &HttpRequest, what: &'static str) -> AppError {
        match self.allowed(req.path()) {
            Some(methods) if !methods.is_empty() && !methods.contains(&req.method().as_str()) => {
                AppError::MethodNotAllowed(methods.join(", "))
            }
            _ => AppError::NotFound(what),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_template_wins_and_unknown_paths_have_none() {
        let m = Methods::from_doc(&crate::openapi());
        assert_eq!(m.allowed("/v1/orders/batch"), Some(&["POST"][..]));
        assert_eq!(m.allowed("/v1/orders/0190"), Some(&["GET", "PATCH", "DELETE"][..]));
        assert_eq!(m.allowed("/v1/dsar/verify/abc"), Some(&["GET", "POST"][..]));
        assert_eq!(m.allowed("/graphql"), Some(&["GET", "POST"][..]));
        assert_eq!(m.allowed("/v1/clients/"), None);
        assert_eq!(m.allowed("/v1/nothing"), None);
        assert_eq!(m.allowed("/v1/clients/a/b/c"), None);
    }
}
