//! Stream checks: `--check-streams` patterns (walked with SCAN under the key
//! budget) and `--check-single-streams`, reported with XINFO STREAM, GROUPS
//! and CONSUMERS under redis_exporter's names, plus the consumer-group lag
//! Redis 7 reports.

use std::sync::Arc;

use sidewatch_common::{CollectError, CollectFuture, Collector, Family};

use crate::client::{Client, ClientError};
use crate::collectors::keys::{
    types, unexpected_types, walk, KeyBudget, KeyPattern, Spend, Truncations,
};
use crate::resp::Value;

/// The millisecond part of a stream ID (`1700000000000-0`).
pub fn id_millis(id: &str) -> Option<f64> {
    id.split('-').next()?.parse::<f64>().ok()
}

pub struct StreamsCollector {
    pub client: Arc<Client>,
    pub namespace: &'static str,
    pub check_streams: Vec<KeyPattern>,
    pub single_streams: Vec<KeyPattern>,
    pub budget: KeyBudget,
    /// `--streams-exclude-consumer-metrics`: leave out per-consumer series.
    pub exclude_consumers: bool,
    pub truncated: Truncations,
}

struct Families {
    length: Family,
    radix_keys: Family,
    radix_nodes: Family,
    last_id: Family,
    groups: Family,
    group_consumers: Family,
    group_pending: Family,
    group_last_delivered: Family,
    group_entries_read: Family,
    group_lag: Family,
    consumer_pending: Family,
    consumer_idle: Family,
}

impl Families {
    fn new(ns: &str) -> Self {
        let g = |name: &str, help: &'static str| Family::gauge(format!("{ns}_{name}"), help);
        Self {
            length: g("stream_length", "The number of elements of the stream"),
            radix_keys: g("stream_radix_tree_keys", "Radix tree keys count"),
            radix_nodes: g("stream_radix_tree_nodes", "Radix tree nodes count"),
            last_id: g(
                "stream_last_generated_id",
                "The epoch timestamp (ms) of the latest message on the stream",
            ),
            groups: g("stream_groups", "Groups count of stream"),
            group_consumers: g("stream_group_consumers", "Consumers count of stream group"),
            group_pending: g(
                "stream_group_messages_pending",
                "Pending number of messages in that stream group",
            ),
            group_last_delivered: g(
                "stream_group_last_delivered_id",
                "The epoch timestamp (ms) of the last delivered message",
            ),
            group_entries_read: g(
                "stream_group_entries_read",
                "Total number of entries read from the stream group",
            ),
            group_lag: g(
                "stream_group_lag",
                "The number of messages waiting to be delivered to the stream group's consumers",
            ),
            consumer_pending: g(
                "stream_group_consumer_messages_pending",
                "Pending number of messages for this specific consumer",
            ),
            consumer_idle: g(
                "stream_group_consumer_idle_seconds",
                "Consumer idle time in seconds",
            ),
        }
    }

    fn into_vec(self) -> Vec<Family> {
        vec![
            self.length,
            self.radix_keys,
            self.radix_nodes,
            self.last_id,
            self.groups,
            self.group_consumers,
            self.group_pending,
            self.group_last_delivered,
            self.group_entries_read,
            self.group_lag,
            self.consumer_pending,
            self.consumer_idle,
        ]
    }
}

fn num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_i64).map(|n| n as f64)
}

impl StreamsCollector {
    async fn report(
        &self,
        db: u32,
        stream: &[u8],
        f: &mut Families,
        wrong: &mut Vec<(u32, String, String)>,
        deadline: tokio::time::Instant,
    ) -> Result<(), ClientError> {
        let name = String::from_utf8_lossy(stream).into_owned();
        let dbl = format!("db{db}");
        let mut s = self.client.session(deadline).await?;
        s.select(db).await?;
        let replies = s
            .pipeline(&[
                &[b"XINFO", b"STREAM", stream],
                &[b"XINFO", b"GROUPS", stream],
            ])
            .await?;
        let (info, groups) = match replies.as_slice() {
            [Value::Error(e), ..] if e.starts_with("WRONGTYPE") => {
                drop(s);
                let kind = types(&self.client, db, &[stream.to_vec()], deadline).await?;
                wrong.push((db, name, kind.into_iter().next().unwrap_or_default()));
                return Ok(());
            }
            // No such key (a single stream not created yet), or, in a
            // cluster, a key another node owns and reports.
            [Value::Error(e), ..]
                if e.contains("no such key") || e.starts_with("MOVED") || e.starts_with("ASK") =>
            {
                return Ok(())
            }
            [Value::Error(e), ..] | [_, Value::Error(e)] => {
                return Err(ClientError::Server(e.clone()))
            }
            [info, groups] => (info.clone(), groups.clone()),
            _ => return Err(ClientError::Server("XINFO answered nothing".into())),
        };
        let sl = [("db", dbl.as_str()), ("stream", name.as_str())];
        if let Some(n) = num(info.field("length")) {
            f.length.add(&sl, n);
        }
        if let Some(n) = num(info.field("radix-tree-keys")) {
            f.radix_keys.add(&sl, n);
        }
        if let Some(n) = num(info.field("radix-tree-nodes")) {
            f.radix_nodes.add(&sl, n);
        }
        if let Some(ms) = info
            .field("last-generated-id")
            .and_then(Value::as_str)
            .and_then(id_millis)
        {
            f.last_id.add(&sl, ms);
        }
        let groups = groups.as_array().unwrap_or_default().to_vec();
        f.groups.add(&sl, groups.len() as f64);
        let mut names: Vec<Vec<u8>> = Vec::new();
        for g in &groups {
            let Some(group) = g.field("name").and_then(Value::to_text) else {
                continue;
            };
            let gl = [
                ("db", dbl.as_str()),
                ("stream", name.as_str()),
                ("group", group.as_str()),
            ];
            if let Some(n) = num(g.field("consumers")) {
                f.group_consumers.add(&gl, n);
            }
            if let Some(n) = num(g.field("pending")) {
                f.group_pending.add(&gl, n);
            }
            if let Some(ms) = g
                .field("last-delivered-id")
                .and_then(Value::as_str)
                .and_then(id_millis)
            {
                f.group_last_delivered.add(&gl, ms);
            }
            if let Some(n) = num(g.field("entries-read")) {
                f.group_entries_read.add(&gl, n);
            }
            // Nil when Redis cannot tell (after deletions); then no sample.
            if let Some(n) = num(g.field("lag")) {
                f.group_lag.add(&gl, n);
            }
            names.push(group.into_bytes());
        }
        if self.exclude_consumers || names.is_empty() {
            return Ok(());
        }
        let cmds: Vec<[&[u8]; 4]> = names
            .iter()
            .map(|g| [b"XINFO" as &[u8], b"CONSUMERS", stream, g.as_slice()])
            .collect();
        let refs: Vec<&[&[u8]]> = cmds.iter().map(|c| c.as_slice()).collect();
        let replies = s.pipeline(&refs).await?;
        for (group, consumers) in names.iter().zip(replies) {
            let group = String::from_utf8_lossy(group);
            for c in consumers.as_array().unwrap_or_default() {
                let Some(consumer) = c.field("name").and_then(Value::to_text) else {
                    continue;
                };
                let cl = [
                    ("db", dbl.as_str()),
                    ("stream", name.as_str()),
                    ("group", group.as_ref()),
                    ("consumer", consumer.as_str()),
                ];
                if let Some(n) = num(c.field("pending")) {
                    f.consumer_pending.add(&cl, n);
                }
                if let Some(ms) = num(c.field("idle")) {
                    f.consumer_idle.add(&cl, ms / 1e3);
                }
            }
        }
        Ok(())
    }

    async fn run(&self, deadline: tokio::time::Instant) -> Result<Vec<Family>, ClientError> {
        let ns = self.namespace;
        let mut f = Families::new(ns);
        let mut wrong = Vec::new();
        let mut spend = Spend::start(&self.budget, deadline);
        let mut seen: Vec<(u32, Vec<u8>)> = Vec::new();
        for p in &self.single_streams {
            self.report(p.db, p.pattern.as_bytes(), &mut f, &mut wrong, deadline)
                .await?;
            seen.push((p.db, p.pattern.as_bytes().to_vec()));
        }
        for p in &self.check_streams {
            let (keys, done) = walk(&self.client, p, self.budget.batch, &mut spend).await?;
            if !done {
                self.truncated.note("check-streams", p, &self.budget);
            }
            let kinds = types(&self.client, p.db, &keys, deadline).await?;
            for (key, kind) in keys.into_iter().zip(kinds) {
                // Patterns match any type; only streams are reported.
                if kind != "stream" || seen.iter().any(|(d, k)| *d == p.db && *k == key) {
                    continue;
                }
                self.report(p.db, &key, &mut f, &mut wrong, deadline)
                    .await?;
                seen.push((p.db, key));
            }
        }
        // Bookkeeping first: the series limit cuts from the end.
        let mut out = vec![
            self.truncated.family(ns),
            unexpected_types(ns, "streams", &wrong),
        ];
        out.extend(f.into_vec());
        Ok(out)
    }
}

impl Collector for StreamsCollector {
    fn name(&self) -> &'static str {
        "streams"
    }

    fn collect<'a>(&'a self, ctx: &'a sidewatch_common::ScrapeContext) -> CollectFuture<'a> {
        Box::pin(async move {
            self.run(ctx.deadline())
                .await
                .map_err(|e| CollectError::Target(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids() {
        assert_eq!(id_millis("1700000000123-4"), Some(1_700_000_000_123.0));
        assert_eq!(id_millis("0-0"), Some(0.0));
        assert_eq!(id_millis("x"), None);
    }
}
