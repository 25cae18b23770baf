//! The `harness` command: arguments, reporters, Ctrl-C, exit codes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use harness::exit_code;
use harness::report::{self, Event, RunReport};
use harness::runner::{self, RunOptions, Runner};
use harness::scenario::{self, Scenario};
use harness::target::{Target, moto::MotoOptions};
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
    /// List the scenarios of the scenarios folder.
    List(ListArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TargetKind {
    /// moto started by the harness on 127.0.0.1, enforcing IAM (identity and trust policies).
    Moto,
    /// An AWS-compatible endpoint you run (--endpoint); the harness destroys what it applied there.
    Endpoint,
}

#[derive(clap::Args)]
struct ListArgs {
    /// Folder of scenario files.
    #[arg(long, env = "HARNESS_SCENARIOS_DIR")]
    scenarios_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Scenario name (a file in the scenarios folder) or path; repeatable. Default: all.
    #[arg(long = "scenario", short = 's')]
    scenarios: Vec<String>,
    /// Folder of scenario files.
    #[arg(long, env = "HARNESS_SCENARIOS_DIR")]
    scenarios_dir: Option<PathBuf>,
    /// Folder holding the configs scenarios name (default: terraform_configuration).
    #[arg(long, env = "HARNESS_CONFIGS_DIR")]
    configs_dir: Option<PathBuf>,
    /// Use this Terraform config folder instead of the one the scenario names.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where to run (default: moto, or endpoint when --endpoint is given).
    #[arg(long, value_enum)]
    target: Option<TargetKind>,
    /// Base URL of an AWS-compatible endpoint to run against (LocalStack, moto, ...);
    /// admin credentials come from the standard chain (AWS_ACCESS_KEY_ID..., AWS_PROFILE).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint: Option<String>,
    /// Region of the endpoint target.
    #[arg(long, default_value = harness::target::DEFAULT_REGION)]
    region: String,
    /// Write the JSON report here.
    #[arg(long)]
    report_json: Option<PathBuf>,
    /// Scenarios applied at once.
    #[arg(long, short = 'j', default_value_t = 3)]
    jobs: usize,
    /// terraform (or tofu) binary.
    #[arg(long, env = "HARNESS_TERRAFORM")]
    terraform: Option<PathBuf>,
    /// Python with moto[server] installed (default: .venv/bin/python, else python3).
    #[arg(long, env = "HARNESS_MOTO_PYTHON")]
    moto_python: Option<PathBuf>,
    /// Port for the emulator on 127.0.0.1 (default: a free one).
    #[arg(long)]
    port: Option<u16>,
    /// Do not fail the run for UNVERIFIED steps (a target that cannot prove denials).
    #[arg(long, env = "HARNESS_ALLOW_UNVERIFIED")]
    allow_unverified: bool,
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
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| filter.into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => return fail(exit_code::ENVIRONMENT, format!("cannot start the async runtime: {err}")),
    };
    match cli.command {
        Command::List(args) => list(args),
        Command::Run(args) => runtime.block_on(run(args)),
    }
}

fn list(args: ListArgs) -> ExitCode {
    let dir = project_dir(args.scenarios_dir, "scenarios");
    let configs = project_dir(None, "terraform_configuration");
    let files = match scenario::discover(&dir) {
        Ok(files) => files,
        Err(err) => return fail(exit_code::USAGE, err),
    };
    for file in files {
        match Scenario::load(&file, &configs, None) {
            Ok(s) => println!("{:<26} {:<28} {}", s.name, s.config.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(), s.description.unwrap_or_default()),
            Err(err) => return fail(exit_code::USAGE, err),
        }
    }
    ExitCode::SUCCESS
}

/// Load and check every scenario before anything starts.
fn load_scenarios(args: &RunArgs) -> Result<Vec<Scenario>, String> {
    let dir = project_dir(args.scenarios_dir.clone(), "scenarios");
    let configs = project_dir(args.configs_dir.clone(), "terraform_configuration");
    let files = if args.scenarios.is_empty() {
        scenario::discover(&dir).map_err(|e| e.to_string())?
    } else {
        args.scenarios.iter().map(|s| scenario::find(&dir, s)).collect::<Result<_, _>>().map_err(|e| e.to_string())?
    };
    let mut loaded = Vec::new();
    for file in files {
        let scenario = Scenario::load(&file, &configs, args.config.as_deref()).map_err(|e| e.to_string())?;
        let declared = terraform::declared_outputs(&scenario.config).map_err(|e| format!("scenario {}: {e}", scenario.name))?;
        scenario.check_outputs(&declared).map_err(|e| e.to_string())?;
        loaded.push(scenario);
    }
    Ok(loaded)
}

async fn run(args: RunArgs) -> ExitCode {
    let scenarios = match load_scenarios(&args) {
        Ok(s) => s,
        Err(message) => return fail(exit_code::USAGE, message),
    };
    let mut terraform = match Terraform::locate(args.terraform.as_deref()) {
        Ok(tf) => tf,
        Err(err) => return fail(exit_code::ENVIRONMENT, err),
    };
    terraform.arrange_offline_providers();
    let cancel = CancellationToken::new();

    let kind = args.target.unwrap_or(if args.endpoint.is_some() { TargetKind::Endpoint } else { TargetKind::Moto });
    let target = match (kind, &args.endpoint) {
        (TargetKind::Moto, _) => {
            let options = MotoOptions { python: args.moto_python.clone(), port: args.port, ..MotoOptions::default() };
            Target::start_moto(&options, "embedded moto: enforces identity and trust policies").await
        }
        (TargetKind::Endpoint, Some(url)) => Target::connect_endpoint(url, &args.region).await,
        (TargetKind::Endpoint, None) => return fail(exit_code::USAGE, "--target endpoint needs --endpoint URL (or AWS_ENDPOINT_URL)"),
    };
    let target = match target {
        Ok(t) => Arc::new(t),
        Err(err) => return fail(if err.is_environment() { exit_code::ENVIRONMENT } else { exit_code::TARGET }, err),
    };
    watch_ctrl_c(cancel.clone(), target.outlives_run());

    let runner = Runner {
        target: target.clone(),
        terraform,
        options: RunOptions { jobs: args.jobs, allow_unverified: args.allow_unverified, imds_lifetime: None },
        cancel: cancel.clone(),
        run_id: runner::new_run_id(),
    };
    let print = |event: Event<'_>| eprintln!("{}", report::progress_line(&event));
    let result = runner.run(&scenarios, &print).await;
    drop(runner);
    if let Ok(target) = Arc::try_unwrap(target) {
        target.shutdown().await;
    }

    let mut stdout = std::io::stdout();
    if let Err(err) = report::write_table(&result, &mut stdout) {
        eprintln!("error: cannot print the report: {err}");
    }
    if let Some(path) = &args.report_json {
        if let Err(err) = report::write_json(&result, path) {
            return fail(exit_code::ENVIRONMENT, format!("cannot write the JSON report to {}: {err}", path.display()));
        }
    }
    ExitCode::from(run_exit_code(&result, cancel.is_cancelled()) as u8)
}

fn run_exit_code(result: &RunReport, interrupted: bool) -> i32 {
    use harness::report::Cleanup;
    if result.scenarios.iter().any(|s| matches!(s.cleanup, Cleanup::Kept { .. })) {
        exit_code::CLEANUP_FAILED
    } else if interrupted {
        exit_code::INTERRUPTED
    } else if result.passed {
        exit_code::SUCCESS
    } else if result.scenarios.iter().any(|s| s.error.as_ref().is_some_and(|e| e.phase == "init" || e.phase == "apply")) {
        exit_code::APPLY_FAILED
    } else if result.scenarios.iter().any(|s| s.error.as_ref().is_some_and(|e| e.phase == "config")) {
        exit_code::USAGE
    } else {
        exit_code::STEPS_FAILED
    }
}

/// First Ctrl-C: stop and clean up (destroy still runs). Second: stop
/// waiting, and say how to finish the cleanup by hand.
fn watch_ctrl_c(cancel: CancellationToken, target_outlives_run: bool) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!("\ninterrupted: stopping and destroying what was applied (Ctrl-C again to stop waiting)");
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!("stopped waiting; cleanup may be incomplete.");
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
