//! Making a step's call as a principal: with the SDK here, or through the
//! principal's instance (SSM Run Command); retried as IAM's eventual
//! consistency demands. What the call came to is `outcome`'s; its verdict
//! is `verdict`'s.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;

use crate::call::Call;
use crate::identity::{self, InstanceRoleError, SessionCredentials};
use crate::on_instance::Shell;
use crate::outcome::{Listed, Observed, Performed, Session, assumed_session, caller, downloaded, failed, listed, uploaded};
use crate::scenario::{Expectation, SessionParams};
use crate::sdk::{self, call_error};
use crate::target::Consistency;

/// Who a step acts as, and where its calls are made.
#[derive(Debug, Clone)]
pub enum Principal {
    /// Here, with the SDK: the emulated instance's role (over the local
    /// IMDS endpoint), a user's key, a session an AssumeRole step returned,
    /// the admin, or no credentials at all (a token issuer's exchange).
    Sdk(Box<SdkConfig>),
    /// On a real instance, by its aws CLI (SSM Run Command): the instance's
    /// own role, or a session an AssumeRole step saved there.
    OnInstance(Shell),
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
            while not_yet_propagated(&done.observed) && first.elapsed() + backoff <= consistency.allow_deadline {
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
        // A refusal for an invalid parameter does not wait on propagation.
        Expectation::Error => {}
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

/// What IAM's eventual consistency shows while a change spreads: a denial,
/// or a new access key not yet known everywhere (InvalidClientTokenId).
fn not_yet_propagated(observed: &Observed) -> bool {
    match observed {
        Observed::Denied { .. } => true,
        Observed::Error { code, .. } => code == "InvalidClientTokenId",
        Observed::Allowed => false,
    }
}

/// Make the call as `principal`: with the SDK here, or with the aws CLI on its instance.
pub async fn perform(call: &Call, principal: &Principal) -> Performed {
    match principal {
        Principal::Sdk(config) => perform_with_sdk(call, config).await,
        Principal::OnInstance(shell) => shell.perform(call).await,
    }
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
            Err(err) => failed(call.operation(), call_error(&err), start.elapsed()),
        },
        Call::PutObject { bucket, key, body } => {
            let request = sdk::s3_client(config).put_object().bucket(bucket).key(key).body(body.clone().into_bytes().into());
            match request.send().await {
                Ok(_) => uploaded(bucket, key, body.len(), start.elapsed()),
                Err(err) => failed(call.operation(), call_error(&err), start.elapsed()),
            }
        }
        Call::GetObject { bucket, key, expect_body } => match sdk::s3_client(config).get_object().bucket(bucket).key(key).send().await {
            Ok(out) => {
                let body = out.body.collect().await.map(|b| String::from_utf8_lossy(&b.into_bytes()).into_owned()).unwrap_or_default();
                downloaded(expect_body.as_deref(), body, start.elapsed())
            }
            Err(err) => failed(call.operation(), call_error(&err), start.elapsed()),
        },
        Call::AssumeRole { role_arn, session_name, session } => {
            let request = with_session(aws_sdk_sts::Client::new(config).assume_role().role_arn(role_arn).role_session_name(session_name), session);
            match request.send().await {
                Ok(out) => assumed(role_arn, session_name, out.credentials(), out.assumed_role_user().map(|u| u.arn()), start.elapsed()),
                Err(err) => failed(call.operation(), call_error(&err), start.elapsed()),
            }
        }
        Call::AssumeRoleWithWebIdentity { role_arn, session_name, issuer, claims } => {
            let token = crate::web_token::issue(issuer, claims);
            let request = aws_sdk_sts::Client::new(config).assume_role_with_web_identity().role_arn(role_arn).role_session_name(session_name).web_identity_token(token);
            match request.send().await {
                Ok(out) => assumed(role_arn, session_name, out.credentials(), out.assumed_role_user().map(|u| u.arn()), start.elapsed()),
                Err(err) => failed(call.operation(), call_error(&err), start.elapsed()),
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
            Err(err) => failed(call.operation(), call_error(&err), start.elapsed()),
        },
        Call::InstanceProfileRole { instance_id, expect_role } => instance_profile_role(call, config, instance_id, expect_role.as_deref()).await,
    }
}

/// The AssumeRole request with the step's session parameters.
fn with_session(
    request: aws_sdk_sts::operation::assume_role::builders::AssumeRoleFluentBuilder,
    session: &SessionParams<String>,
) -> aws_sdk_sts::operation::assume_role::builders::AssumeRoleFluentBuilder {
    use aws_sdk_sts::types::{PolicyDescriptorType, Tag};
    let tags = session.tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok());
    let arns = session.policy_arns.iter().map(|arn| PolicyDescriptorType::builder().arn(arn).build());
    request
        .set_external_id(session.external_id.clone())
        .set_duration_seconds(session.duration_seconds)
        .set_tags((!session.tags.is_empty()).then(|| tags.collect()))
        .set_transitive_tag_keys((!session.transitive_tag_keys.is_empty()).then(|| session.transitive_tag_keys.clone()))
        .set_source_identity(session.source_identity.clone())
        .set_policy(session.policy.clone())
        .set_policy_arns((!session.policy_arns.is_empty()).then(|| arns.collect()))
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
        Err(InstanceRoleError::Call(err)) => return failed(call.operation(), err, latency),
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

}
