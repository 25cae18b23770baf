//! Why a target could not be started, reached or used, and each reason's
//! exit code; whether a launcher's output says its port was taken.

use std::path::PathBuf;
use std::time::Duration;

use crate::accounts::AccountsError;
use crate::exit_code;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{} has {}, the launcher needs moto[server]=={pinned}; run `make setup` (creates .venv with it) or pass --moto-python", python.display(), found.as_ref().map(|v| format!("moto {v}")).unwrap_or_else(|| "no importable moto[server]".into()))]
    MotoMissing { python: PathBuf, found: Option<String>, pinned: String },
    #[error("port {0} on 127.0.0.1 is already in use; free it or pass another --port (or none, to pick a free one)")]
    PortInUse(u16),
    #[error("cannot start the emulator")]
    Spawn(#[source] crate::process::ProcessError),
    #[error("{what} exited ({status}); its last line: {last_line}")]
    Exited { what: String, status: String, last_line: String },
    #[error("cannot start the {what} container ({image})")]
    Container {
        what: &'static str,
        image: String,
        #[source]
        source: Box<testcontainers::TestcontainersError>,
    },
    #[error("the container was removed before its file could be read")]
    Removed,
    #[error("cannot read {path} from the container")]
    ContainerFile {
        path: String,
        #[source]
        source: Box<testcontainers::TestcontainersError>,
    },
    #[error("the launcher's admin file is not what the harness wrote")]
    AdminFile(#[source] serde_json::Error),
    #[error("the Docker engine did not answer a listing")]
    Docker(#[source] testcontainers::bollard::errors::Error),
    #[error("cannot build an HTTP client")]
    HttpClient(#[source] reqwest::Error),
    #[error("--target aws with --endpoint is for offline tests against the harness's moto launcher; {0} is not one")]
    NotLauncher(String),
    #[error("the launcher did not mint credentials for instance {instance_id}")]
    Launcher {
        instance_id: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the launcher did not take the scenario's Organization: {0}")]
    Organization(String),
    #[error("the emulator did not become ready within {}s", .0.as_secs())]
    StartupTimeout(Duration),
    #[error("cannot get instance-profile credentials: {0}")]
    InstanceCredentials(String),
    #[error("the harness could not create its temporary files")]
    Io(#[source] std::io::Error),
    #[error("cannot reach {url} ({cause}); start the emulator there or fix --endpoint")]
    Unreachable { url: String, cause: String },
    #[error("{url} does not answer like AWS STS ({cause}); give the base URL of an AWS-compatible endpoint")]
    NotAws { url: String, cause: String },
    #[error("the target refused the admin credentials ({0}); set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) to an admin identity of the target")]
    BadCredentials(String),
    #[error("refusing to run: the credentials ({arn}) belong to account {found}, not the sandbox account {expected}; fix --sandbox-account / HARNESS_SANDBOX_ACCOUNT_ID or your credentials")]
    WrongAccount { found: String, arn: String, expected: String },
    #[error("no AWS region configured; pass --region or set AWS_REGION")]
    NoRegion,
    #[error("no Docker engine answers at {engine} ({cause}); start Docker (or set DOCKER_HOST), or pick a target without containers: --target moto (a host process) or --endpoint URL")]
    NoDocker { engine: String, cause: String },
    #[error("the image {image} is not on this machine and cannot be pulled; {remedy} ({cause})")]
    ImageMissing { image: String, remedy: String, cause: String },
    #[error("interrupted while the target was starting; nothing was left running")]
    Interrupted,
    #[error("cannot reach account `{name}` ({id}) through {role_arn} ({cause}); the harness's identity must be able to assume a role of that name there (AWS Organizations creates it in its member accounts), or name another with --account-role")]
    AccountUnreachable { name: String, id: String, role_arn: String, cause: String },
    #[error(transparent)]
    Accounts(AccountsError),
}

/// How the runner treats IAM propagation on a target.
impl TargetError {
    /// The harness's exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            TargetError::MotoMissing { .. } | TargetError::ImageMissing { .. } => exit_code::MISSING_TOOL,
            TargetError::NoDocker { .. } => exit_code::NO_DOCKER,
            TargetError::Interrupted => exit_code::INTERRUPTED,
            TargetError::PortInUse(_) => exit_code::PORT_IN_USE,
            TargetError::Io(_) => exit_code::IO,
            TargetError::NoRegion => exit_code::USAGE,
            TargetError::BadCredentials(_) | TargetError::WrongAccount { .. } | TargetError::AccountUnreachable { .. } => exit_code::CREDENTIALS,
            TargetError::Accounts(err) => err.exit_code(),
            TargetError::NotLauncher(_) => exit_code::USAGE,
            TargetError::Spawn(_)
            | TargetError::Exited { .. }
            | TargetError::Container { .. }
            | TargetError::Removed
            | TargetError::ContainerFile { .. }
            | TargetError::AdminFile(_)
            | TargetError::Docker(_)
            | TargetError::HttpClient(_)
            | TargetError::Launcher { .. }
            | TargetError::Organization(_)
            | TargetError::StartupTimeout(_)
            | TargetError::InstanceCredentials(_)
            | TargetError::Unreachable { .. }
            | TargetError::NotAws { .. } => exit_code::TARGET,
        }
    }
}

/// Whether an emulator's output says it could not bind its port (EADDRINUSE,
/// as Python's servers print it).
pub(super) fn says_port_in_use(output: &str) -> bool {
    output.contains("Address already in use")
}
