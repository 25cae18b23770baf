//! The `harness` binary on bad input: each case ends with a one-line cause,
//! a remedy, and its own exit code. Failures of terraform itself (apply,
//! destroy) are in tests/faults.rs, which can check what is left behind.
//! Like every test of the binary, these run with `--features localstack`:
//! plain `cargo test` is the unit tests.
#![cfg(feature = "localstack")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use harness::exit_code;

fn project(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn harness(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harness"));
    cmd.args(args).current_dir(project(""));
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The last stderr line is the error: one line, a cause and a remedy.
fn assert_fails(out: &Output, code: i32, cause: &str, remedy: &str) {
    let err = stderr(out);
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert_eq!(out.status.code(), Some(code), "exit code; stderr:\n{err}");
    assert!(last.starts_with("error: "), "one-line error expected, got:\n{err}");
    assert!(last.contains(cause), "cause `{cause}` missing in: {last}");
    assert!(last.contains(remedy), "remedy `{remedy}` missing in: {last}");
}

#[test]
fn missing_terraform() {
    let out = harness(&["run", "-s", "problem_demo"]).env("PATH", "/nonexistent").output().unwrap();
    assert_fails(&out, exit_code::MISSING_TOOL, "terraform was not found", "install Terraform");
}

#[test]
fn terraform_path_that_does_not_exist() {
    let out = harness(&["run", "-s", "problem_demo", "--terraform", "/nonexistent/terraform"]).output().unwrap();
    assert_fails(&out, exit_code::MISSING_TOOL, "/nonexistent/terraform` does not exist", "--terraform");
}

#[test]
fn unknown_scenario() {
    let out = harness(&["run", "-s", "no_such_scenario"]).output().unwrap();
    assert_fails(&out, exit_code::USAGE, "unknown scenario `no_such_scenario`", "harness list");
    assert!(stderr(&out).contains("solution_demo"), "the known scenarios are listed");
}

#[test]
fn malformed_scenario_file_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(&file, "config = \"problem_demo\"\n\n[[steps]\nas = \"role1\"\n").unwrap();
    let out = harness(&["run", "-s", file.to_str().unwrap()]).output().unwrap();
    assert_fails(&out, exit_code::SCENARIO_INVALID, &format!("{}:3:", file.display()), "expected `]`");
}

#[test]
fn unknown_action_in_a_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.toml");
    let text = std::fs::read_to_string(project("scenarios/problem_demo.toml")).unwrap().replace("s3:PutObject", "s3:PutObjects");
    std::fs::write(&file, text).unwrap();
    let out = harness(&["run", "-s", file.to_str().unwrap()]).output().unwrap();
    assert_fails(&out, exit_code::SCENARIO_INVALID, "unknown action `s3:PutObjects`", "known: s3:ListBucket");
}

#[test]
fn config_folder_that_does_not_exist() {
    let out = harness(&["run", "-s", "problem_demo", "--config", "/nonexistent/config"]).output().unwrap();
    assert_fails(&out, exit_code::CONFIG_MISSING, "/nonexistent/config does not exist", "--config");
}

#[test]
fn unknown_principal_and_unknown_output_in_a_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(project("scenarios/problem_demo.toml")).unwrap();
    let cases = [
        (original.replacen("as = \"role1\"", "as = \"role9\"", 1), "unknown principal `role9`"),
        (original.replace("${bucket_name}", "${no_such_output}"), "`${no_such_output}` is not an output of"),
        // A near miss names the closest declared output, principal, action.
        (original.replace("${instance_id}", "${instanceid}"), "(did you mean `instance_id`?)"),
        (original.replacen("as = \"role1\"", "as = \"rol1\"", 1), "unknown principal `rol1` (did you mean `role1`?)"),
        (original.replacen("action = \"s3:ListBucket\"", "action = \"s3:ListBuckt\"", 1), "unknown action `s3:ListBuckt` (did you mean `s3:ListBucket`?)"),
    ];
    for (index, (text, cause)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("case{index}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = harness(&["run", "-s", file.to_str().unwrap()]).output().unwrap();
        assert_fails(&out, exit_code::SCENARIO_INVALID, cause, &format!("{}:", file.display()));
    }
}

#[test]
fn help_says_that_localstack_without_a_token_enforces_nothing() {
    let out = harness(&["run", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("without one Community, which enforces no IAM"), "{text}");
}

#[test]
fn a_mistyped_scenario_name_gets_the_closest_one() {
    let out = harness(&["run", "-s", "solution_dmeo"]).output().unwrap();
    assert_fails(&out, exit_code::USAGE, "unknown scenario `solution_dmeo` (did you mean `solution_demo`?)", "harness list");
}

#[test]
fn unreachable_endpoint() {
    // A port nobody listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let out = harness(&["run", "-s", "problem_demo", "--endpoint", &url]).env("AWS_ACCESS_KEY_ID", "x").env("AWS_SECRET_ACCESS_KEY", "y").output().unwrap();
    assert_fails(&out, exit_code::TARGET, &format!("cannot reach {url}"), "fix --endpoint");
}

#[test]
fn endpoint_that_is_not_aws() {
    // Something that answers HTTP, but not like AWS: every request gets a 404 page.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in server.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let _ = std::io::Write::write_all(&mut stream, b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot found");
        }
    });
    let out = harness(&["run", "-s", "problem_demo", "--endpoint", &url]).env("AWS_ACCESS_KEY_ID", "x").env("AWS_SECRET_ACCESS_KEY", "y").output().unwrap();
    assert_fails(&out, exit_code::TARGET, "does not answer like AWS STS", "AWS-compatible endpoint");
}

#[test]
fn list_shows_the_scenarios() {
    let out = harness(&["list"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for name in ["problem_demo", "solution_demo", "solution_demo_root_user"] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing:\n{text}");
    }
}

#[test]
fn emulator_not_installed() {
    let out = harness(&["run", "-s", "problem_demo", "--moto-python", "/nonexistent/python"]).output().unwrap();
    assert_fails(&out, exit_code::MISSING_TOOL, "/nonexistent/python has no importable moto[server], the launcher needs moto[server]==5.2.5", "make setup");
}

#[test]
fn an_older_moto_is_named_with_the_pinned_one() {
    // A python whose moto is not the pinned one: the version found, the one pinned, the remedy.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("python");
    std::fs::write(&fake, "#!/bin/sh\necho 5.2.1\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = harness(&["run", "-s", "problem_demo", "--moto-python", fake.to_str().unwrap()]).output().unwrap();
    assert_fails(&out, exit_code::MISSING_TOOL, "has moto 5.2.1, the launcher needs moto[server]==5.2.5", "make setup");
}

mod with_emulator {
    use super::*;

    #[test]
    fn port_in_use() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port().to_string();
        let out = harness(&["run", "-s", "problem_demo", "--port", &port]).output().unwrap();
        assert_fails(&out, exit_code::PORT_IN_USE, &format!("port {port} on 127.0.0.1 is already in use"), "another --port");
    }
}

#[test]
fn container_target_without_docker() {
    let out = harness(&["run", "-s", "problem_demo", "--target", "moto-container"]).env("DOCKER_HOST", "unix:///nonexistent/docker.sock").output().unwrap();
    assert_fails(&out, exit_code::NO_DOCKER, "no Docker engine answers at unix:///nonexistent/docker.sock", "--target moto (a host process)");
}

#[test]
fn a_scenario_that_issues_its_own_tokens_is_refused_on_aws() {
    let out = harness(&["run", "--target", "aws", "--sandbox-account", "123456789012", "-s", "github_oidc"]).output().unwrap();
    assert_fails(&out, exit_code::USAGE, "github_oidc issues its own web identity tokens, which AWS refuses", "run it on an emulator (--target moto)");
}

#[test]
fn a_session_parameter_of_the_wrong_type_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.toml");
    let text = std::fs::read_to_string(project("scenarios/duration_limits.toml")).unwrap().replacen("duration_seconds = 43200", "duration_seconds = \"12h\"", 1);
    std::fs::write(&file, text).unwrap();
    let out = harness(&["run", "-s", file.to_str().unwrap()]).output().unwrap();
    assert_fails(&out, exit_code::SCENARIO_INVALID, "long.toml:20:20: `duration_seconds` must be an integer, not a string (\"12h\")", "");
}

#[test]
fn a_partition_that_cannot_be_is_refused_before_anything_runs() {
    let out = harness(&["run", "--partition", "3/2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(exit_code::USAGE), "{}", stderr(&out));
    assert!(stderr(&out).contains("expected K/N, count:K/N or hash:K/N with 1 <= K <= N"), "{}", stderr(&out));
}

#[test]
fn merging_no_report_says_what_to_give() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("shard-1.json");
    let out = harness(&["merge-reports", missing.to_str().unwrap()]).output().unwrap();
    assert_fails(&out, exit_code::IO, "cannot read the report", "No such file");
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{}").unwrap();
    let out = harness(&["merge-reports", junk.to_str().unwrap()]).output().unwrap();
    assert_fails(&out, exit_code::USAGE, "is not a harness JSON report (no schema_version)", "give the files --report-json wrote");
}

#[test]
fn keep_is_for_the_embedded_emulator_only() {
    let kept = tempfile::tempdir().unwrap();
    let out = harness(&["run", "--keep", "--target", "localstack", "-s", "problem_demo", "--kept-dir", kept.path().to_str().unwrap()]).output().unwrap();
    assert_fails(&out, exit_code::USAGE, "--keep keeps the embedded emulator only", "use --target moto");
    assert!(!kept.path().join("lease.json").exists(), "nothing kept");
}

#[test]
fn a_lease_the_harness_did_not_write_is_named_with_its_remedy() {
    let kept = tempfile::tempdir().unwrap();
    std::fs::write(kept.path().join("lease.json"), "not a lease").unwrap();
    let out = harness(&["run", "--reuse", "-s", "problem_demo", "--kept-dir", kept.path().to_str().unwrap()]).output().unwrap();
    assert_fails(&out, exit_code::IO, "is not one this harness wrote", "`harness release` removes it");
    let released = harness(&["release", "--kept-dir", kept.path().to_str().unwrap()]).output().unwrap();
    assert!(released.status.success() && !kept.path().exists(), "{}", stderr(&released));
}

#[test]
fn two_scenarios_that_name_their_resources_themselves_are_refused_together() {
    let scenarios = tempfile::tempdir().unwrap();
    let repository = project("harness/tests/fixtures/repository/live");
    for name in ["first", "second"] {
        let text = format!("config = \"{}\"\n\n[principals.p]\ninstance = \"i-1\"\n\n[[steps]]\nas = \"p\"\naction = \"sts:GetCallerIdentity\"\nexpect = \"allowed\"\n", repository.display());
        std::fs::write(scenarios.path().join(format!("{name}.toml")), text).unwrap();
    }
    let out = harness(&["run", "--scenarios-dir", scenarios.path().to_str().unwrap()]).output().unwrap();
    assert_fails(&out, exit_code::USAGE, "first and second name their resources themselves", "declare `variable \"name_prefix\"`");
    assert!(!stderr(&out).contains("starting the target"), "nothing started");
}

/// A copy of the shipped cross-account scenario with its [accounts] table replaced.
fn cross_account_with(accounts: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.toml");
    let text = std::fs::read_to_string(project("scenarios/cross_account_deployer.toml")).unwrap();
    let text = text.replacen("[accounts]\ndev = \"111111111111\"\nprod = \"222222222222\"\n", accounts, 1);
    let text = text.replace("config = \"", &format!("config = \"{}/", project("terraform_configuration").display()));
    // The stages' references follow the second account's name.
    let second = accounts.lines().nth(2).and_then(|l| l.split(' ').next()).unwrap_or("prod");
    let text = text.replace("${accounts.prod}", &format!("${{accounts.{second}}}"));
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

#[test]
fn a_malformed_accounts_table_is_located_before_anything_starts() {
    let (_dir, file) = cross_account_with("[accounts]\ndev = \"111111111111\"\nprod = \"22222222222\"\n");
    let out = harness(&["run", "--target", "moto", "-s", file.to_str().unwrap()]).output().unwrap();
    assert_fails(&out, exit_code::ACCOUNTS_INVALID, "accounts.toml:14:8: [accounts]: account `prod` is \"22222222222\", not an account id (12 digits)", "");
    assert!(!stderr(&out).contains("starting the target"), "nothing started");
}

#[test]
fn a_provider_alias_that_names_no_account_is_refused_before_anything_starts() {
    let (_dir, file) = cross_account_with("[accounts]\ndev = \"111111111111\"\nstaging = \"222222222222\"\n");
    let out = harness(&["run", "--target", "moto", "-s", file.to_str().unwrap()]).output().unwrap();
    assert_fails(&out, exit_code::ALIAS_WITHOUT_ACCOUNT, "has provider \"aws\" alias \"prod\", which names no account of the scenario (its [accounts]: dev, staging)", "add `prod = \"<id>\"` to [accounts]");
    assert!(!stderr(&out).contains("starting the target"), "nothing started");
}

#[test]
fn sandbox_accounts_must_match_the_accounts_scenarios_name() {
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--target", "aws", "--sandbox-account", "123456789012", "-s", "cross_account_deployer"];
        args.extend_from_slice(extra);
        harness(&args).output().unwrap()
    };
    let unknown = run(&["--sandbox-account", "dev=111111111111", "--sandbox-account", "prod=222222222222", "--sandbox-account", "staging=333333333333"]);
    assert_fails(&unknown, exit_code::ACCOUNT_UNMAPPED, "--sandbox-account staging=...: no scenario of this run acts in an account `staging` (they name: dev, prod)", "drop it or fix the name");
    let unmapped = run(&["--sandbox-account", "dev=111111111111"]);
    assert_fails(&unmapped, exit_code::ACCOUNT_UNMAPPED, "[cross_account_deployer] account `prod` has no sandbox id on --target aws", "pass --sandbox-account prod=ID");
    let malformed = run(&["--sandbox-account", "prod=2222"]);
    assert_fails(&malformed, exit_code::USAGE, "`--sandbox-account prod=2222` is neither an account id nor NAME=ID", "write --sandbox-account ID or NAME=ID");
    for out in [unknown, unmapped, malformed] {
        assert!(!stderr(&out).contains("starting the target"), "nothing started: {}", stderr(&out));
    }
}

/// The README's lines that start the container engine, as a person copies them.
fn readme_container_lines() -> Vec<String> {
    let readme = std::fs::read_to_string(project("README.md")).unwrap();
    let lines: Vec<String> = readme.lines().filter(|l| l.contains("ci/containers.sh) && eval")).map(|l| l.split('#').next().unwrap().trim().to_string()).collect();
    assert_eq!(lines.len(), 2, "the README shows the line with sudo and the one without: {lines:?}");
    lines
}

/// `bash -c LINE; echo "$DOCKER_HOST"` from the project folder with `PATH`:
/// its status, what it printed on stderr, and the DOCKER_HOST it left.
fn run_line(line: &str, path: &str, log: &Path) -> (Option<i32>, String, String) {
    let script = format!("{line} || exit $?\necho \"DOCKER_HOST=$DOCKER_HOST\"");
    let bash = ["/usr/bin/bash", "/bin/bash"].into_iter().find(|b| Path::new(b).exists()).unwrap();
    let out = Command::new(bash).args(["-c", &script]).current_dir(project("")).env("PATH", path).env_remove("DOCKER_HOST").env("HARNESS_CONTAINERS_LOG", log).output().unwrap();
    (out.status.code(), stderr(&out), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn the_readme_container_lines_fail_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("containers.log");
    let [with_sudo, without] = <[String; 2]>::try_from(readme_container_lines()).unwrap();
    assert!(with_sudo.contains("sudo ") && !without.contains("sudo"), "{with_sudo} / {without}");
    // No sudo on the machine: the shell's own message, a non-zero status, nothing evaluated.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (status, err, out) = run_line(&with_sudo, &empty.display().to_string(), &log);
    assert_eq!(status, Some(127), "{err}");
    assert!(err.contains("sudo: command not found"), "{err}");
    assert!(!out.contains("DOCKER_HOST"), "{out}");
    // The script fails (here: not root, as `id` says): its message and status, for both lines.
    let fakes = dir.path().join("fakes");
    std::fs::create_dir(&fakes).unwrap();
    for (name, body) in [("sudo", "exec \"$@\""), ("id", "echo 1000")] {
        let file = fakes.join(name);
        std::fs::write(&file, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", fakes.display());
    for line in [&with_sudo, &without] {
        let (status, err, out) = run_line(line, &path, &log);
        assert_eq!(status, Some(1), "{line}: {err}");
        assert!(err.contains("containers: error: needs root"), "{line}: {err}");
        assert!(!out.contains("DOCKER_HOST"), "{line}: {out}");
    }
}

/// The nightly job's summary (Markdown for the job page) names each scenario
/// the run left out and why, beside the verdicts.
#[test]
fn the_nightly_summary_says_what_the_run_left_out() {
    let reports = tempfile::tempdir().unwrap();
    std::fs::copy(project("harness/tests/fixtures/reports/fixed_run.json"), reports.path().join("report.json")).unwrap();
    let out = Command::new("bash").arg(project("ci/nightly.sh")).arg("summary").env("REPORTS", reports.path()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("## Sandbox run: FAILED"), "{summary}");
    assert!(summary.contains("### Left out of this run\n\n- **rds_iam**: its RDS instance takes minutes to create"), "{summary}");
}
