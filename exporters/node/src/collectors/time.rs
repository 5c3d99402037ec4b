//! `time`: the clock, the local time zone and the kernel's clocksources.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sidewatch_common::{BlockingCollector, CollectResult, Family};

use crate::paths::HostPaths;
use sidewatch_common::collector::CollectorDecl;

use crate::config::NodeConfig;

/// `--collector.time`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("time", "system time, zone and clocksources", |c| {
        crate::paths::reader(&c.paths, TimeCollector::new(c.paths.clone()))
    });

pub struct TimeCollector {
    paths: Arc<HostPaths>,
    /// Read once, as Go's time.Local is: parsing /etc/localtime every scrape
    /// would be the collector's most expensive step.
    zone: Option<tz::TimeZone>,
}

impl TimeCollector {
    pub fn new(paths: Arc<HostPaths>) -> Self {
        Self {
            paths,
            zone: tz::TimeZone::local().ok(),
        }
    }
}

impl BlockingCollector for TimeCollector {
    fn name(&self) -> &'static str {
        "time"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let mut out = vec![Family::gauge(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
        )
        .with(&[], now)];
        // The zone as the exporter's process sees it (TZ, /etc/localtime), as node_exporter reports it.
        let (zone, offset) = local_zone(self.zone.as_ref(), now as i64);
        out.push(
            Family::gauge(
                "node_time_zone_offset_seconds",
                "System time zone offset in seconds.",
            )
            .with(&[("time_zone", &zone)], offset),
        );
        out.extend(clocksources(&self.paths));
        Ok(out)
    }
}

fn local_zone(zone: Option<&tz::TimeZone>, unix: i64) -> (String, f64) {
    zone.and_then(|tz| tz.find_local_time_type(unix).ok())
        .map(|t| {
            (
                t.time_zone_designation().to_owned(),
                f64::from(t.ut_offset()),
            )
        })
        .unwrap_or_else(|| ("UTC".to_owned(), 0.0))
}

/// `clocksource<N>/{available,current}_clocksource` under sysfs.
pub fn clocksources(paths: &HostPaths) -> Vec<Family> {
    let mut available = Family::gauge(
        "node_time_clocksource_available_info",
        "Available clocksources read from '/sys/devices/system/clocksource'.",
    );
    let mut current = Family::gauge(
        "node_time_clocksource_current_info",
        "Current clocksource read from '/sys/devices/system/clocksource'.",
    );
    let dir = paths.sys("devices/system/clocksource");
    let mut devices: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("clocksource")
                .map(|n| (n.to_owned(), e.path()))
        })
        .collect();
    devices.sort();
    for (device, path) in devices {
        if let Ok(text) = crate::paths::read_text(path.join("available_clocksource")) {
            for source in text.split_ascii_whitespace() {
                available.add(&[("clocksource", source), ("device", &device)], 1.0);
            }
        }
        if let Ok(text) = crate::paths::read_text(path.join("current_clocksource")) {
            current.add(&[("clocksource", text.trim()), ("device", &device)], 1.0);
        }
    }
    vec![available, current]
}
