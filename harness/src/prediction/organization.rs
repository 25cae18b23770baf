//! The AWS Organization over the scenario's accounts, read from the target
//! as its management account's admin: its id, which accounts are in it, and
//! the SCPs and RCPs attached at each level above an account (the root, each
//! OU, the account), each level read once per stage. An account the
//! Organization does not list is outside it: nothing caps it. Where the
//! harness may not read the Organization, or does not reach its management
//! account, its policies are left out, and every prediction says that SCPs
//! and RCPs may apply and cannot be read.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_organizations::types::PolicyType as OrgPolicyType;

use crate::policy::{DocumentKind, OrgLevel, Policy};
use crate::sdk::call_error;

/// What the Organization says of one account.
#[derive(Debug, Clone, Default)]
pub struct Membership {
    /// The Organization's id (`o-...`).
    pub organization: String,
    pub management: String,
    /// The account's path (`o-.../r-.../ou-.../`): `aws:PrincipalOrgPaths`, `aws:ResourceOrgPaths`.
    pub path: String,
    pub scps: Vec<OrgLevel>,
    pub rcps: Vec<OrgLevel>,
}

/// The Organization, once found: its id, management account and root.
#[derive(Debug, Clone)]
struct Found {
    id: String,
    management: String,
}

/// Reads the Organization through the management account's client, caching what it read.
#[derive(Default)]
pub struct OrganizationReader {
    /// None until looked up; then the Organization, or None for none (or none readable).
    found: Mutex<Option<Option<Found>>>,
    /// Each account's membership (None: outside the Organization, or not readable).
    members: Mutex<HashMap<String, Option<Membership>>>,
    /// Why the Organization's policies could not be read, when they could not.
    unreadable: Mutex<Option<String>>,
}

impl OrganizationReader {
    /// The account's membership, read as `management`'s admin when the
    /// Organization's management account is one the harness reaches.
    /// `describe`: the clients of every account it reaches, to find the Organization from any of them.
    pub async fn membership(
        &self,
        account: &str,
        describe: &[(&str, &aws_sdk_organizations::Client)],
    ) -> Option<Membership> {
        if let Some(known) = self.members.lock().unwrap_or_else(|p| p.into_inner()).get(account) {
            return known.clone();
        }
        // What cannot be read is left out, and every prediction says so.
        let read = self.read(account, describe).await.unwrap_or_else(|why| {
            self.note(why);
            None
        });
        self.members.lock().unwrap_or_else(|p| p.into_inner()).insert(account.to_string(), read.clone());
        read
    }

    /// Why the Organization's SCPs and RCPs are left out of the predictions, if they are.
    pub fn unreadable(&self) -> Option<String> {
        self.unreadable.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn note(&self, why: String) {
        *self.unreadable.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
    }

    async fn found(&self, describe: &[(&str, &aws_sdk_organizations::Client)]) -> Option<Found> {
        if let Some(found) = self.found.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return found;
        }
        let mut found = None;
        for (_, client) in describe {
            match client.describe_organization().send().await {
                Ok(answer) => {
                    let organization = answer.organization();
                    let id = organization.and_then(|o| o.id()).unwrap_or_default().to_string();
                    let management = organization.and_then(|o| o.master_account_id()).unwrap_or_default().to_string();
                    found = Some(Found { id, management });
                    break;
                }
                Err(err) => match call_error(&err).code() {
                    "AWSOrganizationsNotInUseException" => continue,
                    // A target without the Organizations service (an emulator's community edition) has no Organization.
                    "InternalFailure" | "NotImplemented" | "UnknownOperationException" | "InvalidAction" => continue,
                    // Not allowed to look, or an answer it cannot use: predicted without them, and every prediction says so.
                    code => {
                        self.note(format!("organizations:DescribeOrganization answers {code}"));
                        continue;
                    }
                },
            }
        }
        *self.found.lock().unwrap_or_else(|p| p.into_inner()) = Some(found.clone());
        found
    }

    async fn read(&self, account: &str, describe: &[(&str, &aws_sdk_organizations::Client)]) -> Result<Option<Membership>, String> {
        let Some(found) = self.found(describe).await else { return Ok(None) };
        // Only the management account reads the Organization's policies: without it they cannot be
        // read, and are left out (every prediction says so).
        let Some((_, client)) = describe.iter().find(|(id, _)| *id == found.management) else {
            self.note(format!("its management account {} is not one the harness reaches", found.management));
            return Ok(None);
        };
        // The account's ancestors, itself first: an account the Organization does not list is outside it.
        let mut chain = vec![(account.to_string(), "ACCOUNT".to_string())];
        loop {
            let child = chain.last().map(|(id, _)| id.clone()).unwrap_or_default();
            let parents = match client.list_parents().child_id(&child).send().await {
                Ok(parents) => parents,
                Err(err) if call_error(&err).code() == "AccountNotFoundException" && chain.len() == 1 => return Ok(None),
                Err(err) => return Err(format!("organizations:ListParents {child}: {}", call_error(&err).code())),
            };
            let Some(parent) = parents.parents().first() else { break };
            let kind = parent.r#type().map(|t| t.as_str().to_string()).unwrap_or_default();
            chain.push((parent.id().unwrap_or_default().to_string(), kind.clone()));
            if kind == "ROOT" {
                break;
            }
        }
        chain.reverse();
        let root = chain.first().map(|(id, _)| id.clone()).unwrap_or_default();
        let enabled = enabled_types(client, &root).await?;
        let path = format!("{}/{}", found.id, chain.iter().filter(|(_, kind)| kind != "ACCOUNT").map(|(id, _)| format!("{id}/")).collect::<String>());
        let mut membership = Membership { organization: found.id.clone(), management: found.management.clone(), path, ..Membership::default() };
        for (policy_type, kind) in [(OrgPolicyType::ServiceControlPolicy, DocumentKind::Scp), (OrgPolicyType::ResourceControlPolicy, DocumentKind::Rcp)] {
            if !enabled.contains(&policy_type) {
                continue;
            }
            let mut levels = Vec::new();
            for (id, node) in &chain {
                let target = match node.as_str() {
                    "ROOT" => format!("the organization's root {id}"),
                    "ACCOUNT" => format!("account {id}"),
                    _ => format!("OU {id}"),
                };
                levels.push(OrgLevel { target, policies: attached(client, id, &policy_type, kind).await? });
            }
            match kind {
                DocumentKind::Scp => membership.scps = levels,
                _ => membership.rcps = levels,
            }
        }
        Ok(Some(membership))
    }
}

/// The policy types enabled at the root: a type not enabled caps nothing.
async fn enabled_types(client: &aws_sdk_organizations::Client, root: &str) -> Result<Vec<OrgPolicyType>, String> {
    let roots = client.list_roots().send().await.map_err(|err| format!("organizations:ListRoots: {}", call_error(&err).code()))?;
    let root = roots.roots().iter().find(|r| r.id() == Some(root));
    let types = root.map(|r| r.policy_types()).unwrap_or_default();
    Ok(types.iter().filter(|t| t.status().map(|s| s.as_str()) == Some("ENABLED")).filter_map(|t| t.r#type().cloned()).collect())
}

/// The policies of one type attached to a root, OU or account, parsed.
async fn attached(client: &aws_sdk_organizations::Client, target: &str, policy_type: &OrgPolicyType, kind: DocumentKind) -> Result<Vec<Policy>, String> {
    let listed = client
        .list_policies_for_target()
        .target_id(target)
        .filter(policy_type.clone())
        .send()
        .await
        .map_err(|err| format!("organizations:ListPoliciesForTarget {target}: {}", call_error(&err).code()))?;
    let mut policies = Vec::new();
    for summary in listed.policies() {
        let id = summary.id().unwrap_or_default();
        let described = client.describe_policy().policy_id(id).send().await.map_err(|err| format!("organizations:DescribePolicy {id}: {}", call_error(&err).code()))?;
        let content = described.policy().and_then(|p| p.content()).unwrap_or_default();
        let label = if kind == DocumentKind::Scp { "SCP" } else { "RCP" };
        let name = format!("the {label} {}", summary.name().unwrap_or(id));
        policies.push(Policy::parse(&name, content, kind).map_err(|e| format!("{name}: {e}"))?);
    }
    Ok(policies)
}
