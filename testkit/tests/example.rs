//! The worked example of docs/new-exporter.md, run as a user would: its
//! numbers equal the file's, its collectors switch like every exporter's,
//! a missing file is `example_up 0`, a bad flag exit 2.

use std::path::Path;
use std::process::Command;

use sidewatch_testkit::{http_get, Exporter, Exposition};

const BIN: &str = env!("CARGO_BIN_EXE_sidewatch-example");

fn scrape(e: &Exporter) -> Exposition {
    Exposition::parse(
        &http_get(&e.url("/metrics")).unwrap_or_else(|err| panic!("{err}\n{}", e.log())),
    )
}

#[test]
fn the_example_exporter_serves_its_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("numbers.json");
    std::fs::write(
        &file,
        r#"{"queue_depth": 3, "workers": 2.5, "name": "not a number"}"#,
    )
    .expect("write");
    let arg = format!("--example.file={}", file.display());
    let e = Exporter::start_unchecked(Path::new(BIN), &[&arg, "--collector.file"]);
    assert!(e.wait_listening(), "{}", e.log());
    let x = scrape(&e);
    assert_eq!(x.value("example_up", &[]), Some(1.0));
    assert_eq!(
        x.value("example_value", &[("key", "queue_depth")]),
        Some(3.0)
    );
    assert_eq!(x.value("example_value", &[("key", "workers")]), Some(2.5));
    assert_eq!(x.samples("example_value").len(), 2);
    let len = std::fs::metadata(&file).expect("meta").len() as f64;
    assert_eq!(x.value("example_file_size_bytes", &[]), Some(len));
    let landing = http_get(&e.url("/")).expect("landing");
    assert!(
        landing.contains("values") && landing.contains("file"),
        "{landing}"
    );

    std::fs::remove_file(&file).expect("rm");
    let x = scrape(&e);
    assert_eq!(x.value("example_up", &[]), Some(0.0));
    assert_eq!(
        x.value(
            "example_scrape_collector_success",
            &[("collector", "values")]
        ),
        Some(0.0)
    );

    // `file` is off by default; a misspelt collector is exit 2.
    let out = Command::new(BIN)
        .args([&arg, "--config.check"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration is valid: 1 collectors"));
    let out = Command::new(BIN)
        .args([&arg, "--collector.valuez"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN)
        .arg("--config.check")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "--example.file is required");
}
