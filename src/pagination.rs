//! Cursor pagination, a service concept that REST and GraphQL both expose: `?limit=` and `?after=<opaque cursor>`, stable order
//! `(created_at, id)` or `(updated_at, id)`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::AppError;

/// Default page size.
pub const DEFAULT_LIMIT: i64 = 50;
/// Largest page size.
pub const MAX_LIMIT: i64 = 200;

/// The order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Oldest first, by creation.
    #[default]
    CreatedAt,
    /// Least recently updated first: incremental sync.
    UpdatedAt,
}

impl SortKey {
    fn tag(self) -> char {
        match self {
            SortKey::CreatedAt => 'c',
            SortKey::UpdatedAt => 'u',
        }
    }
}

/// A decoded position in a list: the last row of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Sort key the cursor was made for.
    pub sort: SortKey,
    /// Timestamp of the last row, microseconds since the epoch.
    pub micros: i64,
    /// Id of the last row.
    pub id: Uuid,
}

impl Cursor {
    /// Encodes the cursor opaquely.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}{}:{}", self.sort.tag(), self.micros, self.id.simple()))
    }

    /// Decodes a cursor, refusing one made for another order.
    pub fn decode(s: &str, sort: SortKey) -> Result<Self, AppError> {
        let bad = || AppError::field("after", "invalid_cursor", "the cursor is not one this list returned");
        let raw = URL_SAFE_NO_PAD.decode(s.as_bytes()).map_err(|_| bad())?;
        let raw = std::str::from_utf8(&raw).map_err(|_| bad())?;
        let mut chars = raw.chars();
        let tag = chars.next().ok_or_else(bad)?;
        if tag != sort.tag() {
            return Err(AppError::field("after", "invalid_cursor", "the cursor was made for another sort order"));
        }
        let (micros, id) = chars.as_str().split_once(':').ok_or_else(bad)?;
        Ok(Cursor { sort, micros: micros.parse().map_err(|_| bad())?, id: Uuid::try_parse(id).map_err(|_| bad())? })
    }

    /// The cursor's timestamp.
    pub fn at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.micros).unwrap_or_default()
    }
}

/// The paging part of a list request, validated.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// Rows per page.
    pub limit: i64,
    /// Where to start.
    pub after: Option<Cursor>,
    /// Order.
    pub sort: SortKey,
}

impl PageRequest {
    /// Validates `limit`, `after` and `sort` from a query string.
    pub fn parse(limit: Option<i64>, after: Option<&str>, sort: Option<SortKey>) -> Result<Self, AppError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(AppError::field("limit", "out_of_range", format!("limit must be between 1 and {MAX_LIMIT}")));
        }
        let sort = sort.unwrap_or_default();
        let after = after.map(|a| Cursor::decode(a, sort)).transpose()?;
        Ok(PageRequest { limit, after, sort })
    }

    /// Cuts `rows` (fetched with `limit + 1`) into a page.
    pub fn page<R, T>(
        &self,
        mut rows: Vec<R>,
        key: impl Fn(&R) -> (DateTime<Utc>, Uuid),
        out: impl FnMut(R) -> T,
    ) -> Page<T> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| {
                let (at, id) = key(r);
                Cursor { sort: self.sort, micros: at.timestamp_micros(), id }.encode()
            })
        } else {
            None
        };
        Page { data: rows.into_iter().map(out).collect(), next_cursor }
    }
}

/// A complete (unpaginated) list.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    /// Every item.
    pub data: Vec<T>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The rows of this page.
    pub data: Vec<T>,
    /// Pass as `?after=` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `(table.col, table.id) > (at, id)`, the keyset condition of a page after a
/// cursor. Its SQL is static for a given table and sort, so diesel prepares it
/// once per connection: the `dsl::sql` literal it replaces made every list
/// query a one-off statement, parsed and planned by Postgres on each request
/// (issue 13). A filtered list still opts out (see `segments::filter`).
#[derive(Debug, Clone, Copy)]
pub struct After {
    /// The table, as it appears in the query.
    pub table: &'static str,
    /// The sort column.
    pub col: &'static str,
    /// The cursor's position.
    pub at: DateTime<Utc>,
    /// The cursor's row.
    pub id: Uuid,
}

impl diesel::Expression for After {
    type SqlType = diesel::sql_types::Bool;
}
impl<QS> diesel::AppearsOnTable<QS> for After {}
impl<QS> diesel::SelectableExpression<QS> for After {}
impl diesel::expression::ValidGrouping<()> for After {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}
impl diesel::query_builder::QueryId for After {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for After {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        for s in ["(", self.table, ".", self.col, ", ", self.table, ".id) > ("] {
            out.push_sql(s);
        }
        out.push_bind_param::<diesel::sql_types::Timestamptz, _>(&self.at)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.id)?;
        out.push_sql(")");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor { sort: SortKey::UpdatedAt, micros: 1_700_000_000_123_456, id: Uuid::now_v7() };
        assert_eq!(Cursor::decode(&c.encode(), SortKey::UpdatedAt).unwrap(), c);
        assert!(Cursor::decode(&c.encode(), SortKey::CreatedAt).is_err());
        for bad in ["", "!!!", "Zm9v", &URL_SAFE_NO_PAD.encode("c12:nope")] {
            assert!(Cursor::decode(bad, SortKey::CreatedAt).is_err(), "{bad}");
        }
    }

    #[test]
    fn limit_is_bounded() {
        assert!(PageRequest::parse(Some(0), None, None).is_err());
        assert!(PageRequest::parse(Some(201), None, None).is_err());
        assert_eq!(PageRequest::parse(None, None, None).unwrap().limit, 50);
    }
}
