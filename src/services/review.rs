//! `GET /v1/review/sensitive`: free text flagged as special-category data
//! under `CLIENTELE_SENSITIVE_TEXT=flag`, for a person to review and edit.
//! A flag names the resource, the field and the category, never the text.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Actor, Scope};
use crate::db::schema::sensitive_flags;
use crate::error::AppError;
use crate::pagination::{Page, PageRequest};

/// A flagged field.
#[derive(Debug, Clone, Serialize, Queryable, ToSchema)]
pub struct FlagOut {
    pub id: Uuid,
    /// `client`, `contact`, `interaction` or `order`.
    pub resource_type: String,
    pub resource_id: Uuid,
    /// `custom_fields.<key>`, `summary` or `lines[<i>].name`.
    pub field: String,
    /// `health`, `religion`, `political_opinion`, `trade_union`, `sex_life`,
    /// `racial_ethnic_origin`, `offences` or `nir`.
    pub category: String,
    /// The lexicon that matched.
    pub lexicon_version: String,
    pub created_at: DateTime<Utc>,
}

/// Filters of the review list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FlagFilter {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub after: Option<String>,
    pub resource_id: Option<Uuid>,
}

/// `GET /v1/review/sensitive` (`audit:read`), oldest first.
pub fn list(conn: &mut PgConnection, actor: &Actor, f: FlagFilter) -> Result<Page<FlagOut>, AppError> {
    actor.require(Scope::AuditRead)?;
    let page = PageRequest::parse(f.limit, f.after.as_deref(), None)?;
    let mut q = sensitive_flags::table
        .select((
            sensitive_flags::id,
            sensitive_flags::resource_type,
            sensitive_flags::resource_id,
            sensitive_flags::field,
            sensitive_flags::category,
            sensitive_flags::lexicon_version,
            sensitive_flags::created_at,
        ))
        .into_boxed();
    if let Some(r) = f.resource_id {
        q = q.filter(sensitive_flags::resource_id.eq(r));
    }
    if let Some(c) = page.after {
        q = q.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("(sensitive_flags.created_at, sensitive_flags.id) > (")
                .bind::<diesel::sql_types::Timestamptz, _>(c.at())
                .sql(", ")
                .bind::<diesel::sql_types::Uuid, _>(c.id)
                .sql(")"),
        );
    }
    let rows: Vec<FlagOut> =
        q.order((sensitive_flags::created_at, sensitive_flags::id)).limit(page.limit + 1).load(conn)?;
    Ok(page.page(rows, |r: &FlagOut| (r.created_at, r.id), |r| r))
}
