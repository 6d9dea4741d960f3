//! What the order operations take and return.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::domain::OrderStatus;
use crate::models::order::{Order, OrderLine};

/// The buyer of an order, matched to a contact by email (created if absent).
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    #[validate(required)]
    #[schema(required = true)]
    pub email: Option<String>,
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: Option<String>,
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: Option<String>,
    /// E.164: `+`, then 8 to 15 digits, the first not 0 (spaces ignored).
    #[schema(pattern = r"^ *\+ *[1-9]( *[0-9]){7,14} *$")]
    pub phone: Option<String>,
}

/// One line of an order.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    #[validate(length(max = 100))]
    #[schema(max_length = 100)]
    pub sku: Option<String>,
    #[validate(required, length(min = 1, max = 500))]
    #[schema(required = true, min_length = 1, max_length = 500)]
    pub name: Option<String>,
    /// > 0.
    #[validate(required, range(min = 1))]
    #[schema(required = true, minimum = 1)]
    pub quantity: Option<i32>,
    /// ≥ 0, minor units, at most 10^13 (100 billion in major units).
    #[validate(required, range(min = 0, max = 10_000_000_000_000i64))]
    #[schema(required = true, minimum = 0, maximum = 10_000_000_000_000i64)]
    pub unit_price_cents: Option<i64>,
}

/// The writable fields of an order.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// The buying company.
    pub client_id: Option<Uuid>,
    /// The buying person.
    pub contact_id: Option<Uuid>,
    /// Instead of `contact_id`: the buyer, matched by email or created.
    #[validate(nested)]
    pub customer: Option<CustomerInput>,
    /// Origin system, lowercase (`shopify`, `woocommerce`...). Default `api`.
    #[schema(example = "shopify")]
    pub source: Option<String>,
    /// Id in the origin system; unique per source.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub external_id: Option<String>,
    /// Human-facing order number.
    #[validate(length(max = 100))]
    #[schema(max_length = 100)]
    pub number: Option<String>,
    #[validate(required)]
    #[schema(required = true)]
    pub status: Option<OrderStatus>,
    /// ISO 4217 (an assigned code: 422 `unknown_code` otherwise).
    #[validate(required)]
    #[schema(required = true, example = "EUR", pattern = r"^\s*[A-Z]{3}\s*$")]
    pub currency: Option<String>,
    /// Minor units, ≥ 0, at most 10^13 (100 billion in major units), so
    /// that the sums the stats keep (lifetime, 12 months) stay within 64
    /// bits for any realistic number of orders.
    #[validate(required, range(min = 0, max = 10_000_000_000_000i64))]
    #[schema(required = true, minimum = 0, maximum = 10_000_000_000_000i64)]
    pub total_cents: Option<i64>,
    /// Default: the time the order is created. An upsert or batch item
    /// without it keeps the stored date, so an identical retry is `unchanged`.
    pub ordered_at: Option<DateTime<Utc>>,
    #[validate(length(max = 500), nested)]
    #[schema(max_items = 500)]
    pub lines: Option<Vec<LineInput>>,
}

/// One line as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineOut {
    pub sku: Option<String>,
    pub name: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
}

/// An order as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderOut {
    pub id: Uuid,
    pub client_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub source: String,
    pub external_id: Option<String>,
    pub number: Option<String>,
    pub status: OrderStatus,
    pub currency: String,
    pub total_cents: i64,
    pub ordered_at: DateTime<Utc>,
    pub lines: Vec<LineOut>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl OrderOut {
    /// Builds the answer from a row and its lines.
    pub(crate) fn from_row(o: Order, lines: Vec<OrderLine>) -> Self {
        OrderOut {
            id: o.id,
            client_id: o.client_id,
            contact_id: o.contact_id,
            source: o.source,
            external_id: o.external_id,
            number: o.number,
            status: o.status.parse().unwrap_or(OrderStatus::Pending),
            currency: o.currency,
            total_cents: o.total_cents,
            ordered_at: o.ordered_at,
            lines: lines
                .into_iter()
                .map(|l| LineOut {
                    sku: l.sku,
                    name: l.name,
                    quantity: l.quantity,
                    unit_price_cents: l.unit_price_cents,
                })
                .collect(),
            created_at: o.created_at,
            updated_at: o.updated_at,
            version: o.version,
        }
    }

    pub(super) fn input(&self) -> OrderInput {
        OrderInput {
            client_id: self.client_id,
            contact_id: self.contact_id,
            customer: None,
            source: Some(self.source.clone()),
            external_id: self.external_id.clone(),
            number: self.number.clone(),
            status: Some(self.status),
            currency: Some(self.currency.clone()),
            total_cents: Some(self.total_cents),
            ordered_at: Some(self.ordered_at),
            lines: Some(
                self.lines
                    .iter()
                    .map(|l| LineInput {
                        sku: l.sku.clone(),
                        name: Some(l.name.clone()),
                        quantity: Some(l.quantity),
                        unit_price_cents: Some(l.unit_price_cents),
                    })
                    .collect(),
            ),
        }
    }
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}
