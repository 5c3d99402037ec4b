//! `timex`: the kernel clock's NTP discipline (adjtimex(2), read-only): is
//! the clock synchronised, its offset, frequency correction, error bounds and
//! PPS counters, in node_exporter's names and units.

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};
use sidewatch_timex::{Timex, STA_NANO, TIME_ERROR};

use crate::config::NodeConfig;

/// `--collector.timex`: on by default.
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "timex",
    "kernel clock synchronisation state (adjtimex)",
    |c| crate::paths::reader(&c.paths, TimexCollector),
);

pub struct TimexCollector;

impl BlockingCollector for TimexCollector {
    fn name(&self) -> &'static str {
        "timex"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        match sidewatch_timex::read() {
            Ok(tx) => Ok(families(&tx)),
            // A seccomp profile may refuse the call: no data, as the peer.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(Vec::new()),
            Err(e) => Err(CollectError::io("adjtimex", e)),
        }
    }
}

/// `freq`, `ppsfreq` and `stabil` are parts per million with a 16-bit
/// fraction (adjtimex(2), NOTES).
const PPM16: f64 = 1_000_000.0 * 65_536.0;
const MICRO: f64 = 1_000_000.0;

/// What one reading says, as families.
pub fn families(tx: &Timex) -> Vec<Family> {
    // offset and jitter are in ns when STA_NANO is set, else in µs.
    let fine = if tx.status & STA_NANO != 0 {
        1_000_000_000.0
    } else {
        MICRO
    };
    let synced = if tx.state == TIME_ERROR { 0.0 } else { 1.0 };
    let g = |name: &'static str, help: &'static str, v: f64| Family::gauge(name, help).with(&[], v);
    let c = |name: &'static str, help: &'static str, v: i64| {
        Family::counter(name, help).with(&[], v as f64)
    };
    vec![
        g(
            "node_timex_sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            synced,
        ),
        g(
            "node_timex_offset_seconds",
            "Time offset in between local system and reference clock.",
            tx.offset as f64 / fine,
        ),
        g(
            "node_timex_frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            1.0 + tx.freq as f64 / PPM16,
        ),
        g(
            "node_timex_maxerror_seconds",
            "Maximum error in seconds.",
            tx.maxerror as f64 / MICRO,
        ),
        g(
            "node_timex_estimated_error_seconds",
            "Estimated error in seconds.",
            tx.esterror as f64 / MICRO,
        ),
        g(
            "node_timex_status",
            "Value of the status array bits.",
            tx.status as f64,
        ),
        g(
            "node_timex_loop_time_constant",
            "Phase-locked loop time constant.",
            tx.constant as f64,
        ),
        g(
            "node_timex_tick_seconds",
            "Seconds between clock ticks.",
            tx.tick as f64 / MICRO,
        ),
        g(
            "node_timex_pps_frequency_hertz",
            "Pulse per second frequency.",
            tx.ppsfreq as f64 / PPM16,
        ),
        g(
            "node_timex_pps_jitter_seconds",
            "Pulse per second jitter.",
            tx.jitter as f64 / fine,
        ),
        g(
            "node_timex_pps_shift_seconds",
            "Pulse per second interval duration.",
            tx.shift as f64,
        ),
        g(
            "node_timex_pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            tx.stabil as f64 / PPM16,
        ),
        c(
            "node_timex_pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            tx.jitcnt,
        ),
        c(
            "node_timex_pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            tx.calcnt,
        ),
        c(
            "node_timex_pps_error_total",
            "Pulse per second count of calibration errors.",
            tx.errcnt,
        ),
        c(
            "node_timex_pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            tx.stbcnt,
        ),
        g(
            "node_timex_tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            tx.tai as f64,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(fams: &[Family], name: &str) -> f64 {
        fams.iter()
            .find(|f| f.name == name)
            .and_then(|f| f.samples.first())
            .map(|s| s.value)
            .unwrap_or_else(|| panic!("{name} missing"))
    }

    #[test]
    fn units_follow_the_status_bits() {
        let micro = Timex {
            state: 0,
            offset: -2_500,
            freq: 65_536 * 12,
            maxerror: 16_000,
            esterror: 250,
            status: 0x0001,
            constant: 7,
            tick: 10_000,
            jitter: 40,
            tai: 37,
            ..Timex::default()
        };
        let f = families(&micro);
        assert_eq!(value(&f, "node_timex_sync_status"), 1.0);
        assert_eq!(value(&f, "node_timex_offset_seconds"), -0.0025);
        assert_eq!(value(&f, "node_timex_frequency_adjustment_ratio"), 1.000012);
        assert_eq!(value(&f, "node_timex_maxerror_seconds"), 0.016);
        assert_eq!(value(&f, "node_timex_estimated_error_seconds"), 0.00025);
        assert_eq!(value(&f, "node_timex_status"), 1.0);
        assert_eq!(value(&f, "node_timex_loop_time_constant"), 7.0);
        assert_eq!(value(&f, "node_timex_tick_seconds"), 0.01);
        assert_eq!(value(&f, "node_timex_pps_jitter_seconds"), 0.00004);
        assert_eq!(value(&f, "node_timex_tai_offset_seconds"), 37.0);
        assert_eq!(f.len(), 17);

        // STA_NANO: offset and jitter in nanoseconds; TIME_ERROR: not synced.
        let nano = Timex {
            state: TIME_ERROR,
            offset: 1_500_000,
            status: STA_NANO | 0x0040,
            jitter: 2_000,
            ..micro
        };
        let f = families(&nano);
        assert_eq!(value(&f, "node_timex_sync_status"), 0.0);
        assert_eq!(value(&f, "node_timex_offset_seconds"), 0.0015);
        assert_eq!(value(&f, "node_timex_pps_jitter_seconds"), 0.000002);
        assert_eq!(value(&f, "node_timex_status"), 8256.0);
    }
}
