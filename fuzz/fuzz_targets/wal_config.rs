//! sidewatch-wal's directory file (--config.file).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sidewatch_wal::config::parse_file(text, "fuzz.yml");
    }
});
