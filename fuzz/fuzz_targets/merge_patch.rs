//! RFC 7396 merge patch on two arbitrary JSON documents (the input split at
//! its first NUL byte): never panics; applying a patch twice is applying it
//! once; `{}` leaves an object unchanged.
#![no_main]

use clientele::services::merge_patch;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(2, |&b| b == 0);
    let (Some(a), Some(b)) = (parts.next(), parts.next()) else { return };
    let (Ok(target), Ok(patch)) = (serde_json::from_slice::<Value>(a), serde_json::from_slice::<Value>(b)) else {
        return;
    };
    let mut once = target.clone();
    merge_patch(&mut once, &patch);
    let mut twice = once.clone();
    merge_patch(&mut twice, &patch);
    assert_eq!(once, twice, "merge patch is not idempotent");

    for doc in [&target, &patch, &once] {
        if doc.is_object() {
            let mut same = doc.clone();
            merge_patch(&mut same, &Value::Object(Default::default()));
            assert_eq!(&same, doc, "an empty patch changed an object");
        }
    }
});
