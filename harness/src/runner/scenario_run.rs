//! One scenario as it runs: its accounts -> working copy -> init -> each stage (apply ->
//! outputs -> principals -> steps) -> cleanup. What a scenario carries
//! from stage to stage (its report, the sessions its steps saved, the SSM
//! overlays of the stage running) is the state of a [`ScenarioRun`]; each
//! method is one part of the flow.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use super::{EventSink, Runner, name_prefix};
use crate::identity::ImdsServer;
use crate::kept::KeptScenario;
use crate::naming::{HARNESS_TAG_KEY, HARNESS_TAG_VALUE, RUN_TAG, SCENARIO_TAG};
use crate::on_instance::overlay::Overlay;
use crate::outcome::{Observed, Performed};
use crate::phase::Phase;
use crate::policy::{self, Because, DeniedBy};
use crate::prediction::{Predictor, SessionFacts};
use crate::report::{Cleanup, Event, PhaseReport, ScenarioStop, ScenarioReport, StepReport};
use crate::scenario::{Expectation, NAME_PREFIX, PrincipalSource, Scenario, Stage, Step, Template, denied_by};
use crate::runner::SimulatorChoice;
use crate::saml_idp::IdentityProvider;
use crate::simulator::{Opinion, Simulator};
use crate::target::database::LocalDatabases;
use crate::service::{Call, Rendering, SamlRendering};
use crate::steps::{self, Principal};
use crate::target_facts::Capabilities;
use crate::target::ReachedAccount;
use crate::terraform::{self, RunVariables, WorkingCopy};
use crate::timestamp::millis;
use crate::verdict::{self, Evidence, Verdict};

mod access;
mod accounts;
mod principals;
mod side_stage;
mod walk;

/// A principal a step can act as: its credentials, and who it is (its
/// user or session ARN, and what its session carries: what the policy
/// evaluator predicts for).
struct Known {
    principal: Principal,
    arn: String,
    facts: SessionFacts,
    /// A provider principal: what it exchanges for sessions.
    provider: Option<Provider>,
}

/// A provider principal's kind: it exchanges what it issues.
enum Provider {
    /// An OIDC provider's issuer: its tokens.
    Oidc(String),
    /// A SAML provider: the responses the run's identity provider signs.
    Saml,
}

/// What a step did: a call, or a stage's apply as one of the principals.
enum Acted<'a> {
    Call(&'a Call),
    Apply { action: String, resource: Option<String>, command: String },
}

/// What a step asks, whether the scenario wrote it or the harness added it.
struct StepInput<'a> {
    name: String,
    /// The stage's config name, in a chain.
    stage: Option<String>,
    principal: &'a str,
    acted: Acted<'a>,
    expect: Expectation,
    because: Option<Because>,
    /// The statement an expected denial must come from.
    denied_by: Option<DeniedBy>,
    error_code: Option<String>,
    /// The principal the step makes available (an AssumeRole's `save_as`, an instance's role).
    yields: Option<String>,
    /// The Policy Simulator's answer, where it was asked.
    simulator: Option<Opinion>,
}

pub(super) struct ScenarioRun<'r> {
    runner: &'r Runner,
    scenario: &'r Scenario,
    caps: Capabilities,
    events: EventSink<'r>,
    report: ScenarioReport,
    /// Who can act: instance principals (looked up again in every stage)
    /// and the sessions AssumeRole steps saved (usable in later stages).
    principals: BTreeMap<String, Known>,
    /// The SSM overlays of the stage running (aws target): removed after its steps, whatever happened.
    overlays: Vec<Overlay>,
    /// The local IMDS endpoints of the last stage's workloads: alive until the access walks are made.
    imds: Vec<ImdsServer>,
    /// What the previous run kept of this scenario (`--reuse`, `watch`).
    kept: Option<KeptScenario>,
    /// Each stage's config fingerprint once applied (all of them: the run kept can skip them next time).
    applied: Vec<u64>,
    /// The last stage's outputs.
    outputs: BTreeMap<String, String>,
    /// The run's variables (name prefix, region, tags): each config gets those it declares.
    vars: Option<RunVariables>,
    /// The working copies of the stages applied as a principal (`apply_as`): destroyed first, as it.
    side_copies: Vec<WorkingCopy>,
    /// The scenario's accounts as the harness reaches them (empty: the target admin's own).
    accounts: Vec<ReachedAccount>,
    /// The identity provider of the scenario's SAML provider principals, if it has any.
    saml_idp: Option<IdentityProvider>,
    /// The local PostgreSQL standing for its RDS instances (an embedded target), if a step connects to one.
    databases: Option<LocalDatabases>,
    /// The Policy Simulator, where the run asks it.
    simulator: Option<Simulator>,
}

impl<'r> ScenarioRun<'r> {
    pub(super) fn new(runner: &'r Runner, scenario: &'r Scenario, caps: Capabilities, events: EventSink<'r>) -> Self {
        let report = ScenarioReport {
            name: scenario.name.clone(),
            config: scenario.config_label(),
            passed: false,
            error: None,
            cleanup: Cleanup::NothingApplied,
            phases: Vec::new(),
            steps: Vec::new(),
            accounts: BTreeMap::new(),
            interrupted: false,
            access: None,
        };
        // A kept copy that is gone (a cleaned /tmp) cannot be reused: start afresh.
        let kept = runner.kept.lock().unwrap_or_else(|p| p.into_inner()).remove(&scenario.name).filter(|k| k.dir.is_dir());
        Self { runner, scenario, caps, events, report, principals: BTreeMap::new(), overlays: Vec::new(), imds: Vec::new(), kept, applied: Vec::new(), outputs: BTreeMap::new(), vars: None, side_copies: Vec::new(), accounts: Vec::new(), saml_idp: None, databases: None, simulator: None }
    }

    /// The whole scenario. From the first apply on something may exist on
    /// the target: the cleanup runs whatever happens in the stages.
    pub(super) async fn run(mut self) -> ScenarioReport {
        let target = Arc::clone(&self.runner.target);
        let _turn = target.turn(self.scenario.organization.is_some()).await;
        // A kept scenario's resources keep their names: the same prefix.
        let prefix = self.kept.as_ref().map(|k| k.prefix.clone()).unwrap_or_else(|| name_prefix(&self.scenario.name, &self.runner.run_id));
        (self.events)(Event::ScenarioStarted { scenario: &self.scenario.name, prefix: &prefix });
        match self.set_up(prefix.clone()).await {
            Err(error) => self.report.error = Some(error),
            Ok(mut copy) => {
                self.report.error = match self.stages(&mut copy).await {
                    Ok(()) => self.access_phase(&copy, &prefix).await.err(),
                    Err(stop) => Some(stop),
                };
                self.report.cleanup = self.clean_up(copy, prefix).await;
            }
        }
        self.retire_organization().await;
        if let Some(databases) = self.databases.take() {
            databases.stop().await;
        }
        self.finish()
    }

    /// Check the outputs the steps name, make the working copy, init it.
    async fn set_up(&mut self, prefix: String) -> Result<WorkingCopy, ScenarioStop> {
        let runner = self.runner;
        let config_error = |err: &dyn std::fmt::Display| ScenarioStop { phase: Phase::Config, message: err.to_string() };
        self.scenario.check_outputs(terraform::declared_outputs).map_err(|e| config_error(&e))?;
        let tool_error = |err: &dyn std::fmt::Display| ScenarioStop { phase: Phase::Tools, message: err.to_string() };
        if self.scenario.principals.values().any(|p| matches!(p, PrincipalSource::SamlProvider { .. })) {
            let python = crate::target::moto::find_python(None);
            self.saml_idp = Some(IdentityProvider::start(&python, &prefix).map_err(|e| tool_error(&crate::sdk::error_chain(&e)))?);
        }
        self.databases = self.local_databases().await.map_err(|e| tool_error(&e))?;
        self.simulator = self.simulator().await;
        self.vars = Some(RunVariables {
            name_prefix: prefix,
            region: runner.target.endpoint.region.clone(),
            tags: BTreeMap::from([
                (HARNESS_TAG_KEY.to_string(), HARNESS_TAG_VALUE.to_string()),
                (RUN_TAG.to_string(), runner.run_id.clone()),
                (SCENARIO_TAG.to_string(), self.scenario.name.clone()),
            ]),
            extra: BTreeMap::new(),
            saml_metadata: self.saml_idp.as_ref().map(|idp| idp.metadata.clone()),
            saml_metadata_files: self.scenario.saml_metadata_files(),
        });
        self.reach_accounts().await?;
        let vars = self.vars_for(&self.scenario.stages[0]);
        let first = &self.scenario.stages[0].config;
        let target = self.provider_target();
        if let Some(kept) = &self.kept {
            // Initialised already: the current config over the kept state.
            let mut copy = WorkingCopy::adopt(&runner.terraform, (&kept.root, &kept.dir), kept.copied.clone(), &target, Some(&vars));
            copy.use_config(first).map_err(|e| config_error(&e))?;
            return Ok(copy);
        }
        let copy = WorkingCopy::create(&runner.terraform, first, &target, &vars).map_err(|e| config_error(&e))?;
        self.timed(Phase::Init(None), copy.init(&runner.cancel)).await?;
        Ok(copy)
    }

    /// The Policy Simulator: on a real account unless turned off, or at the endpoint the run names.
    async fn simulator(&self) -> Option<Simulator> {
        let target = &self.runner.target;
        let endpoint = match (&self.runner.options.simulator, target.profile.ground) {
            (SimulatorChoice::At(url), _) => Some(url.as_str()),
            (SimulatorChoice::OnAws, crate::target_facts::Ground::Aws) => None,
            _ => return None,
        };
        Some(Simulator::new(&target.admin_config().await, endpoint))
    }

    /// A local PostgreSQL for the database users the steps connect as, where the target's launcher judges tokens.
    async fn local_databases(&self) -> Result<Option<LocalDatabases>, crate::target::database::DatabaseError> {
        let users: std::collections::BTreeSet<String> = self
            .scenario
            .steps()
            .filter_map(|s| match &s.action {
                crate::service::Action::Rds(crate::service::rds::Rds::Connect { db_user, .. }) => Some(db_user.clone()),
                _ => None,
            })
            .collect();
        let users: Vec<String> = users.into_iter().collect();
        let target = &self.runner.target;
        match (users.is_empty() || !target.plays_rds(), &target.endpoint.url) {
            (false, Some(endpoint)) => Ok(Some(LocalDatabases::start(endpoint, &users).await?)),
            _ => Ok(None),
        }
    }

    /// The variables of a stage's config: the run's, and the stage's own.
    fn vars_for(&self, stage: &Stage) -> RunVariables {
        let mut vars = self.vars.clone().expect("set up before any stage");
        let ids = self.account_ids();
        vars.extra = stage.variables.iter().map(|(name, value)| (name.clone(), ids.substitute(value))).collect();
        vars
    }

    /// Each stage in turn: its config applied in place over the previous
    /// one's state (or, applied as a principal, in a copy of its own), then its steps.
    async fn stages(&mut self, copy: &mut WorkingCopy) -> Result<(), ScenarioStop> {
        let (runner, scenario) = (self.runner, self.scenario);
        for (index, stage) in scenario.stages.iter().enumerate() {
            let name = self.stage_name(stage);
            if stage.apply.as_principal.is_some() {
                let inherited = self.outputs.clone();
                if let Some(outputs) = self.side_stage(stage, name.clone(), &inherited).await? {
                    self.steps_phase(stage, &outputs, name.clone()).await?;
                }
                self.applied.push(0);
                self.stop_if_caught(name)?;
                continue;
            }
            if index > 0 {
                copy.set_variables(self.vars_for(stage));
                copy.use_config(&stage.config).map_err(|e| ScenarioStop { phase: Phase::Apply(name.clone()), message: e.to_string() })?;
            }
            let checking = Instant::now();
            let fingerprint = fingerprint(stage).map_err(|e| ScenarioStop { phase: Phase::Config, message: format!("cannot read {}: {e}", stage.config.display()) })?;
            let outputs = match self.unchanged(fingerprint) {
                Some(outputs) => {
                    self.record_phase(Phase::Unchanged(name.clone()), checking.elapsed(), true);
                    outputs
                }
                None => {
                    self.timed(Phase::Apply(name.clone()), copy.apply(&runner.cancel)).await?;
                    self.timed(Phase::Outputs(name.clone()), copy.outputs(&runner.cancel)).await?
                }
            };
            self.applied.push(fingerprint);
            self.outputs = outputs.clone();
            self.steps_phase(stage, &outputs, name.clone()).await?;
            self.stop_if_caught(name)?;
        }
        Ok(())
    }

    /// Stop after the step `RunOptions::stop_at` names for this scenario, once it has not passed.
    fn stop_if_caught(&self, stage: Option<String>) -> Result<(), ScenarioStop> {
        let Some(prefix) = self.runner.options.stop_at.get(&self.scenario.name) else { return Ok(()) };
        match self.report.steps.iter().find(|s| s.name.starts_with(prefix.as_str()) && s.verdict != Verdict::Pass) {
            Some(step) => Err(ScenarioStop { phase: Phase::Steps(stage), message: format!("stopped after `{}` ({}): the rest proves nothing more", step.name, step.verdict.label()) }),
            None => Ok(()),
        }
    }

    /// The kept outputs when a one-stage scenario's config is as it was last
    /// applied: no terraform call at all. A chain applies each stage again
    /// (the state is the last stage's, not the first's).
    fn unchanged(&self, fingerprint: u64) -> Option<BTreeMap<String, String>> {
        let kept = self.kept.as_ref()?;
        (self.scenario.stages.len() == 1 && kept.fingerprints == [fingerprint]).then(|| kept.outputs.clone())
    }

    /// A stage's principals and steps, as one phase. A panic in them fails
    /// the phase, and the stage's SSM overlays go whatever happened.
    async fn steps_phase(&mut self, stage: &Stage, outputs: &BTreeMap<String, String>, name: Option<String>) -> Result<(), ScenarioStop> {
        let phase = Phase::Steps(name);
        (self.events)(Event::PhaseStarted { scenario: &self.scenario.name, phase: &phase });
        let started = Instant::now();
        let outcome = AssertUnwindSafe(self.run_stage(stage, outputs))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err("the harness panicked while running the steps (see stderr)".to_string()));
        self.record_phase(phase.clone(), started.elapsed(), outcome.is_ok());
        let removed = self.remove_overlays().await;
        outcome.map_err(|message| ScenarioStop { phase, message })?;
        removed.map_err(|message| ScenarioStop { phase: Phase::SsmOverlayRemoved, message })
    }

    /// Give every principal its credentials, then run the stage's steps.
    async fn run_stage(&mut self, stage: &Stage, outputs: &BTreeMap<String, String>) -> Result<(), String> {
        let admin = self.default_admin().await;
        // This stage's policies, read once it is applied: what AWS should answer.
        let predictor = self.predictor(&admin);
        // Alive while the steps (and, after the last stage, the access walks) run: the workload
        // reads them on refresh. The previous stage's endpoints end before this stage's start.
        self.imds.clear();
        self.imds = self.stage_principals(&admin, &predictor, stage, outputs).await?;
        for step in &stage.steps {
            if self.runner.cancel.is_cancelled() {
                return Err("interrupted (Ctrl-C)".into());
            }
            self.run_step(step, stage, outputs, &predictor).await?;
        }
        Ok(())
    }

    /// One step: predicted, performed as its principal, judged, reported; an
    /// AssumeRole step's session is saved under its `save_as` name.
    async fn run_step(&mut self, step: &Step, stage: &Stage, outputs: &BTreeMap<String, String>, predictor: &Predictor) -> Result<(), String> {
        let known = self.principals.get(&step.principal);
        let issuer = known.and_then(|k| match &k.provider {
            Some(Provider::Oidc(issuer)) => Some(issuer.as_str()),
            _ => None,
        });
        let saml = match (known, &self.saml_idp) {
            (Some(Known { provider: Some(Provider::Saml), arn, .. }), Some(idp)) => Some(SamlRendering { provider_arn: arn, signer: idp }),
            _ => None,
        };
        let admin = &self.runner.target.admin;
        let databases = self.databases.as_ref().map(|d| d as &dyn crate::service::rds::DatabaseFronts);
        let rendering = Rendering { outputs, issuer, saml, account: Some((admin.partition(), &admin.account_id)), databases };
        let call = step.action.render(&rendering).map_err(unknown_output)?;
        let denied_by = self.denied_by(step.denied_by.as_ref(), outputs)?;
        let (predicted, performed) = match self.principals.get(&step.principal) {
            Some(known) => (
                predictor.predict(&call, &known.arn, &known.facts).await,
                steps::perform_consistently(&call, &known.principal, step.expect, self.runner.consistency()).await,
            ),
            None => (
                Err(format!("principal `{}` has no credentials", step.principal)),
                Performed::new(
                    Observed::Error {
                        code: "NoCredentials".into(),
                        message: format!("principal `{}` has no credentials: the step that provides them did not pass", step.principal),
                    },
                    Duration::ZERO,
                ),
            ),
        };
        let simulator = self.simulator_opinion(&call, &step.principal, &performed, predicted.as_ref().ok()).await;
        let input = StepInput {
            name: step.name.clone(),
            stage: self.stage_name(stage),
            principal: &step.principal,
            acted: Acted::Call(&call),
            expect: step.expect,
            because: step.because,
            denied_by,
            error_code: step.error_code.clone(),
            yields: step.action.save_as().map(str::to_string),
            simulator,
        };
        self.record_step(&input, &performed, predicted);
        if let Some(session) = call.new_session() {
            self.save_session(&step.principal, session.save_as, (session.role_arn, session.session_name, &session.params), &performed, session.federated).await;
        }
        Ok(())
    }

    /// The Policy Simulator's answer for a step, with a note where it differs from AWS's or the evaluator's.
    async fn simulator_opinion(&self, call: &Call, principal: &str, performed: &Performed, predicted: Option<&policy::Reason>) -> Option<Opinion> {
        let (simulator, known) = (self.simulator.as_ref()?, self.principals.get(principal)?);
        let mut opinion = simulator.opinion(call, &known.arn, &known.facts, self.runner.target.admin.partition()).await;
        let observed = match performed.observed {
            Observed::Allowed => Some(policy::Decision::Allow),
            Observed::Denied { .. } => Some(policy::Decision::Deny),
            Observed::Error { .. } => None,
        };
        opinion.note = crate::simulator::note(&opinion.answer, observed, predicted.map(|p| p.decision), opinion.caveat.as_deref());
        Some(opinion)
    }

    /// A `denied_by` named with the run's values (the outputs and `${name_prefix}`).
    fn denied_by(&self, written: Option<&DeniedBy<Template>>, outputs: &BTreeMap<String, String>) -> Result<Option<DeniedBy>, String> {
        let Some(written) = written else { return Ok(None) };
        let mut values = outputs.clone();
        if let Some(vars) = &self.vars {
            values.entry(NAME_PREFIX.to_string()).or_insert_with(|| vars.name_prefix.clone());
        }
        denied_by::render(written, &values).map(Some).map_err(unknown_output)
    }

    /// Judge a performed step against its prediction and the target's
    /// capabilities (the verdict table), and report it.
    fn record_step(&mut self, input: &StepInput<'_>, performed: &Performed, predicted: Result<policy::Reason, String>) -> Verdict {
        let (action, resource, command, enforced) = match &input.acted {
            Acted::Call(call) => (call.name().to_string(), call.resource(), call.cli(), call.denial_verifiable(&self.caps, predicted.as_ref().ok())),
            Acted::Apply { action, resource, command } => {
                let enforced = match self.caps.identity_policies && self.caps.trust_policies {
                    true => crate::service::identity_rules_enforced(&self.caps, predicted.as_ref().ok()),
                    false => Err("the target does not enforce identity and trust policies"),
                };
                (action.clone(), resource.clone(), command.clone(), enforced)
            }
        };
        let judged = verdict::decide(&Evidence {
            expect: input.expect,
            because: input.because,
            denied_by: input.denied_by.as_ref(),
            error_code: input.error_code.as_deref(),
            performed,
            enforced,
            predicted: predicted.as_ref().ok(),
            ground: self.runner.target.profile.ground,
        });
        let (prediction, prediction_error) = match predicted {
            Ok(reason) => (Some(reason), None),
            Err(why) => (None, Some(why)),
        };
        let step = StepReport {
            name: input.name.clone(),
            stage: input.stage.clone(),
            principal: input.principal.into(),
            action,
            resource,
            yields: input.yields.clone(),
            expected: input.expect,
            expected_error_code: input.error_code.clone(),
            because: input.because,
            denied_by: input.denied_by.clone(),
            observed: performed.observed.label().into(),
            error_code: performed.observed.error_code().map(str::to_string),
            verdict: judged.verdict,
            latency_ms: millis(performed.latency),
            attempts: performed.attempts,
            propagation_ms: performed.propagation.map(millis),
            on_instance: performed.on_instance.clone(),
            command: performed.command.clone().unwrap_or(command),
            detail: performed.detail.clone(),
            why: judged.reason,
            predicted: prediction.as_ref().map(|r| r.decision),
            reason: prediction,
            prediction_error,
            warning: judged.warning,
            simulator: input.simulator.clone(),
        };
        (self.events)(Event::StepFinished { scenario: &self.report.name, step: &step });
        self.report.steps.push(step);
        judged.verdict
    }

    /// Detach the stage's SSM overlays (before the next stage's apply or the destroy).
    async fn remove_overlays(&mut self) -> Result<(), String> {
        if self.overlays.is_empty() {
            return Ok(());
        }
        let admin = self.runner.target.admin_config().await;
        let pending = std::mem::take(&mut self.overlays);
        let removal = async {
            let mut failures = Vec::new();
            for overlay in &pending {
                if let Err(err) = overlay.remove(&admin).await {
                    failures.push(format!("cannot detach {} from {}: {}: {}", overlay.policy_arn, overlay.role_name, err.code(), err.message()));
                }
            }
            if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
        };
        self.phase(Phase::SsmOverlayRemoved, removal).await
    }

    /// Destroy what was applied, unless the target dies with the run (the
    /// embedded emulator: its end is the cleanup, and a resource-by-resource
    /// destroy would only cost time). A failed destroy keeps the state.
    async fn clean_up(&mut self, copy: WorkingCopy, prefix: String) -> Cleanup {
        // What a principal applied goes first, as that principal: it may stand on the chain's resources.
        if let Some(kept) = self.destroy_side_copies().await {
            return kept;
        }
        if self.runner.options.keep {
            return self.keep(copy, prefix);
        }
        if !self.runner.target.profile.outlives_run && !self.runner.options.always_destroy {
            return Cleanup::TargetEnded;
        }
        match self.phase(Phase::Destroy, copy.destroy()).await {
            Ok(_) => Cleanup::Destroyed,
            Err(err) => {
                let error = err.to_string();
                let command = copy.destroy_hint();
                let dir = copy.keep();
                Cleanup::Kept { dir: dir.display().to_string(), command, error }
            }
        }
    }

    /// Destroy what the `apply_as` stages applied (on a kept target too: the
    /// next run applies them afresh), unless the target dies with the run.
    /// A destroy that fails keeps its copy, said as the scenario's cleanup.
    async fn destroy_side_copies(&mut self) -> Option<Cleanup> {
        let destroys = self.runner.options.keep || self.runner.target.profile.outlives_run || self.runner.options.always_destroy;
        let copies = std::mem::take(&mut self.side_copies);
        for copy in copies.into_iter().rev() {
            if !destroys || copy.state_is_empty() {
                continue;
            }
            if let Err(err) = self.phase(Phase::Destroy, copy.destroy()).await {
                let command = copy.destroy_hint();
                let dir = copy.keep();
                return Some(Cleanup::Kept { dir: dir.display().to_string(), command, error: err.to_string() });
            }
        }
        None
    }

    /// Leave the working copy for the next run (`--keep`, `watch`). Its
    /// fingerprints only when every stage applied: otherwise the next run applies again.
    fn keep(&mut self, copy: WorkingCopy, prefix: String) -> Cleanup {
        let complete = self.applied.len() == self.scenario.stages.len();
        let copied = copy.copied().to_vec();
        let root = copy.root().to_path_buf();
        let dir = copy.hand_over();
        let kept = KeptScenario {
            root,
            dir: dir.clone(),
            copied,
            prefix,
            fingerprints: if complete { std::mem::take(&mut self.applied) } else { Vec::new() },
            outputs: std::mem::take(&mut self.outputs),
        };
        self.runner.kept.lock().unwrap_or_else(|p| p.into_inner()).insert(self.scenario.name.clone(), kept);
        Cleanup::Reusable { dir: dir.display().to_string() }
    }

    /// The scenario passes when nothing stopped it, every step passed (or is
    /// UNVERIFIED without --strict) and nothing was kept.
    fn finish(mut self) -> ScenarioReport {
        let strict = self.runner.options.strict;
        let report = &mut self.report;
        let steps_ok = !report.steps.is_empty() && report.steps.iter().all(|s| s.verdict == Verdict::Pass || (s.verdict == Verdict::Unverified && !strict));
        let access_ok = report.access.as_ref().is_none_or(crate::access::AccessReport::holds);
        report.passed = report.error.is_none() && steps_ok && access_ok && !matches!(report.cleanup, Cleanup::Kept { .. });
        report.interrupted = self.runner.cancel.is_cancelled() && !report.passed;
        (self.events)(Event::ScenarioFinished(&self.report));
        self.report
    }

    /// A phase whose failure stops the scenario, its error said as the phase's.
    async fn timed<T, E: std::fmt::Display>(&mut self, name: Phase, work: impl Future<Output = Result<T, E>>) -> Result<T, ScenarioStop> {
        self.phase(name.clone(), work).await.map_err(|e| ScenarioStop { phase: name, message: e.to_string() })
    }

    /// Run `work` as the phase `name`: its start and end are events, its time is reported.
    async fn phase<T, E>(&mut self, name: Phase, work: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        (self.events)(Event::PhaseStarted { scenario: &self.report.name, phase: &name });
        let started = Instant::now();
        let result = work.await;
        self.record_phase(name, started.elapsed(), result.is_ok());
        result
    }

    fn record_phase(&mut self, name: Phase, elapsed: Duration, ok: bool) {
        let phase = PhaseReport { name, latency_ms: millis(elapsed), ok };
        (self.events)(Event::PhaseFinished { scenario: &self.report.name, phase: &phase });
        self.report.phases.push(phase);
    }

    /// In a chain, the stage's config name (steps and phases carry it).
    fn stage_name(&self, stage: &Stage) -> Option<String> {
        (self.scenario.stages.len() > 1).then(|| stage.label())
    }
}

/// What a stage applies, as one number: its config's files and the values the stage gives its variables.
fn fingerprint(stage: &Stage) -> std::io::Result<u64> {
    use std::hash::Hasher;
    let mut hash = fnv::FnvHasher::default();
    hash.write_u64(terraform::fingerprint(&stage.config)?);
    for (name, value) in &stage.variables {
        hash.write(name.as_bytes());
        hash.write_u8(0);
        hash.write(value.as_bytes());
        hash.write_u8(0);
    }
    Ok(hash.finish())
}

fn unknown_output(name: String) -> String {
    format!("unknown output `{name}`")
}
