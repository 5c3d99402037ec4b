//! WAL file names found in a directory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sidewatch_wal::segment::Segment;

fuzz_target!(|data: &[u8]| {
    if let Ok(name) = std::str::from_utf8(data) {
        if let Some(s) = Segment::parse(name) {
            for size in [1u64 << 20, 16 << 20, 1 << 30] {
                let _ = s.start_position(size);
            }
        }
    }
});
