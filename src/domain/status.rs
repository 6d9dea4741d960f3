//! Closed sets of values stored and exchanged as snake_case strings.

use std::fmt;
use std::str::FromStr;

use super::DomainError;

/// Defines a snake_case string enum with `as_str`, `ALL`, `FromStr` and
/// `Display`. Each literal must be the snake_case form of its variant (a test
/// checks it against serde).
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $s:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The snake_case form used in JSON and in the database.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$variant => $s,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = DomainError;

            fn from_str(s: &str) -> Result<Self, DomainError> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| unknown(Self::ALL.iter().map(Self::as_str)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// The `unknown_value` error, listing the allowed values.
fn unknown<'a>(allowed: impl Iterator<Item = &'a str>) -> DomainError {
    let list: Vec<&str> = allowed.collect();
    DomainError::new("unknown_value", format!("must be one of: {}", list.join(", ")))
}

string_enum! {
    /// Where a client or contact stands commercially.
    pub enum Status {
        /// Not (yet) a customer.
        Prospect = "prospect",
        /// Has bought or has a running contract.
        Customer = "customer",
        /// Used to be a customer.
        FormerCustomer = "former_customer",
    }
}

string_enum! {
    /// The GDPR lawful basis (art. 6) for processing a contact's data.
    pub enum LawfulBasis {
        /// The person consented (art. 6(1)(a)).
        Consent = "consent",
        /// Needed for a contract with the person (art. 6(1)(b)).
        Contract = "contract",
        /// The controller's legitimate interest (art. 6(1)(f)).
        LegitimateInterest = "legitimate_interest",
        /// Required by law (art. 6(1)(c)).
        LegalObligation = "legal_obligation",
    }
}

string_enum! {
    /// Where an order is in its life cycle.
    pub enum OrderStatus {
        /// Placed, not paid yet.
        Pending = "pending",
        /// Paid, not shipped or delivered yet.
        Paid = "paid",
        /// Delivered.
        Fulfilled = "fulfilled",
        /// Cancelled before fulfilment.
        Cancelled = "cancelled",
        /// Paid, then refunded.
        Refunded = "refunded",
    }
}

impl OrderStatus {
    /// Whether the order counts in sales figures: pending, paid or fulfilled.
    pub fn counts_as_sale(&self) -> bool {
        matches!(self, Self::Pending | Self::Paid | Self::Fulfilled)
    }
}

string_enum! {
    /// The kind of an interaction with a contact.
    pub enum InteractionKind {
        /// A phone call.
        Call = "call",
        /// An email.
        Email = "email",
        /// A meeting, in person or remote.
        Meeting = "meeting",
        /// A free-form note.
        Note = "note",
    }
}

string_enum! {
    /// Who started an interaction.
    pub enum Direction {
        /// The contact reached out to us.
        Inbound = "inbound",
        /// We reached out to the contact.
        Outbound = "outbound",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str`, serde and `FromStr` agree for every value of `T`.
    fn round_trips<T>(all: &[T], expected: &[&str])
    where
        T: Copy + PartialEq + fmt::Debug + fmt::Display + FromStr<Err = DomainError>,
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        let names: Vec<String> = all.iter().map(ToString::to_string).collect();
        assert_eq!(names, expected);
        for (v, s) in all.iter().zip(expected) {
            assert_eq!(serde_json::to_string(v).unwrap(), format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<T>(&format!("\"{s}\"")).unwrap(), *v);
            assert_eq!(s.parse::<T>().unwrap(), *v);
        }
        let e = "Nope".parse::<T>().unwrap_err();
        assert_eq!(e.code, "unknown_value");
        assert_eq!(e.message, format!("must be one of: {}", expected.join(", ")));
        assert!(serde_json::from_str::<T>("\"Nope\"").is_err());
    }

    #[test]
    fn status() {
        round_trips(Status::ALL, &["prospect", "customer", "former_customer"]);
        assert_eq!(Status::FormerCustomer.as_str(), "former_customer");
        assert_eq!("FormerCustomer".parse::<Status>().unwrap_err().code, "unknown_value");
        assert_eq!(" customer".parse::<Status>().unwrap_err().code, "unknown_value");
    }

    #[test]
    fn lawful_basis() {
        round_trips(LawfulBasis::ALL, &["consent", "contract", "legitimate_interest", "legal_obligation"]);
        assert_eq!(LawfulBasis::LegitimateInterest.as_str(), "legitimate_interest");
    }

    #[test]
    fn order_status() {
        round_trips(OrderStatus::ALL, &["pending", "paid", "fulfilled", "cancelled", "refunded"]);
        let sales: Vec<&str> = OrderStatus::ALL.iter().filter(|s| s.counts_as_sale()).map(|s| s.as_str()).collect();
        assert_eq!(sales, ["pending", "paid", "fulfilled"]);
        assert!(!OrderStatus::Cancelled.counts_as_sale());
        assert!(!OrderStatus::Refunded.counts_as_sale());
    }

    #[test]
    fn interaction_kind_and_direction() {
        round_trips(InteractionKind::ALL, &["call", "email", "meeting", "note"]);
        round_trips(Direction::ALL, &["inbound", "outbound"]);
        assert_eq!("inbound".parse::<Direction>().unwrap(), Direction::Inbound);
    }

    #[test]
    fn schemas_are_named_after_the_types() {
        use utoipa::{PartialSchema, ToSchema};
        assert_eq!(Status::name(), "Status");
        assert_eq!(OrderStatus::name(), "OrderStatus");
        let json = serde_json::to_value(LawfulBasis::schema()).unwrap();
        let values = json["enum"].as_array().expect("string enum schema");
        assert_eq!(values.len(), 4);
        assert!(values.contains(&serde_json::json!("legitimate_interest")));
    }
}
