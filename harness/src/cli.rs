//! The command line: every subcommand and flag, as clap reads them. What
//! each subcommand does is in [`crate::command`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::partition::Partition;

#[derive(Parser)]
#[command(name = "harness", version, about = "Verify AWS IAM assume-role setups end to end: apply Terraform, run each scenario's steps, report, destroy")]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Apply each scenario's config, run its steps, report, destroy.
    Run(RunArgs),
    /// Who can reach what once each scenario's configs are applied: every path
    /// (principal -> roles -> bucket), compared with the snapshot beside the
    /// scenario (NAME.access); --accept writes it. Takes every flag `run` takes.
    Access(AccessArgs),
    /// `make bench`: time the access analysis of a synthetic account built in memory.
    #[command(hide = true)]
    BenchAccess(BenchAccessArgs),
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
pub struct WatchArgs {
    /// Scenario name (a file in the scenarios folder) or path; repeatable. Default: all.
    #[arg(long = "scenario", short = 's')]
    pub scenarios: Vec<String>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// How often the files are looked at.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "300ms")]
    pub poll: Duration,
    /// Scenarios applied at once.
    #[arg(long, short = 'j', default_value_t = 3)]
    pub jobs: usize,
}

/// `run --keep` / `run --reuse`: the embedded emulator and each scenario's state kept under a lease.
#[derive(clap::Args)]
pub struct KeepArgs {
    /// Keep the embedded emulator and each scenario's state for `run --reuse`, under
    /// a lease (--lease); `harness release` ends it sooner.
    #[arg(long, conflicts_with = "reuse")]
    pub keep: bool,
    /// Rerun on what `--keep` left: an unchanged config is not applied at all, a
    /// changed one in place; renews the lease.
    #[arg(long)]
    pub reuse: bool,
    /// How long a kept emulator lives unless renewed (it then ends itself).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2h")]
    pub lease: Duration,
    /// Where the lease lives (default: target/harness-kept).
    #[arg(long, env = "HARNESS_KEPT_DIR")]
    pub kept_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct ReleaseArgs {
    /// Where the lease lives (default: target/harness-kept).
    #[arg(long, env = "HARNESS_KEPT_DIR")]
    pub kept_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The shards' JSON reports (each written by `run --report-json`).
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Where the merged report goes.
    #[command(flatten)]
    pub files: ReportFiles,
}

/// The report files a run (or a merge) writes, besides the console.
#[derive(clap::Args, Default)]
pub struct ReportFiles {
    /// Write the JSON report here.
    #[arg(long = "report-json", value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Also write a JUnit XML report (a test case per step) here.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Also write who reached what as a Graphviz DOT graph here (edges coloured by verdict).
    #[arg(long = "report-dot", value_name = "PATH")]
    pub dot: Option<PathBuf>,
    /// Also write one self-contained HTML page here: who reached what (SVG), why
    /// each denial, where the time went, every step.
    #[arg(long = "report-html", value_name = "PATH")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
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
pub struct ListArgs {
    /// Folder of scenario files.
    #[arg(long, env = "HARNESS_SCENARIOS_DIR")]
    pub scenarios_dir: Option<PathBuf>,
}

/// Where to run and with which tools (shared by `run` and `demo`).
#[derive(clap::Args, Clone)]
pub struct TargetArgs {
    /// Where to run (default: auto, or endpoint when --endpoint is given).
    #[arg(long, value_enum)]
    pub target: Option<TargetKind>,
    /// Image of the moto container target (any image with python3 and moto[server]).
    #[arg(long, env = "HARNESS_MOTO_IMAGE")]
    pub moto_image: Option<String>,
    /// Image of the LocalStack container target (default: the pinned licensed
    /// image with a token, else the last Community tag).
    #[arg(long, env = "HARNESS_LOCALSTACK_IMAGE")]
    pub localstack_image: Option<String>,
    /// How container targets are reached: host (shares the host's network, listens on a
    /// free 127.0.0.1 port) or bridge (a mapped port). Default: host when the engine has no bridge.
    #[arg(long, env = "HARNESS_CONTAINER_NETWORK")]
    pub container_network: Option<crate::target_facts::Network>,
    /// Base URL of an AWS-compatible endpoint to run against (LocalStack, moto, ...);
    /// admin credentials come from the standard chain (AWS_ACCESS_KEY_ID..., AWS_PROFILE).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint: Option<String>,
    /// Region (default: us-east-1 on emulators; the standard chain's on aws).
    #[arg(long)]
    pub region: Option<String>,
    /// The account the aws target runs in: ID, the credentials' own (required
    /// with --target aws); NAME=ID (repeatable) maps an account a scenario
    /// names in [accounts] to a real sandbox account.
    #[arg(long, env = "HARNESS_SANDBOX_ACCOUNT_ID", value_delimiter = ',', value_name = "ID | NAME=ID")]
    pub sandbox_account: Vec<String>,
    /// On --target aws, let SCENARIO's configs create or attach an
    /// Organization's policies (aws_organizations_*): they change the real
    /// Organization's guardrails, so each scenario is named (repeatable).
    #[arg(long, value_name = "SCENARIO")]
    pub allow_organization_changes: Vec<String>,
    /// The role the harness assumes in each account a scenario names, other
    /// than its credentials' own.
    #[arg(long, env = "HARNESS_ACCOUNT_ROLE", default_value = crate::accounts::ACCESS_ROLE, value_name = "NAME")]
    pub account_role: String,
    /// terraform (or tofu) binary.
    #[arg(long, env = "HARNESS_TERRAFORM")]
    pub terraform: Option<PathBuf>,
    /// Python with moto[server] installed (default: .venv/bin/python, else python3).
    #[arg(long, env = "HARNESS_MOTO_PYTHON")]
    pub moto_python: Option<PathBuf>,
    /// Port for the emulator (or its container) on 127.0.0.1 (default: a free one).
    #[arg(long)]
    pub port: Option<u16>,
    /// Folder of scenario files.
    #[arg(long, env = "HARNESS_SCENARIOS_DIR")]
    pub scenarios_dir: Option<PathBuf>,
    /// Folder holding the configs scenarios name (default: terraform_configuration).
    #[arg(long, env = "HARNESS_CONFIGS_DIR")]
    pub configs_dir: Option<PathBuf>,
    /// Destroy what was applied even on the embedded emulator (which otherwise
    /// just stops: its end is the cleanup).
    #[arg(long)]
    pub always_destroy: bool,
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// Scenario name (a file in the scenarios folder) or path; repeatable. Default: all.
    #[arg(long = "scenario", short = 's')]
    pub scenarios: Vec<String>,
    /// Use this Terraform config folder instead of the one the scenario names.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub files: ReportFiles,
    #[command(flatten)]
    pub kept: KeepArgs,
    /// Scenarios applied at once.
    #[arg(long, short = 'j', default_value_t = 3)]
    pub jobs: usize,
    /// Run one shard of the scenarios, for a CI matrix: K/N (count:K/N: every Nth by
    /// name) or hash:K/N (by a stable hash of the name); `merge-reports` joins the shards.
    #[arg(long)]
    pub partition: Option<Partition>,
    /// Fail the run for UNVERIFIED steps (denials a target that does not enforce IAM cannot prove).
    #[arg(long, env = "HARNESS_STRICT")]
    pub strict: bool,
    /// IAM propagation: retry a step expected to be allowed for this long while denied
    /// (default: 0 on emulators, 90s on aws).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub allow_deadline: Option<Duration>,
    /// IAM propagation: probe a step expected to be denied this many times (default: 1 on emulators, 3 on aws)...
    #[arg(long)]
    pub deny_probes: Option<u32>,
    /// ...this far apart (default: 10s on aws).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub deny_interval: Option<Duration>,
    /// aws: do not attach AmazonSSMManagedInstanceCore to the instance's role while its
    /// steps run (the account lets SSM agents register otherwise, e.g. Default Host Management).
    #[arg(long, env = "HARNESS_NO_SSM_OVERLAY")]
    pub no_ssm_overlay: bool,
    /// aws: how long the instance's SSM agent may take to answer after apply.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub ssm_timeout: Duration,
    /// Skip the IAM Policy Simulator's third opinion on --target aws (it needs iam:SimulatePrincipalPolicy).
    #[arg(long, env = "HARNESS_NO_SIMULATOR")]
    pub no_simulator: bool,
    /// Ask the Policy Simulator at this endpoint, on any target (a stand-in that replays recorded answers, offline).
    #[arg(long, env = "HARNESS_SIMULATOR_ENDPOINT")]
    pub simulator_endpoint: Option<String>,
}

#[derive(clap::Args)]
pub struct AccessArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Write what each config opens as its scenario's snapshot (review the diff, then commit it).
    #[arg(long)]
    pub accept: bool,
}

#[derive(clap::Args)]
pub struct BenchAccessArgs {
    /// Roles of the synthetic account; repeatable (each count is timed).
    #[arg(long = "roles", required = true)]
    pub roles: Vec<usize>,
    #[arg(long, default_value_t = 500)]
    pub buckets: usize,
}

#[derive(clap::Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Only what is older than this (e.g. 2h, 30m, 0s).
    #[arg(long, default_value = "2h", value_parser = humantime::parse_duration)]
    pub older_than: Duration,
    /// Delete what was found (without it, only list).
    #[arg(long)]
    pub delete: bool,
    /// A kept target's lease (default: target/harness-kept): what it keeps is
    /// left alone while it lasts; once expired, it is released.
    #[arg(long, env = "HARNESS_KEPT_DIR")]
    pub kept_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct MutantsArgs {
    /// The catalogue of mutants (TOML).
    #[arg(long, default_value = "harness/mutants/blog.toml")]
    pub catalogue: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Mutants applied at once (they share one emulator).
    #[arg(long, short = 'j', default_value_t = 4)]
    pub jobs: usize,
    /// Write the JSON report of every mutant's run here.
    #[arg(long)]
    pub report_json: Option<PathBuf>,
    /// A run's JSON report (the e2e suite's, `target/e2e-report.json`) in which the
    /// unmutated scenarios passed: those are not run again (the others are).
    #[arg(long)]
    pub baselines_from: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct DemoArgs {
    /// The chain scenario to tell.
    #[arg(long, default_value = "blog_demo")]
    pub scenario: String,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub files: ReportFiles,
}

impl TargetKind {
    /// As written on the command line.
    pub fn name(self) -> String {
        self.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
    }
}


impl TargetArgs {
    /// The target kind asked for: --target, else endpoint when --endpoint is given, else auto.
    pub fn kind(&self) -> TargetKind {
        self.target.unwrap_or(if self.endpoint.is_some() { TargetKind::Endpoint } else { TargetKind::Auto })
    }
}
