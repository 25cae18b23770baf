//! The calls a step makes: the one table of actions (their IAM action name,
//! the API operation `aws` names in its errors, the CLI command a person
//! would type) and what it takes for a denial of each to be evidence.

use std::collections::BTreeMap;

use crate::scenario::{Action, ActionKind, SessionParams};
use crate::policy::{PolicyType, Reason};
use crate::target_facts::Capabilities;

/// A step's call with every `${output}` rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    ListBucket { bucket: String, expect_keys: Vec<String> },
    PutObject { bucket: String, key: String, body: String },
    GetObject { bucket: String, key: String, expect_body: Option<String> },
    AssumeRole { role_arn: String, session_name: String, session: SessionParams<String> },
    /// A token `issuer` issues with `claims`, exchanged for a session of the role.
    AssumeRoleWithWebIdentity { role_arn: String, session_name: String, issuer: String, claims: BTreeMap<String, String> },
    GetCallerIdentity { expect_arn: Option<String> },
    /// The harness's first step: which role does the instance really carry?
    InstanceProfileRole { instance_id: String, expect_role: Option<String> },
}

impl Call {
    /// The call a step's action makes; `issuer`: the OIDC provider of the acting principal, if it is one.
    pub fn from_action(action: &Action, outputs: &BTreeMap<String, String>, issuer: Option<&str>) -> Result<Self, String> {
        Ok(match action {
            Action::ListBucket { bucket, expect_keys } => Call::ListBucket { bucket: bucket.render(outputs)?, expect_keys: expect_keys.clone() },
            Action::PutObject { bucket, key, body } => Call::PutObject { bucket: bucket.render(outputs)?, key: key.render(outputs)?, body: body.clone() },
            Action::GetObject { bucket, key, expect_body } => {
                Call::GetObject { bucket: bucket.render(outputs)?, key: key.render(outputs)?, expect_body: expect_body.clone() }
            }
            Action::AssumeRole { role_arn, session_name, session, .. } => {
                Call::AssumeRole { role_arn: role_arn.render(outputs)?, session_name: session_name.clone(), session: session.render(outputs)? }
            }
            Action::AssumeRoleWithWebIdentity { role_arn, session_name, claims, .. } => Call::AssumeRoleWithWebIdentity {
                role_arn: role_arn.render(outputs)?,
                session_name: session_name.clone(),
                issuer: issuer.unwrap_or_default().to_string(),
                claims: claims.clone(),
            },
            Action::GetCallerIdentity { expect_arn } => Call::GetCallerIdentity { expect_arn: expect_arn.as_ref().map(|t| t.render(outputs)).transpose()? },
        })
    }

    /// The IAM action the call needs, as reports show it.
    pub fn action_name(&self) -> &'static str {
        let kind = match self {
            Call::ListBucket { .. } => ActionKind::ListBucket,
            Call::PutObject { .. } => ActionKind::PutObject,
            Call::GetObject { .. } => ActionKind::GetObject,
            Call::AssumeRole { .. } => ActionKind::AssumeRole,
            Call::AssumeRoleWithWebIdentity { .. } => ActionKind::AssumeRoleWithWebIdentity,
            Call::GetCallerIdentity { .. } => ActionKind::GetCallerIdentity,
            Call::InstanceProfileRole { .. } => return "ec2:DescribeInstances+iam:GetInstanceProfile",
        };
        kind.name()
    }

    /// Whether a refusal of this call is evidence on a target with `caps`:
    /// the target must enforce what the call's parameters and its predicted
    /// reason depend on. Err: what it does not enforce.
    pub fn denial_verifiable(&self, caps: &Capabilities, predicted: Option<&Reason>) -> Result<(), &'static str> {
        if let Call::AssumeRole { session, .. } = self {
            // The rule the predicted denial names is the one the target must enforce.
            match predicted.and_then(|p| p.policy_type) {
                Some(PolicyType::Identity) if !caps.identity_policies => return Err("the target does not enforce identity policies"),
                Some(PolicyType::Identity) => {}
                _ if !caps.trust_policies => return Err("the target does not enforce trust policies"),
                _ => {}
            }
            if session.external_id.is_some() && !caps.trust_conditions {
                return Err("the target does not check trust policy conditions (sts:ExternalId)");
            }
            if !session.tags.is_empty() && !caps.session_tags {
                return Err("the target does not require sts:TagSession for session tags");
            }
            if session.duration_seconds.is_some() && !caps.session_durations {
                return Err("the target does not check session durations");
            }
        }
        if let Call::AssumeRoleWithWebIdentity { .. } = self {
            return if caps.web_identity { Ok(()) } else { Err("the target does not check web identity tokens against trust policies") };
        }
        if !caps.identity_policies {
            return Err("the target does not enforce identity policies");
        }
        if predicted.and_then(|p| p.policy_type) == Some(PolicyType::Session) && !caps.session_policies {
            return Err("the target does not apply session policies");
        }
        Ok(())
    }

    /// The AWS operation the call makes (what `aws` names in its errors).
    pub fn operation(&self) -> &'static str {
        match self {
            // ListObjects (v1), as `aws s3 ls` in the blog: the same s3:ListBucket permission as v2.
            Call::ListBucket { .. } => "ListObjects",
            Call::PutObject { .. } => "PutObject",
            Call::GetObject { .. } => "GetObject",
            Call::AssumeRole { .. } => "AssumeRole",
            Call::AssumeRoleWithWebIdentity { .. } => "AssumeRoleWithWebIdentity",
            Call::GetCallerIdentity { .. } => "GetCallerIdentity",
            Call::InstanceProfileRole { .. } => "DescribeInstances",
        }
    }

    /// What the call acts on, as a person names it: the bucket, the role (its
    /// name), the instance; None for who-am-I.
    pub fn resource(&self) -> Option<String> {
        let role_name = |arn: &str| arn.rsplit('/').next().unwrap_or(arn).to_string();
        match self {
            Call::ListBucket { bucket, .. } | Call::PutObject { bucket, .. } | Call::GetObject { bucket, .. } => Some(bucket.clone()),
            Call::AssumeRole { role_arn, .. } | Call::AssumeRoleWithWebIdentity { role_arn, .. } => Some(role_name(role_arn)),
            Call::InstanceProfileRole { instance_id, .. } => Some(instance_id.clone()),
            Call::GetCallerIdentity { .. } => None,
        }
    }

    /// The aws CLI command a person would type for the same call.
    pub fn cli(&self) -> String {
        match self {
            Call::ListBucket { bucket, .. } => format!("aws s3 ls s3://{bucket}"),
            Call::PutObject { bucket, key, .. } => format!("aws s3 cp ./{key} s3://{bucket}/{key}"),
            Call::GetObject { bucket, key, .. } => format!("aws s3 cp s3://{bucket}/{key} -"),
            Call::AssumeRole { role_arn, session_name, session } => {
                format!("aws sts assume-role --role-arn {role_arn} --role-session-name {session_name}{}", session_flags(session, shell_word))
            }
            Call::AssumeRoleWithWebIdentity { role_arn, session_name, issuer, claims } => {
                let claims: Vec<String> = claims.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!(
                    "aws sts assume-role-with-web-identity --role-arn {role_arn} --role-session-name {session_name} --web-identity-token \"$TOKEN\"   # TOKEN: issued by the harness as {issuer}: {}",
                    claims.join(", ")
                )
            }
            Call::GetCallerIdentity { .. } => "aws sts get-caller-identity".to_string(),
            Call::InstanceProfileRole { instance_id, .. } => {
                format!("aws ec2 describe-instances --instance-ids {instance_id} && aws iam get-instance-profile --instance-profile-name <its profile>")
            }
        }
    }
}

/// A value as a person types it in a shell: bare when that is safe, else single-quoted.
fn shell_word(value: &str) -> String {
    let bare = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "=,:/_.-@+".contains(c));
    if bare { value.to_string() } else { format!("'{}'", value.replace('\'', r"'\''")) }
}

/// The aws CLI flags of an AssumeRole step's session parameters, each value
/// written by `quote` (shell quoting on an instance, as-is for a person).
pub fn session_flags(session: &SessionParams<String>, quote: impl Fn(&str) -> String) -> String {
    let mut flags = String::new();
    if let Some(id) = &session.external_id {
        flags.push_str(&format!(" --external-id {}", quote(id)));
    }
    if let Some(seconds) = session.duration_seconds {
        flags.push_str(&format!(" --duration-seconds {seconds}"));
    }
    if !session.tags.is_empty() {
        let tags: Vec<String> = session.tags.iter().map(|(k, v)| quote(&format!("Key={k},Value={v}"))).collect();
        flags.push_str(&format!(" --tags {}", tags.join(" ")));
    }
    if !session.transitive_tag_keys.is_empty() {
        let keys: Vec<String> = session.transitive_tag_keys.iter().map(|k| quote(k)).collect();
        flags.push_str(&format!(" --transitive-tag-keys {}", keys.join(" ")));
    }
    if let Some(identity) = &session.source_identity {
        flags.push_str(&format!(" --source-identity {}", quote(identity)));
    }
    if let Some(policy) = &session.policy {
        flags.push_str(&format!(" --policy {}", quote(policy)));
    }
    if !session.policy_arns.is_empty() {
        let arns: Vec<String> = session.policy_arns.iter().map(|a| quote(&format!("arn={a}"))).collect();
        flags.push_str(&format!(" --policy-arns {}", arns.join(" ")));
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assume_role_needs_trust_enforcement_to_verify_a_denial() {
        let call = Call::AssumeRole { role_arn: "arn".into(), session_name: "s".into(), session: SessionParams::default() };
        let identity_only = Capabilities { identity_policies: true, ..Capabilities::default() };
        assert!(call.denial_verifiable(&identity_only, None).is_err());
        let list = Call::ListBucket { bucket: "b".into(), expect_keys: vec![] };
        assert!(list.denial_verifiable(&identity_only, None).is_ok());
    }

    #[test]
    fn an_assume_role_denied_by_identity_policies_depends_on_those() {
        let call = Call::AssumeRole { role_arn: "arn".into(), session_name: "s".into(), session: SessionParams::default() };
        let by_identity = Reason { decision: crate::policy::Decision::Deny, policy_type: Some(PolicyType::Identity), policy: None, statement: None, explicit: false, text: "t".into(), condition: None };
        assert_eq!(call.denial_verifiable(&Capabilities::default(), Some(&by_identity)), Err("the target does not enforce identity policies"));
        let identity_only = Capabilities { identity_policies: true, ..Capabilities::default() };
        assert!(call.denial_verifiable(&identity_only, Some(&by_identity)).is_ok());
        let by_trust = Reason { policy_type: Some(PolicyType::Trust), ..by_identity };
        assert_eq!(call.denial_verifiable(&identity_only, Some(&by_trust)), Err("the target does not enforce trust policies"));
    }

    #[test]
    fn a_parameter_the_target_ignores_leaves_a_refusal_unproven() {
        let trust_only = Capabilities { identity_policies: true, trust_policies: true, ..Capabilities::default() };
        let with = |session: SessionParams<String>| Call::AssumeRole { role_arn: "arn".into(), session_name: "s".into(), session };
        let tagged = with(SessionParams { tags: [("team".to_string(), "data".to_string())].into(), ..SessionParams::default() });
        assert_eq!(tagged.denial_verifiable(&trust_only, None), Err("the target does not require sts:TagSession for session tags"));
        let long = with(SessionParams { duration_seconds: Some(7200), ..SessionParams::default() });
        assert_eq!(long.denial_verifiable(&trust_only, None), Err("the target does not check session durations"));
        assert!(long.denial_verifiable(&Capabilities::ENFORCED, None).is_ok());
        // A later call denied by a session policy needs the target to apply them.
        let by_session = Reason { decision: crate::policy::Decision::Deny, policy_type: Some(PolicyType::Session), policy: None, statement: None, explicit: false, text: "t".into(), condition: None };
        let put = Call::PutObject { bucket: "b".into(), key: "k".into(), body: String::new() };
        assert_eq!(put.denial_verifiable(&trust_only, Some(&by_session)), Err("the target does not apply session policies"));
    }
}
