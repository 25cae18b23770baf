//! Targets that run in a container, started through testcontainers. An
//! image is data (`ContainerSpec`): name, pinned tag, environment, command,
//! files copied in, and a health endpoint with a readiness test. Start and
//! readiness are bounded by a timeout; the container is removed when the
//! run ends, fails, or is interrupted, and one left by a harness that was
//! killed is removed by the next start.
//!
//! Networking: on a normal engine the service listens on a fixed port inside
//! and Docker maps it to a free host port (bridge). On engines without a
//! bridge (the project's CI machines: loopback-only traffic) the container
//! shares the host's network and the service listens on a free 127.0.0.1
//! port the harness picks (host).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use testcontainers::bollard::Docker;
use testcontainers::bollard::models::ContainerSummary;
use testcontainers::bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};
use testcontainers::core::ContainerPort;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ContainerRequest, GenericImage, ImageExt};
use tokio_util::sync::CancellationToken;

// The label every container of the harness carries is its AWS tag.
use crate::naming::{HARNESS_TAG_KEY as LABEL, HARNESS_TAG_VALUE as LABEL_VALUE, OWNER_LABEL};

use super::TargetError;
use crate::target_facts::Network;
use super::readiness::{Check, Readiness, last_lines};

/// `never`: a missing image is an error at once, no pull attempted (machines without a registry).
pub const PULL_VAR: &str = "HARNESS_CONTAINER_PULL";
const ENGINE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an abandoned start may take to finish before its container is removed.
const FINISH_START: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Starts on the host's network before a taken port is the user's problem.
const PORT_ATTEMPTS: u32 = 3;


/// Where a container target listens, as the user asked (both optional).
#[derive(Debug, Clone, Copy, Default)]
pub struct Placement {
    /// None: host where the engine has no bridge network, else bridge.
    pub network: Option<Network>,
    /// The host port (127.0.0.1); None picks a free one.
    pub port: Option<u16>,
}

/// A container target's image and how to run it. `{host}` and `{port}` in
/// `cmd` and `env` values become the address the service must listen on,
/// `{marker}` a value naming this one start.
#[derive(Clone)]
pub struct ContainerSpec {
    /// What it is, for messages ("moto", "localstack").
    pub what: &'static str,
    /// `name:tag`, tag pinned.
    pub image: String,
    pub entrypoint: Option<String>,
    pub cmd: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Files written into the container before it starts: (path, contents).
    pub files: Vec<(String, Vec<u8>)>,
    /// The port the service listens on inside, with a bridge network.
    pub bridge_port: u16,
    /// GET this path until `ready` says yes.
    pub health_path: &'static str,
    /// Is this health answer (and the `{marker}` this start gave, for a
    /// service that echoes it) the container's, and is it ready?
    pub ready: fn(&serde_json::Value, &str) -> bool,
    pub readiness: Readiness,
    /// What to tell the user when the image is missing and cannot be pulled.
    pub image_remedy: String,
}

// Env values may hold a token (LOCALSTACK_AUTH_TOKEN): Debug shows the keys only.
impl std::fmt::Debug for ContainerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env_keys: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ContainerSpec").field("image", &self.image).field("cmd", &self.cmd).field("env_keys", &env_keys).finish_non_exhaustive()
    }
}

/// A started, ready container. `remove` is the normal end; dropping it
/// removes it too (testcontainers' drop), for panics and early returns.
pub struct RunningContainer {
    container: tokio::sync::Mutex<Option<ContainerAsync<GenericImage>>>,
    pub id: String,
    pub image: String,
    pub network: Network,
    /// The host port (127.0.0.1) the service is reached on.
    pub port: u16,
    /// The health answer that made it ready.
    pub health: serde_json::Value,
}

impl std::fmt::Debug for RunningContainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningContainer").field("id", &self.id).field("image", &self.image).field("endpoint", &self.endpoint()).finish()
    }
}

/// Containers this process started and has not removed yet: what a second
/// Ctrl-C removes before the harness leaves without its destructors.
static ACTIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// This machine's name, read once.
fn host() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into()))
}

/// The owner label of containers started by harness process `pid` on this host.
fn owner_of(pid: u32) -> String {
    format!("{}:{pid}", host())
}

fn owner() -> String {
    owner_of(std::process::id())
}

/// The engine testcontainers talks to (DOCKER_HOST, else the default
/// socket), answering a ping; otherwise a message saying how to go on without it.
pub async fn engine() -> Result<Docker, TargetError> {
    let where_ = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "the default Docker socket".into());
    let no_docker = |cause: String| TargetError::NoDocker { engine: where_.clone(), cause };
    let docker = tokio::time::timeout(ENGINE_TIMEOUT, testcontainers::core::client::docker_client_instance())
        .await
        .map_err(|_| no_docker("no answer".into()))?
        .map_err(|e| no_docker(e.to_string()))?;
    match tokio::time::timeout(ENGINE_TIMEOUT, docker.ping()).await {
        Ok(Ok(_)) => Ok(docker),
        Ok(Err(e)) => Err(no_docker(e.to_string())),
        Err(_) => Err(no_docker("no answer to ping".into())),
    }
}

/// Host networking where the engine has no bridge (`dockerd --bridge=none`), else the bridge.
pub async fn default_network(docker: &Docker) -> Network {
    match docker.inspect_network("bridge", None).await {
        Ok(_) => Network::Bridge,
        Err(_) => Network::Host,
    }
}

impl RunningContainer {
    /// Start `spec`, wait until its health endpoint says it is ready, or
    /// remove it and say why. Ctrl-C (`cancel`) stops the wait and removes it.
    pub async fn start(spec: &ContainerSpec, placement: Placement, cancel: &CancellationToken) -> Result<Self, TargetError> {
        let docker = engine().await?;
        let network = match placement.network {
            Some(network) => network,
            None => default_network(&docker).await,
        };
        remove_orphans(&docker).await;
        if docker.inspect_image(&spec.image).await.is_err() {
            if std::env::var(PULL_VAR).is_ok_and(|v| v == "never") {
                return Err(TargetError::ImageMissing { image: spec.image.clone(), remedy: spec.image_remedy.clone(), cause: format!("{PULL_VAR}=never") });
            }
            tracing::warn!("{} is not on this machine: pulling it", spec.image);
        }
        // On the host's network the port is picked here and bound by the
        // service seconds later: someone may take it in between. Then the
        // service exits saying so, and a port the user did not ask for is
        // picked again.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match Self::start_once(&docker, spec, network, placement, cancel).await {
                Err(TargetError::PortInUse(port)) if network == Network::Host && placement.port.is_none() && attempts < PORT_ATTEMPTS => {
                    tracing::warn!("port {port} was taken before the {} container bound it: trying another", spec.what);
                }
                outcome => return outcome,
            }
        }
    }

    async fn start_once(docker: &Docker, spec: &ContainerSpec, network: Network, placement: Placement, cancel: &CancellationToken) -> Result<Self, TargetError> {
        let started = Instant::now();
        let (listen_host, port) = match network {
            Network::Host => ("127.0.0.1", free_port(placement.port)?),
            Network::Bridge => ("0.0.0.0", spec.bridge_port),
        };
        let marker = format!("{}-{}", owner(), fastrand::u64(..));
        let request = request(spec, network, placement.port, (listen_host, port), &marker);

        let label = format!("harness-start={marker}");
        let start = request.start();
        tokio::pin!(start);
        let outcome = tokio::select! {
            started = tokio::time::timeout(spec.readiness.timeout, &mut start) => started.map_err(|_| TargetError::StartupTimeout(spec.readiness.timeout)),
            () = cancel.cancelled() => Err(TargetError::Interrupted),
        };
        let container = match outcome {
            Ok(Ok(container)) => container,
            Ok(Err(err)) => {
                remove_labelled(docker, &label).await;
                return Err(start_error(spec, err));
            }
            Err(why) => {
                // The engine may be creating it right now: let that finish
                // (briefly), or the removal below could look before it exists.
                if let Ok(Ok(container)) = tokio::time::timeout(FINISH_START, &mut start).await {
                    let _ = container.rm().await;
                }
                remove_labelled(docker, &label).await;
                return Err(why);
            }
        };
        let id = container.id().to_string();
        remember(&id);
        let host_port = match (network, placement.port) {
            (Network::Host, _) => Ok(port),
            (Network::Bridge, Some(host_port)) => Ok(host_port),
            (Network::Bridge, None) => container.get_host_port_ipv4(spec.bridge_port).await.map_err(|source| TargetError::Container { what: spec.what, image: spec.image.clone(), source: Box::new(source) }),
        };
        let running = RunningContainer {
            container: tokio::sync::Mutex::new(Some(container)),
            id,
            image: spec.image.clone(),
            network,
            port: host_port.as_ref().copied().unwrap_or(port),
            health: serde_json::Value::Null,
        };
        let ready = match host_port {
            Ok(_) => running.wait_ready(spec, started, &marker, cancel).await,
            Err(err) => Err(err),
        };
        match ready {
            Ok(health) => Ok(RunningContainer { health, ..running }),
            Err(err) => {
                running.remove().await;
                Err(err)
            }
        }
    }

    /// Poll the health endpoint until `ready` accepts it, the container
    /// exits (its log tail is the reason), Ctrl-C, or the deadline.
    async fn wait_ready(&self, spec: &ContainerSpec, started: Instant, marker: &str, cancel: &CancellationToken) -> Result<serde_json::Value, TargetError> {
        let http = super::http::http_client(Duration::from_secs(2))?;
        let url = format!("{}{}", self.endpoint(), spec.health_path);
        spec.readiness
            .wait(started, Some(cancel), async || {
                if let Ok(response) = http.get(&url).send().await
                    && let Ok(json) = response.json::<serde_json::Value>().await
                    && (spec.ready)(&json, marker)
                {
                    return Check::Ready(json);
                }
                let Some(status) = self.exited().await else { return Check::Waiting };
                let tail = self.log_tail().await;
                if self.network == Network::Host && super::error::says_port_in_use(&tail) {
                    return Check::Failed(TargetError::PortInUse(self.port));
                }
                Check::Failed(super::readiness::exited(format!("the {} container", spec.what), status, &tail))
            })
            .await
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn exited(&self) -> Option<String> {
        let guard = self.container.lock().await;
        let container = guard.as_ref()?;
        match container.is_running().await {
            Ok(false) => Some(match container.exit_code().await {
                Ok(Some(code)) => format!("exit code {code}"),
                _ => "stopped".into(),
            }),
            _ => None,
        }
    }

    /// The last lines the container printed, for error messages.
    pub async fn log_tail(&self) -> String {
        let guard = self.container.lock().await;
        let Some(container) = guard.as_ref() else { return String::new() };
        let mut text = String::from_utf8_lossy(&container.stdout_to_vec().await.unwrap_or_default()).into_owned();
        text.push_str(&String::from_utf8_lossy(&container.stderr_to_vec().await.unwrap_or_default()));
        last_lines(&text, 8)
    }

    /// A file the service wrote inside the container.
    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>, TargetError> {
        let guard = self.container.lock().await;
        let container = guard.as_ref().ok_or(TargetError::Removed)?;
        container.copy_file_from(path, Vec::new()).await.map_err(|source| TargetError::ContainerFile { path: path.to_string(), source: Box::new(source) })
    }

    /// Remove the container (idempotent).
    pub async fn remove(&self) {
        let Some(container) = self.container.lock().await.take() else { return };
        let id = container.id().to_string();
        match container.rm().await {
            Ok(()) => forget(&id),
            // Still listed as active: a second Ctrl-C tries again.
            Err(err) => tracing::warn!("cannot remove container {id}: {err}"),
        }
    }
}

/// The testcontainers request for `spec`: listening on `listen`, labelled
/// as the harness's (`marker` names this one start).
fn request(spec: &ContainerSpec, network: Network, host_port: Option<u16>, listen: (&str, u16), marker: &str) -> ContainerRequest<GenericImage> {
    let fill = |s: &str| s.replace("{host}", listen.0).replace("{port}", &listen.1.to_string()).replace("{marker}", marker);
    // `name:tag`; a colon inside a registry address (host:port/name) is not a tag.
    let (name, tag) = match spec.image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (spec.image.as_str(), "latest"),
    };
    let mut image = GenericImage::new(name, tag);
    if let Some(entrypoint) = &spec.entrypoint {
        image = image.with_entrypoint(entrypoint);
    }
    if network == Network::Bridge && host_port.is_none() {
        image = image.with_exposed_port(ContainerPort::Tcp(spec.bridge_port));
    }
    let mut request = image
        .with_cmd(spec.cmd.iter().map(|c| fill(c)))
        .with_label(LABEL, LABEL_VALUE)
        .with_label(OWNER_LABEL, owner())
        .with_label("harness-start", marker)
        .with_startup_timeout(spec.readiness.timeout);
    match (network, host_port) {
        (Network::Host, _) => request = request.with_network("host"),
        (Network::Bridge, Some(host_port)) => request = request.with_mapped_port(host_port, ContainerPort::Tcp(spec.bridge_port)),
        (Network::Bridge, None) => {}
    }
    for (key, value) in &spec.env {
        request = request.with_env_var(key, fill(value));
    }
    for (path, contents) in &spec.files {
        request = request.with_copy_to(path.clone(), contents.clone());
    }
    request
}

fn start_error(spec: &ContainerSpec, err: testcontainers::TestcontainersError) -> TargetError {
    use testcontainers::core::error::ClientError;
    match err {
        testcontainers::TestcontainersError::Client(ClientError::PullImage { .. }) => {
            TargetError::ImageMissing { image: spec.image.clone(), remedy: spec.image_remedy.clone(), cause: err.to_string() }
        }
        source => TargetError::Container { what: spec.what, image: spec.image.clone(), source: Box::new(source) },
    }
}

/// `requested` if it is free on 127.0.0.1, else (None) a free port, for a
/// service on the host's network (bound by it later: see `start`).
fn free_port(requested: Option<u16>) -> Result<u16, TargetError> {
    let port = requested.unwrap_or(0);
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|_| TargetError::PortInUse(port))?;
    listener.local_addr().map(|a| a.port()).map_err(|_| TargetError::PortInUse(port))
}

/// Remove even if running, with its anonymous volumes.
fn force_remove() -> testcontainers::bollard::query_parameters::RemoveContainerOptions {
    RemoveContainerOptionsBuilder::new().force(true).v(true).build()
}

fn remember(id: &str) {
    ACTIVE.lock().unwrap_or_else(|p| p.into_inner()).push(id.to_string());
}

fn forget(id: &str) {
    ACTIVE.lock().unwrap_or_else(|p| p.into_inner()).retain(|a| a != id);
}

/// Remove every container this process started and still holds (second
/// Ctrl-C: the harness is about to exit without running destructors), and
/// wait until the engine no longer lists them: a removal the first Ctrl-C
/// began may still be under way.
pub async fn remove_active() {
    let ids: Vec<String> = ACTIVE.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if ids.is_empty() {
        return;
    }
    let Ok(docker) = engine().await else { return };
    // Until the engine says "no such container": a removal the first Ctrl-C
    // began answers this one with a conflict, and may itself be cut short
    // when the harness exits, so ask again each round.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut remaining = 0;
        for id in &ids {
            match docker.inspect_container(id, None).await {
                Err(testcontainers::bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
                _ => {
                    remaining += 1;
                    let _ = docker.remove_container(id, Some(force_remove())).await;
                }
            }
        }
        if remaining == 0 || Instant::now() > deadline {
            return;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The containers a harness process (`pid`, on this host) started and that
/// still exist: for leak tests, and for a person hunting one.
pub async fn started_by(pid: u32) -> Result<Vec<String>, TargetError> {
    let docker = engine().await?;
    let found = labelled(&docker, &format!("{OWNER_LABEL}={}", owner_of(pid))).await.map_err(TargetError::Docker)?;
    Ok(found.into_iter().filter_map(|c| c.id).collect())
}

/// Every container (running or not) carrying `label` (`key=value`).
async fn labelled(docker: &Docker, label: &str) -> Result<Vec<ContainerSummary>, testcontainers::bollard::errors::Error> {
    let filters = HashMap::from([("label", vec![label.to_string()])]);
    docker.list_containers(Some(ListContainersOptionsBuilder::new().all(true).filters(&filters).build())).await
}

async fn remove_labelled(docker: &Docker, label: &str) {
    let Ok(found) = labelled(docker, label).await else { return };
    for id in found.iter().filter_map(|c| c.id.as_deref()) {
        let _ = docker.remove_container(id, Some(force_remove())).await;
    }
}

/// Containers of harness runs on this host whose process is gone (killed
/// with SIGKILL, or a machine that lost power mid-run).
async fn remove_orphans(docker: &Docker) {
    let Ok(found) = labelled(docker, &format!("{LABEL}={LABEL_VALUE}")).await else { return };
    for container in found {
        let Some(owner) = container.labels.as_ref().and_then(|l| l.get(OWNER_LABEL)) else { continue };
        let Some((their_host, pid)) = owner.rsplit_once(':') else { continue };
        // SAFETY: kill(2) with signal 0 only asks whether the process exists.
        let alive = pid.parse::<i32>().is_ok_and(|pid| unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM));
        if their_host == host()
            && !alive
            && let Some(id) = container.id.as_deref()
        {
            tracing::info!("removing container {id} left by harness {owner}, which is gone");
            let _ = docker.remove_container(id, Some(force_remove())).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_held_by_another_listener_is_refused_with_its_own_code() {
        let held = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        let err = free_port(Some(port)).unwrap_err();
        assert!(matches!(err, TargetError::PortInUse(p) if p == port), "{err}");
        assert_eq!(err.exit_code(), crate::exit_code::PORT_IN_USE);
        assert_ne!(free_port(None).unwrap(), 0);
    }

    fn env(request: &ContainerRequest<GenericImage>) -> Vec<(String, String)> {
        request.env_vars().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
    }

    #[test]
    fn host_network_listens_on_the_chosen_loopback_port() {
        let spec = super::super::localstack::spec("localstack/localstack:4.14.0", None);
        let request = request(&spec, Network::Host, None, ("127.0.0.1", 45123), "m");
        assert_eq!(request.network().as_deref(), Some("host"));
        assert!(env(&request).contains(&("GATEWAY_LISTEN".into(), "127.0.0.1:45123".into())));
        assert!(request.expose_ports().is_empty(), "nothing published with host networking");
        assert_eq!(request.labels().get(LABEL).map(String::as_str), Some(LABEL_VALUE));
        assert_eq!(request.descriptor(), "localstack/localstack:4.14.0");
    }

    #[test]
    fn the_start_marker_reaches_the_command() {
        let spec = super::super::moto::container_spec("moto:test");
        let request = request(&spec, Network::Host, None, ("127.0.0.1", 45123), "host:1-42");
        let cmd: Vec<String> = request.cmd().map(|c| c.to_string()).collect();
        assert!(cmd.windows(2).any(|w| w == ["--start-marker", "host:1-42"]), "{cmd:?}");
        assert!(cmd.windows(2).any(|w| w == ["--port", "45123"]), "{cmd:?}");
    }

    #[test]
    fn bridge_network_publishes_the_service_port_or_maps_the_asked_one() {
        let spec = super::super::moto::container_spec("registry.local:5000/moto");
        let published = request(&spec, Network::Bridge, None, ("0.0.0.0", 5000), "m");
        assert_eq!(published.network(), &None);
        assert_eq!(published.expose_ports(), &[ContainerPort::Tcp(5000)]);
        assert!(published.cmd().any(|arg| arg == "0.0.0.0"));
        // A registry's port is not a tag.
        assert_eq!(published.descriptor(), "registry.local:5000/moto:latest");
        let mapped = request(&spec, Network::Bridge, Some(4000), ("0.0.0.0", 5000), "m");
        let ports = mapped.ports().expect("a port mapping");
        assert_eq!((ports[0].host_port(), ports[0].container_port()), (4000, ContainerPort::Tcp(5000)));
    }

    #[test]
    fn the_localstack_token_is_passed_through_only_when_set() {
        let with = super::super::localstack::spec("i:1", Some("tok"));
        let without = super::super::localstack::spec("i:1", None);
        let with_env = env(&request(&with, Network::Host, None, ("127.0.0.1", 1), "m"));
        assert!(with_env.contains(&("LOCALSTACK_AUTH_TOKEN".into(), "tok".into())));
        assert!(with_env.contains(&("ENFORCE_IAM".into(), "1".into())));
        assert!(!env(&request(&without, Network::Host, None, ("127.0.0.1", 1), "m")).iter().any(|(k, _)| k == "LOCALSTACK_AUTH_TOKEN"));
    }

    #[test]
    fn debug_never_shows_env_values() {
        let spec = super::super::localstack::spec("i:1", Some("secret-token"));
        let shown = format!("{spec:?}");
        assert!(shown.contains("LOCALSTACK_AUTH_TOKEN") && !shown.contains("secret-token"), "{shown}");
    }

    #[test]
    fn network_names_parse() {
        assert_eq!("host".parse::<Network>(), Ok(Network::Host));
        assert!("nat".parse::<Network>().is_err());
    }
}
