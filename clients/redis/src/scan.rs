//! Walking key patterns with SCAN (never KEYS) under a per-scrape budget of
//! keys and time, for every exporter that looks for keys.

use std::time::Duration;

use crate::client::{Client, ClientError};
use crate::resp::Value;

/// A `dbN=pattern` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    pub db: u32,
    pub pattern: String,
}

/// How much one scrape may spend on key checks.
#[derive(Clone, Debug)]
pub struct KeyBudget {
    /// Most keys examined per scrape (over all patterns of a collector).
    pub max_keys: usize,
    /// Longest time the walks may take per scrape (also bounded by the scrape deadline).
    pub time: Duration,
    /// SCAN's COUNT hint (`--check-keys-batch-size`).
    pub batch: usize,
}

impl Default for KeyBudget {
    fn default() -> Self {
        Self {
            max_keys: 10_000,
            time: Duration::from_secs(3),
            batch: 1000,
        }
    }
}

/// The budget of one scrape, spent as keys are examined.
pub struct Spend {
    keys_left: usize,
    until: tokio::time::Instant,
    /// The scrape's deadline, for the commands of the walk.
    pub deadline: tokio::time::Instant,
}

impl Spend {
    /// The budget of a walk in a scrape that ends at `deadline`.
    pub fn start(budget: &KeyBudget, deadline: tokio::time::Instant) -> Self {
        let now = tokio::time::Instant::now();
        // Leave a tenth of what is left (at least 100 ms) to answer.
        let left = deadline.saturating_duration_since(now);
        let margin = (left / 10).max(Duration::from_millis(100));
        let until = (now + budget.time).min(deadline.checked_sub(margin).unwrap_or(now));
        Self {
            keys_left: budget.max_keys,
            until,
            deadline,
        }
    }

    pub fn exhausted(&self) -> bool {
        self.keys_left == 0 || tokio::time::Instant::now() >= self.until
    }

    pub fn take(&mut self, n: usize) {
        self.keys_left = self.keys_left.saturating_sub(n);
    }
}

/// One SCAN page in `db`: the next cursor (0 when done) and the keys.
pub async fn scan_page(
    client: &Client,
    db: u32,
    cursor: u64,
    pattern: &str,
    count: usize,
    deadline: tokio::time::Instant,
) -> Result<(u64, Vec<Vec<u8>>), ClientError> {
    let mut s = client.session(deadline).await?;
    s.select(db).await?;
    let cursor_arg = cursor.to_string();
    let count_arg = count.to_string();
    let reply = s
        .cmd(&[
            b"SCAN",
            cursor_arg.as_bytes(),
            b"MATCH",
            pattern.as_bytes(),
            b"COUNT",
            count_arg.as_bytes(),
        ])
        .await?;
    let parts = reply.as_array().unwrap_or_default();
    let next = parts
        .first()
        .and_then(Value::as_i64)
        .ok_or_else(|| ClientError::Server(format!("SCAN answered {reply:?}")))?;
    let keys = parts
        .get(1)
        .and_then(Value::as_array)
        .unwrap_or_default()
        .iter()
        .filter_map(|k| match k {
            Value::Bulk(b) => Some(b.clone()),
            _ => None,
        })
        .collect();
    Ok((u64::try_from(next).unwrap_or(0), keys))
}

/// Walks `pattern` from cursor 0 until done or the budget is spent.
/// Returns the keys and whether the walk finished.
pub async fn walk(
    client: &Client,
    p: &KeyPattern,
    batch: usize,
    spend: &mut Spend,
) -> Result<(Vec<Vec<u8>>, bool), ClientError> {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut cursor = 0u64;
    loop {
        if spend.exhausted() {
            return Ok((keys, false));
        }
        let (next, mut page) =
            scan_page(client, p.db, cursor, &p.pattern, batch, spend.deadline).await?;
        page.truncate(spend.keys_left);
        spend.take(page.len());
        keys.append(&mut page);
        if next == 0 {
            return Ok((keys, true));
        }
        cursor = next;
    }
}

/// TYPE of each key, pipelined.
pub async fn types(
    client: &Client,
    db: u32,
    keys: &[Vec<u8>],
    deadline: tokio::time::Instant,
) -> Result<Vec<String>, ClientError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut s = client.session(deadline).await?;
    s.select(db).await?;
    let cmds: Vec<[&[u8]; 2]> = keys.iter().map(|k| [b"TYPE" as &[u8], k]).collect();
    let refs: Vec<&[&[u8]]> = cmds.iter().map(|c| c.as_slice()).collect();
    Ok(s.pipeline(&refs)
        .await?
        .into_iter()
        .map(|v| match v {
            // Cluster: another node owns the key; that node's exporter reports it.
            Value::Error(e) if e.starts_with("MOVED") || e.starts_with("ASK") => "none".to_owned(),
            v => v.to_text().unwrap_or_default(),
        })
        .collect())
}
