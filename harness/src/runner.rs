//! The flow of a run: probe the target, then for each scenario (several at
//! once, each in its own working copy with its own name prefix):
//! working copy -> init -> apply -> outputs -> principals (instance profile
//! lookup, then IMDS; on a real account the instance itself, through SSM)
//! -> steps -> destroy. Destroy runs whatever happened after
//! apply began: a failed step, a failed apply, a panic, or Ctrl-C.
//! The runner emits events and returns data; it prints nothing.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use futures_util::{FutureExt, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::identity::{self, CredentialSource, ImdsServer};
use crate::on_instance::overlay::{self, Overlay};
use crate::on_instance::{Shell, script::Workspace, ssm::Ssm};
use crate::report::{Cleanup, Event, PhaseReport, RunReport, ScenarioError, ScenarioReport, StepReport, TargetReport};
use crate::timestamp::millis;
use crate::scenario::{Action, Expectation, PrincipalSource, Scenario, Stage};
use crate::phase::Phase;
use crate::policy::{self, Because};
use crate::prediction::Predictor;
use crate::call::Call;
use crate::naming::{HARNESS_TAG_KEY, HARNESS_TAG_VALUE, PROBE_PREFIX, RUN_TAG, SCENARIO_TAG};
use crate::outcome::{self, Observed, Performed};
use crate::steps::{self, Principal};
use crate::verdict::{self, Evidence, Ground, Verdict};
use crate::target::{Capabilities, Consistency, Target, capabilities};
use crate::terraform::{self, RunVariables, Terraform, WorkingCopy};

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
        Self { jobs: 3, strict: false, imds_lifetime: None, always_destroy: false, consistency: None, ssm: SsmOptions::default() }
    }
}

pub type EventSink<'a> = &'a (dyn Fn(Event<'_>) + Sync);

pub struct Runner {
    pub target: Arc<Target>,
    pub terraform: Terraform,
    pub options: RunOptions,
    pub cancel: CancellationToken,
    pub run_id: String,
}

/// A principal a step can act as: its credentials, and who it is (its
/// session ARN, which the policy evaluator predicts for).
struct Known {
    principal: Principal,
    arn: String,
}

/// What a step asks, whether the scenario wrote it or the harness added it.
struct StepInput<'a> {
    name: String,
    /// The stage's config name, in a chain.
    stage: Option<String>,
    principal: &'a str,
    call: &'a Call,
    expect: Expectation,
    because: Option<Because>,
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
        let (caps, notes) = match self.target.ground() {
            Ground::Aws => (Capabilities::ENFORCED, capabilities::ProbeNotes(vec!["AWS enforces identity and trust policies by definition: not probed".into()])),
            Ground::Emulator => {
                capabilities::probe(&admin, &self.target.endpoint, &self.target.admin.account_id, &format!("{PROBE_PREFIX}{}", self.run_id)).await
            }
        };
        let target = TargetReport {
            description: self.target.description.clone(),
            capabilities: caps,
            evaluation: self.target.evaluation().to_string(),
            probe_notes: notes.0,
            probe_ms: millis(probing.elapsed()),
        };
        events(Event::TargetReady(&target));

        let reports: Vec<ScenarioReport> = futures_util::stream::iter(scenarios.iter().map(|s| self.run_scenario(s, caps, events)))
            .buffered(self.options.jobs.max(1))
            .collect()
            .await;
        let passed = !reports.is_empty() && reports.iter().all(|r| r.passed);
        RunReport { schema_version: crate::report::SCHEMA_VERSION, run_id: self.run_id.clone(), target, scenarios: reports, passed, strict: self.options.strict }
    }

    async fn run_scenario(&self, scenario: &Scenario, caps: Capabilities, events: EventSink<'_>) -> ScenarioReport {
        let prefix = name_prefix(&scenario.name, &self.run_id);
        events(Event::ScenarioStarted { scenario: &scenario.name, prefix: &prefix });
        let mut report = ScenarioReport {
            name: scenario.name.clone(),
            config: scenario.config_label(),
            passed: false,
            error: None,
            cleanup: Cleanup::NothingApplied,
            phases: Vec::new(),
            steps: Vec::new(),
        };
        let fail = |report: &mut ScenarioReport, phase: Phase, message: String| {
            report.error = Some(ScenarioError { phase, message });
        };

        if let Err(err) = scenario.check_outputs(terraform::declared_outputs) {
            fail(&mut report, Phase::Config, err.to_string());
            return self.finish(report, events);
        }
        let vars = RunVariables {
            name_prefix: prefix.clone(),
            region: self.target.endpoint.region.clone(),
            tags: BTreeMap::from([
                (HARNESS_TAG_KEY.to_string(), HARNESS_TAG_VALUE.to_string()),
                (RUN_TAG.to_string(), self.run_id.clone()),
                (SCENARIO_TAG.to_string(), scenario.name.clone()),
            ]),
        };
        let mut copy = match WorkingCopy::create(&self.terraform, &scenario.stages[0].config, &self.target.provider_target(), &vars) {
            Ok(copy) => copy,
            Err(err) => {
                fail(&mut report, Phase::Config, err.to_string());
                return self.finish(report, events);
            }
        };
        if let Err(err) = self.phase(&mut report, Phase::Init, events, copy.init(&self.cancel)).await {
            fail(&mut report, Phase::Init, err.to_string());
            return self.finish(report, events);
        }

        // From the first apply on something may exist on the target: the
        // cleanup below runs whatever happens in the stages.
        let chain = scenario.stages.len() > 1;
        // Sessions saved by AssumeRole steps stay usable in later stages.
        let mut principals: BTreeMap<String, Known> = BTreeMap::new();
        // The SSM overlay of the stage running (aws target): removed after its steps, whatever happened.
        let mut overlays: Vec<Overlay> = Vec::new();
        for (index, stage) in scenario.stages.iter().enumerate() {
            let stage_name = chain.then(|| stage.config_name());
            if index > 0
                && let Err(err) = copy.use_config(&stage.config)
            {
                fail(&mut report, Phase::Apply(stage_name), err.to_string());
                break;
            }
            if let Err(err) = self.phase(&mut report, Phase::Apply(stage_name.clone()), events, copy.apply(&self.cancel)).await {
                fail(&mut report, Phase::Apply(stage_name), err.to_string());
                break;
            }
            let outputs = match self.phase(&mut report, Phase::Outputs(stage_name.clone()), events, copy.outputs(&self.cancel)).await {
                Ok(outputs) => outputs,
                Err(err) => {
                    fail(&mut report, Phase::Outputs(stage_name), err.to_string());
                    break;
                }
            };
            let started = Instant::now();
            let steps_phase = Phase::Steps(stage_name);
            events(Event::PhaseStarted { scenario: &scenario.name, phase: &steps_phase });
            let body = AssertUnwindSafe(self.run_stage(scenario, stage, &outputs, &mut principals, &mut overlays, caps, &mut report, events)).catch_unwind().await;
            let outcome = match body {
                Ok(result) => result,
                Err(_) => Err("the harness panicked while running the steps (see stderr)".to_string()),
            };
            let ok = outcome.is_ok();
            self.record_phase(&mut report, steps_phase.clone(), started.elapsed(), ok, events);
            let removed = self.remove_overlays(&mut overlays, &mut report, events).await;
            if let Err(message) = outcome {
                fail(&mut report, steps_phase, message);
                break;
            }
            if let Err(message) = removed {
                fail(&mut report, Phase::SsmOverlayRemoved, message);
                break;
            }
        }

        report.cleanup = self.clean_up(copy, &mut report, events).await;
        self.finish(report, events)
    }

    /// Destroy what was applied, unless the target dies with the run (the
    /// embedded emulator: its end is the cleanup, and a resource-by-resource
    /// destroy would only cost time). A failed destroy keeps the state.
    async fn clean_up(&self, copy: WorkingCopy, report: &mut ScenarioReport, events: EventSink<'_>) -> Cleanup {
        if !self.target.outlives_run() && !self.options.always_destroy {
            return Cleanup::TargetEnded;
        }
        match self.phase(report, Phase::Destroy, events, copy.destroy()).await {
            Ok(_) => Cleanup::Destroyed,
            Err(err) => {
                let error = err.to_string();
                let command = copy.destroy_hint();
                let dir = copy.keep();
                Cleanup::Kept { dir: dir.display().to_string(), command, error }
            }
        }
    }

    fn finish(&self, mut report: ScenarioReport, events: EventSink<'_>) -> ScenarioReport {
        let steps_ok = !report.steps.is_empty()
            && report.steps.iter().all(|s| s.verdict == Verdict::Pass || (s.verdict == Verdict::Unverified && !self.options.strict));
        report.passed = report.error.is_none() && steps_ok && !matches!(report.cleanup, Cleanup::Kept { .. });
        events(Event::ScenarioFinished(&report));
        report
    }

    async fn phase<T, E>(&self, report: &mut ScenarioReport, name: Phase, events: EventSink<'_>, work: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        events(Event::PhaseStarted { scenario: &report.name, phase: &name });
        let started = Instant::now();
        let result = work.await;
        self.record_phase(report, name, started.elapsed(), result.is_ok(), events);
        result
    }

    fn record_phase(&self, report: &mut ScenarioReport, name: Phase, elapsed: Duration, ok: bool, events: EventSink<'_>) {
        let phase = PhaseReport { name, latency_ms: millis(elapsed), ok };
        events(Event::PhaseFinished { scenario: &report.name, phase: &phase });
        report.phases.push(phase);
    }

    /// One stage: read the outputs, give every principal its credentials
    /// (instance principals are looked up again, sessions carry over), run
    /// the stage's steps.
    // The scenario's state travels as separate borrows (principals and report are mutated).
    #[allow(clippy::too_many_arguments)]
    async fn run_stage(
        &self,
        scenario: &Scenario,
        stage: &Stage,
        outputs: &BTreeMap<String, String>,
        principals: &mut BTreeMap<String, Known>,
        overlays: &mut Vec<Overlay>,
        caps: Capabilities,
        report: &mut ScenarioReport,
        events: EventSink<'_>,
    ) -> Result<(), String> {
        let admin = self.target.admin_config().await;
        let stage_name = (scenario.stages.len() > 1).then(|| stage.config_name());
        // This stage's policies, read once it is applied: what AWS should answer.
        let predictor = Predictor::new(&admin, &self.target.admin.account_id, self.target.admin.partition());

        // Kept alive for the whole scenario: the workload reads them on refresh.
        let mut imds_servers: Vec<ImdsServer> = Vec::new();

        for (name, PrincipalSource::Instance { instance, role }) in &scenario.principals {
            // Looked up afresh: a stage whose lookup fails never acts as the previous stage's role.
            principals.remove(name);
            let instance_id = instance.render(outputs).map_err(|o| format!("unknown output `{o}`"))?;
            let expect_role = role.as_ref().map(|r| r.render(outputs)).transpose().map_err(|o| format!("unknown output `{o}`"))?;
            let call = Call::InstanceProfileRole { instance_id: instance_id.clone(), expect_role };
            let performed = steps::perform_consistently(&call, &Principal::Sdk(Box::new(admin.clone())), Expectation::Allowed, self.consistency()).await;
            let step_name = format!("{name} is the role of instance {instance_id}'s profile");
            let lookup = StepInput { name: step_name, stage: stage_name.clone(), principal: ADMIN_PRINCIPAL, call: &call, expect: Expectation::Allowed, because: None };
            let verdict = self.record_step(report, events, &lookup, &performed, Err("the harness's own lookup, made as the admin".into()), &caps);
            let (Verdict::Pass, Some(role_name)) = (verdict, performed.role_name) else { continue };
            // The instance's session, as EC2 names it: assumed-role/<role>/<instance id>.
            let arn = predictor.session_arn(&role_name, &instance_id);
            let principal = if self.target.workload_on_instance() {
                Principal::OnInstance(self.reach_instance(&admin, &instance_id, &role_name, overlays, report, events).await?)
            } else {
                let imds = ImdsServer::start(role_name, self.instance_credentials_source(&instance_id), self.options.imds_lifetime)
                    .await
                    .map_err(|e| format!("cannot start the IMDS endpoint: {e}"))?;
                let principal = Principal::Sdk(Box::new(imds.workload_config(&self.target.endpoint).await));
                imds_servers.push(imds);
                principal
            };
            principals.insert(name.clone(), Known { principal, arn });
        }

        for step in &stage.steps {
            if self.cancel.is_cancelled() {
                return Err("interrupted (Ctrl-C)".into());
            }
            let call = Call::from_action(&step.action, outputs).map_err(|o| format!("unknown output `{o}`"))?;
            let acting = principals.get(&step.principal);
            let predicted = match acting {
                Some(known) => predictor.predict(&call, &known.arn).await,
                None => Err(format!("principal `{}` has no credentials", step.principal)),
            };
            let performed = match acting {
                Some(known) => steps::perform_consistently(&call, &known.principal, step.expect, self.consistency()).await,
                None => Performed::new(
                    Observed::Error {
                        code: "NoCredentials".into(),
                        message: format!("principal `{}` has no credentials: the step that provides them did not pass", step.principal),
                    },
                    Duration::ZERO,
                ),
            };
            let input = StepInput { name: step.name.clone(), stage: stage_name.clone(), principal: &step.principal, call: &call, expect: step.expect, because: step.because };
            self.record_step(report, events, &input, &performed, predicted, &caps);
            if let (Action::AssumeRole { save_as, .. }, Call::AssumeRole { role_arn, session_name }) = (&step.action, &call) {
                // A session made here is used here; one made on the instance stays there.
                let saved = match (&performed.session, &performed.session_on_instance, principals.get(&step.principal).map(|k| &k.principal)) {
                    (Some(session), _, _) => Some(Principal::Sdk(Box::new(identity::session_config(&self.target.endpoint, session).await))),
                    (None, Some(file), Some(Principal::OnInstance(shell))) => Some(Principal::OnInstance(shell.with_session(file.clone()))),
                    _ => None,
                };
                // Only a session that passed its checks (a session of the role asked for) acts later.
                match (saved, outcome::expected_session_arn(role_arn, session_name)) {
                    (Some(principal), Some(arn)) if performed.mismatch.is_none() => {
                        principals.insert(save_as.clone(), Known { principal, arn });
                    }
                    _ => {
                        principals.remove(save_as);
                    }
                }
            }
        }
        drop(imds_servers);
        Ok(())
    }

    fn record_step(
        &self,
        report: &mut ScenarioReport,
        events: EventSink<'_>,
        input: &StepInput<'_>,
        performed: &Performed,
        predicted: Result<policy::Reason, String>,
        caps: &Capabilities,
    ) -> Verdict {
        let call = input.call;
        let judged = verdict::decide(&Evidence {
            expect: input.expect,
            because: input.because,
            performed,
            enforced: call.denial_verifiable(caps),
            predicted: predicted.as_ref().ok(),
            ground: self.target.ground(),
        });
        let (prediction, prediction_error) = match predicted {
            Ok(reason) => (Some(reason), None),
            Err(why) => (None, Some(why)),
        };
        let step = StepReport {
            name: input.name.clone(),
            stage: input.stage.clone(),
            principal: input.principal.into(),
            action: call.action_name().into(),
            expected: input.expect,
            because: input.because,
            observed: performed.observed.label().into(),
            error_code: performed.observed.error_code().map(str::to_string),
            verdict: judged.verdict,
            latency_ms: millis(performed.latency),
            attempts: performed.attempts,
            propagation_ms: performed.propagation.map(millis),
            on_instance: performed.on_instance.clone(),
            command: performed.command.clone().unwrap_or_else(|| call.cli()),
            detail: performed.detail.clone(),
            why: judged.reason,
            predicted: prediction.as_ref().map(|r| r.decision),
            reason: prediction,
            prediction_error,
            warning: judged.warning,
        };
        events(Event::StepFinished { scenario: &report.name, step: &step });
        report.steps.push(step);
        judged.verdict
    }

    /// Make the instance reachable by SSM Run Command: the overlay on its
    /// role (unless turned off), then wait for its agent to answer.
    // The scenario's state travels as separate borrows, as in run_stage.
    #[allow(clippy::too_many_arguments)]
    async fn reach_instance(
        &self,
        admin: &SdkConfig,
        instance_id: &str,
        role_name: &str,
        overlays: &mut Vec<Overlay>,
        report: &mut ScenarioReport,
        events: EventSink<'_>,
    ) -> Result<Shell, String> {
        if self.options.ssm.overlay {
            let added = self.phase(report, Phase::SsmOverlay(role_name.to_string()), events, overlay::add(admin, role_name, &self.target.admin.arn)).await;
            let added = added.map_err(|e| format!("cannot attach {} to {role_name} (for SSM Run Command): {}: {}", overlay::POLICY_NAME, e.code(), e.message()))?;
            overlays.push(added);
        }
        let ssm = Arc::new(Ssm::new(admin, instance_id));
        let online = ssm.wait_online(self.options.ssm.online_deadline, &self.cancel);
        self.phase(report, Phase::SsmOnline(instance_id.to_string()), events, online).await.map_err(|e| e.to_string())?;
        Ok(Shell::new(ssm, Workspace::new(&self.run_id, &self.target.endpoint.region)))
    }

    /// Detach the stage's SSM overlays (before the next stage's apply or the destroy).
    async fn remove_overlays(&self, overlays: &mut Vec<Overlay>, report: &mut ScenarioReport, events: EventSink<'_>) -> Result<(), String> {
        if overlays.is_empty() {
            return Ok(());
        }
        let admin = self.target.admin_config().await;
        let pending = std::mem::take(overlays);
        let removal = async {
            let mut failures = Vec::new();
            for overlay in &pending {
                if let Err(err) = overlay.remove(&admin).await {
                    failures.push(format!("cannot detach {} from {}: {}: {}", overlay.policy_arn, overlay.role_name, err.code(), err.message()));
                }
            }
            if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
        };
        self.phase(report, Phase::SsmOverlayRemoved, events, removal).await
    }

    fn consistency(&self) -> Consistency {
        self.options.consistency.unwrap_or_else(|| self.target.consistency())
    }

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
