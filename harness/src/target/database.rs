//! An embedded target's RDS instances: moto has no database to connect to,
//! so the harness runs the installed PostgreSQL (as the `postgres` user when
//! it runs as root: PostgreSQL refuses root) and, for each instance a step
//! connects to, an auth front on loopback that lets a login in only as RDS
//! would with IAM database authentication ([`front`]). The database users
//! the steps name exist in it and hold `rds_iam`, as on RDS. PostgreSQL stops
//! when the harness dies, however it dies; the next start removes the folder
//! a killed harness left.

mod front;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::process::{Command, Registration, signal_group};
use crate::scratch::Scratch;
use crate::service::rds::DatabaseFronts;
use front::Front;

/// The port in the socket's name (`.s.PGSQL.<port>`); no TCP port is opened.
const SOCKET_PORT: &str = "5432";
const READY_WITHIN: Duration = Duration::from_secs(60);

/// Why the local database could not start.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("PostgreSQL is not installed ({0} not found in HARNESS_POSTGRES_BIN, on PATH or in /usr/lib/postgresql/*/bin); install it (Debian: postgresql-15), `make setup` checks for it")]
    NotInstalled(&'static str),
    #[error("the local PostgreSQL failed: {0}")]
    Failed(String),
}

/// A front serving: its loopback address, and its task.
type Running = (String, tokio::task::JoinHandle<()>);

/// PostgreSQL and the fronts of the instances the steps connect to.
pub struct LocalDatabases {
    dir: Scratch,
    child: tokio::process::Child,
    pgid: Option<i32>,
    _registration: Registration,
    /// The emulator's `/_harness/rds-db/authenticate`, and the client that asks it.
    authenticate: String,
    http: reqwest::Client,
    /// Each instance's front, by its host and port.
    fronts: Mutex<BTreeMap<(String, String), Running>>,
}

impl std::fmt::Debug for LocalDatabases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalDatabases").field("dir", &self.dir.path()).finish_non_exhaustive()
    }
}

/// Where PostgreSQL's programs are, when they are not found by themselves.
pub const BIN_VARIABLE: &str = "HARNESS_POSTGRES_BIN";

/// The directory of PostgreSQL's programs: HARNESS_POSTGRES_BIN, else on PATH, else Debian's versioned folder.
fn bin_dir() -> Result<PathBuf, DatabaseError> {
    if let Some(dir) = std::env::var_os(BIN_VARIABLE) {
        let dir = PathBuf::from(dir);
        return if dir.join("postgres").is_file() && dir.join("initdb").is_file() { Ok(dir) } else { Err(DatabaseError::NotInstalled("postgres")) };
    }
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    let debian = std::fs::read_dir("/usr/lib/postgresql").into_iter().flatten().filter_map(|e| Some(e.ok()?.path().join("bin")));
    let mut candidates: Vec<PathBuf> = on_path.chain(debian).filter(|d| d.join("postgres").is_file() && d.join("initdb").is_file()).collect();
    candidates.sort();
    candidates.pop().ok_or(DatabaseError::NotInstalled("postgres"))
}

/// Whether the harness runs as root: PostgreSQL must then run as `postgres`.
fn as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A command of PostgreSQL's, as the user that may run it. A change of user
/// clears the signal a child gets when the harness dies: setpriv sets it again,
/// so a harness killed outright leaves no database running.
fn pg_command(summary: &str, bin: &Path, program: &str, timeout: Duration) -> Command {
    if as_root() {
        Command::new(summary, "setpriv", timeout).args(["--reuid=postgres", "--regid=postgres", "--init-groups", "--pdeathsig=keep", "--"]).arg(bin.join(program))
    } else {
        Command::new(summary, bin.join(program), timeout)
    }
}

impl LocalDatabases {
    /// Start PostgreSQL with `users` (each holding `rds_iam`); fronts ask `endpoint`'s launcher.
    pub async fn start(endpoint: &str, users: &[String]) -> Result<Self, DatabaseError> {
        let bin = bin_dir()?;
        let failed = |e: &dyn std::fmt::Display| DatabaseError::Failed(e.to_string());
        let dir = crate::scratch::folder("harness-pg-").map_err(|e| failed(&e))?;
        if as_root() {
            let chown = Command::new("give the database folder to postgres", "chown", Duration::from_secs(10)).args(["-R", "postgres:postgres"]).arg(dir.path());
            chown.run(&tokio_util::sync::CancellationToken::new()).await.map_err(|e| failed(&e))?;
        }
        let data = dir.path().join("data");
        let initdb = pg_command("initdb", &bin, "initdb", Duration::from_secs(120)).arg("-D").arg(&data).args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
        initdb.run(&tokio_util::sync::CancellationToken::new()).await.map_err(|e| failed(&e))?;
        let server = pg_command("start PostgreSQL", &bin, "postgres", Duration::from_secs(24 * 3600))
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .args(["-p", SOCKET_PORT, "-c", "listen_addresses=", "-c", "fsync=off"]);
        let (child, registration) = server.spawn_logged(&dir.path().join("postgres.log")).map_err(|e| failed(&e))?;
        let pgid = child.id().map(|p| p as i32);
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| failed(&e))?;
        let databases = Self { dir, child, pgid, _registration: registration, authenticate: format!("{endpoint}/_harness/rds-db/authenticate"), http, fronts: Mutex::new(BTreeMap::new()) };
        databases.wait_ready().await?;
        let mut script = String::from("CREATE ROLE rds_iam;\n");
        for user in users {
            script.push_str(&format!("CREATE ROLE \"{user}\" LOGIN; GRANT rds_iam TO \"{user}\";\n"));
        }
        databases.sql(&script).await?;
        Ok(databases)
    }

    /// Make `user` (holding rds_iam) unless it exists: the user an access walk connects as.
    pub async fn ensure_user(&self, user: &str) -> Result<(), DatabaseError> {
        let quoted = user.replace('"', "\"\"");
        let literal = user.replace('\'', "''");
        let script = format!("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{literal}') THEN CREATE ROLE \"{quoted}\" LOGIN; GRANT rds_iam TO \"{quoted}\"; END IF; END $$;");
        self.sql(&script).await.map(|_| ())
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join(format!(".s.PGSQL.{SOCKET_PORT}"))
    }

    /// Run SQL as the superuser over the socket.
    async fn sql(&self, script: &str) -> Result<String, DatabaseError> {
        let psql = Command::new("run SQL in the local PostgreSQL", "psql", Duration::from_secs(30))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.dir.path())
            .args(["-p", SOCKET_PORT, "-U", "postgres", "-d", "postgres", "-c", script]);
        match psql.run(&tokio_util::sync::CancellationToken::new()).await {
            Ok(output) => Ok(output.stdout),
            Err(crate::process::ProcessError::NotFound { .. }) => Err(DatabaseError::NotInstalled("psql")),
            Err(err) => Err(DatabaseError::Failed(err.to_string())),
        }
    }

    /// Poll until PostgreSQL answers, or fail when it exits or the deadline passes.
    async fn wait_ready(&self) -> Result<(), DatabaseError> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if self.socket().exists() && self.sql("select 1").await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
                return Err(DatabaseError::Failed(format!("it did not answer within {}s; its log ends: {}", READY_WITHIN.as_secs(), log.lines().last().unwrap_or(""))));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A front for the instance at host:port, started the first time it is asked for.
    fn front(&self, host: &str, port: &str) -> std::io::Result<String> {
        let mut fronts = self.fronts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((address, _)) = fronts.get(&(host.to_string(), port.to_string())) {
            return Ok(address.clone());
        }
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?.to_string();
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let front = Front { host: host.into(), port: port.into(), authenticate: self.authenticate.clone(), http: self.http.clone(), socket: self.socket() };
        let task = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?.spawn(front.serve(listener));
        fronts.insert((host.to_string(), port.to_string()), (address.clone(), task));
        Ok(address)
    }

    /// Stop the fronts and PostgreSQL (SIGTERM, then SIGKILL); the folder goes with it.
    pub async fn stop(mut self) {
        for (_, (_, task)) in std::mem::take(&mut *self.fronts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)) {
            task.abort();
        }
        if let Some(pgid) = self.pgid.take() {
            signal_group(pgid, libc::SIGTERM);
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.is_err() {
                signal_group(pgid, libc::SIGKILL);
                let _ = self.child.wait().await;
            }
        }
    }
}

impl DatabaseFronts for LocalDatabases {
    fn front_of(&self, host: &str, port: &str) -> Option<String> {
        self.front(host, port).map_err(|e| tracing::warn!("cannot start the auth front of {host}:{port}: {e}")).ok()
    }
}

impl Drop for LocalDatabases {
    fn drop(&mut self) {
        // Backstop for panics and early returns; `stop` is the normal path.
        if let Some(pgid) = self.pgid {
            signal_group(pgid, libc::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    /// The launcher's token check (emulator/rds_auth.py) accepts the token
    /// aws-sdk-rust's RDS signer makes in its own test, and refuses it once
    /// expired, for another user, or against another secret.
    #[test]
    fn the_launchers_token_check_reads_the_sdks_token_as_rds_does() {
        let script = r#"
import datetime, rds_auth
token = ("prod-instance.us-east-1.rds.amazonaws.com:3306/?Action=connect&DBUser=peccy&X-Amz-Algorithm=AWS4-HMAC-SHA256"
         "&X-Amz-Credential=akid%2F20240826%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Date=20240826T220000Z&X-Amz-Expires=900"
         "&X-Amz-SignedHeaders=host&X-Amz-Signature=dd0cba843009474347af724090233265628ace491ea17ce3eb3da098b983ad89")
host, signed = "prod-instance.us-east-1.rds.amazonaws.com", datetime.datetime(2024, 8, 26, 22, 0, tzinfo=datetime.timezone.utc)
def answer(user="peccy", secret="secret", after=5, port=3306):
    try:
        return rds_auth.check(token, host, port, user, "us-east-1", lambda key, session: secret, signed + datetime.timedelta(minutes=after))
    except rds_auth.Refused as refused:
        return str(refused)
print(answer())
print(answer(after=15))
print(answer(user="admin"))
print(answer(secret="other"))
print(answer(port=5432))
"#;
        let python = crate::target::moto::find_python(None);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("emulator");
        let output = std::process::Command::new(python).arg("-c").arg(script).current_dir(dir).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            lines,
            [
                "akid",
                "the token expired (RDS accepts one for 15 minutes)",
                "the token is not to connect as admin",
                "the token's signature does not match its credentials",
                "the token is for prod-instance.us-east-1.rds.amazonaws.com:3306, not prod-instance.us-east-1.rds.amazonaws.com:5432",
            ],
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
