//! Email addresses.

use validator::ValidateEmail;

use super::DomainError;

/// Longest accepted address, in characters.
const MAX_LEN: usize = 254;

/// An email address, trimmed, with its original casing kept. Personal data:
/// `Debug` prints `Email(<redacted>)` and there is no `Display`; use
/// [`Email::as_str`] or [`Email::normalized`] where the address is needed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses an address: trims it, then requires at most 254 characters
    /// (`too_long`) and the usual `local@domain.tld` shape (`invalid_format`):
    /// the HTML5 rules of `validator`, a domain name with a dot (no IP
    /// literal), no leading, trailing or double dot in the local part.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let s = input.trim();
        if s.chars().count() > MAX_LEN {
            return Err(DomainError::new("too_long", "an email address must be at most 254 characters"));
        }
        let shape_ok = s.validate_email()
            && s.rsplit_once('@').is_some_and(|(local, domain)| {
                !local.starts_with('.')
                    && !local.ends_with('.')
                    && !local.contains("..")
                    && domain.contains('.')
                    && !domain.starts_with('[')
            });
        if !shape_ok {
            return Err(DomainError::new("invalid_format", "this is not a valid email address"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The address as given, trimmed, original casing kept.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The trimmed, lowercased address, for uniqueness checks and the
    /// suppression list HMAC.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }

    /// The address as an owned string (original casing).
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> &'static str {
        Email::parse(s).unwrap_err().code
    }

    #[test]
    fn valid_addresses_keep_casing() {
        let e = Email::parse("  Jane.Doe@Example.COM \n").unwrap();
        assert_eq!(e.as_str(), "Jane.Doe@Example.COM");
        assert_eq!(e.normalized(), "jane.doe@example.com");
        assert_eq!(e.clone().into_inner(), "Jane.Doe@Example.COM");
        for s in ["a@b.co", "first+tag@sub.example.fr", "o'brien@example.ie", "x_y-z@exa-mple.org"] {
            let e = Email::parse(s).unwrap();
            assert_eq!(e.as_str(), s);
            assert_eq!(e.normalized(), s.to_lowercase());
        }
    }

    #[test]
    fn normalized_form_matches_across_casing() {
        let a = Email::parse("JANE@EXAMPLE.COM").unwrap();
        let b = Email::parse(" jane@example.com").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.normalized(), b.normalized());
    }

    #[test]
    fn invalid_shapes() {
        for s in [
            "",
            "   ",
            "plain",
            "@example.com",
            "jane@",
            "jane@localhost",
            "jane@@example.com",
            "ja ne@example.com",
            "jane@exa mple.com",
            "jane@example..com",
            "jane@.example.com",
            "jane@example.com.",
            "jane@-example.com",
            ".jane@example.com",
            "jane.@example.com",
            "ja..ne@example.com",
            "jane@[127.0.0.1]",
            "jane@example.com>",
            "<jane@example.com>",
            "jane@exam_ple.com",
            "a@b@example.com",
        ] {
            assert_eq!(code(s), "invalid_format", "{s:?}");
        }
    }

    #[test]
    fn length_limit() {
        // 64-character local part, domain padded to reach exactly 254.
        let local = "a".repeat(64);
        let labels = ["b".repeat(63), "c".repeat(63), "d".repeat(58)].join(".");
        let max = format!("{local}@{labels}.fr");
        assert_eq!(max.len(), 254);
        assert_eq!(Email::parse(&max).unwrap().as_str(), max);
        let over = format!("{local}@{labels}x.fr");
        let e = Email::parse(&over).unwrap_err();
        assert_eq!(e.code, "too_long");
        assert!(!e.message.contains(&local));
        // Surrounding whitespace does not count.
        assert_eq!(Email::parse(&format!("  {max}  ")).unwrap().as_str(), max);
    }

    #[test]
    fn debug_is_redacted() {
        let e = Email::parse("jane@example.com").unwrap();
        assert_eq!(format!("{e:?}"), "Email(<redacted>)");
        assert_eq!(format!("{:?}", vec![e]), "[Email(<redacted>)]");
    }
}
