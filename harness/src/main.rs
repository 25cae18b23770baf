//! The `harness` command: parse the arguments, set up logging and the async
//! runtime, hand the subcommand to its library function ([`harness::command`]),
//! print its error once, and exit with the code it decided.

use std::process::ExitCode;

use clap::Parser;

use harness::cli::{Cli, Command};
use harness::command::{self, CommandError};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match cli.verbose {
        0 => "warn",
        1 => "harness=info,warn",
        _ => "harness=debug,info",
    };
    tracing_subscriber::fmt().with_env_filter(log_filter(filter)).with_writer(std::io::stderr).init();
    // A harness killed outright left its folders: whatever starts next removes them.
    harness::scratch::remove_orphans();
    let result = dispatch(cli.command);
    if let Err(err) = &result {
        eprintln!("error: {}", harness::sdk::error_chain(err));
    }
    ExitCode::from(command::exit_code(&result) as u8)
}

fn dispatch(subcommand: Command) -> Result<i32, CommandError> {
    match subcommand {
        Command::List(args) => command::list::list(args),
        Command::MergeReports(args) => command::merge::merge_reports(args),
        Command::Release(args) => command::sweep::release(args),
        Command::Run(args) => block_on(command::run::run(args)),
        Command::Access(args) => block_on(command::run::access(args)),
        Command::BenchAccess(args) => command::list::bench_access(args),
        Command::Demo(args) => block_on(command::demo::demo(args)),
        Command::Sweep(args) => block_on(command::sweep::sweep(args)),
        Command::Mutants(args) => block_on(command::mutants::mutants(args)),
        Command::Watch(args) => block_on(command::watch::watch(args)),
    }
}

/// An async command on a runtime of its own; a hard stop (a second Ctrl-C)
/// under way when it returns ends the process itself.
fn block_on(command: impl Future<Output = Result<i32, CommandError>>) -> Result<i32, CommandError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(CommandError::Runtime)?;
    runtime.block_on(async {
        let result = command.await;
        harness::interrupt::settle().await;
        result
    })
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
