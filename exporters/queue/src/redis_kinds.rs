//! Queues in Redis: plain lists, sorted sets and streams, and the layouts
//! BullMQ, Sidekiq, Celery and RQ write. Each queue is read with pipelined
//! commands on the backend's one connection.

use sidewatch_redis_client::client::{Client, ClientError};
use sidewatch_redis_client::resp::Value;

use crate::config::Kind;

/// What one queue reports.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct QueueReading {
    /// (state, depth)
    pub depth: Vec<(&'static str, f64)>,
    /// (state, age of the oldest job in seconds)
    pub oldest_age: Vec<(&'static str, f64)>,
    /// Streams: per consumer group.
    pub groups: Vec<GroupReading>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct GroupReading {
    pub group: String,
    pub lag: Option<f64>,
    pub pending: f64,
    pub oldest_pending_age: Option<f64>,
}

/// Where a queue's keys are.
#[derive(Debug, Clone)]
pub struct RedisQueue {
    pub kind: Kind,
    pub key: String,
    pub queue: String,
    pub prefix: String,
}

/// The score of a `ZRANGE key 0 0 WITHSCORES` reply.
fn lowest_score(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_array)
        .and_then(|a| a.get(1))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

fn num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_i64).map(|n| n as f64)
}

/// Fails on an error reply (WRONGTYPE and the like), so the queue's
/// failure is visible and the others still answer.
fn check(replies: &[Value]) -> Result<(), ClientError> {
    match replies.iter().find_map(|r| match r {
        Value::Error(e) => Some(e.clone()),
        _ => None,
    }) {
        Some(e) => Err(ClientError::Server(e)),
        None => Ok(()),
    }
}

/// Seconds since the epoch, from a sorted-set score or a job timestamp that
/// may be in seconds or milliseconds.
pub fn epoch_seconds(t: f64) -> f64 {
    if t > 1e11 {
        t / 1e3
    } else {
        t
    }
}

/// The millisecond part of a stream ID.
pub fn stream_id_ms(id: &str) -> Option<f64> {
    id.split('-').next()?.parse().ok()
}

/// `2024-05-01T12:00:00.123456Z` (RQ's `enqueued_at`) as seconds since the epoch.
pub fn iso8601_seconds(s: &str) -> Option<f64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once('T').or_else(|| s.split_once(' '))?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>());
    let (hh, mm, ss) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let frac: f64 = format!("0.{frac}").parse().ok()?;
    // Days from the civil date (proleptic Gregorian).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60 + ss) as f64 + frac)
}

impl RedisQueue {
    /// Reads the queue; `now` is seconds since the epoch.
    pub async fn read(
        &self,
        client: &Client,
        now: f64,
        deadline: tokio::time::Instant,
    ) -> Result<QueueReading, ClientError> {
        match self.kind {
            Kind::RedisList => self.list(client, deadline).await,
            Kind::RedisZset => self.zset(client, now, deadline).await,
            Kind::RedisStream => self.stream(client, now, deadline).await,
            Kind::Bullmq => self.bullmq(client, now, deadline).await,
            Kind::Sidekiq => self.sidekiq(client, now, deadline).await,
            Kind::Celery => self.celery(client, now, deadline).await,
            Kind::Rq => self.rq(client, now, deadline).await,
            Kind::Postgres => Ok(QueueReading::default()),
        }
    }

    async fn list(
        &self,
        client: &Client,
        deadline: tokio::time::Instant,
    ) -> Result<QueueReading, ClientError> {
        let mut s = client.session(deadline).await?;
        let r = s.pipeline(&[&[b"LLEN", self.key.as_bytes()]]).await?;
        check(&r)?;
        Ok(QueueReading {
            depth: vec![("waiting", num(r.first()).unwrap_or(0.0))],
            ..QueueReading::default()
        })
    }

    async fn zset(
        &self,
        client: &Client,
        now: f64,
        deadline: tokio::time::Instant,
    ) -> Result<QueueReading, ClientError> {
        let k = self.key.as_bytes();
        let mut s = client.session(deadline).await?;
        let r = s
            .pipeline(&[&[b"ZCARD", k], &[b"ZRANGE", k, b"0", b"0", b"WITHSCORES"]])
            .await?;
        check(&r)?;
        let mut out = QueueReading {
            depth: vec![("scheduled", num(r.first()).unwrap_or(0.0))],
            ..QueueReading::default()
        };
        if let Some(score) = lowest_score(r.get(1)) {
            out.oldest_age
                .push(("scheduled", (now - epoch_seconds(score)).max(0.0)));
        }
        Ok(out)
    }

    async fn stream(
        &self,
        client: &Client,
        now: f64,
        deadline: tokio::time::Instant,
    ) -> Result<QueueReading, ClientError> {
        let k = self.key.as_bytes();
        let mut s = client.session(deadline).await?;
        let r = s
            .pipeline(&[
                &[b"XLEN", k],
                &[b"XRANGE", k, b"-", b"+", b"COUNT", b"1"],
                &[b"XINFO", b"GROUPS", k],
            ])
            .await?;
        if let Some(Value::Error(e)) = r.first() {
            return Err(ClientError::Server(e.clone()));
        }
        let mut out = QueueReading {
            depth: vec![("waiting", num(r.first()).unwrap_or(0.0))],
            ..QueueReading::default()
        };
        if let Some(ms) = r
            .get(1)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_array)
            .and_then(|e| e.first())
            .and_then(Value::as_str)
            .and_then(stream_id_ms)
        {
            out.oldest_age.push(("waiting", (now - ms / 1e3).max(0.0)));
        }
        let groups: Vec<Value> = match r.get(2) {
            Some(Value::Array(g)) => g.clone(),
            _ => Vec::new(),
        };
        let names: Vec<String> = groups
            .iter()
            .filter_map(|g| g.field("name").and_then(Value::to_text))
            .collect();
        let cmds: Vec<[&[u8]; 3]> = names
            .iter()
            .map(|g| [b"XPENDING" as &[u8], k, g.as_bytes()])
            .collect();
        let refs: Vec<&[&[u8]]> = cmds.iter().map(|c| c.as_slice()).collect();
        let pendings = if refs.is_empty() {
            Vec::new()
        } else {
            s.pipeline(&refs).await?
        };
        for ((g, name), p) in groups.iter().zip(&names).zip(pendings) {
            // XPENDING summary: [count, smallest id, greatest id, consumers].
            let oldest = p
                .as_array()
                .and_then(|a| a.get(1))
                .and_then(Value::as_str)
                .and_then(stream_id_ms)
                .map(|ms| (now - ms / 1e3).max(0.0));
            out.groups.push(GroupReading {
                group: name.clone(),
                lag: num(g.field("lag")),
                pending: num(g.field("pending")).unwrap_or(0.0),
                oldest_pending_age: oldest,
            });
        }
        Ok(out)
    }

    /// BullMQ: `<prefix>:<queue>:{wait,paused,active}` lists,
    /// `{prioritized,delayed,completed,failed}` sorted sets, job hashes
    /// `<prefix>:<queue>:<id>` with a millisecond `timestamp`.
    async fn bullmq(
        &self,
        client: &Client,
        now: f64,
        deadline: tokio::time::Instant,
    ) -> Result<QueueReading, ClientError> {
        let base = format!("{}:{}", self.prefix, self.queue);
        let key = |s: &str| format!("{base}:{s}");
        let keys = [
            key("wait"),
            key("prioritized"),
            key("active"),
            key("delayed"),
            key("completed"),
            key("failed"),
            key("paused"),
        ];
        let mut s = client.session(deadline).await?;
        let r = s
            .pipeline(&[
                &[b"LLEN", keys[0].as_bytes()],
                &[b"ZCARD", keys[1].as_bytes()],
                &[b"LLEN", keys[2].as_bytes()],
                &[b"ZCARD", keys[3].as_bytes()],
                &[b"ZCARD", keys[4].as_bytes()],
                &[b"ZCARD", keys[5].as_bytes()],
                &[b"LLEN", keys[6].as_bytes()],
                // New jobs are pushed on the left; the oldest waits on the right.
                &[b"LINDEX", keys[0].as_bytes(), b"-1"],
            ])
            .await?;
        check(&r)?;
        let n = |i: usize| num(r.get(i)).unwrap_or(0.0);
        let mut out = QueueReading {
            depth: vec![
                ("waiting", n(0) + n(1)),
                ("active", n(2)),
                ("delayed", n(3)),
                ("completed", n(4)),
                ("failed", n(5)),
                ("paused", n(6)),
            ],
            ..QueueReading::default()
        };
        if let Some(id) = r.get(7).and_then(Value::to_text) {
            let job = format!("{base}:{id}");
            if let Some(ts) = s
                .cmd(&[b"HGET", job.as_bytes(), b"timestamp"])
                .await?
                .as_str()
                .and_then(|t| t.parse::<f64>().ok())
            {
                out.oldest_age.push(("waiting", (now - ts / 1e3).max(0.0)));
            }
        }
        Ok(out)
    }

    /// Sidekiq: `queue:<name>` list of JSON jobs with `enqueued_at`; the
    /// `schedule`, `retry` and `dead` sorted sets are shared by all queues.
    async fn sidekiq(
        &self,
        client: &Client,
        now: f64,
        deadline: tokio::time::Instant,
    ) -> Result<QueueReading, ClientError> {
        let list = format!("queue:{}", self.queue);
        let mut s = client.session(deadline).await?;
        let r = s
            .pipeline(&[
                &[b"LLEN", list.as_bytes()],
                &[b"LINDEX", list.as_bytes(), b"-1"],
                &[b"ZCARD", b"schedule"],
                &[b"ZCARD", b"retry"],
                &[b"ZCARD", b"dead"],
            ])
            .await?;
        check(&r)?;
        let n = |i: usize| num(r.get(i)).unwrap_or(0.0);
        let mut out = QueueReading {
            depth: vec![
                ("waiting", n(0)),
                ("scheduled", n(2)),
                ("retry", n(3)),
                ("dead", n(4)),
            ],
            ..QueueReading::default()
        };
        if let Some(at) = r
            .get(1)
            .and_then(Value::as_str)
            .and_then(|job| json_number(job, "enqueued_at"))
        {
            out.oldest_age
                .push(("waiting", (now - epoch_seconds(at)).max(0.0)));
        }
        Ok(out)
    }

    /// Celery on Redis: the queue is a list named like it, messages pushed
    /// on the left; `unacked` (hash) and `unacked_index` (sorted set by
    /// delivery time) hold delivered, unacknowledged messages of all queues.
    async fn celery(
        &self,
        client: &Client,
        now: f64,
        deadline: tokio::time::Instant,
    ) -> Result<QueueReading, ClientError> {
        let mut s = client.session(deadline).await?;
        let r = s
            .pipeline(&[
                &[b"LLEN", self.queue.as_bytes()],
                &[b"HLEN", b"unacked"],
                &[b"ZRANGE", b"unacked_index", b"0", b"0", b"WITHSCORES"],
            ])
            .await?;
        check(&r)?;
        let mut out = QueueReading {
            depth: vec![
                ("waiting", num(r.first()).unwrap_or(0.0)),
                ("active", num(r.get(1)).unwrap_or(0.0)),
            ],
            ..QueueReading::default()
        };
        if let Some(score) = lowest_score(r.get(2)) {
            out.oldest_age
                .push(("active", (now - epoch_seconds(score)).max(0.0)));
        }
        Ok(out)
    }

    /// RQ: `<prefix>:queue:<name>` list of job ids (oldest on the left), job
    /// hashes `<prefix>:job:<id>` with `enqueued_at`, and per-queue registries.
    async fn rq(
        &self,
        client: &Client,
        now: f64,
        deadline: tokio::time::Instant,
    ) -> Result<QueueReading, ClientError> {
        let p = &self.prefix;
        let q = &self.queue;
        let list = format!("{p}:queue:{q}");
        let regs = [
            format!("{p}:wip:{q}"),
            format!("{p}:failed:{q}"),
            format!("{p}:finished:{q}"),
            format!("{p}:scheduled:{q}"),
            format!("{p}:deferred:{q}"),
        ];
        let mut s = client.session(deadline).await?;
        let r = s
            .pipeline(&[
                &[b"LLEN", list.as_bytes()],
                &[b"LINDEX", list.as_bytes(), b"0"],
                &[b"ZCARD", regs[0].as_bytes()],
                &[b"ZCARD", regs[1].as_bytes()],
                &[b"ZCARD", regs[2].as_bytes()],
                &[b"ZCARD", regs[3].as_bytes()],
                &[b"ZCARD", regs[4].as_bytes()],
            ])
            .await?;
        check(&r)?;
        let n = |i: usize| num(r.get(i)).unwrap_or(0.0);
        let mut out = QueueReading {
            depth: vec![
                ("waiting", n(0)),
                ("active", n(2)),
                ("failed", n(3)),
                ("completed", n(4)),
                ("scheduled", n(5)),
                ("deferred", n(6)),
            ],
            ..QueueReading::default()
        };
        if let Some(id) = r.get(1).and_then(Value::to_text) {
            let job = format!("{p}:job:{id}");
            if let Some(at) = s
                .cmd(&[b"HGET", job.as_bytes(), b"enqueued_at"])
                .await?
                .as_str()
                .and_then(iso8601_seconds)
            {
                out.oldest_age.push(("waiting", (now - at).max(0.0)));
            }
        }
        Ok(out)
    }
}

/// A top-level number in a JSON object, without a JSON parser for the whole
/// job (only this one field is wanted).
pub fn json_number(json: &str, field: &str) -> Option<f64> {
    let needle = format!("\"{field}\"");
    let at = json.find(&needle)? + needle.len();
    let rest = json[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| {
            !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e' || c == 'E' || c == '+')
        })
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(iso8601_seconds("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            iso8601_seconds("2024-02-29T12:00:00.5Z"),
            Some(1_709_208_000.5)
        );
        assert_eq!(iso8601_seconds("2000-03-01T00:00:00"), Some(951_868_800.0));
        assert_eq!(iso8601_seconds("garbage"), None);
        assert_eq!(epoch_seconds(1_700_000_000_000.0), 1_700_000_000.0);
        assert_eq!(epoch_seconds(1_700_000_000.0), 1_700_000_000.0);
        assert_eq!(stream_id_ms("1700000000123-0"), Some(1_700_000_000_123.0));
        assert_eq!(
            json_number(
                r#"{"class":"X","enqueued_at": 1700000000.25,"jid":"a"}"#,
                "enqueued_at"
            ),
            Some(1_700_000_000.25)
        );
        assert_eq!(json_number(r#"{"a":1}"#, "enqueued_at"), None);
    }
}
