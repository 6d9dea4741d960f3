//! Countries (ISO 3166-1 alpha-2) and currencies (ISO 4217).

use std::fmt;

use isocountry::CountryCode;

use super::DomainError;

/// A country, as its ISO 3166-1 alpha-2 code, e.g. `FR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Country(CountryCode);

impl Country {
    /// Parses an uppercase alpha-2 code (surrounding whitespace ignored).
    /// Anything else, lowercase included, is `unknown_code`.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        CountryCode::for_alpha2(input.trim()).map(Self).map_err(|_| {
            DomainError::new("unknown_code", "must be an uppercase ISO 3166-1 alpha-2 country code, e.g. FR")
        })
    }

    /// The alpha-2 code, e.g. `FR`.
    pub fn as_str(&self) -> &'static str {
        self.0.alpha2()
    }

    /// The `isocountry` code, for names and other forms.
    pub fn iso(&self) -> CountryCode {
        self.0
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A currency, as its ISO 4217 alphabetic code, e.g. `EUR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Parses a 3-letter uppercase ISO 4217 code (surrounding whitespace
    /// ignored). Anything else, lowercase included, is `unknown_code`.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let s = input.trim();
        s.bytes()
            .all(|c| c.is_ascii_uppercase())
            .then(|| iso_currency::Currency::from_code(s))
            .flatten()
            .map(Self)
            .ok_or_else(|| DomainError::new("unknown_code", "must be an uppercase ISO 4217 currency code, e.g. EUR"))
    }

    /// The alphabetic code, e.g. `EUR`.
    pub fn as_str(&self) -> &'static str {
        self.0.code()
    }

    /// The `iso_currency` value, for names, symbols and minor units.
    pub fn iso(&self) -> iso_currency::Currency {
        self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries() {
        for s in ["FR", "DE", "US", "GB", "BE", "CH"] {
            assert_eq!(Country::parse(s).unwrap().as_str(), s);
        }
        let fr = Country::parse(" FR\n").unwrap();
        assert_eq!(fr.as_str(), "FR");
        assert_eq!(fr.to_string(), "FR");
        assert_eq!(fr.iso(), CountryCode::FRA);
        assert_eq!(fr, Country::parse("FR").unwrap());
    }

    #[test]
    fn unknown_countries() {
        for s in ["", "fr", "Fr", "FRA", "F", "ZZ", "UK", "EL", "XI", "250", "F R"] {
            let e = Country::parse(s).unwrap_err();
            assert_eq!(e.code, "unknown_code", "{s:?}");
        }
    }

    #[test]
    fn currencies() {
        for s in ["EUR", "USD", "GBP", "CHF", "JPY"] {
            assert_eq!(Currency::parse(s).unwrap().as_str(), s);
        }
        let eur = Currency::parse(" EUR ").unwrap();
        assert_eq!(eur.as_str(), "EUR");
        assert_eq!(eur.to_string(), "EUR");
        assert_eq!(eur.iso(), iso_currency::Currency::EUR);
    }

    #[test]
    fn unknown_currencies() {
        for s in ["", "eur", "Eur", "EU", "EURO", "ABC", "978", "E R", "ÉUR"] {
            let e = Currency::parse(s).unwrap_err();
            assert_eq!(e.code, "unknown_code", "{s:?}");
        }
    }
}
