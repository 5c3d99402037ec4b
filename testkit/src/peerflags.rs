//! A peer's flags, from its `--help`, held against what sidewatch does with
//! each: take it (the command line passes `--config.check`) or refuse it
//! (exit 2, one line that names it and says why).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// What sidewatch does with one of the peer's flags.
pub enum Take {
    /// Accepted: these arguments (`{dir}` stands for a directory holding
    /// the test kit's certificates) pass `--config.check`.
    Accept(&'static str),
    /// Refused with a reason.
    Refuse(&'static str),
}

/// The flag names (without dashes) in a peer's `--help`: Go's flag package
/// (`  -name type`) and kingpin (`      --name=default`, `--[no-]name`).
pub fn flags_in_help(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|l| {
            let t = l.trim_start();
            if l.len() == t.len() {
                return None;
            }
            // kingpin prints "-h, --help".
            let t = t.strip_prefix("-h, ").unwrap_or(t);
            let name = t.strip_prefix("--").or_else(|| t.strip_prefix('-'))?;
            let name = name.strip_prefix("[no-]").unwrap_or(name);
            let end = name
                .find(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
                .unwrap_or(name.len());
            let name = &name[..end];
            (!name.is_empty() && name.starts_with(|c: char| c.is_ascii_alphabetic()))
                .then(|| name.to_owned())
        })
        .collect()
}

/// The peer's `--help` text (Go's flag package prints it on stderr).
pub fn help_of(peer: &Path) -> String {
    let out = Command::new(peer)
        .arg("--help")
        .output()
        .expect("run the peer");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Holds `table` against the peer's `--help` and runs `ours` with each flag.
/// Returns every disagreement, one per line (empty when all hold).
pub fn check(
    peer: &Path,
    ours: &Path,
    env: &[(&str, &str)],
    table: &[(&str, Take)],
    certs_dir: &Path,
) -> Vec<String> {
    let mut problems = Vec::new();
    let in_help = flags_in_help(&help_of(peer));
    let in_table: BTreeSet<String> = table.iter().map(|(f, _)| (*f).to_owned()).collect();
    for f in in_help.difference(&in_table) {
        problems.push(format!("--{f}: in the peer's --help, not in the table"));
    }
    for f in in_table.difference(&in_help) {
        problems.push(format!(
            "--{f}: in the table, no longer in the peer's --help"
        ));
    }
    let dir = certs_dir.display().to_string();
    for (flag, take) in table {
        let args: Vec<String> = match take {
            Take::Accept(args) => args
                .split_whitespace()
                .map(|a| a.replace("{dir}", &dir))
                .collect(),
            Take::Refuse(_) => vec![format!("--{flag}")],
        };
        let mut cmd = Command::new(ours);
        cmd.env_clear()
            .envs(env.iter().copied())
            .args(&args)
            .arg("--config.check");
        let out = cmd.output().expect("run sidewatch");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        match take {
            Take::Accept(_) if code != Some(0) => problems.push(format!(
                "--{flag}: {args:?} should pass --config.check, got {code:?}: {}",
                stderr.trim()
            )),
            Take::Refuse(why) => {
                let lines: Vec<&str> = stderr.lines().collect();
                let expected = format!("error: --{flag} is not supported by sidewatch: ");
                if code != Some(2)
                    || lines.len() != 1
                    || !lines[0].starts_with(&expected)
                    || !lines[0].contains(why)
                {
                    problems.push(format!(
                        "--{flag}: should be refused (exit 2, one line with {why:?}), got {code:?}: {}",
                        stderr.trim()
                    ));
                }
            }
            Take::Accept(_) => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_help_styles() {
        let go = "Usage of x:\n  -append-instance-role-label\n    \tWhether to\n  -check-keys string\n    \tComma\n  -version\n";
        let kingpin = "usage: x [<flags>]\n\nFlags:\n  -h, --help  Show\n      --[no-]collector.wal  Enable\n      --web.listen-address=:9187 ...  \n      --log.level=info  Only\n                                 --help-long and --help-man).\n";
        assert_eq!(
            flags_in_help(go).into_iter().collect::<Vec<_>>(),
            ["append-instance-role-label", "check-keys", "version"]
        );
        assert_eq!(
            flags_in_help(kingpin).into_iter().collect::<Vec<_>>(),
            [
                "collector.wal",
                "help",
                "help-long",
                "log.level",
                "web.listen-address"
            ]
        );
    }
}
