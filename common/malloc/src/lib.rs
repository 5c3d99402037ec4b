//! glibc's malloc gives every thread that allocates an arena of its own, up
//! to eight per core, so that threads do not contend for one lock. An
//! exporter's blocking-pool threads each kept an arena of ~300 KiB resident
//! for a few scrapes a minute (a third of sidewatch-node's heap, measured in
//! docs/benchmarks.md), so [`two_arenas`] caps them at two: the runtime
//! thread's main arena, and one that the pool and helper threads share.
//! One arena for all was tried first: the runtime thread and the pool then
//! contend for its lock on every scrape (a futex wait and wake, and a
//! context switch, per collision: 42 context switches per sidewatch-node
//! scrape, 21 with two arenas, 13 with eight), which cost a tenth of node's
//! CPU per scrape and saved no measurable memory over two; eight cost 0.4 MiB.
//!
//! The standard library does not wrap `mallopt(3)`, so this crate holds the
//! call, and the one `unsafe` block it needs.

/// Limits glibc's malloc to two arenas. Call it first in `main`, before any
/// thread starts. Returns whether glibc took the setting; with another C
/// library (musl has a single heap anyway) it does nothing and returns
/// `false`.
#[allow(unsafe_code)]
pub fn two_arenas() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets a tuning parameter of the allocator; it
        // takes two integers, touches no memory of ours, and M_ARENA_MAX
        // with a positive value is a documented, valid request at any time.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) == 1 }
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
            super::two_arenas(),
            cfg!(all(target_os = "linux", target_env = "gnu"))
        );
    }
}
