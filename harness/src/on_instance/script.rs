//! The sh script that makes one call on the instance with the aws CLI, and
//! the reading of what it printed. It prints no secret: the session an
//! AssumeRole step returns goes to a 0600 file on the instance, and only its
//! AccessKeyId, Expiration and ARN are printed (SSM keeps command output).
//! Every line the script prints for the harness starts with a mark drawn
//! for this script, so no output of the call can pass for one.

use std::time::Duration;

use crate::outcome::{self, Performed};
use crate::sdk::CallError;
use crate::service::{Call, InstanceCommand};
use crate::shell::quote;

/// Where a run's scripts work: its folder on the instance
/// (`$TMPDIR`, else /tmp) and the region the CLI calls.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub dir: String,
    pub region: String,
}

impl Workspace {
    pub fn new(run_id: &str, region: &str) -> Self {
        Self { dir: format!("harness-{run_id}"), region: region.to_string() }
    }
}

pub struct Script {
    text: String,
    /// The aws command as the report shows it (the files it uses named plainly).
    shown: String,
    mark: String,
    /// The file an AssumeRole step saves its session to.
    saves: Option<String>,
}

/// What the call did on the instance.
#[derive(Debug, PartialEq, Eq)]
struct Ran {
    exit_code: i32,
    elapsed: Duration,
    stdout: String,
    stderr: String,
}

/// The lines that make the script act as the session saved in `file`.
fn load_session(file: &str) -> String {
    format!(
        "[ -s {f} ] || {{ echo \"$M setup no session file {f} on the instance\"; exit 0; }}\n\
         IFS=\"$(printf '\\t')\" read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN rest < {f}\n\
         export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN\n",
        f = quote(file)
    )
}

impl Script {
    /// The script for `call` in the run's workspace, as the session in
    /// `session` (a file there) or else as the instance's own role.
    pub fn render(call: &Call, workspace: &Workspace, session: Option<&str>) -> Result<Self, &'static str> {
        let mark: String = std::iter::repeat_with(fastrand::alphanumeric).take(16).collect();
        let mark = format!("@@harness-{mark}@@");
        let InstanceCommand { prepare, command, stdout_to, on_success, saves } = call.on_instance()?;
        let as_session = session.map(load_session).unwrap_or_default();
        let on_success = if on_success.is_empty() { String::new() } else { format!("if [ \"$rc\" -eq 0 ]; then {on_success}; fi\n") };
        let text = format!(
            "umask 077\n\
             M={mark}\n\
             export AWS_REGION={region} AWS_DEFAULT_REGION={region} AWS_PAGER=\n\
             dir=\"${{TMPDIR:-/tmp}}\"/{dir}\n\
             mkdir -p \"$dir\" && cd \"$dir\" || {{ echo \"$M setup cannot use $dir\"; exit 0; }}\n\
             command -v aws >/dev/null 2>&1 || {{ echo \"$M setup the aws CLI is not on the instance's PATH\"; exit 0; }}\n\
             {as_session}{prepare}\n\
             start=$(date +%s%N)\n\
             {command} >{stdout_to} 2>\"err.$$\"\n\
             rc=$?\n\
             end=$(date +%s%N)\n\
             {on_success}\
             echo \"$M result $rc $(( (end - start) / 1000 ))\"\n\
             echo \"$M stdout\"; cat \"out.$$\" 2>/dev/null; echo\n\
             echo \"$M stderr\"; cat \"err.$$\"\n\
             rm -f \"out.$$\" \"err.$$\" \"body.$$\" \"obj.$$\" \"new.$$\"\n",
            dir = quote(&workspace.dir),
            region = quote(&workspace.region),
        );
        let shown = command.replace("\"body.$$\"", "./body").replace("\"obj.$$\"", "./object");
        Ok(Self { text, shown, mark, saves })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The aws command the script runs, for the report.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// What the step observed, from what the script printed.
    pub fn read(&self, call: &Call, printed: &str) -> Performed {
        let ran = match self.parse(printed) {
            Ok(ran) => ran,
            Err(why) => return Performed::error("OnInstance", why),
        };
        if ran.exit_code != 0 {
            return outcome::failed(call.operation(), cli_error(&ran.stderr), ran.elapsed);
        }
        let mut done = call.read_on_instance(&ran.stdout, ran.elapsed);
        if self.saves.is_some() && done.mismatch.is_none() {
            done.session_on_instance = self.saves.clone();
        }
        done
    }

    fn parse(&self, printed: &str) -> Result<Ran, String> {
        let mark = &self.mark;
        if let Some(why) = printed.lines().find_map(|l| l.strip_prefix(&format!("{mark} setup "))) {
            return Err(format!("cannot make the call on the instance: {why}"));
        }
        let result = printed
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{mark} result ")))
            .ok_or_else(|| format!("the instance's output has no result line (truncated?): {}", last_line(printed)))?;
        let (exit_code, micros) = result.split_once(' ').ok_or_else(|| format!("bad result line `{result}`"))?;
        let exit_code = exit_code.parse().map_err(|_| format!("bad exit code in `{result}`"))?;
        let micros: u64 = micros.trim().parse().map_err(|_| format!("bad duration in `{result}`"))?;
        let (_, rest) = printed.split_once(&format!("{mark} stdout\n")).ok_or("the instance's output has no stdout section")?;
        let (stdout, stderr) = rest.split_once(&format!("\n{mark} stderr\n")).ok_or("the instance's output was cut short (no stderr section)")?;
        Ok(Ran { exit_code, elapsed: Duration::from_micros(micros), stdout: stdout.to_string(), stderr: stderr.to_string() })
    }
}

fn last_line(text: &str) -> &str {
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("(nothing)")
}

/// `An error occurred (CODE) when calling the OP operation[ (retries)]: MESSAGE`,
/// as every aws CLI prints a service error; anything else is the CLI's own failure.
fn cli_error(stderr: &str) -> CallError {
    for line in stderr.lines().rev() {
        if let Some(rest) = line.trim().strip_prefix("An error occurred (")
            && let Some((code, rest)) = rest.split_once(") when calling the ")
        {
            // "<Op> operation: msg", or "<Op> operation (reached max retries: 2): msg"
            let tail = rest.split_once(" operation").map_or(rest, |(_, t)| t);
            let tail = if tail.starts_with(" (") { tail.split_once(')').map_or(tail, |(_, t)| t) } else { tail };
            let message = tail.strip_prefix(": ").unwrap_or(tail);
            return CallError::Service { code: code.to_string(), message: message.to_string() };
        }
    }
    CallError::Transport { kind: "CliError", message: last_line(stderr).to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Observed;
    use crate::service::{s3::S3, sts::Sts};

    fn output(script: &Script, rc: i32, stdout: &str, stderr: &str) -> String {
        let m = &script.mark;
        format!("{m} result {rc} 1500\n{m} stdout\n{stdout}\n{m} stderr\n{stderr}")
    }

    fn ws() -> Workspace {
        Workspace::new("r1", "eu-west-1")
    }

    fn list() -> Call {
        Call::S3(S3::ListBucket { bucket: "b".into(), expect_keys: vec!["hello".into()], prefix: None, delimiter: None })
    }

    #[test]
    fn quoting_survives_every_shell_metacharacter() {
        let nasty = "it's $(rm -rf /) `x` \"y\" \\ ; | & \n end";
        let out = std::process::Command::new("sh").arg("-c").arg(format!("printf '%s' {}", quote(nasty))).output().unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), nasty);
    }

    #[test]
    fn a_denial_is_read_from_the_cli_error_line() {
        let script = Script::render(&list(), &ws(), None).unwrap();
        let stderr = "\nAn error occurred (AccessDenied) when calling the ListObjects operation: Access Denied\n";
        let done = script.read(&list(), &output(&script, 254, "", stderr));
        assert_eq!(done.observed, Observed::Denied { code: "AccessDenied".into(), message: "Access Denied".into() });
        assert_eq!(done.latency, Duration::from_micros(1500));
        let retried = "An error occurred (Throttling) when calling the ListObjects operation (reached max retries: 2): Rate exceeded";
        assert_eq!(cli_error(retried), CallError::Service { code: "Throttling".into(), message: "Rate exceeded".into() });
        assert!(matches!(cli_error("aws: error: argument --bucket is required"), CallError::Transport { kind: "CliError", .. }));
    }

    #[test]
    fn an_allowed_listing_is_checked_like_the_sdk_one() {
        let script = Script::render(&list(), &ws(), None).unwrap();
        let listing = r#"{"Contents": [{"Key": "hello", "Size": 5, "LastModified": "2026-11-21T10:00:00+00:00"}]}"#;
        let done = script.read(&list(), &output(&script, 0, listing, ""));
        assert_eq!(done.observed, Observed::Allowed);
        assert!(done.mismatch.is_none(), "{:?}", done.mismatch);
        let empty = script.read(&list(), &output(&script, 0, "", ""));
        assert_eq!(empty.mismatch.as_deref(), Some("expected keys missing: [\"hello\"]"));
    }

    #[test]
    fn output_that_only_looks_like_a_result_is_not_one() {
        let script = Script::render(&list(), &ws(), None).unwrap();
        let forged = "@@harness-0000000000000000@@ result 0 1\n";
        assert!(matches!(script.read(&list(), forged).observed, Observed::Error { .. }));
        let setup = format!("{} setup the aws CLI is not on the instance's PATH\n", script.mark);
        let done = script.read(&list(), &setup);
        assert!(done.detail.contains("aws CLI is not on the instance's PATH"), "{}", done.detail);
    }

    #[test]
    fn an_assumed_session_stays_on_the_instance() {
        let call = Call::Sts(Sts::assume("arn:aws:iam::1:role/p-role2", "blog-demo"));
        let script = Script::render(&call, &ws(), None).unwrap();
        assert!(script.text().contains("--output text >\"new.$$\" 2>\"err.$$\""), "{}", script.text());
        assert_eq!(
            script.shown(),
            "aws sts assume-role --role-arn 'arn:aws:iam::1:role/p-role2' --role-session-name 'blog-demo' --query '[Credentials.AccessKeyId,Credentials.SecretAccessKey,Credentials.SessionToken,Credentials.Expiration,AssumedRoleUser.Arn]' --output text"
        );
        let put = Call::S3(S3::PutObject { bucket: "b".into(), key: "hello".into(), body: "hello".into() });
        assert_eq!(Script::render(&put, &ws(), None).unwrap().shown(), "aws s3api put-object --bucket 'b' --key 'hello' --body ./body --output json");
        let odd = Call::S3(S3::GetObject { bucket: "b".into(), key: "a >b".into(), expect_body: None });
        assert_eq!(Script::render(&odd, &ws(), None).unwrap().shown(), "aws s3api get-object --bucket 'b' --key 'a >b' ./object --output json");
        let printed = "ASIAEXAMPLE\t2099-01-01T00:00:00+00:00\tarn:aws:sts::1:assumed-role/p-role2/blog-demo\ttoken\n";
        let done = script.read(&call, &output(&script, 0, printed, ""));
        assert!(done.mismatch.is_none(), "{:?}", done.mismatch);
        assert_eq!(done.session_on_instance.as_deref(), Some("session-p-role2-blog-demo"));
        assert!(done.session.is_none());
        let as_role2 = Script::render(&list(), &ws(), Some("session-p-role2-blog-demo")).unwrap();
        assert!(as_role2.text().contains("read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN rest < 'session-p-role2-blog-demo'"));
    }

    /// The script as sh runs it, with a stand-in `aws` that answers like the CLI:
    /// the secret it returns reaches the session file, never the output.
    #[test]
    fn the_script_runs_under_sh_and_prints_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let fake = "#!/bin/sh\ncase \"$1 $2\" in\n\
            'sts assume-role') printf 'ASIAFAKE\\tSECRET-XYZ\\tTOKEN-XYZ\\t2099-01-01T00:00:00Z\\tarn:aws:sts::1:assumed-role/r2/s\\n' ;;\n\
            's3api list-objects') [ \"$AWS_REGION\" = eu-west-1 ] && [ \"$AWS_SESSION_TOKEN\" = TOKEN-XYZ ] && echo '{\"Contents\": []}' && exit 0; \
            echo 'An error occurred (AccessDenied) when calling the ListObjects operation: Access Denied' >&2; exit 254 ;;\n\
            esac\n";
        std::fs::write(bin.join("aws"), fake).unwrap();
        std::fs::set_permissions(bin.join("aws"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let run = |script: &Script| {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(script.text())
                .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                .env("TMPDIR", dir.path())
                .env_remove("AWS_SESSION_TOKEN")
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        let no_keys = Call::S3(S3::ListBucket { bucket: "b".into(), expect_keys: vec![], prefix: None, delimiter: None });
        let as_role1 = Script::render(&no_keys, &ws(), None).unwrap();
        let denied = as_role1.read(&no_keys, &run(&as_role1));
        assert!(matches!(denied.observed, Observed::Denied { ref code, .. } if code == "AccessDenied"), "{denied:?}");

        let assume = Call::Sts(Sts::assume("arn:aws:iam::1:role/r2", "s"));
        let script = Script::render(&assume, &ws(), None).unwrap();
        let printed = run(&script);
        assert!(!printed.contains("SECRET-XYZ") && !printed.contains("TOKEN-XYZ"), "{printed}");
        let done = script.read(&assume, &printed);
        assert!(done.mismatch.is_none(), "{:?} {printed}", done.mismatch);
        let file = done.session_on_instance.unwrap();
        let saved = dir.path().join("harness-r1").join(&file);
        assert!(std::fs::read_to_string(&saved).unwrap().contains("SECRET-XYZ"));
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&saved).unwrap().permissions()) & 0o777, 0o600);

        let as_role2 = Script::render(&no_keys, &ws(), Some(&file)).unwrap();
        assert_eq!(as_role2.read(&no_keys, &run(&as_role2)).observed, Observed::Allowed);
    }
}
