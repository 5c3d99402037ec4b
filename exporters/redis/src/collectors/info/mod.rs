//! The `info` collector: INFO ALL plus the few CONFIG, SLOWLOG and LATENCY
//! answers redis_exporter adds, sent as one pipelined round trip, mapped to
//! redis_exporter's family names, types and labels.
//!
//! - [`fields`]: the exported fields, a table;
//! - [`mapping`]: an INFO reply to families, pure;
//! - this module: the round trip to the server.

mod fields;
mod mapping;

pub use fields::FIELDS;
pub use mapping::{families, Extras, InfoOptions};

use std::sync::Arc;

use sidewatch_common::{CollectError, CollectFuture, Collector, Family};

use crate::client::{Client, ClientError};
use crate::info::Info;
use crate::resp::Value;

/// Gathers INFO and its extras in one round trip.
pub struct InfoCollector {
    pub client: Arc<Client>,
    pub namespace: &'static str,
    /// `--config-command`: the CONFIG command's name (renamed on some
    /// managed services); empty to skip the CONFIG-based families.
    pub config_command: String,
    pub options: InfoOptions,
}

const CONFIG_NAMES: [&str; 6] = [
    "maxmemory",
    "maxclients",
    "io-threads",
    "databases",
    "repl-backlog-size",
    "client-output-buffer-limit",
];

impl InfoCollector {
    async fn gather(&self, deadline: tokio::time::Instant) -> Result<(Info, Extras), ClientError> {
        let mut cmds: Vec<Vec<&[u8]>> = vec![vec![b"INFO", b"ALL"]];
        let config = self.config_command.as_bytes();
        if !config.is_empty() {
            for name in CONFIG_NAMES {
                cmds.push(vec![config, b"GET", name.as_bytes()]);
            }
        }
        cmds.push(vec![b"SLOWLOG", b"LEN"]);
        cmds.push(vec![b"SLOWLOG", b"GET", b"1"]);
        cmds.push(vec![b"LATENCY", b"LATEST"]);
        if self.options.latency_histograms {
            cmds.push(vec![b"LATENCY", b"HISTOGRAM"]);
        }
        let refs: Vec<&[&[u8]]> = cmds.iter().map(|c| c.as_slice()).collect();
        let mut session = self.client.session(deadline).await?;
        let mut replies = session.pipeline(&refs).await?.into_iter();
        let mut info_reply = replies.next().unwrap_or(Value::Nil);
        if let Value::Error(_) = info_reply {
            // Servers that do not know `INFO ALL` answer plain INFO.
            info_reply = session.cmd(&[b"INFO"]).await?;
        }
        let text = info_reply
            .as_str()
            .ok_or_else(|| ClientError::Server(format!("INFO answered {info_reply:?}")))?;
        let info = Info::parse(text);
        let mut extras = Extras {
            now: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default(),
            ..Extras::default()
        };
        if !config.is_empty() {
            for _ in CONFIG_NAMES {
                if let Some(v) = replies.next() {
                    extras.config.extend(
                        v.pairs()
                            .into_iter()
                            .filter_map(|(k, v)| v.to_text().map(|v| (k, v))),
                    );
                }
            }
        }
        extras.slowlog_len = replies.next().and_then(|v| v.as_i64()).map(|n| n as f64);
        extras.slowlog_last = replies.next().and_then(|v| {
            let entry = v.as_array()?.first()?.as_array()?.to_vec();
            Some((
                entry.first()?.as_i64()? as f64,
                entry.get(2)?.as_i64()? as f64,
            ))
        });
        if let Some(Value::Array(events)) = replies.next() {
            for e in events {
                let Some(e) = e.as_array() else { continue };
                if let (Some(name), Some(at), Some(ms)) = (
                    e.first().and_then(Value::to_text),
                    e.get(1).and_then(Value::as_i64),
                    e.get(2).and_then(Value::as_i64),
                ) {
                    extras.latency.push((name, at as f64, ms as f64));
                }
            }
        }
        if self.options.latency_histograms {
            // Servers before 7 answer an error: no histograms.
            if let Some(reply) = replies.next() {
                extras.latency_histograms = latency_histograms(&reply);
            }
        }
        if info.get("cluster_enabled") == Some("1") {
            if let Ok(v) = session.cmd(&[b"CLUSTER", b"INFO"]).await {
                extras.cluster_info = v.to_text();
            }
        }
        Ok((info, extras))
    }
}

impl Collector for InfoCollector {
    fn name(&self) -> &'static str {
        "info"
    }

    fn collect<'a>(&'a self, ctx: &'a sidewatch_common::ScrapeContext) -> CollectFuture<'a> {
        Box::pin(async move {
            let (info, extras) = self
                .gather(ctx.deadline())
                .await
                .map_err(|e| CollectError::Target(e.to_string()))?;
            let mut out = families(self.namespace, &info, &extras, self.options);
            if let Some(secs) = self.client.last_connect_seconds() {
                out.push(
                    Family::gauge(
                        format!(
                            "{}_exporter_last_scrape_connect_time_seconds",
                            self.namespace
                        ),
                        "How long the last connect to the target took.",
                    )
                    .with(&[], secs),
                );
            }
            Ok(out)
        })
    }
}

/// LATENCY HISTOGRAM's reply: `[cmd, [calls, N, histogram_usec, [bound,
/// count, ...]], ...]`, counts cumulative.
fn latency_histograms(reply: &Value) -> Vec<mapping::LatencyHistogram> {
    reply
        .pairs()
        .into_iter()
        .filter_map(|(cmd, v)| {
            let calls = v.field("calls")?.as_i64()? as f64;
            let buckets = v
                .field("histogram_usec")
                .map(|h| {
                    h.as_array()
                        .unwrap_or_default()
                        .chunks_exact(2)
                        .filter_map(|b| Some((b[0].as_i64()? as f64, b[1].as_i64()? as f64)))
                        .collect()
                })
                .unwrap_or_default();
            Some((cmd, buckets, calls))
        })
        .collect()
}
