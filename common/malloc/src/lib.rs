//! glibc's malloc gives every thread that allocates an arena of its own, up
//! to eight per core, so that threads do not contend for one lock. An
//! exporter answers a few scrapes a minute: its blocking-pool threads never
//! contend, and each arena kept 300 KiB resident for nothing (a third of
//! sidewatch-node's heap, measured in docs/benchmarks.md). [`single_arena`]
//! makes every thread allocate from the main arena.
//!
//! The standard library does not wrap `mallopt(3)`, so this crate holds the
//! call, and the one `unsafe` block it needs.

/// Limits glibc's malloc to one arena, shared by all threads. Call it first
/// in `main`, before any thread starts; later threads then allocate from the
/// main arena. Returns whether glibc took the setting; with another C library
/// (musl has a single heap anyway) it does nothing and returns `false`.
#[allow(unsafe_code)]
pub fn single_arena() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets a tuning parameter of the allocator; it
        // takes two integers, touches no memory of ours, and M_ARENA_MAX
        // with a positive value is a documented, valid request at any time.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glibc_takes_the_setting() {
        assert_eq!(
            super::single_arena(),
            cfg!(all(target_os = "linux", target_env = "gnu"))
        );
    }
}
