//! The exporter's own process metrics (`process_*`), as every Prometheus
//! client library exposes them.

use procfs::process::Process;

use crate::metrics::Family;

/// Reads /proc/self; on any error the families are simply absent.
pub fn families() -> Vec<Family> {
    let Ok(me) = Process::myself() else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(6);
    if let Ok(stat) = me.stat() {
        let ticks = procfs::ticks_per_second() as f64;
        out.push(
            Family::counter(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
            )
            .with(&[], (stat.utime + stat.stime) as f64 / ticks),
        );
        out.push(
            Family::gauge(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
            )
            .with(&[], (stat.rss * procfs::page_size()) as f64),
        );
        out.push(
            Family::gauge(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
            )
            .with(&[], stat.vsize as f64),
        );
        if let Ok(boot) = procfs::boot_time_secs() {
            out.push(
                Family::gauge(
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                )
                .with(&[], boot as f64 + stat.starttime as f64 / ticks),
            );
        }
    }
    if let Ok(fds) = me.fd_count() {
        out.push(
            Family::gauge("process_open_fds", "Number of open file descriptors.")
                .with(&[], fds as f64),
        );
    }
    if let Ok(limits) = me.limits() {
        if let procfs::process::LimitValue::Value(max) = limits.max_open_files.soft_limit {
            out.push(
                Family::gauge(
                    "process_max_fds",
                    "Maximum number of open file descriptors.",
                )
                .with(&[], max as f64),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(families: &[Family], name: &str) -> f64 {
        let family = families.iter().find(|f| f.name == name).expect(name);
        family.samples[0].value
    }

    #[test]
    fn the_start_time_is_the_kernels_and_stays_put() {
        let me = Process::myself().expect("/proc/self");
        let ticks = procfs::ticks_per_second() as f64;
        let boot = procfs::boot_time_secs().expect("btime") as f64;
        let expected = boot + me.stat().expect("stat").starttime as f64 / ticks;
        let first = families();
        let second = families();
        assert_eq!(value(&first, "process_start_time_seconds"), expected);
        assert_eq!(value(&second, "process_start_time_seconds"), expected);
        // The rest is read anew each time.
        let before = value(&first, "process_cpu_seconds_total");
        let after = value(&second, "process_cpu_seconds_total");
        assert!(after >= before, "cpu seconds went from {before} to {after}");
    }
}
