//! French company identifiers: SIREN (9 digits, one per company) and SIRET
//! (14 digits, one per establishment: the SIREN followed by a 5-digit NIC).

use std::fmt;

use super::{DomainError, all_digits};

/// The SIREN of La Poste, whose establishments' SIRETs use a different checksum.
const LA_POSTE_SIREN: &str = "356000000";

/// La Poste's head office, whose SIRET keeps the Luhn checksum.
const LA_POSTE_HEAD_OFFICE: &str = "35600000000048";

/// Luhn check over ASCII digits.
fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = u32::from(c - b'0');
            if i % 2 == 1 {
                let d = d * 2;
                if d > 9 { d - 9 } else { d }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Strips ASCII spaces and requires exactly `len` ASCII digits.
fn digits_only(input: &str, len: usize, what: &str) -> Result<String, DomainError> {
    let s: String = input.chars().filter(|c| *c != ' ').collect();
    if s.len() == len && all_digits(s.as_bytes()) {
        Ok(s)
    } else {
        Err(DomainError::new("invalid_format", format!("a {what} must be exactly {len} digits")))
    }
}

/// A French company identifier (SIREN): 9 digits with a Luhn check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Siren(String);

impl Siren {
    /// Parses a SIREN, ignoring ASCII spaces (`"732 829 320"` is accepted).
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let s = digits_only(input, 9, "SIREN")?;
        if !luhn_valid(s.as_bytes()) {
            return Err(DomainError::new("invalid_checksum", "the SIREN check digit is wrong"));
        }
        Ok(Self(s))
    }

    /// The 9 digits, without spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 9 digits as an owned string.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for Siren {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A French establishment identifier (SIRET): 14 digits, the SIREN then the
/// NIC. Checked with Luhn over all 14 digits (its SIREN part must be a valid
/// SIREN too), except for La Poste's establishments (SIREN 356000000), whose
/// SIRETs are valid when the sum of their 14 digits is a multiple of 5. La
/// Poste's head office, `35600000000048`, keeps the Luhn rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Siret(String);

impl Siret {
    /// Parses a SIRET, ignoring ASCII spaces (`"732 829 320 00074"` is accepted).
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let s = digits_only(input, 14, "SIRET")?;
        let b = s.as_bytes();
        let valid = if s.starts_with(LA_POSTE_SIREN) && s != LA_POSTE_HEAD_OFFICE {
            b.iter().map(|c| u32::from(c - b'0')).sum::<u32>().is_multiple_of(5)
        } else {
            luhn_valid(b) && luhn_valid(&b[..9])
        };
        if !valid {
            return Err(DomainError::new("invalid_checksum", "the SIRET check digit is wrong"));
        }
        Ok(Self(s))
    }

    /// The company's SIREN: the first 9 digits.
    pub fn siren(&self) -> Siren {
        Siren(self.0[..9].to_owned())
    }

    /// The 14 digits, without spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 14 digits as an owned string.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for Siret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code<T: fmt::Debug>(r: Result<T, DomainError>) -> &'static str {
        r.unwrap_err().code
    }

    #[test]
    fn real_sirens_are_valid() {
        for s in ["732829320", "443061841", "404833048", "356000000"] {
            let siren = Siren::parse(s).unwrap();
            assert_eq!(siren.as_str(), s);
            assert_eq!(siren.to_string(), s);
            assert_eq!(siren.clone().into_inner(), s);
        }
    }

    #[test]
    fn siren_spaces_are_stripped() {
        assert_eq!(Siren::parse("732 829 320").unwrap().as_str(), "732829320");
        assert_eq!(Siren::parse(" 443061841 ").unwrap().as_str(), "443061841");
        assert_eq!(Siren::parse("732 829 320").unwrap(), Siren::parse("732829320").unwrap());
    }

    #[test]
    fn siren_bad_checksum() {
        let e = Siren::parse("732829321").unwrap_err();
        assert_eq!(e.code, "invalid_checksum");
        assert!(!e.message.contains("732829321"));
        assert_eq!(code(Siren::parse("404833049")), "invalid_checksum");
    }

    #[test]
    fn siren_bad_format() {
        for s in ["", "73282932", "7328293200", "73282932A", "732-829-320", "７３２８２９３２０", "732\t829320"]
        {
            let e = Siren::parse(s).unwrap_err();
            assert_eq!(e.code, "invalid_format", "{s:?}");
        }
        assert_eq!(Siren::parse("abcdefghi").unwrap_err().message, "a SIREN must be exactly 9 digits");
    }

    #[test]
    fn siret_luhn() {
        for s in ["73282932000074", "44306184100047", "40483304800022", "44306184100013"] {
            let siret = Siret::parse(s).unwrap();
            assert_eq!(siret.as_str(), s);
            assert_eq!(siret.to_string(), s);
            assert_eq!(siret.siren().as_str(), &s[..9]);
        }
        assert_eq!(Siret::parse("443 061 841 00047").unwrap().as_str(), "44306184100047");
        assert_eq!(code(Siret::parse("73282932000075")), "invalid_checksum");
        assert_eq!(code(Siret::parse("44306184100048")), "invalid_checksum");
    }

    #[test]
    fn siret_requires_a_valid_siren_part() {
        // Luhn-valid over 14 digits, but 732829321 is not a valid SIREN.
        let s = "73282932100007";
        assert!(luhn_valid(s.as_bytes()));
        assert_eq!(code(Siret::parse(s)), "invalid_checksum");
    }

    #[test]
    fn siret_la_poste() {
        // Head office: Luhn-valid (its digit sum, 26, is not a multiple of 5).
        let siret = Siret::parse("35600000000048").unwrap();
        assert_eq!(siret.siren(), Siren::parse("356000000").unwrap());
        assert_eq!(siret.into_inner(), "35600000000048");
        // Neither Luhn-valid nor a digit sum (27) multiple of 5.
        assert_eq!(code(Siret::parse("35600000000049")), "invalid_checksum");
        // Establishments: digit sum 15, not Luhn-valid, accepted.
        assert!(!luhn_valid(b"35600000000001"));
        assert_eq!(Siret::parse("35600000000001").unwrap().as_str(), "35600000000001");
        // Luhn-valid, but digit sum 19: the La Poste rule applies, not Luhn.
        assert!(luhn_valid(b"35600000000014"));
        assert_eq!(code(Siret::parse("35600000000014")), "invalid_checksum");
        // Digit sum 20 is accepted.
        assert_eq!(Siret::parse("356 000 000 00006").unwrap().as_str(), "35600000000006");
    }

    #[test]
    fn siret_bad_format() {
        for s in ["", "7328293200007", "732829320000744", "7328293200007A", "73282932O00074"] {
            assert_eq!(code(Siret::parse(s)), "invalid_format", "{s:?}");
        }
    }

    #[test]
    fn luhn_helper() {
        assert!(luhn_valid(b"0"));
        assert!(luhn_valid(b"79927398713"));
        assert!(!luhn_valid(b"79927398710"));
    }
}
