//! Where the scenarios run: a target starts (or reaches) an AWS-compatible
//! service, gives its endpoint and an admin identity for Terraform, mints
//! the instance-profile credentials the workload gets over IMDS, and is
//! probed for what it really enforces.

pub mod capabilities;
pub mod container;
pub mod endpoint;
pub mod localstack;
pub mod moto;
pub mod readiness;
pub mod spec;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use crate::accounts::{ACCESS_ROLE, Account, Accounts, AccountsError};
use crate::exit_code;
use crate::identity::{self, InstanceRoleError, SessionCredentials};
use crate::sdk::{self, CallError, Endpoint, call_error};
use crate::secret::Secret;
use crate::terraform::ProviderTarget;
use container::{Network, Placement, RunningContainer};
use tokio_util::sync::CancellationToken;

pub use capabilities::Capabilities;
pub use spec::{Images, TargetSpec};

pub const DEFAULT_REGION: &str = "us-east-1";

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{} has {}, the launcher needs moto[server]=={pinned}; run `make setup` (creates .venv with it) or pass --moto-python", python.display(), found.as_ref().map(|v| format!("moto {v}")).unwrap_or_else(|| "no importable moto[server]".into()), pinned = moto::pinned_moto())]
    MotoMissing { python: PathBuf, found: Option<String> },
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consistency {
    /// A step expected to be allowed is retried (with backoff) until this
    /// long after its first attempt while it is denied.
    pub allow_deadline: Duration,
    /// A step expected to be denied is probed this many times...
    pub deny_probes: u32,
    /// ...this far apart, and must be denied every time.
    pub deny_interval: Duration,
}

impl Consistency {
    pub fn immediate() -> Self {
        Self { allow_deadline: Duration::ZERO, deny_probes: 1, deny_interval: Duration::ZERO }
    }

    /// AWS documents IAM changes as eventually consistent: seconds, up to a minute.
    pub fn eventual() -> Self {
        Self { allow_deadline: Duration::from_secs(90), deny_probes: 3, deny_interval: Duration::from_secs(10) }
    }
}

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
            | TargetError::StartupTimeout(_)
            | TargetError::InstanceCredentials(_)
            | TargetError::Unreachable { .. }
            | TargetError::NotAws { .. } => exit_code::TARGET,
        }
    }
}

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

/// What ran, for the console banner and the JSON report.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TargetDescription {
    pub kind: String,
    pub endpoint: Option<String>,
    pub version: Option<String>,
    /// The container image, for container targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// How a container target is reached (host network or bridge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// Why this target was chosen.
    pub reason: String,
    /// Time to start (or reach) it and bootstrap its admin identity.
    pub startup_ms: f64,
}

impl TargetDescription {
    /// A target started (or reached) at `started`: its startup time is until now.
    fn new(kind: &str, endpoint: Option<String>, version: Option<String>, reason: String, started: std::time::Instant) -> Self {
        let startup_ms = crate::timestamp::millis(started.elapsed());
        Self { kind: kind.to_string(), endpoint, version, image: None, network: None, reason, startup_ms }
    }
}

/// Who Terraform and the probes act as on the target.
#[derive(Debug, Clone)]
pub struct Admin {
    pub arn: String,
    pub account_id: String,
    credentials: SharedCredentialsProvider,
    /// What terraform's environment needs of this identity (secrets redacted in Debug).
    env: Vec<(String, Secret)>,
}

impl Admin {
    /// The partition of the admin's ARN (`aws`, `aws-cn`, ...).
    pub fn partition(&self) -> &str {
        self.arn.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws")
    }
}

/// The environment that hands `credentials` (when given) and `region` to a child.
pub fn credential_env(credentials: Option<&Credentials>, region: &str) -> Vec<(String, Secret)> {
    let mut env = Vec::new();
    if let Some(credentials) = credentials {
        env.push(("AWS_ACCESS_KEY_ID".to_string(), Secret::new(credentials.access_key_id())));
        env.push(("AWS_SECRET_ACCESS_KEY".to_string(), Secret::new(credentials.secret_access_key())));
        if let Some(token) = credentials.session_token() {
            env.push(("AWS_SESSION_TOKEN".to_string(), Secret::new(token)));
        }
    }
    env.push(("AWS_REGION".to_string(), Secret::new(region)));
    env
}

impl Admin {
    /// The identity of the standard credential chain, checked with
    /// sts:GetCallerIdentity. With `pin`, the credentials resolved now are
    /// handed to terraform explicitly (an emulator: its children must not
    /// read the user's real profile); otherwise terraform reads the same
    /// chain itself and refreshing credentials (SSO, OIDC) stay fresh.
    async fn from_chain(endpoint: &Endpoint, pin: bool) -> Result<Self, TargetError> {
        let ambient = sdk::ambient_config(Some(endpoint.region.clone())).await;
        let provider = ambient.credentials_provider().ok_or_else(|| TargetError::BadCredentials("no credentials provider".into()))?;
        let credentials = provider.provide_credentials().await.map_err(|e| TargetError::BadCredentials(format!("none found: {e}")))?;
        let shared = if pin { SharedCredentialsProvider::new(credentials.clone()) } else { provider };
        Self::verify(endpoint, shared, credential_env(pin.then_some(&credentials), &endpoint.region)).await
    }

    /// Fixed credentials (an emulator the harness started), checked likewise.
    async fn from_credentials(endpoint: &Endpoint, credentials: Credentials) -> Result<Self, TargetError> {
        let env = credential_env(Some(&credentials), &endpoint.region);
        Self::verify(endpoint, SharedCredentialsProvider::new(credentials), env).await
    }

    /// Who these credentials are on the target (sts:GetCallerIdentity).
    async fn verify(endpoint: &Endpoint, credentials: SharedCredentialsProvider, env: Vec<(String, Secret)>) -> Result<Self, TargetError> {
        let config = sdk::config_with(endpoint, credentials.clone()).await;
        let where_ = endpoint.url.clone().unwrap_or_else(|| "AWS STS".into());
        let identity = aws_sdk_sts::Client::new(&config).get_caller_identity().send().await.map_err(|e| match call_error(&e) {
            CallError::Service { code, .. } => TargetError::BadCredentials(code),
            CallError::Transport { message, .. } => TargetError::NotAws { url: where_.clone(), cause: message },
        })?;
        Ok(Admin {
            arn: identity.arn().unwrap_or_default().to_string(),
            account_id: identity.account().unwrap_or_default().to_string(),
            credentials,
            env,
        })
    }
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
    backend: Backend,
    /// How a scenario's accounts are reached from the admin's.
    accounts: AccountReach,
}

/// How the harness reaches accounts other than its admin's: the role it
/// assumes in each, and (on a real account) the sandbox id of each name.
#[derive(Debug, Clone)]
pub struct AccountReach {
    pub role: String,
    /// `--sandbox-account NAME=ID`; None: the scenario's own ids (an emulator).
    pub sandbox_ids: Option<BTreeMap<String, String>>,
}

impl Default for AccountReach {
    fn default() -> Self {
        Self { role: ACCESS_ROLE.to_string(), sandbox_ids: None }
    }
}

/// One account of a scenario as the harness reaches it.
#[derive(Debug, Clone)]
pub struct ReachedAccount {
    /// Its name, and its id on this target.
    pub account: Account,
    /// The role assumed to reach it; None: the admin's own account.
    pub role_arn: Option<String>,
    /// The SDK as the account's admin.
    pub config: SdkConfig,
}

impl Target {
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
        Ok(Target {
            description: TargetDescription::new("moto", Some(server.endpoint.clone()), Some(server.version.clone()), reason.into(), started),
            endpoint: Endpoint { url: Some(server.endpoint.clone()), region: DEFAULT_REGION.into() },
            admin: Admin {
                arn: server.admin_arn.clone(),
                account_id: server.account_id.clone(),
                credentials: SharedCredentialsProvider::new(credentials),
                env,
            },
            backend: Backend::Moto(Box::new(server)),
            accounts: AccountReach::default(),
        })
    }

    /// Use an endpoint the user runs, as the admin identity of the standard
    /// credential chain (env or profile).
    pub async fn connect_endpoint(url: &str, region: &str) -> Result<Self, TargetError> {
        let started = std::time::Instant::now();
        let (flavor, version) = endpoint::detect(url).await?;
        let endpoint = Endpoint { url: Some(url.trim_end_matches('/').to_string()), region: region.to_string() };
        let admin = Admin::from_chain(&endpoint, true).await?;
        let http = http_client(Duration::from_secs(10))?;
        Ok(Target {
            description: TargetDescription::new(flavor.name(), endpoint.url.clone(), version, format!("--endpoint {url}"), started),
            admin,
            endpoint,
            backend: Backend::Endpoint { flavor, http },
            accounts: AccountReach::default(),
        })
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
        Ok(Target {
            description: TargetDescription {
                image: Some(container.image.clone()),
                network: Some(container.network),
                ..TargetDescription::new(if flavor == endpoint::Flavor::LocalStack { "localstack" } else { "moto-container" }, endpoint.url.clone(), version, reason, started)
            },
            endpoint,
            admin,
            backend: Backend::Container { container: Box::new(container), flavor, http },
            accounts: AccountReach::default(),
        })
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
        Ok(Target {
            description: TargetDescription::new(
                "aws",
                endpoint.url.clone(),
                None,
                format!("--target aws, sandbox account {sandbox_account} (credentials: {})", admin.arn),
                started,
            ),
            admin,
            endpoint,
            backend: Backend::Aws,
            accounts,
        })
    }

    pub async fn admin_config(&self) -> SdkConfig {
        sdk::config_with(&self.endpoint, self.admin.credentials.clone()).await
    }

    /// How Terraform reaches this target (as the admin, in its own account).
    pub fn provider_target(&self) -> ProviderTarget {
        ProviderTarget { region: self.endpoint.region.clone(), endpoint: self.endpoint.url.clone(), env: self.admin.env.clone(), account_roles: BTreeMap::new() }
    }

    /// Each account a scenario names, with its id on this target, reached as
    /// the admin (its own account) or through the account's access role, and
    /// checked with sts:GetCallerIdentity: the credentials are that account's.
    pub async fn reach_accounts(&self, accounts: &Accounts) -> Result<Vec<ReachedAccount>, TargetError> {
        let accounts = match &self.accounts.sandbox_ids {
            Some(ids) => accounts.with_ids(ids).map_err(TargetError::Accounts)?,
            None => accounts.clone(),
        };
        let admin = self.admin_config().await;
        let mut reached = Vec::new();
        for account in accounts.iter() {
            if account.id == self.admin.account_id {
                reached.push(ReachedAccount { account: account.clone(), role_arn: None, config: admin.clone() });
                continue;
            }
            let role_arn = format!("arn:{}:iam::{}:role/{}", self.admin.partition(), account.id, self.accounts.role);
            let unreachable = |cause: String| TargetError::AccountUnreachable { name: account.name.clone(), id: account.id.clone(), role_arn: role_arn.clone(), cause };
            let provider = aws_config::sts::AssumeRoleProvider::builder(&role_arn).session_name("harness").configure(&admin).build().await;
            let config = sdk::config_with(&self.endpoint, SharedCredentialsProvider::new(provider)).await;
            let identity = aws_sdk_sts::Client::new(&config).get_caller_identity().send().await.map_err(|e| unreachable(sdk::error_chain(&e)))?;
            if identity.account() != Some(account.id.as_str()) {
                return Err(unreachable(format!("its credentials are account {}'s", identity.account().unwrap_or("?"))));
            }
            reached.push(ReachedAccount { account: account.clone(), role_arn: Some(role_arn), config });
        }
        Ok(reached)
    }

    /// Whether the target dies with the run (its end is the cleanup) or
    /// outlives it (every applied config must be destroyed).
    pub fn outlives_run(&self) -> bool {
        match self.backend {
            Backend::Moto(_) | Backend::Container { .. } => false,
            Backend::Endpoint { .. } | Backend::Aws => true,
        }
    }

    /// Whose answers the steps observe: AWS's (the truth) or an emulator's.
    pub fn ground(&self) -> crate::verdict::Ground {
        match self.backend {
            Backend::Aws => crate::verdict::Ground::Aws,
            _ => crate::verdict::Ground::Emulator,
        }
    }

    /// Whose policy evaluation the target's answers come from (reported with its capabilities).
    pub fn evaluation(&self) -> &'static str {
        match &self.backend {
            Backend::Moto(_)
            | Backend::Endpoint { flavor: endpoint::Flavor::HarnessMoto, .. }
            | Backend::Container { flavor: endpoint::Flavor::HarnessMoto, .. } => {
                "AWS's documented evaluation, by the harness's launcher (held to the conformance corpus): identity policies with conditions, trust, bucket policies, boundaries, session policies"
            }
            Backend::Aws => "AWS itself",
            Backend::Endpoint { .. } | Backend::Container { .. } => "the emulator's own, as probed (not held to the conformance corpus)",
        }
    }

    /// Whether instance steps run on the instance itself (SSM Run Command):
    /// on a real account its role's credentials exist only there. Elsewhere
    /// the harness plays EC2 and serves them over a local IMDS endpoint.
    pub fn workload_on_instance(&self) -> bool {
        matches!(self.backend, Backend::Aws)
    }

    /// The credentials EC2 would serve to `instance_id` for its profile's role.
    pub async fn instance_credentials(&self, instance_id: &str) -> Result<SessionCredentials, TargetError> {
        match &self.backend {
            Backend::Moto(server) => server.instance_credentials(instance_id, &self.endpoint.region).await,
            // The launcher, run by the user or in a container the harness started.
            Backend::Endpoint { flavor: endpoint::Flavor::HarnessMoto, http } | Backend::Container { flavor: endpoint::Flavor::HarnessMoto, http, .. } => {
                let url = self.endpoint.url.as_deref().unwrap_or_default();
                moto::launcher_instance_credentials(http, url, instance_id, &self.endpoint.region).await
            }
            Backend::Endpoint { .. } | Backend::Container { .. } => self.assume_instance_role(&self.admin_config().await, instance_id).await,
            Backend::Aws => Err(TargetError::InstanceCredentials(format!("on AWS the credentials of {instance_id} stay on it; its steps run there (SSM Run Command)"))),
        }
    }

    /// Without a launcher, the admin assumes the profile's role itself. On a
    /// target that enforces trust this is refused (the role trusts EC2, not
    /// the admin), and the error says so.
    async fn assume_instance_role(&self, admin: &SdkConfig, instance_id: &str) -> Result<SessionCredentials, TargetError> {
        let role = identity::instance_role(admin, instance_id).await.map_err(|e| match e {
            InstanceRoleError::Call(err) => TargetError::InstanceCredentials(format!("cannot look up instance {instance_id}: {}", err.code())),
            InstanceRoleError::NoProfile => TargetError::InstanceCredentials(format!("instance {instance_id} has no instance profile")),
        })?;
        let role_arn = role.role_arn.ok_or_else(|| TargetError::InstanceCredentials(format!("profile {} has no role", role.profile_name)))?;
        let out = aws_sdk_sts::Client::new(admin)
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name(instance_id)
            .duration_seconds(moto::INSTANCE_SESSION_SECONDS as i32)
            .send()
            .await
            .map_err(|e| {
                TargetError::InstanceCredentials(format!(
                    "{}: this endpoint cannot play EC2 for instance profiles (the admin may not assume {role_arn}); use the embedded moto target",
                    call_error(&e).code()
                ))
            })?;
        let c = out.credentials().ok_or_else(|| TargetError::InstanceCredentials("AssumeRole returned no credentials".into()))?;
        Ok(SessionCredentials::from(c))
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
        Ok(Target {
            description: TargetDescription::new("moto", endpoint.url.clone(), Some(kept.version.clone()), reason, started),
            endpoint,
            admin,
            backend: Backend::Endpoint { flavor: endpoint::Flavor::HarnessMoto, http: http_client(Duration::from_secs(10))? },
            accounts: AccountReach::default(),
        })
    }

    /// Stop what the harness started and wait until it is gone (the normal end).
    pub async fn stop(self) {
        match self.backend {
            Backend::Moto(server) => server.stop().await,
            Backend::Container { container, .. } => container.remove().await,
            Backend::Endpoint { .. } | Backend::Aws => {}
        }
    }

    /// How IAM changes take effect here: at once on an emulator; on AWS
    /// after a propagation delay (seconds, up to a minute).
    pub fn consistency(&self) -> Consistency {
        match self.backend {
            Backend::Aws => Consistency::eventual(),
            _ => Consistency::immediate(),
        }
    }
}

/// A launcher that exited while starting: its last lines logged, the last one said.
fn exited(what: String, status: String, output: &str) -> TargetError {
    let tail = readiness::last_lines(output, 8);
    tracing::warn!("{what}'s last lines:\n{tail}");
    let last_line = tail.lines().last().unwrap_or("(it printed nothing)").trim().to_string();
    TargetError::Exited { what, status, last_line }
}

/// The HTTP client for a launcher's own endpoints (health, instance credentials).
fn http_client(timeout: Duration) -> Result<reqwest::Client, TargetError> {
    reqwest::Client::builder().timeout(timeout).build().map_err(TargetError::HttpClient)
}

/// Whether an emulator's output says it could not bind its port (EADDRINUSE,
/// as Python's servers print it).
fn says_port_in_use(output: &str) -> bool {
    output.contains("Address already in use")
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
