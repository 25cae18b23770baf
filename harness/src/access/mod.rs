//! Who else can reach it: the access of a whole applied config, not only
//! the paths a scenario's steps walk. The flow: the state files ->
//! [`inventory`] (roles, users, providers, buckets and their policies) ->
//! [`paths`] (every hop decided by the policy evaluator, then the
//! transitive closure) -> [`snapshot`] lines compared with the one beside
//! the scenario.
//!
//! What it sees: IAM roles (trust, inline, attached and boundary policies,
//! tags), users and their groups (and the federated users a resource policy
//! names, as the users allowed to make them), OIDC and SAML providers, buckets and
//! their policies and Block Public Access, KMS keys and their key
//! policies, an Organization's SCPs and RCPs on its root and accounts, as
//! the configs' state holds them; the actions
//! `sts:AssumeRole*`, `s3:ListBucket`, `s3:GetObject`, `s3:PutObject`,
//! `kms:Encrypt`, `kms:Decrypt` and `kms:GenerateDataKey`. What it does
//! not: other actions and services, managed policies no state holds
//! (AWS-managed ones: said in `unseen`), accounts outside the scenario
//! beyond what a policy names, an Organization's OUs, KMS grants,
//! session policies and session tags
//! passed along a chain, and a Deny that a request could escape by
//! carrying a key (`StringNotEquals` on an absent key counts as denying).

pub mod edge;
pub mod inventory;
pub mod paths;
pub mod snapshot;
pub mod synthetic;
pub mod walk;

use std::collections::BTreeSet;
use std::path::{Path as FsPath, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use inventory::{AccountNames, Inventory, InventoryError};
pub use snapshot::{Diff, Line};
pub use walk::{Proof, Walk, Walker};

/// What to do with the snapshot beside a scenario.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Compare with it when there is one (every run).
    #[default]
    Check,
    /// Analyse every scenario, and compare with its snapshot where there is one (`harness access`).
    Show,
    /// Write what the config opens as the snapshot (`harness access --accept`).
    Accept,
}

/// One path as reports show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathReport {
    pub path: String,
    /// Its principal, roles and bucket, as named in `path`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub places: Vec<String>,
    /// What leads to each place after the first (AssumeRole and its conditions, the bucket's actions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    pub statements: Vec<String>,
    /// Entered by chaining roles: each session lasts at most one hour.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub chained: bool,
    /// Walked on the target, or why it was not.
    #[serde(flatten)]
    pub proof: Proof,
    /// How to walk it (None: it cannot be walked; `proof` says why).
    #[serde(skip)]
    pub walk: Option<Walk>,
}

/// The access analysis of one scenario's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessReport {
    /// The snapshot file compared with (or written).
    pub snapshot: String,
    pub paths: Vec<PathReport>,
    /// None: there was no snapshot to compare with.
    pub diff: Option<Diff>,
    /// The snapshot was written from this run (`--accept`).
    pub accepted: bool,
    /// What the analysis could not see.
    pub unseen: Vec<String>,
    /// Time the analysis itself took (reading the states aside).
    pub analysis_ms: f64,
}

impl AccessReport {
    /// The run passes the check: the snapshot holds exactly what the config opens (or was just written, or there is none).
    pub fn holds(&self) -> bool {
        self.accepted || self.diff.as_ref().is_none_or(Diff::is_empty)
    }

    pub fn proven(&self) -> usize {
        self.paths.iter().filter(|p| matches!(p.proof, Proof::Proven { .. })).count()
    }

    /// The paths walked whose calls the target refused, though the analysis says AWS allows them.
    pub fn refused(&self) -> impl Iterator<Item = &PathReport> {
        self.paths.iter().filter(|p| matches!(p.proof, Proof::Refused { .. }))
    }

    /// What to tell a person when the check fails: each path that differs, what opens it, what to do.
    pub fn failure(&self, scenario: &str) -> Option<String> {
        let diff = self.diff.as_ref().filter(|d| !d.is_empty())?;
        let mut text = String::new();
        for added in &diff.added {
            text.push_str(&format!("new path (not in {}): {added}\n", self.snapshot));
            for statement in self.paths.iter().find(|p| p.path == *added).map(|p| p.statements.as_slice()).unwrap_or_default() {
                text.push_str(&format!("    opened by {statement}\n"));
            }
        }
        for missing in &diff.missing {
            text.push_str(&format!("lost path (in {}, no longer opened): {missing}\n", self.snapshot));
        }
        text.push_str(&format!(
            "remedy: narrow or remove the statements that open a path nobody intended; if the change is intended, accept it: harness access --scenario {scenario} --accept"
        ));
        Some(text)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("cannot read the state file {path}: {source}")]
    State { path: String, source: std::io::Error },
    #[error("the state file {path} is not JSON: {source}")]
    NotJson { path: String, source: serde_json::Error },
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error("cannot read or write the snapshot {path}: {source}")]
    Snapshot { path: String, source: std::io::Error },
}

/// What one analysis needs: the state files, how accounts are named, the
/// run's name prefix (left out of the snapshot) and the configs (for file:line).
pub struct Subject<'a> {
    pub states: Vec<PathBuf>,
    pub accounts: AccountNames,
    pub prefix: Option<&'a str>,
    pub configs: Vec<PathBuf>,
}

/// The paths of the configs a subject applied, as snapshot lines, and what the analysis could not see.
pub fn analyse(subject: &Subject<'_>) -> Result<(Vec<Line>, Vec<String>, f64), AccessError> {
    let mut states = Vec::new();
    for path in &subject.states {
        let text = std::fs::read_to_string(path).map_err(|source| AccessError::State { path: path.display().to_string(), source })?;
        states.push(serde_json::from_str::<Value>(&text).map_err(|source| AccessError::NotJson { path: path.display().to_string(), source })?);
    }
    let started = Instant::now();
    let (lines, unseen) = lines_of(&states, &subject.accounts, subject.prefix, &snapshot::locator(&subject.configs))?;
    Ok((lines, unseen, started.elapsed().as_secs_f64() * 1000.0))
}

/// States -> inventory -> paths -> snapshot lines, and what the inventory could not see (named as the lines are).
fn lines_of(states: &[Value], accounts: &AccountNames, prefix: Option<&str>, locate: &dyn Fn(&str) -> Option<String>) -> Result<(Vec<Line>, Vec<String>), InventoryError> {
    let inventory = Inventory::from_states(states, accounts)?;
    let paths = paths::analyse(&inventory);
    let namer = snapshot::Namer::new(&inventory, accounts, prefix);
    let lines = snapshot::lines(&paths, &inventory, &namer, locate);
    let unseen = inventory.unseen.iter().map(|u| namer.text(u)).collect::<BTreeSet<_>>().into_iter().collect();
    Ok((lines, unseen))
}

/// `make bench`: the synthetic account of `roles` roles and `buckets`
/// buckets analysed (its inventory read, its paths found and named), with
/// how many snapshot lines it came to and the seconds it took.
pub fn bench_synthetic(roles: usize, buckets: usize) -> Result<(usize, f64), AccessError> {
    let state = synthetic::state(roles, buckets);
    let started = Instant::now();
    let (lines, _) = lines_of(&[state], &AccountNames::single(synthetic::account()), None, &|_| None)?;
    Ok((lines.len(), started.elapsed().as_secs_f64()))
}

/// Analyse, then compare with the scenario's snapshot or write it.
pub fn check(scenario: &str, scenario_path: &FsPath, subject: &Subject<'_>, mode: SnapshotMode) -> Result<AccessReport, AccessError> {
    let (lines, unseen, analysis_ms) = analyse(subject)?;
    let file = snapshot::path_of(scenario_path);
    let snapshot_error = |source| AccessError::Snapshot { path: file.display().to_string(), source };
    let (diff, accepted) = match mode {
        SnapshotMode::Accept => {
            std::fs::write(&file, snapshot::render(scenario, &lines)).map_err(snapshot_error)?;
            (None, true)
        }
        SnapshotMode::Check | SnapshotMode::Show => (snapshot::read(&file).map_err(snapshot_error)?.map(|held| Diff::between(&held, &lines)), false),
    };
    let paths = lines
        .into_iter()
        .map(|l| {
            let (walk, proof) = match l.walk {
                Ok(walk) => (Some(walk), Proof::predicted("not walked yet")),
                Err(why) => (None, Proof::Predicted { why }),
            };
            PathReport { path: l.text, places: l.places, links: l.links, statements: l.statements, chained: l.chained, proof, walk }
        })
        .collect();
    Ok(AccessReport { snapshot: file.display().to_string(), paths, diff, accepted, unseen, analysis_ms })
}

#[cfg(test)]
mod tests;
