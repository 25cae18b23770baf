//! The flow of a run: probe the target, then for each scenario (several at
//! once, each in its own working copy with its own name prefix):
//! working copy -> init -> apply -> outputs -> principals (instance profile
//! lookup, then IMDS; on a real account the instance itself, through SSM)
//! -> steps -> destroy. Destroy runs whatever happened after
//! apply began: a failed step, a failed apply, a panic, or Ctrl-C.
//! The runner emits events and returns data; it prints nothing. One
//! scenario's flow is [`scenario_run`].

mod scenario_run;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::access::SnapshotMode;
use crate::identity::CredentialSource;
use crate::kept::KeptScenario;
use crate::naming::PROBE_PREFIX;
use crate::report::{Event, RunReport, ScenarioReport, TargetReport};
use crate::scenario::Scenario;
use crate::target::{Consistency, Target, capabilities};
use crate::target_facts::Capabilities;
use crate::terraform::{Terraform, WorkingCopy};
use crate::timestamp::millis;
use crate::target_facts::Ground;
use scenario_run::ScenarioRun;

pub use crate::naming::ADMIN_PRINCIPAL;

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Scenarios applied at once.
    pub jobs: usize,
    /// UNVERIFIED steps (a target that cannot prove a denial) fail the run;
    /// otherwise they are reported, loudly, and the run passes without them.
    pub strict: bool,
    /// Cap on the lifetime of the instance credentials IMDS advertises.
    pub imds_lifetime: Option<Duration>,
    /// Destroy even on a target that dies with the run (to test the destroy too).
    pub always_destroy: bool,
    /// Overrides the target's own IAM propagation policy.
    pub consistency: Option<Consistency>,
    /// How instance steps reach a real instance (the aws target).
    pub ssm: SsmOptions,
    /// Keep each scenario's working copy and state for the next run (`--keep`,
    /// `watch`) instead of destroying it: see [`Runner::kept`].
    pub keep: bool,
    /// What an earlier probe of the same target found (a kept one): not probed again.
    pub probed: Option<(Capabilities, Vec<String>)>,
    /// Scenario name -> a step (a prefix of its name): once that step has not
    /// passed, the scenario stops there and is cleaned up. Mutation testing's
    /// catch: after it the rest of a mutant's scenario proves nothing more.
    pub stop_at: BTreeMap<String, String>,
    /// The access snapshot beside each scenario: checked when there is one, or written (`harness access --accept`).
    pub access: SnapshotMode,
    /// The Policy Simulator's third opinion: asked on AWS (unless off), or at a given endpoint on any target.
    pub simulator: SimulatorChoice,
}

/// Whether, and where, the IAM Policy Simulator is asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SimulatorChoice {
    /// On a real account only, at its IAM endpoint.
    #[default]
    OnAws,
    Off,
    /// At this endpoint, whatever the target.
    At(String),
}

/// On a real account the instance's steps run on it through SSM Run Command.
#[derive(Debug, Clone, Copy)]
pub struct SsmOptions {
    /// Attach AmazonSSMManagedInstanceCore to the instance's role while the
    /// steps run (off: the account lets agents register otherwise, e.g.
    /// Default Host Management Configuration).
    pub overlay: bool,
    /// How long the instance's agent may take to answer after apply.
    pub online_deadline: Duration,
}

impl Default for SsmOptions {
    fn default() -> Self {
        Self { overlay: true, online_deadline: Duration::from_secs(600) }
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { jobs: 3, strict: false, imds_lifetime: None, always_destroy: false, consistency: None, ssm: SsmOptions::default(), keep: false, probed: None, stop_at: BTreeMap::new(), access: SnapshotMode::Check, simulator: SimulatorChoice::OnAws }
    }
}

pub type EventSink<'a> = &'a (dyn Fn(Event<'_>) + Sync);

pub struct Runner {
    pub target: Arc<Target>,
    pub terraform: Terraform,
    pub options: RunOptions,
    pub cancel: CancellationToken,
    pub run_id: String,
    /// Scenarios a previous run kept: each reruns in its working copy, and
    /// (with `keep`) the run leaves its own here.
    pub kept: Mutex<BTreeMap<String, KeptScenario>>,
}

/// A short random id: part of every resource name, so runs never collide.
pub fn new_run_id() -> String {
    std::iter::repeat_with(|| {
        let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
        alphabet[fastrand::usize(..alphabet.len())] as char
    })
    .take(6)
    .collect()
}

/// `<scenario>-<run id>`: lowercase, hyphens, short enough for a bucket name.
pub fn name_prefix(scenario: &str, run_id: &str) -> String {
    let slug: String = scenario.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(24).collect();
    let slug = slug.trim_matches('-');
    let slug = if slug.is_empty() { "scenario" } else { slug };
    format!("{slug}-{run_id}")
}

impl Runner {
    pub async fn run(&self, scenarios: &[Scenario], events: EventSink<'_>) -> RunReport {
        let admin = self.target.admin_config().await;
        let probing = Instant::now();
        // AWS enforces by definition: probing it could only downgrade a verdict
        // (a fresh key still propagating, a sandbox role without iam:CreateUser).
        let (caps, notes) = match (self.target.profile.ground, &self.options.probed) {
            (_, Some((caps, notes))) => (*caps, capabilities::ProbeNotes(notes.clone())),
            (Ground::Aws, None) => (Capabilities::ENFORCED, capabilities::ProbeNotes(vec!["AWS enforces identity and trust policies by definition: not probed".into()])),
            (Ground::Emulator, None) => {
                let (mut caps, mut notes) = capabilities::probe(&admin, &self.target.endpoint, &self.target.admin.account_id, &format!("{PROBE_PREFIX}{}", self.run_id)).await;
                // Not probed: an account holds one Organization, and a probe's would stand in a config's way.
                caps.organization_policies = self.target.plays_organizations();
                if caps.organization_policies {
                    notes.0.push("SCPs and RCPs: the harness's launcher plays the scenario's Organization and enforces them (not probed: an account holds one Organization)".into());
                }
                caps.rds_iam_auth = self.target.plays_rds();
                if caps.rds_iam_auth {
                    notes.0.push("RDS IAM auth: a local PostgreSQL stands for each RDS instance, behind an auth front the launcher judges tokens for (not probed)".into());
                }
                (caps, notes)
            }
        };
        let target = TargetReport {
            description: self.target.description.clone(),
            capabilities: caps,
            evaluation: self.target.profile.evaluation.to_string(),
            probe_notes: notes.0,
            probe_ms: millis(probing.elapsed()),
        };
        events(Event::TargetReady(&target));

        let reports: Vec<ScenarioReport> = futures_util::stream::iter(scenarios.iter().map(|s| ScenarioRun::new(self, s, caps, events).run()))
            .buffered(self.options.jobs.max(1))
            .collect()
            .await;
        let passed = !reports.is_empty() && reports.iter().all(|r| r.passed);
        RunReport { schema_version: crate::report::SCHEMA_VERSION, run_id: self.run_id.clone(), target, scenarios: reports, passed, strict: self.options.strict, interrupted: self.cancel.is_cancelled(), left_out: Vec::new() }
    }

    /// The end of what the runs kept (the watch's end): destroyed where the
    /// target outlives the harness, then the working copies removed. The
    /// destroys that fail are returned (their copies stay, with their state).
    pub async fn discard_kept(&self) -> Vec<String> {
        let kept = std::mem::take(&mut *self.kept.lock().unwrap_or_else(|p| p.into_inner()));
        let mut failures = Vec::new();
        for (name, scenario) in kept {
            let copy = WorkingCopy::adopt(&self.terraform, (&scenario.root, &scenario.dir), scenario.copied, &self.target.provider_target(), None);
            if self.target.profile.outlives_run
                && let Err(err) = copy.destroy().await
            {
                failures.push(format!("{name}: {err}; finish with: {}", copy.destroy_hint()));
                continue;
            }
            let _ = std::fs::remove_dir_all(copy.root());
        }
        failures
    }

    fn consistency(&self) -> Consistency {
        self.options.consistency.unwrap_or_else(|| self.target.profile.consistency)
    }

    /// What the workload's IMDS endpoint serves: the target's credentials for the instance.
    fn instance_credentials_source(&self, instance_id: &str) -> CredentialSource {
        let target = self.target.clone();
        let instance_id = instance_id.to_string();
        Arc::new(move || {
            let target = target.clone();
            let instance_id = instance_id.clone();
            Box::pin(async move { target.instance_credentials(&instance_id).await.map_err(|e| e.to_string()) })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_bucket_safe_and_distinct_per_run() {
        let a = name_prefix("solution_demo_root_user", "abc123");
        assert_eq!(a, "solution-demo-root-user-abc123");
        assert!(a.len() <= 38);
        assert_ne!(name_prefix("x", &new_run_id()), name_prefix("x", &new_run_id()));
        assert_eq!(name_prefix("__", "r1"), "scenario-r1");
        assert!(name_prefix("A Very Long Scenario Name With Spaces", "r").len() <= 38);
    }
}
