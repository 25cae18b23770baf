//! The `harness` command: arguments, reporters, Ctrl-C, exit codes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use harness::accounts::{Accounts, SandboxAccounts};
use harness::exit_code;
use harness::partition::Partition;
use harness::kept::{self, Lease, LeaseError};
use harness::report::{RunReport, ScenarioReport};
use harness::reporter::{Reporter, Reporters, graph::Graph, html::Html, json::Json, junit::JUnit, progress::{self, Progress}, story::Story, table::Table};
use harness::runner::{self, RunOptions, Runner, SsmOptions};
use harness::scenario::{self, Scenario, ScenarioError};
use harness::target::{self, AccountReach, Consistency, Images, Target, TargetSpec, container::Placement, moto::MotoOptions};
use harness::terraform::{self, Terraform};

#[derive(Parser)]
#[command(name = "harness", version, about = "Verify AWS IAM assume-role setups end to end: apply Terraform, run each scenario's steps, report, destroy")]
struct Cli {
    /// More logging on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply each scenario's config, run its steps, report, destroy.
    Run(RunArgs),
    /// Tell the blog's story step by step: the problem, the fix applied in place, the root-user variant.
    Demo(DemoArgs),
    /// List the scenarios of the scenarios folder.
    List(ListArgs),
    /// Find what harness runs left on a target (tagged or probe-named, older
    /// than --older-than) and, with --delete, delete it. Dry-run by default.
    Sweep(SweepArgs),
    /// Mutation testing: apply each IAM mistake of a catalogue to a copy of its
    /// config and run the scenario that must catch it; fails unless every mutant is killed.
    Mutants(MutantsArgs),
    /// Join the JSON reports of a run's shards (`run --partition K/N`) into one:
    /// the summary, and the merged JSON and JUnit reports.
    MergeReports(MergeArgs),
    /// The edit-and-verify loop: run the scenarios once, then rerun each whose
    /// file or config changes (the config applied in place; an unchanged one
    /// not at all), saying which verdicts changed. Ctrl-C ends it and cleans up.
    Watch(WatchArgs),
    /// End what `run --keep` kept: its emulator and the kept state.
    Release(ReleaseArgs),
}

#[derive(clap::Args)]
struct WatchArgs {
    /// Scenario name (a file in the scenarios folder) or path; repeatable. Default: all.
    #[arg(long = "scenario", short = 's')]
    scenarios: Vec<String>,
    #[command(flatten)]
    target: TargetArgs,
    /// How often the files are looked at.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "300ms")]
    poll: Duration,
    /// Scenarios applied at once.
    #[arg(long, short = 'j', default_value_t = 3)]
    jobs: usize,
}

/// `run --keep` / `run --reuse`: the embedded emulator and each scenario's state kept under a lease.
#[derive(clap::Args)]
struct KeepArgs {
    /// Keep the embedded emulator and each scenario's state for `run --reuse`, under
    /// a lease (--lease); `harness release` ends it sooner.
    #[arg(long, conflicts_with = "reuse")]
    keep: bool,
    /// Rerun on what `--keep` left: an unchanged config is not applied at all, a
    /// changed one in place; renews the lease.
    #[arg(long)]
    reuse: bool,
    /// How long a kept emulator lives unless renewed (it then ends itself).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2h")]
    lease: Duration,
    /// Where the lease lives (default: target/harness-kept).
    #[arg(long, env = "HARNESS_KEPT_DIR")]
    kept_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ReleaseArgs {
    /// Where the lease lives (default: target/harness-kept).
    #[arg(long, env = "HARNESS_KEPT_DIR")]
    kept_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
struct MergeArgs {
    /// The shards' JSON reports (each written by `run --report-json`).
    #[arg(required = true)]
    reports: Vec<PathBuf>,
    /// Where the merged report goes.
    #[command(flatten)]
    files: ReportFiles,
}

/// The report files a run (or a merge) writes, besides the console.
#[derive(clap::Args, Default)]
struct ReportFiles {
    /// Write the JSON report here.
    #[arg(long = "report-json", value_name = "PATH")]
    json: Option<PathBuf>,
    /// Also write a JUnit XML report (a test case per step) here.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Also write who reached what as a Graphviz DOT graph here (edges coloured by verdict).
    #[arg(long = "report-dot", value_name = "PATH")]
    dot: Option<PathBuf>,
    /// Also write one self-contained HTML page here: who reached what (SVG), why
    /// each denial, where the time went, every step.
    #[arg(long = "report-html", value_name = "PATH")]
    html: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TargetKind {
    /// LocalStack when LOCALSTACK_AUTH_TOKEN is set and Docker answers; else moto in a
    /// container when Docker answers; else moto as a host process.
    Auto,
    /// moto started by the harness as a host process on 127.0.0.1, enforcing IAM (identity and trust policies).
    Moto,
    /// The same moto target in a container (testcontainers).
    MotoContainer,
    /// LocalStack in a container: with LOCALSTACK_AUTH_TOKEN the licensed image, ENFORCE_IAM=1; without one Community, which enforces no IAM (its denials come out UNVERIFIED).
    Localstack,
    /// An AWS-compatible endpoint you run (--endpoint); the harness destroys what it applied there.
    Endpoint,
    /// A real sandbox account (standard credential chain); refused unless it is --sandbox-account.
    Aws,
}

#[derive(clap::Args)]
struct ListArgs {
    /// Folder of scenario files.
    #[arg(long, env = "HARNESS_SCENARIOS_DIR")]
    scenarios_dir: Option<PathBuf>,
}

/// Where to run and with which tools (shared by `run` and `demo`).
#[derive(clap::Args, Clone)]
struct TargetArgs {
    /// Where to run (default: auto, or endpoint when --endpoint is given).
    #[arg(long, value_enum)]
    target: Option<TargetKind>,
    /// Image of the moto container target (any image with python3 and moto[server]).
    #[arg(long, env = "HARNESS_MOTO_IMAGE")]
    moto_image: Option<String>,
    /// Image of the LocalStack container target (default: the pinned licensed
    /// image with a token, else the last Community tag).
    #[arg(long, env = "HARNESS_LOCALSTACK_IMAGE")]
    localstack_image: Option<String>,
    /// How container targets are reached: host (shares the host's network, listens on a
    /// free 127.0.0.1 port) or bridge (a mapped port). Default: host when the engine has no bridge.
    #[arg(long, env = "HARNESS_CONTAINER_NETWORK")]
    container_network: Option<harness::target::container::Network>,
    /// Base URL of an AWS-compatible endpoint to run against (LocalStack, moto, ...);
    /// admin credentials come from the standard chain (AWS_ACCESS_KEY_ID..., AWS_PROFILE).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint: Option<String>,
    /// Region (default: us-east-1 on emulators; the standard chain's on aws).
    #[arg(long)]
    region: Option<String>,
    /// The account the aws target runs in: ID, the credentials' own (required
    /// with --target aws); NAME=ID (repeatable) maps an account a scenario
    /// names in [accounts] to a real sandbox account.
    #[arg(long, env = "HARNESS_SANDBOX_ACCOUNT_ID", value_delimiter = ',', value_name = "ID | NAME=ID")]
    sandbox_account: Vec<String>,
    /// The role the harness assumes in each account a scenario names, other
    /// than its credentials' own.
    #[arg(long, env = "HARNESS_ACCOUNT_ROLE", default_value = harness::accounts::ACCESS_ROLE, value_name = "NAME")]
    account_role: String,
    /// terraform (or tofu) binary.
    #[arg(long, env = "HARNESS_TERRAFORM")]
    terraform: Option<PathBuf>,
    /// Python with moto[server] installed (default: .venv/bin/python, else python3).
    #[arg(long, env = "HARNESS_MOTO_PYTHON")]
    moto_python: Option<PathBuf>,
    /// Port for the emulator (or its container) on 127.0.0.1 (default: a free one).
    #[arg(long)]
    port: Option<u16>,
    /// Folder of scenario files.
    #[arg(long, env = "HARNESS_SCENARIOS_DIR")]
    scenarios_dir: Option<PathBuf>,
    /// Folder holding the configs scenarios name (default: terraform_configuration).
    #[arg(long, env = "HARNESS_CONFIGS_DIR")]
    configs_dir: Option<PathBuf>,
    /// Destroy what was applied even on the embedded emulator (which otherwise
    /// just stops: its end is the cleanup).
    #[arg(long)]
    always_destroy: bool,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Scenario name (a file in the scenarios folder) or path; repeatable. Default: all.
    #[arg(long = "scenario", short = 's')]
    scenarios: Vec<String>,
    /// Use this Terraform config folder instead of the one the scenario names.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    files: ReportFiles,
    #[command(flatten)]
    kept: KeepArgs,
    /// Scenarios applied at once.
    #[arg(long, short = 'j', default_value_t = 3)]
    jobs: usize,
    /// Run one shard of the scenarios, for a CI matrix: K/N (count:K/N: every Nth by
    /// name) or hash:K/N (by a stable hash of the name); `merge-reports` joins the shards.
    #[arg(long)]
    partition: Option<Partition>,
    /// Fail the run for UNVERIFIED steps (denials a target that does not enforce IAM cannot prove).
    #[arg(long, env = "HARNESS_STRICT")]
    strict: bool,
    /// IAM propagation: retry a step expected to be allowed for this long while denied
    /// (default: 0 on emulators, 90s on aws).
    #[arg(long, value_parser = humantime::parse_duration)]
    allow_deadline: Option<Duration>,
    /// IAM propagation: probe a step expected to be denied this many times (default: 1 on emulators, 3 on aws)...
    #[arg(long)]
    deny_probes: Option<u32>,
    /// ...this far apart (default: 10s on aws).
    #[arg(long, value_parser = humantime::parse_duration)]
    deny_interval: Option<Duration>,
    /// aws: do not attach AmazonSSMManagedInstanceCore to the instance's role while its
    /// steps run (the account lets SSM agents register otherwise, e.g. Default Host Management).
    #[arg(long, env = "HARNESS_NO_SSM_OVERLAY")]
    no_ssm_overlay: bool,
    /// aws: how long the instance's SSM agent may take to answer after apply.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    ssm_timeout: Duration,
}

#[derive(clap::Args)]
struct SweepArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Only what is older than this (e.g. 2h, 30m, 0s).
    #[arg(long, default_value = "2h", value_parser = humantime::parse_duration)]
    older_than: Duration,
    /// Delete what was found (without it, only list).
    #[arg(long)]
    delete: bool,
    /// A kept target's lease (default: target/harness-kept): what it keeps is
    /// left alone while it lasts; once expired, it is released.
    #[arg(long, env = "HARNESS_KEPT_DIR")]
    kept_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
struct MutantsArgs {
    /// The catalogue of mutants (TOML).
    #[arg(long, default_value = "harness/mutants/blog.toml")]
    catalogue: PathBuf,
    #[command(flatten)]
    target: TargetArgs,
    /// Mutants applied at once (they share one emulator).
    #[arg(long, short = 'j', default_value_t = 4)]
    jobs: usize,
    /// Write the JSON report of every mutant's run here.
    #[arg(long)]
    report_json: Option<PathBuf>,
    /// A run's JSON report (the e2e suite's, `target/e2e-report.json`) in which the
    /// unmutated scenarios passed: those are not run again (the others are).
    #[arg(long)]
    baselines_from: Option<PathBuf>,
}

#[derive(clap::Args)]
struct DemoArgs {
    /// The chain scenario to tell.
    #[arg(long, default_value = "blog_demo")]
    scenario: String,
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    files: ReportFiles,
}

/// A folder given by flag, else `name` in the current folder, else beside this crate.
fn project_dir(explicit: Option<PathBuf>, name: &str) -> PathBuf {
    explicit.unwrap_or_else(|| {
        let here = PathBuf::from(name);
        if here.is_dir() { here } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name) }
    })
}

fn fail(code: i32, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code as u8)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match cli.verbose {
        0 => "warn",
        1 => "harness=info,warn",
        _ => "harness=debug,info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(log_filter(filter))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => return fail(exit_code::IO, format!("cannot start the async runtime: {err}")),
    };
    match cli.command {
        Command::List(args) => list(args),
        Command::Run(args) => runtime.block_on(run(args)),
        Command::Demo(args) => runtime.block_on(demo(args)),
        Command::Sweep(args) => runtime.block_on(sweep(args)),
        Command::Mutants(args) => runtime.block_on(mutants(args)),
        Command::MergeReports(args) => merge_reports(args),
        Command::Watch(args) => runtime.block_on(watch(args)),
        Command::Release(args) => release(args),
    }
}

/// RUST_LOG, else the -v level; whatever it says, bollard (the Docker client)
/// stays at info: at debug it logs request and response bodies, a container's
/// environment (LOCALSTACK_AUTH_TOKEN) included.
fn log_filter(default: &str) -> tracing_subscriber::EnvFilter {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    match "bollard=info".parse() {
        Ok(cap) => filter.add_directive(cap),
        Err(_) => filter,
    }
}

fn list(args: ListArgs) -> ExitCode {
    let dir = project_dir(args.scenarios_dir, "scenarios");
    let configs = project_dir(None, "terraform_configuration");
    let files = match scenario::discover(&dir) {
        Ok(files) => files,
        Err(err) => return fail(err.exit_code(), err),
    };
    for file in files {
        match Scenario::load(&file, &configs, None) {
            Ok(s) => println!("{:<26} {:<52} {}", s.name, s.config_label(), s.description.unwrap_or_default()),
            Err(err) => return fail(err.exit_code(), err),
        }
    }
    ExitCode::SUCCESS
}

/// Load and check every scenario before anything starts.
fn load_scenarios(names: &[String], target: &TargetArgs, config: Option<&Path>) -> Result<Vec<Scenario>, ScenarioError> {
    let dir = project_dir(target.scenarios_dir.clone(), "scenarios");
    let configs = project_dir(target.configs_dir.clone(), "terraform_configuration");
    let files = if names.is_empty() { scenario::discover(&dir)? } else { names.iter().map(|s| scenario::find(&dir, s)).collect::<Result<_, _>>()? };
    let mut loaded = Vec::new();
    for file in files {
        let scenario = Scenario::load(&file, &configs, config)?;
        scenario.check_outputs(terraform::declared_outputs)?;
        // AWS accepts only a provider's own tokens: a scenario that issues its own runs on emulators.
        if target_kind(target) == TargetKind::Aws && scenario.issues_tokens() {
            if !names.is_empty() {
                return Err(ScenarioError::EmulatorOnly { name: scenario.name });
            }
            eprintln!("skipping {}: it issues its own web identity tokens, which only an emulator accepts", scenario.name);
            continue;
        }
        // All scenarios on a real account: those whose accounts have no sandbox id wait for them.
        if target_kind(target) == TargetKind::Aws && names.is_empty() {
            let named = SandboxAccounts::parse(&target.sandbox_account).map(|s| s.named).unwrap_or_default();
            let missing: Vec<&str> = scenario.accounts.names().into_iter().filter(|n| !named.contains_key(*n)).collect();
            if !missing.is_empty() {
                let flags: Vec<String> = missing.iter().map(|n| format!("--sandbox-account {n}=ID")).collect();
                eprintln!("skipping {}: it acts in accounts {}, which have no sandbox id here; pass {} to run it", scenario.name, missing.join(", "), flags.join(" "));
                continue;
            }
        }
        loaded.push(scenario);
    }
    Ok(loaded)
}

/// Terraform, the target and the Ctrl-C watch: what `run` and `demo` share.
async fn prepare(args: &TargetArgs, cancel: &CancellationToken) -> Result<(Terraform, Arc<Target>), ExitCode> {
    let mut terraform = Terraform::locate(args.terraform.as_deref()).map_err(|err| fail(exit_code::MISSING_TOOL, err))?;
    terraform.arrange_providers();
    let (spec, reason) = describe(args)?;
    let outlives = spec.outlives_run();
    watch_ctrl_c(cancel.clone(), outlives, outlives || args.always_destroy);
    eprintln!("starting the target ({}) ...", target_kind(args).name());
    let target = Arc::new(start(spec, reason, cancel).await?);
    Ok((terraform, target))
}

impl TargetKind {
    /// As written on the command line.
    fn name(self) -> String {
        self.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
    }
}

fn target_kind(args: &TargetArgs) -> TargetKind {
    args.target.unwrap_or(if args.endpoint.is_some() { TargetKind::Endpoint } else { TargetKind::Auto })
}

/// The target the arguments describe, and why it was chosen; the flags a target kind needs are checked here.
fn describe(args: &TargetArgs) -> Result<(TargetSpec, String), ExitCode> {
    let region = args.region.clone().unwrap_or_else(|| harness::target::DEFAULT_REGION.to_string());
    let placement = Placement { network: args.container_network, port: args.port };
    let moto = MotoOptions { python: args.moto_python.clone(), port: args.port, ..MotoOptions::default() };
    let kind = target_kind(args);
    let spec = match kind {
        TargetKind::Auto => TargetSpec::Auto { moto, images: Images { moto: args.moto_image.clone(), localstack: args.localstack_image.clone() }, placement },
        TargetKind::Moto => TargetSpec::Moto(moto),
        TargetKind::MotoContainer => TargetSpec::MotoContainer { image: args.moto_image.clone(), placement },
        TargetKind::Localstack => TargetSpec::LocalStack { image: args.localstack_image.clone(), placement },
        TargetKind::Endpoint => match &args.endpoint {
            Some(url) => TargetSpec::Endpoint { url: url.clone(), region },
            None => return Err(fail(exit_code::USAGE, "--target endpoint needs --endpoint URL (or AWS_ENDPOINT_URL)")),
        },
        TargetKind::Aws => {
            let sandbox = SandboxAccounts::parse(&args.sandbox_account).map_err(|err| fail(exit_code::USAGE, format!("{err}; write --sandbox-account ID or NAME=ID")))?;
            let Some(account) = sandbox.default else {
                return Err(fail(exit_code::USAGE, "--target aws needs --sandbox-account ID (or HARNESS_SANDBOX_ACCOUNT_ID): the account its credentials are, the one it may touch"));
            };
            let accounts = AccountReach { role: args.account_role.clone(), sandbox_ids: Some(sandbox.named) };
            TargetSpec::Aws { region: args.region.clone(), sandbox_account: account, accounts, endpoint: args.endpoint.clone() }
        }
    };
    Ok((spec, format!("--target {}", kind.name())))
}

/// Start or reach the target the arguments name.
async fn connect(args: &TargetArgs, cancel: &CancellationToken) -> Result<Target, ExitCode> {
    let (spec, reason) = describe(args)?;
    start(spec, reason, cancel).await
}

async fn start(spec: TargetSpec, reason: String, cancel: &CancellationToken) -> Result<Target, ExitCode> {
    spec.start(reason, cancel).await.map_err(|err| fail(err.exit_code(), harness::sdk::error_chain(&err)))
}

/// Where the results go: the console (progress lines, the demo's story or
/// the mutants' quiet lines) and the report files the flags name, created
/// before anything starts so a path that cannot be written fails at once.
fn reporters(console: Vec<Box<dyn Reporter>>, files: &ReportFiles) -> Result<Reporters, ExitCode> {
    let create = |path: &Path| {
        std::fs::File::create(path)
            .map(std::io::BufWriter::new)
            .map_err(|err| fail(exit_code::IO, format!("cannot create the report file {}: {err}; pick a writable path", path.display())))
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

/// Run the scenarios on the target, then hand the report to the reporters.
async fn execute(scenarios: &[Scenario], args: &TargetArgs, options: RunOptions, reporters: Reporters) -> ExitCode {
    let cancel = CancellationToken::new();
    let (terraform, target) = match prepare(args, &cancel).await {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    let result = run_on(target, terraform, options, &cancel, scenarios, &reporters).await;
    if let Err(err) = reporters.finish(&result) {
        return fail(exit_code::IO, harness::sdk::error_chain(&err));
    }
    ExitCode::from(result.exit_code(cancel.is_cancelled()) as u8)
}

/// The run itself, and the target's end.
async fn run_on(target: Arc<Target>, terraform: Terraform, options: RunOptions, cancel: &CancellationToken, scenarios: &[Scenario], reporters: &Reporters) -> RunReport {
    let runner = Runner { target: target.clone(), terraform, options, cancel: cancel.clone(), run_id: runner::new_run_id(), kept: Mutex::default() };
    let result = runner.run(scenarios, &|event| reporters.emit(&event)).await;
    drop(runner);
    if let Some(target) = sole(target).await {
        target.stop().await;
    }
    result
}

async fn run(args: RunArgs) -> ExitCode {
    let scenarios = match load_scenarios(&args.scenarios, &args.target, args.config.as_deref()) {
        Ok(s) => s,
        Err(err) => return fail(err.exit_code(), err),
    };
    if let Err(code) = check_configs(&scenarios).and_then(|()| check_accounts(&scenarios, &args.target)) {
        return code;
    }
    let scenarios = match args.partition {
        Some(partition) => match shard(scenarios, partition) {
            Ok(scenarios) => scenarios,
            Err(code) => return code,
        },
        None => scenarios,
    };
    let consistency = (args.allow_deadline.is_some() || args.deny_probes.is_some() || args.deny_interval.is_some()).then(|| {
        let base = if args.target.target == Some(TargetKind::Aws) { Consistency::eventual() } else { Consistency::immediate() };
        Consistency {
            allow_deadline: args.allow_deadline.unwrap_or(base.allow_deadline),
            deny_probes: args.deny_probes.unwrap_or(base.deny_probes).max(1),
            deny_interval: args.deny_interval.unwrap_or(base.deny_interval),
        }
    });
    let options = RunOptions {
        jobs: args.jobs,
        strict: args.strict,
        always_destroy: args.target.always_destroy,
        consistency,
        ssm: SsmOptions { overlay: !args.no_ssm_overlay, online_deadline: args.ssm_timeout },
        ..RunOptions::default()
    };
    let console: Vec<Box<dyn Reporter>> = vec![Box::new(Progress::new(std::io::stderr())), Box::new(Table::new(std::io::stdout()))];
    match reporters(console, &args.files) {
        Ok(reporters) if args.kept.keep || args.kept.reuse => run_kept(&scenarios, &args, options, reporters).await,
        Ok(reporters) => execute(&scenarios, &args.target, options, reporters).await,
        Err(code) => code,
    }
}

/// The target once the run's last other holder has let it go: a workload's
/// IMDS endpoint, shutting down, holds it for a moment more. None if something
/// still does after a few seconds.
async fn sole(mut target: Arc<Target>) -> Option<Target> {
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

fn kept_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit.unwrap_or_else(|| project_dir(None, ".").join("target").join("harness-kept"))
}

fn lease_fail(err: LeaseError) -> ExitCode {
    fail(err.exit_code(), harness::sdk::error_chain(&err))
}

/// `run --keep` / `--reuse`: the run on the kept emulator (or one started to
/// be kept), every scenario's state kept, then the lease written (renewed).
async fn run_kept(scenarios: &[Scenario], args: &RunArgs, options: RunOptions, reporters: Reporters) -> ExitCode {
    let dir = kept_dir(args.kept.kept_dir.clone());
    let cancel = CancellationToken::new();
    let (lease, target, terraform) = match acquire(args, &dir, &cancel).await {
        Ok(acquired) => acquired,
        Err(code) => return code,
    };
    let options = RunOptions { keep: true, probed: lease.as_ref().map(|l| (l.capabilities, l.probe_notes.clone())), ..options };
    let run_id = lease.as_ref().map(|l| l.run_id.clone()).unwrap_or_else(runner::new_run_id);
    let kept = Mutex::new(lease.as_ref().map(|l| l.scenarios.clone()).unwrap_or_default());
    let runner = Runner { target: target.clone(), terraform, options, cancel: cancel.clone(), run_id: run_id.clone(), kept };
    let result = runner.run(scenarios, &|event| reporters.emit(&event)).await;
    let scenarios = std::mem::take(&mut *runner.kept.lock().unwrap_or_else(|p| p.into_inner()));
    drop(runner);
    let emulator = match lease {
        Some(lease) => lease.emulator,
        None => match sole(target).await.and_then(Target::detach) {
            Some(emulator) => emulator,
            None => return fail(exit_code::TARGET, "the emulator to keep is gone; nothing is kept"),
        },
    };
    let expires_at = kept::now() + args.kept.lease.as_secs();
    let (capabilities, probe_notes) = (result.target.capabilities, result.target.probe_notes.clone());
    let lease = Lease { owner: kept::owner(), expires_at, run_id, emulator, capabilities, probe_notes, scenarios };
    if let Err(err) = lease.write(&dir) {
        return lease_fail(err);
    }
    eprintln!(
        "kept: moto at {} and the state of {} until {} (lease {}); `harness run --reuse` reruns on it, `harness release` ends it now",
        lease.emulator.endpoint,
        lease.scenarios.keys().cloned().collect::<Vec<_>>().join(", "),
        kept::when(expires_at),
        Lease::path(&dir).display()
    );
    if let Err(err) = reporters.finish(&result) {
        return fail(exit_code::IO, harness::sdk::error_chain(&err));
    }
    ExitCode::from(result.exit_code(cancel.is_cancelled()) as u8)
}

/// The kept emulator (`--reuse`: reached again, its lease renewed at once)
/// or a new one started to be kept (`--keep`: refused while a live lease
/// holds the folder; an expired one is released first).
async fn acquire(args: &RunArgs, dir: &Path, cancel: &CancellationToken) -> Result<(Option<Lease>, Arc<Target>, Terraform), ExitCode> {
    let mut terraform = Terraform::locate(args.target.terraform.as_deref()).map_err(|err| fail(exit_code::MISSING_TOOL, err))?;
    terraform.arrange_providers();
    let existing = Lease::read(dir).map_err(lease_fail)?;
    let expires_at = kept::now() + args.kept.lease.as_secs();
    watch_ctrl_c(cancel.clone(), false, false);
    if args.kept.reuse {
        let mut lease = existing.ok_or_else(|| lease_fail(LeaseError::NoLease(dir.to_path_buf())))?;
        if lease.expired() {
            let _ = kept::release(dir, Some(&lease));
            return Err(lease_fail(LeaseError::Expired { dir: dir.to_path_buf(), at: kept::when(lease.expires_at) }));
        }
        let target = Target::reconnect(&lease.emulator)
            .await
            .map_err(|err| lease_fail(LeaseError::Gone { endpoint: lease.emulator.endpoint.clone(), cause: harness::sdk::error_chain(&err) }))?;
        lease.expires_at = expires_at;
        lease.write(dir).map_err(lease_fail)?;
        return Ok((Some(lease), Arc::new(target), terraform));
    }
    match existing {
        Some(lease) if !lease.expired() => {
            return Err(lease_fail(LeaseError::Occupied { dir: dir.to_path_buf(), until: kept::when(lease.expires_at), owner: lease.owner }));
        }
        Some(lease) => kept::release(dir, Some(&lease)).map_err(lease_fail)?,
        None => {}
    }
    if !matches!(target_kind(&args.target), TargetKind::Auto | TargetKind::Moto) {
        return Err(fail(exit_code::USAGE, "--keep keeps the embedded emulator only: drop --target/--endpoint (or use --target moto)"));
    }
    std::fs::create_dir_all(dir).map_err(|e| fail(exit_code::IO, format!("cannot create {}: {e}; pick another --kept-dir", dir.display())))?;
    kept::write_expiry(dir, expires_at).map_err(lease_fail)?;
    let moto = MotoOptions { python: args.target.moto_python.clone(), port: args.target.port, lease: Some(Lease::path(dir)), ..MotoOptions::default() };
    eprintln!("starting the target (moto, to be kept) ...");
    match start(TargetSpec::Moto(moto), "--keep: the embedded emulator, kept under a lease".into(), cancel).await {
        Ok(target) => Ok((None, Arc::new(target), terraform)),
        Err(code) => {
            let _ = kept::release(dir, None);
            Err(code)
        }
    }
}

/// `harness release`: end the kept emulator, remove the kept state.
fn release(args: ReleaseArgs) -> ExitCode {
    let dir = kept_dir(args.kept_dir);
    let lease = match Lease::read(&dir) {
        Ok(None) => {
            eprintln!("nothing is kept in {}", dir.display());
            return ExitCode::SUCCESS;
        }
        Ok(lease) => lease,
        Err(LeaseError::Malformed { .. }) => None,
        Err(err) => return lease_fail(err),
    };
    if let Err(err) = kept::release(&dir, lease.as_ref()) {
        return lease_fail(err);
    }
    match lease {
        Some(lease) => eprintln!("released: the emulator at {} and the state of {}", lease.emulator.endpoint, lease.scenarios.keys().cloned().collect::<Vec<_>>().join(", ")),
        None => eprintln!("released: {} (its lease was unreadable)", dir.display()),
    }
    ExitCode::SUCCESS
}

/// `harness watch`: run, then rerun each scenario whose inputs change, on
/// one target, until Ctrl-C; then the kept state goes as `run` cleans up.
async fn watch(args: WatchArgs) -> ExitCode {
    let mut all = match load_scenarios(&args.scenarios, &args.target, None) {
        Ok(s) => s,
        Err(err) => return fail(err.exit_code(), err),
    };
    if let Err(code) = check_configs(&all).and_then(|()| check_accounts(&all, &args.target)) {
        return code;
    }
    let cancel = CancellationToken::new();
    let (terraform, target) = match prepare(&args.target, &cancel).await {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    let options = RunOptions { jobs: args.jobs, keep: true, ..RunOptions::default() };
    let mut runner = Runner { target: target.clone(), terraform, options, cancel: cancel.clone(), run_id: runner::new_run_id(), kept: Mutex::default() };
    let mut stamps = harness::watch::stamps(&all);
    let mut previous: BTreeMap<String, ScenarioReport> = BTreeMap::new();
    let mut selected = all.clone();
    let mut code = exit_code::SUCCESS;
    loop {
        if !selected.is_empty() {
            code = watch_round(&mut runner, &selected, &mut previous).await;
        }
        eprintln!("watching {} scenario files and their configs; edit one to rerun it, Ctrl-C to end", all.len());
        let Some(changed) = harness::watch::next_change(&all, &mut stamps, args.poll, &cancel).await else { break };
        eprintln!("\nchanged: {}", changed.join(", "));
        selected = match load_scenarios(&changed, &args.target, None) {
            Ok(fresh) => fresh,
            Err(err) => {
                eprintln!("error: {err} (still watching: fix the file)");
                Vec::new()
            }
        };
        for fresh in &selected {
            if let Some(old) = all.iter_mut().find(|s| s.name == fresh.name) {
                *old = fresh.clone();
            }
        }
    }
    for failure in runner.discard_kept().await {
        eprintln!("error: cannot destroy {failure}");
        code = exit_code::CLEANUP_FAILED;
    }
    drop(runner);
    if let Some(target) = sole(target).await {
        target.stop().await;
    }
    ExitCode::from(code as u8)
}

/// One round of the watch: the scenarios run (the target probed once), the
/// table, and what changed since each one's previous round.
async fn watch_round(runner: &mut Runner, scenarios: &[Scenario], previous: &mut BTreeMap<String, ScenarioReport>) -> i32 {
    let reporters = Reporters::new(vec![Box::new(Progress::new(std::io::stderr())), Box::new(Table::new(std::io::stdout()))]);
    let report = runner.run(scenarios, &|event| reporters.emit(&event)).await;
    runner.options.probed = Some((report.target.capabilities, report.target.probe_notes.clone()));
    let _ = reporters.finish(&report);
    for scenario in &report.scenarios {
        if let Some(before) = previous.get(&scenario.name) {
            let changes = harness::watch::changes(before, scenario);
            let said = if changes.is_empty() { "no verdict changed".to_string() } else { changes.join("; ") };
            eprintln!("since the previous run of {}: {said}", scenario.name);
        }
        previous.insert(scenario.name.clone(), scenario.clone());
    }
    report.exit_code(runner.cancel.is_cancelled())
}

/// What the scenarios' configs ask of the run, said before it starts: a
/// remote backend gives way to a local one; a config with no `name_prefix`
/// names its resources itself, so two such scenarios in one run (on one
/// target) would collide: refused; an `aws` provider alias of a config the
/// admin applies must name an account of its scenario (else it would act in
/// an account nobody chose).
fn check_configs(scenarios: &[Scenario]) -> Result<(), ExitCode> {
    let mut unprefixed: Vec<&str> = Vec::new();
    for scenario in scenarios {
        for stage in &scenario.stages {
            // A config that cannot be read was named already (its outputs were checked).
            let Ok(module) = terraform::read_module(&stage.config) else { continue };
            if let Some(backend) = module.backend.as_deref().filter(|b| *b != "local") {
                eprintln!("[{}] {} declares backend \"{backend}\": the run keeps its state in its working copy (a local backend); yours is not touched", scenario.name, stage.config.display());
            }
            // A config the admin applies acts in the scenario's accounts: every alias must name one.
            let admin_applies = !scenario.accounts.is_empty() && stage.apply.as_principal.is_none();
            if let Some(alias) = module.aws_providers.iter().flatten().find(|alias| admin_applies && scenario.accounts.get(alias).is_none()) {
                return Err(fail(
                    exit_code::ALIAS_WITHOUT_ACCOUNT,
                    format!(
                        "[{}] {} has provider \"aws\" alias \"{alias}\", which names no account of the scenario (its [accounts]: {}); add `{alias} = \"<id>\"` to [accounts] or rename the alias",
                        scenario.name,
                        stage.config.display(),
                        scenario.accounts.names().join(", ")
                    ),
                ));
            }
            if !module.takes_name_prefix() && !unprefixed.contains(&scenario.name.as_str()) {
                eprintln!("[{}] {} declares no `name_prefix` variable: its resources keep the names it gives them and may collide with another run's on the same target", scenario.name, stage.config.display());
                unprefixed.push(&scenario.name);
            }
        }
    }
    if unprefixed.len() > 1 {
        return Err(fail(
            exit_code::USAGE,
            format!("{} name their resources themselves (no `name_prefix`), so they would collide on one target; run them one per run, or declare `variable \"name_prefix\"` and use it in every name", unprefixed.join(" and ")),
        ));
    }
    Ok(())
}

/// Before anything starts, on a real account: every account a scenario names
/// has a sandbox id, and every `--sandbox-account NAME=ID` names one of them.
fn check_accounts(scenarios: &[Scenario], args: &TargetArgs) -> Result<(), ExitCode> {
    if target_kind(args) != TargetKind::Aws {
        return Ok(());
    }
    let Ok(sandbox) = SandboxAccounts::parse(&args.sandbox_account) else { return Ok(()) }; // said when the target is described
    let named: Vec<&str> = scenarios.iter().flat_map(|s| s.accounts.names()).collect();
    if let Some(name) = sandbox.named.keys().find(|name| !named.contains(&name.as_str())) {
        let known = if named.is_empty() { "none names any".to_string() } else { format!("they name: {}", named.join(", ")) };
        return Err(fail(exit_code::ACCOUNT_UNMAPPED, format!("--sandbox-account {name}=...: no scenario of this run acts in an account `{name}` ({known}); drop it or fix the name")));
    }
    for scenario in scenarios {
        if let Err(err) = scenario.accounts.with_ids(&sandbox.named) {
            return Err(fail(err.exit_code(), format!("[{}] {err}", scenario.name)));
        }
    }
    Ok(())
}

/// The scenarios of one shard, said on stderr; a shard with none is refused.
fn shard(scenarios: Vec<Scenario>, partition: Partition) -> Result<Vec<Scenario>, ExitCode> {
    let all = scenarios.len();
    let selected: Vec<String> = partition.select(scenarios.iter().map(|s| s.name.as_str())).into_iter().map(str::to_string).collect();
    if selected.is_empty() {
        return Err(fail(exit_code::USAGE, format!("--partition {partition} selects none of the {all} scenarios; use fewer shards, or count: (every shard gets one while N <= {all})")));
    }
    eprintln!("partition {partition}: {} of {all} scenarios: {}", selected.len(), selected.join(", "));
    Ok(scenarios.into_iter().filter(|s| selected.contains(&s.name)).collect())
}

/// `harness merge-reports`: the shards' reports as one run's: the summary on
/// stdout, the merged JSON and JUnit where asked, the run's exit code.
fn merge_reports(args: MergeArgs) -> ExitCode {
    use harness::report::merge;
    let merged = args.reports.iter().map(|path| merge::read(path)).collect::<Result<Vec<_>, _>>().and_then(merge::merge);
    let merged = match merged {
        Ok(merged) => merged,
        Err(err) => return fail(err.exit_code(), harness::sdk::error_chain(&err)),
    };
    eprintln!("merged {} reports: {} scenarios", args.reports.len(), merged.scenarios.len());
    let reporters = match reporters(vec![Box::new(Table::summary_only(std::io::stdout()))], &args.files) {
        Ok(reporters) => reporters,
        Err(code) => return code,
    };
    if let Err(err) = reporters.finish(&merged) {
        return fail(exit_code::IO, harness::sdk::error_chain(&err));
    }
    ExitCode::from(merged.exit_code(false) as u8)
}

/// `harness mutants`: every mutant of the catalogue beside the unmutated
/// scenarios it is checked by, on one target; the score, and exit 1 below 100%.
async fn mutants(args: MutantsArgs) -> ExitCode {
    use harness::mutants;
    let scenarios_dir = project_dir(args.target.scenarios_dir.clone(), "scenarios");
    let configs = project_dir(args.target.configs_dir.clone(), "terraform_configuration");
    let catalogue = if args.catalogue.is_file() { args.catalogue.clone() } else { project_dir(None, ".").join(&args.catalogue) };
    let passed = match passed_in(args.baselines_from.as_deref()) {
        Ok(passed) => passed,
        Err(code) => return code,
    };
    let prepared = (|| -> Result<(Vec<mutants::Mutant>, Vec<Scenario>, tempfile::TempDir), mutants::MutantError> {
        let list = mutants::load(&catalogue)?;
        let work = tempfile::Builder::new().prefix("harness-mutants-").tempdir().map_err(|e| mutants::MutantError::Catalogue { path: catalogue.clone(), message: e.to_string() })?;
        // The unmutated scenarios first: each must pass, or no kill means anything
        // (unless the report given says it passed on this same code).
        let mut baselines: Vec<String> = list.iter().map(|m| m.scenario.clone()).collect();
        baselines.sort();
        baselines.dedup();
        baselines.retain(|name| !passed.contains(name));
        let mut scenarios = Vec::new();
        for name in &baselines {
            let first = list.iter().find(|m| &m.scenario == name).expect("a baseline comes from a mutant");
            scenarios.push(mutants::scenario(first, 0, &scenarios_dir, &configs, None)?);
        }
        for (index, mutant) in list.iter().enumerate() {
            let mutated = mutants::mutate(mutant, &configs, work.path())?;
            scenarios.push(mutants::scenario(mutant, index + 1, &scenarios_dir, &configs, Some(&mutated))?);
        }
        Ok((list, scenarios, work))
    })();
    let (list, scenarios, _work) = match prepared {
        Ok(prepared) => prepared,
        Err(err) => return fail(exit_code::SCENARIO_INVALID, err),
    };
    let reporters = match reporters(vec![Box::new(Progress::quiet(std::io::stderr()))], &ReportFiles { json: args.report_json.clone(), ..ReportFiles::default() }) {
        Ok(reporters) => reporters,
        Err(code) => return code,
    };
    let cancel = CancellationToken::new();
    let (terraform, target) = match prepare(&args.target, &cancel).await {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    eprintln!("mutants: {} mutants of {}, and the {} unmutated scenarios, {} at once", list.len(), catalogue.display(), scenarios.len() - list.len(), args.jobs);
    // A mutant caught at its step stops there (its later stages would prove nothing more).
    let stop_at = list.iter().zip(&scenarios[scenarios.len() - list.len()..]).filter_map(|(m, s)| Some((s.name.clone(), m.killed_at.step()?.to_string()))).collect();
    let options = RunOptions { jobs: args.jobs, always_destroy: args.target.always_destroy, stop_at, ..RunOptions::default() };
    let result = run_on(target, terraform, options, &cancel, &scenarios, &reporters).await;
    if let Err(err) = reporters.finish(&result) {
        return fail(exit_code::IO, harness::sdk::error_chain(&err));
    }
    if cancel.is_cancelled() {
        return ExitCode::from(exit_code::INTERRUPTED as u8);
    }
    let baselines = &result.scenarios[..scenarios.len() - list.len()];
    if let Some(broken) = baselines.iter().find(|s| !s.passed) {
        return fail(exit_code::STEPS_FAILED, format!("the unmutated scenario {} fails, so no mutant proves anything; fix it first (harness run -s {})", broken.name, broken.name));
    }
    score(&list, &result.scenarios[baselines.len()..])
}

/// The scenarios that passed in a run's report (`--baselines-from`), said.
fn passed_in(report: Option<&Path>) -> Result<Vec<String>, ExitCode> {
    let Some(path) = report else { return Ok(Vec::new()) };
    let report = harness::report::merge::read(path).map_err(|err| fail(err.exit_code(), harness::sdk::error_chain(&err)))?;
    let passed: Vec<String> = report.scenarios.into_iter().filter(|s| s.passed).map(|s| s.name).collect();
    eprintln!("mutants: unmutated scenarios that passed in {}: {}", path.display(), passed.join(", "));
    Ok(passed)
}

/// Each mutant's fate, and the score: 100% or exit 1.
fn score(list: &[harness::mutants::Mutant], reports: &[harness::report::ScenarioReport]) -> ExitCode {
    use harness::mutants::{self, Fate};
    let mut killed = 0;
    for (mutant, report) in list.iter().zip(reports) {
        let fate = mutants::fate(mutant, report);
        let line = match &fate {
            Fate::Killed(how) => {
                killed += 1;
                format!("KILLED    {:<34} {how}", mutant.name)
            }
            Fate::Survived => format!("SURVIVED  {:<34} every check of {} passed: it misses this mistake ({})", mutant.name, mutant.scenario, mutant.why),
            Fate::KilledElsewhere(places) => format!("ELSEWHERE {:<34} caught, but not at {:?}: {places}", mutant.name, mutant.killed_at),
        };
        println!("{line}");
    }
    let score = 100.0 * killed as f64 / list.len().max(1) as f64;
    println!("mutation score: {killed}/{} killed ({score:.0}%)", list.len());
    if killed == list.len() { ExitCode::SUCCESS } else { ExitCode::from(exit_code::STEPS_FAILED as u8) }
}

/// `harness sweep`: list (and with --delete, delete) what runs left behind.
async fn sweep(args: SweepArgs) -> ExitCode {
    let target = match connect(&args.target, &CancellationToken::new()).await {
        Ok(target) => target,
        Err(code) => return code,
    };
    eprintln!("{}", progress::target_line(&target.description));
    let spared = honour_lease(&kept_dir(args.kept_dir.clone()), args.delete);
    // The admin's own account, then each `--sandbox-account NAME=ID` through its access role.
    let mut accounts = vec![(format!("account {}", target.admin.account_id), target.admin_config().await)];
    let named = SandboxAccounts::parse(&args.target.sandbox_account).map(|s| s.named).unwrap_or_default();
    let reached = match Accounts::new(named) {
        Ok(named) => target.reach_accounts(&named).await.map_err(|err| fail(err.exit_code(), harness::sdk::error_chain(&err))),
        Err(err) => Err(fail(exit_code::USAGE, err)),
    };
    match reached {
        // An account reached without a role is the admin's own, swept already.
        Ok(reached) => accounts.extend(reached.into_iter().filter(|r| r.role_arn.is_some()).map(|r| (format!("account {} ({})", r.account.id, r.account.name), r.config))),
        Err(code) => {
            target.stop().await;
            return code;
        }
    }
    let mut code = ExitCode::SUCCESS;
    for (label, admin) in &accounts {
        if accounts.len() > 1 {
            println!("{label}:");
        }
        let swept = sweep_account(admin, &args, spared.as_deref()).await;
        if swept != ExitCode::SUCCESS {
            code = swept;
        }
    }
    target.stop().await;
    code
}

/// What harness runs left in one account: listed, and deleted with --delete.
async fn sweep_account(admin: &aws_config::SdkConfig, args: &SweepArgs, spared: Option<&str>) -> ExitCode {
    let found = harness::sweep::find(admin, args.older_than).await.map(|found| {
        let (kept, found): (Vec<_>, Vec<_>) = found.into_iter().partition(|l| spared.is_some_and(|run| l.of_run(run)));
        for leftover in kept {
            println!("{:?} {}: left alone (kept under a live lease)", leftover.kind, leftover.name);
        }
        found
    });
    match found {
        Err(err) => fail(exit_code::TARGET, err),
        Ok(found) if found.is_empty() => {
            println!("nothing of the harness's older than {} found", humantime::format_duration(args.older_than));
            ExitCode::SUCCESS
        }
        Ok(found) => {
            let mut failures = 0;
            for leftover in &found {
                let action = if args.delete {
                    match harness::sweep::delete(admin, leftover).await {
                        Ok(()) => "deleted".to_string(),
                        Err(code) => {
                            failures += 1;
                            format!("NOT deleted ({code})")
                        }
                    }
                } else {
                    "would delete (dry run; pass --delete)".to_string()
                };
                println!("{:?} {} ({}s old): {action}", leftover.kind, leftover.name, leftover.age_s);
            }
            if failures > 0 { fail(exit_code::CLEANUP_FAILED, format!("{failures} resources could not be deleted")) } else { ExitCode::SUCCESS }
        }
    }
}

/// The sweep and a kept target: a live lease's run is spared (its id); an
/// expired lease is released (with --delete; else said).
fn honour_lease(dir: &Path, delete: bool) -> Option<String> {
    let lease = Lease::read(dir).ok().flatten()?;
    if !lease.expired() {
        eprintln!("a target is kept under a lease until {} ({}): what it keeps is left alone", kept::when(lease.expires_at), lease.owner);
        return Some(lease.run_id);
    }
    match delete {
        true => match kept::release(dir, Some(&lease)) {
            Ok(()) => eprintln!("released the expired lease in {} (expired {})", dir.display(), kept::when(lease.expires_at)),
            Err(err) => eprintln!("error: {}", harness::sdk::error_chain(&err)),
        },
        false => eprintln!("the lease in {} expired at {}: --delete releases it", dir.display(), kept::when(lease.expires_at)),
    }
    None
}

/// The blog, told for a person watching: the story on stdout, a spinner on
/// stderr while terraform works.
async fn demo(args: DemoArgs) -> ExitCode {
    let scenarios = match load_scenarios(std::slice::from_ref(&args.scenario), &args.target, None) {
        Ok(s) => s,
        Err(err) => return fail(err.exit_code(), err),
    };
    // The story ends with the destroy, as the blog's does.
    let mut args = args;
    args.target.always_destroy = true;
    let options = RunOptions { jobs: 1, always_destroy: true, ..RunOptions::default() };
    let console: Vec<Box<dyn Reporter>> = vec![Box::new(Story::new(std::io::stdout())), Box::new(Table::summary_only(std::io::stdout()))];
    match reporters(console, &args.files) {
        Ok(reporters) => execute(&scenarios, &args.target, options, reporters).await,
        Err(code) => code,
    }
}


/// First Ctrl-C: stop and clean up (destroy still runs). Second: stop
/// waiting, and say how to finish the cleanup by hand.
fn watch_ctrl_c(cancel: CancellationToken, target_outlives_run: bool, destroys: bool) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        // Say what will really happen: on the embedded emulator nothing is destroyed, it ends.
        let cleanup = if destroys { "destroying what was applied" } else { "the emulator's end is the cleanup" };
        eprintln!("\ninterrupted: stopping; {cleanup} (Ctrl-C again to stop waiting)");
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!("stopped waiting; cleanup may be incomplete.");
        // A container target is removed even now: nothing it holds may outlive the run.
        let _ = tokio::time::timeout(Duration::from_secs(15), target::container::remove_active()).await;
        if target_outlives_run {
            eprintln!("terraform may still be stopping; once it has, finish the cleanup with the target's credentials:");
            for hint in terraform::active_destroy_hints() {
                eprintln!("  {hint}");
            }
        } else {
            eprintln!("the embedded emulator stops with the harness: nothing it held outlives this run.");
        }
        // Leave now: no destructor runs, so the working copies stay on disk.
        std::process::exit(exit_code::INTERRUPTED);
    });
}
