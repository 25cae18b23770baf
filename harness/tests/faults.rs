//! Faults injected for real against the `harness` binary: signals, a killed
//! emulator, an apply that fails halfway, a destroy that fails, concurrent
//! runs, and a hunt for leaked secrets. Each test owns an emulator that
//! outlives the harness run (the endpoint target), so afterwards it can list
//! the emulator's roles, instance profiles, buckets and instances and assert
//! that nothing from the run is left.
#![cfg(feature = "localstack")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use harness::exit_code;
use harness::sdk::{self, Endpoint};
use harness::target::moto::{MotoOptions, MotoServer};

mod run_support;
use run_support::{Finished, Marked, Run, press_ctrl_c, project};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path)
}

/// The SDK config of an emulator's admin.
async fn admin_config(endpoint: &str, key_id: &str, secret: &str) -> SdkConfig {
    let creds = Credentials::new(key_id, secret, None, None, "test-admin");
    let endpoint = Endpoint { url: Some(endpoint.to_string()), region: "us-east-1".into() };
    sdk::config_with(&endpoint, SharedCredentialsProvider::new(creds)).await
}

/// An emulator owned by the test, reached by the harness as `--endpoint`.
struct Emulator {
    runtime: tokio::runtime::Runtime,
    server: Option<MotoServer>,
    endpoint: String,
    key_id: String,
    secret: String,
    secrets_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Emulator {
    fn start() -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let secrets_file = dir.path().join("issued-secrets");
        let options = MotoOptions { record_secrets: Some(secrets_file.clone()), ..MotoOptions::default() };
        let server = runtime.block_on(MotoServer::start(&options)).expect("the test's emulator starts");
        Emulator {
            endpoint: server.endpoint.clone(),
            key_id: server.admin_access_key_id.clone(),
            secret: server.admin_secret.expose().to_string(),
            server: Some(server),
            runtime,
            secrets_file,
            _dir: dir,
        }
    }

    fn admin(&self) -> SdkConfig {
        self.runtime.block_on(admin_config(&self.endpoint, &self.key_id, &self.secret))
    }

    /// `harness run`, pointed at this emulator as its admin.
    fn harness(&self, args: &[&str]) -> Command {
        self.command("run", args)
    }

    /// Any `harness` subcommand with `--endpoint` this emulator and its admin's credentials.
    fn command(&self, subcommand: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
        cmd.arg(subcommand).arg("--endpoint").arg(&self.endpoint).args(args).current_dir(project(""));
        cmd.env("AWS_ACCESS_KEY_ID", &self.key_id).env("AWS_SECRET_ACCESS_KEY", &self.secret).env_remove("AWS_PROFILE").env_remove("AWS_SESSION_TOKEN");
        cmd
    }

    /// Every role, instance profile, bucket, user (but the admin) and live instance.
    fn leftovers(&self) -> Vec<String> {
        self.leftovers_as(self.admin())
    }

    /// The same in another account, reached as its Organization does (its access role aside).
    fn leftovers_in(&self, account: &str) -> Vec<String> {
        let admin = self.admin();
        let member = self.runtime.block_on(async {
            let role = format!("arn:aws:iam::{account}:role/{}", harness::accounts::ACCESS_ROLE);
            let provider = aws_config::sts::AssumeRoleProvider::builder(role).session_name("test").configure(&admin).build().await;
            let endpoint = Endpoint { url: Some(self.endpoint.clone()), region: "us-east-1".into() };
            sdk::config_with(&endpoint, SharedCredentialsProvider::new(provider)).await
        });
        self.leftovers_as(member).into_iter().filter(|l| *l != format!("role {}", harness::accounts::ACCESS_ROLE)).collect()
    }

    fn leftovers_as(&self, admin: SdkConfig) -> Vec<String> {
        self.runtime.block_on(async {
            let iam = aws_sdk_iam::Client::new(&admin);
            let mut left = Vec::new();
            for role in iam.list_roles().send().await.unwrap().roles() {
                left.push(format!("role {}", role.role_name()));
            }
            for profile in iam.list_instance_profiles().send().await.unwrap().instance_profiles() {
                left.push(format!("instance profile {}", profile.instance_profile_name()));
            }
            for user in iam.list_users().send().await.unwrap().users() {
                if user.user_name() != "harness-admin" {
                    left.push(format!("user {}", user.user_name()));
                }
            }
            for bucket in sdk::s3_client(&admin).list_buckets().send().await.unwrap().buckets() {
                left.push(format!("bucket {}", bucket.name().unwrap_or_default()));
            }
            let instances = aws_sdk_ec2::Client::new(&admin).describe_instances().send().await.unwrap();
            for instance in instances.reservations().iter().flat_map(|r| r.instances()) {
                let state = instance.state().and_then(|s| s.name()).map(|n| n.as_str().to_string()).unwrap_or_default();
                if state != "terminated" && state != "shutting-down" {
                    left.push(format!("instance {} ({state})", instance.instance_id().unwrap_or_default()));
                }
            }
            left
        })
    }

    /// The role whose name ends with `suffix`, and the policies attached to it.
    fn attached_policies(&self, suffix: &str) -> (Option<String>, Vec<String>) {
        let admin = self.admin();
        self.runtime.block_on(async {
            let iam = aws_sdk_iam::Client::new(&admin);
            let roles = iam.list_roles().send().await.unwrap();
            let Some(role) = roles.roles().iter().find(|r| r.role_name().ends_with(suffix)) else { return (None, Vec::new()) };
            let attached = iam.list_attached_role_policies().role_name(role.role_name()).send().await.unwrap();
            let arns = attached.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_string)).collect();
            (Some(role.role_name().to_string()), arns)
        })
    }

    fn assert_nothing_left(&self) {
        let left = self.leftovers();
        assert!(left.is_empty(), "the run left resources behind: {left:?}");
    }

    /// Run a cleanup command the harness printed, as a person would: in a
    /// shell, with the target's credentials.
    fn run_printed_command(&self, command: &str) {
        let status = Command::new("sh")
            .arg("-c")
            .arg(command)
            .env("AWS_ACCESS_KEY_ID", &self.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "`{command}` failed");
    }

    fn issued_secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = std::fs::read_to_string(&self.secrets_file).unwrap_or_default().lines().map(str::to_string).collect();
        secrets.push(self.secret.clone());
        secrets
    }

    /// None of the secrets the emulator issued appears in any of `outputs` (name, text).
    fn assert_no_secret_in(&self, outputs: &[(&str, &str)]) {
        for secret in self.issued_secrets() {
            for (name, text) in outputs {
                assert!(!text.contains(secret.as_str()), "a secret issued during the run appears in {name}");
            }
        }
    }

    fn kill(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.stop());
        }
    }
}

/// `harness run` with `args` against `emulator`, one Ctrl-C once `line`
/// shows; it must end as interrupted.
fn interrupted_at(emulator: &Emulator, args: &[&str], line: &str) -> Finished {
    let run = Run::spawn(emulator.harness(args));
    run.wait_for(line);
    run.interrupt();
    let done = run.finish();
    assert_eq!(done.status.code(), Some(exit_code::INTERRUPTED), "{}", done.stderr);
    done
}

#[test]
fn ctrl_c_during_apply_still_destroys_everything() {
    let emulator = Emulator::start();
    let done = interrupted_at(&emulator, &["-s", "problem_demo"], "[problem_demo] init done");
    assert!(done.stderr.contains("interrupted: stopping; destroying what was applied"), "{}", done.stderr);
    // Said as an interruption, not a failure, and no empty table of steps.
    assert!(done.stderr.contains("[problem_demo] INTERRUPTED during apply (Ctrl-C)\n"), "{}", done.stderr);
    assert!(!done.stdout.contains("SCENARIO") && !done.stdout.contains("FAILED"), "{}", done.stdout);
    assert!(done.stdout.contains("problem_demo: INTERRUPTED during apply |"), "{}", done.stdout);
    assert!(done.stdout.contains("result: INTERRUPTED | 0 passed, 0 failed, 0 unverified | interrupted by Ctrl-C: problem_demo (apply)"), "{}", done.stdout);
    assert!(done.stderr.contains("[problem_demo] destroy done"), "{}", done.stderr);
    emulator.assert_nothing_left();
}

#[test]
fn ctrl_c_after_apply_still_destroys_everything() {
    let emulator = Emulator::start();
    let done = interrupted_at(&emulator, &["-s", "solution_demo"], "[solution_demo] apply done");
    assert!(done.stderr.contains("[solution_demo] destroy done"), "{}", done.stderr);
    emulator.assert_nothing_left();
}

#[test]
fn second_ctrl_c_stops_waiting_and_the_printed_command_finishes_the_cleanup() {
    let emulator = Emulator::start();
    let marked = Marked::new();
    let mut cmd = emulator.harness(&["-s", "problem_demo"]);
    marked.apply(&mut cmd);
    let run = Run::spawn(cmd);
    run.wait_for("[problem_demo] init done");
    run.interrupt();
    run.wait_for("interrupted: stopping");
    run.interrupt();
    let done = run.finish();
    assert_eq!(done.status.code(), Some(exit_code::INTERRUPTED), "{}", done.stderr);
    assert!(done.stderr.contains("stopped waiting; cleanup may be incomplete"), "{}", done.stderr);
    // No process of the run is left; its working copy is, and the output names it.
    let left = marked.leftovers(&done.stderr);
    assert!(left.is_empty(), "the run left {left:?}");
    let hint = done.stderr.lines().map(str::trim).find(|l| l.starts_with("cd ") && l.contains(" destroy -auto-approve")).unwrap_or_else(|| panic!("no cleanup command printed:\n{}", done.stderr)).to_string();
    // -lock-timeout in it waits for the interrupted terraform to let go of the state.
    emulator.run_printed_command(&hint);
    emulator.assert_nothing_left();
}

/// Ctrl-C pressed again and again during an apply on the embedded emulator:
/// no process of the run (terraform, its providers, the emulator) and no
/// folder of it (working copies, the emulator's files) is left.
fn ctrl_cs_on_the_embedded_emulator_leave_nothing(lead: Duration, spacings: &[Duration]) {
    let marked = Marked::new();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.args(["run", "--target", "moto", "-s", "problem_demo"]).current_dir(project(""));
    marked.apply(&mut cmd);
    let run = Run::spawn(cmd);
    run.wait_for("[problem_demo] init done");
    marked.wait_for_provider_starts(3);
    press_ctrl_c(&run, lead, spacings);
    let done = run.finish();
    assert_eq!(done.status.code(), Some(exit_code::INTERRUPTED), "{}", done.stderr);
    let left = marked.leftovers(&format!("{}{}", done.stdout, done.stderr));
    assert!(left.is_empty(), "the run left {left:?}; stderr:\n{}", done.stderr);
}

#[test]
fn two_ctrl_cs_on_the_embedded_emulator_leave_no_process_and_no_folder() {
    ctrl_cs_on_the_embedded_emulator_leave_nothing(Duration::from_millis(500), &[Duration::from_millis(200)]);
}

#[test]
fn three_ctrl_cs_on_the_embedded_emulator_leave_no_process_and_no_folder() {
    ctrl_cs_on_the_embedded_emulator_leave_nothing(Duration::from_millis(800), &[Duration::from_millis(700), Duration::from_millis(100)]);
}

#[test]
fn apply_failing_halfway_shows_terraforms_error_and_leaves_nothing() {
    let emulator = Emulator::start();
    let scenario = fixture("scenarios/broken_apply.toml");
    let done = Run::spawn(emulator.harness(&["-s", scenario.to_str().unwrap()])).finish();
    assert_eq!(done.status.code(), Some(exit_code::APPLY_FAILED), "{}", done.stderr);
    assert!(done.stderr.contains("NoSuchEntity"), "terraform's error is shown:\n{}", done.stderr);
    assert!(done.stderr.contains("[broken_apply] destroy done"), "{}", done.stderr);
    emulator.assert_nothing_left();
}

/// SIGKILL runs no cleanup at all: a run killed while its PostgreSQL serves
/// leaves no process behind (the database stops when the harness dies, as
/// terraform and the emulator do), also when it runs as `postgres` under root.
#[test]
fn a_killed_rds_run_leaves_no_database_running() {
    let marked = Marked::new();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.args(["run", "--target", "moto", "-s", "rds_iam"]).current_dir(project(""));
    marked.apply(&mut cmd);
    let run = Run::spawn(cmd);
    // The server, not initdb's bootstrap: its command line names the socket folder (-k).
    let serving = |pid: &i32| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|line| line.split(|b| *b == 0).any(|arg| arg == b"-k"));
    run_support::poll_until("the run's PostgreSQL server", || marked.processes().iter().any(|(pid, name)| name == "postgres" && serving(pid)));
    run.kill();
    let left = marked.processes_after(Duration::from_secs(30));
    assert!(left.is_empty(), "the killed run left {left:?}");
}

#[test]
fn an_rds_scenario_without_postgresql_stops_with_its_remedy_and_its_own_exit_code() {
    // RDS steps need the local PostgreSQL: without it the scenario stops before any apply, never skipped in silence.
    let emulator = Emulator::start();
    let mut cmd = emulator.harness(&["-s", "rds_iam"]);
    cmd.env(harness::target::database::BIN_VARIABLE, "/nonexistent-postgres-bin");
    let done = Run::spawn(cmd).finish();
    assert_eq!(done.status.code(), Some(exit_code::MISSING_TOOL), "{}", done.stderr);
    assert!(done.stderr.contains("[rds_iam] FAILED: tools failed: PostgreSQL is not installed") && done.stderr.contains("(Debian: postgresql-15)"), "{}", done.stderr);
    assert!(!done.stderr.contains("[rds_iam] apply"), "nothing is applied without the tool:\n{}", done.stderr);
    emulator.assert_nothing_left();
}

#[test]
fn a_later_stage_failing_to_apply_exits_as_an_apply_failure() {
    // The phase is "apply broken_apply", an apply all the same: exit 5, not 1.
    let emulator = Emulator::start();
    let scenario = fixture("scenarios/broken_chain.toml");
    let done = Run::spawn(emulator.harness(&["-s", scenario.to_str().unwrap(), "--always-destroy"])).finish();
    assert!(done.stderr.contains("[broken_chain] apply one_bucket done"), "the first stage applied:\n{}", done.stderr);
    assert!(done.stderr.contains("[broken_chain] FAILED: apply broken_apply failed:"), "{}", done.stderr);
    assert_eq!(done.status.code(), Some(exit_code::APPLY_FAILED), "{}", done.stderr);
    emulator.assert_nothing_left();
}

#[test]
fn a_stage_whose_instance_lookup_fails_never_acts_with_the_previous_stages_role() {
    // Stage two replaces the instance with one that has no profile: role1's
    // step there must fail for lack of credentials, not pass as stage one's role1.
    let emulator = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let scenario = fixture("scenarios/stale_principal.toml");
    let done = Run::spawn(emulator.harness(&["-s", scenario.to_str().unwrap(), "--report-json", report.to_str().unwrap()])).finish();
    assert_eq!(done.status.code(), Some(exit_code::STEPS_FAILED), "{}", done.stderr);
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let steps = json["scenarios"][0]["steps"].as_array().unwrap().clone();
    let step = |name: &str| steps.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no step {name}: {steps:?}")).clone();
    assert_eq!(step("role1 cannot list the bucket")["verdict"], "pass", "stage one: role1 is denied by AWS's rules");
    let stale = step("role1, with no role any more, cannot list the bucket either");
    assert_eq!(stale["verdict"], "fail", "{stale}");
    assert_eq!(stale["error_code"], "NoCredentials", "{stale}");
    let lookups: Vec<&serde_json::Value> = steps.iter().filter(|s| s["principal"] == "harness-admin").collect();
    assert_eq!(lookups.len(), 2, "{lookups:?}");
    assert!(lookups[1]["why"].as_str().unwrap_or_default().contains("has no IAM instance profile"), "{}", lookups[1]);
    emulator.assert_nothing_left();
}

#[test]
fn failed_destroy_keeps_the_state_and_names_the_command_that_finishes_it() {
    let emulator = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let scenario = fixture("scenarios/destroy_fails.toml");
    let done = Run::spawn(emulator.harness(&["-s", scenario.to_str().unwrap(), "--report-json", report.to_str().unwrap()])).finish();
    assert_eq!(done.status.code(), Some(exit_code::CLEANUP_FAILED), "{}", done.stderr);
    assert!(done.stderr.contains("CLEANUP INCOMPLETE"), "{}", done.stderr);
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let cleanup = &json["scenarios"][0]["cleanup"];
    assert_eq!(cleanup["status"], "kept", "{json}");
    let kept = PathBuf::from(cleanup["dir"].as_str().unwrap());
    assert!(kept.join("terraform.tfstate").is_file(), "the state is kept in {}", kept.display());
    let command = cleanup["command"].as_str().unwrap().to_string();
    assert!(done.stderr.contains(&command), "the command is printed:\n{}", done.stderr);
    assert!(emulator.leftovers().iter().any(|l| l.starts_with("bucket destroy-fails-")), "the bucket is still there");

    // The user fixes the cause (empties the bucket) and runs the printed command.
    let admin = emulator.admin();
    let bucket = emulator.leftovers().into_iter().find_map(|l| l.strip_prefix("bucket ").map(str::to_string)).unwrap();
    emulator.runtime.block_on(sdk::s3_client(&admin).delete_object().bucket(&bucket).key("left-behind").send()).unwrap();
    emulator.run_printed_command(&command);
    emulator.assert_nothing_left();
    std::fs::remove_dir_all(kept).unwrap();
}

#[test]
fn emulator_killed_mid_run_fails_clearly_and_reports_the_cleanup_attempt() {
    let mut emulator = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let run = Run::spawn(emulator.harness(&["-s", "problem_demo", "--report-json", report.to_str().unwrap()]));
    run.wait_for("[problem_demo] apply done");
    emulator.kill();
    let done = run.finish();
    assert_eq!(done.status.code(), Some(exit_code::CLEANUP_FAILED), "{}", done.stderr);
    assert!(done.stderr.contains("[problem_demo] destroy FAILED"), "destroy was attempted:\n{}", done.stderr);
    assert!(done.stderr.contains("CLEANUP INCOMPLETE"), "{}", done.stderr);
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let scenario = &json["scenarios"][0];
    assert_eq!(scenario["passed"], false);
    // A dead emulator never makes an expected denial pass: every one of the
    // scenario's denials is in the report, and each is a FAIL with the real
    // error (a refused connection, or no credentials), never AccessDenied.
    let denials: Vec<&serde_json::Value> = scenario["steps"].as_array().unwrap().iter().filter(|s| s["expected"] == "denied").collect();
    assert_eq!(denials.len(), 3, "problem_demo's three denials are reported: {scenario}");
    for step in denials {
        assert_eq!(step["verdict"], "fail", "{step}");
        assert_ne!(step["error_code"], "AccessDenied", "{step}");
    }
    if let Some(kept) = scenario["cleanup"]["dir"].as_str() {
        let _ = std::fs::remove_dir_all(kept);
    }
}

#[test]
fn no_secret_issued_during_a_run_is_printed_or_written() {
    let emulator = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut cmd = emulator.harness(&["-s", "solution_demo", "--report-json", report.to_str().unwrap(), "-vv"]);
    cmd.env("RUST_LOG", "debug");
    let done = Run::spawn(cmd).finish();
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    let secrets = emulator.issued_secrets();
    // admin secret + the probe user's key + instance sessions + the role2 session (secret and token each)
    assert!(secrets.len() >= 6, "the emulator recorded too few issued secrets: {}", secrets.len());
    let json = std::fs::read_to_string(&report).unwrap();
    assert!(done.stdout.contains("<redacted>") || done.stderr.contains("<redacted>"), "the AssumeRole step shows redacted fields");
    emulator.assert_no_secret_in(&[("stdout", &done.stdout), ("stderr", &done.stderr), ("the JSON report", &json)]);
    emulator.assert_nothing_left();
}

#[test]
fn two_runs_on_one_emulator_both_pass_and_keep_to_their_own_resources() {
    let emulator = Emulator::start();
    let first = Run::spawn(emulator.harness(&["-s", "solution_demo"]));
    let second = Run::spawn(emulator.harness(&["-s", "solution_demo"]));
    let (first, second) = (first.finish(), second.finish());
    for done in [&first, &second] {
        assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    }
    let prefix = |done: &Finished| {
        let line = done.stderr.lines().find(|l| l.contains("resource prefix")).unwrap().to_string();
        line.rsplit(' ').next().unwrap().trim_end_matches(')').to_string()
    };
    assert_ne!(prefix(&first), prefix(&second), "each run has its own resource names");
    // Each run's steps name only its own resources.
    for (done, other) in [(&first, &second), (&second, &first)] {
        assert!(!done.stdout.contains(&prefix(other)) && !done.stderr.contains(&prefix(other)));
    }
    emulator.assert_nothing_left();
}

/// The aws target's guard: credentials of another account than the
/// configured sandbox are refused before anything is touched.
#[test]
fn aws_target_refuses_an_account_that_is_not_the_sandbox() {
    let emulator = Emulator::start();
    let done = Run::spawn(emulator.harness(&["--target", "aws", "--sandbox-account", "999999999999", "-s", "problem_demo"])).finish();
    assert_eq!(done.status.code(), Some(exit_code::CREDENTIALS), "{}", done.stderr);
    let last = done.stderr.trim_end().lines().last().unwrap_or_default().to_string();
    assert!(last.contains("refusing to run") && last.contains("account 123456789012, not the sandbox account 999999999999"), "{last}");
    assert!(!done.stderr.contains("apply"), "nothing was applied");
    emulator.assert_nothing_left();
}

/// The aws target's code path (guard, tags, propagation probes, the
/// workload on its instance, destroy), pointed at the launcher, which plays
/// the instance's SSM agent: role1's and role2's steps run on the instance
/// with its aws CLI, as the instance's role and as the session saved there;
/// denials are probed repeatedly; the overlay is on role1 only while a
/// stage's steps run (checked while the next stage applies); no secret shows.
#[test]
fn aws_target_runs_the_workload_on_its_instance_and_destroys() {
    let emulator = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let args = ["--target", "aws", "--sandbox-account", "123456789012", "-s", "blog_demo", "--deny-interval", "100ms", "--report-json", report.to_str().unwrap()];
    let run = Run::spawn(emulator.harness(&args));
    run.wait_for("[blog_demo] ssm overlay removed done");
    // The next stage applies now; role1 lives on, without the overlay.
    let (role1, attached) = emulator.attached_policies("-role1");
    assert!(role1.is_some(), "role1 exists between the stages");
    assert!(attached.is_empty(), "the overlay is still on {role1:?} after its stage: {attached:?}");
    let done = run.finish();
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);

    let json_text = std::fs::read_to_string(&report).unwrap();
    let json: serde_json::Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(json["target"]["kind"], "aws");
    let scenario = &json["scenarios"][0];
    let steps = scenario["steps"].as_array().unwrap();
    let denials = steps.iter().filter(|s| s["expected"] == "denied").count();
    assert!(denials >= 4, "the chain has its denials: {denials}");
    for step in steps {
        if step["principal"] == "harness-admin" {
            assert!(step["on_instance"].is_null(), "the instance-profile lookup is the admin's, made here: {step}");
            continue;
        }
        assert!(step["on_instance"].as_str().is_some_and(|i| i.starts_with("i-")), "a workload step not run on the instance: {step}");
        let expected_attempts = if step["expected"] == "denied" { 3 } else { 1 };
        assert_eq!(step["attempts"], expected_attempts, "{step}");
        if step["expected"] == "denied" {
            assert_eq!((step["principal"].as_str(), step["error_code"].as_str()), (Some("role1"), Some("AccessDenied")), "{step}");
        }
    }
    let who = steps.iter().find(|s| s["name"] == "who the workload is").unwrap();
    assert!(who["detail"].as_str().unwrap().contains(&format!("-role1/{}", who["on_instance"].as_str().unwrap())), "the instance's own role session: {who}");
    let phases: Vec<&str> = scenario["phases"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    let first = |prefix: &str| phases.iter().position(|p| p.starts_with(prefix)).unwrap_or_else(|| panic!("no phase {prefix}: {phases:?}"));
    let last = |prefix: &str| phases.iter().rposition(|p| p.starts_with(prefix)).unwrap_or_else(|| panic!("no phase {prefix}: {phases:?}"));
    assert!(first("ssm overlay blog-demo-") < first("ssm online i-") && first("ssm online i-") < first("scenario"), "{phases:?}");
    assert!(last("scenario") < last("ssm overlay removed") && last("ssm overlay removed") < first("destroy"), "{phases:?}");
    assert_eq!(scenario["cleanup"]["status"], "destroyed");
    emulator.assert_no_secret_in(&[("stdout", &done.stdout), ("stderr", &done.stderr), ("the JSON report", &json_text)]);
    emulator.assert_nothing_left();
}

/// Why the overlay cannot change a verdict, checked on the policy itself
/// (moto's copy of AWS's document): it allows only the SSM agent's own
/// services and denies nothing, so no S3 or STS call is touched by it.
#[test]
fn the_ssm_overlay_grants_nothing_a_step_calls() {
    let emulator = Emulator::start();
    let admin = emulator.admin();
    let arn = harness::on_instance::overlay::policy_arn("arn:aws:iam::123456789012:root");
    let document = emulator.runtime.block_on(async {
        let iam = aws_sdk_iam::Client::new(&admin);
        let policy = iam.get_policy().policy_arn(&arn).send().await.unwrap();
        let version = policy.policy().and_then(|p| p.default_version_id()).unwrap().to_string();
        let got = iam.get_policy_version().policy_arn(&arn).version_id(version).send().await.unwrap();
        let text = got.policy_version().and_then(|v| v.document()).unwrap().to_string();
        // IAM returns the document URL-encoded.
        let decoded = percent_encoding::percent_decode_str(&text).decode_utf8().unwrap();
        serde_json::from_str::<serde_json::Value>(&decoded).unwrap()
    });
    let statements = document["Statement"].as_array().unwrap();
    assert!(!statements.is_empty());
    for statement in statements {
        assert_eq!(statement["Effect"], "Allow", "{statement}");
        assert!(statement.get("NotAction").is_none(), "{statement}");
        for action in statement["Action"].as_array().unwrap() {
            let service = action.as_str().unwrap().split(':').next().unwrap();
            assert!(["ssm", "ssmmessages", "ec2messages"].contains(&service), "the overlay allows {action}");
        }
    }
}

/// Without the overlay (and nothing else letting the agent register) the
/// instance never answers Run Command: the run fails saying why and what
/// to do, and destroys what it applied.
#[test]
fn aws_target_without_the_ssm_overlay_says_why_the_instance_is_unreachable() {
    let emulator = Emulator::start();
    let args = ["--target", "aws", "--sandbox-account", "123456789012", "-s", "problem_demo", "--no-ssm-overlay", "--ssm-timeout", "4s"];
    let done = Run::spawn(emulator.harness(&args)).finish();
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert!(!done.stderr.contains("ssm overlay"), "no overlay was attached: {}", done.stderr);
    let why = done.stdout.lines().chain(done.stderr.lines()).find(|l| l.contains("did not answer SSM Run Command")).unwrap_or_else(|| panic!("no reason given:\n{}", done.stderr)).to_string();
    assert!(why.contains("InvalidInstanceId") && why.contains("does not permit the SSM agent"), "{why}");
    assert!(why.contains("the harness's overlay (not --no-ssm-overlay)"), "the remedy is named: {why}");
    assert!(done.stderr.contains("[problem_demo] destroy done"), "{}", done.stderr);
    emulator.assert_nothing_left();
}

/// Ctrl-C while the workload's steps run on the instance: the overlay is
/// detached and everything destroyed.
#[test]
fn ctrl_c_during_the_instance_steps_on_aws_detaches_the_overlay_and_destroys() {
    let emulator = Emulator::start();
    let args = ["--target", "aws", "--sandbox-account", "123456789012", "-s", "solution_demo", "--deny-interval", "100ms"];
    let done = interrupted_at(&emulator, &args, "[solution_demo] ssm online i-");
    assert!(done.stderr.contains("[solution_demo] ssm overlay removed done"), "{}", done.stderr);
    assert!(done.stderr.contains("[solution_demo] destroy done"), "{}", done.stderr);
    emulator.assert_nothing_left();
}

/// A run killed with SIGKILL leaves everything behind; `harness sweep` lists
/// it (dry run by default, touching nothing) and deletes it with --delete.
#[test]
fn sweep_finds_and_deletes_what_a_killed_run_left() {
    let emulator = Emulator::start();
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = emulator.harness(&["-s", "problem_demo"]);
    cmd.env("TMPDIR", scratch.path()); // the killed run's working copy lands here
    let run = Run::spawn(cmd);
    run.wait_for("[problem_demo] apply done");
    run.kill();
    let left = emulator.leftovers();
    assert!(left.iter().any(|l| l.starts_with("role problem-demo-")), "the killed run left its roles: {left:?}");

    // The next start removes a killed run's folders, but not a working copy
    // whose state names what an endpoint still holds.
    let copies = || files_under(scratch.path()).into_iter().filter(|f| f.ends_with("terraform.tfstate")).collect::<Vec<_>>();
    assert!(!copies().is_empty(), "the killed run left no state: the check below proves nothing");
    let mut dry = emulator.command("sweep", &["--older-than", "0s"]);
    let dry = dry.env("TMPDIR", scratch.path()).output().unwrap();
    assert!(!copies().is_empty(), "the next start removed the state a destroy of the killed run needs");
    let listed = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    for item in &left {
        let name = item.split(' ').nth(if item.starts_with("instance profile") { 2 } else { 1 }).unwrap();
        assert!(listed.contains(name), "{name} not listed:\n{listed}");
    }
    assert!(listed.contains("would delete (dry run"), "{listed}");
    assert_eq!(emulator.leftovers(), left, "a dry run deletes nothing");

    let young = emulator.command("sweep", &["--older-than", "1h", "--delete"]).output().unwrap();
    assert!(String::from_utf8_lossy(&young.stdout).contains("nothing of the harness's older than 1h"), "a run in progress is left alone");

    let swept = emulator.command("sweep", &["--older-than", "0s", "--delete"]).output().unwrap();
    assert!(swept.status.success(), "{}", String::from_utf8_lossy(&swept.stderr));
    emulator.assert_nothing_left();
}

/// A cross-account run on the aws target (the launcher playing two sandbox
/// accounts) killed once its first stage has applied into both: the sweep
/// over the named accounts finds and deletes what it left in each.
#[test]
fn sweep_over_named_accounts_deletes_what_a_killed_cross_account_run_left_in_each() {
    let emulator = Emulator::start();
    let scratch = tempfile::tempdir().unwrap();
    let (dev, prod) = ("666666666666", "777777777777");
    let (dev_flag, prod_flag) = (format!("dev={dev}"), format!("prod={prod}"));
    let accounts = ["--target", "aws", "--sandbox-account", "123456789012", "--sandbox-account", &dev_flag, "--sandbox-account", &prod_flag];
    let scenario = fixture("scenarios/cross_account_applied.toml");
    let mut cmd = emulator.harness(&[&accounts[..], &["-s", scenario.to_str().unwrap(), "--deny-interval", "100ms"]].concat());
    cmd.env("TMPDIR", scratch.path()); // the killed run's working copy lands here
    let run = Run::spawn(cmd);
    run.wait_for("[cross_account_applied] apply cross_account_deployer done");
    run.kill();
    let left_in = |account: &str| emulator.leftovers_in(account);
    assert!(left_in(dev).iter().any(|l| l.starts_with("user ")), "the killed run left dev's CI user: {:?}", left_in(dev));
    assert!(left_in(prod).iter().any(|l| l.starts_with("role ")), "the killed run left prod's deployer role: {:?}", left_in(prod));

    let swept = emulator.command("sweep", &[&accounts[..], &["--older-than", "0s", "--delete"]].concat()).output().unwrap();
    let said = String::from_utf8_lossy(&swept.stdout).into_owned();
    assert!(swept.status.success(), "{said}{}", String::from_utf8_lossy(&swept.stderr));
    assert!(said.contains(&format!("account {dev} (dev):")) && said.contains(&format!("account {prod} (prod):")), "each account is swept: {said}");
    for account in [dev, prod] {
        let left = left_in(account);
        assert!(left.is_empty(), "account {account} keeps {left:?} after the sweep:\n{said}");
    }
}

#[test]
fn wrong_admin_credentials_are_refused_with_a_remedy() {
    let emulator = Emulator::start();
    let mut cmd = emulator.harness(&["-s", "problem_demo"]);
    cmd.env("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG0").env("AWS_SECRET_ACCESS_KEY", "wrong");
    let done = Run::spawn(cmd).finish();
    assert_eq!(done.status.code(), Some(exit_code::CREDENTIALS), "{}", done.stderr);
    let last = done.stderr.trim_end().lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("error: the target refused the admin credentials (InvalidClientTokenId)"), "{last}");
    assert!(last.contains("set AWS_ACCESS_KEY_ID"), "{last}");
    emulator.assert_nothing_left();
}

/// Launchers started at the same moment (parallel tests, parallel runs)
/// each serve on a port of their own: the launcher binds the port and
/// names it, so none can be handed a port another took in between. Each
/// answers its own admin key, which no other launcher knows.
#[test]
fn launchers_started_at_once_each_serve_on_their_own_port() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let servers = runtime.block_on(async {
        let options = MotoOptions::default();
        let started = tokio::join!(MotoServer::start(&options), MotoServer::start(&options), MotoServer::start(&options), MotoServer::start(&options));
        [started.0, started.1, started.2, started.3].map(|s| s.expect("each launcher starts"))
    });
    let mut endpoints: Vec<&str> = servers.iter().map(|s| s.endpoint.as_str()).collect();
    endpoints.sort();
    endpoints.dedup();
    assert_eq!(endpoints.len(), servers.len(), "one port each: {endpoints:?}");
    for server in &servers {
        let who = runtime.block_on(async {
            let config = admin_config(&server.endpoint, &server.admin_access_key_id, server.admin_secret.expose()).await;
            aws_sdk_sts::Client::new(&config).get_caller_identity().send().await
        });
        let who = who.unwrap_or_else(|e| panic!("{}'s own admin key is refused there: {e:?}", server.endpoint));
        assert_eq!(who.arn(), Some(server.admin_arn.as_str()));
    }
    runtime.block_on(async {
        for server in servers {
            server.stop().await;
        }
    });
}

/// An Organization the launcher was told of goes when its scenario ends: its
/// SCPs and RCPs are account-wide, and left behind they would cap the next
/// scenario's accounts on the same emulator.
#[test]
fn a_retired_organization_is_gone_from_the_emulator() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = MotoServer::start(&MotoOptions::default()).await.expect("the launcher starts");
        let config = admin_config(&server.endpoint, &server.admin_access_key_id, server.admin_secret.expose()).await;
        let account = aws_sdk_sts::Client::new(&config).get_caller_identity().send().await.unwrap().account().unwrap().to_string();
        let url = format!("{}/_harness/organization", server.endpoint.trim_end_matches('/'));
        let http = reqwest::Client::new();
        let declared = http.post(&url).json(&serde_json::json!({"management": account, "members": []})).send().await.unwrap();
        assert!(declared.status().is_success(), "{}", declared.text().await.unwrap_or_default());
        let organizations = aws_sdk_organizations::Client::new(&config);
        organizations.create_organization().send().await.expect("the management account creates its Organization");
        assert!(organizations.describe_organization().send().await.is_ok(), "the Organization is there");
        let retired = http.delete(&url).json(&serde_json::json!({"management": account})).send().await.unwrap();
        assert!(retired.status().is_success(), "{}", retired.text().await.unwrap_or_default());
        let gone = organizations.describe_organization().send().await.expect_err("no Organization once retired");
        assert_eq!(sdk::call_error(&gone).code(), "AWSOrganizationsNotInUseException");
        server.stop().await;
    });
}

#[test]
fn two_shards_run_every_scenario_once_and_merge_into_the_whole_runs_report() {
    let emulator = Emulator::start();
    let dir = tempfile::tempdir().unwrap();
    let scenarios = ["session_policy", "duration_limits"];
    let mut reports = Vec::new();
    let mut printed = Vec::new();
    let mut pictures = Vec::new();
    // The shards run at once, as a CI matrix runs them.
    let mut shards = Vec::new();
    for shard in ["1/2", "2/2"] {
        let report = dir.path().join(format!("shard-{}.json", &shard[..1]));
        let (html, dot) = (dir.path().join(format!("shard-{}.html", &shard[..1])), dir.path().join(format!("shard-{}.dot", &shard[..1])));
        let files = ["--report-json", report.to_str().unwrap(), "--report-html", html.to_str().unwrap(), "--report-dot", dot.to_str().unwrap()];
        let args = [["-s", scenarios[0], "-s", scenarios[1], "--partition", shard].as_slice(), &files].concat();
        shards.push((shard, Run::spawn(emulator.harness(&args)), report, html, dot));
    }
    for (shard, run, report, html, dot) in shards {
        let done = run.finish();
        assert_eq!(done.status.code(), Some(exit_code::SUCCESS), "{}", done.stderr);
        assert!(done.stderr.contains(&format!("partition count:{shard}: 1 of 2 scenarios")), "{}", done.stderr);
        printed.push((format!("shard {shard} output"), format!("{}{}", done.stdout, done.stderr)));
        reports.push(report);
        pictures.extend([html, dot]);
    }
    let merged = dir.path().join("merged.json");
    let junit = dir.path().join("merged.xml");
    pictures.extend([dir.path().join("merged.html"), dir.path().join("merged.dot")]);
    let mut merge = Command::new(env!("CARGO_BIN_EXE_harness"));
    merge.args(["merge-reports", reports[0].to_str().unwrap(), reports[1].to_str().unwrap(), "--report-json", merged.to_str().unwrap(), "--junit", junit.to_str().unwrap()]);
    merge.args(["--report-html", pictures[4].to_str().unwrap(), "--report-dot", pictures[5].to_str().unwrap()]);
    let done = merge.output().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    // The scenarios' user key (a terraform output) and every session secret stay out of every report and picture.
    let texts: Vec<(String, String)> = reports
        .iter()
        .chain([&merged, &junit])
        .chain(&pictures)
        .map(|path| (path.display().to_string(), std::fs::read_to_string(path).unwrap()))
        .chain([("merge stdout".to_string(), String::from_utf8_lossy(&done.stdout).into_owned())])
        .chain(printed)
        .collect();
    assert!(emulator.issued_secrets().len() > 2, "the user's key and the sessions' secrets were recorded");
    emulator.assert_no_secret_in(&texts.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect::<Vec<_>>());
    // What the whole run reports: both scenarios, each with every step of its file (and the user's lookup), all passing.
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_eq!(json["passed"], true, "{json}");
    let names: Vec<&str> = json["scenarios"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["duration_limits", "session_policy"]);
    for scenario in json["scenarios"].as_array().unwrap() {
        let file = std::fs::read_to_string(project(&format!("scenarios/{}.toml", scenario["name"].as_str().unwrap()))).unwrap();
        let steps = scenario["steps"].as_array().unwrap();
        assert_eq!(steps.len(), file.matches("[[steps]]").count() + 1, "{scenario}");
        assert!(steps.iter().all(|s| s["verdict"] == "pass"), "{scenario}");
    }
    assert!(std::fs::read_to_string(&junit).unwrap().contains("<testsuite name=\"duration_limits\""));
    let page = std::fs::read_to_string(&pictures[4]).unwrap();
    assert_eq!(page.matches("<section class=\"scenario\"").count(), 2, "the merged page shows both scenarios");
    // The same shard twice is an overlap, refused.
    let again = Command::new(env!("CARGO_BIN_EXE_harness")).args(["merge-reports", reports[0].to_str().unwrap(), reports[0].to_str().unwrap()]).output().unwrap();
    assert_eq!(again.status.code(), Some(exit_code::USAGE));
    emulator.assert_nothing_left();
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                found.push(entry.path().strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn a_repository_with_a_local_module_and_an_s3_backend_runs_as_it_is() {
    let emulator = Emulator::start();
    let repository = fixture("repository");
    let before = files_under(&repository);
    let report = tempfile::NamedTempFile::new().unwrap();
    let scenario = fixture("scenarios/repository.toml");
    let done = Run::spawn(emulator.harness(&["-s", scenario.to_str().unwrap(), "--report-json", report.path().to_str().unwrap()])).finish();
    assert_eq!(done.status.code(), Some(exit_code::SUCCESS), "{}", done.stderr);
    assert!(done.stderr.contains("declares backend \"s3\": the run keeps its state in its working copy"), "{}", done.stderr);
    assert!(done.stderr.contains("declares no `name_prefix` variable"), "{}", done.stderr);
    // Every step of the file ran (and the user's lookup), each denial as AccessDenied for the reason asserted.
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report.path()).unwrap()).unwrap();
    let steps = json["scenarios"][0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 5, "{json}");
    assert!(steps.iter().all(|s| s["verdict"] == "pass"), "{json}");
    let denials: Vec<&serde_json::Value> = steps.iter().filter(|s| s["expected"] == "denied").collect();
    assert!(denials.len() == 2 && denials.iter().all(|s| s["error_code"] == "AccessDenied" && s["because"] == "identity"), "{json}");
    // The module came along (the reader role exists only through it) and the repository is as it was: no state, no .terraform.
    assert!(steps.iter().any(|s| s["name"] == "app assumes the module's reader role" && s["observed"] == "allowed"));
    assert_eq!(files_under(&repository), before);
    emulator.assert_nothing_left();
}

/// `--target aws` with two sandbox accounts, offline through the launcher
/// (an Organization whose management account is the admin's): the scenario's
/// dev and prod are played by the accounts `--sandbox-account` maps them to,
/// each reached through its OrganizationAccountAccessRole. Everything is
/// destroyed: the bucket the CI user's Terraform created in prod through the
/// deployer role (destroyable only through it) first, as the CI user, then
/// the accounts' side; nothing is left in any account. (cross_account_deployer
/// without its refusals, which the e2e suite has.)
#[test]
fn two_sandbox_accounts_on_the_aws_target_each_get_what_their_provider_applies_and_nothing_is_left() {
    let emulator = Emulator::start();
    let report = tempfile::NamedTempFile::new().unwrap();
    let (dev, prod) = ("444444444444", "555555555555");
    let scenario = fixture("scenarios/cross_account_applied.toml");
    let args = [
        "--target", "aws", "--sandbox-account", "123456789012",
        "--sandbox-account", &format!("dev={dev}"), "--sandbox-account", &format!("prod={prod}"),
        "-s", scenario.to_str().unwrap(),
        "--deny-interval", "100ms", "--report-json", report.path().to_str().unwrap(),
    ];
    let done = Run::spawn(emulator.harness(&args)).finish();
    assert_eq!(done.status.code(), Some(exit_code::SUCCESS), "{}", done.stderr);
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report.path()).unwrap()).unwrap();
    let scenario = &json["scenarios"][0];
    assert_eq!(scenario["cleanup"]["status"], "destroyed", "{scenario}");
    let steps = scenario["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["verdict"] == "pass"), "{scenario}");
    assert_eq!(scenario["accounts"], serde_json::json!({ "dev": dev, "prod": prod }), "the report says which account played each name");
    let denied = steps.iter().find(|s| s["name"] == "ci itself cannot list it").unwrap();
    assert_eq!((denied["error_code"].as_str(), denied["because"].as_str()), (Some("AccessDenied"), Some("resource")), "{denied}");
    // The sandbox ids, not the scenario's own: the CI user in dev, the deployer's session in prod.
    let ci = steps.iter().find(|s| s["name"] == "ci is the IAM user of its access key").unwrap();
    assert!(ci["detail"].as_str().unwrap_or_default().contains(&format!("arn:aws:iam::{dev}:user/")), "{ci}");
    let session = steps.iter().find(|s| s["name"] == "the deployer session is prod's").unwrap();
    assert!(session["detail"].as_str().unwrap_or_default().contains(&format!("arn:aws:sts::{prod}:assumed-role/")), "{session}");
    assert!(done.stderr.matches("[cross_account_applied] destroy done").count() == 2, "{}", done.stderr);
    for account in [dev, prod, "111111111111", "222222222222"] {
        let left = emulator.leftovers_in(account);
        assert!(left.is_empty(), "account {account} keeps {left:?}");
    }
    emulator.assert_nothing_left();
}

/// A stand-in for IAM's Policy Simulator: it replays the answers recorded in
/// tests/fixtures/simulator (one per action) and keeps every request it got.
struct SimulatorStandIn {
    url: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _thread: std::thread::JoinHandle<()>,
}

impl SimulatorStandIn {
    fn start() -> Self {
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let kept = requests.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                let app = axum::Router::new().route("/", axum::routing::post(move |body: String| replay(body, kept.clone())));
                axum::serve(tokio::net::TcpListener::from_std(listener).unwrap(), app).await.unwrap();
            });
        });
        SimulatorStandIn { url, requests, _thread: thread }
    }
}

/// The recorded answer for the request's action, for its resource.
async fn replay(body: String, requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>) -> (axum::http::StatusCode, [(&'static str, &'static str); 1], String) {
    let form: std::collections::BTreeMap<String, String> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    requests.lock().unwrap().push(body.clone());
    let action = form.get("ActionNames.member.1").cloned().unwrap_or_default();
    let recorded = project(&format!("harness/tests/fixtures/simulator/{}.xml", action.replace(':', "_")));
    match std::fs::read_to_string(&recorded) {
        Ok(xml) => (axum::http::StatusCode::OK, [("content-type", "text/xml")], xml.replace("RESOURCE", form.get("ResourceArns.member.1").map(String::as_str).unwrap_or("*"))),
        Err(_) => (axum::http::StatusCode::BAD_REQUEST, [("content-type", "text/xml")], format!("<ErrorResponse><Error><Code>NoRecording</Code><Message>no answer recorded for {action}</Message></Error></ErrorResponse>")),
    }
}

/// The Policy Simulator is a third opinion: the report shows AWS's answer,
/// the evaluator's and the simulator's, and a note where the simulator differs
/// (it does not read a role's trust policy for sts:AssumeRole, so it allows
/// what the trust's external ID condition refuses); its answer changes no verdict.
#[test]
fn the_policy_simulator_is_a_third_opinion_with_a_note_where_it_differs() {
    let emulator = Emulator::start();
    let stand_in = SimulatorStandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let mut cmd = emulator.harness(&["-s", "external_id", "--simulator-endpoint", &stand_in.url, "--report-json", json.to_str().unwrap()]);
    cmd.env_remove("HARNESS_NO_SIMULATOR");
    let done = Run::spawn(cmd).finish();
    assert_eq!(done.status.code(), Some(exit_code::SUCCESS), "the simulator changes no verdict:\n{}", done.stderr);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let steps = report["scenarios"][0]["steps"].as_array().unwrap().clone();
    let step = |name: &str| steps.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no step {name}")).clone();
    let refused = step("app cannot assume the partner role with a wrong external ID");
    assert_eq!(refused["simulator"]["simulator"], "answered", "{refused}");
    assert_eq!(refused["simulator"]["decision"], "allowed");
    assert!(refused["simulator"]["caveat"].as_str().unwrap_or_default().contains("aws-cli #10314"));
    assert_eq!(refused["simulator"]["note"], "the Policy Simulator says allow, but AWS answered deny and the evaluator predicts deny (the simulator reads the caller's policies, not the role's trust policy, for sts:AssumeRole (aws-cli #10314))");
    let allowed = step("app assumes the partner role with the external ID");
    assert!(allowed["simulator"]["decision"] == "allowed" && allowed["simulator"].get("note").is_none(), "{allowed}");
    // The user's own lookup is the harness's: never asked.
    assert!(step("app is the IAM user of its access key").get("simulator").is_none());
    assert!(done.stderr.contains("\n    simulator: allowed (by app (IAM Policy))\n    NOTE: the Policy Simulator says allow, but AWS answered deny"), "{}", done.stderr);
    // What it was asked: the user's policies, the role, and the request's own keys.
    let requests = stand_in.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), steps.iter().filter(|s| s["action"] == "sts:AssumeRole").count(), "{requests:?}");
    let wrong_id = requests.iter().find(|r| r.contains("Unique-9999")).expect("the external ID was sent as a context entry");
    assert!(wrong_id.contains("Action=SimulatePrincipalPolicy") && wrong_id.contains("PolicySourceArn=arn%3Aaws%3Aiam%3A%3A") && wrong_id.contains("%3Auser%2F"), "{wrong_id}");
    emulator.assert_nothing_left();
}

/// A user's config that reads its IdP's metadata from a file (no variable):
/// the scenario's `metadata_file` puts the harness's metadata in that file of
/// the working copy, so the provider holds the certificate the harness signs
/// with, and the user's own file is untouched. Without `metadata_file` the
/// provider holds the user's IdP's certificate and STS refuses the signature.
#[test]
fn a_saml_provider_reading_its_metadata_from_a_file_gets_the_harnesss() {
    let emulator = Emulator::start();
    let scenario = fixture("scenarios/saml_metadata_file.toml");
    let users_file = fixture("saml_metadata_file/idp/okta-metadata.xml");
    let before = std::fs::read(&users_file).unwrap();
    let done = Run::spawn(emulator.harness(&["-s", scenario.to_str().unwrap()])).finish();
    assert_eq!(done.status.code(), Some(exit_code::SUCCESS), "{}{}", done.stdout, done.stderr);
    assert!(done.stderr.contains("[saml_metadata_file] PASSED"), "{}", done.stderr);
    assert_eq!(std::fs::read(&users_file).unwrap(), before, "the user's own metadata file was changed");
    emulator.assert_nothing_left();

    // The same scenario without metadata_file: the user's IdP's certificate is the provider's.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&scenario).unwrap().replace("metadata_file = \"idp/okta-metadata.xml\"\n", "");
    let config = fixture("saml_metadata_file");
    let without = dir.path().join("saml_metadata_file.toml");
    std::fs::write(&without, text.replace("config = \"../saml_metadata_file\"", &format!("config = \"{}\"", config.display()))).unwrap();
    let done = Run::spawn(emulator.harness(&["-s", without.to_str().unwrap()])).finish();
    assert_eq!(done.status.code(), Some(exit_code::STEPS_FAILED), "{}{}", done.stdout, done.stderr);
    assert!(done.stdout.contains("InvalidIdentityToken"), "STS refuses the harness's signature against the user's IdP's certificate:\n{}", done.stdout);
    emulator.assert_nothing_left();
}
