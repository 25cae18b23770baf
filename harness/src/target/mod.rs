//! Where the scenarios run: a target starts (or reaches) an AWS-compatible
//! service, gives its endpoint and an admin identity for Terraform, mints
//! the instance-profile credentials the workload gets over IMDS, and is
//! probed for what it really enforces.

mod accounts;
mod admin;
pub mod capabilities;
pub mod container;
pub mod database;
pub mod endpoint;
mod error;
mod http;
mod instance;
pub mod localstack;
pub mod moto;
mod organization;
mod profile;
pub mod readiness;
pub mod spec;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use tokio_util::sync::CancellationToken;

use crate::sdk::{self, Endpoint};
use crate::secret::Secret;
use crate::target_facts::TargetDescription;
use crate::terraform::ProviderTarget;
use container::{Placement, RunningContainer};
use http::http_client;

pub use accounts::{AccountReach, ReachedAccount};
pub use admin::{Admin, credential_env};
pub use error::TargetError;
pub use profile::{Consistency, Profile};
pub use spec::{Images, TargetSpec};

pub const DEFAULT_REGION: &str = "us-east-1";

/// The embedded emulator as a kept target's lease names it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct KeptEmulator {
    pub endpoint: String,
    /// The launcher's process group: ended by `release`.
    pub pid: i32,
    /// Its folder (launcher, log): removed by `release`.
    pub dir: PathBuf,
    pub version: String,
    pub account_id: String,
    pub admin_arn: String,
    pub admin_access_key_id: String,
    /// In the lease file, readable by its owner only.
    #[serde(with = "crate::secret::exposed")]
    pub admin_secret: Secret,
}

#[derive(Debug)]
enum Backend {
    Moto(Box<moto::MotoServer>),
    Endpoint { flavor: endpoint::Flavor, http: reqwest::Client },
    /// An emulator in a container the harness started (and removes).
    Container { container: Box<RunningContainer>, flavor: endpoint::Flavor, http: reqwest::Client },
    /// A real account (or, in the offline tests, the launcher playing one).
    Aws,
}

pub struct Target {
    pub description: TargetDescription,
    pub endpoint: Endpoint,
    pub admin: Admin,
    /// What it is like (outlives the run, ground, evaluation...), fixed when it starts.
    pub profile: Profile,
    backend: Backend,
    /// How a scenario's accounts are reached from the admin's.
    accounts: AccountReach,
    /// Held by the scenario whose Organization the target holds now.
    organization_turn: tokio::sync::RwLock<()>,
}

impl Target {
    /// A started target, its profile worked out from its backend.
    fn assemble(description: TargetDescription, endpoint: Endpoint, admin: Admin, backend: Backend, accounts: AccountReach) -> Self {
        let profile = Profile::of(&backend);
        Target { description, endpoint, admin, profile, backend, accounts, organization_turn: tokio::sync::RwLock::new(()) }
    }

    /// The HTTP client of the harness's launcher, where the target is one (the
    /// embedded emulator, or the launcher run by the user or in a container):
    /// its own endpoints play EC2's instance credentials and the Organization.
    fn launcher(&self) -> Option<&reqwest::Client> {
        match &self.backend {
            Backend::Moto(server) => Some(server.http()),
            Backend::Endpoint { flavor: endpoint::Flavor::HarnessMoto, http } | Backend::Container { flavor: endpoint::Flavor::HarnessMoto, http, .. } => Some(http),
            Backend::Endpoint { .. } | Backend::Container { .. } | Backend::Aws => None,
        }
    }

    /// Whether the harness's launcher judges RDS auth tokens here, so local
    /// databases behind auth fronts can stand for the config's RDS instances.
    pub fn plays_rds(&self) -> bool {
        self.launcher().is_some()
    }

    /// Start the embedded, IAM-enforcing moto target.
    pub async fn start_moto(options: &moto::MotoOptions, reason: impl Into<String>) -> Result<Self, TargetError> {
        let started = std::time::Instant::now();
        let server = moto::MotoServer::start(options).await?;
        let credentials = Credentials::new(
            server.admin_access_key_id.clone(),
            server.admin_secret.expose().to_string(),
            None,
            None,
            "harness-admin",
        );
        let env = credential_env(Some(&credentials), DEFAULT_REGION);
        Ok(Target::assemble(
            TargetDescription::new("moto", Some(server.endpoint.clone()), Some(server.version.clone()), reason.into(), started),
            Endpoint { url: Some(server.endpoint.clone()), region: DEFAULT_REGION.into() },
            Admin {
                arn: server.admin_arn.clone(),
                account_id: server.account_id.clone(),
                credentials: SharedCredentialsProvider::new(credentials),
                env,
            },
            Backend::Moto(Box::new(server)),
            AccountReach::default(),
        ))
    }

    /// Use an endpoint the user runs, as the admin identity of the standard
    /// credential chain (env or profile).
    pub async fn connect_endpoint(url: &str, region: &str) -> Result<Self, TargetError> {
        let started = std::time::Instant::now();
        let (flavor, version) = endpoint::detect(url).await?;
        let endpoint = Endpoint { url: Some(url.trim_end_matches('/').to_string()), region: region.to_string() };
        let admin = Admin::from_chain(&endpoint, true).await?;
        let http = http_client(Duration::from_secs(10))?;
        Ok(Target::assemble(
            TargetDescription::new(flavor.name(), endpoint.url.clone(), version, format!("--endpoint {url}"), started),
            endpoint,
            admin,
            Backend::Endpoint { flavor, http },
            AccountReach::default(),
        ))
    }

    /// moto behind the launcher in a container (`image`: the official image
    /// or one built by `ci/containers.sh`): the same enforcement as the host
    /// process, without a Python on the host.
    pub async fn start_moto_container(image: &str, placement: Placement, reason: impl Into<String>, cancel: &CancellationToken) -> Result<Self, TargetError> {
        let started = std::time::Instant::now();
        let container = RunningContainer::start(&moto::container_spec(image), placement, cancel).await?;
        let admin_file = container.read_file(moto::CONTAINER_ADMIN_FILE).await;
        let admin: moto::AdminFile = match admin_file.map(|bytes| serde_json::from_slice(&bytes)) {
            Ok(Ok(admin)) => admin,
            Ok(Err(err)) => return Err(remove_after(container, TargetError::AdminFile(err)).await),
            Err(err) => return Err(remove_after(container, err).await),
        };
        let credentials = Credentials::new(admin.access_key_id, admin.secret_access_key.expose().to_string(), None, None, "harness-admin");
        let version = container.health.get("moto_version").and_then(|v| v.as_str()).map(str::to_string);
        Self::from_container(container, endpoint::Flavor::HarnessMoto, credentials, version, reason.into(), started).await
    }

    /// LocalStack in a container: with `token` the licensed image enforces
    /// identity policies (ENFORCE_IAM=1); without, Community enforces nothing
    /// and the probes say so.
    pub async fn start_localstack(
        image: &str,
        token: Option<&str>,
        placement: Placement,
        reason: impl Into<String>,
        cancel: &CancellationToken,
    ) -> Result<Self, TargetError> {
        let started = std::time::Instant::now();
        let container = RunningContainer::start(&localstack::spec(image, token), placement, cancel).await?;
        let credentials = Credentials::new(localstack::ACCESS_KEY, localstack::SECRET_KEY, None, None, "localstack");
        let version = container.health.get("version").and_then(|v| v.as_str()).map(str::to_string);
        Self::from_container(container, endpoint::Flavor::LocalStack, credentials, version, reason.into(), started).await
    }

    async fn from_container(
        container: RunningContainer,
        flavor: endpoint::Flavor,
        credentials: Credentials,
        version: Option<String>,
        reason: String,
        started: std::time::Instant,
    ) -> Result<Self, TargetError> {
        let endpoint = Endpoint { url: Some(container.endpoint()), region: DEFAULT_REGION.into() };
        let admin = match Admin::from_credentials(&endpoint, credentials).await {
            Ok(admin) => admin,
            Err(err) => return Err(remove_after(container, err).await),
        };
        let http = http_client(Duration::from_secs(10))?;
        Ok(Target::assemble(
            TargetDescription {
                image: Some(container.image.clone()),
                network: Some(container.network),
                ..TargetDescription::new(if flavor == endpoint::Flavor::LocalStack { "localstack" } else { "moto-container" }, endpoint.url.clone(), version, reason, started)
            },
            endpoint,
            admin,
            Backend::Container { container: Box::new(container), flavor, http },
            AccountReach::default(),
        ))
    }

    /// A real sandbox account, reached with the standard credential chain
    /// (env, profile, SSO, web identity for CI's OIDC). Refused unless the
    /// account is the configured sandbox: never a default that could touch
    /// production. `endpoint_override` points the same code path at an
    /// emulator, for the offline tests.
    pub async fn connect_aws(region: Option<&str>, sandbox_account: &str, accounts: AccountReach, endpoint_override: Option<&str>) -> Result<Self, TargetError> {
        let started = std::time::Instant::now();
        let region = match (region, endpoint_override) {
            (Some(region), _) => region.to_string(),
            (None, Some(_)) => DEFAULT_REGION.to_string(),
            (None, None) => sdk::ambient_config(None).await.region().map(|r| r.to_string()).ok_or(TargetError::NoRegion)?,
        };
        let endpoint = Endpoint { url: endpoint_override.map(|u| u.trim_end_matches('/').to_string()), region };
        let admin = match endpoint_override {
            // Offline tests: the endpoint must be our launcher, which plays EC2 and the instances' SSM agents.
            Some(url) => match endpoint::detect(url).await? {
                (endpoint::Flavor::HarnessMoto, _) => Admin::from_chain(&endpoint, true).await?,
                _ => return Err(TargetError::NotLauncher(url.to_string())),
            },
            None => Admin::from_chain(&endpoint, false).await?,
        };
        if admin.account_id != sandbox_account {
            return Err(TargetError::WrongAccount { found: admin.account_id, arn: admin.arn, expected: sandbox_account.to_string() });
        }
        Ok(Target::assemble(
            TargetDescription::new(
                "aws",
                endpoint.url.clone(),
                None,
                format!("--target aws, sandbox account {sandbox_account} (credentials: {})", admin.arn),
                started,
            ),
            endpoint,
            admin,
            Backend::Aws,
            accounts,
        ))
    }

    pub async fn admin_config(&self) -> SdkConfig {
        sdk::config_with(&self.endpoint, self.admin.credentials.clone()).await
    }

    /// How Terraform reaches this target (as the admin, in its own account).
    pub fn provider_target(&self) -> ProviderTarget {
        let endpoint = &self.endpoint;
        ProviderTarget { region: endpoint.region.clone(), endpoint: endpoint.url.clone(), env: self.admin.env.clone(), account_roles: BTreeMap::new(), outlives_run: self.profile.outlives_run }
    }

    /// Stop what the harness started without owning the target (a static
    /// holds it): the host process is signalled (not waited for), the
    /// container removed.
    pub async fn stop_shared(&self) {
        match &self.backend {
            Backend::Moto(server) => server.signal_stop(),
            Backend::Container { container, .. } => container.remove().await,
            Backend::Endpoint { .. } | Backend::Aws => {} // not ours to stop
        }
    }

    /// The embedded emulator kept (`run --keep`): it goes on after the
    /// harness, until its lease ends it; what the lease must name of it.
    /// None for any other target (nothing the harness could keep).
    pub fn detach(self) -> Option<KeptEmulator> {
        let Backend::Moto(server) = self.backend else { return None };
        let (version, account_id, admin_arn) = (server.version.clone(), server.account_id.clone(), server.admin_arn.clone());
        let (admin_access_key_id, admin_secret) = (server.admin_access_key_id.clone(), server.admin_secret.clone());
        let endpoint = server.endpoint.clone();
        let (pid, dir) = server.detach();
        Some(KeptEmulator { endpoint, pid, dir, version, account_id, admin_arn, admin_access_key_id, admin_secret })
    }

    /// The emulator a lease kept, reached again at its endpoint as its admin.
    pub async fn reconnect(kept: &KeptEmulator) -> Result<Self, TargetError> {
        let started = std::time::Instant::now();
        let endpoint = Endpoint { url: Some(kept.endpoint.clone()), region: DEFAULT_REGION.into() };
        let credentials = Credentials::new(kept.admin_access_key_id.clone(), kept.admin_secret.expose().to_string(), None, None, "harness-admin");
        let admin = Admin::from_credentials(&endpoint, credentials).await?;
        let reason = format!("--reuse: the emulator kept in process group {}", kept.pid);
        Ok(Target::assemble(
            TargetDescription::new("moto", endpoint.url.clone(), Some(kept.version.clone()), reason, started),
            endpoint,
            admin,
            Backend::Endpoint { flavor: endpoint::Flavor::HarnessMoto, http: http_client(Duration::from_secs(10))? },
            AccountReach::default(),
        ))
    }

    /// Stop what the harness started and wait until it is gone (the normal end).
    pub async fn stop(self) {
        match self.backend {
            Backend::Moto(server) => server.stop().await,
            Backend::Container { container, .. } => container.remove().await,
            Backend::Endpoint { .. } | Backend::Aws => {}
        }
    }

}

/// Remove a container that started but cannot serve as a target, and return why.
async fn remove_after(container: RunningContainer, err: TargetError) -> TargetError {
    container.remove().await;
    err
}

/// What `--target auto` (the default) runs, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoChoice {
    LocalStack,
    MotoContainer,
    MotoProcess,
}

/// LocalStack when a token is present and Docker answers (it can enforce
/// IAM); else the IAM-enforcing moto target, in a container when Docker
/// answers, else as a host process.
pub async fn auto_choice() -> (AutoChoice, String) {
    let token = localstack::token().is_some();
    match container::engine().await {
        Ok(_) if token => (AutoChoice::LocalStack, format!("{} is set and Docker answers (LocalStack with ENFORCE_IAM=1)", localstack::TOKEN_VAR)),
        Ok(_) => (AutoChoice::MotoContainer, format!("Docker answers, {} is not set (the IAM-enforcing moto target, in a container)", localstack::TOKEN_VAR)),
        Err(TargetError::NoDocker { cause, .. }) => (AutoChoice::MotoProcess, format!("no Docker engine answers ({cause}): the IAM-enforcing moto target as a host process")),
        Err(err) => (AutoChoice::MotoProcess, format!("{err}: the IAM-enforcing moto target as a host process")),
    }
}
