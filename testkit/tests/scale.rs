//! docs/scale.md checked: prometheus/agent.yml passes promtool in agent mode
//! and scrapes exactly the jobs prometheus.yml scrapes; prometheus.yml with
//! agent.yml's remote_write block and external labels passes promtool as a
//! server; federate.yml passes too. Then through real servers: an agent
//! (Prometheus 3) scrapes a live sidewatch-node and remote-writes it to a
//! receiver, a global Prometheus federates the receiver with federate.yml,
//! and at both ends the series keep job="sidewatch-node" and carry the
//! cluster label, and the recording rules keep the cluster apart.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_yaml::Value;
use sidewatch_testkit::exporter::Exporter;
use sidewatch_testkit::prometheus::Prometheus;
use sidewatch_testkit::{debian_program, find_program, wait_until};

mod support;
use support::{binaries, root};

fn promtools() -> Vec<PathBuf> {
    vec![
        find_program(&["promtool"]).expect("promtool (Debian's prometheus)"),
        debian_program("sid", "promtool", "promtool").expect("sid's promtool (scripts/test.sh)"),
    ]
}

fn promtool(program: &Path, args: &[&str], file: &Path) {
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "{} {args:?} {}:\n{}{}",
        program.display(),
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn yaml(rel: &str) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(root().join(rel)).expect("read")).expect("yaml")
}

#[test]
fn agent_federation_and_remote_write_configs_pass_promtool() {
    let root = root();
    let agent = yaml("prometheus/agent.yml");
    let server = yaml("prometheus/prometheus.yml");
    assert_eq!(
        agent["scrape_configs"], server["scrape_configs"],
        "agent.yml scrapes what prometheus.yml scrapes, under the same job names"
    );
    assert!(
        agent["global"]["external_labels"]["cluster"].is_string(),
        "agent.yml sets the cluster label the rules group by"
    );
    assert!(agent["rule_files"].is_null() && agent["alerting"].is_null());
    assert_eq!(
        yaml("prometheus/federate.yml")["scrape_configs"][0]["honor_labels"].as_bool(),
        Some(true)
    );

    // The server's config with the agent's remote_write and external labels.
    let mut with_remote_write = server.clone();
    with_remote_write["remote_write"] = agent["remote_write"].clone();
    with_remote_write["global"]["external_labels"] = agent["global"]["external_labels"].clone();
    let tmp = tempfile::tempdir().expect("tempdir");
    let combined = tmp.path().join("prometheus-remote-write.yml");
    std::fs::write(
        &combined,
        serde_yaml::to_string(&with_remote_write).expect("yaml"),
    )
    .expect("write");
    for p in promtools() {
        promtool(
            &p,
            &["check", "config", "--agent"],
            &root.join("prometheus/agent.yml"),
        );
        promtool(
            &p,
            &["check", "config"],
            &root.join("prometheus/federate.yml"),
        );
        promtool(&p, &["check", "config", "--syntax-only"], &combined);
    }
}

#[test]
fn job_and_cluster_survive_remote_write_and_federation() {
    let node = Exporter::start(
        &binaries().join("sidewatch-node"),
        &[
            "--collector.disable-defaults",
            "--collector.cpu",
            "--collector.loadavg",
        ],
    );
    let target = format!("127.0.0.1:{}", node.port);
    let prometheus3 = debian_program("sid", "prometheus", "prometheus")
        .expect("sid's prometheus (scripts/test.sh)");

    let receiver = Prometheus::start_program(
        &prometheus3,
        "global: {scrape_interval: 1m}\n",
        &[],
        false,
        &["--web.enable-remote-write-receiver"],
    );

    // The shipped agent config, pointed at this node and this receiver.
    let mut agent_cfg = yaml("prometheus/agent.yml");
    let cluster = agent_cfg["global"]["external_labels"]["cluster"]
        .as_str()
        .expect("cluster")
        .to_owned();
    agent_cfg["global"]["scrape_interval"] = "1s".into();
    agent_cfg["global"]["scrape_timeout"] = "1s".into();
    let node_job = agent_cfg["scrape_configs"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|j| j["job_name"] == "sidewatch-node")
        .cloned()
        .expect("sidewatch-node job");
    let mut node_job = node_job;
    node_job["static_configs"][0]["targets"] = vec![Value::from(target.clone())].into();
    agent_cfg["scrape_configs"] = vec![node_job].into();
    let rw = &mut agent_cfg["remote_write"][0];
    rw["url"] = format!("{}/api/v1/write", receiver.url()).into();
    if let Value::Mapping(m) = rw {
        m.remove("basic_auth");
    }
    let _agent = Prometheus::start_program(
        &prometheus3,
        &serde_yaml::to_string(&agent_cfg).expect("yaml"),
        &[],
        true,
        &[],
    );

    // The shipped federation config, pointed at the receiver.
    let mut fed_cfg = yaml("prometheus/federate.yml");
    fed_cfg["global"]["scrape_interval"] = "1s".into();
    fed_cfg["global"]["scrape_timeout"] = "1s".into();
    fed_cfg["scrape_configs"][0]["static_configs"][0]["targets"] =
        vec![Value::from(format!("127.0.0.1:{}", receiver.port))].into();
    let global = Prometheus::start(&serde_yaml::to_string(&fed_cfg).expect("yaml"), &[]);

    let selector =
        format!(r#"node_load1{{job="sidewatch-node", cluster="{cluster}", instance="{target}"}}"#);
    for (what, p) in [("receiver", &receiver), ("federating Prometheus", &global)] {
        let ok = wait_until(Duration::from_secs(60), || !p.query(&selector).is_empty());
        assert!(
            ok,
            "{what} has no {selector}: {:?}",
            p.query("{__name__=\"node_load1\"}")
        );
    }
    // The value is the host's own load, as the exporter read it.
    let load: f64 = std::fs::read_to_string("/proc/loadavg")
        .expect("loadavg")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("load1");
    let got = receiver.query(&selector)[0].1;
    assert!(
        (got - load).abs() < 2.0,
        "node_load1 {got} vs /proc/loadavg {load}"
    );
    // up arrives too, under the job the rules select.
    let up = receiver.query(&format!(
        r#"up{{job="sidewatch-node", cluster="{cluster}"}}"#
    ));
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0].1, 1.0);

    // The recording rule, evaluated where the series land, keeps the cluster.
    let slo = yaml("alerts/slo.yml");
    let expr = slo["groups"][0]["rules"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|r| r["record"] == "instance:node_cpu_utilisation:rate5m")
        .and_then(|r| r["expr"].as_str())
        .expect("the node CPU recording rule")
        .replace("[5m]", "[10s]");
    let ok = wait_until(Duration::from_secs(30), || {
        !receiver.query(&expr).is_empty()
    });
    assert!(ok, "{expr} returned nothing");
    let r = receiver.query(&expr);
    assert_eq!(
        r[0].0.get("cluster").and_then(|v| v.as_str()),
        Some(cluster.as_str())
    );
    assert_eq!(
        r[0].0.get("job").and_then(|v| v.as_str()),
        Some("sidewatch-node")
    );
}
