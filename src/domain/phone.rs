//! Phone numbers in international (E.164) form.

use std::fmt;

use super::{DomainError, all_digits};

/// A phone number in E.164 form: `+`, then 8 to 15 digits, the first not 0.
/// Personal data: `Debug` prints `Phone(<redacted>)` and there is no
/// `Display`; use [`Phone::as_str`] where the number is really needed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// Parses a phone number, ignoring ASCII spaces (`"+33 6 12 34 56 78"`
    /// is accepted and stored as `+33612345678`).
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let s: String = input.chars().filter(|c| *c != ' ').collect();
        let valid = s
            .strip_prefix('+')
            .is_some_and(|d| (8..=15).contains(&d.len()) && all_digits(d.as_bytes()) && d.as_bytes()[0] != b'0');
        if valid {
            Ok(Self(s))
        } else {
            Err(DomainError::new(
                "invalid_format",
                "a phone number must be in international E.164 form: + then 8 to 15 digits, e.g. +33612345678",
            ))
        }
    }

    /// The number in E.164 form, without spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as an owned string.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Phone(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_numbers() {
        assert_eq!(Phone::parse("+33612345678").unwrap().as_str(), "+33612345678");
        assert_eq!(Phone::parse("+33 6 12 34 56 78").unwrap().as_str(), "+33612345678");
        assert_eq!(Phone::parse(" +1 202 555 0143 ").unwrap().into_inner(), "+12025550143");
        // Bounds: 8 and 15 digits.
        assert_eq!(Phone::parse("+12345678").unwrap().as_str(), "+12345678");
        assert_eq!(Phone::parse("+123456789012345").unwrap().as_str(), "+123456789012345");
    }

    #[test]
    fn invalid_numbers() {
        for s in [
            "",
            "+",
            "0612345678",
            "33612345678",
            "+0612345678",
            "+1234567",
            "+1234567890123456",
            "+33-6-12-34-56-78",
            "+33.612345678",
            "+33 (6) 12345678",
            "++33612345678",
            "+3361234567a",
            "+33\t612345678",
            "+３３612345678",
        ] {
            let e = Phone::parse(s).unwrap_err();
            assert_eq!(e.code, "invalid_format", "{s:?}");
        }
        assert!(!Phone::parse("0612345678").unwrap_err().message.contains("0612345678"));
    }

    #[test]
    fn debug_is_redacted() {
        let p = Phone::parse("+33612345678").unwrap();
        assert_eq!(format!("{p:?}"), "Phone(<redacted>)");
        assert_eq!(format!("{:?}", Some(p.clone())), "Some(Phone(<redacted>))");
        assert_eq!(p, Phone::parse("+33 612 345 678").unwrap());
    }
}
