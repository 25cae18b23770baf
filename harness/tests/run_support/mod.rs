#![allow(dead_code)] // shared by several test binaries, each using a part
//! A `harness` process driven by a test: stderr collected line by line as
//! it runs, waits on what it prints (polled with a deadline), signals.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A hang detector, not a speed check: far above a normal run (~1-2 min).
pub const RUN_DEADLINE: Duration = Duration::from_secs(300);

pub fn project(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// A harness process whose stderr is collected line by line as it runs.
pub struct Run {
    child: Child,
    stderr: Arc<Mutex<String>>,
    /// Set once stderr is closed: the harness has ended (or closed it), nothing more will come.
    stderr_closed: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let stderr_closed = Arc::new(AtomicBool::new(false));
        let closed = stderr_closed.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                eprintln!("  | {line}");
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
            closed.store(true, Ordering::SeqCst);
        });
        Run { child, stderr, stderr_closed, reader: Some(reader) }
    }

    /// Poll stderr until it contains `pattern` (or fail at the deadline, or
    /// at once when the harness has ended without printing it).
    pub fn wait_for(&self, pattern: &str) {
        let deadline = Instant::now() + RUN_DEADLINE;
        while !self.stderr.lock().unwrap().contains(pattern) {
            // Read the flag before the text: a line printed just before the end is not missed.
            let ended = self.stderr_closed.load(Ordering::SeqCst) && !self.stderr.lock().unwrap().contains(pattern);
            assert!(!ended, "the harness ended without printing `{pattern}`; stderr:\n{}", self.stderr.lock().unwrap());
            assert!(Instant::now() < deadline, "`{pattern}` never appeared; stderr:\n{}", self.stderr.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn interrupt(&self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
    }

    pub fn finish(mut self) -> Finished {
        let deadline = Instant::now() + RUN_DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the harness did not finish within {RUN_DEADLINE:?}; stderr:\n{}", self.stderr.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stdout = String::new();
        self.child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
        self.reader.take().unwrap().join().unwrap();
        let stderr = self.stderr.lock().unwrap().clone();
        Finished { status, stdout, stderr }
    }
}


impl Run {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: the harness gets no chance to clean up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// A run marked so that everything it leaves can be found afterwards: a
/// mark in its environment, which every process it starts inherits
/// (terraform, its providers, the emulator), whatever group or parent it
/// ends up with; and a temporary folder of its own (TMPDIR), where its
/// working copies and the emulator's files go.
pub struct Marked {
    mark: String,
    tmp: tempfile::TempDir,
}

/// The environment variable that carries the mark.
const MARK_VARIABLE: &str = "HARNESS_TEST_RUN_MARK";

impl Marked {
    pub fn new() -> Self {
        let tmp = tempfile::Builder::new().prefix("harness-marked-run-").tempdir().unwrap();
        let mark = tmp.path().file_name().unwrap().to_string_lossy().into_owned();
        Marked { mark, tmp }
    }

    pub fn apply(&self, cmd: &mut Command) {
        cmd.env(MARK_VARIABLE, &self.mark).env("TMPDIR", self.tmp.path());
    }

    /// Every live process that carries the mark: (pid, command name).
    pub fn processes(&self) -> Vec<(i32, String)> {
        let wanted = format!("{MARK_VARIABLE}={}", self.mark);
        let mut found = Vec::new();
        for pid in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()) {
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
            if !zombie && environ.split(|b| *b == 0).any(|entry| entry == wanted.as_bytes()) {
                let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string();
                found.push((pid, name));
            }
        }
        found
    }

    /// Poll until the `n`th provider process of the run has started (the
    /// kernel keeps 15 bytes of a name: `terraform-provi`). Terraform starts
    /// the AWS provider about three times in an apply (validate, plan,
    /// apply); from about 0.3 s to 3 s after the third starts (measured on
    /// the embedded emulator), an interrupted terraform takes seconds to
    /// stop: a second Ctrl-C then finds it, and its provider, still running.
    pub fn wait_for_provider_starts(&self, n: usize) {
        let mut seen = std::collections::BTreeSet::new();
        poll_until(&format!("provider start {n}"), || {
            seen.extend(self.processes().into_iter().filter(|(_, name)| name.starts_with("terraform-prov")).map(|(pid, _)| pid));
            seen.len() >= n
        });
    }

    /// The folders in the run's temporary folder now.
    pub fn folders(&self) -> Vec<String> {
        let entries = std::fs::read_dir(self.tmp.path()).unwrap().filter_map(Result::ok);
        entries.map(|e| e.path().display().to_string()).collect()
    }

    /// The marked processes still running once `within` has passed, or none
    /// sooner: what was signalled is given that long to end.
    pub fn processes_after(&self, within: Duration) -> Vec<(i32, String)> {
        let deadline = Instant::now() + within;
        while !self.processes().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.processes()
    }

    /// What the run left: marked processes still running (after a short
    /// poll, for the kernel to finish what was killed), and entries of its
    /// temporary folder that `output` does not name.
    pub fn leftovers(&self, output: &str) -> Vec<String> {
        let mut left: Vec<String> = self.processes_after(Duration::from_secs(5)).into_iter().map(|(pid, name)| format!("process {pid} ({name})")).collect();
        for path in self.folders() {
            if !output.contains(&path) {
                left.push(format!("unnamed folder {path}"));
            }
        }
        left
    }
}

impl Drop for Marked {
    /// Whatever a failed trial left is killed (the folder goes with `tmp`).
    fn drop(&mut self) {
        for (pid, _) in self.processes() {
            // SAFETY: kill(2) on a process this test's run started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Poll `done` until it holds, or fail at the deadline naming `what`.
pub fn poll_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + RUN_DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "{what} never came");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Ctrl-C after `lead`, then again after each spacing: the moments an
/// impatient person presses (the stimulus, not a synchronisation: what is
/// checked afterwards must hold whenever the presses come).
pub fn press_ctrl_c(run: &Run, lead: Duration, spacings: &[Duration]) {
    std::thread::sleep(lead);
    run.interrupt();
    for spacing in spacings {
        std::thread::sleep(*spacing);
        run.interrupt();
    }
}
