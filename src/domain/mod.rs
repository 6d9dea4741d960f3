//! Domain value types: validated identifiers, contact details, codes and
//! statuses. Each type has a `parse()` constructor that normalises its input
//! and returns a [`DomainError`] when the value is not acceptable.
//!
//! This module knows nothing of HTTP or storage. Error messages never repeat
//! the input, since values may be personal data.

mod dates;
mod email;
mod geo;
mod naf;
mod phone;
mod siren;
mod status;
mod vat;

use std::fmt;

pub use dates::birth_date_in_past;
pub use email::Email;
pub use geo::{Country, Currency};
pub use naf::NafCode;
pub use phone::Phone;
pub use siren::{Siren, Siret};
pub use status::{Direction, InteractionKind, LawfulBasis, OrderStatus, Status};
pub use vat::VatNumber;

/// Why a value was rejected: a short snake_case machine `code` (such as
/// `invalid_format` or `invalid_checksum`) and a plain English `message` for
/// API clients. The message never contains the rejected value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError {
    /// Machine-readable reason, e.g. `invalid_format`.
    pub code: &'static str,
    /// Human-readable explanation, without the rejected value.
    pub message: String,
}

impl DomainError {
    /// Builds an error from a machine code and a message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for DomainError {}

/// True when `b` is non-empty and made only of ASCII digits.
fn all_digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display_and_fields() {
        let e = DomainError::new("invalid_format", "must be 9 digits");
        assert_eq!(e.code, "invalid_format");
        assert_eq!(e.message, "must be 9 digits");
        assert_eq!(e.to_string(), "invalid_format: must be 9 digits");
        let boxed: Box<dyn std::error::Error> = Box::new(e.clone());
        assert_eq!(boxed.to_string(), e.to_string());
    }

    #[test]
    fn all_digits_helper() {
        assert!(all_digits(b"0123"));
        assert!(!all_digits(b""));
        assert!(!all_digits(b"12a"));
    }
}
