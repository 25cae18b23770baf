//! What each subcommand does, as library functions: each takes its parsed
//! flags and returns the exit code its own result decided, or a
//! [`CommandError`] whose [`CommandError::exit_code`] is the one mapping from
//! trouble to code. `main.rs` only parses, dispatches and prints the error.
//! What the subcommands share lives here: the target and sandbox accounts
//! resolved once ([`Invocation`]), loading the scenarios, starting the
//! target, the reporters.

pub mod demo;
pub mod error;
pub mod list;
pub mod merge;
pub mod mutants;
pub mod run;
pub mod sweep;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use error::{CommandError, exit_code};

use crate::accounts::SandboxAccounts;
use crate::root_module::RootModule;
use crate::cli::{ReportFiles, TargetArgs, TargetKind};
use crate::report::{LeftOut, RunReport};
use crate::reporter::{Reporter, Reporters, graph::Graph, html::Html, json::Json, junit::JUnit};
use crate::runner::{self, RunOptions, Runner};
use crate::scenario::{self, Scenario};
use crate::target::{AccountReach, Images, Target, TargetSpec, container::Placement, moto::MotoOptions};
use crate::terraform::{self, Terraform};

/// A folder given by flag, else `name` in the current folder, else beside this crate.
pub fn project_dir(explicit: Option<PathBuf>, name: &str) -> PathBuf {
    explicit.unwrap_or_else(|| {
        let here = PathBuf::from(name);
        if here.is_dir() { here } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name) }
    })
}

/// The target flags resolved once, before anything starts: which target,
/// described (its flags checked), why it was chosen, and the sandbox accounts.
pub struct Invocation {
    pub kind: TargetKind,
    pub spec: TargetSpec,
    /// Why this target: the flag, or the automatic choice's reason.
    pub reason: String,
    pub sandbox: SandboxAccounts,
    pub args: TargetArgs,
}

impl Invocation {
    pub fn resolve(args: &TargetArgs) -> Result<Self, CommandError> {
        let kind = args.kind();
        // Only a real account reads --sandbox-account (elsewhere its environment variable may be set for another run).
        let sandbox = match SandboxAccounts::parse(&args.sandbox_account) {
            Ok(sandbox) => sandbox,
            Err(err) if kind == TargetKind::Aws => return Err(CommandError::Usage(format!("{err}; write --sandbox-account ID or NAME=ID"))),
            Err(_) => SandboxAccounts::default(),
        };
        let region = args.region.clone().unwrap_or_else(|| crate::target::DEFAULT_REGION.to_string());
        let placement = Placement { network: args.container_network, port: args.port };
        let moto = MotoOptions { python: args.moto_python.clone(), port: args.port, ..MotoOptions::default() };
        let spec = match kind {
            TargetKind::Auto => TargetSpec::Auto { moto, images: Images { moto: args.moto_image.clone(), localstack: args.localstack_image.clone() }, placement },
            TargetKind::Moto => TargetSpec::Moto(moto),
            TargetKind::MotoContainer => TargetSpec::MotoContainer { image: args.moto_image.clone(), placement },
            TargetKind::Localstack => TargetSpec::LocalStack { image: args.localstack_image.clone(), placement },
            TargetKind::Endpoint => match &args.endpoint {
                Some(url) => TargetSpec::Endpoint { url: url.clone(), region },
                None => return Err(CommandError::Usage("--target endpoint needs --endpoint URL (or AWS_ENDPOINT_URL)".into())),
            },
            TargetKind::Aws => {
                let Some(account) = sandbox.default.clone() else {
                    return Err(CommandError::Usage("--target aws needs --sandbox-account ID (or HARNESS_SANDBOX_ACCOUNT_ID): the account its credentials are, the one it may touch".into()));
                };
                let accounts = AccountReach { role: args.account_role.clone(), sandbox_ids: Some(sandbox.named.clone()) };
                TargetSpec::Aws { region: args.region.clone(), sandbox_account: account, accounts, endpoint: args.endpoint.clone() }
            }
        };
        Ok(Invocation { kind, spec, reason: format!("--target {}", kind.name()), sandbox, args: args.clone() })
    }

    pub fn scenarios_dir(&self) -> PathBuf {
        project_dir(self.args.scenarios_dir.clone(), "scenarios")
    }

    pub fn configs_dir(&self) -> PathBuf {
        project_dir(self.args.configs_dir.clone(), "terraform_configuration")
    }

    /// Start or reach the target.
    pub async fn start(&self, cancel: &CancellationToken) -> Result<Target, CommandError> {
        Ok(self.spec.clone().start(self.reason.clone(), cancel).await?)
    }

    /// Terraform, the Ctrl-C watch and the target: what the runs share.
    pub async fn prepare(&self, cancel: &CancellationToken) -> Result<(Terraform, Arc<Target>), CommandError> {
        let mut terraform = Terraform::locate(self.args.terraform.as_deref())?;
        terraform.arrange_providers();
        let outlives = self.spec.outlives_run();
        crate::interrupt::watch(cancel.clone(), outlives, outlives || self.args.always_destroy);
        eprintln!("starting the target ({}) ...", self.kind.name());
        let target = Arc::new(self.start(cancel).await?);
        Ok((terraform, target))
    }

    /// Load and check every scenario before anything starts.
    pub fn load_scenarios(&self, names: &[String], config: Option<&Path>) -> Result<Selection, CommandError> {
        let (dir, configs) = (self.scenarios_dir(), self.configs_dir());
        let files = if names.is_empty() { scenario::discover(&dir)? } else { names.iter().map(|s| scenario::find(&dir, s)).collect::<Result<_, _>>()? };
        let mut selection = Selection::default();
        for file in files {
            let scenario = Scenario::load(&file, &configs, config)?;
            scenario.check_outputs(terraform::declared_outputs)?;
            if let Some(why) = self.skipped_on_aws(&scenario, !names.is_empty())? {
                eprintln!("skipping {}: {why}", scenario.name);
                selection.left_out.push(LeftOut { name: scenario.name.clone(), why });
                continue;
            }
            selection.scenarios.push(scenario);
        }
        Ok(selection)
    }

    /// On a real account, why a scenario waits (Some): AWS accepts only a
    /// provider's own tokens, and a run of all scenarios skips those whose
    /// accounts have no sandbox id, or whose configs change the Organization
    /// and are not allowed to. A scenario named by the user is refused instead.
    fn skipped_on_aws(&self, scenario: &Scenario, named: bool) -> Result<Option<String>, CommandError> {
        if self.kind != TargetKind::Aws {
            return Ok(None);
        }
        if scenario.issues_tokens() {
            if named {
                return Err(scenario::ScenarioError::EmulatorOnly { name: scenario.name.clone() }.into());
            }
            return Ok(Some("it issues its own web identity tokens, which only an emulator accepts".into()));
        }
        let missing: Vec<&str> = scenario.accounts.names().into_iter().filter(|n| !self.sandbox.named.contains_key(*n)).collect();
        if named {
            return Ok(None);
        }
        if scenario.connects_to_databases() {
            return Ok(Some(format!(
                "its RDS instance takes minutes to create and must be reachable from here, with its database users made (GRANT rds_iam); run it by name (-s {}) to include it",
                scenario.name
            )));
        }
        if !missing.is_empty() {
            let flags: Vec<String> = missing.iter().map(|n| format!("--sandbox-account {n}=ID")).collect();
            return Ok(Some(format!("it acts in accounts {}, which have no sandbox id here; pass {} to run it", missing.join(", "), flags.join(" "))));
        }
        if account_setting_change(scenario).is_some() {
            return Ok(Some("its config manages aws_s3_account_public_access_block, the whole account's S3 Block Public Access, which the harness never changes on a real account".into()));
        }
        let allowed = self.args.allow_organization_changes.contains(&scenario.name);
        Ok(organization_change(scenario).filter(|_| !allowed).map(|(_, resource)| {
            format!("its config manages {resource}, which changes the real Organization's guardrails; pass --allow-organization-changes {} to run it", scenario.name)
        }))
    }

    /// Run the scenarios on the target, then hand the report (with what was left out) to the reporters.
    pub async fn execute(&self, selection: &Selection, options: RunOptions, reporters: Reporters) -> Result<i32, CommandError> {
        let cancel = CancellationToken::new();
        let (terraform, target) = self.prepare(&cancel).await?;
        let mut result = run_on(target, terraform, options, &cancel, &selection.scenarios, &reporters).await;
        result.left_out.clone_from(&selection.left_out);
        reporters.finish(&result)?;
        Ok(result.exit_code(cancel.is_cancelled()))
    }
}

/// The scenarios a command runs, and those a whole run leaves out (on a real account), each with why.
#[derive(Debug, Default)]
pub struct Selection {
    pub scenarios: Vec<Scenario>,
    pub left_out: Vec<LeftOut>,
}

/// The first config of `scenario` that changes its account's own S3 Block Public Access.
fn account_setting_change(scenario: &Scenario) -> Option<String> {
    first_managing(scenario, RootModule::account_public_access_resource).map(|(config, _)| config)
}

/// The first config of `scenario` that changes an AWS Organization's guardrails, and the resource that does.
fn organization_change(scenario: &Scenario) -> Option<(String, &'static str)> {
    first_managing(scenario, RootModule::organization_resource)
}

/// The first config of `scenario` whose module manages what `resource` finds, and that resource.
fn first_managing(scenario: &Scenario, resource: fn(&RootModule) -> Option<&'static str>) -> Option<(String, &'static str)> {
    scenario.stages.iter().find_map(|stage| {
        let module = terraform::read_module(&stage.config).ok()?;
        resource(&module).map(|found| (stage.config.display().to_string(), found))
    })
}

/// Where the results go: the console (progress lines, the demo's story or
/// the mutants' quiet lines) and the report files the flags name, created
/// (with their folders) before anything starts so a path that cannot be
/// written fails at once.
pub fn reporters(console: Vec<Box<dyn Reporter>>, files: &ReportFiles) -> Result<Reporters, CommandError> {
    let create = |path: &Path| {
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
        folder
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::File::create(path))
            .map(std::io::BufWriter::new)
            .map_err(|source| CommandError::ReportFile { path: path.to_path_buf(), source })
    };
    let mut all = console;
    if let Some(path) = &files.json {
        all.push(Box::new(Json::new(create(path)?)));
    }
    if let Some(path) = &files.junit {
        all.push(Box::new(JUnit::new(create(path)?)));
    }
    if let Some(path) = &files.dot {
        all.push(Box::new(Graph::new(create(path)?)));
    }
    if let Some(path) = &files.html {
        all.push(Box::new(Html::new(create(path)?)));
    }
    Ok(Reporters::new(all))
}

/// The run itself, and the target's end.
pub async fn run_on(target: Arc<Target>, terraform: Terraform, options: RunOptions, cancel: &CancellationToken, scenarios: &[Scenario], reporters: &Reporters) -> RunReport {
    let runner = Runner { target: target.clone(), terraform, options, cancel: cancel.clone(), run_id: runner::new_run_id(), kept: Mutex::default() };
    let result = runner.run(scenarios, &|event| reporters.emit(&event)).await;
    drop(runner);
    if let Some(target) = sole(target).await {
        target.stop().await;
    }
    result
}

/// The target once the run's last other holder has let it go: a workload's
/// IMDS endpoint, shutting down, holds it for a moment more. None if something
/// still does after a few seconds.
pub async fn sole(mut target: Arc<Target>) -> Option<Target> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Arc::try_unwrap(target) {
            Ok(target) => return Some(target),
            Err(shared) if std::time::Instant::now() < deadline => {
                target = shared;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => return None,
        }
    }
}

/// Where a kept target's lease lives: the flag, else target/harness-kept.
pub fn kept_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit.unwrap_or_else(|| project_dir(None, ".").join("target").join("harness-kept"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::exit_code;

    /// The target flags of `harness run ARGS`, as clap reads them.
    pub(super) fn run_args(args: &[&str]) -> crate::cli::RunArgs {
        let all = ["harness", "run"].into_iter().chain(args.iter().copied());
        match Cli::try_parse_from(all).expect("the flags parse").command {
            Command::Run(run) => run,
            _ => unreachable!("a run"),
        }
    }

    fn resolved(args: &[&str]) -> Result<Invocation, CommandError> {
        Invocation::resolve(&run_args(args).target)
    }

    #[test]
    fn the_flags_a_target_needs_are_checked_when_it_is_resolved() {
        let code = |args: &[&str]| resolved(args).err().map(|e| e.exit_code());
        assert_eq!(code(&["--target", "endpoint"]), Some(exit_code::USAGE));
        assert_eq!(code(&["--target", "aws"]), Some(exit_code::USAGE));
        assert_eq!(code(&["--target", "aws", "--sandbox-account", "prod=22"]), Some(exit_code::USAGE));
        // Elsewhere --sandbox-account is not read: a stray value refuses nothing.
        let moto = resolved(&["--target", "moto", "--sandbox-account", "prod=22"]).unwrap();
        assert_eq!((moto.kind, moto.reason.as_str()), (TargetKind::Moto, "--target moto"));
        let aws = resolved(&["--target", "aws", "--sandbox-account", "123456789012", "--sandbox-account", "prod=222222222222"]).unwrap();
        assert_eq!(aws.sandbox.default.as_deref(), Some("123456789012"));
        assert_eq!(aws.sandbox.named.get("prod").map(String::as_str), Some("222222222222"));
        assert!(matches!(resolved(&["--endpoint", "http://127.0.0.1:1"]).unwrap().kind, TargetKind::Endpoint));
    }

    #[test]
    fn a_report_file_gets_its_folder_and_an_unwritable_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("not/yet/there/report.json");
        let files = ReportFiles { json: Some(json.clone()), ..ReportFiles::default() };
        reporters(Vec::new(), &files).unwrap();
        assert!(json.is_file());
        let blocked = ReportFiles { junit: Some(json.join("under-a-file.xml")), ..ReportFiles::default() };
        let err = reporters(Vec::new(), &blocked).err().unwrap();
        assert_eq!(err.exit_code(), exit_code::IO);
        assert!(err.to_string().starts_with(&format!("cannot create the report file {}", json.join("under-a-file.xml").display())), "{err}");
    }

    #[test]
    fn scenarios_are_loaded_and_checked_before_anything_starts() {
        let invocation = resolved(&["--target", "moto"]).unwrap();
        let loaded = invocation.load_scenarios(&["problem_demo".into()], None).unwrap().scenarios;
        assert_eq!(loaded.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["problem_demo"]);
        let unknown = invocation.load_scenarios(&["problem_dem".into()], None).err().unwrap();
        assert_eq!(unknown.exit_code(), exit_code::USAGE);
        assert!(unknown.to_string().contains("did you mean `problem_demo`"), "{unknown}");
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("broken.toml");
        std::fs::write(&broken, "name = \"broken\"\nconfig = ").unwrap();
        let invalid = invocation.load_scenarios(&[broken.display().to_string()], None).err().unwrap();
        assert_eq!(invalid.exit_code(), exit_code::SCENARIO_INVALID);
        let missing = invocation.load_scenarios(&["problem_demo".into()], Some(&dir.path().join("no-config"))).err().unwrap();
        assert_eq!(missing.exit_code(), exit_code::CONFIG_MISSING);
    }

    #[test]
    fn a_whole_run_on_a_real_account_says_what_it_leaves_out_and_why() {
        let invocation = resolved(&["--target", "aws", "--sandbox-account", "123456789012"]).unwrap();
        let selection = invocation.load_scenarios(&[], None).unwrap();
        let why = |name: &str| selection.left_out.iter().find(|l| l.name == name).map(|l| l.why.clone()).unwrap_or_default();
        assert!(why("rds_iam").contains("its RDS instance takes minutes to create"), "{:?}", selection.left_out);
        assert!(why("github_oidc").contains("web identity tokens, which only an emulator accepts"), "{:?}", selection.left_out);
        let run: Vec<&str> = selection.scenarios.iter().map(|s| s.name.as_str()).collect();
        assert!(run.contains(&"solution_demo") && !run.contains(&"rds_iam"), "{run:?}");
        let named = invocation.load_scenarios(&["rds_iam".into()], None).unwrap();
        assert!(named.left_out.is_empty() && named.scenarios.len() == 1, "a scenario named by the user is run");
    }

    #[test]
    fn on_a_real_account_a_scenario_named_with_its_own_tokens_is_refused() {
        let invocation = resolved(&["--target", "aws", "--sandbox-account", "123456789012"]).unwrap();
        let err = invocation.load_scenarios(&["github_oidc".into()], None).err().unwrap();
        assert_eq!(err.exit_code(), exit_code::USAGE);
    }
}
