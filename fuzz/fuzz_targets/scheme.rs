#![no_main]
//! Fuzzes the scheme grammar: any string either parses or is refused with a message
//! (no panic); a parsed scheme prints a canonical string that parses back to the same
//! scheme, and its JSON form round-trips too.
use quantscope::Scheme;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match s.parse::<Scheme>() {
        Ok(scheme) => {
            let printed = scheme.to_string();
            let again: Scheme = printed
                .parse()
                .unwrap_or_else(|e| panic!("`{s}` printed as `{printed}`, which does not parse: {e}"));
            assert_eq!(again, scheme, "`{s}` -> `{printed}` parses to another scheme");
            let json = serde_json::to_string(&scheme).expect("a scheme serializes");
            let back: Scheme = serde_json::from_str(&json).expect("its JSON parses");
            assert_eq!(back, scheme, "`{s}`: JSON {json} round-trips to another scheme");
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
