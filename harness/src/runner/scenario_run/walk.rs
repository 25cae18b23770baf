//! Walking the access analysis's paths on the target: a path whose start
//! is one of the scenario's principals (the workload's role session, a
//! saved session, a user, a token issuer or a SAML provider the scenario
//! plays) is made call by call, as a step is: AssumeRoleWithWebIdentity (or
//! AssumeRoleWithSAML) into the first role with a token (a signed response)
//! that meets its trust, AssumeRole into each role, then each bucket action. A get reads the object the walk
//! put, or one the bucket owner's admin put for it; the walk's object is
//! removed by that admin. A path the target refuses is said as such: the
//! evaluator says AWS allows it.

use std::time::Duration;

use aws_config::SdkConfig;

use super::ScenarioRun;
use crate::access::walk::{WalkedBucket, WalkedDatabase};
use crate::access::{AccessReport, Proof, Walk, Walker};
use crate::identity;
use crate::outcome::{Observed, Performed};
use crate::prediction::SessionFacts;
use crate::scenario::Expectation;
use crate::sdk::{self, call_error};
use crate::service::sts::saml::{AssertionRequest, AssertionSigner};
use crate::service::sts::{SessionParams, Sts};
use crate::service::rds::{DatabaseFronts, Rds};
use crate::service::{Call, s3::S3};
use crate::steps::{self, Principal};

/// The session name of a walk's AssumeRole calls (CloudTrail shows who walked).
const WALK_SESSION: &str = "harness-access-walk";
const WALK_BODY: &str = "put by the harness's access walk; removed after it";

/// What one call of a walk came to, when it ends the walk.
enum Stopped {
    Refused(Proof),
    Failed(String),
}

impl ScenarioRun<'_> {
    /// Walk every path that can be walked; each gets its proof.
    pub(super) async fn walk_paths(&self, report: &mut AccessReport) {
        for path in &mut report.paths {
            let Some(walk) = &path.walk else { continue };
            if self.runner.cancel.is_cancelled() {
                path.proof = Proof::predicted("interrupted before its walk");
                continue;
            }
            path.proof = self.walk(walk).await;
        }
    }

    /// Why a walk the target allows would prove nothing there, if it would not.
    fn unprovable(&self, walk: &Walk) -> Option<&'static str> {
        // On a target that lets everything through, an allowed call proves nothing.
        if !self.caps.identity_policies || (!walk.roles.is_empty() && !self.caps.trust_policies) {
            return Some("the target does not enforce identity and trust policies: a walk it allows proves nothing");
        }
        if walk.database.is_some() && !self.caps.rds_iam_auth {
            return Some("the target does not check IAM database authentication tokens: a walk it allows proves nothing");
        }
        match walk.walker {
            Walker::WebIdentity { .. } if !self.caps.web_identity => Some("the target does not check web identity tokens: a walk it allows proves nothing"),
            Walker::Saml { .. } if !self.caps.saml => Some("the target does not check SAML responses: a walk it allows proves nothing"),
            // The probe's unsigned read proves the target judges unsigned requests at all.
            Walker::Anonymous if !self.caps.public_access_block => Some("the target does not judge unsigned requests by their bucket's policy: a walk it allows proves nothing"),
            _ => None,
        }
    }

    async fn walk(&self, walk: &Walk) -> Proof {
        if let Some(why) = self.unprovable(walk) {
            return Proof::predicted(why);
        }
        let anyone = match walk.walker {
            Walker::Anonymous => Some(Principal::Sdk(Box::new(sdk::anonymous_config(&self.runner.target.endpoint).await))),
            _ => None,
        };
        let Some(mut principal) = anyone.or_else(|| self.walker(&walk.walker)) else {
            return Proof::predicted(format!("none of the scenario's principals (acting here, with the SDK) is {}", who(&walk.walker)));
        };
        let (mut latency, mut calls) = (Duration::ZERO, 0);
        let mut roles = walk.roles.iter();
        if matches!(walk.walker, Walker::WebIdentity { .. } | Walker::Saml { .. }) {
            let Some(first) = roles.next() else { return Proof::predicted("it enters no role") };
            let call = match self.exchange(&walk.walker, &first.arn) {
                Ok(call) => call,
                Err(why) => return Proof::predicted(why),
            };
            let done = match self.walk_call(&call, &principal).await {
                Ok(done) => done,
                Err(stopped) => return stopped.into_proof(),
            };
            (latency, calls) = (latency + done.latency, calls + 1);
            let Some(session) = &done.session else { return Proof::predicted(format!("{} of {} returned no session to walk on with", call.name(), first.arn)) };
            principal = Principal::Sdk(Box::new(identity::session_config(&self.runner.target.endpoint, session).await));
        }
        for hop in roles {
            let role_arn = &hop.arn;
            let session = SessionParams { external_id: hop.external_id.clone(), ..SessionParams::default() };
            let session_name = hop.session_name.clone().unwrap_or_else(|| WALK_SESSION.to_string());
            let call = Call::Sts(Sts::AssumeRole { role_arn: role_arn.clone(), session_name, save_as: None, session });
            let done = match self.walk_call(&call, &principal).await {
                Ok(done) => done,
                Err(stopped) => return stopped.into_proof(),
            };
            (latency, calls) = (latency + done.latency, calls + 1);
            let Some(session) = &done.session else { return Proof::predicted(format!("AssumeRole of {role_arn} returned no session to walk on with")) };
            principal = Principal::Sdk(Box::new(identity::session_config(&self.runner.target.endpoint, session).await));
        }
        if let Some(bucket) = &walk.bucket {
            match self.walk_bucket(bucket, &walk.actions, &principal).await {
                Ok((spent, made)) => (latency, calls) = (latency + spent, calls + made),
                Err(stopped) => return stopped.into_proof(),
            }
        }
        if let Some(database) = &walk.database {
            let call = match self.connection(database).await {
                Ok(call) => call,
                Err(why) => return Proof::predicted(why),
            };
            match self.walk_call(&call, &principal).await {
                Ok(done) => (latency, calls) = (latency + done.latency, calls + 1),
                Err(stopped) => return stopped.into_proof(),
            }
        }
        Proof::Proven { calls, latency_ms: latency.as_secs_f64() * 1000.0 }
    }

    /// A walk's connection as its database user, through the instance's local
    /// auth front (the user made there first, holding rds_iam, as on RDS).
    async fn connection(&self, database: &WalkedDatabase) -> Result<Call, String> {
        let local = self.databases.as_ref().ok_or("on this target the walk does not connect to the database (its users are the database's own)")?;
        local.ensure_user(&database.user).await.map_err(|e| e.to_string())?;
        let via = local.front_of(&database.host, &database.port).ok_or("no auth front for the instance")?;
        let admin = &self.runner.target.admin;
        let region = crate::service::rds::region_of(&database.host).unwrap_or(&self.runner.target.endpoint.region).to_string();
        let arn = format!("arn:{}:rds-db:{region}:{}:dbuser:{}/{}", admin.partition(), admin.account_id, database.resource_id, database.user);
        Ok(Call::Rds(Rds::Connect {
            host: database.host.clone(),
            port: database.port.clone(),
            resource_id: database.resource_id.clone(),
            db_user: database.user.clone(),
            database: "postgres".into(),
            token_age_seconds: None,
            arn: Some(arn),
            via: Some(via),
        }))
    }

    /// A provider's user entering its first role: with a token, or a response the run's identity provider signs.
    fn exchange(&self, walker: &Walker, role_arn: &str) -> Result<Call, String> {
        let session_name = WALK_SESSION.to_string();
        Ok(Call::Sts(match walker {
            Walker::WebIdentity { issuer, claims } => {
                Sts::AssumeRoleWithWebIdentity { role_arn: role_arn.to_string(), session_name, save_as: None, issuer: issuer.clone(), claims: claims.clone() }
            }
            Walker::Saml { provider, assertion } => {
                let idp = self.saml_idp.as_ref().ok_or("the scenario plays no SAML identity provider")?;
                let request = AssertionRequest {
                    recipient: &assertion.recipient,
                    subject: &assertion.subject,
                    attributes: assertion.all_attributes(role_arn, provider, &session_name),
                    form: assertion.form,
                };
                let signed = idp.sign(&request).map_err(|why| format!("the SAML identity provider could not sign: {why}"))?;
                let assertion = assertion.clone();
                Sts::AssumeRoleWithSaml { role_arn: role_arn.to_string(), principal_arn: Some(provider.clone()), session_name, save_as: None, assertion, signed: Some(signed) }
            }
            _ => return Err("only a provider's user exchanges what it issued".into()),
        }))
    }

    /// The bucket's actions, puts first; the object the walk used removed whatever happened.
    async fn walk_bucket(&self, bucket: &WalkedBucket, actions: &[&'static str], principal: &Principal) -> Result<(Duration, usize), Stopped> {
        let owner = self.admin_of(&bucket.account).await;
        let key = bucket.key.clone().unwrap_or_default();
        let needs_object = actions.contains(&"s3:GetObject") && !actions.contains(&"s3:PutObject");
        if needs_object {
            let Some(owner) = &owner else { return Err(Stopped::Failed(format!("no admin of account {} to put an object to get", bucket.account))) };
            let put = sdk::s3_client(owner).put_object().bucket(&bucket.name).key(&key).body(WALK_BODY.as_bytes().to_vec().into()).send().await;
            put.map_err(|err| Stopped::Failed(format!("the bucket owner could not put {key} to get: {}", call_error(&err).code())))?;
        }
        let mut result = Ok((Duration::ZERO, 0));
        for action in actions {
            let call = Call::S3(match *action {
                "s3:PutObject" => S3::PutObject { bucket: bucket.name.clone(), key: key.clone(), body: WALK_BODY.into() },
                "s3:GetObject" => S3::GetObject { bucket: bucket.name.clone(), key: key.clone(), expect_body: None },
                _ => S3::ListBucket { bucket: bucket.name.clone(), expect_keys: Vec::new(), prefix: None, delimiter: None },
            });
            match self.walk_call(&call, principal).await {
                Ok(done) => result = result.map(|(spent, made)| (spent + done.latency, made + 1)),
                Err(stopped) => {
                    result = Err(stopped);
                    break;
                }
            }
        }
        if actions.iter().any(|a| *a != "s3:ListBucket") {
            self.remove_walk_object(owner.as_ref(), principal, bucket, &key).await.map_err(Stopped::Failed)?;
        }
        result
    }

    /// One call of a walk, made as a step is (retried while IAM's changes spread).
    async fn walk_call(&self, call: &Call, principal: &Principal) -> Result<Performed, Stopped> {
        let done = steps::perform_consistently(call, principal, Expectation::Allowed, self.runner.consistency()).await;
        let on = call.resource().map(|r| format!(" on {r}")).unwrap_or_default();
        match &done.observed {
            Observed::Allowed => Ok(done),
            Observed::Denied { code, .. } => Err(Stopped::Refused(Proof::Refused { call: format!("{}{on}", call.name()), code: code.clone() })),
            Observed::Error { code, .. } => Err(Stopped::Failed(format!("its {}{on} failed with {code}", call.name()))),
        }
    }

    /// The object a walk put (or had put), removed as the bucket owner's
    /// admin, else as the walker (a bucket policy may spare only it): a
    /// bucket left with it could not be destroyed.
    async fn remove_walk_object(&self, owner: Option<&SdkConfig>, walker: &Principal, bucket: &WalkedBucket, key: &str) -> Result<(), String> {
        let walker = match walker {
            Principal::Sdk(config) => Some(config.as_ref()),
            Principal::OnInstance(_) => None,
        };
        let mut refused = String::from("no admin of its account");
        for config in owner.into_iter().chain(walker) {
            match sdk::s3_client(config).delete_object().bucket(&bucket.name).key(key).send().await {
                Ok(_) => return Ok(()),
                Err(err) => refused = call_error(&err).code().to_string(),
            }
        }
        Err(format!("cannot remove the walk's object s3://{}/{key} ({refused}): remove it by hand, or the bucket's destroy fails", bucket.name))
    }

    /// The scenario's principal a walk starts as: acting here with the SDK
    /// (an instance's own CLI is not walked with), carrying nothing that narrows it.
    fn walker(&self, walker: &Walker) -> Option<Principal> {
        let is_it = |known: &super::Known| match walker {
            Walker::RoleSession { account, role } => known.arn.contains(&format!(":sts::{account}:assumed-role/{role}/")),
            Walker::User { arn: user } => known.arn == *user,
            // The provider's token issuer: its calls carry the token, no credentials.
            Walker::WebIdentity { issuer, .. } => matches!(&known.provider, Some(super::Provider::Oidc(own)) if own == issuer),
            Walker::Saml { provider, .. } => matches!(known.provider, Some(super::Provider::Saml)) && known.arn == *provider,
            // Anyone needs no principal of the scenario: `walk` makes its unsigned config.
            Walker::Anonymous => false,
        };
        self.principals
            .values()
            .filter(|known| known.facts == SessionFacts::default() && matches!(known.principal, Principal::Sdk(_)))
            .find(|known| is_it(known))
            .map(|known| known.principal.clone())
    }

    /// The admin of account `id`: one of the scenario's accounts, or the target admin's own.
    async fn admin_of(&self, id: &str) -> Option<SdkConfig> {
        if let Some(account) = self.accounts.iter().find(|a| a.account.id == id) {
            return Some(account.config.clone());
        }
        (self.runner.target.admin.account_id == id).then_some(())?;
        Some(self.runner.target.admin_config().await)
    }
}

impl Stopped {
    fn into_proof(self) -> Proof {
        match self {
            Stopped::Refused(proof) => proof,
            Stopped::Failed(why) => Proof::predicted(format!("its walk stopped: {why}")),
        }
    }
}

/// Whom a walk starts as, for a person.
fn who(walker: &Walker) -> String {
    match walker {
        Walker::RoleSession { role, .. } => format!("a plain session of {role}"),
        Walker::User { arn } => arn.clone(),
        Walker::WebIdentity { issuer, .. } => format!("a token issuer of {issuer} (the harness mints tokens only where the scenario plays the provider)"),
        Walker::Saml { provider, .. } => format!("the SAML provider {provider} (the harness signs responses only where the scenario plays it)"),
        Walker::Anonymous => "anyone".into(),
    }
}
