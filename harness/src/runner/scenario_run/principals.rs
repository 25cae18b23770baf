//! Who each of a scenario's principals is at a stage: the workload on its
//! instance (over IMDS, or on the instance itself), a user by its access key,
//! a token issuer, and the sessions earlier steps saved.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_config::SdkConfig;

use super::{Acted, Known, Provider, ScenarioRun, StepInput, unknown_output};
use crate::identity::{self, ImdsServer};
use crate::naming::ADMIN_PRINCIPAL;
use crate::on_instance::{Shell, overlay, script::Workspace, ssm::Ssm};
use crate::outcome::{self, Performed};
use crate::phase::Phase;
use crate::prediction::{InstanceSource, Predictor, SessionFacts};
use crate::scenario::{Expectation, PrincipalSource, SessionParams, Stage, Template};
use crate::service::{Call, ec2::Ec2, sts::Sts};
use crate::secret::Secret;
use crate::steps::{self, Principal};
use crate::verdict::Verdict;
use crate::{sdk, web_token};

impl ScenarioRun<'_> {
    /// Each declared principal, looked up afresh (a stage whose lookup fails
    /// never acts as the previous stage's identity). An instance is reached
    /// over a local IMDS endpoint (returned, to be kept alive) or on the
    /// instance itself; a user by its access key.
    pub(super) async fn stage_principals(
        &mut self,
        admin: &SdkConfig,
        predictor: &Predictor,
        stage: &Stage,
        outputs: &BTreeMap<String, String>,
    ) -> Result<Vec<ImdsServer>, String> {
        let mut imds_servers = Vec::new();
        for (name, source) in &self.scenario.principals {
            self.principals.remove(name);
            let known = match source {
                PrincipalSource::Instance { instance, role } => {
                    let Some((instance_id, role_name)) = self.look_up_instance(admin, stage, name, instance, role.as_ref(), outputs).await? else { continue };
                    // The instance's session, as EC2 names it: assumed-role/<role>/<instance id>.
                    let arn = predictor.session_arn(&role_name, &instance_id);
                    let facts = SessionFacts { instance: Some(self.instance_source(admin, &instance_id, &arn).await), ..SessionFacts::default() };
                    let principal = self.workload(admin, &instance_id, role_name, &mut imds_servers).await?;
                    Known { principal, arn, facts, provider: None }
                }
                PrincipalSource::User { access_key_id, secret_access_key } => {
                    let Some(known) = self.look_up_user(predictor, stage, name, (access_key_id, secret_access_key), outputs).await? else { continue };
                    known
                }
                // Unsigned calls: the anonymous principal, "*".
                PrincipalSource::Anonymous => Known {
                    principal: Principal::Sdk(Box::new(sdk::anonymous_config(&self.runner.target.endpoint).await)),
                    arn: "*".into(),
                    facts: SessionFacts::default(),
                    provider: None,
                },
                // Its calls carry a SAML response, no credentials; it is the provider the config made.
                PrincipalSource::SamlProvider { provider, .. } => Known {
                    principal: Principal::Sdk(Box::new(sdk::anonymous_config(&self.runner.target.endpoint).await)),
                    arn: provider.render(outputs).map_err(unknown_output)?,
                    facts: SessionFacts::default(),
                    provider: Some(Provider::Saml),
                },
                // Its calls carry a token, no credentials; it is the provider of the account.
                PrincipalSource::TokenIssuer { issuer } => {
                    let issuer = issuer.render(outputs).map_err(unknown_output)?.trim_start_matches("https://").to_string();
                    let admin = &self.runner.target.admin;
                    Known {
                        principal: Principal::Sdk(Box::new(sdk::anonymous_config(&self.runner.target.endpoint).await)),
                        arn: web_token::provider_arn(admin.partition(), &admin.account_id, &issuer),
                        facts: SessionFacts::default(),
                        provider: Some(Provider::Oidc(issuer)),
                    }
                }
            };
            self.principals.insert(name.clone(), known);
        }
        Ok(imds_servers)
    }

    /// The instance as its role session's keys name it (in the account of its session's ARN).
    async fn instance_source(&self, admin: &SdkConfig, instance_id: &str, session_arn: &str) -> InstanceSource {
        let target = &self.runner.target;
        let (vpc, private_ip) = identity::instance_network(admin, instance_id).await;
        let account = session_arn.split(':').nth(4).unwrap_or_default();
        let arn = format!("arn:{}:ec2:{}:{account}:instance/{instance_id}", target.admin.partition(), target.endpoint.region);
        InstanceSource { arn, vpc, private_ip }
    }

    /// The workload of an instance: its profile's credentials over a local
    /// IMDS endpoint (kept in `imds_servers`), or on a real account the instance itself.
    pub(super) async fn workload(&mut self, admin: &SdkConfig, instance_id: &str, role_name: String, imds_servers: &mut Vec<ImdsServer>) -> Result<Principal, String> {
        if self.runner.target.profile.workload_on_instance {
            return Ok(Principal::OnInstance(self.reach_instance(admin, instance_id, &role_name).await?));
        }
        let imds = ImdsServer::start(role_name, self.runner.instance_credentials_source(instance_id), self.runner.options.imds_lifetime)
            .await
            .map_err(|e| format!("cannot start the IMDS endpoint: {e}"))?;
        let principal = Principal::Sdk(Box::new(imds.workload_config(&self.runner.target.endpoint).await));
        imds_servers.push(imds);
        Ok(principal)
    }

    /// A user principal: who its access key is (sts:GetCallerIdentity as the
    /// user, a step of the report); None when the key does not work.
    pub(super) async fn look_up_user(
        &mut self,
        predictor: &Predictor,
        stage: &Stage,
        name: &str,
        (access_key_id, secret_access_key): (&Template, &Template),
        outputs: &BTreeMap<String, String>,
    ) -> Result<Option<Known>, String> {
        let key = access_key_id.render(outputs).map_err(unknown_output)?;
        let secret = Secret::new(secret_access_key.render(outputs).map_err(unknown_output)?);
        let config = identity::user_config(&self.runner.target.endpoint, &key, &secret).await;
        let principal = Principal::Sdk(Box::new(config));
        let call = Call::Sts(Sts::GetCallerIdentity { expect_arn: None });
        let performed = steps::perform_consistently(&call, &principal, Expectation::Allowed, self.runner.consistency()).await;
        let lookup = StepInput {
            name: format!("{name} is the IAM user of its access key"),
            stage: self.stage_name(stage),
            principal: name,
            acted: Acted::Call(&call),
            expect: Expectation::Allowed,
            because: None,
            denied_by: None,
            error_code: None,
            yields: None,
            simulator: None,
        };
        let predicted = predictor.predict(&call, name, &SessionFacts::default()).await;
        let verdict = self.record_step(&lookup, &performed, predicted);
        Ok(match (verdict, performed.caller_arn) {
            (Verdict::Pass, Some(arn)) => Some(Known { principal, arn, facts: SessionFacts::default(), provider: None }),
            _ => None,
        })
    }

    /// The harness's own step: which role does the instance really carry?
    /// Its id and role name when the lookup passed.
    pub(super) async fn look_up_instance(
        &mut self,
        admin: &SdkConfig,
        stage: &Stage,
        name: &str,
        instance: &Template,
        role: Option<&Template>,
        outputs: &BTreeMap<String, String>,
    ) -> Result<Option<(String, String)>, String> {
        let instance_id = instance.render(outputs).map_err(unknown_output)?;
        let expect_role = role.map(|r| r.render(outputs)).transpose().map_err(unknown_output)?;
        let call = Call::Ec2(Ec2::InstanceProfileRole { instance_id: instance_id.clone(), expect_role });
        let performed = steps::perform_consistently(&call, &Principal::Sdk(Box::new(admin.clone())), Expectation::Allowed, self.runner.consistency()).await;
        let lookup = StepInput {
            name: format!("{name} is the role of instance {instance_id}'s profile"),
            stage: self.stage_name(stage),
            principal: ADMIN_PRINCIPAL,
            acted: Acted::Call(&call),
            expect: Expectation::Allowed,
            because: None,
            denied_by: None,
            error_code: None,
            yields: Some(name.to_string()),
            simulator: None,
        };
        let verdict = self.record_step(&lookup, &performed, Err("the harness's own lookup, made as the admin".into()));
        Ok(match (verdict, performed.role_name) {
            (Verdict::Pass, Some(role_name)) => Some((instance_id, role_name)),
            _ => None,
        })
    }

    /// Keep an AssumeRole (web identity, SAML) step's session as principal `save_as`, only when it
    /// passed its checks (a session of the role asked for). A session made by
    /// the harness is used by the harness; one made on the instance stays there.
    pub(super) async fn save_session(&mut self, acting: &str, save_as: &str, asked: (&str, &str, &SessionParams<String>), performed: &Performed, federated: bool) {
        let (role_arn, session_name, params) = asked;
        let facts = match self.principals.get(acting) {
            // A federated user's session: its IAM user's policies, narrowed by its own.
            Some(Known { arn, .. }) if federated => SessionFacts::federated_user(arn.rsplit('/').next().unwrap_or_default(), params),
            // A token's or a SAML response's session names the provider that issued it, and carries
            // the tags the response passed (PrincipalTag attributes).
            Some(Known { provider: Some(_), arn, .. }) => SessionFacts { tags: params.tags.clone(), ..SessionFacts::federated(arn) },
            Some(known) => known.facts.assumed(params),
            None => SessionFacts::default(),
        };
        // A federated user's ARN is what STS answered (checked to end in federated-user/<name>).
        let expected = if federated { performed.caller_arn.clone() } else { outcome::expected_session_arn(role_arn, session_name) };
        let saved = match (&performed.session, &performed.session_on_instance, self.principals.get(acting).map(|k| &k.principal)) {
            (Some(session), _, _) => Some(Principal::Sdk(Box::new(identity::session_config(&self.runner.target.endpoint, session).await))),
            (None, Some(file), Some(Principal::OnInstance(shell))) => Some(Principal::OnInstance(shell.with_session(file.clone()))),
            _ => None,
        };
        match (saved, expected) {
            (Some(principal), Some(arn)) if performed.mismatch.is_none() => {
                self.principals.insert(save_as.to_string(), Known { principal, arn, facts, provider: None });
            }
            _ => {
                self.principals.remove(save_as);
            }
        }
    }

    /// Make the instance reachable by SSM Run Command: the overlay on its
    /// role (unless turned off), then wait for its agent to answer.
    pub(super) async fn reach_instance(&mut self, admin: &SdkConfig, instance_id: &str, role_name: &str) -> Result<Shell, String> {
        let runner = self.runner;
        if runner.options.ssm.overlay {
            let added = self.phase(Phase::SsmOverlay(role_name.to_string()), overlay::add(admin, role_name, &runner.target.admin.arn)).await;
            let added = added.map_err(|e| format!("cannot attach {} to {role_name} (for SSM Run Command): {}: {}", overlay::POLICY_NAME, e.code(), e.message()))?;
            self.overlays.push(added);
        }
        let ssm = Arc::new(Ssm::new(admin, instance_id));
        let online = ssm.wait_online(runner.options.ssm.online_deadline, &runner.cancel);
        self.phase(Phase::SsmOnline(instance_id.to_string()), online).await.map_err(|e| e.to_string())?;
        Ok(Shell::new(ssm, Workspace::new(&runner.run_id, &runner.target.endpoint.region)))
    }
}
