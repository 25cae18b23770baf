//! A stage applied as one of the scenario's principals (`apply_as`), in a
//! working copy of its own: that principal's credentials are terraform's, so
//! the config's provider `assume_role` (the deployer role's trust, its
//! external ID, its permissions) is what is tested. A refused apply
//! (`expect_apply = "denied"`) is the stage's step, judged by the verdict
//! table like any other: PASS only as AccessDenied (for the reason the
//! policy evaluator gives, when the stage asserts one).

use std::collections::BTreeMap;
use std::time::Instant;

use aws_credential_types::provider::ProvideCredentials;

use super::{Acted, ScenarioRun, StepInput};
use crate::outcome::{Observed, Performed};
use crate::phase::Phase;
use crate::policy;
use crate::refusal::{self, Refusal};
use crate::report::{Event, ScenarioStop};
use crate::scenario::{Expectation, Stage};
use crate::service::{Call, sts::Sts};
use crate::secret::Secret;
use crate::steps::Principal;
use crate::terraform::{ProviderTarget, WorkingCopy};

impl ScenarioRun<'_> {
    /// The stage's outputs over the inherited ones, to step through; None
    /// when its apply was refused (as expected or not: its step says which).
    pub(super) async fn side_stage(
        &mut self,
        stage: &Stage,
        name: Option<String>,
        inherited: &BTreeMap<String, String>,
    ) -> Result<Option<BTreeMap<String, String>>, ScenarioStop> {
        let principal = stage.apply.as_principal.clone().unwrap_or_default();
        let env = self.credentials_env(&principal).await.map_err(|message| ScenarioStop { phase: Phase::Apply(name.clone()), message })?;
        // The principal's own credentials reach whatever account its config's provider assumes into.
        let target = ProviderTarget { env, account_roles: BTreeMap::new(), ..self.runner.target.provider_target() };
        let copy = WorkingCopy::create(&self.runner.terraform, &stage.config, &target, &self.vars_for(stage))
            .map_err(|e| ScenarioStop { phase: Phase::Config, message: e.to_string() })?;
        let result = self.apply_side(&copy, stage, name, &principal).await;
        // What an apply that had to be refused created goes at once (a target that
        // enforces nothing applies it all), as the principal that applied it; the
        // rest at the end. A destroy that fails is tried again at the end.
        let gone = stage.apply.refused && (copy.state_is_empty() || self.phase(Phase::Destroy, copy.destroy()).await.is_ok());
        if !gone {
            self.side_copies.push(copy);
        }
        Ok(result?.map(|own| inherited.clone().into_iter().chain(own).collect()))
    }

    async fn apply_side(&mut self, copy: &WorkingCopy, stage: &Stage, name: Option<String>, principal: &str) -> Result<Option<BTreeMap<String, String>>, ScenarioStop> {
        let cancel = self.runner.cancel.clone();
        self.timed(Phase::Init(name.clone()), copy.init(&cancel)).await?;
        let phase = Phase::Apply(name.clone());
        (self.events)(Event::PhaseStarted { scenario: &self.scenario.name, phase: &phase });
        let started = Instant::now();
        let applied = copy.apply(&cancel).await;
        let elapsed = started.elapsed();
        // The phase is fine when the apply came to what the stage expects.
        self.record_phase(phase.clone(), elapsed, applied.is_ok() != stage.apply.refused);
        match (applied, stage.apply.refused) {
            (Ok(_), false) => Ok(Some(self.timed(Phase::Outputs(name), copy.outputs(&cancel)).await?)),
            (Err(err), false) => Err(ScenarioStop { phase, message: err.to_string() }),
            (applied, true) => {
                let failure = applied.err().map(|e| e.to_string());
                self.record_refusal(stage, principal, failure, elapsed).await;
                Ok(None)
            }
        }
    }

    /// A stage whose apply must be refused: its step, from what terraform said.
    async fn record_refusal(&mut self, stage: &Stage, principal: &str, failure: Option<String>, elapsed: std::time::Duration) {
        let refused = failure.as_deref().and_then(refusal::find);
        let observed = match (&refused, &failure) {
            (Some(r), _) => Observed::Denied { code: r.code.clone(), message: r.message.clone() },
            (None, Some(failure)) => Observed::Error { code: "ApplyFailed".into(), message: failure.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_string() },
            (None, None) => Observed::Allowed,
        };
        let predicted = self.predict_refusal(principal, refused.as_ref()).await;
        let mut performed = Performed::new(observed, elapsed);
        performed.detail = match &performed.observed {
            Observed::Denied { message, .. } | Observed::Error { message, .. } => message.clone(),
            Observed::Allowed => "terraform applied everything".into(),
        };
        let action = refused.as_ref().map_or_else(|| "terraform:Apply".to_string(), |r| r.action.clone());
        // The outputs of the chain so far: what the stage's templates may name.
        let denied_by = self.denied_by(stage.apply.denied_by.as_ref(), &self.outputs).unwrap_or_else(|why| {
            // An output of the refused stage itself: it was never applied, so the step cannot pass.
            performed.observed = Observed::Error { code: "UnknownOutput".into(), message: format!("denied_by: {why}") };
            None
        });
        let input = StepInput {
            name: stage.refusal_step_name().unwrap_or_default(),
            stage: self.stage_name(stage),
            principal,
            acted: Acted::Apply { action, resource: refused.and_then(|r| r.resource), command: format!("terraform apply (as {principal})") },
            expect: Expectation::Denied,
            because: stage.apply.because,
            denied_by,
            error_code: None,
            yields: None,
            simulator: None,
        };
        self.record_step(&input, &performed, predicted);
    }

    /// What the policy evaluator says of the refused call: an AssumeRole of
    /// the refused role by the stage's principal (the external ID the
    /// provider sent is not in the error: predicted without one), or another
    /// action of the caller the error names (the session terraform assumed).
    async fn predict_refusal(&self, principal: &str, refused: Option<&Refusal>) -> Result<policy::Reason, String> {
        let refused = refused.ok_or("the apply was not refused by IAM: nothing to predict")?;
        let resource = refused.resource.as_deref().ok_or("the refusal names no resource")?;
        let admin = self.default_admin().await;
        let predictor = self.predictor(&admin);
        if refused.action == "sts:AssumeRole" {
            let known = self.principals.get(principal).ok_or("the principal has no session to predict for")?;
            let call = Call::Sts(Sts::assume(resource, "terraform"));
            return predictor.predict(&call, &known.arn, &known.facts).await;
        }
        let caller = refused.caller.as_deref().ok_or_else(|| format!("the refusal of {} names no caller", refused.action))?;
        predictor.predict_action(&refused.action, resource, caller, &crate::prediction::SessionFacts::default()).await
    }

    /// Terraform's environment for `principal`: its credentials, as the SDK resolves them.
    async fn credentials_env(&self, principal: &str) -> Result<Vec<(String, Secret)>, String> {
        let known = self.principals.get(principal).ok_or_else(|| format!("`{principal}` (apply_as) has no credentials: the step that provides them did not pass"))?;
        let Principal::Sdk(config) = &known.principal else {
            return Err(format!("`{principal}` acts on its instance; apply_as needs a principal whose credentials the harness holds (a user or a session)"));
        };
        let provider = config.credentials_provider().ok_or_else(|| format!("`{principal}` has no credentials"))?;
        let credentials = provider.provide_credentials().await.map_err(|e| format!("cannot get `{principal}`'s credentials: {e}"))?;
        Ok(crate::target::credential_env(Some(&credentials), &self.runner.target.endpoint.region))
    }
}
