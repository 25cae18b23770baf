//! The order AWS evaluates policy types in
//! (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html):
//! an explicit Deny in any policy decides; then, within one account, a
//! resource policy that names the caller itself (user or session ARN)
//! allows on its own, one that names the caller's role still passes through
//! the boundary and session policies, and one that names the account
//! delegates to the identity policies; across accounts both sides must
//! allow. A role's trust policy must always allow (it is the one resource
//! policy that is never optional:
//! https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html).

use super::context::Context;
use super::document::{Effect, Matcher, Policy, Statement};
use super::principal::{Caller, PrincipalMatch};
use super::reason::{Decision, PolicyType, Reason};
use super::{condition, matching};

/// What is asked: who, what, on which resource, with which context.
#[derive(Debug, Clone)]
pub struct Request {
    pub caller: Caller,
    pub action: String,
    pub resource: String,
    /// The resource's account where its ARN has none (S3); None: the caller's.
    pub resource_account: Option<String>,
    pub context: Context,
}

/// The resource policy's kind, from the action and the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// sts:AssumeRole*: the role's trust policy.
    Role,
    /// An S3 bucket or object: the bucket policy.
    Bucket,
    /// Anything else (no resource policy in the harness's scope).
    Other,
}

impl Request {
    pub fn resource_kind(&self) -> ResourceKind {
        if self.action.to_lowercase().starts_with("sts:assumerole") {
            ResourceKind::Role
        } else if self.resource.starts_with("arn:aws:s3:::") || self.resource.starts_with("arn:aws-") && self.resource.contains(":s3:::") {
            ResourceKind::Bucket
        } else {
            ResourceKind::Other
        }
    }

    fn resource_account(&self) -> Option<String> {
        self.resource_account.clone().or_else(|| {
            let account = self.resource.split(':').nth(4).filter(|a| !a.is_empty());
            account.map(str::to_string).or_else(|| self.caller.account().map(str::to_string))
        })
    }

    /// The context with the keys AWS fills from the caller itself.
    fn full_context(&self) -> Context {
        let mut context = self.context.clone();
        context.insert_default("aws:PrincipalArn", self.caller.principal_arn());
        context.insert_default("aws:PrincipalType", self.caller.principal_type().to_string());
        if let Some(account) = self.caller.account() {
            context.insert_default("aws:PrincipalAccount", account.to_string());
        }
        if let Caller::User { name, .. } = &self.caller {
            context.insert_default("aws:username", name.clone());
        }
        context
    }
}

/// Every policy that applies to one request.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// The caller's identity policies (inline, attached, its groups').
    pub identity: Vec<Policy>,
    /// The role's trust policy, or the bucket's policy.
    pub resource: Option<Policy>,
    pub boundary: Option<Policy>,
    /// Session policies passed to AssumeRole (none: the session is not narrowed).
    pub session: Vec<Policy>,
    /// False: the role or bucket exists nowhere.
    pub resource_exists: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    pub reason: Reason,
}

/// The first statement of `policies` with `effect` that applies, and how its principal matched.
fn find<'a>(
    policies: impl IntoIterator<Item = &'a Policy>,
    effect: Effect,
    request: &Request,
    context: &Context,
) -> Option<(&'a Policy, &'a Statement, PrincipalMatch)> {
    let mut best: Option<(&Policy, &Statement, PrincipalMatch)> = None;
    for policy in policies {
        for statement in policy.statements.iter().filter(|s| s.effect == effect) {
            let how = applies(statement, request, context);
            if how != PrincipalMatch::None && best.is_none_or(|(_, _, b)| how > b) {
                best = Some((policy, statement, how));
            }
        }
    }
    best
}

/// Does the statement apply to the request? None: no; else how its principal matched
/// (Direct for statements without one).
fn applies(statement: &Statement, request: &Request, context: &Context) -> PrincipalMatch {
    let action = match &statement.action {
        Matcher::Any(patterns) => patterns.iter().any(|p| matching::action_matches(p, &request.action)),
        Matcher::Not(patterns) => !patterns.iter().any(|p| matching::action_matches(p, &request.action)),
    };
    let resource = match &statement.resource {
        None => true,
        Some(Matcher::Any(patterns)) => patterns.iter().any(|p| matching::resource_matches(p, &request.resource, context)),
        Some(Matcher::Not(patterns)) => !patterns.iter().any(|p| matching::resource_matches(p, &request.resource, context)),
    };
    if !action || !resource || !condition::holds(&statement.conditions, context) {
        return PrincipalMatch::None;
    }
    match (&statement.principal, &statement.not_principal) {
        (Some(principal), _) => principal.matches(&request.caller),
        // NotPrincipal exempts the caller it names, or its role; naming only the
        // account exempts nobody (AWS checks account, then role, then session).
        (None, Some(not)) if not.matches(&request.caller) < PrincipalMatch::Role => PrincipalMatch::Direct,
        (None, Some(_)) => PrincipalMatch::None,
        (None, None) => PrincipalMatch::Direct,
    }
}

fn short(caller: &Caller) -> String {
    match caller {
        Caller::User { arn, .. } | Caller::RoleSession { arn, .. } => arn.splitn(6, ':').nth(5).unwrap_or(arn).to_string(),
        other => other.arn(),
    }
}

/// Decide the request as AWS would.
pub fn evaluate(request: &Request, policies: &PolicySet) -> Evaluation {
    let context = request.full_context();
    let kind = request.resource_kind();
    let who = short(&request.caller);
    let what = format!("{} on {}", request.action, request.resource);
    let resource_type = if kind == ResourceKind::Role { PolicyType::Trust } else { PolicyType::Resource };
    let decide = |decision, policy_type: Option<PolicyType>, hit: Option<(&Policy, &Statement)>, explicit, text: String| Evaluation {
        decision,
        reason: Reason {
            decision,
            policy_type,
            policy: hit.map(|(p, _)| p.name.clone()),
            statement: hit.map(|(_, s)| s.id.clone()),
            explicit,
            text,
        },
    };

    if !policies.resource_exists {
        return match kind {
            ResourceKind::Bucket => decide(Decision::NoSuchBucket, None, None, false, format!("the bucket of {} does not exist", request.resource)),
            _ => decide(Decision::Deny, Some(resource_type), None, false, format!("{} does not exist, so nothing trusts {who}", request.resource)),
        };
    }

    // 1. An explicit Deny anywhere decides.
    let typed: [(PolicyType, Vec<&Policy>); 4] = [
        (PolicyType::Identity, policies.identity.iter().collect()),
        (resource_type, policies.resource.iter().collect()),
        (PolicyType::Boundary, policies.boundary.iter().collect()),
        (PolicyType::Session, policies.session.iter().collect()),
    ];
    for (policy_type, list) in &typed {
        if let Some((policy, statement, _)) = find(list.iter().copied(), Effect::Deny, request, &context) {
            let text = format!("statement {} of {} explicitly denies {who} {what}", statement.id, policy.name);
            return decide(Decision::Deny, Some(*policy_type), Some((policy, statement)), true, text);
        }
    }

    // 2. Allows, each policy type on its own.
    let same_account = request.caller.account().is_none() || request.caller.account() == request.resource_account().as_deref();
    let root = matches!(request.caller, Caller::Root { .. }) && same_account;
    let identity = find(&policies.identity, Effect::Allow, request, &context);
    let resource = find(&policies.resource, Effect::Allow, request, &context);
    let boundary_fails = policies.boundary.as_ref().is_some_and(|b| find([b], Effect::Allow, request, &context).is_none());
    let session_fails = !policies.session.is_empty() && find(&policies.session, Effect::Allow, request, &context).is_none();

    let no_allow = |policy_type: PolicyType, text: String| decide(Decision::Deny, Some(policy_type), None, false, text);
    let boundary_name = policies.boundary.as_ref().map(|b| b.name.clone()).unwrap_or_default();
    // The caller's own side: identity (unless the resource names it), boundary, session.
    let own_side = |need_identity: bool| -> Option<Evaluation> {
        if need_identity && identity.is_none() && !root {
            return Some(no_allow(PolicyType::Identity, format!("no identity-based policy of {who} allows {what}")));
        }
        if boundary_fails {
            return Some(no_allow(PolicyType::Boundary, format!("{boundary_name} (the permissions boundary) does not allow {who} {what}")));
        }
        if session_fails {
            return Some(no_allow(PolicyType::Session, format!("no session policy of {who} allows {what}")));
        }
        None
    };
    let resource_name = policies.resource.as_ref().map(|p| p.name.clone());
    let allowed_by = |policy_type: PolicyType, hit: Option<(&Policy, &Statement, PrincipalMatch)>| {
        let text = match hit {
            Some((p, s, _)) => format!("statement {} of {} allows {who} {what}", s.id, p.name),
            None => format!("the account root user may {what}"),
        };
        decide(Decision::Allow, Some(policy_type), hit.map(|(p, s, _)| (p, s)), false, text)
    };

    let how = resource.map(|(_, _, how)| how).unwrap_or(PrincipalMatch::None);
    if kind == ResourceKind::Role && how == PrincipalMatch::None {
        let trust = resource_name.as_deref().unwrap_or("the role's trust policy");
        return no_allow(PolicyType::Trust, format!("no statement of {trust} lets {who} {}", request.action));
    }
    if matches!(request.caller, Caller::Service(_) | Caller::Federated(_)) {
        // A service or a federated user is named by the trust policy, or nothing allows it.
        return allowed_by(PolicyType::Trust, resource);
    }
    if !same_account {
        if how == PrincipalMatch::None {
            let named = resource_name.as_deref().unwrap_or("a resource policy (there is none)");
            return no_allow(PolicyType::Resource, format!("across accounts, no statement of {named} allows {who} {what}"));
        }
        return own_side(true).unwrap_or_else(|| allowed_by(resource_type, resource));
    }
    match how {
        PrincipalMatch::Direct => allowed_by(resource_type, resource),
        PrincipalMatch::Role => own_side(false).unwrap_or_else(|| allowed_by(resource_type, resource)),
        PrincipalMatch::Account | PrincipalMatch::None => own_side(true).unwrap_or_else(|| match identity {
            Some(hit) => allowed_by(PolicyType::Identity, Some(hit)),
            None => allowed_by(PolicyType::Identity, None),
        }),
    }
}
