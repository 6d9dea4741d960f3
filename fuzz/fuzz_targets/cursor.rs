//! `Cursor::decode` on arbitrary text: never panics; a decoded cursor
//! re-encodes and decodes to itself.
#![no_main]

use clientele::http::pagination::{Cursor, SortKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    for sort in [SortKey::CreatedAt, SortKey::UpdatedAt] {
        if let Ok(c) = Cursor::decode(&s, sort) {
            assert_eq!(c.sort, sort);
            let again = Cursor::decode(&c.encode(), sort).expect("a re-encoded cursor decodes");
            assert_eq!(again, c);
            let _ = c.at();
        }
    }
});
