//! What a run found, as data: the report model (its JSON is a contract
//! other tools read) and the [`event`]s the runner emits as it goes. The
//! reporters (`crate::reporter`) render both; the runner knows no output format.

pub mod event;
pub mod merge;
#[cfg(test)]
pub(crate) mod fixture;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::phase::Phase;
use crate::policy::{Because, Decision, DeniedBy, Reason};
use crate::scenario::Expectation;
use crate::verdict::Verdict;
use crate::target_facts::{Capabilities, TargetDescription};

/// The JSON report's schema: 2 since steps carry `predicted` and `reason`
/// (an object; the verdict's own explanation moved to `why`); 3 since a
/// step may expect an error (`expected_error_code`, `predicted: "invalid"`)
/// and the capabilities name every probed rule.
pub const SCHEMA_VERSION: u32 = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// Always SCHEMA_VERSION: what a reader of the JSON checks first.
    pub schema_version: u32,
    pub run_id: String,
    pub target: TargetReport,
    pub scenarios: Vec<ScenarioReport>,
    pub passed: bool,
    /// Whether UNVERIFIED steps failed the run (--strict).
    pub strict: bool,
    /// Stopped by Ctrl-C.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The scenarios a whole run left out (on a real account), each with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<LeftOut>,
}

/// A scenario a run did not run, and why: said in every report, never silent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    pub name: String,
    pub why: String,
}

impl RunReport {
    /// The one mapping from a run's outcome to its exit code: a cleanup that
    /// kept state, then Ctrl-C, then success, then what stopped a scenario
    /// (terraform init or apply of any stage: 5; a tool a step needs: 3; a config: 8), else a step.
    pub fn exit_code(&self, interrupted: bool) -> i32 {
        use crate::exit_code::*;
        let stopped_in = |wanted: fn(&Phase) -> bool| self.scenarios.iter().any(|s| s.error.as_ref().is_some_and(|e| wanted(&e.phase)));
        if self.scenarios.iter().any(|s| matches!(s.cleanup, Cleanup::Kept { .. })) {
            CLEANUP_FAILED
        } else if interrupted {
            INTERRUPTED
        } else if self.passed {
            SUCCESS
        } else if stopped_in(Phase::is_terraform_apply) {
            APPLY_FAILED
        } else if stopped_in(|p| *p == Phase::Tools) {
            MISSING_TOOL
        } else if stopped_in(|p| *p == Phase::Config) {
            CONFIG_MISSING
        } else if stopped_in(|p| *p == Phase::Accounts) {
            CREDENTIALS
        } else if self.scenarios.iter().all(ScenarioReport::steps_passed) && self.scenarios.iter().any(|s| s.access.as_ref().is_some_and(|a| !a.holds())) {
            ACCESS_CHANGED
        } else {
            STEPS_FAILED
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetReport {
    #[serde(flatten)]
    pub description: TargetDescription,
    pub capabilities: Capabilities,
    /// Whose policy evaluation the target's answers come from.
    pub evaluation: String,
    pub probe_notes: Vec<String>,
    /// Time the capability probes took.
    pub probe_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioReport {
    pub name: String,
    pub config: String,
    pub passed: bool,
    /// Why the scenario stopped early (init/apply failure, interruption...).
    pub error: Option<ScenarioStop>,
    /// What happened to what was applied: destroyed, kept (with the folder), nothing applied.
    pub cleanup: Cleanup,
    pub phases: Vec<PhaseReport>,
    pub steps: Vec<StepReport>,
    /// The accounts it acted in (`[accounts]`): each name, and the id that played it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accounts: BTreeMap<String, String>,
    /// Stopped by Ctrl-C before its end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Who can reach what once its configs are applied, and how that compares with its snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<crate::access::AccessReport>,
}

impl ScenarioReport {
    /// Why a scenario that did not pass failed, in a few words; None when it
    /// passed or was interrupted (that is said instead). Without a stop, a
    /// failed or diverged step or a kept state, only --strict fails it: its
    /// UNVERIFIED steps.
    pub fn failed_because(&self) -> Option<String> {
        if self.passed || self.interrupted {
            return None;
        }
        let count = |verdict: Verdict| self.steps.iter().filter(|s| s.verdict == verdict).count();
        let steps = |n: usize| format!("{n} {}", if n == 1 { "step" } else { "steps" });
        let mut why = Vec::new();
        if let Some(stop) = &self.error {
            why.push(format!("{} failed", stop.phase));
        }
        match count(Verdict::Fail) {
            0 => {}
            n => why.push(format!("{} FAILED", steps(n))),
        }
        match count(Verdict::Diverged) {
            0 => {}
            n => why.push(format!("{} DIVERGED", steps(n))),
        }
        if let Some(diff) = self.access.as_ref().filter(|a| !a.holds()).and_then(|a| a.diff.as_ref()) {
            why.push(format!("access changed: {} new, {} lost paths", diff.added.len(), diff.missing.len()));
        }
        if matches!(self.cleanup, Cleanup::Kept { .. }) {
            why.push("cleanup incomplete".into());
        }
        if why.is_empty() {
            why.push(match count(Verdict::Unverified) {
                0 => "no step ran".to_string(),
                n => format!("{} NOT PROVEN, --strict", steps(n)),
            });
        }
        Some(why.join(", "))
    }

    /// No step failed or diverged (UNVERIFIED ones aside).
    pub fn steps_passed(&self) -> bool {
        self.steps.iter().all(|s| !matches!(s.verdict, Verdict::Fail | Verdict::Diverged))
    }

    /// Where an interrupted scenario stopped: the phase it was in.
    pub fn interrupted_in(&self) -> Option<String> {
        self.interrupted.then(|| match (&self.error, self.phases.last()) {
            (Some(stop), _) => stop.phase.to_string(),
            (None, Some(phase)) => phase.name.to_string(),
            (None, None) => "its start".to_string(),
        })
    }
}

/// Why a scenario stopped before its end: the phase, and what failed there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioStop {
    pub phase: Phase,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Cleanup {
    NothingApplied,
    Destroyed,
    /// The target died with the run (the embedded emulator): nothing outlives it.
    TargetEnded,
    /// Destroy failed: the working copy and its state are kept for the user.
    Kept { dir: String, command: String, error: String },
    /// Kept on purpose for the next run (`--keep`, `watch`), under a lease.
    Reusable { dir: String },
}

impl Cleanup {
    /// What happened to what was applied, for a person.
    pub fn summary(&self) -> String {
        match self {
            Cleanup::NothingApplied => "nothing applied".into(),
            Cleanup::Destroyed => "destroyed".into(),
            Cleanup::TargetEnded => "ended with the emulator".into(),
            Cleanup::Kept { dir, .. } => format!("KEPT in {dir}"),
            Cleanup::Reusable { dir } => format!("kept for the next run in {dir}"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseReport {
    pub name: Phase,
    pub latency_ms: f64,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepReport {
    pub name: String,
    /// In a chain, the stage (its config's name) the step ran in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    pub principal: String,
    pub action: String,
    /// What the call acts on: a bucket, a role's name, an instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The principal the step makes available: the session an AssumeRole
    /// saves, the role of an instance the harness looked up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yields: Option<String>,
    pub expected: Expectation,
    /// For expected = error: the code the scenario expects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_error_code: Option<String>,
    /// The reason the scenario asserts for an expected denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<Because>,
    /// For an expected denial: the statement the scenario says it comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied_by: Option<DeniedBy>,
    pub observed: String,
    pub error_code: Option<String>,
    pub verdict: Verdict,
    pub latency_ms: f64,
    /// Calls made for this step (>1 while waiting out IAM propagation).
    pub attempts: u32,
    /// For a step first denied then allowed: time from the first attempt to success.
    pub propagation_ms: Option<f64>,
    /// The instance the call was made on, by its aws CLI through SSM Run
    /// Command (latency_ms is then the CLI's time there); None: made by the harness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_instance: Option<String>,
    /// The aws CLI command that makes the same call (on an instance: the one it ran).
    pub command: String,
    /// What the call returned, as the aws CLI shows it (secrets redacted).
    pub detail: String,
    /// Why the verdict is not a plain pass.
    pub why: Option<String>,
    /// What the policy evaluator predicts AWS answers (None: see prediction_error).
    pub predicted: Option<Decision>,
    /// The prediction's reason: the deciding policy type, policy and statement.
    pub reason: Option<Reason>,
    /// Why there is no prediction (a policy the harness cannot read, the admin's own lookup).
    pub prediction_error: Option<String>,
    /// On AWS: the evaluator disagreed with the observation (which stands).
    pub warning: Option<String>,
    /// The IAM Policy Simulator's answer, where it was asked (a third opinion: it decides nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulator: Option<crate::simulator::Opinion>,
}

impl StepReport {
    /// What the scenario expected: `denied`, or `error (ValidationError)`.
    pub fn expected_text(&self) -> String {
        match &self.expected_error_code {
            Some(code) => format!("{} ({code})", self.expected),
            None => self.expected.to_string(),
        }
    }

    /// What the step observed, with the error code: `denied (AccessDenied)`.
    pub fn observed_with_code(&self) -> String {
        match &self.error_code {
            Some(code) => format!("{} ({code})", self.observed),
            None => self.observed.clone(),
        }
    }
}

pub use event::Event;

#[cfg(test)]
mod tests {
    use super::*;
    use super::fixture::sample;

    #[test]
    fn a_failed_apply_exits_5_in_any_stage_of_a_chain() {
        for phase in [Phase::Init(None), Phase::Apply(None), Phase::Apply(Some("solution_demo".into()))] {
            let mut report = sample();
            report.passed = false;
            report.scenarios[0].error = Some(ScenarioStop { phase: phase.clone(), message: "boom".into() });
            assert_eq!(report.exit_code(false), crate::exit_code::APPLY_FAILED, "{phase}");
        }
        let mut report = sample();
        report.passed = false;
        report.scenarios[0].error = Some(ScenarioStop { phase: Phase::Steps(Some("solution_demo".into())), message: "panic".into() });
        assert_eq!(report.exit_code(false), crate::exit_code::STEPS_FAILED);
        assert_eq!(sample().exit_code(true), crate::exit_code::INTERRUPTED);
        assert_eq!(sample().exit_code(false), crate::exit_code::SUCCESS);
    }

    #[test]
    fn a_kept_cleanup_and_unreachable_accounts_have_their_own_codes() {
        let mut kept = sample();
        kept.scenarios[0].cleanup = Cleanup::Kept { dir: "d".into(), command: "terraform destroy".into(), error: "e".into() };
        assert_eq!(kept.exit_code(true), crate::exit_code::CLEANUP_FAILED, "a kept cleanup wins even over an interruption");
        let mut accounts = sample();
        accounts.passed = false;
        accounts.scenarios[0].error = Some(ScenarioStop { phase: Phase::Accounts, message: "no access role".into() });
        assert_eq!(accounts.exit_code(false), crate::exit_code::CREDENTIALS);
        let mut config = sample();
        config.passed = false;
        config.scenarios[0].error = Some(ScenarioStop { phase: Phase::Config, message: "gone".into() });
        assert_eq!(config.exit_code(false), crate::exit_code::CONFIG_MISSING);
    }

    // A config that opens a path its snapshot does not hold fails with its own code, every step passing.
    #[test]
    fn a_changed_access_snapshot_exits_with_its_own_code_and_says_why() {
        let report = super::fixture::access_changed();
        assert_eq!(report.exit_code(false), crate::exit_code::ACCESS_CHANGED);
        assert_eq!(report.scenarios[0].failed_because().as_deref(), Some("access changed: 1 new, 1 lost paths"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["scenarios"][0]["access"]["diff"]["added"][0], "aws_iam_role.ci -> aws_iam_role.role2 -> aws_s3_bucket.bucket: s3:ListBucket");
        let failure = report.scenarios[0].access.as_ref().unwrap().failure("problem_demo").unwrap();
        assert!(failure.contains("new path (not in scenarios/problem_demo.access): aws_iam_role.ci -> ") && failure.contains("opened by statement 0 of aws_iam_role_policy.ci, main.tf:12"), "{failure}");
        assert!(failure.contains("lost path") && failure.contains("harness access --scenario problem_demo --accept"), "{failure}");
        // A failed step still decides: the steps are the scenario's own claims.
        let mut failed = report.clone();
        failed.scenarios[0].steps[0].verdict = Verdict::Fail;
        assert_eq!(failed.exit_code(false), crate::exit_code::STEPS_FAILED);
    }

    #[test]
    fn json_keeps_the_contract_names() {
        let json: serde_json::Value = serde_json::to_value(sample()).unwrap();
        assert_eq!(json["schema_version"], SCHEMA_VERSION);
        assert_eq!(json["passed"], true);
        for key in ["kind", "endpoint", "version"] {
            assert!(json["target"][key].is_string(), "target.{key}");
        }
        assert_eq!(json["target"]["capabilities"]["identity_policies"], true);
        assert_eq!(json["target"]["capabilities"]["trust_policies"], true);
        let scenario = &json["scenarios"][0];
        for key in ["name", "config"] {
            assert!(scenario[key].is_string(), "scenario.{key}");
        }
        assert_eq!(scenario["passed"], true);
        assert_eq!(scenario["phases"][0]["name"], "apply");
        assert!(scenario["phases"][0]["latency_ms"].is_number());
        let step = &scenario["steps"][0];
        assert_eq!(step["expected"], "denied");
        assert_eq!(step["observed"], "denied");
        assert_eq!(step["error_code"], "AccessDenied");
        assert_eq!(step["verdict"], "pass");
        assert_eq!(step["predicted"], "deny");
        assert_eq!(step["reason"]["decision"], "deny");
        assert_eq!(step["reason"]["policy_type"], "identity");
        for key in ["policy", "statement"] {
            assert!(step["reason"].get(key).is_some(), "step.reason.{key}");
        }
        for key in ["name", "principal", "action"] {
            assert!(step[key].is_string(), "step.{key}");
        }
        assert!(step["latency_ms"].is_number());
    }
}
