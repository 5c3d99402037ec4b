//! The configuration file: backends (Redis or PostgreSQL) and the queues on
//! them. Unknown keys are refused; every problem is one line naming the
//! file, the line and what is wrong.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub backends: Vec<Backend>,
    pub queues: Vec<Queue>,
}

/// A server queues live on: exactly one of `redis` and `postgres`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    /// Name used by queues and as the `backend` label of `sidewatch_queue_up`.
    pub name: String,
    /// `redis://[user@]host:port[/db]` (or `rediss://`, `unix://`).
    #[serde(default)]
    pub redis: Option<String>,
    /// A PostgreSQL URI or key=value data source.
    #[serde(default)]
    pub postgres: Option<String>,
    /// Read the password from this environment variable.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Read the password from this file (first line).
    #[serde(default)]
    pub password_file: Option<String>,
}

/// What a queue is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    RedisList,
    RedisStream,
    RedisZset,
    Bullmq,
    Sidekiq,
    Celery,
    Rq,
    Postgres,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// The `queue` label.
    pub name: String,
    pub backend: String,
    pub kind: Kind,
    /// redis_list / redis_stream / redis_zset: the key.
    #[serde(default)]
    pub key: Option<String>,
    /// bullmq / sidekiq / celery / rq: the framework's queue name.
    #[serde(default)]
    pub queue: Option<String>,
    /// bullmq: key prefix (default `bull`); rq: (default `rq`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// postgres: a query returning `depth` and optionally `state` and
    /// `oldest_age_seconds`.
    #[serde(default)]
    pub query: Option<String>,
}

/// Loads and checks the file.
pub fn load(path: &Path) -> Result<File, String> {
    let text = sidewatch_common::cli::read_config_file(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}:{e}", path.display()))
}

/// Parses and checks; errors start with the line number.
pub fn parse(text: &str) -> Result<File, String> {
    let file: File = sidewatch_common::cli::parse_yaml(text)
        .map_err(|e| format!("{}: {}", e.line, e.message))?;
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .unwrap_or(1)
    };
    let mut backends = HashSet::new();
    for b in &file.backends {
        let at = line_of(&format!("name: {}", b.name));
        if !backends.insert(b.name.as_str()) {
            return Err(format!("{at}: backend {:?} is defined twice", b.name));
        }
        if b.redis.is_some() == b.postgres.is_some() {
            return Err(format!(
                "{at}: backend {:?} needs exactly one of redis and postgres",
                b.name
            ));
        }
    }
    let mut queues = HashSet::new();
    for q in &file.queues {
        let at = line_of(&format!("name: {}", q.name));
        let bad = |m: &str| Err(format!("{at}: queue {:?}: {m}", q.name));
        if !queues.insert(q.name.as_str()) {
            return bad("defined twice");
        }
        let Some(b) = file.backends.iter().find(|b| b.name == q.backend) else {
            return bad(&format!("backend {:?} is not defined", q.backend));
        };
        let on_postgres = b.postgres.is_some();
        match q.kind {
            Kind::Postgres if !on_postgres => return bad("kind postgres needs a postgres backend"),
            Kind::Postgres if q.query.is_none() => return bad("kind postgres needs a query"),
            Kind::Postgres => {}
            _ if on_postgres => return bad("this kind needs a redis backend"),
            Kind::RedisList | Kind::RedisStream | Kind::RedisZset if q.key.is_none() => {
                return bad("this kind needs a key")
            }
            Kind::Bullmq | Kind::Sidekiq | Kind::Celery | Kind::Rq if q.queue.is_none() => {
                return bad("this kind needs a queue")
            }
            _ => {}
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
backends:
  - name: main
    redis: redis://127.0.0.1:6379
  - name: jobsdb
    postgres: postgresql://monitor@127.0.0.1:5432/app
queues:
  - { name: jobs,    backend: main, kind: redis_list,   key: jobs }
  - { name: events,  backend: main, kind: redis_stream, key: events }
  - { name: retries, backend: main, kind: redis_zset,   key: retry }
  - { name: emails,  backend: main, kind: bullmq, queue: emails }
  - { name: default, backend: main, kind: sidekiq, queue: default }
  - { name: celery,  backend: main, kind: celery, queue: celery }
  - { name: rq,      backend: main, kind: rq, queue: default }
  - name: pg_jobs
    backend: jobsdb
    kind: postgres
    query: SELECT state, count(*) AS depth, extract(epoch FROM now() - min(created_at)) AS oldest_age_seconds FROM jobs GROUP BY state
"#;

    #[test]
    fn the_example_from_the_issue_loads() {
        let f = parse(EXAMPLE).expect("parse");
        assert_eq!(f.backends.len(), 2);
        assert_eq!(f.queues.len(), 8);
        assert_eq!(f.queues[3].kind, Kind::Bullmq);
    }

    #[test]
    fn problems_name_the_line() {
        for (text, needle) in [
            ("backends: []\nqueues: []\ncolour: blue\n", "3: unknown field `colour`"),
            (
                "backends:\n  - name: a\n    redis: redis://x\n    postgres: y\nqueues: []\n",
                "2: backend \"a\" needs exactly one",
            ),
            (
                "backends:\n  - name: a\n    redis: redis://x\nqueues:\n  - name: q\n    backend: b\n    kind: rq\n    queue: x\n",
                "5: queue \"q\": backend \"b\" is not defined",
            ),
            (
                "backends:\n  - name: a\n    redis: redis://x\nqueues:\n  - name: q\n    backend: a\n    kind: redis_list\n",
                "5: queue \"q\": this kind needs a key",
            ),
            (
                "backends:\n  - name: a\n    redis: redis://x\nqueues:\n  - name: q\n    backend: a\n    kind: kafka\n",
                "unknown variant `kafka`",
            ),
        ] {
            let e = parse(text).expect_err(text);
            assert!(e.contains(needle), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
