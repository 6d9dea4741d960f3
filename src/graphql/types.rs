//! Types shared by several domains: the GraphQL mirrors of the domain enums
//! (`PROSPECT` in GraphQL, `prospect` in JSON and in the service layer), the
//! postal address, the sales statistics and the deletion payload.

use async_graphql::{Enum, InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain;
use crate::services::clients::Address as AddressOut;
use crate::services::stats::Stats as StatsOut;

/// Where a client or contact stands commercially.
/// Who the person is to us, for the rules of direct marketing.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "crate::services::contacts::Audience")]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// A private person.
    Consumer,
    /// Reached for their job (B2B).
    Professional,
}

#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "domain::Status")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not (yet) a customer.
    Prospect,
    /// Has bought or has a running contract; set by the first order that is not cancelled.
    Customer,
    /// Used to be a customer.
    FormerCustomer,
}

/// The GDPR lawful basis (art. 6) for processing a contact's data.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "domain::LawfulBasis")]
#[serde(rename_all = "snake_case")]
pub enum LawfulBasis {
    /// The person consented (art. 6(1)(a)).
    Consent,
    /// Needed for a contract with the person (art. 6(1)(b)).
    Contract,
    /// The controller's legitimate interest (art. 6(1)(f)).
    LegitimateInterest,
    /// Required by law (art. 6(1)(c)).
    LegalObligation,
}

/// Where an order is in its life cycle.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "domain::OrderStatus")]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed, not paid yet.
    Pending,
    /// Paid, not shipped or delivered yet.
    Paid,
    /// Delivered.
    Fulfilled,
    /// Cancelled before fulfilment.
    Cancelled,
    /// Paid, then refunded.
    Refunded,
}

/// The kind of an interaction with a contact.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "domain::InteractionKind")]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    /// A phone call.
    Call,
    /// An email.
    Email,
    /// A meeting, in person or remote.
    Meeting,
    /// A free-form note.
    Note,
}

/// Who started an interaction.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "domain::Direction")]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The contact reached out to us: moves `lastInteractionAt`.
    Inbound,
    /// We reached out to the contact.
    Outbound,
}

/// The order of a list.
#[derive(Enum, Copy, Clone, Debug, Default, Eq, PartialEq, Serialize)]
#[graphql(remote = "crate::pagination::SortKey")]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Oldest first, by creation.
    #[default]
    CreatedAt,
    /// Least recently updated first: incremental sync (with `updatedAfter`).
    UpdatedAt,
}

/// What an upsert did.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq, Serialize)]
#[graphql(remote = "crate::services::orders::Outcome", name = "UpsertResult")]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new order was written.
    Created,
    /// The existing order was changed.
    Updated,
    /// The existing order already held these values.
    Unchanged,
}

/// A postal address.
#[derive(SimpleObject)]
pub struct Address {
    /// First line (street).
    pub line1: String,
    /// Second line.
    pub line2: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// City.
    pub city: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

impl From<AddressOut> for Address {
    fn from(a: AddressOut) -> Self {
        Address {
            line1: a.line1.unwrap_or_default(),
            line2: a.line2,
            postal_code: a.postal_code,
            city: a.city.unwrap_or_default(),
            country: a.country.unwrap_or_default(),
        }
    }
}

/// An amount in minor units (cents), a 64-bit integer. GraphQL's `Int` is 32
/// bits: €21,474,836.47 and more would not fit (graphql-js refuses to
/// serialise it). So amounts are answered as a string of digits,
/// `"5000000000"`, and accepted as such a string (optionally signed) or as an
/// `Int` within 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Cents(pub i64);

/// An amount in minor units (cents), 64 bits: answered as a string of
/// digits (`"5000000000"`), accepted as such a string or as a 32-bit `Int`.
#[Scalar(name = "Cents")]
impl ScalarType for Cents {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) if s.len() <= 20 => s
                .parse::<i64>()
                .map(Cents)
                .map_err(|_| InputValueError::custom("Cents is a string of digits, optionally signed: \"5000000000\"")),
            Value::Number(n) => n.as_i64().filter(|v| i32::try_from(*v).is_ok()).map(Cents).ok_or_else(|| {
                InputValueError::custom("an Int is 32 bits: send larger amounts as a string, \"5000000000\"")
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// Read-only sales figures. Counted orders are pending, paid or fulfilled;
/// amounts are in minor units whatever the currency.
#[derive(SimpleObject)]
pub struct Stats {
    /// Orders that count as a sale.
    pub orders_count: i64,
    /// Sum of their totals.
    pub total_spent_cents: Cents,
    /// Sum over the last 12 months.
    #[graphql(name = "spentLast12mCents")]
    pub spent_last_12m_cents: Cents,
    /// Date of the first counted order.
    pub first_order_at: Option<DateTime<Utc>>,
    /// Date of the last counted order.
    pub last_order_at: Option<DateTime<Utc>>,
    /// Total of the last counted order.
    pub last_order_total_cents: Option<Cents>,
}

impl From<StatsOut> for Stats {
    fn from(s: StatsOut) -> Self {
        Stats {
            orders_count: s.orders_count,
            total_spent_cents: Cents(s.total_spent_cents),
            spent_last_12m_cents: Cents(s.spent_last_12m_cents),
            first_order_at: s.first_order_at,
            last_order_at: s.last_order_at,
            last_order_total_cents: s.last_order_total_cents.map(Cents),
        }
    }
}

/// What a deletion answers.
#[derive(SimpleObject)]
pub struct Deleted {
    /// Id of the deleted resource.
    pub id: Uuid,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON form of each GraphQL enum is the one the services parse.
    #[test]
    fn enums_serialise_as_the_domain_does() {
        fn same<L: Serialize + Copy, R: Serialize + From<L>>(all: &[L]) {
            for v in all {
                assert_eq!(serde_json::to_value(v).unwrap(), serde_json::to_value(R::from(*v)).unwrap());
            }
        }
        use Status as S;
        same::<S, domain::Status>(&[S::Prospect, S::Customer, S::FormerCustomer]);
        use LawfulBasis as L;
        same::<L, domain::LawfulBasis>(&[L::Consent, L::Contract, L::LegitimateInterest, L::LegalObligation]);
        use OrderStatus as O;
        same::<O, domain::OrderStatus>(&[O::Pending, O::Paid, O::Fulfilled, O::Cancelled, O::Refunded]);
        use InteractionKind as K;
        same::<K, domain::InteractionKind>(&[K::Call, K::Email, K::Meeting, K::Note]);
        same::<Direction, domain::Direction>(&[Direction::Inbound, Direction::Outbound]);
        same::<SortKey, crate::pagination::SortKey>(&[SortKey::CreatedAt, SortKey::UpdatedAt]);
        use Outcome as U;
        same::<U, crate::services::orders::Outcome>(&[U::Created, U::Updated, U::Unchanged]);
    }
}
