//! Every child process (terraform, the emulator) goes through here: a command
//! carries a one-line summary used in its errors, runs in its own process
//! group, and is bounded by a timeout and by the run's cancellation.
//! On timeout or cancellation the whole group is signalled, given a grace
//! period, then killed, so no grandchild (terraform's provider plugins)
//! outlives the run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

/// How long a signalled process group gets before SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(20);

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
    /// to `log` (a pipe nobody reads would fill up and block it).
    pub fn spawn_logged(&self, log: &Path) -> Result<tokio::process::Child, ProcessError> {
        let io_error = |source| ProcessError::Spawn { summary: self.summary.clone(), program: self.program.display().to_string(), source };
        let out = std::fs::File::create(log).map_err(io_error)?;
        let err = out.try_clone().map_err(io_error)?;
        let mut cmd = self.to_tokio();
        cmd.stdout(out).stderr(err);
        cmd.spawn().map_err(|source| self.spawn_error(source))
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
        let mut child = self.to_tokio().spawn().map_err(|source| self.spawn_error(source))?;
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
