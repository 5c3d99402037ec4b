//! A custom-query file (--extend.query-path), in the peer's format.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sidewatch_postgres::queries::parse("fuzz.yaml", text);
    }
});
