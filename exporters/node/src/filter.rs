//! The regular expressions of the filter flags, with their answers kept.
//!
//! A filter sees the same names every scrape (devices, mount points, the
//! ~200 keys of /proc/vmstat and /proc/net/snmp), so each name's answer is
//! kept after its first match; the pattern runs again only for names it has
//! not seen. The cache is bounded: past [`MAX_NAMES`] names it starts over.

use std::collections::HashMap;
use std::sync::Mutex;

use sidewatch_common::metrics::NameHasher;

/// Names kept per filter before the cache is cleared (a host whose names
/// change all the time, say containers' veth devices, cannot grow it).
pub const MAX_NAMES: usize = 4096;

/// A compiled pattern (node_exporter's syntax, Go's ASCII classes) and the
/// answers it gave.
pub struct Regex {
    pattern: regex::Regex,
    seen: Mutex<HashMap<Box<str>, bool, NameHasher>>,
}

impl Regex {
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        Ok(Self {
            pattern: regex::Regex::new(pattern)?,
            seen: Mutex::new(HashMap::default()),
        })
    }

    /// Whether the pattern matches somewhere in `name`.
    pub fn is_match(&self, name: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&answer) = seen.get(name) {
            return answer;
        }
        let answer = self.pattern.is_match(name);
        if seen.len() >= MAX_NAMES {
            seen.clear();
        }
        seen.insert(name.into(), answer);
        answer
    }

    pub fn as_str(&self) -> &str {
        self.pattern.as_str()
    }
}

impl Clone for Regex {
    fn clone(&self) -> Self {
        Self {
            pattern: self.pattern.clone(),
            seen: Mutex::new(HashMap::default()),
        }
    }
}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Regex").field(&self.as_str()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_stay_the_patterns_and_the_cache_is_bounded() {
        let r = Regex::new("^(lo|veth.*)$").expect("pattern");
        for _ in 0..2 {
            assert!(r.is_match("lo"));
            assert!(!r.is_match("eth0"));
        }
        for i in 0..(MAX_NAMES * 2) {
            assert!(r.is_match(&format!("veth{i}")));
            assert!(!r.is_match(&format!("eth{i}")));
        }
        assert!(r.seen.lock().expect("lock").len() <= MAX_NAMES);
        assert!(r.clone().is_match("veth-new"));
        assert!(Regex::new("(").is_err());
    }
}
