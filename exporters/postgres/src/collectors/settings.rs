//! `pg_settings_<name>[_seconds|_bytes]`: numeric and boolean server settings,
//! with units converted to seconds and bytes as postgres_exporter does.
//!
//! A session's settings only change when its server process reads the
//! configuration again (`pg_conf_load_time()`), when recovery ends
//! (`in_hot_standby`, `transaction_read_only`), or when the session itself
//! sets one. So the families are kept per session and answered again while
//! its server process, its configuration's load time, the server's start
//! and its recovery state are unchanged: one short query instead of reading
//! and converting every setting each scrape (bench/postgres.py: about a
//! tenth of a default scrape's latency). They are read afresh at least once
//! a minute all the same.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sidewatch_common::metrics::{intern, intern_fmt, labels_of};
use sidewatch_common::{CollectError, CollectFuture, Collector, Family};

use super::PgContext;
use crate::pool::RowEvent;

/// statement_timeout is the one setting sidewatch sets in its own sessions
/// (each query's server-side timeout): its session default (`reset_val`) is
/// what the server gives every other session, and what is reported.
const QUERY: &str =
    "SELECT name, CASE WHEN name = 'statement_timeout' THEN reset_val ELSE setting END, \
                     COALESCE(unit, ''), short_desc, vartype \
                     FROM pg_settings WHERE vartype IN ('bool', 'integer', 'real')";

/// What the kept families are valid for: the session's server process, the
/// time it last read the configuration, the server's start and whether it
/// is in recovery.
const STATE: &str = "SELECT concat_ws(' ', pg_backend_pid(), pg_conf_load_time(), \
                     pg_postmaster_start_time(), pg_is_in_recovery())";

/// Kept families are read afresh after this long even when nothing says
/// they changed.
const MAX_AGE: Duration = Duration::from_secs(60);

/// Sessions whose settings are kept: one per lane is enough.
const KEPT: usize = 4;

pub struct SettingsCollector {
    pub ctx: Arc<PgContext>,
    /// (state, read at, families) per session, most recent last.
    kept: Mutex<Vec<(String, Instant, Vec<Family>)>>,
}

impl SettingsCollector {
    pub fn new(ctx: Arc<PgContext>) -> Self {
        Self {
            ctx,
            kept: Mutex::new(Vec::new()),
        }
    }

    fn kept(&self, state: &str) -> Option<Vec<Family>> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.iter()
            .find(|(s, at, _)| s == state && at.elapsed() < MAX_AGE)
            .map(|(_, _, families)| families.clone())
    }

    fn keep(&self, state: String, families: &[Family]) {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.retain(|(s, at, _)| *s != state && at.elapsed() < MAX_AGE);
        if kept.len() >= KEPT {
            kept.remove(0);
        }
        kept.push((state, Instant::now(), families.to_vec()));
    }
}

/// A setting's value in base units and the name suffix, or `None` when the
/// value is not a number or the unit unknown.
pub fn normalise(setting: &str, unit: &str, vartype: &str) -> Option<(f64, &'static str)> {
    let raw = if vartype == "bool" {
        match setting {
            "on" | "true" => 1.0,
            "off" | "false" => 0.0,
            _ => return None,
        }
    } else {
        setting.parse::<f64>().ok()?
    };
    let (factor, suffix) = match unit {
        "" => (1.0, ""),
        "ms" => (1e-3, "seconds"),
        "s" => (1.0, "seconds"),
        "min" => (60.0, "seconds"),
        "h" => (3600.0, "seconds"),
        "d" => (86_400.0, "seconds"),
        "B" => (1.0, "bytes"),
        "kB" | "1kB" => (1024.0, "bytes"),
        "2kB" => (2048.0, "bytes"),
        "4kB" => (4096.0, "bytes"),
        "8kB" => (8192.0, "bytes"),
        "16kB" => (16_384.0, "bytes"),
        "32kB" => (32_768.0, "bytes"),
        "64kB" => (65_536.0, "bytes"),
        "MB" => (1_048_576.0, "bytes"),
        "16MB" => (16.0 * 1_048_576.0, "bytes"),
        "32MB" => (32.0 * 1_048_576.0, "bytes"),
        "64MB" => (64.0 * 1_048_576.0, "bytes"),
        "GB" => (1_073_741_824.0, "bytes"),
        "TB" => (1_099_511_627_776.0, "bytes"),
        _ => return None,
    };
    // -1 means "disabled" and is kept as is.
    let value = if raw == -1.0 { raw } else { raw * factor };
    Some((value, suffix))
}

impl Collector for SettingsCollector {
    fn name(&self) -> &'static str {
        "settings"
    }

    fn collect<'a>(&'a self, scrape: &'a sidewatch_common::ScrapeContext) -> CollectFuture<'a> {
        let deadline = scrape.deadline();
        Box::pin(async move {
            let conn = self.ctx.main(deadline).await?;
            let rows = self.ctx.run(&conn, STATE, None, deadline).await?;
            let state = rows
                .rows
                .into_iter()
                .next()
                .and_then(|r| r.into_iter().next().flatten())
                .unwrap_or_default();
            if let Some(families) = self.kept(&state) {
                return Ok(families);
            }
            // Built once: cloned per setting without an allocation.
            let labels = labels_of(&self.ctx.legacy_labels);
            let mut families = Vec::with_capacity(400);
            self.ctx
                .run_each(&conn, QUERY, None, deadline, |event| {
                    let RowEvent::Row(row) = event else { return };
                    let get = |i: usize| row.get(i).copied().flatten().unwrap_or("");
                    let (name, setting, unit, desc, vartype) =
                        (get(0), get(1), get(2), get(3), get(4));
                    let Some((value, suffix)) = normalise(setting, unit, vartype) else {
                        return;
                    };
                    let base: Cow<'_, str> = if name.contains('.') {
                        Cow::Owned(name.replace('.', "_"))
                    } else {
                        Cow::Borrowed(name)
                    };
                    if base.contains(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                        return;
                    }
                    // The server's settings are the same every scrape: their
                    // names and help texts are kept once (interned).
                    let (metric, help) = if suffix.is_empty() {
                        (intern_fmt(format_args!("pg_settings_{base}")), intern(desc))
                    } else {
                        (
                            intern_fmt(format_args!("pg_settings_{base}_{suffix}")),
                            intern_fmt(format_args!("{desc} [Units converted to {suffix}.]")),
                        )
                    };
                    let mut f = Family::gauge(metric, help);
                    f.add_labels(labels.clone(), value);
                    families.push(f);
                })
                .await?;
            if families.is_empty() {
                return Err(CollectError::Target(
                    "pg_settings returned no numeric settings".to_owned(),
                ));
            }
            if !state.is_empty() {
                self.keep(state, &families);
            }
            Ok(families)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn units_convert_like_the_peer() {
        assert_eq!(
            normalise("4096", "kB", "integer"),
            Some((4_194_304.0, "bytes"))
        );
        assert_eq!(
            normalise("128", "8kB", "integer"),
            Some((1_048_576.0, "bytes"))
        );
        assert_eq!(normalise("300", "s", "integer"), Some((300.0, "seconds")));
        assert_eq!(normalise("200", "ms", "integer"), Some((0.2, "seconds")));
        assert_eq!(normalise("1", "min", "integer"), Some((60.0, "seconds")));
        assert_eq!(normalise("-1", "kB", "integer"), Some((-1.0, "bytes")));
        assert_eq!(normalise("on", "", "bool"), Some((1.0, "")));
        assert_eq!(normalise("0.9", "", "real"), Some((0.9, "")));
        assert_eq!(normalise("3", "furlong", "integer"), None);
    }
}
