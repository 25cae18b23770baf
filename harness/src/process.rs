//! Every child process (terraform, the emulator) goes through here: a command
//! carries a one-line summary used in its errors, runs in its own process
//! group, and is bounded by a timeout and by the run's cancellation.
//! On timeout or cancellation the whole group is signalled, given a grace
//! period, then killed, so no grandchild (terraform's provider plugins)
//! outlives the run.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

/// How long a signalled process group gets before SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(20);

/// The process groups of the children running now that must not outlive the
/// harness, and whether a hard stop has begun (then nothing new starts).
struct Live {
    /// Each group's leader and the signal that asks it to stop.
    groups: BTreeMap<i32, i32>,
    stopping: bool,
}

static LIVE: Mutex<Live> = Mutex::new(Live { groups: BTreeMap::new(), stopping: false });

fn live() -> std::sync::MutexGuard<'static, Live> {
    LIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A child's place among the live groups; it leaves when this is dropped
/// (the child has been reaped, or handed to what stops it).
#[derive(Debug)]
pub struct Registration(Option<i32>);

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            live().groups.remove(&pgid);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("{summary}: `{program}` was not found on PATH")]
    NotFound { summary: String, program: String },
    #[error("{summary}: could not start `{program}`")]
    Spawn {
        summary: String,
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{summary}: timed out after {}s", timeout.as_secs())]
    Timeout { summary: String, timeout: Duration, output: Output },
    #[error("{summary}: interrupted")]
    Interrupted { summary: String, output: Output },
    #[error("{summary}: exited with {status}\n{}", output.stderr_tail(25))]
    Failed { summary: String, status: ExitStatus, output: Output },
    #[error("{summary}: i/o error while waiting for it")]
    Io {
        summary: String,
        #[source]
        source: std::io::Error,
    },
}

/// What a finished child printed and how long it took.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    /// The last `lines` lines of stderr (terraform prints its errors there),
    /// falling back to stdout.
    pub fn stderr_tail(&self, lines: usize) -> String {
        let text = if self.stderr.trim().is_empty() { &self.stdout } else { &self.stderr };
        let all: Vec<&str> = text.trim_end().lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// A command described before it runs, so it can be inspected and tested.
/// Its Debug form names the environment's keys only: values may be credentials.
#[derive(Clone)]
pub struct Command {
    pub summary: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(String, OsString)>,
    pub env_remove: Vec<String>,
    pub timeout: Duration,
    /// The signal sent first when cancelled (SIGINT lets terraform stop cleanly).
    pub cancel_signal: i32,
    pub grace: Duration,
    /// Lives on after the harness (a kept emulator, which ends itself at its lease's expiry).
    pub outliving: bool,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Command")
            .field("summary", &self.summary)
            .field("program", &self.program)
            .field("args", &self.args)
            .field("cwd", &self.cwd)
            .field("env_keys", &self.env.iter().map(|(key, _)| key).collect::<Vec<_>>())
            .field("env_remove", &self.env_remove)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Command {
    pub fn new(summary: impl Into<String>, program: impl Into<PathBuf>, timeout: Duration) -> Self {
        Self {
            summary: summary.into(),
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            env_remove: Vec::new(),
            timeout,
            cancel_signal: libc::SIGTERM,
            grace: DEFAULT_GRACE,
            outliving: false,
        }
    }

    /// Let the process outlive the harness: not killed when dropped nor
    /// when the harness dies. Whatever runs so must end itself.
    pub fn outliving(mut self) -> Self {
        self.outliving = true;
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn env_remove(mut self, key: impl Into<String>) -> Self {
        self.env_remove.push(key.into());
        self
    }

    pub fn cancel_signal(mut self, signal: i32) -> Self {
        self.cancel_signal = signal;
        self
    }

    fn to_tokio(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(!self.outliving);
        // Not outliving the harness even when it is killed with SIGKILL: the
        // child gets its cancel signal (terraform stops as on Ctrl-C) when
        // the harness's spawning thread dies (a runtime worker: the process).
        #[cfg(target_os = "linux")]
        if !self.outliving {
            let signal = self.cancel_signal as libc::c_ulong;
            // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    libc::prctl(libc::PR_SET_PDEATHSIG, signal);
                    Ok(())
                });
            }
        }
        if let Some(cwd) = &self.cwd {
            cmd.current_dir(cwd);
        }
        for key in &self.env_remove {
            cmd.env_remove(key);
        }
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd
    }

    /// Start a long-running server without waiting for it; its output goes
    /// to `log` (a pipe nobody reads would fill up and block it). Its group
    /// stays among the live ones while the registration is held.
    pub fn spawn_logged(&self, log: &Path) -> Result<(tokio::process::Child, Registration), ProcessError> {
        let io_error = |source| ProcessError::Spawn { summary: self.summary.clone(), program: self.program.display().to_string(), source };
        let out = std::fs::File::create(log).map_err(io_error)?;
        let err = out.try_clone().map_err(io_error)?;
        let mut cmd = self.to_tokio();
        cmd.stdout(out).stderr(err);
        self.spawn_registered(cmd)
    }

    /// Spawn and register the child's group in one step under the lock, so a
    /// hard stop either sees the child or prevents it.
    fn spawn_registered(&self, mut cmd: tokio::process::Command) -> Result<(tokio::process::Child, Registration), ProcessError> {
        let mut live = live();
        if live.stopping {
            return Err(ProcessError::Interrupted { summary: self.summary.clone(), output: Output::default() });
        }
        let child = cmd.spawn().map_err(|source| self.spawn_error(source))?;
        let pgid = child.id().map(|pid| pid as i32).filter(|_| !self.outliving);
        if let Some(pgid) = pgid {
            live.groups.insert(pgid, self.cancel_signal);
        }
        Ok((child, Registration(pgid)))
    }

    fn spawn_error(&self, source: std::io::Error) -> ProcessError {
        let program = self.program.display().to_string();
        if source.kind() == std::io::ErrorKind::NotFound {
            ProcessError::NotFound { summary: self.summary.clone(), program }
        } else {
            ProcessError::Spawn { summary: self.summary.clone(), program, source }
        }
    }

    /// Run to completion; a non-zero exit is an error carrying the output.
    pub async fn run(&self, cancel: &CancellationToken) -> Result<Output, ProcessError> {
        tracing::debug!(summary = %self.summary, program = %self.program.display(), args = ?self.args, "running");
        let started = Instant::now();
        let (mut child, _registered) = self.spawn_registered(self.to_tokio())?;
        let pgid = child.id().map(|pid| pid as i32);
        let readers = read_both(&mut child);
        tokio::pin!(readers);

        enum End {
            Exited(std::io::Result<ExitStatus>, (Vec<u8>, Vec<u8>)),
            TimedOut,
            Cancelled,
        }
        let end = tokio::select! {
            result = async { let out = (&mut readers).await; (child.wait().await, out) } => End::Exited(result.0, result.1),
            _ = tokio::time::sleep(self.timeout) => End::TimedOut,
            _ = cancel.cancelled() => End::Cancelled,
        };
        let output_of = |out: (Vec<u8>, Vec<u8>)| Output {
            stdout: String::from_utf8_lossy(&out.0).into_owned(),
            stderr: String::from_utf8_lossy(&out.1).into_owned(),
            elapsed: started.elapsed(),
        };
        match end {
            End::Exited(status, out) => {
                let output = output_of(out);
                let status = status.map_err(|source| ProcessError::Io { summary: self.summary.clone(), source })?;
                if status.success() {
                    Ok(output)
                } else {
                    Err(ProcessError::Failed { summary: self.summary.clone(), status, output })
                }
            }
            End::TimedOut | End::Cancelled => {
                let first = if matches!(end, End::TimedOut) { libc::SIGTERM } else { self.cancel_signal };
                let output = output_of(self.stop(pgid, first, &mut child, readers).await);
                if matches!(end, End::TimedOut) {
                    Err(ProcessError::Timeout { summary: self.summary.clone(), timeout: self.timeout, output })
                } else {
                    Err(ProcessError::Interrupted { summary: self.summary.clone(), output })
                }
            }
        }
    }

    /// Signal the group with `first`, give it the grace period to exit (what
    /// it printed until then is kept), then kill it.
    async fn stop(
        &self,
        pgid: Option<i32>,
        first: i32,
        child: &mut tokio::process::Child,
        readers: std::pin::Pin<&mut impl Future<Output = (Vec<u8>, Vec<u8>)>>,
    ) -> (Vec<u8>, Vec<u8>) {
        if let Some(pgid) = pgid {
            signal_group(pgid, first);
        }
        let exited = tokio::time::timeout(self.grace, async {
            let out = readers.await;
            let _ = child.wait().await;
            out
        })
        .await;
        match exited {
            Ok(out) => out,
            Err(_) => {
                if let Some(pgid) = pgid {
                    signal_group(pgid, libc::SIGKILL);
                }
                let _ = child.wait().await;
                (Vec::new(), Vec::new())
            }
        }
    }
}

/// Everything the child prints on stdout and stderr, read side by side (a
/// full pipe would block it).
fn read_both(child: &mut tokio::process::Child) -> impl Future<Output = (Vec<u8>, Vec<u8>)> + use<> {
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    async move {
        let read_out = async {
            let mut buf = Vec::new();
            let _ = stdout.read_to_end(&mut buf).await;
            buf
        };
        let read_err = async {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf).await;
            buf
        };
        tokio::join!(read_out, read_err)
    }
}

/// The hard stop (a second Ctrl-C): no child starts from now on; every live
/// group gets its stop signal and up to `grace` to end (terraform, stopping,
/// saves what state it can), then the groups and every descendant that left
/// its group are killed with SIGKILL; waits up to `deadline` until none of
/// them runs. Returns the pids still running then (none, unless the kernel is slow).
pub fn kill_every_child(grace: Duration, deadline: Duration) -> Vec<i32> {
    let groups: BTreeMap<i32, i32> = {
        let mut live = live();
        live.stopping = true;
        live.groups.clone()
    };
    let leaders: Vec<i32> = groups.keys().copied().collect();
    let table = process_table();
    let doomed: Vec<i32> = table.iter().filter(|p| leaders.contains(&p.pgid) || descends_from(p.pid, &leaders, &table)).map(|p| p.pid).collect();
    tracing::debug!(?groups, ?doomed, "hard stop: killing every child");
    let running = || -> Vec<i32> { process_table().into_iter().filter(|p| !p.zombie && doomed.contains(&p.pid)).map(|p| p.pid).collect() };
    for (pgid, signal) in &groups {
        signal_group(*pgid, *signal);
    }
    let _ = poll_until(grace, || running().is_empty());
    for pgid in &leaders {
        signal_group(*pgid, libc::SIGKILL);
    }
    for pid in &doomed {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    let _ = poll_until(deadline, || running().is_empty());
    running()
}

/// Poll `done` every 20 ms until it holds (true) or `deadline` passes (false).
fn poll_until(deadline: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + deadline;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One process as /proc/PID/stat tells it.
#[derive(Debug, Clone, Copy)]
struct ProcessEntry {
    pid: i32,
    ppid: i32,
    pgid: i32,
    zombie: bool,
}

/// Every process of the machine (empty where there is no /proc).
fn process_table() -> Vec<ProcessEntry> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| parse_stat(pid, &std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?))
        .collect()
}

/// `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses, so
/// the fields are read after its last `)`.
fn parse_stat(pid: i32, stat: &str) -> Option<ProcessEntry> {
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgid = fields.next()?.parse().ok()?;
    Some(ProcessEntry { pid, ppid, pgid, zombie: state == "Z" })
}

/// Whether `pid`'s ancestry passes through a process of one of `groups`.
fn descends_from(pid: i32, groups: &[i32], table: &[ProcessEntry]) -> bool {
    let mut current = pid;
    // A bound, in case the table changed under us into a loop.
    for _ in 0..table.len() {
        let Some(entry) = table.iter().find(|p| p.pid == current) else { return false };
        if groups.contains(&entry.pgid) {
            return true;
        }
        if entry.ppid <= 1 {
            return false;
        }
        current = entry.ppid;
    }
    false
}

/// Send `signal` to every process of the group `pgid`.
pub fn signal_group(pgid: i32, signal: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group; it has no
    // memory-safety preconditions.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn captures_output_and_failure() {
        let cancel = CancellationToken::new();
        let ok = Command::new("echo", "sh", Duration::from_secs(10))
            .args(["-c", "echo out; echo err >&2"])
            .run(&cancel)
            .await
            .unwrap();
        assert_eq!(ok.stdout, "out\n");
        assert_eq!(ok.stderr, "err\n");

        let err = Command::new("fail on purpose", "sh", Duration::from_secs(10))
            .args(["-c", "echo boom >&2; exit 3"])
            .run(&cancel)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("fail on purpose: exited with"), "{text}");
        assert!(text.contains("boom"), "{text}");
    }

    #[test]
    fn debug_form_hides_environment_values() {
        let cmd = Command::new("apply", "terraform", Duration::from_secs(1)).env("AWS_SECRET_ACCESS_KEY", "s3cr3t-value");
        let text = format!("{cmd:?}");
        assert!(text.contains("AWS_SECRET_ACCESS_KEY") && !text.contains("s3cr3t-value"), "{text}");
    }

    #[tokio::test]
    async fn missing_program_is_named() {
        let err = Command::new("run the tool", "/nonexistent/tool", Duration::from_secs(1))
            .run(&CancellationToken::new())
            .await
            .unwrap_err();
        assert!(matches!(err, ProcessError::NotFound { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        // The grandchild would outlive a plain kill of the shell.
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild.pid");
        let script = format!("sleep 30 & echo $! > {}; wait", marker.display());
        let mut cmd = Command::new("slow", "sh", Duration::from_millis(300)).args(["-c", &script]);
        cmd.grace = Duration::from_secs(5);
        let err = cmd.run(&CancellationToken::new()).await.unwrap_err();
        assert!(matches!(err, ProcessError::Timeout { .. }), "{err:?}");
        let pid: i32 = std::fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
        // Poll with a deadline: the group was signalled, the grandchild must be gone.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // SAFETY: signal 0 only checks for existence.
            let alive = unsafe { libc::kill(pid, 0) } == 0
                && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ");
            if !alive {
                break;
            }
            assert!(Instant::now() < deadline, "grandchild {pid} survived the timeout");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[test]
    fn stat_lines_are_read_after_the_command_name() {
        let entry = parse_stat(42, "42 (terraform (x) y) S 7 42 42 0 -1").unwrap();
        assert_eq!((entry.pid, entry.ppid, entry.pgid, entry.zombie), (42, 7, 42, false));
        assert!(parse_stat(9, "9 (sh) Z 1 9 9").unwrap().zombie);
        assert!(parse_stat(9, "garbage").is_none());
    }

    #[test]
    fn descent_is_followed_through_parents_that_left_the_group() {
        let table = [
            ProcessEntry { pid: 10, ppid: 1, pgid: 10, zombie: false },
            ProcessEntry { pid: 11, ppid: 10, pgid: 11, zombie: false },
            ProcessEntry { pid: 12, ppid: 11, pgid: 12, zombie: false },
            ProcessEntry { pid: 20, ppid: 1, pgid: 20, zombie: false },
        ];
        assert!(descends_from(12, &[10], &table));
        assert!(!descends_from(20, &[10], &table));
    }

    #[tokio::test]
    async fn cancellation_interrupts() {
        let cancel = CancellationToken::new();
        let cmd = Command::new("wait", "sleep", Duration::from_secs(30)).arg("30");
        let trigger = cancel.clone();
        tokio::spawn(async move { trigger.cancel() });
        let err = cmd.run(&cancel).await.unwrap_err();
        assert!(matches!(err, ProcessError::Interrupted { .. }), "{err:?}");
    }
}
