//! Key checks that stay bounded: `--check-keys` patterns walked with SCAN
//! (never KEYS), `--check-single-keys`, and `--count-keys` — all under one
//! per-scrape budget of keys and time.
//!
//! A pattern walk stops when the budget is spent and counts that in
//! `<ns>_key_checks_truncated_total{check,db,pattern}`. `--count-keys` walks
//! resume where the last scrape stopped, and the count shown is the last
//! complete one, so a pattern matching millions of keys gives an exact (if
//! older) number instead of a wrong fresh one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sidewatch_common::{CollectError, CollectFuture, Collector, Family, MetricKind};

use crate::client::{Client, ClientError};
pub use sidewatch_redis_client::scan::{scan_page, types, walk, KeyBudget, KeyPattern, Spend};

/// Parses redis_exporter's key lists: comma-separated `pattern` or
/// `dbN=pattern` (a bare pattern is in db 0).
pub fn parse_key_list(flag: &str, value: &str) -> Result<Vec<KeyPattern>, String> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (db, pattern) = match item.split_once('=') {
            Some((db, p)) if db.starts_with("db") => {
                let n = db[2..].parse::<u32>().map_err(|_| {
                    format!("--{flag}: {db:?} is not a database (use db0, db1, ...)")
                })?;
                (n, p)
            }
            _ => (0, item),
        };
        if pattern.is_empty() {
            return Err(format!("--{flag}: empty key or pattern in {item:?}"));
        }
        out.push(KeyPattern {
            db,
            pattern: pattern.to_owned(),
        });
    }
    Ok(out)
}

/// The command that gives a key's size, by type.
fn size_command(kind: &str) -> Option<&'static [u8]> {
    Some(match kind {
        "string" => b"STRLEN",
        "list" => b"LLEN",
        "set" => b"SCARD",
        "zset" => b"ZCARD",
        "hash" => b"HLEN",
        "stream" => b"XLEN",
        _ => return None,
    })
}

/// Strings up to this length are read to report numeric values.
const VALUE_PREFIX: usize = 64;

/// What the checks found for one key.
struct KeyResult {
    db: u32,
    key: String,
    size: f64,
    value: Option<f64>,
}

/// State of one `--count-keys` walk, kept between scrapes.
#[derive(Default)]
struct CountWalk {
    cursor: u64,
    partial: u64,
    last_complete: Option<u64>,
}

/// The `keys` collector.
pub struct KeysCollector {
    pub client: Arc<Client>,
    pub namespace: &'static str,
    pub check_keys: Vec<KeyPattern>,
    pub single_keys: Vec<KeyPattern>,
    pub count_keys: Vec<KeyPattern>,
    pub budget: KeyBudget,
    /// Emit `<ns>_key_value` (off with --disable-exporting-key-values).
    pub export_values: bool,
    /// Leave out sizes and values while the instance is a master
    /// (--skip-checkkeys-for-role-master); counts still run.
    pub skip_on_master: bool,
    count_walks: Mutex<HashMap<(u32, String), CountWalk>>,
    truncated: Truncations,
}

/// Walks stopped by the budget, by (check, db, pattern), since start.
#[derive(Default)]
pub struct Truncations(Mutex<HashMap<(&'static str, u32, String), u64>>);

impl Truncations {
    pub fn note(&self, check: &'static str, p: &KeyPattern, budget: &KeyBudget) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t.entry((check, p.db, p.pattern.clone())).or_default() += 1;
        tracing::warn!(
            check,
            db = p.db,
            pattern = %p.pattern,
            max_keys = budget.max_keys,
            time_budget = ?budget.time,
            "key walk stopped at the scrape's key or time budget"
        );
    }

    /// `<ns>_key_checks_truncated_total{check,db,pattern}`.
    pub fn family(&self, ns: &str) -> Family {
        let mut f = Family::counter(
            format!("{ns}_key_checks_truncated_total"),
            "Pattern walks stopped by the per-scrape key or time budget before SCAN finished.",
        );
        let t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for ((check, db, pattern), n) in t.iter() {
            f.add(
                &[
                    ("check", check),
                    ("db", &format!("db{db}")),
                    ("pattern", pattern),
                ],
                *n as f64,
            );
        }
        f
    }
}

impl KeysCollector {
    pub fn new(
        client: Arc<Client>,
        namespace: &'static str,
        check_keys: Vec<KeyPattern>,
        single_keys: Vec<KeyPattern>,
        count_keys: Vec<KeyPattern>,
        budget: KeyBudget,
    ) -> Self {
        Self {
            client,
            namespace,
            check_keys,
            single_keys,
            count_keys,
            budget,
            export_values: true,
            skip_on_master: false,
            count_walks: Mutex::new(HashMap::new()),
            truncated: Truncations::default(),
        }
    }

    /// Sizes (and small numeric values) of keys in one db.
    async fn measure(
        &self,
        db: u32,
        keys: Vec<Vec<u8>>,
        wrong: &mut Vec<(u32, String, String)>,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<KeyResult>, ClientError> {
        let kinds = types(&self.client, db, &keys, deadline).await?;
        let mut cmds: Vec<Vec<&[u8]>> = Vec::new();
        let mut plan: Vec<(usize, bool)> = Vec::new();
        let prefix_end = (VALUE_PREFIX - 1).to_string();
        for (i, (key, kind)) in keys.iter().zip(&kinds).enumerate() {
            match size_command(kind) {
                Some(cmd) => {
                    cmds.push(vec![cmd, key]);
                    let is_string = kind == "string";
                    if is_string {
                        cmds.push(vec![b"GETRANGE", key, b"0", prefix_end.as_bytes()]);
                    }
                    plan.push((i, is_string));
                }
                // Gone between SCAN and TYPE: nothing to report.
                None if kind == "none" => {}
                None => wrong.push((db, String::from_utf8_lossy(key).into_owned(), kind.clone())),
            }
        }
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        let mut s = self.client.session(deadline).await?;
        s.select(db).await?;
        let refs: Vec<&[&[u8]]> = cmds.iter().map(|c| c.as_slice()).collect();
        let mut replies = s.pipeline(&refs).await?.into_iter();
        let mut out = Vec::with_capacity(plan.len());
        for (i, is_string) in plan {
            let size = replies.next().and_then(|v| v.as_i64());
            let value = if is_string {
                let prefix = replies.next();
                match (size, prefix) {
                    (Some(n), Some(v)) if (n as usize) < VALUE_PREFIX => v
                        .as_str()
                        .and_then(|s| s.trim().parse::<f64>().ok())
                        .filter(|x| x.is_finite()),
                    _ => None,
                }
            } else {
                None
            };
            if let Some(size) = size {
                out.push(KeyResult {
                    db,
                    key: String::from_utf8_lossy(&keys[i]).into_owned(),
                    size: size as f64,
                    value,
                });
            }
        }
        Ok(out)
    }

    /// Whether the server answers ROLE with `master`.
    async fn is_master(&self, deadline: tokio::time::Instant) -> Result<bool, ClientError> {
        let mut s = self.client.session(deadline).await?;
        let reply = s.cmd(&[b"ROLE"]).await?;
        Ok(reply
            .as_array()
            .and_then(|a| a.first())
            .and_then(|v| v.as_str())
            == Some("master"))
    }

    async fn run(&self, deadline: tokio::time::Instant) -> Result<Vec<Family>, ClientError> {
        let ns = self.namespace;
        let mut spend = Spend::start(&self.budget, deadline);
        let mut results: Vec<KeyResult> = Vec::new();
        let mut wrong: Vec<(u32, String, String)> = Vec::new();
        let skip = self.skip_on_master && self.is_master(deadline).await?;
        let (single_keys, check_keys): (&[KeyPattern], &[KeyPattern]) = if skip {
            (&[], &[])
        } else {
            (&self.single_keys, &self.check_keys)
        };
        // Single keys first: they are cheap and named explicitly.
        let mut by_db: Vec<(u32, Vec<Vec<u8>>)> = Vec::new();
        for p in single_keys {
            match by_db.iter_mut().find(|(db, _)| *db == p.db) {
                Some((_, keys)) => keys.push(p.pattern.as_bytes().to_vec()),
                None => by_db.push((p.db, vec![p.pattern.as_bytes().to_vec()])),
            }
        }
        for (db, keys) in by_db {
            results.extend(self.measure(db, keys, &mut wrong, deadline).await?);
        }
        for p in check_keys {
            let (keys, done) = walk(&self.client, p, self.budget.batch, &mut spend).await?;
            if !done {
                self.truncated.note("check-keys", p, &self.budget);
            }
            for chunk in keys.chunks(self.budget.batch.max(1)) {
                let found = self
                    .measure(p.db, chunk.to_vec(), &mut wrong, deadline)
                    .await?;
                // A key matched by two patterns is reported once.
                for r in found {
                    if !results.iter().any(|x| x.db == r.db && x.key == r.key) {
                        results.push(r);
                    }
                }
            }
        }
        // Counting has a budget of its own, so big --check-keys patterns
        // cannot starve it (and the other way round).
        let mut spend = Spend::start(&self.budget, deadline);
        let mut counts: Vec<(u32, String, u64)> = Vec::new();
        for p in &self.count_keys {
            if let Some(n) = self.count(p, &mut spend).await? {
                counts.push((p.db, p.pattern.clone(), n));
            }
        }

        let mut size = Family::gauge(format!("{ns}_key_size"), "The length or size of \"key\"");
        let mut value = Family::gauge(format!("{ns}_key_value"), "The value of \"key\"");
        for r in &results {
            let db = format!("db{}", r.db);
            size.add(&[("db", &db), ("key", &r.key)], r.size);
            if let Some(v) = r.value.filter(|_| self.export_values) {
                value.add(&[("db", &db), ("key", &r.key)], v);
            }
        }
        let mut count = Family::gauge(format!("{ns}_keys_count"), "Count of keys");
        for (db, pattern, n) in counts {
            count.add(&[("db", &format!("db{db}")), ("key", &pattern)], n as f64);
        }
        // Bookkeeping first: the series limit cuts from the end, and what
        // was cut must still be visible.
        Ok(vec![
            self.truncated.family(ns),
            unexpected_types(ns, "keys", &wrong),
            count,
            size,
            value,
        ])
    }

    /// Advances one count walk; the last complete count, if any.
    async fn count(&self, p: &KeyPattern, spend: &mut Spend) -> Result<Option<u64>, ClientError> {
        let key = (p.db, p.pattern.clone());
        let (mut cursor, mut partial) = {
            let walks = self.count_walks.lock().unwrap_or_else(|e| e.into_inner());
            walks
                .get(&key)
                .map(|w| (w.cursor, w.partial))
                .unwrap_or((0, 0))
        };
        let mut finished = false;
        while !spend.exhausted() {
            let (next, page) = scan_page(
                &self.client,
                p.db,
                cursor,
                &p.pattern,
                self.budget.batch,
                spend.deadline,
            )
            .await?;
            spend.take(page.len());
            partial += page.len() as u64;
            cursor = next;
            if next == 0 {
                finished = true;
                break;
            }
        }
        let mut walks = self.count_walks.lock().unwrap_or_else(|e| e.into_inner());
        let w = walks.entry(key).or_default();
        if finished {
            w.last_complete = Some(partial);
            w.cursor = 0;
            w.partial = 0;
        } else {
            w.cursor = cursor;
            w.partial = partial;
        }
        let last = w.last_complete;
        drop(walks);
        if !finished {
            self.truncated.note("count-keys", p, &self.budget);
        }
        Ok(last)
    }
}

/// `<ns>_key_check_unexpected_type{check,db,key,type}`: keys a check could
/// not measure because of their type.
pub fn unexpected_types(ns: &str, check: &str, wrong: &[(u32, String, String)]) -> Family {
    let mut f = Family::new(
        format!("{ns}_key_check_unexpected_type"),
        "Keys a check found with a type it cannot measure (1 per key, labelled with the type).",
        MetricKind::Gauge,
    );
    for (db, key, kind) in wrong {
        f.add(
            &[
                ("check", check),
                ("db", &format!("db{db}")),
                ("key", key),
                ("type", kind),
            ],
            1.0,
        );
    }
    f
}

impl Collector for KeysCollector {
    fn name(&self) -> &'static str {
        "keys"
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
    fn key_lists_as_redis_exporter_writes_them() {
        let got = parse_key_list("check-keys", "db3=user:*, session:*,db0=a=b").expect("parse");
        assert_eq!(
            got,
            vec![
                KeyPattern {
                    db: 3,
                    pattern: "user:*".into()
                },
                KeyPattern {
                    db: 0,
                    pattern: "session:*".into()
                },
                KeyPattern {
                    db: 0,
                    pattern: "a=b".into()
                },
            ]
        );
        assert!(parse_key_list("check-keys", "dbx=a").is_err());
        assert!(parse_key_list("check-keys", "db1=").is_err());
        assert_eq!(parse_key_list("check-keys", ""), Ok(vec![]));
    }
}
