//! Where the scenarios run: a target starts (or reaches) an AWS-compatible
//! service, gives its endpoint and an admin identity for Terraform, mints
//! the instance-profile credentials the workload gets over IMDS, and is
//! probed for what it really enforces.

pub mod capabilities;
pub mod moto;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::identity::SessionCredentials;
use crate::sdk::{self, Endpoint};
use crate::terraform::ProviderTarget;

pub use capabilities::Capabilities;

pub const DEFAULT_REGION: &str = "us-east-1";

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("moto[server] 5.2.x is not importable by {}{}; run `make setup` (creates .venv with moto[server]=={pinned}) or pass --moto-python", python.display(), found.as_ref().map(|v| format!(" (found moto {v})")).unwrap_or_default(), pinned = moto::pinned_moto())]
    MotoMissing { python: PathBuf, found: Option<String> },
    #[error("port {0} on 127.0.0.1 is already in use; free it or pass another --port (or none, to pick a free one)")]
    PortInUse(u16),
    #[error("the emulator did not start: {0}")]
    Start(String),
    #[error("the emulator did not become ready within {}s", .0.as_secs())]
    StartupTimeout(Duration),
    #[error("cannot get instance-profile credentials: {0}")]
    InstanceCredentials(String),
    #[error("the harness could not create its temporary files")]
    Io(#[source] std::io::Error),
}

/// What ran, for the console banner and the JSON report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetDescription {
    pub kind: String,
    pub endpoint: Option<String>,
    pub version: Option<String>,
    /// Why this target was chosen.
    pub reason: String,
}

/// Who Terraform and the probes act as on the target.
#[derive(Debug, Clone)]
pub struct Admin {
    pub arn: String,
    pub account_id: String,
    credentials: SharedCredentialsProvider,
    env: Vec<(String, OsString)>,
}

#[derive(Debug)]
enum Backend {
    Moto(moto::MotoServer),
}

pub struct Target {
    pub description: TargetDescription,
    pub endpoint: Endpoint,
    pub admin: Admin,
    backend: Backend,
}

impl Target {
    /// Start the embedded, IAM-enforcing moto target.
    pub async fn start_moto(options: &moto::MotoOptions, reason: impl Into<String>) -> Result<Self, TargetError> {
        let server = moto::MotoServer::start(options).await?;
        let credentials = Credentials::new(
            server.admin_access_key_id.clone(),
            server.admin_secret.expose().to_string(),
            None,
            None,
            "harness-admin",
        );
        let env = vec![
            ("AWS_ACCESS_KEY_ID".to_string(), OsString::from(&server.admin_access_key_id)),
            ("AWS_SECRET_ACCESS_KEY".to_string(), OsString::from(server.admin_secret.expose())),
            ("AWS_REGION".to_string(), OsString::from(DEFAULT_REGION)),
        ];
        Ok(Target {
            description: TargetDescription {
                kind: "moto".into(),
                endpoint: Some(server.endpoint.clone()),
                version: Some(server.version.clone()),
                reason: reason.into(),
            },
            endpoint: Endpoint { url: Some(server.endpoint.clone()), region: DEFAULT_REGION.into() },
            admin: Admin {
                arn: server.admin_arn.clone(),
                account_id: server.account_id.clone(),
                credentials: SharedCredentialsProvider::new(credentials),
                env,
            },
            backend: Backend::Moto(server),
        })
    }

    pub async fn admin_config(&self) -> SdkConfig {
        sdk::config_with(&self.endpoint, self.admin.credentials.clone()).await
    }

    /// How Terraform reaches this target.
    pub fn provider_target(&self) -> ProviderTarget {
        ProviderTarget { region: self.endpoint.region.clone(), endpoint: self.endpoint.url.clone(), env: self.admin.env.clone() }
    }

    /// Whether the target dies with the run (its end is the cleanup) or
    /// outlives it (every applied config must be destroyed).
    pub fn outlives_run(&self) -> bool {
        match self.backend {
            Backend::Moto(_) => false,
        }
    }

    /// The credentials EC2 would serve to `instance_id` for its profile's role.
    pub async fn instance_credentials(&self, instance_id: &str) -> Result<SessionCredentials, TargetError> {
        match &self.backend {
            Backend::Moto(server) => server.instance_credentials(instance_id, &self.endpoint.region).await,
        }
    }

    /// Ask the target to stop without waiting (for owners that cannot give it up).
    pub fn terminate(&self) {
        match &self.backend {
            Backend::Moto(server) => server.terminate(),
        }
    }

    pub async fn shutdown(self) {
        match self.backend {
            Backend::Moto(server) => server.stop().await,
        }
    }
}
