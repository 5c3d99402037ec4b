//! Each Redis queue kind against a real redis-server, layouts written with
//! controlled timestamps, numbers asserted exactly.

use sidewatch_queue::config::Kind;
use sidewatch_queue::redis_kinds::{GroupReading, RedisQueue};
use sidewatch_redis_client::client::{Client, ClientSettings};
use sidewatch_redis_client::target::Target;
use sidewatch_testkit::Redis;

const NOW: f64 = 1_800_000_000.0;

fn queue(kind: Kind, key: &str, queue: &str, prefix: &str) -> RedisQueue {
    RedisQueue {
        kind,
        key: key.into(),
        queue: queue.into(),
        prefix: prefix.into(),
    }
}

fn run(r: &Redis, cmds: &[Vec<String>]) {
    for reply in r.pipeline(cmds.iter().cloned()) {
        assert!(
            !matches!(reply, sidewatch_testkit::redis::Reply::Error(_)),
            "{reply:?}"
        );
    }
}

fn cmd(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn list_zset_stream_and_framework_layouts() {
    let r = Redis::start();
    let client = Client::new(
        Target::parse(&r.url()).expect("url"),
        ClientSettings::default(),
    );
    let t = |secs_ago: f64| (NOW - secs_ago).to_string();
    let ms = |secs_ago: f64| (((NOW - secs_ago) * 1000.0) as i64).to_string();
    let mut cmds = vec![
        cmd(&["RPUSH", "jobs", "a", "b", "c"]),
        cmd(&["ZADD", "retry", &t(30.0), "x", &t(90.0), "y"]),
        // Sidekiq, by its documented layout: LPUSH of JSON with enqueued_at.
        cmd(&[
            "LPUSH",
            "queue:default",
            &format!("{{\"jid\":\"1\",\"enqueued_at\":{}}}", t(120.0)),
        ]),
        cmd(&[
            "LPUSH",
            "queue:default",
            &format!("{{\"jid\":\"2\",\"enqueued_at\":{}}}", t(10.0)),
        ]),
        cmd(&["ZADD", "retry", &t(5.0), "z"]),
        cmd(&["ZADD", "dead", &t(5.0), "d"]),
        // BullMQ-shaped keys: the oldest waits on the right.
        cmd(&["LPUSH", "bull:emails:wait", "1"]),
        cmd(&["LPUSH", "bull:emails:wait", "2"]),
        cmd(&["HSET", "bull:emails:1", "timestamp", &ms(300.0)]),
        cmd(&["HSET", "bull:emails:2", "timestamp", &ms(1.0)]),
        cmd(&["ZADD", "bull:emails:failed", "1", "9"]),
        // RQ-shaped keys: the oldest on the left, ISO enqueued_at.
        cmd(&["RPUSH", "rq:queue:default", "j1", "j2"]),
        cmd(&[
            "HSET",
            "rq:job:j1",
            "enqueued_at",
            "2027-01-15T07:59:00.000000Z",
        ]),
        cmd(&["SET", "wrong", "not a list"]),
    ];
    // A stream: 5 entries at known times, group g read 3, acked 1.
    for i in 0..5 {
        cmds.push(cmd(&[
            "XADD",
            "events",
            &format!("{}-0", ms(100.0 - i as f64 * 10.0)),
            "n",
            &i.to_string(),
        ]));
    }
    cmds.push(cmd(&["XGROUP", "CREATE", "events", "g", "0"]));
    cmds.push(cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c1",
        "COUNT",
        "3",
        "STREAMS",
        "events",
        ">",
    ]));
    cmds.push(cmd(&["XACK", "events", "g", &format!("{}-0", ms(100.0))]));
    run(&r, &cmds);

    let list = queue(Kind::RedisList, "jobs", "", "")
        .read(&client, NOW, soon())
        .await
        .expect("list");
    assert_eq!(list.depth, vec![("waiting", 3.0)]);

    let zset = queue(Kind::RedisZset, "retry", "", "")
        .read(&client, NOW, soon())
        .await
        .expect("zset");
    assert_eq!(zset.depth, vec![("scheduled", 3.0)]);
    assert_eq!(zset.oldest_age, vec![("scheduled", 90.0)]);

    let stream = queue(Kind::RedisStream, "events", "", "")
        .read(&client, NOW, soon())
        .await
        .expect("stream");
    assert_eq!(stream.depth, vec![("waiting", 5.0)]);
    assert_eq!(stream.oldest_age, vec![("waiting", 100.0)]);
    assert_eq!(
        stream.groups,
        vec![GroupReading {
            group: "g".into(),
            lag: Some(2.0),
            pending: 2.0,
            // Oldest unacknowledged: the second entry, 90 s old.
            oldest_pending_age: Some(90.0),
        }]
    );

    let sidekiq = queue(Kind::Sidekiq, "", "default", "")
        .read(&client, NOW, soon())
        .await
        .expect("sidekiq");
    assert_eq!(
        sidekiq.depth,
        vec![
            ("waiting", 2.0),
            ("scheduled", 0.0),
            ("retry", 3.0),
            ("dead", 1.0)
        ]
    );
    assert_eq!(sidekiq.oldest_age, vec![("waiting", 120.0)]);

    let bull = queue(Kind::Bullmq, "", "emails", "bull")
        .read(&client, NOW, soon())
        .await
        .expect("bullmq");
    assert_eq!(bull.depth[0], ("waiting", 2.0));
    assert_eq!(bull.depth[4], ("failed", 1.0));
    assert_eq!(bull.oldest_age, vec![("waiting", 300.0)]);

    let rq = queue(Kind::Rq, "", "default", "rq")
        .read(&client, NOW, soon())
        .await
        .expect("rq");
    assert_eq!(rq.depth[0], ("waiting", 2.0));
    // 2027-01-15T08:00:00Z is 1_800_000_000.
    assert_eq!(rq.oldest_age, vec![("waiting", 60.0)]);

    // WRONGTYPE: this queue fails, visibly; the next read still works.
    let e = queue(Kind::RedisList, "wrong", "", "")
        .read(&client, NOW, soon())
        .await
        .expect_err("wrongtype");
    assert!(e.to_string().contains("WRONGTYPE"), "{e}");
    assert!(queue(Kind::RedisList, "jobs", "", "")
        .read(&client, NOW, soon())
        .await
        .is_ok());
}

/// A deadline far enough for one read.
fn soon() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(10)
}
