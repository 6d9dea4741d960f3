//! Every domain parser on arbitrary text: never panics; a parsed value
//! re-parses from `as_str()` to itself; a SIRET's SIREN is a valid SIREN.
#![no_main]

use clientele::domain::{Country, Currency, Email, NafCode, Phone, Siren, Siret, VatNumber};
use libfuzzer_sys::fuzz_target;

macro_rules! idempotent {
    ($ty:ty, $s:expr) => {
        if let Ok(v) = <$ty>::parse($s) {
            let again = <$ty>::parse(v.as_str())
                .unwrap_or_else(|e| panic!("{}: {:?} does not re-parse: {e}", stringify!($ty), v.as_str()));
            assert_eq!(again.as_str(), v.as_str(), "{} normalisation is not idempotent", stringify!($ty));
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();
    idempotent!(Siren, s);
    idempotent!(Siret, s);
    idempotent!(VatNumber, s);
    idempotent!(NafCode, s);
    idempotent!(Phone, s);
    idempotent!(Email, s);
    idempotent!(Country, s);
    idempotent!(Currency, s);
    if let Ok(siret) = Siret::parse(s) {
        let siren = siret.siren();
        assert!(Siren::parse(siren.as_str()).is_ok(), "SIREN of a valid SIRET {:?} is invalid", siret.as_str());
    }
});
