//! The calls a step makes: the one table of actions (their IAM action name,
//! the API operation `aws` names in its errors, the CLI command a person
//! would type) and what it takes for a denial of each to be evidence.

use std::collections::BTreeMap;

use crate::scenario::Action;
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
    pub fn from_action(action: &Action, outputs: &BTreeMap<String, String>) -> Result<Self, String> {
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

    /// The IAM action the call needs, as reports show it.
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
}
