//! PostgreSQL WAL segment file names: 24 hex digits, timeline (8), then the
//! segment number split in "log" (8) and "seg" (8) parts.

/// A parsed segment name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Segment {
    pub timeline: u32,
    pub log: u32,
    pub seg: u32,
}

impl Segment {
    /// Parses a file name; anything that is not exactly 24 hex digits is not
    /// a segment (`.partial`, `.history`, `.backup` files included).
    pub fn parse(name: &str) -> Option<Self> {
        if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let part = |i: usize| u32::from_str_radix(&name[i..i + 8], 16).ok();
        Some(Segment {
            timeline: part(0)?,
            log: part(8)?,
            seg: part(16)?,
        })
    }

    /// Byte position of the segment's start in the WAL, for `segment_size`
    /// (a power of two from 1 MiB to 1 GiB); `None` for a name PostgreSQL
    /// cannot have written: a `seg` part past the segments of one log file,
    /// or a position beyond 64 bits (a stray `FFFF…` file).
    pub fn start_position(&self, segment_size: u64) -> Option<u64> {
        let segment_size = segment_size.max(1);
        let per_log = (0x1_0000_0000u64 / segment_size).max(1);
        if u64::from(self.seg) >= per_log {
            return None;
        }
        u64::from(self.log)
            .checked_mul(per_log)?
            .checked_add(u64::from(self.seg))?
            .checked_mul(segment_size)
    }
}

/// Whether `size` can be a WAL segment size (PostgreSQL allows powers of two
/// from 1 MiB to 1 GiB).
pub fn is_segment_size(size: u64) -> bool {
    size.is_power_of_two() && (1 << 20..=1 << 30).contains(&size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_segment_names() {
        let s = Segment::parse("00000001000000020000003F").expect("segment");
        assert_eq!(
            s,
            Segment {
                timeline: 1,
                log: 2,
                seg: 0x3f
            }
        );
        // 16 MiB segments: 256 per "log" file.
        assert_eq!(
            s.start_position(16 << 20),
            Some((2 * 256 + 0x3f) * (16 << 20))
        );
        // Found by fuzz/corpus: names past what PostgreSQL writes.
        let max = Segment::parse("FFFFFFFFFFFFFFFFFFFFFFFF").expect("hex");
        assert_eq!(max.start_position(16 << 20), None);
        let last = Segment::parse("00000001FFFFFFFF000000FF").expect("hex");
        assert_eq!(
            last.start_position(16 << 20),
            Some(u64::MAX - (16 << 20) + 1)
        );
        let seg_too_big = Segment::parse("000000010000000000000100").expect("hex");
        assert_eq!(seg_too_big.start_position(16 << 20), None);
        for bad in [
            "00000001000000020000003F.partial",
            "00000002.history",
            "000000010000000200000003G",
            "archive_status",
        ] {
            assert_eq!(Segment::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn segment_sizes() {
        assert!(is_segment_size(16 << 20));
        assert!(is_segment_size(1 << 30));
        assert!(!is_segment_size(3 << 20));
        assert!(!is_segment_size(512 << 10));
    }
}
