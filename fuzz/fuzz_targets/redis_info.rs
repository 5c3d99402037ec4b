//! INFO text from a server, turned into families as a scrape does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sidewatch_redis::info::Info;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let info = Info::parse(&text);
    let _ = sidewatch_redis::collectors::info::families(
        "redis",
        &info,
        &Default::default(),
        Default::default(),
    );
});
