//! Shared by the tests that hold the kit to a live stack (native, compose):
//! the queries of every dashboard panel, every rule's expression, and the
//! metric names a PromQL expression selects.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub mod k8s;

use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every dashboard query with the variables set to match everything (as
/// their "All": `.*` for cluster, which series without one match too).
pub fn dashboard_queries() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let dir = root().join("dashboards/json");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dashboards")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for f in files {
        let d: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).expect("read")).expect("json");
        for p in d["panels"].as_array().into_iter().flatten() {
            for t in p["targets"].as_array().into_iter().flatten() {
                let expr = t["expr"]
                    .as_str()
                    .unwrap_or_default()
                    .replace("$__rate_interval", "1m")
                    .replace("$cluster", ".*")
                    .replace("$job", ".+")
                    .replace("$instance", ".+");
                out.push((
                    format!(
                        "{}/{}",
                        d["uid"].as_str().unwrap_or_default(),
                        p["title"].as_str().unwrap_or_default()
                    ),
                    expr,
                ));
            }
        }
    }
    out
}

/// Metric names a PromQL expression selects: exact names, and the regexes of
/// `{__name__=~"..."}` selectors.
pub fn selectors(e: &Expr, names: &mut BTreeSet<String>, regexes: &mut Vec<String>) {
    match e {
        Expr::VectorSelector(vs) => {
            if let Some(n) = &vs.name {
                names.insert(n.clone());
            }
            for m in &vs.matchers.matchers {
                if m.name == "__name__" {
                    match &m.op {
                        MatchOp::Equal => {
                            names.insert(m.value.clone());
                        }
                        MatchOp::Re(_) => regexes.push(m.value.clone()),
                        _ => {}
                    }
                }
            }
        }
        Expr::MatrixSelector(ms) => selectors(&Expr::VectorSelector(ms.vs.clone()), names, regexes),
        Expr::Aggregate(a) => {
            selectors(&a.expr, names, regexes);
            if let Some(p) = &a.param {
                selectors(p, names, regexes);
            }
        }
        Expr::Unary(u) => selectors(&u.expr, names, regexes),
        Expr::Binary(b) => {
            selectors(&b.lhs, names, regexes);
            selectors(&b.rhs, names, regexes);
        }
        Expr::Paren(p) => selectors(&p.expr, names, regexes),
        Expr::Subquery(s) => selectors(&s.expr, names, regexes),
        Expr::Call(c) => {
            for a in &c.args.args {
                selectors(a, names, regexes);
            }
        }
        _ => {}
    }
}

/// (alert or record name, expression) of every rule file.
pub fn rules() -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("alerts"))
        .expect("alerts")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    for f in files {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&f).expect("read")).expect("yaml");
        for g in doc["groups"].as_sequence().into_iter().flatten() {
            for r in g["rules"].as_sequence().into_iter().flatten() {
                let expr = r["expr"].as_str().unwrap_or_default().to_owned();
                match (r["alert"].as_str(), r["record"].as_str()) {
                    (Some(a), _) => out.push((a.to_owned(), expr, false)),
                    (_, Some(rec)) => out.push((rec.to_owned(), expr, true)),
                    _ => {}
                }
            }
        }
    }
    out
}

/// The debug binaries of the exporters, built if missing or stale. Built
/// as scripts/test.sh builds the workspace (`--workspace --all-targets`),
/// so that after it this is a no-op: cargo unifies dependency features over
/// the packages of one build, and a build of only the five exporters had
/// other features, so other artifacts, and recompiled them in the middle of
/// the tests while every test that needed them waited on cargo's lock (a
/// cold suite lost about a minute to it). The variables cargo sets for a
/// test (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, ...) are taken out first:
/// ring's build script reruns when one of them changes, and with them
/// inherited from the test a no-op build recompiled ring, rustls and the
/// whole fleet (about a minute each time, and again for the suite's next
/// own build).
pub fn binaries() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build
        .args(["build", "--quiet", "--workspace", "--all-targets"])
        .current_dir(root());
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let set_for_tests = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|p| key.starts_with(p))
            || matches!(
                key,
                "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR" | "OUT_DIR"
            );
        if set_for_tests {
            build.env_remove(key);
        }
    }
    let status = build.status().expect("cargo");
    assert!(status.success(), "cargo build");
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("debug")
}

/// Where scripts/setup-test-tools.sh installs the kit's validators
/// (`SIDEWATCH_KIT_TOOLS`, or ~/.cache/sidewatch/kit-tools).
pub fn kit_tools_dir() -> PathBuf {
    std::env::var_os("SIDEWATCH_KIT_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/sidewatch/kit-tools")
        })
}
