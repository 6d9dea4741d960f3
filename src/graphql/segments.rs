//! The segment filter language in GraphQL (API.md §12): `filter:` on
//! `contacts` and `clients`, the input mirroring the JSON, and `totalCount`
//! on their connections.

use async_graphql::{Context, Enum, InputObject, Json, Object, Result};
use serde_json::{Value, json};

use super::run;
use crate::services::segments::{self, Condition, Resource};

/// An op of a condition (`EQ` is the JSON's `eq`).
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(name = "SegmentOp")]
pub enum SegmentOp {
    Eq,
    Ne,
    In,
    Gte,
    Lte,
    Before,
    After,
    Contains,
    Prefix,
    Exists,
    Granted,
    Withdrawn,
    None,
}

/// A group (`all` or `any`, nestable 4 deep, 50 conditions in all) or a
/// condition (`field`, `op`, `value`), as in `POST /v1/contacts/search`.
#[derive(InputObject, Clone, Debug)]
#[graphql(name = "SegmentFilter")]
pub struct SegmentFilter {
    /// Every one holds.
    pub all: Option<Vec<SegmentFilter>>,
    /// One holds.
    pub any: Option<Vec<SegmentFilter>>,
    /// A field of the resource (`status`, `stats.spent_last_12m_cents`, `client.sector`…).
    pub field: Option<String>,
    pub op: Option<SegmentOp>,
    /// The value, of the field's type.
    pub value: Option<Json<Value>>,
}

impl SegmentFilter {
    /// The JSON the REST body would carry: the same parser checks both.
    pub fn to_json(&self) -> Value {
        let mut o = serde_json::Map::new();
        if let Some(a) = &self.all {
            o.insert("all".into(), Value::Array(a.iter().map(Self::to_json).collect()));
        }
        if let Some(a) = &self.any {
            o.insert("any".into(), Value::Array(a.iter().map(Self::to_json).collect()));
        }
        if let Some(f) = &self.field {
            o.insert("field".into(), json!(f));
        }
        if let Some(op) = self.op {
            o.insert("op".into(), json!(format!("{op:?}").to_lowercase()));
        }
        if let Some(v) = &self.value {
            o.insert("value".into(), v.0.clone());
        }
        Value::Object(o)
    }
}

/// The extra fields of a top-level `contacts` or `clients` connection.
#[derive(Clone, Default)]
pub struct Total(pub Option<(Resource, Condition)>);

#[Object]
impl Total {
    /// How many rows match the filters, all pages together (exact; one
    /// count statement, run only when asked). Null on nested connections.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<Option<i64>> {
        let Some((resource, cond)) = self.0.clone() else { return Ok(None) };
        Ok(Some(run(ctx, move |c, _| segments::count_of(c, resource, cond)).await?))
    }
}

/// The JSON of an optional `filter:` argument.
pub fn segment_json(filter: Option<SegmentFilter>) -> Option<Value> {
    filter.map(|f| f.to_json())
}
