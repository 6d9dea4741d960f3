//! Relay connections (`edges { cursor node }`, `nodes`, `pageInfo`) over the
//! service layer's pages. Pagination is forward only (`first`, `after`), as in
//! REST, and the cursors are the REST ones: a cursor from `pageInfo.endCursor`
//! works as `?after=` and the other way round. `hasPreviousPage` is always
//! false (the Relay spec allows it when paginating forward).

use async_graphql::OutputType;
use async_graphql::connection::{Connection, Edge};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{AppError, FieldError};
use crate::pagination::{Cursor, DEFAULT_LIMIT, MAX_LIMIT, Page, SortKey};
use crate::services::clients::ClientOut;
use crate::services::contacts::{ContactOut, InteractionOut};
use crate::services::orders::OrderOut;
use crate::services::related::{ChildPage, Children};

/// A connection of `N` with opaque string cursors.
pub type Conn<N> = Connection<String, N>;

/// A connection that can count its rows (`totalCount`).
pub type CountedConn<N> = Connection<String, N, super::segments::Total>;

/// A row that can sit in a list: its sort key.
pub trait Keyed {
    /// `(timestamp, id)` of the row under `sort`.
    fn key(&self, sort: SortKey) -> (DateTime<Utc>, Uuid);
}

macro_rules! keyed {
    ($($t:ty),+) => {$(
        impl Keyed for $t {
            fn key(&self, sort: SortKey) -> (DateTime<Utc>, Uuid) {
                match sort {
                    SortKey::CreatedAt => (self.created_at, self.id),
                    SortKey::UpdatedAt => (self.updated_at, self.id),
                }
            }
        }
    )+};
}
keyed!(ClientOut, ContactOut, OrderOut);

impl Keyed for InteractionOut {
    fn key(&self, _: SortKey) -> (DateTime<Utc>, Uuid) {
        (self.created_at, self.id)
    }
}

/// The cursor of one row (the one REST's `next_cursor` would give after it).
pub fn cursor<T: Keyed>(row: &T, sort: SortKey) -> String {
    let (at, id) = row.key(sort);
    Cursor { sort, micros: at.timestamp_micros(), id }.encode()
}

/// A service page as a connection.
pub fn from_page<T: Keyed, N: OutputType>(page: Page<T>, sort: SortKey, wrap: impl Fn(T) -> N) -> Conn<N> {
    let mut c = Connection::new(false, page.next_cursor.is_some());
    c.edges.extend(page.data.into_iter().map(|row| Edge::new(cursor(&row, sort), wrap(row))));
    c
}

/// A service page as a connection with its `totalCount`.
pub fn from_page_counted<T: Keyed, N: OutputType>(
    page: Page<T>,
    sort: SortKey,
    total: super::segments::Total,
    wrap: impl Fn(T) -> N,
) -> CountedConn<N> {
    let mut c = Connection::with_additional_fields(false, page.next_cursor.is_some(), total);
    c.edges.extend(page.data.into_iter().map(|row| Edge::new(cursor(&row, sort), wrap(row))));
    c
}

/// One parent's children as a connection without a count.
pub fn from_children_counted<T: Keyed, N: OutputType>(children: Children<T>, wrap: impl Fn(T) -> N) -> CountedConn<N> {
    let mut c = Connection::with_additional_fields(false, children.has_next, super::segments::Total::default());
    c.edges.extend(children.rows.into_iter().map(|row| Edge::new(cursor(&row, SortKey::CreatedAt), wrap(row))));
    c
}

/// One parent's children as a connection.
pub fn from_children<T: Keyed, N: OutputType>(children: Children<T>, wrap: impl Fn(T) -> N) -> Conn<N> {
    let mut c = Connection::new(false, children.has_next);
    c.edges.extend(children.rows.into_iter().map(|row| Edge::new(cursor(&row, SortKey::CreatedAt), wrap(row))));
    c
}

/// The page size argument is `first` in GraphQL, `limit` in the services.
pub fn first_not_limit(e: AppError) -> AppError {
    match e {
        AppError::Validation(errors) => AppError::Validation(
            errors
                .into_iter()
                .map(|f| if f.field == "limit" { FieldError { field: "first".into(), ..f } } else { f })
                .collect(),
        ),
        other => other,
    }
}

/// Validates `first` and `after` of a nested connection.
pub fn child_page(first: Option<i32>, after: Option<&str>) -> Result<ChildPage, AppError> {
    ChildPage::parse(first.map(i64::from), after).map_err(first_not_limit)
}

/// Complexity of a connection field: `first` (clamped to 1..=200, default 50)
/// times the cost of its selection, so nested lists cost what they may fetch.
pub fn cost(first: Option<i32>, child_complexity: usize) -> usize {
    let n = first.map_or(DEFAULT_LIMIT, |n| i64::from(n).clamp(1, MAX_LIMIT));
    (n as usize).saturating_mul(child_complexity)
}
