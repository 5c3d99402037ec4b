//! A child process the test owns: signals, restart, kill on drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, kill_process_group, Pid, Signal};

/// How to (re)start a service, kept so it can be restarted as it was.
pub struct Service {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    uid: Option<(u32, u32)>,
    envs: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Service {
    /// Starts `program args`, logging stdout and stderr to `log`.
    pub fn start(
        name: &str,
        program: &Path,
        args: Vec<String>,
        uid: Option<(u32, u32)>,
        log: PathBuf,
    ) -> std::io::Result<Self> {
        Self::start_env(name, program, args, Vec::new(), uid, log)
    }

    /// Like [`Service::start`], with extra environment variables.
    pub fn start_env(
        name: &str,
        program: &Path,
        args: Vec<String>,
        envs: Vec<(String, String)>,
        uid: Option<(u32, u32)>,
        log: PathBuf,
    ) -> std::io::Result<Self> {
        let mut svc = Self {
            name: name.to_owned(),
            program: program.to_owned(),
            args,
            uid,
            envs,
            log,
            child: None,
        };
        svc.spawn()?;
        Ok(svc)
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        use std::os::unix::process::CommandExt;
        let out = File::options().create(true).append(true).open(&self.log)?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        if let Some((uid, gid)) = self.uid {
            cmd.uid(uid).gid(gid).env("HOME", "/tmp");
        }
        self.child = Some(cmd.spawn()?);
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What the process wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn signal(&self, signal: Signal) {
        if let Some(pid) = self.pid().and_then(|p| Pid::from_raw(p as i32)) {
            let _ = kill_process(pid, signal);
        }
    }

    /// Waits until every thread of the process is stopped (state `T`, after
    /// SIGSTOP): delivery is asynchronous, and a busy machine may let a
    /// thread serve one more request first.
    pub fn wait_stopped(&self, timeout: std::time::Duration) -> bool {
        let Some(pid) = self.pid() else { return false };
        crate::wait_until(timeout, || {
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
                return false;
            };
            tasks.flatten().all(|t| {
                std::fs::read_to_string(t.path().join("stat"))
                    .ok()
                    .and_then(|s| {
                        s.rsplit_once(')')
                            .map(|(_, rest)| rest.trim_start().starts_with('T'))
                    })
                    .unwrap_or(false)
            })
        })
    }

    /// Sends `signal` to the process, its process group and its direct
    /// children (a server's workers, which may have sessions of their own).
    pub fn signal_group(&self, signal: Signal) {
        let Some(pid) = self.pid() else { return };
        if let Some(p) = Pid::from_raw(pid as i32) {
            let _ = kill_process_group(p, signal);
            let _ = kill_process(p, signal);
        }
        for child in children_of(pid) {
            if let Some(c) = Pid::from_raw(child as i32) {
                let _ = kill_process(c, signal);
            }
        }
    }

    /// SIGSTOP to the whole process group: a server whose every process is
    /// hung, sockets open, answering nothing.
    pub fn pause_group(&self) {
        self.signal_group(Signal::STOP);
    }

    /// SIGCONT after [`Service::pause_group`].
    pub fn resume_group(&self) {
        self.signal_group(Signal::CONT);
    }

    /// `signal` (e.g. SIGINT for PostgreSQL's fast shutdown), then as
    /// [`Service::stop_within`].
    pub fn stop_with(&mut self, signal: Signal, timeout: Duration) -> Option<ExitStatus> {
        self.resume_group();
        self.signal(signal);
        let status = self.wait_exit(timeout);
        if status.is_none() {
            self.kill();
        }
        status
    }

    /// SIGSTOP: the process keeps its sockets but answers nothing.
    pub fn pause(&self) {
        self.signal(Signal::STOP);
    }

    /// SIGCONT after [`Service::pause`].
    pub fn resume(&self) {
        self.signal(Signal::CONT);
    }

    /// SIGTERM and wait up to `timeout`; SIGKILL after that. Returns the exit status.
    pub fn stop_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.resume();
        self.signal(Signal::TERM);
        let status = self.wait_exit(timeout);
        if status.is_none() {
            self.kill();
        }
        status
    }

    pub fn stop(&mut self) {
        self.stop_within(Duration::from_secs(10));
    }

    /// Waits for the process to exit by itself.
    /// Whether the process has ended (its status stays for `wait_exit`).
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again with the same arguments (after stop or kill).
    pub fn restart(&mut self) -> std::io::Result<()> {
        if self.child.is_some() {
            self.stop();
        }
        self.spawn()
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
}

/// Pids whose parent is `parent`, from /proc.
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    // The field after the parenthesised command name is the state, then ppid.
                    let rest = s.rsplit_once(')')?.1;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

impl Drop for Service {
    fn drop(&mut self) {
        self.resume_group();
        self.kill();
    }
}
