//! What a run keeps for the next one (`run --keep`, then `run --reuse`; and
//! `watch`, which keeps it in memory): each scenario's working copy with its
//! state, the name prefix its resources carry and its config's fingerprint,
//! so an unchanged config is not applied again and a changed one is applied
//! IN PLACE. On disk this is a lease: the kept emulator and scenarios, owned
//! by someone until an expiry that `--reuse` renews; the emulator ends itself
//! at the expiry (or when the lease file goes), and whatever finds an expired
//! lease removes what it names. The lease holds the emulator's admin key and
//! the scenarios' outputs, so its file is readable by its owner only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::exit_code;
use crate::target::KeptEmulator;
use crate::target_facts::Capabilities;

/// The lease file in the kept folder.
pub const LEASE_FILE: &str = "lease.json";
/// How long a kept target lives unless renewed.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(2 * 60 * 60);

/// One scenario as the last run left it.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeptScenario {
    /// The working copy's top folder (the local modules beside the root module).
    pub root: PathBuf,
    /// The root module in it, its state and `.terraform` included.
    pub dir: PathBuf,
    /// The config's entries in the copy (replaced by the next config).
    pub copied: Vec<PathBuf>,
    /// The name prefix its resources carry: the same on every rerun.
    pub prefix: String,
    /// Each stage's config fingerprint as last applied (see `terraform::fingerprint`).
    pub fingerprints: Vec<u64>,
    /// The last stage's outputs (a user's secret key among them, maybe).
    pub outputs: BTreeMap<String, String>,
}

impl std::fmt::Debug for KeptScenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeptScenario").field("dir", &self.dir).field("prefix", &self.prefix).field("fingerprints", &self.fingerprints).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lease {
    /// Who kept it: `user@host`, the harness's pid.
    pub owner: String,
    /// Seconds since the epoch; the launcher ends itself after it.
    pub expires_at: u64,
    /// The run id whose names the kept resources carry.
    pub run_id: String,
    pub emulator: KeptEmulator,
    /// What the probes found when it started (it does not change).
    pub capabilities: Capabilities,
    pub probe_notes: Vec<String>,
    pub scenarios: BTreeMap<String, KeptScenario>,
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("nothing is kept in {0}; run `harness run --keep` first")]
    NoLease(PathBuf),
    #[error("the kept target in {dir} expired at {at}; its emulator has ended: run `harness run --keep` again")]
    Expired { dir: PathBuf, at: String },
    #[error("the kept emulator at {endpoint} does not answer ({cause}); `harness release` removes what is left, then `harness run --keep`")]
    Gone { endpoint: String, cause: String },
    #[error("something is already kept in {dir} (until {until}, by {owner}); reuse it with --reuse, or end it with `harness release`")]
    Occupied { dir: PathBuf, until: String, owner: String },
    #[error("cannot read or write the lease {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the lease {path} is not one this harness wrote; `harness release` removes it")]
    Malformed {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl LeaseError {
    pub fn exit_code(&self) -> i32 {
        match self {
            LeaseError::NoLease(_) | LeaseError::Occupied { .. } => exit_code::USAGE,
            LeaseError::Expired { .. } | LeaseError::Gone { .. } => exit_code::TARGET,
            LeaseError::Io { .. } | LeaseError::Malformed { .. } => exit_code::IO,
        }
    }
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `2026-11-30T08:15:00Z`.
pub fn when(epoch_seconds: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(epoch_seconds as i64).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

pub fn owner() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "someone".into());
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "this machine".into());
    format!("{user}@{host}, harness pid {}", std::process::id())
}

impl Lease {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(LEASE_FILE)
    }

    /// The lease in `dir`, if there is one (expired or not).
    pub fn read(dir: &Path) -> Result<Option<Lease>, LeaseError> {
        let path = Self::path(dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|source| LeaseError::Malformed { path, source }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(LeaseError::Io { path, source }),
        }
    }

    pub fn expired(&self) -> bool {
        self.expires_at <= now()
    }

    /// Write it whole (a temporary file renamed over it), readable by its owner only.
    pub fn write(&self, dir: &Path) -> Result<(), LeaseError> {
        write_private(&Self::path(dir), &serde_json::to_vec_pretty(self).map_err(|e| LeaseError::Io { path: Self::path(dir), source: e.into() })?)
    }
}

/// The launcher's view of a lease before the run fills it in: only the expiry.
pub fn write_expiry(dir: &Path, expires_at: u64) -> Result<(), LeaseError> {
    write_private(&Lease::path(dir), serde_json::json!({ "expires_at": expires_at }).to_string().as_bytes())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), LeaseError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let wrap = |source| LeaseError::Io { path: path.to_path_buf(), source };
    let partial = path.with_extension("partial");
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&partial).map_err(wrap)?;
    file.write_all(bytes).map_err(wrap)?;
    std::fs::rename(&partial, path).map_err(wrap)
}

/// End what a lease names: the emulator's process group, its folder, the
/// kept working copies, the lease itself. What is already gone is fine.
pub fn release(dir: &Path, lease: Option<&Lease>) -> Result<(), LeaseError> {
    if let Some(lease) = lease {
        crate::process::signal_group(lease.emulator.pid, libc::SIGTERM);
        let _ = std::fs::remove_dir_all(&lease.emulator.dir);
        for scenario in lease.scenarios.values() {
            let _ = std::fs::remove_dir_all(&scenario.root);
        }
    }
    match std::fs::remove_dir_all(dir) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(LeaseError::Io { path: dir.to_path_buf(), source: err }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn lease(expires_at: u64) -> Lease {
        Lease {
            owner: owner(),
            expires_at,
            run_id: "abc123".into(),
            emulator: KeptEmulator {
                endpoint: "http://127.0.0.1:1".into(),
                pid: i32::MAX,
                dir: PathBuf::from("/nonexistent/harness-moto"),
                version: "5.2.5".into(),
                account_id: "123456789012".into(),
                admin_arn: "arn:aws:iam::123456789012:user/admin".into(),
                admin_access_key_id: "AKIAEXAMPLE".into(),
                admin_secret: Secret::new("the-admin-secret"),
            },
            capabilities: Capabilities::ENFORCED,
            probe_notes: vec![],
            scenarios: BTreeMap::new(),
        }
    }

    #[test]
    fn a_lease_reads_back_and_only_its_owner_can_read_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        assert!(Lease::read(dir.path()).unwrap().is_none());
        lease(now() + 60).write(dir.path()).unwrap();
        let read = Lease::read(dir.path()).unwrap().unwrap();
        assert_eq!(read.emulator.admin_secret.expose(), "the-admin-secret");
        assert!(!read.expired());
        assert!(lease(now() - 1).expired());
        let mode = std::fs::metadata(Lease::path(dir.path())).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        assert!(!format!("{read:?}").contains("the-admin-secret"));
    }

    #[test]
    fn release_removes_the_folder_and_is_fine_with_what_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("kept");
        std::fs::create_dir(&kept).unwrap();
        lease(now()).write(&kept).unwrap();
        release(&kept, Lease::read(&kept).unwrap().as_ref()).unwrap();
        assert!(!kept.exists());
        release(&kept, None).unwrap();
    }
}
