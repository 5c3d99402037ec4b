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
//! [`steady_heap`] keeps the heap a scrape grows for the next scrape
//! instead of handing it back to the kernel each time.
//!
//! The standard library does not wrap `mallopt(3)`, so this crate holds the
//! calls, and the `unsafe` blocks they need.

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

/// Below this, an allocation comes from the heap rather than its own
/// mapping: well above what one of sidewatch-node's scrapes allocates at
/// once (its body is ~60 KiB).
pub const MMAP_THRESHOLD: usize = 1 << 20;
/// Free memory at the top of the heap kept for the next scrape instead of
/// being handed back to the kernel.
pub const TRIM_THRESHOLD: usize = 2 << 20;

/// Keeps the heap a scrape uses for the next one. By default glibc gives
/// the free memory at the top of the heap back to the kernel once it passes
/// 128 KiB, which a scrape's samples and body do every time: each scrape
/// then grew the heap again and faulted its pages in anew (sidewatch-node:
/// 18-20 page faults and ~3 `brk` calls per scrape, 0.1 and none with these
/// settings, for ~0.1 MiB more resident; docs/benchmarks.md). Setting the
/// trim threshold turns off glibc's moving mmap threshold, so that one is
/// fixed here as well. Call it first in `main`, as `Exporter::STEADY_HEAP`
/// does. Returns whether glibc took both settings; `false` with another C
/// library.
#[allow(unsafe_code)]
pub fn steady_heap() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: as for `two_arenas`: mallopt sets two documented tuning
        // parameters with positive values that fit a C int.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Hands the heap's free pages back to the kernel: those inside the heap
/// as well as its free top. A scrape's samples and body are freed when its
/// response has been sent, but glibc gives back only a free top past its
/// trim threshold, so the pages they used stay resident between scrapes
/// (sidewatch-postgres: ~0.6 MiB of a 4.6 MiB RSS; docs/benchmarks.md).
/// Returns whether any memory was given back; `false` with another C
/// library.
#[allow(unsafe_code)]
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only returns free memory to the kernel; it
        // takes a size, touches no memory of ours and may be called at any
        // time from any thread.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glibc_keeps_the_heap() {
        assert_eq!(
            super::steady_heap(),
            cfg!(all(target_os = "linux", target_env = "gnu"))
        );
        // With glibc's default threshold (128 KiB) this block would get a
        // mapping of its own; now it comes from the heap.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        #[allow(unsafe_code)]
        {
            // SAFETY: mallinfo2 only reads the allocator's statistics.
            let mapped = || unsafe { libc::mallinfo2() }.hblkhd;
            let before = mapped();
            let block = std::hint::black_box(vec![1u8; 512 << 10]);
            assert_eq!(mapped(), before, "a 512 KiB block was mapped");
            drop(block);
        }
    }

    #[test]
    fn trim_gives_free_pages_back() {
        // A freed block below the heap's top is not given back by free(),
        // and is by trim.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            let blocks: Vec<Vec<u8>> = (0..64).map(|_| vec![1u8; 16 << 10]).collect();
            let keep = std::hint::black_box(vec![2u8; 64]);
            drop(blocks);
            assert!(super::trim(), "nothing was given back");
            drop(keep);
        }
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        assert!(!super::trim());
    }

    #[test]
    fn glibc_takes_the_setting() {
        assert_eq!(
            super::two_arenas(),
            cfg!(all(target_os = "linux", target_env = "gnu"))
        );
    }
}
