//! Queues named by a pattern (`queue: "mail-*"`, `key: "jobs:*"`) are found
//! at each scrape: from the framework's own registry where it has one (RQ's
//! `rq:queues`, Sidekiq's `queues`), otherwise by walking keys with SCAN
//! under a budget (BullMQ's `<prefix>:<queue>:meta`, raw keys, Celery lists).

use sidewatch_common::glob;
use sidewatch_redis_client::client::{Client, ClientError};
use sidewatch_redis_client::resp::Value;
use sidewatch_redis_client::scan::{walk, KeyBudget, KeyPattern, Spend};

use crate::config::Kind;
use crate::redis_kinds::RedisQueue;

/// The concrete queues a pattern stands for, and whether the walk finished
/// within the budget.
pub async fn expand(
    client: &Client,
    q: &RedisQueue,
    budget: &KeyBudget,
    deadline: tokio::time::Instant,
) -> Result<(Vec<RedisQueue>, bool), ClientError> {
    let with = |queue: String, key: String| RedisQueue {
        queue,
        key,
        ..q.clone()
    };
    let members = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_default()
            .iter()
            .filter_map(Value::to_text)
            .collect()
    };
    match q.kind {
        Kind::Rq => {
            let mut s = client.session(deadline).await?;
            let set = format!("{}:queues", q.prefix);
            let list_prefix = format!("{}:queue:", q.prefix);
            let names = members(s.cmd(&[b"SMEMBERS", set.as_bytes()]).await?);
            let found = names
                .iter()
                .filter_map(|k| k.strip_prefix(&list_prefix))
                .filter(|n| glob::matches(&q.queue, n))
                .map(|n| with(n.to_owned(), String::new()))
                .collect();
            Ok((found, true))
        }
        Kind::Sidekiq => {
            let mut s = client.session(deadline).await?;
            let names = members(s.cmd(&[b"SMEMBERS", b"queues"]).await?);
            let found = names
                .into_iter()
                .filter(|n| glob::matches(&q.queue, n))
                .map(|n| with(n, String::new()))
                .collect();
            Ok((found, true))
        }
        Kind::Bullmq => {
            let pattern = KeyPattern {
                db: 0,
                pattern: format!("{}:{}:meta", q.prefix, q.queue),
            };
            let head = format!("{}:", q.prefix);
            let (keys, done) = walk(
                client,
                &pattern,
                budget.batch,
                &mut Spend::start(budget, deadline),
            )
            .await?;
            let mut found: Vec<RedisQueue> = keys
                .iter()
                .filter_map(|k| {
                    let k = String::from_utf8_lossy(k);
                    let name = k.strip_prefix(&head)?.strip_suffix(":meta")?.to_owned();
                    Some(with(name, String::new()))
                })
                .collect();
            found.sort_by(|a, b| a.queue.cmp(&b.queue));
            Ok((found, done))
        }
        Kind::Celery => {
            let (keys, done) = raw(client, &q.queue, budget, deadline).await?;
            Ok((
                keys.into_iter().map(|k| with(k, String::new())).collect(),
                done,
            ))
        }
        Kind::RedisList | Kind::RedisStream | Kind::RedisZset => {
            let (keys, done) = raw(client, &q.key, budget, deadline).await?;
            Ok((
                keys.into_iter().map(|k| with(String::new(), k)).collect(),
                done,
            ))
        }
        Kind::Postgres => Ok((Vec::new(), true)),
    }
}

async fn raw(
    client: &Client,
    pattern: &str,
    budget: &KeyBudget,
    deadline: tokio::time::Instant,
) -> Result<(Vec<String>, bool), ClientError> {
    let p = KeyPattern {
        db: 0,
        pattern: pattern.to_owned(),
    };
    let (keys, done) = walk(
        client,
        &p,
        budget.batch,
        &mut Spend::start(budget, deadline),
    )
    .await?;
    let mut names: Vec<String> = keys
        .iter()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    names.sort();
    Ok((names, done))
}

/// Whether the queue's name or key is a pattern.
pub fn is_pattern(q: &RedisQueue) -> bool {
    match q.kind {
        Kind::RedisList | Kind::RedisStream | Kind::RedisZset => glob::is_pattern(&q.key),
        Kind::Postgres => false,
        _ => glob::is_pattern(&q.queue),
    }
}
