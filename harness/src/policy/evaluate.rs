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
use super::organization::{self, OrgLevel};
use super::principal::{Caller, PrincipalMatch};
use super::reason::{ConditionMiss, Decision, PolicyType, Reason};
use super::{condition, matching, public};

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
    /// sts:AssumeRole* (and what its parameters need): the role's trust policy.
    Role,
    /// An S3 bucket or object: the bucket policy.
    Bucket,
    /// A KMS key: its key policy, which the account's IAM policies need
    /// (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html).
    Key,
    /// Anything else (no resource policy in the harness's scope).
    Other,
}

/// Actions on a role that its trust policy authorizes: AssumeRole* and the
/// permissions-only actions an AssumeRole's parameters also need
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html:
/// "the AssumeRole operation fails" for a role whose trust lacks sts:TagSession).
pub fn is_trust_action(action: &str) -> bool {
    let action = action.to_lowercase();
    action.starts_with("sts:assumerole") || action == "sts:tagsession" || action == "sts:setsourceidentity"
}

impl Request {
    pub fn resource_kind(&self) -> ResourceKind {
        if is_trust_action(&self.action) {
            ResourceKind::Role
        } else if self.resource.starts_with("arn:aws:s3:::") || self.resource.starts_with("arn:aws-") && self.resource.contains(":s3:::") {
            ResourceKind::Bucket
        } else if self.resource.split(':').nth(2) == Some("kms") {
            ResourceKind::Key
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
        if self.caller == Caller::Anonymous {
            // An unsigned request carries no principal keys.
            return context;
        }
        context.insert_default("aws:PrincipalArn", self.caller.principal_arn());
        context.insert_default("aws:PrincipalType", self.caller.principal_type().to_string());
        if let Some(account) = self.caller.account() {
            context.insert_default("aws:PrincipalAccount", account.to_string());
        }
        if let Caller::User { name, .. } = &self.caller {
            context.insert_default("aws:username", name.clone());
        }
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html:
        // aws:PrincipalIsAWSService and aws:ViaAWSService are in every request signed with AWS
        // credentials (a call the principal makes itself is not via a service), aws:ResourceAccount
        // in most, aws:MultiFactorAuthPresent only with temporary credentials (a role session, no MFA).
        let signed_by_credentials = matches!(self.caller, Caller::User { .. } | Caller::RoleSession { .. } | Caller::Root { .. } | Caller::FederatedUser { .. });
        if signed_by_credentials || matches!(self.caller, Caller::Service(_)) {
            context.insert_default("aws:PrincipalIsAWSService", matches!(self.caller, Caller::Service(_)).to_string());
        }
        if signed_by_credentials {
            context.insert_default("aws:ViaAWSService", "false".into());
        }
        if let Caller::RoleSession { .. } | Caller::FederatedUser { .. } = self.caller {
            context.insert_default("aws:MultiFactorAuthPresent", "false".into());
        }
        if let Some(account) = self.resource_account() {
            context.insert_default("aws:ResourceAccount", account);
        }
        // https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-caller-account:
        // every KMS request carries the caller's account.
        if let (ResourceKind::Key, Some(account)) = (self.resource_kind(), self.caller.account()) {
            context.insert_default("kms:CallerAccount", account.to_string());
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
    /// The SCPs over the caller's account, a level each from the
    /// organization's root down (none: the account is in no organization the harness knows).
    pub scps: Vec<OrgLevel>,
    /// The RCPs over the resource's account, likewise.
    pub rcps: Vec<OrgLevel>,
    /// The organization's management account, which neither caps.
    pub management_account: Option<String>,
    /// S3 Block Public Access's RestrictPublicBuckets over the bucket (its own
    /// setting or its account's): a public bucket policy grants only the
    /// bucket owner's account and AWS services.
    pub restrict_public: bool,
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
    bounded: bool,
) -> Option<(&'a Policy, &'a Statement, PrincipalMatch)> {
    let mut best: Option<(&Policy, &Statement, PrincipalMatch)> = None;
    for policy in policies {
        for statement in policy.statements.iter().filter(|s| s.effect == effect) {
            let how = applies(statement, request, context, bounded);
            if how != PrincipalMatch::None && best.is_none_or(|(_, _, b)| how > b) {
                best = Some((policy, statement, how));
            }
        }
    }
    best
}

/// Does the statement apply to the request? None: no; else how its principal matched
/// (Direct for statements without one). `bounded`: the caller has a permissions boundary.
fn applies(statement: &Statement, request: &Request, context: &Context, bounded: bool) -> PrincipalMatch {
    if !condition::holds(&statement.conditions, context) {
        return PrincipalMatch::None;
    }
    applies_but_for_conditions(statement, request, context, bounded)
}

/// The first Allow statement of `policies` that would apply to the request
/// but for one of its conditions, and that condition as the request missed it.
fn condition_miss<'a>(policies: impl IntoIterator<Item = &'a Policy>, request: &Request, context: &Context, bounded: bool) -> Option<(&'a Policy, &'a Statement, ConditionMiss)> {
    policies.into_iter().find_map(|policy| {
        policy.statements.iter().filter(|s| s.effect == Effect::Allow && applies_but_for_conditions(s, request, context, bounded) != PrincipalMatch::None).find_map(|statement| {
            let entry = statement.conditions.iter().find(|entry| !condition::entry_holds(entry, context))?;
            let actual = context.get(&entry.key).filter(|v| !v.is_empty()).cloned();
            Some((policy, statement, ConditionMiss { key: entry.key.clone(), operator: entry.operator.clone(), expected: entry.values.clone(), actual }))
        })
    })
}

/// Action, resource and principal: whether the statement is about this request.
fn applies_but_for_conditions(statement: &Statement, request: &Request, context: &Context, bounded: bool) -> PrincipalMatch {
    let action = match &statement.action {
        Matcher::Any(patterns) => patterns.iter().any(|p| matching::action_matches(p, &request.action)),
        Matcher::Not(patterns) => !patterns.iter().any(|p| matching::action_matches(p, &request.action)),
    };
    let resource = match &statement.resource {
        None => true,
        Some(Matcher::Any(patterns)) => patterns.iter().any(|p| matching::resource_matches(p, &request.resource, context)),
        Some(Matcher::Not(patterns)) => !patterns.iter().any(|p| matching::resource_matches(p, &request.resource, context)),
    };
    if !action || !resource {
        return PrincipalMatch::None;
    }
    match (&statement.principal, &statement.not_principal) {
        (Some(principal), _) => principal.matches(&request.caller),
        // A Deny with NotPrincipal always denies a principal with a permissions
        // boundary, whatever it lists; else it spares only whom it lists as AWS checks
        // (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html).
        (None, Some(not)) if bounded || !not.spares(&request.caller) => PrincipalMatch::Direct,
        (None, Some(_)) => PrincipalMatch::None,
        (None, None) => PrincipalMatch::Direct,
    }
}

fn short(caller: &Caller) -> String {
    match caller {
        Caller::User { arn, .. } | Caller::RoleSession { arn, .. } | Caller::FederatedUser { arn, .. } => arn.splitn(6, ':').nth(5).unwrap_or(arn).to_string(),
        Caller::Anonymous => "an anonymous caller".into(),
        other => other.arn(),
    }
}

/// Decide the request as AWS would.
pub fn evaluate(request: &Request, policies: &PolicySet) -> Evaluation {
    let evaluator = Evaluator::new(request, policies);
    if !policies.resource_exists {
        return evaluator.missing_resource();
    }
    evaluator.explicit_deny().or_else(|| evaluator.organization_caps()).unwrap_or_else(|| evaluator.allows())
}

/// How the resource policy's Allow statements name the caller at their
/// strongest, their conditions aside (`None`: none is about the request):
/// whether the resource grants on its own or delegates to the caller's account.
pub fn resource_grant(request: &Request, policies: &PolicySet) -> PrincipalMatch {
    let context = request.full_context();
    let statements = policies.resource.iter().flat_map(|p| &p.statements).filter(|s| s.effect == Effect::Allow);
    statements.map(|s| applies_but_for_conditions(s, request, &context, policies.boundary.is_some())).max().unwrap_or(PrincipalMatch::None)
}

/// The Allow statements that speak for an allowed request, one per policy
/// type that has one: (the policy's name, the statement's Sid or index).
pub fn allowing_statements(request: &Request, policies: &PolicySet) -> Vec<(String, String)> {
    let context = request.full_context();
    let bounded = policies.boundary.is_some();
    let groups: [Vec<&Policy>; 4] = [policies.identity.iter().collect(), policies.resource.iter().collect(), policies.boundary.iter().collect(), policies.session.iter().collect()];
    groups.iter().filter_map(|group| find(group.iter().copied(), Effect::Allow, request, &context, bounded)).map(|(p, s, _)| (p.name.clone(), s.id.clone())).collect()
}

type Hit<'a> = (&'a Policy, &'a Statement, PrincipalMatch);

/// One request against its policies, with the words every reason uses.
struct Evaluator<'a> {
    request: &'a Request,
    policies: &'a PolicySet,
    context: Context,
    kind: ResourceKind,
    /// The trust policy for a role, else the bucket policy.
    resource_type: PolicyType,
    /// The caller, short: `assumed-role/role1/i-1`.
    who: String,
    /// `s3:ListBucket on arn:aws:s3:::b`.
    what: String,
    /// The levels of SCPs over the caller and of RCPs over the resource that cap this request (empty where none does).
    scps: &'a [OrgLevel],
    rcps: &'a [OrgLevel],
}

impl<'a> Evaluator<'a> {
    fn new(request: &'a Request, policies: &'a PolicySet) -> Self {
        let kind = request.resource_kind();
        let management = policies.management_account.as_deref();
        Self {
            request,
            policies,
            context: request.full_context(),
            kind,
            resource_type: match kind {
                ResourceKind::Role => PolicyType::Trust,
                ResourceKind::Key => PolicyType::KeyPolicy,
                ResourceKind::Bucket | ResourceKind::Other => PolicyType::Resource,
            },
            who: short(&request.caller),
            what: format!("{} on {}", request.action, request.resource),
            scps: if organization::scps_apply(&request.caller, management) { &policies.scps } else { &[] },
            // Most requests carry no RCPs: their resource's account is not worked out for nothing.
            rcps: match policies.rcps.is_empty() || !organization::rcps_apply(&request.caller, &request.action, request.resource_account().as_deref(), management) {
                true => &[],
                false => &policies.rcps,
            },
        }
    }

    fn decide(&self, decision: Decision, policy_type: Option<PolicyType>, hit: Option<(&Policy, &Statement)>, explicit: bool, text: String) -> Evaluation {
        let reason = Reason {
            decision,
            policy_type,
            policy: hit.map(|(p, _)| p.name.clone()),
            statement: hit.map(|(_, s)| s.id.clone()),
            explicit,
            text,
            condition: None,
        };
        Evaluation { decision, reason }
    }

    /// No statement of `policies` allows: where one would but for a
    /// condition, the reason names that statement and condition.
    fn no_allow_of(&self, policy_type: PolicyType, policies: &[&Policy], text: String) -> Evaluation {
        let Some((policy, statement, miss)) = condition_miss(policies.iter().copied(), self.request, &self.context, self.policies.boundary.is_some()) else {
            return self.no_allow(policy_type, text);
        };
        let text = format!("statement {} of {} allows {} {} only if {miss}", statement.id, policy.name, self.who, self.request.action);
        let mut evaluation = self.decide(Decision::Deny, Some(policy_type), Some((policy, statement)), false, text);
        evaluation.reason.condition = Some(miss);
        evaluation
    }

    fn no_allow(&self, policy_type: PolicyType, text: String) -> Evaluation {
        self.decide(Decision::Deny, Some(policy_type), None, false, text)
    }

    fn find(&self, policies: impl IntoIterator<Item = &'a Policy>, effect: Effect) -> Option<Hit<'a>> {
        find(policies, effect, self.request, &self.context, self.policies.boundary.is_some())
    }

    /// A bucket that exists nowhere is NoSuchBucket; a role that does not exist trusts nobody.
    fn missing_resource(&self) -> Evaluation {
        match self.kind {
            ResourceKind::Bucket => self.decide(Decision::NoSuchBucket, None, None, false, format!("the bucket of {} does not exist", self.request.resource)),
            _ => self.no_allow(self.resource_type, format!("{} does not exist, so nothing trusts {}", self.request.resource, self.who)),
        }
    }

    /// After the denies, the organization's caps: every level of RCPs over the
    /// resource, then every level of SCPs over the caller, must allow.
    fn organization_caps(&self) -> Option<Evaluation> {
        let typed = [(PolicyType::Rcp, "RCP", self.rcps), (PolicyType::Scp, "SCP", self.scps)];
        typed.into_iter().find_map(|(policy_type, kind, levels)| {
            let level = levels.iter().find(|level| self.find(&level.policies, Effect::Allow).is_none())?;
            let policies: Vec<&Policy> = level.policies.iter().collect();
            let text = format!("no {kind} attached to {} allows {} {}", level.target, self.who, self.what);
            Some(self.no_allow_of(policy_type, &policies, text))
        })
    }

    /// First, an explicit Deny anywhere decides.
    fn explicit_deny(&self) -> Option<Evaluation> {
        let policies = self.policies;
        let typed: [(PolicyType, Vec<&Policy>); 6] = [
            (PolicyType::Rcp, self.rcps.iter().flat_map(|l| &l.policies).collect()),
            (PolicyType::Scp, self.scps.iter().flat_map(|l| &l.policies).collect()),
            (PolicyType::Identity, policies.identity.iter().collect()),
            (self.resource_type, policies.resource.iter().collect()),
            (PolicyType::Boundary, policies.boundary.iter().collect()),
            (PolicyType::Session, policies.session.iter().collect()),
        ];
        typed.iter().find_map(|(policy_type, list)| {
            let (policy, statement, _) = self.find(list.iter().copied(), Effect::Deny)?;
            let text = format!("statement {} of {} explicitly denies {} {}", statement.id, policy.name, self.who, self.what);
            Some(self.decide(Decision::Deny, Some(*policy_type), Some((policy, statement)), true, text))
        })
    }

    /// Then the allows, each policy type on its own, combined as the resource
    /// policy's principal and the accounts require.
    fn allows(&self) -> Evaluation {
        let request = self.request;
        let resource = self.find(&self.policies.resource, Effect::Allow);
        let how = resource.map(|(_, _, how)| how).unwrap_or(PrincipalMatch::None);
        // A role, and a KMS key, admit no one their own policy does not name: a key not even its
        // account, whose IAM policies count only where the key policy enables them.
        if matches!(self.kind, ResourceKind::Role | ResourceKind::Key) && how == PrincipalMatch::None {
            let policies: Vec<&Policy> = self.policies.resource.iter().collect();
            let text = match (self.kind, self.resource_name()) {
                (ResourceKind::Role, named) => format!("no statement of {} lets {} {}", named.unwrap_or_else(|| "the role's trust policy".into()), self.who, request.action),
                (_, named) => format!(
                    "no statement of {} allows {} {}, nor enables the IAM policies of {}, without which they have no effect",
                    named.unwrap_or_else(|| "the key policy (there is none)".into()),
                    self.who,
                    request.action,
                    request.caller.account().map_or_else(|| "its account".to_string(), |a| format!("account {a}")),
                ),
            };
            return self.no_allow_of(self.resource_type, &policies, text);
        }
        if let Some(blocked) = self.public_access_blocked() {
            return blocked;
        }
        if matches!(request.caller, Caller::Service(_) | Caller::Federated(_) | Caller::Anonymous) {
            // A service, a federated user or an anonymous caller is named by the resource policy, or nothing allows it.
            if resource.is_none() {
                let policies: Vec<&Policy> = self.policies.resource.iter().collect();
                let named = self.resource_name().unwrap_or_else(|| "a resource policy (there is none)".into());
                return self.no_allow_of(self.resource_type, &policies, format!("no statement of {named} allows {} {}", self.who, self.what));
            }
            return self.allowed_by(self.resource_type, resource);
        }
        if !self.same_account() {
            if how == PrincipalMatch::None {
                let named = self.resource_name().unwrap_or_else(|| "a resource policy (there is none)".into());
                return self.no_allow(PolicyType::Resource, format!("across accounts, no statement of {named} allows {} {}", self.who, self.what));
            }
            return self.own_side(true).unwrap_or_else(|| self.allowed_by(self.resource_type, resource));
        }
        match how {
            PrincipalMatch::Direct => self.allowed_by(self.resource_type, resource),
            PrincipalMatch::Role => self.own_side(false).unwrap_or_else(|| self.allowed_by(self.resource_type, resource)),
            PrincipalMatch::Account | PrincipalMatch::None => self.own_side(true).unwrap_or_else(|| {
                let identity = self.find(&self.policies.identity, Effect::Allow);
                self.allowed_by(PolicyType::Identity, identity)
            }),
        }
    }

    /// The caller's own side: identity (unless the resource policy names
    /// it), then the boundary, then the session policies. None: they allow.
    fn own_side(&self, need_identity: bool) -> Option<Evaluation> {
        let policies = self.policies;
        let root = matches!(self.request.caller, Caller::Root { .. }) && self.same_account();
        if need_identity && !root && self.find(&policies.identity, Effect::Allow).is_none() {
            let identity: Vec<&Policy> = policies.identity.iter().collect();
            return Some(self.no_allow_of(PolicyType::Identity, &identity, format!("no identity-based policy of {} allows {}", self.who, self.what)));
        }
        if let Some(boundary) = &policies.boundary
            && self.find([boundary], Effect::Allow).is_none()
        {
            return Some(self.no_allow(PolicyType::Boundary, format!("{} (the permissions boundary) does not allow {} {}", boundary.name, self.who, self.what)));
        }
        if !policies.session.is_empty() && self.find(&policies.session, Effect::Allow).is_none() {
            return Some(self.no_allow(PolicyType::Session, format!("no session policy of {} allows {}", self.who, self.what)));
        }
        None
    }

    /// Allowed by `hit` (None: the account root user, which needs no identity policy).
    fn allowed_by(&self, policy_type: PolicyType, hit: Option<Hit<'_>>) -> Evaluation {
        let text = match hit {
            Some((p, s, _)) => format!("statement {} of {} allows {} {}", s.id, p.name, self.who, self.what),
            None => format!("the account root user may {}", self.what),
        };
        self.decide(Decision::Allow, Some(policy_type), hit.map(|(p, s, _)| (p, s)), false, text)
    }

    /// RestrictPublicBuckets over a bucket whose policy is public: "only AWS
    /// service principals and authorized users within the bucket owner's
    /// account" keep what it grants
    /// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html).
    fn public_access_blocked(&self) -> Option<Evaluation> {
        let policy = self.policies.resource.as_ref().filter(|_| self.kind == ResourceKind::Bucket && self.policies.restrict_public)?;
        let outside = match &self.request.caller {
            Caller::Anonymous => true,
            Caller::Service(_) => false,
            caller => caller.account() != self.request.resource_account().as_deref(),
        };
        let statement = public::public_statement(policy).filter(|_| outside)?;
        let text = format!(
            "Block Public Access (RestrictPublicBuckets) limits {}, public by its statement {}, to its owner's account and AWS services: it grants {} nothing",
            policy.name, statement.id, self.who
        );
        Some(self.decide(Decision::Deny, Some(PolicyType::PublicAccessBlock), Some((policy, statement)), false, text))
    }

    fn same_account(&self) -> bool {
        let caller = self.request.caller.account();
        caller.is_none() || caller == self.request.resource_account().as_deref()
    }

    fn resource_name(&self) -> Option<String> {
        self.policies.resource.as_ref().map(|p| p.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::DocumentKind;

    fn request(caller: &str, action: &str, resource: &str, context: &[(&str, &str)]) -> Request {
        let mut ctx = Context::default();
        for (key, value) in context {
            ctx.insert(key, vec![value.to_string()]);
        }
        Request { caller: Caller::parse(caller).unwrap(), action: action.into(), resource: resource.into(), resource_account: None, context: ctx }
    }

    // A reason says what to change: the statement that would allow, its
    // condition, and what the request had instead (absent, or its value).
    #[test]
    fn a_condition_that_fails_is_named_with_what_the_request_had() {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::333333333333:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"acme-platform-7f3a"}}}]}"#;
        let identity = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
        let set = PolicySet {
            identity: vec![Policy::parse("runner's policy", identity, DocumentKind::Identity).unwrap()],
            resource: Some(Policy::parse("TerraformExecution's trust policy", trust, DocumentKind::Trust).unwrap()),
            resource_exists: true,
            ..PolicySet::default()
        };
        let (caller, role) = ("arn:aws:iam::333333333333:user/terraform-runner", "arn:aws:iam::111111111111:role/TerraformExecution");
        let absent = evaluate(&request(caller, "sts:AssumeRole", role, &[]), &set).reason;
        assert_eq!(absent.text, "statement 0 of TerraformExecution's trust policy allows user/terraform-runner sts:AssumeRole only if sts:ExternalId StringEquals acme-platform-7f3a; the request has no sts:ExternalId");
        let miss = absent.condition.unwrap();
        assert_eq!((miss.key.as_str(), miss.operator.as_str(), miss.expected, miss.actual), ("sts:ExternalId", "StringEquals", vec!["acme-platform-7f3a".to_string()], None));
        let wrong = evaluate(&request(caller, "sts:AssumeRole", role, &[("sts:ExternalId", "other")]), &set).reason;
        assert!(wrong.text.ends_with("the request's sts:ExternalId is other"), "{}", wrong.text);
        assert_eq!((wrong.because(), wrong.statement.as_deref()), (Some(crate::policy::Because::Trust), Some("0")));

        let tagged = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:CreateBucket","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/Team":"platform"}}}]}"#;
        let set = PolicySet { identity: vec![Policy::parse("deployer's policy", tagged, DocumentKind::Identity).unwrap()], resource_exists: true, ..PolicySet::default() };
        let session = "arn:aws:sts::111111111111:assumed-role/deployer/s";
        let denied = evaluate(&request(session, "s3:CreateBucket", "arn:aws:s3:::b", &[("aws:PrincipalTag/Team", "marketing")]), &set).reason;
        assert!(denied.text.ends_with("only if aws:PrincipalTag/Team StringEquals platform; the request's aws:PrincipalTag/Team is marketing"), "{}", denied.text);
        assert_eq!(denied.because(), Some(crate::policy::Because::Identity));
        // No statement near: the missing side is named as before.
        let none = evaluate(&request(session, "s3:DeleteBucket", "arn:aws:s3:::b", &[]), &set).reason;
        assert!(none.condition.is_none() && none.text.starts_with("no identity-based policy of"), "{}", none.text);
    }
}
