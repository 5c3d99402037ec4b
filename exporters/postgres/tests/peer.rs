//! Coverage against Debian's postgres_exporter on the same server: the peer's
//! metric families, by the name Prometheus stores, with the same label names.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use sidewatch_testkit::{find_program, http_get, wait_until, Exporter};
use support::*;

/// family → label names (over all its samples), from classic text.
fn families(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some((name, _)) = rest.split_once(' ') {
                out.entry(name.to_owned()).or_default();
            }
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = &line[..name_end];
        let labels = out.entry(name.to_owned()).or_default();
        if line[name_end..].starts_with('{') {
            // Label names: identifiers before `="`.
            let mut rest = &line[name_end + 1..];
            while let Some(eq) = rest.find("=\"") {
                let key = rest[..eq].trim_start_matches([',', ' ']);
                labels.insert(key.to_owned());
                // Skip the quoted value, honouring escapes.
                let value = &rest[eq + 2..];
                let mut end = 0;
                let mut escaped = false;
                for (i, c) in value.char_indices() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = i;
                        break;
                    }
                }
                rest = &value[end + 1..];
                if rest.starts_with('}') {
                    break;
                }
            }
        }
    }
    out
}

fn is_runtime(name: &str) -> bool {
    name.starts_with("go_") || name.starts_with("process_") || name.starts_with("promhttp_")
}

#[test]
fn covers_the_peers_default_families() {
    let peer_bin = find_program(&["prometheus-postgres-exporter", "postgres_exporter"])
        .expect("Debian's prometheus-postgres-exporter (scripts/setup-postgres.sh installs it)");
    let pg = postgres();
    pg.psql(
        "postgres",
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1)",
    );
    let dsn = pg.url("postgres");
    let peer = Exporter::start_unchecked_env(&peer_bin, &[], &[("DATA_SOURCE_NAME", &dsn)]);
    assert!(peer.wait_listening(), "{}", peer.log());
    let ours = exporter(&pg, "postgres", &[]);
    let mut peer_text = String::new();
    assert!(wait_until(std::time::Duration::from_secs(20), || {
        peer_text = http_get(&peer.url("/metrics")).unwrap_or_default();
        peer_text.contains("pg_up 1")
    }));
    let peer_f: BTreeMap<_, _> = families(&peer_text)
        .into_iter()
        .filter(|(n, _)| !is_runtime(n))
        .collect();
    let ours_f = families(&scrape_text(&ours));
    let missing: Vec<&String> = peer_f.keys().filter(|n| !ours_f.contains_key(*n)).collect();
    let mut label_diffs = Vec::new();
    for (name, labels) in &peer_f {
        if let Some(ours_labels) = ours_f.get(name) {
            if labels != ours_labels {
                label_diffs.push(format!("{name}: peer {labels:?} ours {ours_labels:?}"));
            }
        }
    }
    let covered = peer_f.len() - missing.len();
    let ratio = covered as f64 / peer_f.len() as f64;
    println!(
        "peer families: {}, covered: {covered} ({:.1}%), missing: {missing:?}",
        peer_f.len(),
        ratio * 100.0
    );
    println!("label differences: {label_diffs:#?}");
    assert!(ratio >= 0.95, "coverage {ratio:.3}; missing {missing:?}");
    assert!(label_diffs.is_empty(), "{label_diffs:#?}");
}
