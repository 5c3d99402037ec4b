//! The rendered Kubernetes objects, for the tests that hold deploy/kubernetes
//! to what a cluster would do with it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use serde_yaml::Value;

use super::root;

pub fn deploy() -> PathBuf {
    root().join("deploy/kubernetes")
}

pub fn render(dir: &Path) -> String {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl (with kustomize) is needed: it renders deploy/kubernetes");
    assert!(
        out.status.success(),
        "kubectl kustomize {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

pub fn objects(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).expect("rendered YAML"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

/// The example overlay, which uses every base and Component.
pub fn example() -> Vec<Value> {
    objects(&render(&deploy().join("examples/stack")))
}

pub fn name(o: &Value) -> String {
    o["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub fn kind(o: &Value) -> &str {
    o["kind"].as_str().unwrap_or_default()
}

/// The pod templates of the workloads: (Kind/name, namespace, template).
pub fn pods(objs: &[Value]) -> Vec<(String, String, Value)> {
    objs.iter()
        .filter(|o| matches!(kind(o), "DaemonSet" | "StatefulSet" | "Deployment"))
        .map(|o| {
            (
                format!("{}/{}", kind(o), name(o)),
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("default")
                    .to_owned(),
                o["spec"]["template"].clone(),
            )
        })
        .collect()
}

/// Containers and init containers (the sidecars are native sidecars).
pub fn containers(pod_spec: &Value) -> Vec<(Value, bool)> {
    let mut out = Vec::new();
    for (field, init) in [("initContainers", true), ("containers", false)] {
        for c in pod_spec[field].as_sequence().into_iter().flatten() {
            out.push((c.clone(), init));
        }
    }
    out
}

/// A Secret's or ConfigMap's values by key, decoded.
pub fn data_of(objs: &[Value], kind_: &str, obj_name: &str) -> BTreeMap<String, String> {
    let o = objs
        .iter()
        .find(|o| kind(o) == kind_ && name(o) == obj_name)
        .unwrap_or_else(|| panic!("no {kind_} {obj_name} in the render"));
    let mut out = BTreeMap::new();
    for (k, v) in o["data"].as_mapping().into_iter().flatten() {
        let v = v.as_str().unwrap_or_default();
        let v = if kind_ == "Secret" {
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .expect("base64"),
            )
            .expect("utf-8")
        } else {
            v.to_owned()
        };
        out.insert(k.as_str().unwrap_or_default().to_owned(), v);
    }
    out
}

/// `$(VAR)` as Kubernetes expands it in env values and args: from the
/// variables defined before.
pub fn expand(s: &str, env: &[(String, String)]) -> String {
    let mut out = s.to_owned();
    for (k, v) in env {
        out = out.replace(&format!("$({k})"), v);
    }
    out
}

/// The files a Secret or ConfigMap volume puts in its mount, as
/// (path in the mount, contents), and whether they are a Secret's; None for
/// any other kind of volume.
pub fn volume_files(objs: &[Value], vol: &Value) -> Option<(Vec<(String, String)>, bool)> {
    let (kind_, source, name_) = if !vol["secret"].is_null() {
        ("Secret", &vol["secret"], &vol["secret"]["secretName"])
    } else if !vol["configMap"].is_null() {
        ("ConfigMap", &vol["configMap"], &vol["configMap"]["name"])
    } else {
        return None;
    };
    let obj_name = name_.as_str().unwrap_or_default();
    let data = data_of(objs, kind_, obj_name);
    let items: Vec<(String, String)> = match source["items"].as_sequence() {
        Some(items) => items
            .iter()
            .map(|it| {
                (
                    it["key"].as_str().unwrap_or_default().to_owned(),
                    it["path"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        None => data.keys().map(|k| (k.clone(), k.clone())).collect(),
    };
    let files = items
        .into_iter()
        .map(|(key, path)| {
            let value = data
                .get(&key)
                .unwrap_or_else(|| panic!("{kind_} {obj_name} has no key {key}"))
                .clone();
            (path, value)
        })
        .collect();
    Some((files, kind_ == "Secret"))
}

/// A container's environment as the kubelet gives it: values with `$(VAR)`
/// expanded (then passed through `value`), Secret keys resolved, the node's
/// address as 127.0.0.1; and the Secret values it holds.
pub fn env_of(
    objs: &[Value],
    container: &Value,
    value: impl Fn(&str) -> String,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut secrets = Vec::new();
    for e in container["env"].as_sequence().into_iter().flatten() {
        let key = e["name"].as_str().expect("env name").to_owned();
        let v = if let Some(v) = e["value"].as_str() {
            value(&expand(v, &env))
        } else if let Some(r) = e["valueFrom"]["secretKeyRef"].as_mapping() {
            let secret = r.get("name").and_then(Value::as_str).unwrap_or_default();
            let k = r.get("key").and_then(Value::as_str).unwrap_or_default();
            let v = data_of(objs, "Secret", secret)
                .get(k)
                .unwrap_or_else(|| panic!("env {key}: Secret {secret} has no key {k}"))
                .clone();
            secrets.push(v.clone());
            v
        } else if e["valueFrom"]["fieldRef"]["fieldPath"].as_str() == Some("status.hostIP") {
            "127.0.0.1".to_owned()
        } else {
            panic!("env {key}: a source these tests do not know: {e:?}");
        };
        env.push((key, v));
    }
    (env, secrets)
}

/// A list of strings (a container's command or args); empty when absent.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}
