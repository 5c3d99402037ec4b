//! The kernel clock's discipline state, as `adjtimex(2)` reports it with
//! `modes = 0` (a read-only query: nothing is set, no privilege is needed).
//!
//! Neither rustix nor the standard library wraps this call, so this crate
//! holds its `unsafe` (with `sidewatch-malloc`, the only crates that may): one zeroed `struct timex` and one call,
//! in [`read`]. Callers get a plain [`Timex`] of integers, which they can also
//! build by hand to test what they make of it.

use std::io;

/// `adjtimex`'s return value when the clock is not synchronised
/// (`TIME_ERROR` in `<sys/timex.h>`).
pub const TIME_ERROR: i32 = 5;

/// The status bit saying `offset` and `jitter` are in nanoseconds rather
/// than microseconds (`STA_NANO`).
pub const STA_NANO: i64 = 0x2000;

/// The status bit saying the clock is not synchronised (`STA_UNSYNC`).
pub const STA_UNSYNC: i64 = 0x0040;

/// The fields of `struct timex`, widened to `i64`, and the call's return
/// value (the clock state: `TIME_OK` 0 … `TIME_ERROR` 5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timex {
    pub state: i32,
    pub offset: i64,
    pub freq: i64,
    pub maxerror: i64,
    pub esterror: i64,
    pub status: i64,
    pub constant: i64,
    pub precision: i64,
    pub tolerance: i64,
    pub tick: i64,
    pub ppsfreq: i64,
    pub jitter: i64,
    pub shift: i64,
    pub stabil: i64,
    pub jitcnt: i64,
    pub calcnt: i64,
    pub errcnt: i64,
    pub stbcnt: i64,
    pub tai: i64,
}

/// Reads the kernel clock's state without changing it.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
// `c_long` is i64 here but i32 on 32-bit targets: the conversions are real there.
#[allow(clippy::useless_conversion)]
pub fn read() -> io::Result<Timex> {
    // SAFETY: `libc::timex` is a plain C struct of integers (and a timeval):
    // all-zero is a valid value of every field, and `modes = 0` is the
    // documented read-only query.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: `tx` is a valid, exclusively borrowed `struct timex` that lives
    // across the call; with `modes = 0` the kernel only writes into it.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Timex {
        state,
        offset: i64::from(tx.offset),
        freq: i64::from(tx.freq),
        maxerror: i64::from(tx.maxerror),
        esterror: i64::from(tx.esterror),
        status: i64::from(tx.status),
        constant: i64::from(tx.constant),
        precision: i64::from(tx.precision),
        tolerance: i64::from(tx.tolerance),
        tick: i64::from(tx.tick),
        ppsfreq: i64::from(tx.ppsfreq),
        jitter: i64::from(tx.jitter),
        shift: i64::from(tx.shift),
        stabil: i64::from(tx.stabil),
        jitcnt: i64::from(tx.jitcnt),
        calcnt: i64::from(tx.calcnt),
        errcnt: i64::from(tx.errcnt),
        stbcnt: i64::from(tx.stbcnt),
        tai: i64::from(tx.tai),
    })
}

/// Elsewhere there is no `adjtimex`.
#[cfg(not(target_os = "linux"))]
pub fn read() -> io::Result<Timex> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "adjtimex(2) is Linux only",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_the_clock_needs_no_privilege_and_changes_nothing() {
        let a = read().expect("adjtimex");
        let b = read().expect("adjtimex");
        // A kernel tick is 10 ms at most (USER_HZ 100) and positive.
        assert!(a.tick > 0 && a.tick <= 10_000, "{a:?}");
        assert!((0..=TIME_ERROR).contains(&a.state), "{a:?}");
        // Nothing was set: the discipline parameters are the same.
        assert_eq!((a.tick, a.constant, a.tai), (b.tick, b.constant, b.tai));
    }
}
