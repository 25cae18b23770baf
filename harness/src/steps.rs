//! One step: an AWS call made as a principal, what it observed, and the
//! verdict against what the scenario expected. An expected denial passes
//! only on an AccessDenied-family code; any other error fails with its real
//! code; a denial on a target that does not enforce the policy involved is
//! UNVERIFIED, never a pass.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;

use crate::identity::{self, InstanceRoleError, SessionCredentials, format_timestamp};
use crate::scenario::{Action, Expectation};
use crate::sdk::{self, CallError, call_error, is_access_denied};
use crate::secret::{REDACTED, Secret};
use crate::target::Capabilities;

/// A step's call with every `${output}` rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    ListBucket { bucket: String, expect_keys: Vec<String> },
    PutObject { bucket: String, key: String, body: String },
    GetObject { bucket: String, key: String, expect_body: Option<String> },
    AssumeRole { role_arn: String, session_name: String },
    GetCallerIdentity { expect_arn: Option<String> },
    /// The harness's first step: which role does the instance really carry?
    InstanceProfileRole { instance_id: String, expect_role: Option<String> },
}

impl Call {
    pub fn from_action(action: &Action, outputs: &std::collections::BTreeMap<String, String>) -> Result<Self, String> {
        Ok(match action {
            Action::ListBucket { bucket, expect_keys } => Call::ListBucket { bucket: bucket.render(outputs)?, expect_keys: expect_keys.clone() },
            Action::PutObject { bucket, key, body } => Call::PutObject { bucket: bucket.render(outputs)?, key: key.render(outputs)?, body: body.clone() },
            Action::GetObject { bucket, key, expect_body } => {
                Call::GetObject { bucket: bucket.render(outputs)?, key: key.render(outputs)?, expect_body: expect_body.clone() }
            }
            Action::AssumeRole { role_arn, session_name, .. } => Call::AssumeRole { role_arn: role_arn.render(outputs)?, session_name: session_name.clone() },
            Action::GetCallerIdentity { expect_arn } => Call::GetCallerIdentity { expect_arn: expect_arn.as_ref().map(|t| t.render(outputs)).transpose()? },
        })
    }

    pub fn action_name(&self) -> &'static str {
        match self {
            Call::ListBucket { .. } => "s3:ListBucket",
            Call::PutObject { .. } => "s3:PutObject",
            Call::GetObject { .. } => "s3:GetObject",
            Call::AssumeRole { .. } => "sts:AssumeRole",
            Call::GetCallerIdentity { .. } => "sts:GetCallerIdentity",
            Call::InstanceProfileRole { .. } => "ec2:DescribeInstances+iam:GetInstanceProfile",
        }
    }

    /// Whether a denial of this call is evidence on a target with `caps`.
    pub fn denial_verifiable(&self, caps: &Capabilities) -> Result<(), &'static str> {
        match self {
            Call::AssumeRole { .. } if !caps.trust_policies => Err("the target does not enforce trust policies"),
            _ if !caps.identity_policies => Err("the target does not enforce identity policies"),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    Allowed,
    Denied { code: String, message: String },
    Error { code: String, message: String },
}

impl Observed {
    fn from_error(err: CallError) -> Self {
        if is_access_denied(err.code()) {
            Observed::Denied { code: err.code().to_string(), message: err.message().to_string() }
        } else {
            Observed::Error { code: err.code().to_string(), message: err.message().to_string() }
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Observed::Allowed => "allowed",
            Observed::Denied { .. } => "denied",
            Observed::Error { .. } => "error",
        }
    }

    pub fn error_code(&self) -> Option<&str> {
        match self {
            Observed::Allowed => None,
            Observed::Denied { code, .. } | Observed::Error { code, .. } => Some(code),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Unverified,
}

/// What performing a call produced.
#[derive(Debug, Clone)]
pub struct Performed {
    pub observed: Observed,
    /// A human line about the response (secrets redacted).
    pub detail: String,
    /// A check on an allowed response that did not hold (keys, ARN, body).
    pub mismatch: Option<String>,
    pub latency: Duration,
    /// AssumeRole's session, for the principal it saves.
    pub session: Option<SessionCredentials>,
    /// InstanceProfileRole's answer.
    pub role_name: Option<String>,
}

impl Performed {
    fn new(observed: Observed, latency: Duration) -> Self {
        Self { observed, detail: String::new(), mismatch: None, latency, session: None, role_name: None }
    }
}

fn timed<T>(start: Instant, result: T) -> (T, Duration) {
    (result, start.elapsed())
}

/// Make the call as the principal whose config is `config`.
pub async fn perform(call: &Call, config: &SdkConfig) -> Performed {
    match call {
        Call::ListBucket { bucket, expect_keys } => {
            let (result, latency) = timed(Instant::now(), sdk::s3_client(config).list_objects_v2().bucket(bucket).send().await);
            match result {
                Ok(out) => {
                    let keys: Vec<String> = out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
                    let mut done = Performed::new(Observed::Allowed, latency);
                    done.detail = format!("keys: [{}]", keys.join(", "));
                    let missing: Vec<&String> = expect_keys.iter().filter(|k| !keys.contains(k)).collect();
                    if !missing.is_empty() {
                        done.mismatch = Some(format!("expected keys missing: {missing:?}"));
                    }
                    done
                }
                Err(err) => Performed::new(Observed::from_error(call_error(&err)), latency),
            }
        }
        Call::PutObject { bucket, key, body } => {
            let request = sdk::s3_client(config).put_object().bucket(bucket).key(key).body(body.clone().into_bytes().into());
            let (result, latency) = timed(Instant::now(), request.send().await);
            match result {
                Ok(_) => {
                    let mut done = Performed::new(Observed::Allowed, latency);
                    done.detail = format!("uploaded s3://{bucket}/{key} ({} bytes)", body.len());
                    done
                }
                Err(err) => Performed::new(Observed::from_error(call_error(&err)), latency),
            }
        }
        Call::GetObject { bucket, key, expect_body } => {
            let start = Instant::now();
            let result = sdk::s3_client(config).get_object().bucket(bucket).key(key).send().await;
            match result {
                Ok(out) => {
                    let body = out.body.collect().await.map(|b| String::from_utf8_lossy(&b.into_bytes()).into_owned()).unwrap_or_default();
                    let mut done = Performed::new(Observed::Allowed, start.elapsed());
                    done.detail = format!("{} bytes", body.len());
                    if let Some(expected) = expect_body.as_ref().filter(|e| **e != body) {
                        done.mismatch = Some(format!("body was {body:?}, expected {expected:?}"));
                    }
                    done
                }
                Err(err) => Performed::new(Observed::from_error(call_error(&err)), start.elapsed()),
            }
        }
        Call::AssumeRole { role_arn, session_name } => {
            let request = aws_sdk_sts::Client::new(config).assume_role().role_arn(role_arn).role_session_name(session_name);
            let (result, latency) = timed(Instant::now(), request.send().await);
            match result {
                Ok(out) => assumed(out.credentials(), latency),
                Err(err) => Performed::new(Observed::from_error(call_error(&err)), latency),
            }
        }
        Call::GetCallerIdentity { expect_arn } => {
            let (result, latency) = timed(Instant::now(), aws_sdk_sts::Client::new(config).get_caller_identity().send().await);
            match result {
                Ok(out) => {
                    let arn = out.arn().unwrap_or_default().to_string();
                    let mut done = Performed::new(Observed::Allowed, latency);
                    done.detail = format!("arn: {arn}");
                    if let Some(expected) = expect_arn.as_ref().filter(|e| **e != arn) {
                        done.mismatch = Some(format!("caller is {arn}, expected {expected}"));
                    }
                    done
                }
                Err(err) => Performed::new(Observed::from_error(call_error(&err)), latency),
            }
        }
        Call::InstanceProfileRole { instance_id, expect_role } => instance_profile_role(config, instance_id, expect_role.as_deref()).await,
    }
}

fn assumed(credentials: Option<&aws_sdk_sts::types::Credentials>, latency: Duration) -> Performed {
    let Some(c) = credentials else {
        let mut done = Performed::new(Observed::Allowed, latency);
        done.mismatch = Some("AssumeRole returned no Credentials".into());
        return done;
    };
    let expiration = std::time::SystemTime::try_from(*c.expiration()).unwrap_or(std::time::UNIX_EPOCH);
    let session = SessionCredentials {
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: Secret::new(c.secret_access_key()),
        session_token: Secret::new(c.session_token()),
        expiration,
    };
    let mut done = Performed::new(Observed::Allowed, latency);
    done.detail = format!(
        "AccessKeyId {}, Expiration {}, SecretAccessKey {REDACTED}, SessionToken {REDACTED}",
        session.access_key_id,
        format_timestamp(expiration)
    );
    let mut problems = Vec::new();
    if session.access_key_id.is_empty() {
        problems.push("empty AccessKeyId");
    }
    if session.session_token.expose().is_empty() {
        problems.push("empty SessionToken");
    }
    if expiration <= std::time::SystemTime::now() {
        problems.push("Expiration is not in the future");
    }
    if !problems.is_empty() {
        done.mismatch = Some(problems.join(", "));
    }
    done.session = Some(session);
    done
}

async fn instance_profile_role(admin: &SdkConfig, instance_id: &str, expect_role: Option<&str>) -> Performed {
    let start = Instant::now();
    let found = identity::instance_role(admin, instance_id).await;
    let latency = start.elapsed();
    let role = match found {
        Ok(role) => role,
        Err(InstanceRoleError::Call(err)) => return Performed::new(Observed::from_error(err), latency),
        Err(InstanceRoleError::NoProfile) => {
            let mut done = Performed::new(Observed::Allowed, latency);
            done.mismatch = Some(format!("instance {instance_id} has no IAM instance profile"));
            return done;
        }
    };
    let mut done = Performed::new(Observed::Allowed, latency);
    done.detail = format!("instance profile {} -> role {}", role.profile_name, role.role_name.as_deref().unwrap_or("(none)"));
    match (&role.role_name, expect_role) {
        (None, _) => done.mismatch = Some(format!("instance profile {} has no role", role.profile_name)),
        (Some(name), Some(expected)) if name != expected => done.mismatch = Some(format!("the instance carries {name}, expected {expected}")),
        _ => {}
    }
    done.role_name = role.role_name;
    done
}

/// The verdict of a step, with the reason when it is not a pass.
pub fn judge(expect: Expectation, performed: &Performed, verifiable: Result<(), &'static str>) -> (Verdict, Option<String>) {
    match (expect, &performed.observed) {
        (Expectation::Allowed, Observed::Allowed) => match &performed.mismatch {
            None => (Verdict::Pass, None),
            Some(why) => (Verdict::Fail, Some(why.clone())),
        },
        (Expectation::Allowed, Observed::Denied { code, message }) => (Verdict::Fail, Some(format!("expected allowed, got {code}: {message}"))),
        (Expectation::Denied, Observed::Denied { .. }) => match verifiable {
            Ok(()) => (Verdict::Pass, None),
            Err(why) => (Verdict::Unverified, Some(why.to_string())),
        },
        (Expectation::Denied, Observed::Allowed) => match verifiable {
            Ok(()) => (Verdict::Fail, Some("expected AccessDenied, the call was allowed".into())),
            Err(why) => (Verdict::Unverified, Some(format!("allowed, but {why}"))),
        },
        (_, Observed::Error { code, message }) => (Verdict::Fail, Some(format!("{code}: {message}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn performed(observed: Observed) -> Performed {
        Performed::new(observed, Duration::from_millis(3))
    }

    fn denied(code: &str) -> Observed {
        Observed::from_error(CallError::Service { code: code.into(), message: "m".into() })
    }

    #[test]
    fn only_access_denied_codes_count_as_denial() {
        for code in ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation"] {
            assert!(matches!(denied(code), Observed::Denied { .. }), "{code}");
        }
        for code in ["SignatureDoesNotMatch", "InvalidAccessKeyId", "Throttling", "InternalError"] {
            assert!(matches!(denied(code), Observed::Error { .. }), "{code}");
        }
    }

    #[test]
    fn an_expected_denial_passes_only_as_access_denied_on_an_enforcing_target() {
        let ok = Ok(());
        assert_eq!(judge(Expectation::Denied, &performed(denied("AccessDenied")), ok).0, Verdict::Pass);
        let (verdict, why) = judge(Expectation::Denied, &performed(denied("SignatureDoesNotMatch")), ok);
        assert_eq!(verdict, Verdict::Fail);
        assert!(why.unwrap().starts_with("SignatureDoesNotMatch"));
        assert_eq!(judge(Expectation::Denied, &performed(Observed::Allowed), ok).0, Verdict::Fail);
        let transport = Observed::from_error(CallError::Transport { kind: "DispatchFailure", message: "refused".into() });
        assert_eq!(judge(Expectation::Denied, &performed(transport), ok).0, Verdict::Fail);
    }

    #[test]
    fn a_negative_step_on_a_non_enforcing_target_is_unverified() {
        let not = Err("the target does not enforce identity policies");
        assert_eq!(judge(Expectation::Denied, &performed(Observed::Allowed), not).0, Verdict::Unverified);
        assert_eq!(judge(Expectation::Denied, &performed(denied("AccessDenied")), not).0, Verdict::Unverified);
        // A positive step does not depend on enforcement.
        assert_eq!(judge(Expectation::Allowed, &performed(Observed::Allowed), not).0, Verdict::Pass);
    }

    #[test]
    fn an_allowed_call_whose_check_fails_is_a_failure() {
        let mut done = performed(Observed::Allowed);
        done.mismatch = Some("expected keys missing".into());
        assert_eq!(judge(Expectation::Allowed, &done, Ok(())).0, Verdict::Fail);
        assert_eq!(judge(Expectation::Allowed, &performed(denied("AccessDenied")), Ok(())).0, Verdict::Fail);
    }

    #[test]
    fn assume_role_needs_trust_enforcement_to_verify_a_denial() {
        let call = Call::AssumeRole { role_arn: "arn".into(), session_name: "s".into() };
        let identity_only = Capabilities { identity_policies: true, trust_policies: false, role_session_principals: false };
        assert!(call.denial_verifiable(&identity_only).is_err());
        let list = Call::ListBucket { bucket: "b".into(), expect_keys: vec![] };
        assert!(list.denial_verifiable(&identity_only).is_ok());
    }

    #[test]
    fn assume_role_detail_redacts_secrets() {
        let creds = aws_sdk_sts::types::Credentials::builder()
            .access_key_id("ASIAEXAMPLE")
            .secret_access_key("very-secret")
            .session_token("very-token")
            .expiration(aws_smithy_types::DateTime::from(std::time::SystemTime::now() + Duration::from_secs(900)))
            .build()
            .unwrap();
        let done = assumed(Some(&creds), Duration::from_millis(1));
        assert!(done.detail.contains("ASIAEXAMPLE"));
        assert!(!done.detail.contains("very-secret") && !done.detail.contains("very-token"));
        assert!(done.mismatch.is_none());
        assert!(!format!("{:?}", done.session).contains("very-secret"));
    }
}
