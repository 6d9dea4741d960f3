//! French activity codes (NAF rév. 2 / APE).

use std::fmt;

use super::DomainError;

/// A NAF (APE) activity code in its canonical `NN.NNL` form, e.g. `62.01Z`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NafCode(String);

impl NafCode {
    /// Parses `NN.NNL` or `NNNNL` (surrounding whitespace ignored, the letter
    /// in either case) and normalises to `NN.NNL` with an uppercase letter.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let b = input.trim().as_bytes();
        let parts = match b.len() {
            6 if b[2] == b'.' => Some((&b[..2], &b[3..5], b[5])),
            5 => Some((&b[..2], &b[2..4], b[4])),
            _ => None,
        };
        match parts {
            Some((division, rest, letter))
                if division.iter().chain(rest).all(u8::is_ascii_digit) && letter.is_ascii_alphabetic() =>
            {
                let mut s = String::with_capacity(6);
                s.extend(division.iter().map(|&c| char::from(c)));
                s.push('.');
                s.extend(rest.iter().map(|&c| char::from(c)));
                s.push(char::from(letter.to_ascii_uppercase()));
                Ok(Self(s))
            }
            _ => Err(DomainError::new(
                "invalid_format",
                "a NAF code must look like 62.01Z (two digits, a dot, two digits and a letter)",
            )),
        }
    }

    /// The canonical `NN.NNL` form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The canonical form as an owned string.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for NafCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        NafCode::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}")).into_inner()
    }

    #[test]
    fn canonical_and_compact_forms() {
        assert_eq!(ok("62.01Z"), "62.01Z");
        assert_eq!(ok("6201Z"), "62.01Z");
        assert_eq!(ok("62.01z"), "62.01Z");
        assert_eq!(ok("4711d"), "47.11D");
        assert_eq!(ok(" 01.11Z "), "01.11Z");
        let n = NafCode::parse("7022Z").unwrap();
        assert_eq!(n.as_str(), "70.22Z");
        assert_eq!(n.to_string(), "70.22Z");
        assert_eq!(n, NafCode::parse("70.22Z").unwrap());
    }

    #[test]
    fn invalid_forms() {
        for s in [
            "", "62.01", "6201", "62.0Z", "62,01Z", "62-01Z", "6.201Z", "62.01ZZ", "62.011", "A2.01Z", "62.0AZ",
            "620.1Z", "62 01Z", "62.01É", "62.01Z.", "062.01Z",
        ] {
            let e = NafCode::parse(s).unwrap_err();
            assert_eq!(e.code, "invalid_format", "{s:?}");
        }
    }
}
