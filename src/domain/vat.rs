//! Intra-community (EU) VAT numbers.

use std::fmt;

use super::{DomainError, all_digits};

/// The accepted prefixes: EU member states (Greece is `EL`) plus `XI` for
/// Northern Ireland.
const PREFIXES: [&str; 28] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU", "IE", "IT", "LT", "LU", "LV",
    "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI",
];

/// A French VAT key character: a digit or a letter other than I and O.
fn fr_key_char(c: u8) -> bool {
    c.is_ascii_digit() || (c.is_ascii_uppercase() && c != b'I' && c != b'O')
}

/// `n` digits exactly.
fn digits(b: &[u8], n: usize) -> bool {
    b.len() == n && all_digits(b)
}

/// Whether `n` (the part after the prefix) has the national shape.
fn national_format(prefix: &str, n: &[u8]) -> bool {
    let len = n.len();
    let upper = |i: usize| n.get(i).is_some_and(u8::is_ascii_uppercase);
    let alnum = |i: usize| n.get(i).is_some_and(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
    match prefix {
        "AT" => len == 9 && n[0] == b'U' && all_digits(&n[1..]),
        "BE" => digits(n, 10) && matches!(n[0], b'0' | b'1'),
        "BG" => matches!(len, 9 | 10) && all_digits(n),
        "CY" => len == 9 && all_digits(&n[..8]) && upper(8),
        "CZ" => matches!(len, 8..=10) && all_digits(n),
        "DE" | "EE" | "EL" | "PT" => digits(n, 9),
        "DK" | "FI" | "HU" | "LU" | "MT" | "SI" => digits(n, 8),
        "ES" => len == 9 && alnum(0) && all_digits(&n[1..8]) && alnum(8),
        "FR" => len == 11 && fr_key_char(n[0]) && fr_key_char(n[1]) && all_digits(&n[2..]),
        "HR" | "IT" | "LV" => digits(n, 11),
        // 7 digits then 1 or 2 letters, or the old digit, letter/+/*, 5 digits, letter.
        "IE" => {
            (matches!(len, 8 | 9) && all_digits(&n[..7]) && upper(7) && (len == 8 || upper(8)))
                || (len == 8
                    && n[0].is_ascii_digit()
                    && (upper(1) || n[1] == b'+' || n[1] == b'*')
                    && all_digits(&n[2..7])
                    && upper(7))
        }
        "LT" => matches!(len, 9 | 12) && all_digits(n),
        "NL" => len == 12 && all_digits(&n[..9]) && n[9] == b'B' && all_digits(&n[10..]),
        "PL" | "SK" => digits(n, 10),
        "RO" => (2..=10).contains(&len) && all_digits(n),
        "SE" => digits(n, 12),
        // UK format: 9 or 12 digits, or GD/HA (government, health) + 3 digits.
        "XI" => {
            (matches!(len, 9 | 12) && all_digits(n))
                || (len == 5 && (n.starts_with(b"GD") || n.starts_with(b"HA")) && all_digits(&n[2..]))
        }
        _ => false,
    }
}

/// An EU VAT number, normalised: no spaces, dots or dashes, uppercase, e.g.
/// `FR83404833048`. The national part has the shape of its country; French
/// numbers with a numeric key also have their key checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VatNumber(String);

impl VatNumber {
    /// Parses a VAT number: strips spaces, dots and dashes, uppercases, then
    /// checks the prefix (`unknown_code`), the national shape
    /// (`invalid_format`) and, for French numbers with a numeric key, the key
    /// (`invalid_checksum`).
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let s: String =
            input.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).map(|c| c.to_ascii_uppercase()).collect();
        let b = s.as_bytes();
        if b.len() < 2 || !b[..2].iter().all(u8::is_ascii_uppercase) {
            return Err(DomainError::new("invalid_format", "a VAT number must start with a two-letter country prefix"));
        }
        let prefix = &s[..2];
        if !PREFIXES.contains(&prefix) {
            return Err(DomainError::new(
                "unknown_code",
                "the VAT number prefix is not an EU country code (use EL for Greece, XI for Northern Ireland)",
            ));
        }
        let national = &b[2..];
        if !national_format(prefix, national) {
            return Err(DomainError::new(
                "invalid_format",
                "the VAT number does not have the national format of its country",
            ));
        }
        if prefix == "FR" && national[..2].iter().all(u8::is_ascii_digit) {
            let key: u64 = s[2..4].parse().unwrap_or(u64::MAX);
            let siren: u64 = s[4..].parse().unwrap_or(0);
            if key != (12 + 3 * (siren % 97)) % 97 {
                return Err(DomainError::new("invalid_checksum", "the French VAT key does not match its SIREN"));
            }
        }
        Ok(Self(s))
    }

    /// For French numbers, the 9-digit SIREN part; `None` for other countries.
    pub fn fr_siren(&self) -> Option<&str> {
        self.0.starts_with("FR").then(|| &self.0[4..])
    }

    /// The two-letter prefix, e.g. `FR` (`EL` for Greece, `XI` for Northern Ireland).
    pub fn prefix(&self) -> &str {
        &self.0[..2]
    }

    /// The normalised number, prefix included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised number as an owned string.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for VatNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        VatNumber::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}")).into_inner()
    }

    fn code(s: &str) -> &'static str {
        VatNumber::parse(s).unwrap_err().code
    }

    #[test]
    fn french_numeric_key() {
        let v = VatNumber::parse("FR83404833048").unwrap();
        assert_eq!(v.as_str(), "FR83404833048");
        assert_eq!(v.fr_siren(), Some("404833048"));
        assert_eq!(v.prefix(), "FR");
        assert_eq!(v.to_string(), "FR83404833048");
        assert_eq!(ok("fr 83 404.833-048"), "FR83404833048");
        assert_eq!(ok("FR64443061841"), "FR64443061841");
        assert_eq!(ok("FR44732829320"), "FR44732829320");
    }

    #[test]
    fn french_bad_key() {
        let e = VatNumber::parse("FR00404833048").unwrap_err();
        assert_eq!(e.code, "invalid_checksum");
        assert!(!e.message.contains("404833048"));
        assert_eq!(code("FR84404833048"), "invalid_checksum");
    }

    #[test]
    fn french_letter_key() {
        let v = VatNumber::parse("FRK7404833048").unwrap();
        assert_eq!(v.fr_siren(), Some("404833048"));
        assert_eq!(ok("fr2a404833048"), "FR2A404833048");
        // I and O are not key characters.
        assert_eq!(code("FRI7404833048"), "invalid_format");
        assert_eq!(code("FRO7404833048"), "invalid_format");
        assert_eq!(code("FR8340483304"), "invalid_format");
        assert_eq!(code("FR83404833048X"), "invalid_format");
    }

    #[test]
    fn other_countries() {
        for s in [
            "ATU12345678",
            "BE0123456789",
            "BE1123456789",
            "BG123456789",
            "BG1234567890",
            "CY12345678L",
            "CZ12345678",
            "CZ1234567890",
            "DE123456789",
            "DK12345678",
            "EE123456789",
            "EL123456789",
            "ESA1234567B",
            "ES12345678Z",
            "ESX1234567L",
            "FI12345678",
            "HR12345678901",
            "HU12345678",
            "IE6388047V",
            "IE1234567WA",
            "IE8Z49289F",
            "IE7+12345A",
            "IT12345678901",
            "LT123456789",
            "LT123456789012",
            "LU12345678",
            "LV12345678901",
            "MT12345678",
            "NL004495445B01",
            "PL5260250995",
            "PT123456789",
            "RO12",
            "RO1234567890",
            "SE123456789001",
            "SI12345678",
            "SK1234567890",
            "XI123456789",
            "XI123456789012",
            "XIGD123",
            "XIHA456",
        ] {
            assert_eq!(ok(s), s);
        }
        let nl = VatNumber::parse("nl 0044.95445-b01").unwrap();
        assert_eq!(nl.as_str(), "NL004495445B01");
        assert_eq!(nl.fr_siren(), None);
        assert_eq!(VatNumber::parse("DE123456789").unwrap().fr_siren(), None);
    }

    #[test]
    fn bad_national_formats() {
        for s in [
            "AT12345678",
            "ATU1234567",
            "BE2123456789",
            "BE012345678",
            "CY123456789",
            "DE12345678",
            "DE1234567890",
            "DK1234567",
            "ES123456789A",
            "ESA123456B",
            "IT1234567890",
            "NL004495445C01",
            "NL004495445B1",
            "PL526025099",
            "RO1",
            "RO12345678901",
            "SE12345678900",
            "IE1234567",
            "IE123456789",
            "XIGD12",
            "XIAB123",
            "DE12345678A",
            "FR",
            "DE",
        ] {
            assert_eq!(code(s), "invalid_format", "{s:?}");
        }
    }

    #[test]
    fn prefixes() {
        assert_eq!(code("GR123456789"), "unknown_code");
        assert_eq!(code("GB123456789"), "unknown_code");
        assert_eq!(code("US123456789"), "unknown_code");
        assert_eq!(code(""), "invalid_format");
        assert_eq!(code("F"), "invalid_format");
        assert_eq!(code("12345678901"), "invalid_format");
        assert_eq!(code("ÉS12345678Z"), "invalid_format");
        let e = VatNumber::parse("ZZ999").unwrap_err();
        assert!(!e.message.contains("ZZ"));
    }
}
