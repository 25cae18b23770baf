//! Who can reach what in an inventory: every principal the config has or
//! its policies name (its roles' sessions, its users, "any principal of an
//! account" a trust or bucket policy delegates to, the users of an identity
//! provider, anonymous callers), every role each may assume, every bucket
//! action and every KMS key action each may take (within the SCPs and RCPs
//! of the state's Organization); then the transitive closure, a role
//! reached reaching what it reaches. Each path keeps the conditions and the
//! statements of each hop.

use std::collections::{BTreeSet, VecDeque};

use rayon::prelude::*;

use super::edge::{self, Opened};
use super::inventory::{Inventory, ProviderKind};
use crate::policy::{self, Caller, Context, DocumentKind, Effect, Matcher, Policy, PolicySet, PrincipalMatch, Request, resource_grant};
use crate::service::s3::{kms_action_via_s3, kms_keys_via_s3};

/// The S3 actions the analysis asks about, each on the bucket or on its objects.
pub const BUCKET_ACTIONS: [(&str, bool); 3] = [("s3:ListBucket", false), ("s3:GetObject", true), ("s3:PutObject", true)];
/// The KMS actions the analysis asks about, on the key.
pub const KEY_ACTIONS: [&str; 3] = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"];
/// Connecting to an RDS instance as a database user, with an IAM auth token.
pub const DB_CONNECT: &str = "rds-db:connect";

/// What a path reaches: a bucket or a KMS key of the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Bucket(usize),
    Key(usize),
    /// An RDS instance's database users (the reach's `objects` names which: a user or a pattern).
    Database(usize),
}

/// Where a path begins.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Start {
    /// A session of the inventory's role.
    Role(usize),
    User(usize),
    /// Any principal of this account whose own policies grant what the
    /// resource's policy delegates to the account.
    Account(String),
    /// A user of this identity provider (its ARN), by web identity or SAML.
    Provider(String),
    /// An unsigned request.
    Anonymous,
    /// A federated user a resource policy names (its ARN), as the inventory's
    /// users allowed `sts:GetFederationToken` may make it (their indices).
    FederatedUser { arn: String, minted_by: Vec<usize> },
}

/// Entering a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub role: usize,
    pub opened: Opened,
}

/// An action on a bucket, or on its objects under `objects` (`*`, `public/*`), or on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub target: Target,
    pub action: &'static str,
    /// None: the bucket itself (s3:ListBucket); for a database, the users (a name or a pattern).
    pub objects: Option<String>,
    pub opened: Opened,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub start: Start,
    /// The roles entered, in order (empty: the start acts itself).
    pub hops: Vec<Hop>,
    /// None: the path ends entering its last role, which reaches no bucket
    /// but holds grants the analysis does not model (`iam:*`, `s3:CreateBucket`).
    pub reach: Option<Reach>,
}

/// One principal as the evaluator sees its calls.
struct Acting {
    start: Start,
    caller: Caller,
    set: PolicySet,
    context: Context,
    /// The action it assumes roles with (None: it cannot).
    assume: Option<&'static str>,
    /// "Any principal of an account": only what a resource policy delegates to the account counts.
    delegated_only: bool,
}

/// What one principal may do directly.
struct Edges {
    hops: Vec<Hop>,
    reaches: Vec<Reach>,
}

/// Every path of the inventory, shortest chain first for each role reached.
pub fn analyse(inventory: &Inventory) -> Vec<Path> {
    let acting = principals(inventory);
    let patterns: Vec<Vec<String>> = inventory.buckets.iter().map(|b| object_patterns(inventory, &b.name)).collect();
    let mut edges: Vec<Edges> = acting.par_iter().map(|a| edges_of(inventory, &patterns, a)).collect();
    // What anyone may do (a public bucket's grant to "*") is said once, as the anonymous caller's.
    let public: BTreeSet<(Target, &str)> = edges.last().map(|e| e.reaches.iter().filter(|r| r.opened.conditions.is_empty()).map(|r| (r.target, r.action)).collect()).unwrap_or_default();
    for principal in edges.iter_mut().rev().skip(1) {
        principal.reaches.retain(|r| !public.contains(&(r.target, r.action)));
    }
    // A role whose grants the analysis does not model: entering it is where its path ends.
    let opaque: Vec<bool> = inventory.roles.iter().enumerate().map(|(i, role)| edges[i].reaches.is_empty() && grants_unmodelled(&role.identity)).collect();
    acting.par_iter().enumerate().flat_map_iter(|(index, principal)| closure(&edges, &opaque, index, principal)).collect()
}

/// Whether a statement of the policies allows something besides entering
/// roles and the bucket actions (which the analysis follows) and asking who one is.
fn grants_unmodelled(policies: &[Policy]) -> bool {
    let followed = |action: &str| {
        let action = action.to_ascii_lowercase();
        policy::is_trust_action(&action)
            || action == "sts:getcalleridentity"
            || BUCKET_ACTIONS.iter().any(|(a, _)| a.eq_ignore_ascii_case(&action))
            || KEY_ACTIONS.iter().any(|a| a.eq_ignore_ascii_case(&action))
            || action == DB_CONNECT
    };
    policies.iter().flat_map(|p| &p.statements).filter(|s| s.effect == Effect::Allow).any(|s| match &s.action {
        Matcher::Any(actions) => actions.iter().any(|a| !followed(a)),
        Matcher::Not(_) => true,
    })
}

/// What the Organization puts on a caller of `account`: the SCPs over it and its org id.
fn caller_in_organization(inventory: &Inventory, account: &str, set: &mut PolicySet, context: &mut Context) {
    let Some(org) = inventory.organization.as_ref().filter(|org| org.accounts.contains(account)) else { return };
    set.scps = org.levels(account, DocumentKind::Scp);
    set.management_account = Some(org.management.clone());
    context.insert("aws:PrincipalOrgID", vec![org.id.clone()]);
}

/// The RCPs over a resource of `account`.
fn resource_in_organization(inventory: &Inventory, account: &str, set: &mut PolicySet) {
    let Some(org) = &inventory.organization else { return };
    set.rcps = org.levels(account, DocumentKind::Rcp);
    set.management_account = Some(org.management.clone());
}

/// The roles' sessions first (index = role index: a reached role acts as its session), then the rest.
fn principals(inventory: &Inventory) -> Vec<Acting> {
    let mut acting = actors(inventory);
    for one in &mut acting {
        if let Some(account) = one.caller.account().map(str::to_string) {
            caller_in_organization(inventory, &account, &mut one.set, &mut one.context);
        }
    }
    acting
}

/// Every principal, as `principals` lists them, before the Organization's part.
fn actors(inventory: &Inventory) -> Vec<Acting> {
    let partition = &inventory.partition;
    let mut acting = Vec::new();
    for (index, role) in inventory.roles.iter().enumerate() {
        let caller = Caller::RoleSession {
            partition: partition.clone(),
            account: role.account.clone(),
            role: role.name.clone(),
            session: "access-analysis".into(),
            arn: format!("arn:{partition}:sts::{}:assumed-role/{}/access-analysis", role.account, role.name),
        };
        let set = PolicySet { identity: role.identity.clone(), boundary: role.boundary.clone(), resource_exists: true, ..PolicySet::default() };
        acting.push(Acting { start: Start::Role(index), caller, set, context: Context::signed(&role.tags), assume: Some("sts:AssumeRole"), delegated_only: false });
    }
    for (index, user) in inventory.users.iter().enumerate() {
        let (caller, set) = user_caller(inventory, user);
        acting.push(Acting { start: Start::User(index), caller, set, context: Context::signed(&user.tags), assume: Some("sts:AssumeRole"), delegated_only: false });
    }
    // A principal of an account nobody wrote down: it holds whatever grant its account delegates to.
    let grant = Policy::parse("(its own grant)", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#, DocumentKind::Identity).expect("a valid policy");
    for account in named_accounts(inventory) {
        let caller = Caller::RoleSession {
            partition: partition.clone(),
            account: account.clone(),
            role: "*".into(),
            session: "access-analysis".into(),
            arn: format!("arn:{partition}:sts::{account}:assumed-role/*/access-analysis"),
        };
        let set = PolicySet { identity: vec![grant.clone()], resource_exists: true, ..PolicySet::default() };
        acting.push(Acting { start: Start::Account(account), caller, set, context: Context::signed([]), assume: Some("sts:AssumeRole"), delegated_only: true });
    }
    for (arn, kind) in providers(inventory) {
        let assume = match kind {
            Some(ProviderKind::Saml) => "sts:AssumeRoleWithSAML",
            _ if arn.contains(":saml-provider/") => "sts:AssumeRoleWithSAML",
            _ => "sts:AssumeRoleWithWebIdentity",
        };
        let set = PolicySet { resource_exists: true, ..PolicySet::default() };
        acting.push(Acting { start: Start::Provider(arn.clone()), caller: Caller::Federated(arn), set, context: Context::signed([]), assume: Some(assume), delegated_only: false });
    }
    acting.extend(federated_users(inventory));
    // Last: `analyse` reads its edges as what anyone may do.
    let set = PolicySet { resource_exists: true, ..PolicySet::default() };
    acting.push(Acting { start: Start::Anonymous, caller: Caller::Anonymous, set, context: Context::signed([]), assume: None, delegated_only: false });
    // Every request is made in the region the configs use (a Deny on any other region spares it).
    for (one, region) in acting.iter_mut().zip(std::iter::repeat(&inventory.region)) {
        if let Some(region) = region {
            one.context.insert("aws:RequestedRegion", vec![region.clone()]);
        }
    }
    acting
}

/// Each federated user a bucket or key policy names, where a user of the
/// inventory may make it: a policy naming its ARN grants its session directly,
/// whatever session policy the user passes; it has nothing else of its own
/// (its session policy is the user's to pass: not in any state), and calls no STS.
fn federated_users(inventory: &Inventory) -> Vec<Acting> {
    let policies = inventory.buckets.iter().filter_map(|b| b.policy.as_ref()).chain(inventory.keys.iter().map(|k| &k.policy));
    let named: BTreeSet<String> = policies.flat_map(|p| &p.statements).filter_map(|s| s.principal.as_ref()).flat_map(|p| p.federated_users().map(str::to_string).collect::<Vec<_>>()).collect();
    let nothing = Policy { name: "the session policy its user passes (unknown: none counted)".into(), statements: Vec::new() };
    named
        .into_iter()
        .filter_map(|arn| {
            let caller = Caller::parse(&arn)?;
            let minted_by: Vec<usize> = inventory.users.iter().enumerate().filter(|(_, user)| may_federate(inventory, user, &arn)).map(|(i, _)| i).collect();
            if minted_by.is_empty() {
                return None;
            }
            let set = PolicySet { session: vec![nothing.clone()], resource_exists: true, ..PolicySet::default() };
            Some(Acting { start: Start::FederatedUser { arn, minted_by }, caller, set, context: Context::signed([]), assume: None, delegated_only: false })
        })
        .collect()
}

/// A user of the inventory as the evaluator sees its calls: who it is, and its own policies.
fn user_caller(inventory: &Inventory, user: &super::inventory::User) -> (Caller, PolicySet) {
    let caller = Caller::User { partition: inventory.partition.clone(), account: user.account.clone(), name: user.name.clone(), arn: user.arn.clone() };
    let set = PolicySet { identity: user.identity.clone(), boundary: user.boundary.clone(), resource_exists: true, ..PolicySet::default() };
    (caller, set)
}

/// Whether `user`'s own policies let it call GetFederationToken for the federated user `arn`.
fn may_federate(inventory: &Inventory, user: &super::inventory::User, arn: &str) -> bool {
    let (caller, set) = user_caller(inventory, user);
    let request = Request { caller, action: "sts:GetFederationToken".into(), resource: arn.to_string(), resource_account: None, context: Context::signed(&user.tags) };
    edge::decide(&request, &set).is_some()
}

/// Every account a trust, bucket or key policy names.
fn named_accounts(inventory: &Inventory) -> BTreeSet<String> {
    let trusts = inventory.roles.iter().map(|r| &r.trust);
    let buckets = inventory.buckets.iter().filter_map(|b| b.policy.as_ref());
    let keys = inventory.keys.iter().map(|k| &k.policy);
    let statements = trusts.chain(buckets).chain(keys).flat_map(|p| &p.statements);
    statements.filter_map(|s| s.principal.as_ref()).flat_map(|p| p.accounts().map(str::to_string).collect::<Vec<_>>()).collect()
}

/// The inventory's providers and every other one a trust names (by ARN or name).
fn providers(inventory: &Inventory) -> Vec<(String, Option<ProviderKind>)> {
    let mut found: Vec<(String, Option<ProviderKind>)> = inventory.providers.iter().map(|p| (p.arn.clone(), Some(p.kind.clone()))).collect();
    let named = inventory.roles.iter().flat_map(|r| &r.trust.statements).filter_map(|s| s.principal.as_ref()).flat_map(|p| p.federated().to_vec());
    for arn in named.collect::<BTreeSet<_>>() {
        if !found.iter().any(|(known, _)| *known == arn) {
            found.push((arn, None));
        }
    }
    found
}

/// The roles a principal may enter and the bucket actions it may take, each hop decided alone.
fn edges_of(inventory: &Inventory, patterns: &[Vec<String>], acting: &Acting) -> Edges {
    let mut hops = Vec::new();
    if let Some(action) = acting.assume {
        for (index, role) in inventory.roles.iter().enumerate() {
            if Start::Role(index) == acting.start || !might_admit(&role.trust, &acting.caller) {
                continue;
            }
            let mut set = acting.set.clone();
            set.resource = Some(role.trust.clone());
            resource_in_organization(inventory, &role.account, &mut set);
            let mut context = acting.context.clone();
            for (key, value) in &role.tags {
                context.insert(&format!("aws:ResourceTag/{key}"), vec![value.clone()]);
            }
            let request = Request { caller: acting.caller.clone(), action: action.into(), resource: role.arn.clone(), resource_account: None, context };
            if acting.delegated_only && resource_grant(&request, &set) != PrincipalMatch::Account {
                continue;
            }
            if let Some(opened) = edge::decide(&request, &set) {
                hops.push(Hop { role: index, opened });
            }
        }
    }
    let mut reaches = Vec::new();
    let bucket_grants = bucket_statements(&acting.set.identity);
    for (index, bucket) in inventory.buckets.iter().enumerate() {
        if matches!(acting.caller, Caller::Federated(_)) || !might_reach(bucket, &bucket_grants, acting) {
            continue;
        }
        let mut set = acting.set.clone();
        set.resource = bucket.policy.clone();
        // RestrictPublicBuckets: the evaluator keeps a public policy to the owner's account and AWS services.
        set.restrict_public = bucket.restrict_public == Some(true);
        resource_in_organization(inventory, &bucket.account, &mut set);
        for (action, on_objects) in BUCKET_ACTIONS {
            let objects: Vec<Option<String>> = if on_objects { patterns[index].iter().cloned().map(Some).collect() } else { vec![None] };
            for objects in objects {
                let resource = match &objects {
                    Some(pattern) => format!("{}/{pattern}", bucket.arn),
                    None => bucket.arn.clone(),
                };
                let request = Request { caller: acting.caller.clone(), action: action.into(), resource, resource_account: Some(bucket.account.clone()), context: acting.context.clone() };
                if acting.delegated_only && resource_grant(&request, &set) != PrincipalMatch::Account {
                    continue;
                }
                if let Some(opened) = edge::decide(&request, &set).and_then(|opened| through_the_key(inventory, bucket, acting, &request, opened)) {
                    reaches.push(Reach { target: Target::Bucket(index), action, objects, opened });
                    // One key pattern per action is enough: the broadest that is allowed.
                    break;
                }
            }
        }
    }
    reaches.extend(key_reaches(inventory, acting));
    reaches.extend(database_reaches(inventory, acting));
    Edges { hops, reaches }
}

/// A put into or get from a bucket encrypted with one of the inventory's KMS
/// keys is also the KMS call S3 makes as the caller
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html):
/// the path holds where both are allowed, with the conditions of both.
fn through_the_key(inventory: &Inventory, bucket: &super::inventory::Bucket, acting: &Acting, request: &Request, mut opened: Opened) -> Option<Opened> {
    let Some(kms_action) = kms_action_via_s3(&request.action) else { return Some(opened) };
    let Some((written, bucket_key)) = &bucket.sse_kms else { return Some(opened) };
    // A key no state holds (AWS's own aws/s3 key, or another config's) is not the analysis's to judge.
    let Some(key) = inventory.keys.iter().find(|k| k.arn == *written || k.arn.ends_with(&format!("/{written}"))) else { return Some(opened) };
    let mut set = acting.set.clone();
    set.resource = Some(key.policy.clone());
    resource_in_organization(inventory, &key.account, &mut set);
    let mut context = request.context.clone();
    let arn = if *bucket_key { &bucket.arn } else { &request.resource };
    for (name, values) in kms_keys_via_s3(&key.arn, arn) {
        context.insert(&name, values);
    }
    let kms = Request { caller: request.caller.clone(), action: kms_action.into(), resource: key.arn.clone(), resource_account: None, context };
    let through = edge::decide(&kms, &set)?;
    opened.conditions.extend(through.conditions);
    opened.statements.extend(through.statements);
    Some(opened)
}

/// The KMS actions a principal may take on each key whose policy names it
/// or enables its account's IAM policies: a key admits no one else.
fn key_reaches(inventory: &Inventory, acting: &Acting) -> Vec<Reach> {
    let mut reaches = Vec::new();
    if matches!(acting.caller, Caller::Federated(_) | Caller::Anonymous) {
        return reaches;
    }
    for (index, key) in inventory.keys.iter().enumerate() {
        if !key.policy.statements.iter().any(|s| s.effect == Effect::Allow && (s.not_principal.is_some() || names(s, &acting.caller))) {
            continue;
        }
        let mut set = acting.set.clone();
        set.resource = Some(key.policy.clone());
        resource_in_organization(inventory, &key.account, &mut set);
        for action in KEY_ACTIONS {
            let request = Request { caller: acting.caller.clone(), action: action.into(), resource: key.arn.clone(), resource_account: None, context: acting.context.clone() };
            if acting.delegated_only && resource_grant(&request, &set) != PrincipalMatch::Account {
                continue;
            }
            if let Some(opened) = edge::decide(&request, &set) {
                reaches.push(Reach { target: Target::Key(index), action, objects: None, opened });
            }
        }
    }
    reaches
}

/// The database users a principal may connect as: no resource policy takes
/// part, so its own statements name them. Each user (or pattern) its Allow
/// statements of rds-db:connect name under an instance is asked, the
/// broadest first; one that holds covers the narrower ones.
fn database_reaches(inventory: &Inventory, acting: &Acting) -> Vec<Reach> {
    let mut reaches = Vec::new();
    if matches!(acting.caller, Caller::Federated(_) | Caller::Anonymous) || acting.delegated_only {
        return reaches;
    }
    let named: Vec<&str> = acting
        .set
        .identity
        .iter()
        .flat_map(|p| &p.statements)
        .filter(|s| s.effect == Effect::Allow && matches!(&s.action, Matcher::Any(actions) if actions.iter().any(|a| policy::action_matches(a, DB_CONNECT))))
        .flat_map(|s| match &s.resource {
            Some(Matcher::Any(resources)) => resources.iter().map(String::as_str).collect::<Vec<_>>(),
            _ => vec!["*"],
        })
        .collect();
    for (index, db) in inventory.databases.iter().enumerate() {
        let mut users: Vec<String> = named.iter().filter_map(|r| if *r == "*" { Some("*".to_string()) } else { r.split_once("dbuser:").and_then(|(_, rest)| rest.split_once('/')).map(|(_, user)| user.to_string()) }).collect();
        users.sort_by_key(|u| (!u.contains('*'), u.clone()));
        users.dedup();
        let mut covered: Vec<String> = Vec::new();
        for user in users {
            if covered.iter().any(|c| policy::glob(c, &user)) {
                continue;
            }
            let request = Request { caller: acting.caller.clone(), action: DB_CONNECT.into(), resource: db.dbuser_arn(&inventory.partition, &user), resource_account: Some(db.account.clone()), context: acting.context.clone() };
            let mut set = acting.set.clone();
            resource_in_organization(inventory, &db.account, &mut set);
            if let Some(opened) = edge::decide(&request, &set) {
                covered.push(user.clone());
                reaches.push(Reach { target: Target::Database(index), action: DB_CONNECT, objects: Some(user), opened });
            }
        }
    }
    reaches
}

/// The Allow statements of identity policies about the bucket actions the analysis asks.
fn bucket_statements(identity: &[Policy]) -> Vec<&crate::policy::Statement> {
    let about = |s: &&crate::policy::Statement| match &s.action {
        Matcher::Any(patterns) => patterns.iter().any(|p| BUCKET_ACTIONS.iter().any(|(a, _)| policy::action_matches(p, a))),
        Matcher::Not(_) => true,
    };
    identity.iter().flat_map(|p| &p.statements).filter(|s| s.effect == Effect::Allow).filter(about).collect()
}

/// Whether the principal might reach the bucket at all (conditions aside):
/// its bucket policy names it, or one of its identity grants names the
/// bucket or its objects. Most principals reach few buckets; only those are evaluated.
fn might_reach(bucket: &super::inventory::Bucket, grants: &[&crate::policy::Statement], acting: &Acting) -> bool {
    let named = bucket.policy.as_ref().is_some_and(|policy| {
        policy.statements.iter().any(|s| s.effect == Effect::Allow && (s.not_principal.is_some() || names(s, &acting.caller)))
    });
    if named || acting.delegated_only {
        return named;
    }
    let objects = format!("{}/*", bucket.arn);
    let under = format!("{}/", bucket.arn);
    grants.iter().any(|s| match &s.resource {
        Some(Matcher::Any(patterns)) => patterns.iter().any(|p| p == "*" || p.contains("${") || policy::arn_like(p, &bucket.arn) || policy::arn_like(p, &objects) || p.starts_with(&under)),
        _ => true,
    })
}

/// Whether some Allow statement of a trust names the caller at all (conditions aside): most do not.
fn might_admit(trust: &Policy, caller: &Caller) -> bool {
    trust.statements.iter().any(|s| s.effect == Effect::Allow && names(s, caller))
}

/// Whether a statement's Principal names the caller in any way.
fn names(statement: &crate::policy::Statement, caller: &Caller) -> bool {
    statement.principal.as_ref().is_some_and(|p| p.matches(caller) != PrincipalMatch::None)
}

/// The object keys to ask about: every key (`*`) and each narrower pattern a policy names for the bucket.
fn object_patterns(inventory: &Inventory, bucket: &str) -> Vec<String> {
    let prefix = format!("arn:{}:s3:::{bucket}/", inventory.partition);
    let mut patterns = BTreeSet::new();
    let identity = inventory.roles.iter().flat_map(|r| &r.identity).chain(inventory.users.iter().flat_map(|u| &u.identity));
    let policies = identity.chain(inventory.buckets.iter().filter_map(|b| b.policy.as_ref()));
    for statement in policies.flat_map(|p| &p.statements) {
        if let Some(Matcher::Any(resources)) = &statement.resource {
            patterns.extend(resources.iter().filter_map(|r| r.strip_prefix(&prefix)).filter(|k| *k != "*").map(str::to_string));
        }
    }
    let mut ordered = vec!["*".to_string()];
    ordered.extend(patterns);
    ordered
}

/// Every path from one principal: what it reaches itself, then, breadth
/// first, what each role it can enter reaches (each role once, by its shortest chain).
fn closure(edges: &[Edges], opaque: &[bool], index: usize, acting: &Acting) -> Vec<Path> {
    let mut paths: Vec<Path> = edges[index].reaches.iter().map(|reach| Path { start: acting.start.clone(), hops: Vec::new(), reach: Some(reach.clone()) }).collect();
    let mut visited: BTreeSet<usize> = BTreeSet::new();
    if let Start::Role(own) = acting.start {
        visited.insert(own);
    }
    let mut queue: VecDeque<Vec<Hop>> = VecDeque::new();
    for hop in &edges[index].hops {
        if visited.insert(hop.role) {
            queue.push_back(vec![hop.clone()]);
        }
    }
    while let Some(chain) = queue.pop_front() {
        let role = chain.last().expect("a chain has a hop").role;
        // A session AssumeRole made is no instance's: what only an instance's session carries is out of its reach.
        for reach in edges[role].reaches.iter().filter(|r| !needs_an_instance(&r.opened)) {
            paths.push(Path { start: acting.start.clone(), hops: chain.clone(), reach: Some(reach.clone()) });
        }
        if opaque[role] {
            paths.push(Path { start: acting.start.clone(), hops: chain.clone(), reach: None });
        }
        for hop in edges[role].hops.iter().filter(|h| !needs_an_instance(&h.opened)) {
            if visited.insert(hop.role) {
                let mut longer = chain.clone();
                longer.push(hop.clone());
                queue.push_back(longer);
            }
        }
    }
    paths
}

/// Whether a hop holds only for a session EC2 delivered to an instance: the
/// keys only such a session carries
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-ec2instancesourcevpc).
fn needs_an_instance(opened: &Opened) -> bool {
    const INSTANCE_KEYS: [&str; 4] = ["ec2:sourceinstancearn", "ec2:roledelivery", "aws:ec2instancesourcevpc", "aws:ec2instancesourceprivateipv4"];
    opened.conditions.iter().any(|c| INSTANCE_KEYS.contains(&c.key.to_ascii_lowercase().as_str()))
}
