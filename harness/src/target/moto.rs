//! The embedded target: moto started by the harness as a host process on a
//! free 127.0.0.1 port (the launcher binds one and names it), through the
//! compatibility launcher (`harness/emulator/moto_launcher.py`, embedded in
//! the binary) that
//! enforces IAM from the first request, fixes trust-policy principal
//! matching to AWS semantics, and plays the EC2 service for instance
//! profiles.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::identity::SessionCredentials;
use crate::process::{Command, signal_group};
use crate::secret::Secret;

use super::TargetError;
use super::readiness::{Check, Readiness};

/// The launcher and the modules it imports (the policy evaluator, STS's
/// SAML checks, RDS's token checks), written (or copied into a container) side by side under
/// these names; the first is run.
pub const LAUNCHER_FILES: [(&str, &str); 4] = [
    ("moto_launcher.py", include_str!("../../emulator/moto_launcher.py")),
    ("iam_policy.py", include_str!("../../emulator/iam_policy.py")),
    ("saml_sp.py", include_str!("../../emulator/saml_sp.py")),
    ("rds_auth.py", include_str!("../../emulator/rds_auth.py")),
];
/// What `make setup` installs: the moto release the launcher is tested against.
const REQUIREMENTS: &str = include_str!("../../emulator/requirements.txt");

/// The pinned moto version, read from the requirements file (one source of truth).
pub fn pinned_moto() -> &'static str {
    REQUIREMENTS.lines().find_map(|line| line.trim().strip_prefix("moto[server]==")).unwrap_or("?")
}
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How the launcher is waited for, as a host process or in a container.
const READINESS: Readiness = Readiness { timeout: STARTUP_TIMEOUT, interval: Duration::from_millis(50) };
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Instance-profile sessions minted for the workload last this long
/// (the shortest session AWS allows).
pub const INSTANCE_SESSION_SECONDS: u64 = 900;

#[cfg(test)]
mod tests {
    #[test]
    fn the_pinned_version_comes_from_the_requirements_file() {
        assert!(super::pinned_moto().starts_with("5.2."), "{}", super::pinned_moto());
    }

    #[test]
    fn a_container_is_ready_only_when_its_own_launcher_answers() {
        let spec = super::container_spec("moto:test");
        assert!(spec.cmd.windows(2).any(|w| w == ["--start-marker", "{marker}"]), "the launcher is told this start's marker: {:?}", spec.cmd);
        let health = |marker: &str| serde_json::json!({"moto_version": "5.2.5", "start_marker": marker});
        assert!((spec.ready)(&health("start-1"), "start-1"));
        assert!(!(spec.ready)(&health("start-2"), "start-1"), "another launcher on the same port");
        assert!(!(spec.ready)(&serde_json::json!({"moto_version": "5.2.5"}), "start-1"));
    }
}

#[derive(Debug, Clone, Default)]
pub struct MotoOptions {
    /// The Python that has `moto[server]`; None finds one.
    pub python: Option<PathBuf>,
    /// A fixed port; None picks a free one.
    pub port: Option<u16>,
    /// Append every secret the emulator issues to this file (for leak tests).
    pub record_secrets: Option<PathBuf>,
    /// Outlive the harness, until this lease file says it expired or is gone (`run --keep`).
    pub lease: Option<PathBuf>,
}

/// A running moto launcher. Dropping it kills the process group.
#[derive(Debug)]
pub struct MotoServer {
    child: tokio::process::Child,
    pgid: Option<i32>,
    /// Among the children a hard stop kills (none when it outlives the harness).
    _registration: crate::process::Registration,
    pub endpoint: String,
    pub version: String,
    pub admin_access_key_id: String,
    pub admin_secret: Secret,
    pub admin_arn: String,
    pub account_id: String,
    /// The launcher's folder (its files, its log): removed with it, unless detached.
    dir: Option<crate::scratch::Scratch>,
    http: reqwest::Client,
}

/// The official moto image at the pinned version; `sudo ci/containers.sh`
/// builds an equivalent offline (HARNESS_MOTO_IMAGE names it).
pub fn official_image() -> String {
    format!("motoserver/moto:{}", pinned_moto())
}

/// Where the launcher lives, and writes the admin identity, inside the container.
const CONTAINER_DIR: &str = "/harness";
const CONTAINER_LAUNCHER: &str = "/harness/moto_launcher.py";
pub const CONTAINER_ADMIN_FILE: &str = "/harness/admin.json";

/// moto in a container: any image with python3 and moto[server] (the
/// official one has both); the launcher is copied in and run with python3.
pub fn container_spec(image: &str) -> super::container::ContainerSpec {
    let cmd = [CONTAINER_LAUNCHER, "--host", "{host}", "--port", "{port}", "--start-marker", "{marker}", "--credentials-file", CONTAINER_ADMIN_FILE];
    super::container::ContainerSpec {
        what: "moto",
        image: image.to_string(),
        entrypoint: Some("python3".into()),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        env: vec![("PYTHONUNBUFFERED".into(), "1".into())],
        files: LAUNCHER_FILES.iter().map(|(name, source)| (format!("{CONTAINER_DIR}/{name}"), source.as_bytes().to_vec())).collect(),
        bridge_port: 5000,
        health_path: "/_harness/health",
        // Its own launcher (on the host's network another could answer on the port).
        ready: |health, marker| health.get("moto_version").is_some() && health.get("start_marker").and_then(|m| m.as_str()) == Some(marker),
        readiness: READINESS,
        image_remedy: "pull it, or build it offline with `sudo ci/containers.sh` and set HARNESS_MOTO_IMAGE to the name it prints".into(),
    }
}

/// The admin identity the launcher bootstrapped, as it wrote it.
#[derive(serde::Deserialize)]
pub struct AdminFile {
    /// The port the launcher listens on (inside its network namespace).
    pub port: u16,
    pub account_id: String,
    pub user_arn: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
}

#[derive(serde::Deserialize)]
struct Health {
    moto_version: String,
}

/// The Python to run moto with: explicit, else the project's `.venv`, else python3.
pub fn find_python(explicit: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_path_buf();
    }
    let candidates = [
        PathBuf::from(".venv/bin/python"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"),
    ];
    candidates.into_iter().find(|p| p.is_file()).unwrap_or_else(|| PathBuf::from("python3"))
}

impl MotoServer {
    pub async fn start(options: &MotoOptions) -> Result<Self, TargetError> {
        let python = find_python(options.python.as_deref());
        check_moto_installed(&python).await?;
        let dir = crate::scratch::folder("harness-moto-").map_err(TargetError::Io)?;
        for (name, source) in LAUNCHER_FILES {
            std::fs::write(dir.path().join(name), source).map_err(TargetError::Io)?;
        }
        let launcher = dir.path().join(LAUNCHER_FILES[0].0);
        let credentials_file = dir.path().join("admin.json");
        let log_file = dir.path().join("moto.log");

        // Port 0: the launcher binds a port of the kernel's choosing and
        // holds it, then names it in the admin file. A port picked here and
        // handed over could be taken (or picked twice) in between.
        let requested = options.port.unwrap_or(0);
        let command = Command::new("start moto", &python, STARTUP_TIMEOUT)
            .arg(&launcher)
            .args(["--host", "127.0.0.1", "--port", &requested.to_string()])
            .arg("--credentials-file")
            .arg(&credentials_file)
            .env("PYTHONUNBUFFERED", "1");
        let command = match &options.lease {
            Some(lease) => command.arg("--lease-file").arg(lease).outliving(),
            None => command.args(["--parent-pid", &std::process::id().to_string()]),
        };
        let command = match &options.record_secrets {
            Some(file) => command.arg("--record-secrets").arg(file),
            None => command,
        };
        let (child, registration) = command.spawn_logged(&log_file).map_err(TargetError::Spawn)?;
        let pgid = child.id().map(|p| p as i32);
        let http = super::http::http_client(Duration::from_secs(5))?;
        let mut server = MotoServer {
            child,
            pgid,
            _registration: registration,
            endpoint: String::new(),
            version: String::new(),
            admin_access_key_id: String::new(),
            admin_secret: Secret::new(""),
            admin_arn: String::new(),
            account_id: String::new(),
            dir: Some(dir),
            http,
        };
        let (admin, health) = server.wait_ready(&credentials_file, &log_file, requested).await?;
        server.version = health.moto_version;
        server.admin_access_key_id = admin.access_key_id;
        server.admin_secret = admin.secret_access_key;
        server.admin_arn = admin.user_arn;
        server.account_id = admin.account_id;
        Ok(server)
    }

    /// Wait for the admin file (written once the launcher listens), then
    /// for its health endpoint to answer on the port the file names; fail
    /// when the process dies or the deadline passes.
    async fn wait_ready(&mut self, credentials_file: &Path, log_file: &Path, requested: u16) -> Result<(AdminFile, Health), TargetError> {
        let mut admin: Option<AdminFile> = None;
        READINESS
            .wait(Instant::now(), None, async || {
                if let Ok(Some(status)) = self.child.try_wait() {
                    let log = std::fs::read_to_string(log_file).unwrap_or_default();
                    if super::error::says_port_in_use(&log) {
                        return Check::Failed(TargetError::PortInUse(requested));
                    }
                    return Check::Failed(super::readiness::exited("moto".into(), status.to_string(), &log));
                }
                if admin.is_none() {
                    // Written whole (rename), so a file that parses is complete.
                    admin = std::fs::read_to_string(credentials_file).ok().and_then(|text| serde_json::from_str::<AdminFile>(&text).ok());
                    if let Some(found) = &admin {
                        self.endpoint = format!("http://127.0.0.1:{}", found.port);
                    }
                }
                if admin.is_some()
                    && let Ok(response) = self.http.get(format!("{}/_harness/health", self.endpoint)).send().await
                    && let Ok(health) = response.json::<Health>().await
                    && let Some(admin) = admin.take()
                {
                    return Check::Ready((admin, health));
                }
                Check::Waiting
            })
            .await
    }

    /// The client that speaks to the launcher's own endpoints.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Ask the launcher's process group to stop (SIGTERM), without waiting.
    pub fn signal_stop(&self) {
        if let Some(pgid) = self.pgid {
            signal_group(pgid, libc::SIGTERM);
        }
    }

    /// Stop the launcher: SIGTERM, a grace period, then SIGKILL.
    pub async fn stop(mut self) {
        if let Some(pgid) = self.pgid.take() {
            signal_group(pgid, libc::SIGTERM);
            if tokio::time::timeout(STOP_GRACE, self.child.wait()).await.is_err() {
                signal_group(pgid, libc::SIGKILL);
                let _ = self.child.wait().await;
            }
        }
    }
}

impl MotoServer {
    /// Leave the launcher running (its lease ends it): its process group and
    /// its folder (launcher, log), for the lease to name.
    pub fn detach(mut self) -> (i32, PathBuf) {
        let pgid = self.pgid.take().unwrap_or_default();
        (pgid, self.dir.take().map(crate::scratch::Scratch::hand_over).unwrap_or_default())
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // Backstop for panics and early returns; `stop` is the normal path.
        if let Some(pgid) = self.pgid {
            signal_group(pgid, libc::SIGKILL);
        }
    }
}

async fn check_moto_installed(python: &Path) -> Result<(), TargetError> {
    let probe = Command::new("check that moto is installed", python, Duration::from_secs(60))
        .args(["-c", "import moto, werkzeug, flask; print(moto.__version__)"])
        .run(&tokio_util::sync::CancellationToken::new())
        .await;
    match probe {
        Ok(out) => {
            // The launcher replaces moto's authorization by reaching into its
            // internals: only the version it is tested with is accepted.
            let version = out.stdout.trim();
            if version != pinned_moto() {
                return Err(TargetError::MotoMissing { python: python.to_path_buf(), found: Some(version.to_string()), pinned: pinned_moto().to_string() });
            }
            Ok(())
        }
        Err(_) => Err(TargetError::MotoMissing { python: python.to_path_buf(), found: None, pinned: pinned_moto().to_string() }),
    }
}

/// Ask a launcher (ours, or one the user runs) for an instance's credentials.
pub async fn launcher_instance_credentials(
    http: &reqwest::Client,
    endpoint: &str,
    instance_id: &str,
    region: &str,
) -> Result<SessionCredentials, TargetError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Minted {
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
        token: Option<String>,
        expiration: Option<String>,
        code: String,
        message: Option<String>,
    }
    let response = http
        .post(format!("{}/_harness/ec2/instance-credentials", endpoint.trim_end_matches('/')))
        .json(&serde_json::json!({"instance_id": instance_id, "region": region, "duration_seconds": INSTANCE_SESSION_SECONDS}))
        .send()
        .await
        .map_err(|source| TargetError::Launcher { instance_id: instance_id.to_string(), source })?;
    let minted: Minted = response.json().await.map_err(|source| TargetError::Launcher { instance_id: instance_id.to_string(), source })?;
    match (minted.access_key_id, minted.secret_access_key, minted.token, minted.expiration) {
        (Some(access_key_id), Some(secret), Some(token), Some(expiration)) => Ok(SessionCredentials {
            access_key_id,
            secret_access_key: Secret::new(secret),
            session_token: Secret::new(token),
            expiration: crate::timestamp::parse_timestamp(&expiration).map_err(TargetError::InstanceCredentials)?,
        }),
        _ => Err(TargetError::InstanceCredentials(format!("{}: {}", minted.code, minted.message.unwrap_or_default()))),
    }
}
