//! The exporter-toolkit web config (--web.config.file). File names in it
//! point into an empty directory, so only the parsing is exercised.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sidewatch_common::webconfig::WebConfig::parse(
            text,
            std::path::Path::new("/nonexistent"),
            "fuzz.yml",
        );
    }
});
