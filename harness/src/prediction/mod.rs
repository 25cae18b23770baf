//! What AWS should answer each step, before the target answers: after each
//! apply the harness reads the policies the target holds (a role's inline
//! and attached policies, boundary and trust policy, a bucket's policy) as
//! the admin, and asks the policy evaluator. The prediction and its reason
//! go with every step; `verdict` compares them with the observation.
//!
//! A session's own parameters count too: its tags are `aws:PrincipalTag/*`
//! of its calls, its session policies narrow it, and an AssumeRole step's
//! external ID, tags and source identity are keys of its request (tags
//! need `sts:TagSession`, a source identity `sts:SetSourceIdentity`); its
//! duration must be one STS accepts (`policy::session`).
//!
//! On a real account this needs, besides what the configs create:
//! `iam:GetRole`, `iam:ListRolePolicies`, `iam:GetRolePolicy`,
//! `iam:ListAttachedRolePolicies`, `iam:GetPolicy`, `iam:GetPolicyVersion`
//! on the run's roles (the `User` equivalents and `iam:ListGroupsForUser`
//! for user principals), `s3:GetBucketPolicy` on its buckets and
//! `kms:GetKeyPolicy` on its keys; and where an Organization holds the
//! accounts, `organizations:DescribeOrganization`, and as its management
//! account `organizations:ListParents`, `ListRoots`, `ListPoliciesForTarget`
//! and `DescribePolicy` ([`organization`]: its SCPs and RCPs).
//!
//! Across accounts each account's policies are read as that account's
//! admin: a role or user in the account its ARN names, a bucket in the
//! account that owns it (the one whose `s3:ListBuckets` lists it).

mod federation;
mod organization;
mod session;
mod sse_kms;

use std::collections::{BTreeMap, HashMap};

use aws_config::SdkConfig;
use tokio::sync::Mutex;

use crate::policy::{self, Caller, Context, Decision, DocumentKind, Policy, PolicySet, Reason, Request};
use crate::sdk::{self, call_error};
use crate::service::sts::SessionParams;
use crate::service::{Authorization, Call, Governing};
use organization::OrganizationReader;
pub use session::{InstanceSource, SessionFacts};

/// A role as the evaluator needs it.
#[derive(Debug, Clone)]
struct RoleSnapshot {
    identity: Vec<Policy>,
    boundary: Option<Policy>,
    trust: Policy,
    tags: Vec<(String, String)>,
    /// MaxSessionDuration, in seconds.
    max_session: i32,
}

/// Who makes a call, as the evaluator sees them.
#[derive(Debug, Clone)]
struct Principal {
    identity: Vec<Policy>,
    boundary: Option<Policy>,
    tags: Vec<(String, String)>,
}

/// A bucket as the evaluator needs it.
#[derive(Debug, Clone)]
enum Bucket {
    /// It exists nowhere (S3 answers NoSuchBucket).
    Missing,
    /// It exists, with its policy if it has one, and whether Block Public
    /// Access's RestrictPublicBuckets is on for it.
    Exists { policy: Option<Policy>, restrict_public: bool },
}

/// Reads policies from the target as the admin, each role, bucket and key once
/// per stage (a new stage's apply may change them).
pub struct Predictor {
    /// Each account's clients; the first is the default (the scenario's first account, else the admin's).
    accounts: Vec<AccountClients>,
    partition: String,
    /// The region every call is made in: `aws:RequestedRegion`.
    region: String,
    roles: Mutex<HashMap<RoleKey, Read<Option<RoleSnapshot>>>>,
    /// A bucket's policy, and the account that owns it.
    buckets: Mutex<HashMap<String, Read<(Bucket, String)>>>,
    /// A KMS key's policy, by the key's ARN.
    keys: Mutex<HashMap<String, Read<Policy>>>,
    /// The Organization over the accounts, if any: its SCPs and RCPs.
    organization: OrganizationReader,
}

/// What reading a policy came to: the value, or why it could not be read.
type Read<T> = Result<T, String>;
/// A role by its account and name.
type RoleKey = (String, String);

/// One account, read as its admin.
struct AccountClients {
    id: String,
    region: String,
    iam: aws_sdk_iam::Client,
    s3: aws_sdk_s3::Client,
    kms: aws_sdk_kms::Client,
    organizations: aws_sdk_organizations::Client,
}

impl AccountClients {
    fn new(config: &SdkConfig, id: &str) -> Self {
        Self {
            id: id.to_string(),
            region: config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into()),
            iam: aws_sdk_iam::Client::new(config),
            s3: sdk::s3_client(config),
            kms: aws_sdk_kms::Client::new(config),
            organizations: aws_sdk_organizations::Client::new(config),
        }
    }
}

/// The account an ARN names, if it names one.
fn account_in(arn: &str) -> Option<String> {
    arn.split(':').nth(4).filter(|a| a.len() == 12).map(str::to_string)
}

/// IAM returns documents URL-encoded.
fn decoded(document: &str) -> String {
    percent_encoding::percent_decode_str(document).decode_utf8_lossy().into_owned()
}

fn parse(name: String, document: &str, kind: DocumentKind) -> Result<Policy, String> {
    Policy::parse(&name, &decoded(document), kind).map_err(|e| format!("{name}: {e}"))
}

impl Predictor {
    /// Reading `accounts` (id, the SDK as its admin), the first the default.
    pub fn new<'a>(accounts: impl IntoIterator<Item = (&'a str, &'a SdkConfig)>, partition: &str) -> Self {
        let accounts: Vec<AccountClients> = accounts.into_iter().map(|(id, config)| AccountClients::new(config, id)).collect();
        Self {
            region: accounts.first().map(|a| a.region.clone()).unwrap_or_else(|| "us-east-1".into()),
            accounts,
            partition: partition.to_string(),
            roles: Mutex::default(),
            buckets: Mutex::default(),
            keys: Mutex::default(),
            organization: OrganizationReader::default(),
        }
    }

    fn default_account(&self) -> &AccountClients {
        &self.accounts[0]
    }

    /// The clients of the account an ARN names (an AWS-managed policy's: the default's).
    fn account_of(&self, arn: &str) -> Result<&AccountClients, String> {
        match arn.split(':').nth(4).filter(|a| !a.is_empty() && *a != "aws") {
            None => Ok(self.default_account()),
            Some(id) => self.clients(id).map_err(|why| format!("{arn}: {why}")),
        }
    }

    /// The clients of account `id`.
    fn clients(&self, id: &str) -> Result<&AccountClients, String> {
        self.accounts.iter().find(|a| a.id == id).ok_or_else(|| format!("account {id} is not one the harness reaches (not in the scenario's [accounts])"))
    }

    /// The session ARN of `role` (of the default account) as `session`: who a principal is.
    pub fn session_arn(&self, role: &str, session: &str) -> String {
        format!("arn:{}:sts::{}:assumed-role/{role}/{session}", self.partition, self.default_account().id)
    }

    /// The evaluator's answer for `call` made as `caller` (an ARN) carrying
    /// `facts`; Err: why there is none.
    pub async fn predict(&self, call: &Call, caller: &str, facts: &SessionFacts) -> Result<Reason, String> {
        Ok(self.noted(self.predict_unnoted(call, caller, facts).await?))
    }

    /// A reason that says when the Organization's SCPs and RCPs could not be read.
    fn noted(&self, mut reason: Reason) -> Reason {
        if let Some(why) = self.organization.unreadable() {
            reason.text = format!("{} (SCPs and RCPs may apply and cannot be read: {why})", reason.text);
        }
        reason
    }

    async fn predict_unnoted(&self, call: &Call, caller: &str, facts: &SessionFacts) -> Result<Reason, String> {
        let (action, resource, governed_by, keys) = match call.authorization(&self.partition) {
            Authorization::Request { action, resource, governed_by, keys } => (action, resource, governed_by, keys),
            Authorization::WebIdentity { role_arn, issuer, claims } => return self.predict_web_identity(caller, role_arn, issuer, claims).await,
            Authorization::Saml { role_arn, provider_arn, assertion, signed } => return self.predict_saml(role_arn, provider_arn, assertion, signed).await,
            Authorization::NoneNeeded(why) => return Ok(reason(Decision::Allow, why.into())),
            Authorization::Refused { rule, why } => return Ok(Reason { policy_type: Some(rule), ..reason(Decision::Deny, why) }),
            Authorization::Harness(why) => return Err(why.into()),
        };
        let (caller, mut set, mut context) = self.caller_policies(caller, facts).await?;
        for (key, values) in keys {
            context.insert(&key, values);
        }
        if let Governing::Federation(name) = &governed_by {
            return Ok(self.federation(caller, set, context, name));
        }
        let mut target = None;
        // A role's account is in its ARN; a bucket's is its owner's.
        let mut resource_account = None;
        match &governed_by {
            Governing::Role { arn, .. } => {
                target = self.target_role(arn, &mut set).await?;
                insert_role_tags(&mut context, target.as_ref());
            }
            Governing::Bucket(bucket) => {
                let (found, owner) = self.bucket(bucket).await?;
                resource_account = Some(owner);
                match found {
                    Bucket::Exists { policy, restrict_public } => (set.resource, set.restrict_public) = (policy, restrict_public),
                    Bucket::Missing => set.resource_exists = false,
                }
            }
            Governing::Key(key) => set.resource = Some(self.key_policy(key).await?),
            Governing::Federation(_) | Governing::CallerOnly => {}
        }
        let resource_owner = resource_account.clone().or_else(|| account_in(&resource)).or_else(|| caller.account().map(str::to_string));
        self.organization_caps(&mut set, &mut context, caller.account(), resource_owner.as_deref()).await;
        let request = Request { caller, action: action.into(), resource, resource_account, context };
        let evaluation = policy::evaluate(&request, &set);
        if let (Governing::Bucket(_), Decision::Allow, Some(owner)) = (&governed_by, evaluation.decision, &resource_owner)
            && let Some(denied) = self.key_via_s3(&request, &set, owner).await?
        {
            return Ok(denied);
        }
        match governed_by {
            Governing::Role { session, .. } if evaluation.decision == Decision::Allow => Ok(assume_role_checks(request, &set, session, target.as_ref()).unwrap_or(evaluation.reason)),
            _ => Ok(evaluation.reason),
        }
    }

    /// The evaluator's answer for an action the harness does not make itself
    /// (what terraform's provider was refused: `s3:CreateBucket`), on a
    /// resource that need not exist yet and has no policy of its own.
    pub async fn predict_action(&self, action: &str, resource: &str, caller: &str, facts: &SessionFacts) -> Result<Reason, String> {
        let (caller, mut set, mut context) = self.caller_policies(caller, facts).await?;
        // What does not exist yet is made in the caller's account.
        let owner = account_in(resource).or_else(|| caller.account().map(str::to_string));
        self.organization_caps(&mut set, &mut context, caller.account(), owner.as_deref()).await;
        let request = Request { caller, action: action.into(), resource: resource.into(), resource_account: None, context };
        Ok(self.noted(policy::evaluate(&request, &set).reason))
    }

    /// For an S3 put or get S3 encrypts with a KMS key: the key's refusal of
    /// the call S3 makes for the caller, if it refuses.
    async fn key_via_s3(&self, request: &Request, set: &PolicySet, owner: &str) -> Result<Option<Reason>, String> {
        let Some(via) = self.via_s3(&request.action, &request.resource, owner).await? else { return Ok(None) };
        let mut set = PolicySet { resource: Some(self.key_policy(&via.key_arn).await?), resource_exists: true, ..set.clone() };
        let mut context = request.context.clone();
        for (key, values) in via.keys {
            context.insert(&key, values);
        }
        let key_account = account_in(&via.key_arn);
        self.organization_caps(&mut set, &mut context, request.caller.account(), key_account.as_deref()).await;
        let kms = Request { caller: request.caller.clone(), action: via.action.into(), resource: via.key_arn, resource_account: None, context };
        let evaluation = policy::evaluate(&kms, &set);
        Ok((evaluation.decision != Decision::Allow).then_some(evaluation.reason))
    }

    /// GetFederationToken: only an IAM user's long-term key may call it, as its
    /// identity policies allow, on `arn:...:sts::<account>:federated-user/<name>`.
    fn federation(&self, caller: Caller, set: PolicySet, context: Context, name: &str) -> Reason {
        let Caller::User { account, .. } = &caller else {
            return reason(Decision::Deny, format!("GetFederationToken needs an IAM user's long-term key: {} cannot call it", caller.arn()));
        };
        let resource = format!("arn:{}:sts::{account}:federated-user/{name}", self.partition);
        let request = Request { caller, action: "sts:GetFederationToken".into(), resource, resource_account: None, context };
        policy::evaluate(&request, &set).reason
    }

    /// The Organization's part: the SCPs over the caller's account, the RCPs
    /// over the resource's, and the keys the Organization puts in the request.
    async fn organization_caps(&self, set: &mut PolicySet, context: &mut Context, caller: Option<&str>, resource: Option<&str>) {
        let describe: Vec<(&str, &aws_sdk_organizations::Client)> = self.accounts.iter().map(|a| (a.id.as_str(), &a.organizations)).collect();
        if let Some(account) = caller
            && let Some(member) = self.organization.membership(account, &describe).await
        {
            context.insert("aws:PrincipalOrgID", vec![member.organization.clone()]);
            context.insert("aws:PrincipalOrgPaths", vec![member.path.clone()]);
            set.management_account = Some(member.management.clone());
            set.scps = member.scps;
        }
        if let Some(account) = resource
            && let Some(member) = self.organization.membership(account, &describe).await
        {
            context.insert("aws:ResourceOrgID", vec![member.organization.clone()]);
            context.insert("aws:ResourceOrgPaths", vec![member.path.clone()]);
            set.management_account = Some(member.management.clone());
            set.rcps = member.rcps;
        }
    }

    /// Who the caller is, the policies that speak for it (its own, its
    /// boundary, its session's) and the request context its session carries.
    async fn caller_policies(&self, caller: &str, facts: &SessionFacts) -> Result<(Caller, PolicySet, Context), String> {
        let caller = Caller::parse(caller).ok_or_else(|| format!("{caller} is not a principal the evaluator knows"))?;
        let own = match (&caller, &facts.federated_from) {
            // A federated user's session holds its IAM user's policies, narrowed by its session's.
            (Caller::FederatedUser { account, .. }, Some(user)) => self.read_user(self.clients(account)?, user).await?,
            (Caller::FederatedUser { arn, .. }, None) => return Err(format!("the IAM user behind {arn} is not known")),
            _ => self.principal(&caller).await?,
        };
        let mut session = Vec::new();
        if let Some(policy) = &facts.policy {
            session.push(Policy::parse("the session policy", policy, DocumentKind::Identity).map_err(|e| format!("the session policy: {e}"))?);
        }
        for arn in &facts.policy_arns {
            session.push(self.managed(arn, &format!("the session policy {arn}")).await?);
        }
        if facts.federated_from.is_some() && session.is_empty() {
            // "If you do not pass a session policy, the federated user session has no permissions."
            session.push(Policy { name: "no session policy (GetFederationToken was called without one)".into(), statements: Vec::new() });
        }
        let set = PolicySet { identity: own.identity, boundary: own.boundary, session, resource_exists: true, ..PolicySet::default() };
        // Session tags override the role's tags of the same key.
        let mut tags: BTreeMap<String, String> = own.tags.into_iter().collect();
        tags.extend(facts.tags.clone());
        let mut context = Context::signed(&tags);
        // "After a source identity is set, it is present in requests for any AWS action taken during the role session."
        if let Some(identity) = &facts.source_identity {
            context.insert("aws:SourceIdentity", vec![identity.clone()]);
        }
        for (key, value) in facts.instance.iter().flat_map(InstanceSource::keys) {
            context.insert(key, vec![value]);
        }
        if let Some(provider) = &facts.federated_provider {
            context.insert("aws:FederatedProvider", vec![provider.clone()]);
        }
        context.insert("aws:RequestedRegion", vec![self.region.clone()]);
        // Every request carries the time it is made (the launcher fills the same keys).
        let now = std::time::SystemTime::now();
        context.insert("aws:CurrentTime", vec![crate::timestamp::format_timestamp(now)]);
        context.insert("aws:EpochTime", vec![now.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default().to_string()]);
        Ok((caller, set, context))
    }

    /// The role an AssumeRole asks for: its trust policy into `set`; None when it does not exist.
    async fn target_role(&self, role_arn: &str, set: &mut PolicySet) -> Result<Option<RoleSnapshot>, String> {
        let snapshot = self.role(self.account_of(role_arn)?, role_arn.rsplit('/').next().unwrap_or_default()).await?;
        match &snapshot {
            Some(role) => set.resource = Some(role.trust.clone()),
            None => set.resource_exists = false,
        }
        Ok(snapshot)
    }

    /// The caller's identity policies, boundary and tags: its role's, or its user's.
    async fn principal(&self, caller: &Caller) -> Result<Principal, String> {
        let account = caller.account().map(|id| self.clients(id)).transpose()?.unwrap_or(self.default_account());
        match caller {
            Caller::RoleSession { role, .. } => {
                let own = self.role(account, role).await?.ok_or_else(|| format!("the caller's role {role} does not exist"))?;
                Ok(Principal { identity: own.identity, boundary: own.boundary, tags: own.tags })
            }
            Caller::User { name, .. } => self.read_user(account, name).await,
            // Anyone: no policy of its own; only what a resource policy grants everyone.
            Caller::Anonymous => Ok(Principal { identity: Vec::new(), boundary: None, tags: Vec::new() }),
            _ => Err("only role sessions, users and anonymous callers are predicted".into()),
        }
    }

    async fn role(&self, account: &AccountClients, name: &str) -> Result<Option<RoleSnapshot>, String> {
        let mut roles = self.roles.lock().await;
        let key = (account.id.clone(), name.to_string());
        if let Some(known) = roles.get(&key) {
            return known.clone();
        }
        let read = self.read_role(account, name).await;
        roles.insert(key, read.clone());
        read
    }

    async fn read_role(&self, account: &AccountClients, name: &str) -> Result<Option<RoleSnapshot>, String> {
        let failed = |what: &str, code: &str| format!("cannot read {what} of role {name}: {code}");
        let iam = &account.iam;
        let role = match iam.get_role().role_name(name).send().await {
            Ok(out) => out.role.ok_or_else(|| failed("GetRole", "no role in the answer"))?,
            Err(err) if call_error(&err).code() == "NoSuchEntity" => return Ok(None),
            Err(err) => return Err(failed("iam:GetRole", call_error(&err).code())),
        };
        let trust = parse(format!("{name}'s trust policy"), role.assume_role_policy_document().unwrap_or("{}"), DocumentKind::Trust)?;
        let mut identity = Vec::new();
        let inline = iam.list_role_policies().role_name(name).send().await.map_err(|e| failed("iam:ListRolePolicies", call_error(&e).code()))?;
        for policy_name in inline.policy_names() {
            let out = iam.get_role_policy().role_name(name).policy_name(policy_name).send().await;
            let out = out.map_err(|e| failed("iam:GetRolePolicy", call_error(&e).code()))?;
            identity.push(parse(format!("{name}'s inline policy {policy_name}"), out.policy_document(), DocumentKind::Identity)?);
        }
        let attached = iam.list_attached_role_policies().role_name(name).send().await;
        let attached = attached.map_err(|e| failed("iam:ListAttachedRolePolicies", call_error(&e).code()))?;
        for policy in attached.attached_policies() {
            let arn = policy.policy_arn().unwrap_or_default();
            identity.push(self.managed(arn, &format!("{name}'s managed policy {}", policy.policy_name().unwrap_or(arn))).await?);
        }
        let boundary = match role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()) {
            Some(arn) => Some(self.managed(arn, &format!("{name}'s permissions boundary")).await?),
            None => None,
        };
        let tags = role.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        let max_session = role.max_session_duration().unwrap_or(policy::session::DEFAULT_SECONDS);
        Ok(Some(RoleSnapshot { identity, boundary, trust, tags, max_session }))
    }

    /// A user's policies: inline, attached, its groups' (inline and attached), its boundary and tags.
    async fn read_user(&self, account: &AccountClients, name: &str) -> Result<Principal, String> {
        let failed = |what: &str, code: &str| format!("cannot read {what} of user {name}: {code}");
        let iam = &account.iam;
        let user = iam.get_user().user_name(name).send().await.map_err(|e| failed("iam:GetUser", call_error(&e).code()))?;
        let user = user.user.ok_or_else(|| failed("iam:GetUser", "no user in the answer"))?;
        let mut identity = Vec::new();
        let inline = iam.list_user_policies().user_name(name).send().await.map_err(|e| failed("iam:ListUserPolicies", call_error(&e).code()))?;
        for policy_name in inline.policy_names() {
            let out = iam.get_user_policy().user_name(name).policy_name(policy_name).send().await;
            let out = out.map_err(|e| failed("iam:GetUserPolicy", call_error(&e).code()))?;
            identity.push(parse(format!("{name}'s inline policy {policy_name}"), out.policy_document(), DocumentKind::Identity)?);
        }
        let attached = iam.list_attached_user_policies().user_name(name).send().await;
        for policy in attached.map_err(|e| failed("iam:ListAttachedUserPolicies", call_error(&e).code()))?.attached_policies() {
            let arn = policy.policy_arn().unwrap_or_default();
            identity.push(self.managed(arn, &format!("{name}'s managed policy {}", policy.policy_name().unwrap_or(arn))).await?);
        }
        let groups = iam.list_groups_for_user().user_name(name).send().await.map_err(|e| failed("iam:ListGroupsForUser", call_error(&e).code()))?;
        for group in groups.groups() {
            identity.extend(self.read_group(account, group.group_name()).await?);
        }
        let boundary = match user.permissions_boundary().and_then(|b| b.permissions_boundary_arn()) {
            Some(arn) => Some(self.managed(arn, &format!("{name}'s permissions boundary")).await?),
            None => None,
        };
        let tags = user.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        Ok(Principal { identity, boundary, tags })
    }

    async fn read_group(&self, account: &AccountClients, group: &str) -> Result<Vec<Policy>, String> {
        let failed = |what: &str, code: &str| format!("cannot read {what} of group {group}: {code}");
        let iam = &account.iam;
        let mut policies = Vec::new();
        let inline = iam.list_group_policies().group_name(group).send().await.map_err(|e| failed("iam:ListGroupPolicies", call_error(&e).code()))?;
        for policy_name in inline.policy_names() {
            let out = iam.get_group_policy().group_name(group).policy_name(policy_name).send().await;
            let out = out.map_err(|e| failed("iam:GetGroupPolicy", call_error(&e).code()))?;
            policies.push(parse(format!("group {group}'s inline policy {policy_name}"), out.policy_document(), DocumentKind::Identity)?);
        }
        let attached = iam.list_attached_group_policies().group_name(group).send().await;
        for policy in attached.map_err(|e| failed("iam:ListAttachedGroupPolicies", call_error(&e).code()))?.attached_policies() {
            let arn = policy.policy_arn().unwrap_or_default();
            policies.push(self.managed(arn, &format!("group {group}'s managed policy {}", policy.policy_name().unwrap_or(arn))).await?);
        }
        Ok(policies)
    }

    async fn managed(&self, arn: &str, name: &str) -> Result<Policy, String> {
        let failed = |what: &str, code: &str| format!("cannot read {name} ({arn}): {what}: {code}");
        let iam = &self.account_of(arn)?.iam;
        let policy = iam.get_policy().policy_arn(arn).send().await.map_err(|e| failed("iam:GetPolicy", call_error(&e).code()))?;
        let version = policy.policy().and_then(|p| p.default_version_id()).unwrap_or("v1");
        let out = iam.get_policy_version().policy_arn(arn).version_id(version).send().await;
        let out = out.map_err(|e| failed("iam:GetPolicyVersion", call_error(&e).code()))?;
        parse(name.to_string(), out.policy_version().and_then(|v| v.document()).unwrap_or("{}"), DocumentKind::Identity)
    }

    /// A bucket's policy and its owner's account (with one account, that one).
    async fn bucket(&self, bucket: &str) -> Result<(Bucket, String), String> {
        let mut buckets = self.buckets.lock().await;
        if let Some(known) = buckets.get(bucket) {
            return known.clone();
        }
        let read = self.read_bucket(bucket).await;
        buckets.insert(bucket.to_string(), read.clone());
        read
    }

    async fn read_bucket(&self, bucket: &str) -> Result<(Bucket, String), String> {
        let owner = match self.accounts.len() {
            1 => Some(self.default_account()),
            _ => self.bucket_owner(bucket).await?,
        };
        // Owned by none of the accounts: it exists nowhere the scenario reaches.
        let Some(owner) = owner else { return Ok((Bucket::Missing, self.default_account().id.clone())) };
        let policy = match owner.s3.get_bucket_policy().bucket(bucket).send().await {
            Ok(out) => parse(format!("the bucket policy of {bucket}"), out.policy().unwrap_or("{}"), DocumentKind::Bucket)?,
            Err(err) => match call_error(&err).code() {
                "NoSuchBucketPolicy" => return Ok((Bucket::Exists { policy: None, restrict_public: false }, owner.id.clone())),
                "NoSuchBucket" => return Ok((Bucket::Missing, owner.id.clone())),
                code => return Err(format!("cannot read the bucket policy of {bucket}: s3:GetBucketPolicy: {code}")),
            },
        };
        // Block Public Access matters only to a public policy: only then is it read.
        let restrict_public = policy::public::is_public(&policy) && restricts_public(owner, bucket).await?;
        Ok((Bucket::Exists { policy: Some(policy), restrict_public }, owner.id.clone()))
    }

    /// A KMS key's policy, read once per stage.
    async fn key_policy(&self, key: &str) -> Result<Policy, String> {
        let mut keys = self.keys.lock().await;
        if let Some(known) = keys.get(key) {
            return known.clone();
        }
        let read = self.read_key_policy(key).await;
        keys.insert(key.to_string(), read.clone());
        read
    }

    /// kms:GetKeyPolicy as the admin of the account the key's ARN names.
    async fn read_key_policy(&self, key: &str) -> Result<Policy, String> {
        let account = self.account_of(key)?;
        let read = account.kms.get_key_policy().key_id(key).policy_name("default").send().await;
        let read = read.map_err(|err| format!("cannot read the key policy of {key}: kms:GetKeyPolicy: {}", call_error(&err).code()))?;
        let id = key.rsplit('/').next().unwrap_or(key);
        parse(format!("the key policy of {id}"), read.policy().unwrap_or("{}"), DocumentKind::Bucket)
    }

    /// The account whose bucket listing holds `bucket` (s3:ListBuckets lists the caller's own).
    async fn bucket_owner(&self, bucket: &str) -> Result<Option<&AccountClients>, String> {
        for account in &self.accounts {
            let listed = account.s3.list_buckets().send().await.map_err(|e| format!("cannot list account {}'s buckets: s3:ListBuckets: {}", account.id, call_error(&e).code()))?;
            if listed.buckets().iter().any(|b| b.name() == Some(bucket)) {
                return Ok(Some(account));
            }
        }
        Ok(None)
    }
}

/// The bucket's own RestrictPublicBuckets. Its account's setting is not
/// read (S3 Control's API): where only the account restricts, the emulator's
/// denial and the prediction disagree, and the step shows it.
async fn restricts_public(owner: &AccountClients, bucket: &str) -> Result<bool, String> {
    match owner.s3.get_public_access_block().bucket(bucket).send().await {
        Ok(out) => Ok(out.public_access_block_configuration().and_then(|c| c.restrict_public_buckets()).unwrap_or(false)),
        Err(err) if call_error(&err).code() == "NoSuchPublicAccessBlockConfiguration" => Ok(false),
        Err(err) => Err(format!("cannot read the Block Public Access of {bucket}: s3:GetBucketPublicAccessBlock: {}", call_error(&err).code())),
    }
}

/// The tags of the role an AssumeRole asks for: `aws:ResourceTag/*` of the request
/// (the role resource of STS's service authorization reference lists the key).
fn insert_role_tags(context: &mut Context, role: Option<&RoleSnapshot>) {
    for (key, value) in role.map(|r| r.tags.as_slice()).unwrap_or_default() {
        context.insert(&format!("aws:ResourceTag/{key}"), vec![value.clone()]);
    }
}

fn reason(decision: Decision, text: String) -> Reason {
    Reason { decision, policy_type: None, policy: None, statement: None, explicit: false, text, condition: None }
}

/// What refuses an AssumeRole its policies allow: passing tags needs
/// sts:TagSession and a source identity sts:SetSourceIdentity (on the trust
/// and the caller's policies alike), and STS refuses a duration out of its
/// bounds. None: nothing does.
fn assume_role_checks(mut request: Request, set: &PolicySet, params: &SessionParams<String>, target: Option<&RoleSnapshot>) -> Option<Reason> {
    let extra = [("sts:TagSession", !params.tags.is_empty()), ("sts:SetSourceIdentity", params.source_identity.is_some())];
    for (action, _) in extra.into_iter().filter(|(_, needed)| *needed) {
        request.action = action.to_string();
        let evaluation = policy::evaluate(&request, set);
        if evaluation.decision != Decision::Allow {
            return Some(evaluation.reason);
        }
    }
    let chained = matches!(request.caller, Caller::RoleSession { .. });
    let max_session = target.map_or(policy::session::DEFAULT_SECONDS, |role| role.max_session);
    policy::session::duration_refusal(params.duration_seconds, max_session, chained).map(|message| reason(Decision::Invalid, format!("ValidationError: {message}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust(actions: &str) -> PolicySet {
        let document = format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111111111111:user/app"}},"Action":{actions}}}]}}"#);
        PolicySet { resource: Some(Policy::parse("the role's trust policy", &document, DocumentKind::Trust).unwrap()), resource_exists: true, ..PolicySet::default() }
    }

    fn request() -> Request {
        let caller = Caller::parse("arn:aws:iam::111111111111:user/app").unwrap();
        Request { caller, action: "sts:AssumeRole".into(), resource: "arn:aws:iam::111111111111:role/r".into(), resource_account: None, context: Context::default() }
    }

    #[test]
    fn tags_need_tag_session_and_a_source_identity_set_source_identity() {
        let tagged = SessionParams { tags: [("team".to_string(), "data".to_string())].into(), ..SessionParams::default() };
        let refused = assume_role_checks(request(), &trust(r#""sts:AssumeRole""#), &tagged, None).unwrap();
        assert_eq!((refused.decision, refused.because()), (Decision::Deny, Some(crate::policy::Because::Trust)));
        assert_eq!(assume_role_checks(request(), &trust(r#"["sts:AssumeRole","sts:TagSession"]"#), &tagged, None), None);
        let named = SessionParams { source_identity: Some("alice".into()), ..SessionParams::default() };
        assert!(assume_role_checks(request(), &trust(r#"["sts:AssumeRole","sts:TagSession"]"#), &named, None).is_some());
        assert_eq!(assume_role_checks(request(), &trust(r#"["sts:AssumeRole","sts:SetSourceIdentity"]"#), &named, None), None);
    }

    #[test]
    fn a_duration_out_of_bounds_is_predicted_invalid() {
        let long = SessionParams { duration_seconds: Some(7200), ..SessionParams::default() };
        let refused = assume_role_checks(request(), &trust(r#""sts:AssumeRole""#), &long, None).unwrap();
        assert_eq!(refused.decision, Decision::Invalid);
        assert!(refused.text.contains("MaxSessionDuration"), "{}", refused.text);
    }
}
