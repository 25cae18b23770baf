//! Container targets through the `harness` binary: the default choice and
//! its reason, and no container outliving a run that is interrupted once,
//! twice or three times (nor a process or a working copy), while the container starts, or killed outright (the next start
//! removes what a killed harness left). Needs a Docker engine: without one
//! these trials are ignored, unless HARNESS_REQUIRE_DOCKER=1 (CI), which
//! fails them.

mod run_support;

use std::process::{Command, ExitCode};
use std::time::Duration;

use harness::exit_code;
use harness::target::{Target, container, localstack};
use libtest_mimic::{Arguments, Failed, Trial};
use run_support::{Marked, Run, press_ctrl_c, project};

fn harness(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.args(args).current_dir(project("")).env_remove("LOCALSTACK_AUTH_TOKEN");
    cmd
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

/// The containers a harness process started that still exist.
fn left_by(pid: u32) -> Result<Vec<String>, Failed> {
    runtime().block_on(container::started_by(pid)).map_err(|e| e.to_string().into())
}

fn check(condition: bool, message: impl FnOnce() -> String) -> Result<(), Failed> {
    if condition { Ok(()) } else { Err(message().into()) }
}

fn ctrl_c_removes_the_container_of_the_default_target() -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let json = dir.path().join("report.json");
    let run = Run::spawn(harness(&["run", "-s", "problem_demo", "--report-json", &json.display().to_string()]));
    run.wait_for("[problem_demo] init done");
    let pid = run.pid();
    check(!left_by(pid)?.is_empty(), || "the run's container is not labelled as the harness's".into())?;
    run.interrupt();
    let done = run.finish();
    check(done.status.code() == Some(exit_code::INTERRUPTED), || format!("exit {:?}: {}", done.status.code(), done.stderr))?;
    // It says what happens: the emulator ends, nothing is destroyed resource by resource.
    check(done.stderr.contains("interrupted: stopping; the emulator's end is the cleanup"), || format!("Ctrl-C line: {}", done.stderr))?;
    // Docker answers and no LocalStack token: the default is moto in a container, and it says why.
    check(done.stderr.contains("target: moto-container") && done.stderr.contains("(auto: Docker answers"), || format!("banner: {}", done.stderr))?;
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    let (kind, reason) = (&report["target"]["kind"], report["target"]["reason"].as_str().unwrap_or_default());
    check(kind == "moto-container" && reason.starts_with("auto: Docker answers"), || format!("JSON target: {}", report["target"]))?;
    let left = left_by(pid)?;
    check(left.is_empty(), || format!("containers left: {left:?}"))
}

/// Ctrl-C pressed again and again during an apply on the moto container:
/// no container, no process of the run (terraform, its providers), no
/// working copy left.
fn ctrl_cs_during_an_apply_leave_nothing(lead: Duration, spacings: &[Duration]) -> Result<(), Failed> {
    let marked = Marked::new();
    let mut cmd = harness(&["run", "-s", "solution_demo", "--target", "moto-container"]);
    marked.apply(&mut cmd);
    let run = Run::spawn(cmd);
    run.wait_for("[solution_demo] init done");
    let pid = run.pid();
    marked.wait_for_provider_starts(3);
    press_ctrl_c(&run, lead, spacings);
    let done = run.finish();
    check(done.status.code() == Some(exit_code::INTERRUPTED), || format!("exit {:?}: {}", done.status.code(), done.stderr))?;
    let left = left_by(pid)?;
    check(left.is_empty(), || format!("containers left: {left:?}; stderr:\n{}", done.stderr))?;
    let left = marked.leftovers(&format!("{}{}", done.stdout, done.stderr));
    check(left.is_empty(), || format!("the run left {left:?}; stderr:\n{}", done.stderr))
}

fn two_ctrl_cs_during_an_apply_leave_nothing() -> Result<(), Failed> {
    ctrl_cs_during_an_apply_leave_nothing(Duration::from_millis(500), &[Duration::from_millis(500)])
}

fn three_ctrl_cs_during_an_apply_leave_nothing() -> Result<(), Failed> {
    ctrl_cs_during_an_apply_leave_nothing(Duration::from_millis(1000), &[Duration::from_millis(300), Duration::from_millis(1000)])
}

fn ctrl_c_while_the_container_starts_leaves_nothing() -> Result<(), Failed> {
    let run = Run::spawn(harness(&["run", "-s", "problem_demo", "--target", "moto-container"]));
    run.wait_for("starting the target (moto-container)");
    let pid = run.pid();
    run.interrupt();
    let done = run.finish();
    check(done.status.code() == Some(exit_code::INTERRUPTED), || format!("exit {:?}: {}", done.status.code(), done.stderr))?;
    let left = left_by(pid)?;
    check(left.is_empty(), || format!("containers left: {left:?}"))
}

/// SIGKILL runs no cleanup at all: the next harness to start removes the
/// container and the working copy the killed one left.
fn a_killed_harnesss_container_is_removed_by_the_next_start() -> Result<(), Failed> {
    let marked = Marked::new();
    let mut cmd = harness(&["run", "-s", "problem_demo", "--target", "moto-container"]);
    marked.apply(&mut cmd);
    let run = Run::spawn(cmd);
    run.wait_for("[problem_demo] init done");
    let pid = run.pid();
    run.kill();
    let orphans = left_by(pid)?;
    check(!orphans.is_empty(), || "SIGKILL left no container: the test proves nothing".into())?;
    let folders = marked.folders();
    check(folders.iter().any(|f| f.contains("harness-tf-")), || format!("SIGKILL left no working copy: the test proves nothing ({folders:?})"))?;
    // Any start of a container target looks for orphans first; sweep is the quickest.
    let mut sweep = harness(&["sweep", "--target", "moto-container", "--older-than", "0s"]);
    marked.apply(&mut sweep);
    let sweep = sweep.output()?;
    check(sweep.status.success(), || String::from_utf8_lossy(&sweep.stderr).into_owned())?;
    let left = left_by(pid)?;
    check(left.is_empty(), || format!("the orphans {left:?} are still there"))?;
    let folders = marked.folders();
    check(folders.is_empty(), || format!("the killed run's folders {folders:?} are still there"))
}


fn a_container_that_exits_at_start_is_removed_and_its_last_lines_shown() -> Result<(), Failed> {
    // An image with python3 but not moto (LocalStack has its fork): the launcher dies importing it.
    let run = Run::spawn(harness(&["run", "-s", "problem_demo", "--target", "moto-container", "--moto-image", &localstack::community_image()]));
    let pid = run.pid();
    let done = run.finish();
    let last = done.stderr.trim_end().lines().last().unwrap_or_default().to_string();
    check(done.status.code() == Some(exit_code::TARGET), || format!("exit {:?}: {}", done.status.code(), done.stderr))?;
    let said = last.contains("the moto container exited (exit code 1); its last line: ") && last.contains("Error");
    check(said, || format!("no one-line exit and last log line in:\n{}", done.stderr))?;
    let left = left_by(pid)?;
    check(left.is_empty(), || format!("containers left: {left:?}"))
}

fn strict_fails_what_localstack_community_cannot_prove() -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let json = dir.path().join("report.json");
    let image = localstack::community_image();
    let args = ["run", "-s", "problem_demo", "--target", "localstack", "--localstack-image", &image, "--strict", "--report-json", &json.display().to_string()];
    let out = harness(&args).output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    check(out.status.code() == Some(exit_code::STEPS_FAILED), || format!("exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr)))?;
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    check(report["target"]["capabilities"]["identity_policies"] == false && report["strict"] == true && report["passed"] == false, || format!("{}", report["target"]))?;
    let steps = report["scenarios"][0]["steps"].as_array().cloned().unwrap_or_default();
    let denials: Vec<&serde_json::Value> = steps.iter().filter(|s| s["expected"] == "denied").collect();
    check(!denials.is_empty() && denials.iter().all(|s| s["verdict"] == "unverified"), || format!("denials: {denials:?}"))?;
    check(stdout.contains("result: FAILED |") && stdout.contains(&format!("{} unverified", denials.len())), || stdout.clone().into_owned())?;
    // FAILED beside "0 failed" says why: the unproven steps fail the run under --strict.
    check(stdout.contains(&format!("{} steps NOT PROVEN: the target cannot show their denial (see capabilities); they fail the run (--strict)", denials.len())), || stdout.clone().into_owned())?;
    // So do the scenario's own lines, on the console and in the summary.
    let unproven = steps.iter().filter(|s| s["verdict"] == "unverified").count();
    let stderr = String::from_utf8_lossy(&out.stderr);
    check(stderr.contains(&format!("[problem_demo] FAILED: {unproven} steps NOT PROVEN, --strict\n")), || stderr.clone().into_owned())?;
    check(stdout.contains(&format!("problem_demo: FAILED ({unproven} steps NOT PROVEN, --strict) |")), || stdout.clone().into_owned())?;
    // Each UNVERIFIED step's `why` names the rule its predicted reason names.
    let blocks: Vec<&str> = stderr.split("\n[problem_demo] ").filter(|b| b.starts_with("UNVERIFIED")).collect();
    check(blocks.len() == unproven, || format!("{unproven} UNVERIFIED steps, {} on the console:\n{stderr}", blocks.len()))?;
    for block in blocks {
        let line = |prefix: &str| block.lines().map(str::trim).find(|l| l.starts_with(prefix)).unwrap_or_default().to_string();
        let (why, reason) = (line("why: "), line("reason: "));
        let rule = if reason.contains("identity-based") { "identity policies" } else if reason.contains("trust policy") { "trust policies" } else { "no rule" };
        check(why.contains(rule), || format!("the why names another rule than the reason:\n{block}"))?;
    }
    Ok(())
}

/// LocalStack the user runs, reached as `--endpoint`: detected from its
/// health page, never stopped, and what the harness applied is destroyed.
fn an_endpoint_is_detected_left_running_and_cleaned() -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let cancel = tokio_util::sync::CancellationToken::new();
    let placement = container::Placement::default();
    let target = runtime.block_on(Target::start_localstack(&localstack::community_image(), None, placement, "the test's own endpoint", &cancel))?;
    let url = target.endpoint.url.clone().unwrap_or_default();
    let result = (|| -> Result<(), Failed> {
        let out = harness(&["run", "-s", "problem_demo", "--endpoint", &url])
            .env("AWS_ACCESS_KEY_ID", localstack::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", localstack::SECRET_KEY)
            .env_remove("AWS_PROFILE")
            .output()?;
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        check(out.status.success(), || format!("exit {:?}: {stderr}", out.status.code()))?;
        check(stderr.contains(&format!("target: localstack 4.14.0 at {url}")), || format!("not detected as LocalStack: {stderr}"))?;
        check(stdout.contains("problem_demo: passed") && stdout.contains("cleanup: destroyed"), || stdout.into_owned())?;
        // Still running, and nothing of the run is left on it.
        let admin = runtime.block_on(target.admin_config());
        let roles = runtime.block_on(aws_sdk_iam::Client::new(&admin).list_roles().send()).map_err(|e| format!("ListRoles: {e}"))?;
        let left: Vec<&str> = roles.roles().iter().map(|r| r.role_name()).filter(|n| n.starts_with("problem-demo-")).collect();
        check(left.is_empty(), || format!("roles left on the endpoint: {left:?}"))
    })();
    runtime.block_on(target.stop_shared());
    result
}

/// With a token and Docker, the default target is LocalStack, and says why;
/// even at the most verbose logging (the Docker client logs request and
/// response bodies, container environment included) the token never shows.
fn with_a_token_the_default_is_localstack_and_the_token_never_shows() -> Result<(), Failed> {
    let token = format!("ls-token-{}", std::process::id());
    let image = localstack::community_image(); // Community ignores the token: nothing to pay for here
    let out = harness(&["run", "-s", "problem_demo", "--localstack-image", &image])
        .env("LOCALSTACK_AUTH_TOKEN", &token)
        .env("RUST_LOG", "trace,bollard=trace")
        .output()?;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    check(out.status.success(), || format!("exit {:?}: {}", out.status.code(), stderr.lines().rev().take(20).collect::<Vec<_>>().join("\n")))?;
    check(stderr.contains("(auto: LOCALSTACK_AUTH_TOKEN is set and Docker answers"), || "the banner does not name LocalStack and why".into())?;
    check(!stdout.contains(&token) && !stderr.contains(&token), || "the token was printed".into())?;
    // Community proves no denial: the scenario's own line says so, not just the summary.
    check(stderr.contains("[problem_demo] PASSED, 3 steps NOT PROVEN"), || stderr.lines().filter(|l| l.contains("[problem_demo] PASSED")).collect::<Vec<_>>().join("\n"))
}

/// What `eval "$(sudo ci/containers.sh)"` exports is all `harness` needs for
/// both container targets, with pulls forbidden: no other variable names an image.
fn the_containers_environment_is_all_the_cli_needs() -> Result<(), Failed> {
    for (target, variable) in [("localstack", "HARNESS_LOCALSTACK_COMMUNITY_IMAGE"), ("moto-container", "HARNESS_MOTO_IMAGE")] {
        let Ok(image) = std::env::var(variable) else {
            return Err(format!("{variable} is not set: run the suite with the environment ci/containers.sh prints").into());
        };
        let out = harness(&["sweep", "--target", target]).env(container::PULL_VAR, "never").env_remove("HARNESS_LOCALSTACK_IMAGE").output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        check(out.status.success(), || format!("{target}: exit {:?}: {stderr}", out.status.code()))?;
        check(stderr.contains(&image), || format!("{target}: the image {image} from {variable} is not the one started: {stderr}"))?;
    }
    Ok(())
}

fn a_missing_image_is_named_with_a_remedy() -> Result<(), Failed> {
    let out = harness(&["run", "-s", "problem_demo", "--target", "moto-container", "--moto-image", "harness-local/absent:0"])
        .env(container::PULL_VAR, "never")
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.trim_end().lines().last().unwrap_or_default().to_string();
    check(out.status.code() == Some(exit_code::MISSING_TOOL), || format!("exit {:?}: {err}", out.status.code()))?;
    check(last.contains("harness-local/absent:0") && last.contains("ci/containers.sh"), || format!("no image and remedy in: {last}"))
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let required = std::env::var("HARNESS_REQUIRE_DOCKER").is_ok_and(|v| v == "1" || v == "true");
    let no_docker = runtime().block_on(container::engine()).err();
    if let Some(err) = &no_docker {
        eprintln!("containers: {err}{}", if required { "" } else { "; the trials are ignored (HARNESS_REQUIRE_DOCKER=1 fails them)" });
    }
    let trials: Vec<Trial> = [
        ("containers::ctrl_c_removes_the_container_of_the_default_target", ctrl_c_removes_the_container_of_the_default_target as fn() -> Result<(), Failed>),
        ("containers::two_ctrl_cs_during_an_apply_leave_nothing", two_ctrl_cs_during_an_apply_leave_nothing),
        ("containers::three_ctrl_cs_during_an_apply_leave_nothing", three_ctrl_cs_during_an_apply_leave_nothing),
        ("containers::ctrl_c_while_the_container_starts_leaves_nothing", ctrl_c_while_the_container_starts_leaves_nothing),
        ("containers::a_killed_harnesss_container_is_removed_by_the_next_start", a_killed_harnesss_container_is_removed_by_the_next_start),
        ("containers::a_missing_image_is_named_with_a_remedy", a_missing_image_is_named_with_a_remedy),
        ("containers::the_containers_environment_is_all_the_cli_needs", the_containers_environment_is_all_the_cli_needs),
        ("containers::a_container_that_exits_at_start_is_removed_and_its_last_lines_shown", a_container_that_exits_at_start_is_removed_and_its_last_lines_shown),
        ("containers::strict_fails_what_localstack_community_cannot_prove", strict_fails_what_localstack_community_cannot_prove),
        ("containers::an_endpoint_is_detected_left_running_and_cleaned", an_endpoint_is_detected_left_running_and_cleaned),
        ("containers::with_a_token_the_default_is_localstack_and_the_token_never_shows", with_a_token_the_default_is_localstack_and_the_token_never_shows),
    ]
    .into_iter()
    .map(|(name, body)| Trial::test(name, body).with_ignored_flag(no_docker.is_some() && !required))
    .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
