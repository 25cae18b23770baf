//! Why a subcommand stopped before its end, and the one place that maps
//! each reason to the harness's exit code.

use std::path::PathBuf;

use crate::access::AccessError;
use crate::accounts::AccountsError;
use crate::exit_code;
use crate::kept::LeaseError;
use crate::mutants::MutantError;
use crate::report::merge::MergeError;
use crate::reporter::WriteError;
use crate::scenario::ScenarioError;
use crate::target::TargetError;
use crate::terraform::TerraformError;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Flags that do not fit together, or a selection that selects nothing.
    #[error("{0}")]
    Usage(String),
    /// terraform (or tofu) is not there.
    #[error(transparent)]
    Terraform(TerraformError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A scenario's accounts, or the sandbox accounts that play them.
    #[error("{}{source}", scenario.as_ref().map(|s| format!("[{s}] ")).unwrap_or_default())]
    Accounts {
        scenario: Option<String>,
        #[source]
        source: AccountsError,
    },
    /// `--sandbox-account NAME=ID` names an account no scenario of the run has.
    #[error("--sandbox-account {name}=...: no scenario of this run acts in an account `{name}` ({known}); drop it or fix the name")]
    SandboxAccountUnused { name: String, known: String },
    /// A config the admin applies has a provider alias that names none of its scenario's accounts.
    #[error("[{scenario}] {config} has provider \"aws\" alias \"{alias}\", which names no account of the scenario (its [accounts]: {accounts}); add `{alias} = \"<id>\"` to [accounts] or rename the alias")]
    AliasWithoutAccount { scenario: String, config: String, alias: String, accounts: String },
    /// On a real account, a config would change the Organization's policies and no flag names its scenario.
    #[error("[{scenario}] {config} manages {resource}, which changes the real Organization's guardrails; run it on an emulator, or pass --allow-organization-changes {scenario} to let it")]
    OrganizationChange { scenario: String, config: String, resource: String },
    /// On a real account, a config would change the account's own Block Public Access.
    #[error("[{scenario}] {config} manages aws_s3_account_public_access_block, which changes the whole account's S3 Block Public Access; the harness never changes it on a real account: run the scenario on an emulator, or set the bucket's own aws_s3_bucket_public_access_block instead")]
    AccountSettingChange { scenario: String, config: String },
    #[error(transparent)]
    Lease(#[from] LeaseError),
    /// `run --keep` ended with no emulator left to keep.
    #[error("the emulator to keep is gone; nothing is kept")]
    KeptTargetGone,
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Mutants(#[from] MutantError),
    /// An unmutated scenario fails, so no mutant's death proves anything.
    #[error("the unmutated scenario {0} fails, so no mutant proves anything; fix it first (harness run -s {0})")]
    BaselineFails(String),
    /// The sweep could not list what runs left.
    #[error("{0}")]
    Sweep(String),
    /// Some of what the sweep (or the watch's end) found could not be deleted.
    #[error("{0}")]
    NotDeleted(String),
    #[error("cannot create the report file {}: {source}; pick a writable path", path.display())]
    ReportFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create {}: {source}; pick another --kept-dir", path.display())]
    KeptDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Report(#[from] WriteError),
    /// The access analysis could not read a state or a snapshot.
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
}

impl From<TerraformError> for CommandError {
    fn from(err: TerraformError) -> Self {
        CommandError::Terraform(err)
    }
}

impl From<AccountsError> for CommandError {
    fn from(source: AccountsError) -> Self {
        CommandError::Accounts { scenario: None, source }
    }
}

impl CommandError {
    /// The one mapping from why a command stopped to its exit code; each
    /// layer's own error says which of its kinds is which.
    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::Usage(_) => exit_code::USAGE,
            CommandError::Terraform(TerraformError::ConfigMissing(_)) => exit_code::CONFIG_MISSING,
            CommandError::Terraform(_) => exit_code::MISSING_TOOL,
            CommandError::Target(err) => err.exit_code(),
            CommandError::Scenario(err) => err.exit_code(),
            CommandError::Accounts { source, .. } => source.exit_code(),
            CommandError::SandboxAccountUnused { .. } => exit_code::ACCOUNT_UNMAPPED,
            CommandError::AliasWithoutAccount { .. } => exit_code::ALIAS_WITHOUT_ACCOUNT,
            CommandError::OrganizationChange { .. } => exit_code::ORGANIZATION_CHANGE,
            CommandError::AccountSettingChange { .. } => exit_code::ACCOUNT_SETTING_CHANGE,
            CommandError::Lease(err) => err.exit_code(),
            CommandError::KeptTargetGone | CommandError::Sweep(_) => exit_code::TARGET,
            CommandError::Merge(err) => err.exit_code(),
            CommandError::Mutants(_) => exit_code::SCENARIO_INVALID,
            CommandError::BaselineFails(_) => exit_code::STEPS_FAILED,
            CommandError::NotDeleted(_) => exit_code::CLEANUP_FAILED,
            CommandError::ReportFile { .. } | CommandError::KeptDir { .. } | CommandError::Report(_) | CommandError::Runtime(_) | CommandError::Access(_) => exit_code::IO,
        }
    }
}

/// A command's exit code: the one its own result decided when it ran to its
/// end (a run's report, the mutation score), else its error's.
pub fn exit_code(result: &Result<i32, CommandError>) -> i32 {
    match result {
        Ok(code) => *code,
        Err(err) => err.exit_code(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::terraform::Terraform;

    fn io() -> std::io::Error {
        std::io::Error::other("disk full")
    }

    #[test]
    fn every_variant_maps_to_its_code() {
        let accounts = || AccountsError::NotAnId { name: "dev".into(), id: "1".into() };
        let cases: Vec<(CommandError, i32)> = vec![
            (CommandError::Usage("u".into()), exit_code::USAGE),
            (CommandError::Terraform(TerraformError::NotInstalled), exit_code::MISSING_TOOL),
            (CommandError::Terraform(TerraformError::ConfigMissing("c".into())), exit_code::CONFIG_MISSING),
            (CommandError::Target(TargetError::PortInUse(4566)), exit_code::PORT_IN_USE),
            (CommandError::Target(TargetError::NoDocker { engine: "e".into(), cause: "c".into() }), exit_code::NO_DOCKER),
            (CommandError::Target(TargetError::BadCredentials("c".into())), exit_code::CREDENTIALS),
            (CommandError::Target(TargetError::Unreachable { url: "u".into(), cause: "c".into() }), exit_code::TARGET),
            (CommandError::Target(TargetError::Interrupted), exit_code::INTERRUPTED),
            (CommandError::Scenario(ScenarioError::EmulatorOnly { name: "s".into() }), exit_code::USAGE),
            (CommandError::Accounts { scenario: None, source: accounts() }, exit_code::ACCOUNTS_INVALID),
            (CommandError::Accounts { scenario: Some("s".into()), source: AccountsError::Unmapped { name: "prod".into() } }, exit_code::ACCOUNT_UNMAPPED),
            (CommandError::SandboxAccountUnused { name: "n".into(), known: "k".into() }, exit_code::ACCOUNT_UNMAPPED),
            (CommandError::AliasWithoutAccount { scenario: "s".into(), config: "c".into(), alias: "a".into(), accounts: "d".into() }, exit_code::ALIAS_WITHOUT_ACCOUNT),
            (CommandError::OrganizationChange { scenario: "s".into(), config: "c".into(), resource: "r".into() }, exit_code::ORGANIZATION_CHANGE),
            (CommandError::AccountSettingChange { scenario: "s".into(), config: "c".into() }, exit_code::ACCOUNT_SETTING_CHANGE),
            (CommandError::Lease(LeaseError::NoLease("d".into())), LeaseError::NoLease("d".into()).exit_code()),
            (CommandError::KeptTargetGone, exit_code::TARGET),
            (CommandError::Merge(MergeError::Overlap { name: "s".into() }), MergeError::Overlap { name: "s".into() }.exit_code()),
            (CommandError::Mutants(MutantError::Catalogue { path: "c".into(), message: "m".into() }), exit_code::SCENARIO_INVALID),
            (CommandError::Access(AccessError::Snapshot { path: "s.access".into(), source: std::io::Error::other("denied") }), exit_code::IO),
            (CommandError::BaselineFails("s".into()), exit_code::STEPS_FAILED),
            (CommandError::Sweep("s".into()), exit_code::TARGET),
            (CommandError::NotDeleted("n".into()), exit_code::CLEANUP_FAILED),
            (CommandError::ReportFile { path: "p".into(), source: io() }, exit_code::IO),
            (CommandError::KeptDir { path: "p".into(), source: io() }, exit_code::IO),
            (CommandError::Report(WriteError { what: "w".into(), source: io() }), exit_code::IO),
            (CommandError::Runtime(io()), exit_code::IO),
        ];
        for (err, code) in cases {
            assert_eq!(err.exit_code(), code, "{err:?}");
            assert_eq!(exit_code(&Err(err)), code);
        }
        // A command that ran to its end exits with the code its own result decided.
        assert_eq!(exit_code(&Ok(exit_code::APPLY_FAILED)), exit_code::APPLY_FAILED);
    }

    #[test]
    fn a_terraform_that_is_not_there_is_a_missing_tool() {
        let err: CommandError = Terraform::locate(Some(Path::new("/nonexistent/terraform"))).unwrap_err().into();
        assert_eq!(err.exit_code(), exit_code::MISSING_TOOL);
        assert!(err.to_string().contains("/nonexistent/terraform"), "{err}");
    }

    // Each code no other module's tests reach, reached through the library
    // function that decides it (the mapping above covers every variant).
    #[tokio::test]
    async fn the_codes_a_run_stops_with_are_reached_by_the_functions_that_decide_them() {
        // Nothing answers on this loopback port: the target is unreachable.
        let unreachable: CommandError = crate::target::endpoint::detect("http://127.0.0.1:1").await.unwrap_err().into();
        assert_eq!(unreachable.exit_code(), exit_code::TARGET, "{unreachable}");
        // A report file where no file can be made.
        let files = crate::cli::ReportFiles { json: Some("/dev/null/report.json".into()), ..Default::default() };
        let unwritable = crate::command::reporters(Vec::new(), &files).err().unwrap();
        assert_eq!(unwritable.exit_code(), exit_code::IO, "{unwritable}");
        assert!(unwritable.to_string().contains("pick a writable path"), "{unwritable}");
        // A report folder that does not exist yet is made.
        let dir = tempfile::tempdir().unwrap();
        let nested = crate::cli::ReportFiles { json: Some(dir.path().join("new/folder/report.json")), ..Default::default() };
        assert!(crate::command::reporters(Vec::new(), &nested).is_ok());
        assert!(dir.path().join("new/folder/report.json").exists());
        let invalid: CommandError = crate::scenario::Scenario::parse(Path::new("s.toml"), "config = ", Path::new("."), None).unwrap_err().into();
        assert_eq!(invalid.exit_code(), exit_code::SCENARIO_INVALID, "{invalid}");
    }
}
