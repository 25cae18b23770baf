//! An Organization's guardrails: service control policies cap what the
//! principals of its member accounts may do, resource control policies what
//! may be done to the resources of its member accounts. Neither grants:
//! every level from the organization's root down to the account (each OU,
//! the account itself) must have a policy that allows the request, and a
//! Deny in any of them denies
//! (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html,
//! https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_evaluation.html).
//!
//! Exempt: the management account's principals (SCPs) and resources (RCPs),
//! service-linked roles, and for RCPs every service AWS does not list and
//! AWS managed KMS keys (whoever builds the policy set leaves their RCPs out:
//! a key's ARN does not say who manages it).

use super::document::Policy;
use super::principal::Caller;

/// The policies attached to one level of the organization above an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgLevel {
    /// Where they are attached, for reasons: `the organization's root r-ab12`, `OU ou-ab12-workloads`, `account 222222222222`.
    pub target: String,
    pub policies: Vec<Policy>,
}

/// The services whose actions RCPs apply to, as AWS listed them when RCPs
/// were launched (2024-11-13; read again 2026-12-06 for the harness's
/// services: S3, STS and KMS are listed, EC2 is not)
/// (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html#rcp-supported-services).
pub const RCP_SERVICES: [&str; 5] = ["s3", "sts", "kms", "sqs", "secretsmanager"];

/// A service-linked role's session: such roles are named `AWSServiceRoleFor...`
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html).
fn service_linked(caller: &Caller) -> bool {
    matches!(caller, Caller::RoleSession { role, .. } if role.starts_with("AWSServiceRoleFor"))
}

/// Whether the SCPs over the caller's account cap this caller: an IAM
/// principal (a user, a role's session, the root user) of a member account.
pub fn scps_apply(caller: &Caller, management_account: Option<&str>) -> bool {
    let member = caller.account().is_some_and(|account| Some(account) != management_account);
    member && matches!(caller, Caller::User { .. } | Caller::RoleSession { .. } | Caller::Root { .. } | Caller::FederatedUser { .. }) && !service_linked(caller)
}

/// Whether the RCPs over the resource's account cap this request: a listed
/// service's action on a member account's resource, not by a service-linked role.
pub fn rcps_apply(caller: &Caller, action: &str, resource_account: Option<&str>, management_account: Option<&str>) -> bool {
    let service = action.split(':').next().unwrap_or_default().to_lowercase();
    let member = resource_account.is_some_and(|account| Some(account) != management_account);
    member && RCP_SERVICES.contains(&service.as_str()) && !service_linked(caller)
}
