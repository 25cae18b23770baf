//! The one thing the harness adds to the config under test on a real
//! account: the AWS-managed `AmazonSSMManagedInstanceCore` policy, attached
//! to the instance's role while a stage's steps run, so that the SSM agent
//! may register and take Run Command. That policy allows only the agent's
//! own `ssm:*`, `ssmmessages:*` and `ec2messages:*` calls: no S3 or STS
//! action, so no step's verdict can change. It is detached after the
//! steps, before any destroy (IAM refuses to delete a role with attached
//! policies); a policy the config attached itself is left alone.

use aws_config::SdkConfig;

use crate::sdk::{CallError, call_error};

pub const POLICY_NAME: &str = "AmazonSSMManagedInstanceCore";

/// The policy attached to a role for a stage.
#[derive(Debug, Clone)]
pub struct Overlay {
    pub role_name: String,
    pub policy_arn: String,
    /// False when the config had attached the policy itself: nothing to undo.
    pub added: bool,
}

/// `arn:<partition>:iam::aws:policy/AmazonSSMManagedInstanceCore`, in the partition of `arn`.
pub fn policy_arn(arn: &str) -> String {
    let partition = arn.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws");
    format!("arn:{partition}:iam::aws:policy/{POLICY_NAME}")
}

/// Attach the policy to `role_name`, unless it is attached already.
/// `arn_in_partition`: any ARN of the account (the partition is read from it).
pub async fn add(admin: &SdkConfig, role_name: &str, arn_in_partition: &str) -> Result<Overlay, CallError> {
    let iam = aws_sdk_iam::Client::new(admin);
    let policy_arn = policy_arn(arn_in_partition);
    let attached = iam.list_attached_role_policies().role_name(role_name).max_items(1000).send().await.map_err(|e| call_error(&e))?;
    let present = attached.attached_policies().iter().any(|p| p.policy_arn() == Some(policy_arn.as_str()));
    if !present {
        iam.attach_role_policy().role_name(role_name).policy_arn(&policy_arn).send().await.map_err(|e| call_error(&e))?;
    }
    Ok(Overlay { role_name: role_name.to_string(), policy_arn, added: !present })
}

impl Overlay {
    /// Detach what `add` attached; already gone (the role too) is done.
    pub async fn remove(&self, admin: &SdkConfig) -> Result<(), CallError> {
        if !self.added {
            return Ok(());
        }
        let detached = aws_sdk_iam::Client::new(admin).detach_role_policy().role_name(&self.role_name).policy_arn(&self.policy_arn).send().await;
        match detached.map_err(|e| call_error(&e)) {
            Err(CallError::Service { code, .. }) if code == "NoSuchEntity" => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_taken_from_the_account_s_partition() {
        assert_eq!(policy_arn("arn:aws:iam::123456789012:role/x"), "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore");
        assert_eq!(policy_arn("arn:aws-us-gov:iam::123456789012:role/x"), "arn:aws-us-gov:iam::aws:policy/AmazonSSMManagedInstanceCore");
    }
}
