//! The presets against the real client libraries: jobs enqueued with RQ and
//! Celery (PyPI) and BullMQ (npm), installed by scripts/setup-test-tools.sh,
//! then read by the exporter.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use sidewatch_testkit::redis::Reply;
use sidewatch_testkit::{http_get, output_ok, Exporter, Exposition, Redis};

const BIN: &str = env!("CARGO_BIN_EXE_sidewatch-queue");

fn libs() -> PathBuf {
    let dir = std::env::var_os("SIDEWATCH_QUEUE_LIBS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/sidewatch/queue-libs")
        });
    assert!(
        dir.join("py/.done").exists() && dir.join("node/.done").exists(),
        "queue libraries missing in {}: run scripts/setup-test-tools.sh (scripts/test.sh does)",
        dir.display()
    );
    dir
}

fn run(program: &str, args: &[&str], env: &[(&str, String)], cwd: &Path) -> String {
    output_ok(
        Command::new(program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(cwd),
    )
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

#[test]
fn rq_celery_and_bullmq_jobs_as_the_libraries_write_them() {
    let libs = libs();
    let r = Redis::start();
    let port = r.port.to_string();
    let py = [
        ("PYTHONPATH", libs.join("py").display().to_string()),
        ("PORT", port.clone()),
    ];
    run(
        "python3",
        &[
            "-c",
            "import os, redis, rq\n\
             from celery import Celery\n\
             c = redis.Redis(port=int(os.environ['PORT']))\n\
             q = rq.Queue('default', connection=c)\n\
             [q.enqueue('os.getcwd') for _ in range(3)]\n\
             app = Celery('t', broker=f\"redis://127.0.0.1:{os.environ['PORT']}/0\")\n\
             [app.send_task('add', args=(1, 2)) for _ in range(4)]\n",
        ],
        &py,
        &libs,
    );
    let script = libs.join("node/add.mjs");
    std::fs::write(
        &script,
        "import { Queue } from 'bullmq';\n\
         const q = new Queue('emails', { connection: { host: '127.0.0.1', port: Number(process.env.PORT) } });\n\
         for (let i = 0; i < 3; i++) await q.add('send', { i });\n\
         await q.add('later', { i: 9 }, { delay: 600000 });\n\
         await q.close();\n\
         const s = new Queue('sms', { connection: { host: '127.0.0.1', port: Number(process.env.PORT) } });\n\
         for (let i = 0; i < 2; i++) await s.add('send', { i });\n\
         await s.close();\n",
    )
    .expect("script");
    run(
        "node",
        &[&script.display().to_string()],
        &[("PORT", port.clone())],
        &libs.join("node"),
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("q.yml");
    std::fs::write(
        &cfg,
        format!(
            "backends:\n  - {{ name: main, redis: '{}' }}\nqueues:\n  - {{ name: rq, backend: main, kind: rq, queue: default }}\n  - {{ name: celery, backend: main, kind: celery, queue: celery }}\n  - {{ name: emails, backend: main, kind: bullmq, queue: emails }}\n",
            r.url()
        ),
    )
    .expect("config");
    let e = Exporter::start_unchecked(
        Path::new(BIN),
        &[&format!("--config.file={}", cfg.display())],
    );
    assert!(e.wait_listening(), "{}", e.log());
    let before = now();
    let x = Exposition::parse(&http_get(&e.url("/metrics")).unwrap_or_else(|err| panic!("{err}")));
    let after = now();
    let v = |q: &str, s: &str| x.value("sidewatch_queue_depth", &[("queue", q), ("state", s)]);
    let age = |q: &str, s: &str| {
        x.value(
            "sidewatch_queue_oldest_age_seconds",
            &[("queue", q), ("state", s)],
        )
    };
    assert_eq!(v("rq", "waiting"), Some(3.0), "{}", e.log());
    assert_eq!(v("celery", "waiting"), Some(4.0));
    assert_eq!(v("emails", "waiting"), Some(3.0));
    assert_eq!(v("emails", "delayed"), Some(1.0));
    // Ages against the timestamps the libraries recorded.
    let Reply::Bulk(first) = r.query(&["LINDEX", "rq:queue:default", "0"]) else {
        panic!("rq list")
    };
    let enqueued = r
        .query(&["HGET", &format!("rq:job:{first}"), "enqueued_at"])
        .text();
    let at = sidewatch_queue::redis_kinds::iso8601_seconds(&enqueued).expect("iso time");
    let rq_age = age("rq", "waiting").unwrap_or(f64::NAN);
    assert!(
        rq_age >= before - at - 0.01 && rq_age <= after - at + 0.01,
        "{rq_age} vs {}",
        before - at
    );
    let ts = r.query(&["HGET", "bull:emails:1", "timestamp"]).int() as f64 / 1e3;
    let bull_age = age("emails", "waiting").unwrap_or(f64::NAN);
    assert!(
        bull_age >= before - ts - 0.01 && bull_age <= after - ts + 0.01,
        "{bull_age} vs {}",
        before - ts
    );

    // Patterns: every BullMQ queue under the prefix (SCAN for `bull:*:meta`)
    // and every RQ queue (from `rq:queues`), found at scrape time.
    let cfg2 = dir.path().join("patterns.yml");
    std::fs::write(
        &cfg2,
        format!(
            "backends:\n  - {{ name: main, redis: '{}' }}\nqueues:\n  - {{ name: all_bull, backend: main, kind: bullmq, queue: '*' }}\n  - {{ name: all_rq, backend: main, kind: rq, queue: '*' }}\n",
            r.url()
        ),
    )
    .expect("config");
    let e2 = Exporter::start_unchecked(
        Path::new(BIN),
        &[&format!("--config.file={}", cfg2.display())],
    );
    assert!(e2.wait_listening(), "{}", e2.log());
    let x2 =
        Exposition::parse(&http_get(&e2.url("/metrics")).unwrap_or_else(|err| panic!("{err}")));
    let d = |q: &str| {
        x2.value(
            "sidewatch_queue_depth",
            &[("queue", q), ("state", "waiting")],
        )
    };
    assert_eq!(d("emails"), Some(3.0), "{}", e2.log());
    assert_eq!(d("sms"), Some(2.0));
    assert_eq!(d("default"), Some(3.0));
}
