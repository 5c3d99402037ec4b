//! A three-node local cluster, one exporter per node with --is-cluster:
//! each key is reported by the node that owns it and by no other, and the
//! cluster's own state comes from CLUSTER INFO.

mod support;

use std::process::Command;

use sidewatch_testkit::redis::Reply;
use sidewatch_testkit::{Exposition, Redis};
use support::*;

#[test]
fn each_node_reports_the_keys_it_owns() {
    let nodes: Vec<Redis> = (0..3)
        .map(|_| Redis::start_with(&[("cluster-enabled", "yes"), ("cluster-node-timeout", "2000")]))
        .collect();
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let out = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .expect("redis-cli --cluster create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    wait_for("cluster_state:ok everywhere", || {
        nodes
            .iter()
            .all(|n| n.info_field("cluster", "cluster_enabled") == "1"
                && matches!(n.query(&["CLUSTER", "INFO"]), Reply::Bulk(t) if t.contains("cluster_state:ok")))
    });
    // Write each key on the node that owns its slot.
    let keys: Vec<String> = (0..30).map(|i| format!("job:{i}")).collect();
    let mut owner = Vec::new();
    for k in &keys {
        let slot = nodes[0].int(&["CLUSTER", "KEYSLOT", k]);
        let i = nodes
            .iter()
            .position(|n| {
                let Reply::Bulk(text) = n.query(&["CLUSTER", "NODES"]) else {
                    return false;
                };
                text.lines().any(|l| {
                    l.contains("myself")
                        && l.split_whitespace().skip(8).any(|range| {
                            let (a, b) = range.split_once('-').unwrap_or((range, range));
                            a.parse::<i64>().is_ok_and(|a| a <= slot)
                                && b.parse::<i64>().is_ok_and(|b| slot <= b)
                        })
                })
            })
            .expect("an owner for every slot");
        let mut cmd = vec!["RPUSH".to_owned(), k.clone()];
        cmd.extend(std::iter::repeat_n("x".to_owned(), owner.len() % 5 + 1));
        assert_eq!(nodes[i].pipeline([cmd]).len(), 1);
        owner.push(i);
    }
    let single = format!("--check-single-keys={}", keys.join(","));
    let exporters: Vec<_> = nodes
        .iter()
        .map(|n| exporter(n, &["--is-cluster", &single, "--count-keys=job:*"]))
        .collect();
    let scrapes: Vec<Exposition> = exporters.iter().map(scrape).collect();
    let mut counted = 0.0;
    for (i, x) in scrapes.iter().enumerate() {
        assert_eq!(x.value("redis_up", &[]), Some(1.0));
        assert_eq!(success(x, "keys"), Some(1.0), "{}", exporters[i].log());
        assert_eq!(x.value("redis_cluster_state", &[]), Some(1.0));
        assert_eq!(x.value("redis_cluster_slots_assigned", &[]), Some(16384.0));
        assert_eq!(x.value("redis_cluster_known_nodes", &[]), Some(3.0));
        assert_eq!(x.value("redis_cluster_enabled", &[]), Some(1.0));
        counted += x
            .value("redis_keys_count", &[("key", "job:*")])
            .unwrap_or(0.0);
        // Keys of other nodes answer MOVED: skipped, not reported as errors.
        assert!(x.samples("redis_key_check_unexpected_type").is_empty());
    }
    assert_eq!(counted, keys.len() as f64);
    for (k, i) in keys.iter().zip(&owner) {
        for (j, x) in scrapes.iter().enumerate() {
            let v = x.value("redis_key_size", &[("key", k)]);
            if j == *i {
                assert_eq!(
                    v,
                    Some(nodes[j].int(&["LLEN", k]) as f64),
                    "{k} on its owner"
                );
            } else {
                assert_eq!(v, None, "{k} reported by node {j}, owned by {i}");
            }
        }
    }
}
