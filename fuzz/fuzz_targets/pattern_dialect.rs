//! Arbitrary patterns through the regex dialect translation, then the validator's engine:
//! an error or a compiled pattern, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(pattern) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(translated) = barbacane_spec::translate_pattern(pattern) {
        let schema = serde_json::json!({ "type": "string", "pattern": &*translated });
        if let Ok(v) = barbacane_validator::check_value(&schema, &serde_json::json!(pattern)) {
            drop(v);
        }
    }
});
