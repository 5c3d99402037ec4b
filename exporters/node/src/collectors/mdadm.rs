//! `mdadm`: Linux software RAID arrays from /proc/mdstat: state, member
//! disks (active, failed, spare), size and resync progress.

use std::sync::Arc;

use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::{BlockingCollector, CollectError, CollectResult, Family};

use crate::config::NodeConfig;
use crate::paths::HostPaths;

/// `--collector.mdadm`: on by default.
pub const DECL: CollectorDecl<NodeConfig> =
    CollectorDecl::on("mdadm", "software RAID arrays (/proc/mdstat)", |c| {
        crate::paths::reader(
            &c.paths,
            MdadmCollector {
                paths: c.paths.clone(),
            },
        )
    });

pub struct MdadmCollector {
    paths: Arc<HostPaths>,
}

impl MdadmCollector {
    pub fn new(paths: Arc<HostPaths>) -> Self {
        Self { paths }
    }
}

/// One array as /proc/mdstat describes it.
#[derive(Debug, PartialEq)]
pub struct Array {
    pub name: String,
    /// active, inactive, recovering, resync, check or reshape.
    pub state: &'static str,
    pub disks_required: u64,
    pub disks_active: u64,
    pub disks_failed: u64,
    pub disks_spare: u64,
    pub blocks: u64,
    pub blocks_synced: u64,
}

fn number(s: &str, line: &str) -> Result<u64, CollectError> {
    s.parse()
        .map_err(|_| CollectError::parse(format!("mdstat: {s:?} is not a number in {line:?}")))
}

/// The `[total/active]` of a status line.
fn disk_counts(status: &str) -> Option<(&str, &str)> {
    let open = status.rfind('[')?;
    // `[UU_]` is the last bracket; the counts are the one before it.
    let before = &status[..open];
    let start = before.rfind('[')?;
    let inner = before[start + 1..].split(']').next()?;
    inner.split_once('/')
}

/// `recovery = 8.5% (166400000/1953382400)`: the activity and blocks done.
fn sync_progress(line: &str) -> Option<(&'static str, &str)> {
    let t = line.trim_start_matches([' ', '\t']);
    let t = t
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map_or(t, |(_, r)| r.trim_start());
    let state = ["recovery", "resync", "check", "reshape"]
        .into_iter()
        .find(|s| t.starts_with(s) && t[s.len()..].trim_start().starts_with('='))?;
    let done = t.split_once('(')?.1.split_once('/')?.0;
    let state = match state {
        "recovery" => "recovering",
        other => other,
    };
    Some((state, done))
}

pub fn parse(text: &str) -> Result<Vec<Array>, CollectError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty()
            || line.starts_with([' ', '\t'])
            || line.starts_with("Personalities")
            || line.starts_with("unused")
        {
            continue;
        }
        let Some((name, rest)) = line.split_once(" : ") else {
            return Err(CollectError::parse(format!(
                "mdstat: not an array line: {line:?}"
            )));
        };
        let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
        let active = fields.first() == Some(&"active");
        let members = || fields.iter().filter(|f| f.contains('['));
        let disks_failed = members().filter(|f| f.ends_with("(F)")).count() as u64;
        let disks_spare = members().filter(|f| f.ends_with("(S)")).count() as u64;
        let status = lines
            .get(i + 1)
            .ok_or_else(|| CollectError::parse(format!("mdstat: {name} has no status line")))?;
        let size = status
            .split_ascii_whitespace()
            .next()
            .ok_or_else(|| CollectError::parse(format!("mdstat: {name}: empty status line")))?;
        let blocks = number(size, status)?;
        let striped = fields.iter().any(|f| *f == "raid0" || *f == "linear");
        let (disks_required, disks_active) = if striped {
            // No redundancy: every member listed is needed and active.
            let n = members().count() as u64;
            (n, n)
        } else if !active {
            (0, 0)
        } else {
            let (total, up) = disk_counts(status).ok_or_else(|| {
                CollectError::parse(format!("mdstat: {name}: no [n/m] in {status:?}"))
            })?;
            (number(total, status)?, number(up, status)?)
        };
        // The progress line follows the status line (or a bitmap line).
        let progress = lines
            .iter()
            .skip(i + 2)
            .take(2)
            .take_while(|l| l.starts_with([' ', '\t']))
            .find_map(|l| sync_progress(l));
        let (state, blocks_synced) = match progress {
            _ if !active => ("inactive", blocks),
            Some((state, done)) => (state, number(done, line)?),
            None => ("active", blocks),
        };
        out.push(Array {
            name: name.trim().to_owned(),
            state,
            disks_required,
            disks_active,
            disks_failed,
            disks_spare,
            blocks,
            blocks_synced,
        });
    }
    Ok(out)
}

impl BlockingCollector for MdadmCollector {
    fn name(&self) -> &'static str {
        "mdadm"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let path = self.paths.proc("mdstat");
        let text = match crate::paths::read_text(&path) {
            Ok(t) => t,
            // No md driver loaded: nothing, and success.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(CollectError::io(path.display().to_string(), e)),
        };
        let g = |name: &str, help: &'static str| Family::gauge(format!("node_md_{name}"), help);
        let mut state = g("state", "Indicates the state of md-device.");
        let mut disks = g("disks", "Number of active/failed/spare disks of device.");
        let mut required = g("disks_required", "Total number of disks of device.");
        let mut blocks = g("blocks", "Total number of blocks on device.");
        let mut synced = g("blocks_synced", "Number of blocks synced on device.");
        for a in parse(&text)? {
            let d = a.name.as_str();
            for s in ["active", "inactive", "recovering", "resync", "check"] {
                state.add(
                    &[("device", d), ("state", s)],
                    if a.state == s { 1.0 } else { 0.0 },
                );
            }
            disks.add(&[("device", d), ("state", "active")], a.disks_active as f64);
            disks.add(&[("device", d), ("state", "failed")], a.disks_failed as f64);
            disks.add(&[("device", d), ("state", "spare")], a.disks_spare as f64);
            required.add(&[("device", d)], a.disks_required as f64);
            blocks.add(&[("device", d)], a.blocks as f64);
            synced.add(&[("device", d)], a.blocks_synced as f64);
        }
        Ok(vec![blocks, synced, disks, required, state])
    }
}
