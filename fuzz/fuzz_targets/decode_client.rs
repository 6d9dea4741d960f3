//! `decode::<ClientInput>` on any JSON object: never panics; no error message
//! repeats a submitted string value of 8 characters or more.
#![no_main]

use clientele::services::clients::ClientInput;
use clientele::services::decode;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(m) => m.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(data) else { return };
    let doc = Value::Object(map.clone());
    let mut values = Vec::new();
    strings(&doc, &mut values);
    let (_, errors) = decode::<ClientInput>(map);
    for e in &errors.0 {
        for v in values.iter().filter(|v| v.chars().count() >= 8) {
            assert!(
                !e.message.contains(v),
                "error message {:?} of field {:?} echoes an input value",
                e.message,
                e.field
            );
        }
    }
});
