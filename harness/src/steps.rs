//! One step: an AWS call made as a principal and what it observed (the
//! verdict is `verdict`'s). Only an AccessDenied-family code is a denial;
//! any other error keeps its real code.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;

use crate::identity::{self, InstanceRoleError, Principal, SessionCredentials, format_timestamp};
use crate::scenario::{Action, Expectation};
use crate::sdk::{self, CallError, call_error, is_access_denied};
use crate::secret::REDACTED;
use crate::target::{Capabilities, Consistency};

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
    pub(crate) fn from_error(err: CallError) -> Self {
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

/// What performing a call produced.
#[derive(Debug, Clone)]
pub struct Performed {
    pub observed: Observed,
    /// A human line about the response (secrets redacted).
    pub detail: String,
    /// A check on an allowed response that did not hold (keys, ARN, body).
    pub mismatch: Option<String>,
    pub latency: Duration,
    /// AssumeRole's session, for the principal it saves (made here, with the SDK).
    pub session: Option<SessionCredentials>,
    /// AssumeRole's session kept on the instance (made there): its file there.
    pub session_on_instance: Option<String>,
    /// The instance the call was made on (SSM Run Command); None: made here.
    pub on_instance: Option<String>,
    /// The command run there (else the report shows the CLI equivalent of the SDK call).
    pub command: Option<String>,
    /// InstanceProfileRole's answer.
    pub role_name: Option<String>,
    /// How many times the call was made (IAM propagation on a real account).
    pub attempts: u32,
    /// For an allowed call that was first denied: from the first attempt to success.
    pub propagation: Option<Duration>,
}

impl Performed {
    /// A call that could not be made at all (`code` says where it broke), the message as its detail.
    pub fn error(code: &str, message: String) -> Self {
        let mut done = Self::new(Observed::Error { code: code.into(), message: message.clone() }, Duration::ZERO);
        done.detail = message;
        done
    }

    pub fn new(observed: Observed, latency: Duration) -> Self {
        Self { observed, detail: String::new(), mismatch: None, latency, session: None, session_on_instance: None, on_instance: None, command: None, role_name: None, attempts: 1, propagation: None }
    }
}

/// Make the call as IAM's eventual consistency demands: a call expected to
/// be allowed is retried with backoff while it is denied, until the
/// deadline (the time to success is its propagation latency, apart from
/// the call's own latency); a call expected to be denied is probed again
/// over a window and must stay denied: a denial that flips to allowed was
/// a propagation delay, not a denial, and fails.
pub async fn perform_consistently(call: &Call, principal: &Principal, expect: Expectation, consistency: Consistency) -> Performed {
    let first = Instant::now();
    let mut done = perform(call, principal).await;
    match expect {
        Expectation::Allowed => {
            let mut backoff = Duration::from_millis(500);
            while matches!(done.observed, Observed::Denied { .. }) && first.elapsed() + backoff <= consistency.allow_deadline {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(8));
                let attempts = done.attempts + 1;
                done = perform(call, principal).await;
                done.attempts = attempts;
                if done.observed == Observed::Allowed {
                    done.propagation = Some(first.elapsed());
                }
            }
        }
        Expectation::Denied => {
            for probe in 1..consistency.deny_probes {
                if !matches!(done.observed, Observed::Denied { .. }) {
                    break;
                }
                tokio::time::sleep(consistency.deny_interval).await;
                let again = perform(call, principal).await;
                if !matches!(again.observed, Observed::Denied { .. }) {
                    let after = first.elapsed();
                    done = again;
                    done.detail = format!("denied at first, then {} after {:.1}s (probe {}): {}", done.observed.label(), after.as_secs_f64(), probe + 1, done.detail);
                }
                done.attempts = probe + 1;
            }
        }
    }
    done
}

impl Call {
    /// The AWS operation the call makes (what `aws` names in its errors).
    pub fn operation(&self) -> &'static str {
        match self {
            // ListObjects (v1), as `aws s3 ls` in the blog: the same s3:ListBucket permission as v2.
            Call::ListBucket { .. } => "ListObjects",
            Call::PutObject { .. } => "PutObject",
            Call::GetObject { .. } => "GetObject",
            Call::AssumeRole { .. } => "AssumeRole",
            Call::GetCallerIdentity { .. } => "GetCallerIdentity",
            Call::InstanceProfileRole { .. } => "DescribeInstances",
        }
    }

    /// The aws CLI command a person would type for the same call.
    pub fn cli(&self) -> String {
        match self {
            Call::ListBucket { bucket, .. } => format!("aws s3 ls s3://{bucket}"),
            Call::PutObject { bucket, key, .. } => format!("aws s3 cp ./{key} s3://{bucket}/{key}"),
            Call::GetObject { bucket, key, .. } => format!("aws s3 cp s3://{bucket}/{key} -"),
            Call::AssumeRole { role_arn, session_name } => format!("aws sts assume-role --role-arn {role_arn} --role-session-name {session_name}"),
            Call::GetCallerIdentity { .. } => "aws sts get-caller-identity".to_string(),
            Call::InstanceProfileRole { instance_id, .. } => {
                format!("aws ec2 describe-instances --instance-ids {instance_id} && aws iam get-instance-profile --instance-profile-name <its profile>")
            }
        }
    }
}

/// A failed call, written the way the aws CLI writes it.
pub(crate) fn failed(call: &Call, err: CallError, latency: Duration) -> Performed {
    let mut done = Performed::new(Observed::from_error(err.clone()), latency);
    done.detail = format!("An error occurred ({}) when calling the {} operation: {}", err.code(), call.operation(), err.message());
    done
}

/// Make the call as `principal`: with the SDK here, or with the aws CLI on its instance.
pub async fn perform(call: &Call, principal: &Principal) -> Performed {
    match principal {
        Principal::Sdk(config) => perform_with_sdk(call, config).await,
        Principal::OnInstance(shell) => shell.perform(call).await,
    }
}

// What an allowed call answered, whichever way it was made (SDK or CLI):
// the detail as the aws CLI shows it, and the scenario's checks.

/// One object of a listing.
pub(crate) struct Listed {
    pub key: String,
    pub size: i64,
    pub last_modified: String,
}

pub(crate) fn listed(expect_keys: &[String], objects: &[Listed], latency: Duration) -> Performed {
    let mut done = Performed::new(Observed::Allowed, latency);
    done.detail = objects.iter().map(|o| format!("{} {:>10} {}", o.last_modified, o.size, o.key)).collect::<Vec<_>>().join("\n");
    if done.detail.is_empty() {
        done.detail = "(empty bucket)".into();
    }
    let missing: Vec<&String> = expect_keys.iter().filter(|k| !objects.iter().any(|o| o.key == **k)).collect();
    if !missing.is_empty() {
        done.mismatch = Some(format!("expected keys missing: {missing:?}"));
    }
    done
}

pub(crate) fn uploaded(bucket: &str, key: &str, bytes: usize, latency: Duration) -> Performed {
    let mut done = Performed::new(Observed::Allowed, latency);
    done.detail = format!("upload: ./{key} to s3://{bucket}/{key} ({bytes} bytes)");
    done
}

pub(crate) fn downloaded(expect_body: Option<&str>, body: String, latency: Duration) -> Performed {
    let mut done = Performed::new(Observed::Allowed, latency);
    if let Some(expected) = expect_body.filter(|e| *e != body) {
        done.mismatch = Some(format!("body was {body:?}, expected {expected:?}"));
    }
    done.detail = body;
    done
}

pub(crate) fn caller(expect_arn: Option<&str>, user_id: &str, account: &str, arn: &str, latency: Duration) -> Performed {
    let mut done = Performed::new(Observed::Allowed, latency);
    done.detail = serde_json::to_string_pretty(&serde_json::json!({ "UserId": user_id, "Account": account, "Arn": arn })).unwrap_or_default();
    if let Some(expected) = expect_arn.filter(|e| *e != arn) {
        done.mismatch = Some(format!("caller is {arn}, expected {expected}"));
    }
    done
}

/// What an AssumeRole answer says of the session (its secrets stay out).
pub(crate) struct Session<'a> {
    pub access_key_id: &'a str,
    pub has_token: bool,
    pub expiration: Option<std::time::SystemTime>,
    pub assumed_arn: &'a str,
}

/// The session ARN AssumeRole must answer for `role_arn`:
/// `arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION` (a role's path is not part of it).
pub(crate) fn expected_session_arn(role_arn: &str, session_name: &str) -> Option<String> {
    let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
    let [_, partition, "iam", "", account, resource] = parts.as_slice() else { return None };
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    Some(format!("arn:{partition}:sts::{account}:assumed-role/{name}/{session_name}"))
}

/// An AssumeRole answer as `aws sts assume-role` prints it, secrets redacted,
/// with the checks every session must pass, the first being that it is a
/// session of the role that was asked for.
pub(crate) fn assumed_session(role_arn: &str, session_name: &str, session: &Session<'_>, latency: Duration) -> Performed {
    let mut done = Performed::new(Observed::Allowed, latency);
    done.detail = serde_json::to_string_pretty(&serde_json::json!({
        "Credentials": {
            "AccessKeyId": session.access_key_id,
            "SecretAccessKey": REDACTED,
            "SessionToken": REDACTED,
            "Expiration": session.expiration.map(format_timestamp).unwrap_or_default(),
        },
        "AssumedRoleUser": { "Arn": session.assumed_arn },
    }))
    .unwrap_or_default();
    let mut problems = Vec::new();
    match expected_session_arn(role_arn, session_name) {
        Some(expected) if expected == session.assumed_arn => {}
        Some(expected) => problems.push(format!("AssumedRoleUser.Arn is {}, expected {expected}", session.assumed_arn)),
        None => problems.push(format!("{role_arn} is not a role ARN")),
    }
    if session.access_key_id.is_empty() {
        problems.push("empty AccessKeyId".into());
    }
    if !session.has_token {
        problems.push("empty SessionToken".into());
    }
    if session.expiration.is_none_or(|e| e <= std::time::SystemTime::now()) {
        problems.push("Expiration is not in the future".into());
    }
    if !problems.is_empty() {
        done.mismatch = Some(problems.join(", "));
    }
    done
}

/// Make the call here, with the SDK, as the principal whose config is `config`.
async fn perform_with_sdk(call: &Call, config: &SdkConfig) -> Performed {
    let start = Instant::now();
    match call {
        Call::ListBucket { bucket, expect_keys } => match sdk::s3_client(config).list_objects().bucket(bucket).send().await {
            Ok(out) => {
                let objects: Vec<Listed> = out
                    .contents()
                    .iter()
                    .map(|o| Listed {
                        key: o.key().unwrap_or_default().to_string(),
                        size: o.size().unwrap_or(0),
                        last_modified: o.last_modified().map(|t| t.to_string()).unwrap_or_default(),
                    })
                    .collect();
                listed(expect_keys, &objects, start.elapsed())
            }
            Err(err) => failed(call, call_error(&err), start.elapsed()),
        },
        Call::PutObject { bucket, key, body } => {
            let request = sdk::s3_client(config).put_object().bucket(bucket).key(key).body(body.clone().into_bytes().into());
            match request.send().await {
                Ok(_) => uploaded(bucket, key, body.len(), start.elapsed()),
                Err(err) => failed(call, call_error(&err), start.elapsed()),
            }
        }
        Call::GetObject { bucket, key, expect_body } => match sdk::s3_client(config).get_object().bucket(bucket).key(key).send().await {
            Ok(out) => {
                let body = out.body.collect().await.map(|b| String::from_utf8_lossy(&b.into_bytes()).into_owned()).unwrap_or_default();
                downloaded(expect_body.as_deref(), body, start.elapsed())
            }
            Err(err) => failed(call, call_error(&err), start.elapsed()),
        },
        Call::AssumeRole { role_arn, session_name } => {
            let request = aws_sdk_sts::Client::new(config).assume_role().role_arn(role_arn).role_session_name(session_name);
            match request.send().await {
                Ok(out) => assumed(role_arn, session_name, out.credentials(), out.assumed_role_user().map(|u| u.arn()), start.elapsed()),
                Err(err) => failed(call, call_error(&err), start.elapsed()),
            }
        }
        Call::GetCallerIdentity { expect_arn } => match aws_sdk_sts::Client::new(config).get_caller_identity().send().await {
            Ok(out) => caller(
                expect_arn.as_deref(),
                out.user_id().unwrap_or_default(),
                out.account().unwrap_or_default(),
                out.arn().unwrap_or_default(),
                start.elapsed(),
            ),
            Err(err) => failed(call, call_error(&err), start.elapsed()),
        },
        Call::InstanceProfileRole { instance_id, expect_role } => instance_profile_role(call, config, instance_id, expect_role.as_deref()).await,
    }
}

fn assumed(role_arn: &str, session_name: &str, credentials: Option<&aws_sdk_sts::types::Credentials>, assumed_arn: Option<&str>, latency: Duration) -> Performed {
    let Some(c) = credentials else {
        let mut done = Performed::new(Observed::Allowed, latency);
        done.mismatch = Some("AssumeRole returned no Credentials".into());
        return done;
    };
    let credentials = SessionCredentials::from(c);
    let session = Session {
        access_key_id: &credentials.access_key_id,
        has_token: !credentials.session_token.expose().is_empty(),
        expiration: Some(credentials.expiration),
        assumed_arn: assumed_arn.unwrap_or_default(),
    };
    let mut done = assumed_session(role_arn, session_name, &session, latency);
    done.session = Some(credentials);
    done
}

async fn instance_profile_role(call: &Call, admin: &SdkConfig, instance_id: &str, expect_role: Option<&str>) -> Performed {
    let start = Instant::now();
    let found = identity::instance_role(admin, instance_id).await;
    let latency = start.elapsed();
    let role = match found {
        Ok(role) => role,
        Err(InstanceRoleError::Call(err)) => return failed(call, err, latency),
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let done = assumed("arn:aws:iam::111111111111:role/r", "s", Some(&creds), Some("arn:aws:sts::111111111111:assumed-role/r/s"), Duration::from_millis(1));
        assert!(done.detail.contains("ASIAEXAMPLE"));
        assert!(!done.detail.contains("very-secret") && !done.detail.contains("very-token"));
        assert!(done.mismatch.is_none(), "{:?}", done.mismatch);
        assert!(!format!("{:?}", done.session).contains("very-secret"));
        // A session of another role than the one asked for fails the step.
        let other = assumed("arn:aws:iam::111111111111:role/r", "s", Some(&creds), Some("arn:aws:sts::111111111111:assumed-role/other/s"), Duration::from_millis(1));
        assert!(other.mismatch.unwrap().contains("expected arn:aws:sts::111111111111:assumed-role/r/s"));
    }

    #[test]
    fn the_expected_session_arn_drops_the_roles_path() {
        assert_eq!(
            expected_session_arn("arn:aws:iam::111111111111:role/services/role2", "blog-demo").as_deref(),
            Some("arn:aws:sts::111111111111:assumed-role/role2/blog-demo")
        );
        assert_eq!(expected_session_arn("arn:aws::iam::111111111111:role/x", "s"), None);
    }
}
