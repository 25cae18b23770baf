//! The edit-and-verify loop, through the `harness` binary on the embedded
//! emulator: `run --keep`, then `run --reuse` (an unchanged config is not
//! applied at all; a one-line trust edit is applied in place and its step's
//! verdict flips; the lease is renewed), `release` (the emulator ends, the
//! kept state goes), a lease that expires (its emulator ends itself; a reuse
//! is refused and releases it), and `watch` (a config edit reruns the
//! scenario and says which verdicts changed; Ctrl-C cleans up).
#![cfg(feature = "localstack")]

mod run_support;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use harness::exit_code;
use run_support::{Run, project};

/// The line of solution_demo's config that lets role1 into role2.
const TRUSTS_ROLE1: &str = "identifiers = [aws_iam_role.role1.arn]";
/// The one-line edit: role2 trusts role3 instead (role1 is then refused).
const TRUSTS_ROLE3: &str = "identifiers = [aws_iam_role.role3.arn]";

/// A copy of the configs to edit, and a folder for the lease; whatever a
/// failing test kept is released when it ends.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let copied = Command::new("cp").arg("-r").arg(project("terraform_configuration")).arg(dir.path().join("configs")).status().unwrap();
        assert!(copied.success());
        Workspace { dir }
    }

    fn configs(&self) -> PathBuf {
        self.dir.path().join("configs")
    }

    fn kept(&self) -> PathBuf {
        self.dir.path().join("kept")
    }

    /// `harness <args> --configs-dir <copy> --kept-dir <kept>`.
    fn harness(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
        cmd.args(args).arg("--configs-dir").arg(self.configs()).arg("--kept-dir").arg(self.kept()).current_dir(project(""));
        cmd
    }

    fn run(&self, args: &[&str]) -> (Output, serde_json::Value) {
        let report = self.dir.path().join("report.json");
        let out = self.harness(&[args, &["--report-json", report.to_str().unwrap()]].concat()).output().unwrap();
        let json = std::fs::read_to_string(&report)
            .map(|t| serde_json::from_str(&t).unwrap_or_else(|e| panic!("no report ({e}); the run said:\n{}", text(&out))))
            .unwrap_or_default();
        (out, json)
    }

    fn lease(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.kept().join("lease.json")).unwrap()).unwrap()
    }

    /// Replace one line of solution_demo's main.tf.
    fn edit(&self, from: &str, to: &str) {
        let path = self.configs().join("solution_demo/main.tf");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from} not in {}", path.display());
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }
}

impl Workspace {
    fn release(&self) -> Output {
        Command::new(env!("CARGO_BIN_EXE_harness")).args(["release", "--kept-dir"]).arg(self.kept()).output().unwrap()
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn phases(report: &serde_json::Value) -> Vec<String> {
    report["scenarios"][0]["phases"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect()
}

fn verdict(report: &serde_json::Value, step: &str) -> (String, String) {
    let steps = report["scenarios"][0]["steps"].as_array().unwrap();
    let step = steps.iter().find(|s| s["name"] == step).unwrap_or_else(|| panic!("no step `{step}` in {report}"));
    (step["verdict"].as_str().unwrap().into(), step["observed"].as_str().unwrap().into())
}

fn all_pass(report: &serde_json::Value) -> bool {
    report["scenarios"][0]["steps"].as_array().unwrap().iter().all(|s| s["verdict"] == "pass")
}

/// Whether anything listens at `http://host:port`.
fn answers(endpoint: &str) -> bool {
    TcpStream::connect(endpoint.trim_start_matches("http://")).is_ok()
}

/// Poll `done` until it holds, or fail at the deadline.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen within 30s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_kept_scenario_reruns_with_no_apply_and_takes_a_trust_edit_in_place() {
    let ws = Workspace::new();
    let (out, cold) = ws.run(&["run", "--keep", "-s", "solution_demo"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("kept: moto at"), "{}", text(&out));
    assert!(all_pass(&cold), "{cold}");
    let lease = ws.lease();
    let endpoint = lease["emulator"]["endpoint"].as_str().unwrap().to_string();
    let copy = PathBuf::from(lease["scenarios"]["solution_demo"]["dir"].as_str().unwrap());
    assert!(answers(&endpoint) && copy.is_dir());
    // The lease holds the admin's secret: its owner's only, never printed.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(ws.kept().join("lease.json")).unwrap().permissions().mode() & 0o077, 0);
    assert!(!text(&out).contains(lease["emulator"]["admin_secret"].as_str().unwrap()));

    // A second --keep while the lease lives is refused, nothing started.
    let again = ws.harness(&["run", "--keep", "-s", "solution_demo"]).output().unwrap();
    assert_eq!(again.status.code(), Some(exit_code::USAGE), "{}", text(&again));
    assert!(text(&again).contains("already kept"), "{}", text(&again));

    // Nothing changed: no terraform call at all (no init, no apply, no outputs), the same verdicts;
    // the access snapshot is checked against the kept state file, read as it is.
    let (out, warm) = ws.run(&["run", "--reuse", "-s", "solution_demo"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(phases(&warm), ["unchanged", "scenario", "access"]);
    assert!(all_pass(&warm) && warm["scenarios"][0]["steps"].as_array().unwrap().len() == cold["scenarios"][0]["steps"].as_array().unwrap().len());
    assert!(ws.lease()["expires_at"].as_u64() >= lease["expires_at"].as_u64(), "renewed");

    // The one-line edit is applied in place over the kept state: role1 is now refused.
    ws.edit(TRUSTS_ROLE1, TRUSTS_ROLE3);
    let (out, edited) = ws.run(&["run", "--reuse", "-s", "solution_demo"]);
    assert_eq!(out.status.code(), Some(exit_code::STEPS_FAILED), "{}", text(&out));
    assert_eq!(phases(&edited)[..3], ["apply", "outputs", "scenario"]);
    assert_eq!(verdict(&edited, "role1 assumes role2"), ("fail".into(), "denied".into()));
    // And back: role1 gets in again, on the same resources.
    ws.edit(TRUSTS_ROLE3, TRUSTS_ROLE1);
    let (out, fixed) = ws.run(&["run", "--reuse", "-s", "solution_demo"]);
    assert!(out.status.success() && all_pass(&fixed), "{}", text(&out));
    assert_eq!(fixed["run_id"], cold["run_id"], "the kept resources keep their names");

    let released = ws.release();
    assert!(released.status.success(), "{}", text(&released));
    wait_until("the kept emulator's end", || !answers(&endpoint));
    assert!(!copy.exists() && !ws.kept().exists());
}

#[test]
fn an_expired_lease_ends_its_emulator_and_a_reuse_is_refused() {
    let ws = Workspace::new();
    let nothing = ws.harness(&["run", "--reuse", "-s", "session_policy"]).output().unwrap();
    assert_eq!(nothing.status.code(), Some(exit_code::USAGE), "{}", text(&nothing));
    assert!(text(&nothing).contains("run `harness run --keep` first"), "{}", text(&nothing));
    let (out, _) = ws.run(&["run", "--keep", "-s", "session_policy"]);
    assert!(out.status.success(), "{}", text(&out));
    let mut lease = ws.lease();
    let endpoint = lease["emulator"]["endpoint"].as_str().unwrap().to_string();
    let copy = PathBuf::from(lease["scenarios"]["session_policy"]["dir"].as_str().unwrap());
    // Time passes: the lease says it is over.
    lease["expires_at"] = serde_json::json!(1);
    std::fs::write(ws.kept().join("lease.json"), lease.to_string()).unwrap();
    wait_until("the emulator ending itself at its lease's expiry", || !answers(&endpoint));
    let late = ws.harness(&["run", "--reuse", "-s", "session_policy"]).output().unwrap();
    assert_eq!(late.status.code(), Some(exit_code::TARGET), "{}", text(&late));
    assert!(text(&late).contains("expired"), "{}", text(&late));
    assert!(!copy.exists() && !ws.kept().exists(), "what the expired lease named is released");
}

#[test]
fn watch_reruns_a_scenario_when_its_config_changes_and_cleans_up_on_ctrl_c() {
    let ws = Workspace::new();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.args(["watch", "-s", "solution_demo", "--poll", "100ms", "--target", "moto", "--configs-dir"]).arg(ws.configs()).current_dir(project(""));
    let watch = Run::spawn(cmd);
    watch.wait_for("edit one to rerun it");
    ws.edit(TRUSTS_ROLE1, TRUSTS_ROLE3);
    watch.wait_for("since the previous run of solution_demo: role1 assumes role2: PASS -> FAIL");
    ws.edit(TRUSTS_ROLE3, TRUSTS_ROLE1);
    watch.wait_for("role1 assumes role2: FAIL -> PASS");
    watch.interrupt();
    let done = watch.finish();
    assert_eq!(done.status.code(), Some(exit_code::SUCCESS), "{}", done.stderr);
    // The working copy it kept between rounds is gone with it.
    let kept: Vec<&str> = done.stdout.lines().filter_map(|l| l.split("kept for the next run in ").nth(1)).collect();
    assert!(!kept.is_empty(), "{}", done.stdout);
    assert!(kept.iter().all(|dir| !Path::new(dir).exists()), "{kept:?}");
    // One working copy, made and initialised once, applied in place by each round.
    assert_eq!(done.stderr.matches("[solution_demo] init ...").count(), 1, "{}", done.stderr);
    assert_eq!(done.stderr.matches("[solution_demo] apply ...").count(), 3, "{}", done.stderr);
}
