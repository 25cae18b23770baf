//! What an applied config holds, read from Terraform's state files
//! themselves (`terraform show -json` alone costs seconds): every role,
//! user, group, instance profile, OIDC and SAML provider, bucket and KMS key, with
//! the policies the evaluator needs, each named by its Terraform address.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::policy::{DocumentKind, OrgLevel, Policy};

/// How the accounts of a state are named: a resource's account is in its
/// ARN, a bucket's is its provider's (an alias names a scenario account).
#[derive(Debug, Clone, Default)]
pub struct AccountNames {
    /// The account of the unaliased `aws` provider.
    pub default: String,
    /// Provider alias (the scenario's account name) -> id.
    pub by_alias: BTreeMap<String, String>,
}

impl AccountNames {
    /// One account, the admin's own: it needs no name in a snapshot.
    pub fn single(id: &str) -> Self {
        Self { default: id.to_string(), by_alias: BTreeMap::new() }
    }

    /// How snapshots name account `id`: the scenario's name for it, `self`
    /// for a scenario with one account, else the id (an account outside the scenario).
    pub fn name(&self, id: &str) -> String {
        if let Some((alias, _)) = self.by_alias.iter().find(|(_, known)| *known == id) {
            return alias.clone();
        }
        if id == self.default { "self".into() } else { id.to_string() }
    }

    pub fn is_known(&self, id: &str) -> bool {
        id == self.default || self.by_alias.values().any(|known| known == id)
    }
}

#[derive(Debug, Clone)]
pub struct Role {
    pub address: String,
    pub name: String,
    pub arn: String,
    pub account: String,
    pub trust: Policy,
    pub identity: Vec<Policy>,
    pub boundary: Option<Policy>,
    pub tags: BTreeMap<String, String>,
    /// The instance profiles that carry it (their addresses).
    pub instance_profiles: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub address: String,
    pub name: String,
    pub arn: String,
    pub account: String,
    /// Its own policies and its groups'.
    pub identity: Vec<Policy>,
    pub boundary: Option<Policy>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// An OIDC provider: the issuer (its URL without `https://`) and the audiences it accepts.
    Oidc { issuer: String, audiences: Vec<String> },
    Saml,
}

#[derive(Debug, Clone)]
pub struct Provider {
    pub address: String,
    pub arn: String,
    pub kind: ProviderKind,
}

#[derive(Debug, Clone)]
pub struct Bucket {
    pub address: String,
    pub name: String,
    pub arn: String,
    pub account: String,
    pub policy: Option<Policy>,
    /// Block Public Access's RestrictPublicBuckets, the bucket's and its
    /// account's combined (None: the config sets neither).
    pub restrict_public: Option<bool>,
    /// The KMS key of its default SSE-KMS encryption (an ARN, id or alias, as
    /// written), and whether it uses an S3 Bucket Key.
    pub sse_kms: Option<(String, bool)>,
}

/// A KMS key and its key policy, which decides who may use it (the
/// account's IAM policies count only where it enables them).
#[derive(Debug, Clone)]
pub struct Key {
    pub address: String,
    pub arn: String,
    pub account: String,
    pub policy: Policy,
}

/// An RDS instance with IAM database authentication on: its database users
/// are `rds-db:connect` resources, `arn:...:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER`.
#[derive(Debug, Clone)]
pub struct Database {
    pub address: String,
    pub account: String,
    pub region: String,
    /// Its DbiResourceId.
    pub resource_id: String,
    /// Its endpoint: what its auth tokens name.
    pub host: String,
    pub port: String,
}

impl Database {
    /// The ARN of its database user (or user pattern) `user`.
    pub fn dbuser_arn(&self, partition: &str, user: &str) -> String {
        format!("arn:{partition}:rds-db:{}:{}:dbuser:{}/{user}", self.region, self.account, self.resource_id)
    }
}

/// The Organization a state holds (`aws_organizations_organization`), with
/// the SCPs and RCPs its states attach: each level (its root, a member
/// account) holds what the config attaches there and, for each policy type
/// the root enables, the AWS managed FullAWSAccess or RCPFullAWSAccess AWS
/// attaches to every level. OUs are not read: a member counts as under the root.
#[derive(Debug, Clone)]
pub struct Organization {
    pub id: String,
    pub management: String,
    /// Every account in it, the management account included.
    pub accounts: BTreeSet<String>,
    /// Each member's levels of SCPs, then of RCPs, the root first (worked out once: every request of the analysis asks).
    levels: BTreeMap<String, [Vec<OrgLevel>; 2]>,
}

impl Organization {
    /// The levels of `kind` (SCPs or RCPs) above `account`, the root first; none outside the Organization.
    pub fn levels(&self, account: &str, kind: DocumentKind) -> Vec<OrgLevel> {
        let [scps, rcps] = match self.levels.get(account) {
            Some(levels) => levels,
            None => return Vec::new(),
        };
        if kind == DocumentKind::Scp { scps.clone() } else { rcps.clone() }
    }
}

/// Everything the analysis reads.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub partition: String,
    pub roles: Vec<Role>,
    pub users: Vec<User>,
    pub providers: Vec<Provider>,
    pub buckets: Vec<Bucket>,
    pub keys: Vec<Key>,
    /// The RDS instances with IAM database authentication on.
    pub databases: Vec<Database>,
    /// The Organization over the accounts, when a state holds one.
    pub organization: Option<Organization>,
    /// The region the configs put their buckets in: `aws:RequestedRegion` of the requests analysed.
    pub region: Option<String>,
    /// What names an EC2 instance in a policy (its id, its private address) and
    /// what the snapshot calls it instead (its Terraform address).
    pub instance_names: Vec<(String, String)>,
    /// What it could not see: a managed policy the state does not hold
    /// (an AWS-managed one), said as a sentence.
    pub unseen: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    #[error("the state file is not Terraform state (version 4): {0}")]
    NotState(String),
    #[error("{address}: its {what} does not parse as IAM would read it: {cause}")]
    Policy { address: String, what: String, cause: String },
}

/// One resource instance of a state.
struct Instance<'a> {
    address: String,
    kind: &'a str,
    /// The provider alias it was applied with (None: the default provider).
    alias: Option<String>,
    attributes: &'a Value,
}

impl Instance<'_> {
    fn text(&self, name: &str) -> &str {
        self.attributes.get(name).and_then(Value::as_str).unwrap_or_default()
    }

    fn texts(&self, name: &str) -> Vec<String> {
        self.attributes.get(name).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
    }

    fn tags(&self) -> BTreeMap<String, String> {
        let tags = self.attributes.get("tags").and_then(Value::as_object);
        tags.map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect()).unwrap_or_default()
    }

    fn flag(&self, name: &str) -> Option<bool> {
        self.attributes.get(name).and_then(Value::as_bool)
    }

    fn policy(&self, attribute: &str, what: &str, kind: DocumentKind) -> Result<Policy, InventoryError> {
        let name = match what {
            "" => self.address.clone(),
            what => format!("{} {what}", self.address),
        };
        parse(&name, self.text(attribute), kind, &self.address)
    }
}

fn parse(name: &str, json: &str, kind: DocumentKind, address: &str) -> Result<Policy, InventoryError> {
    Policy::parse(name, json, kind).map_err(|e| InventoryError::Policy { address: address.to_string(), what: name.to_string(), cause: e.to_string() })
}

/// The managed resource instances of a state file's JSON.
fn instances(state: &Value) -> Result<Vec<Instance<'_>>, InventoryError> {
    if state.get("version").and_then(Value::as_u64) != Some(4) {
        return Err(InventoryError::NotState("no \"version\": 4".into()));
    }
    let resources = state.get("resources").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut found = Vec::new();
    for resource in resources.iter().filter(|r| r.get("mode").and_then(Value::as_str) == Some("managed")) {
        let text = |name: &str| resource.get(name).and_then(Value::as_str).unwrap_or_default();
        let (kind, name, module) = (text("type"), text("name"), text("module"));
        // `provider["registry.terraform.io/hashicorp/aws"].prod`: the alias follows the last `]`.
        let alias = text("provider").rsplit_once("].").map(|(_, alias)| alias.to_string());
        for instance in resource.get("instances").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            let index = match instance.get("index_key") {
                Some(Value::Number(n)) => format!("[{n}]"),
                Some(Value::String(s)) => format!("[\"{s}\"]"),
                _ => String::new(),
            };
            let module = if module.is_empty() { String::new() } else { format!("{module}.") };
            let Some(attributes) = instance.get("attributes") else { continue };
            found.push(Instance { address: format!("{module}{kind}.{name}{index}"), kind, alias: alias.clone(), attributes });
        }
    }
    Ok(found)
}

fn account_of_arn(arn: &str) -> String {
    arn.split(':').nth(4).unwrap_or_default().to_string()
}

/// The policies attached by ARN, found among the state's `aws_iam_policy` resources.
struct Managed<'a> {
    by_arn: BTreeMap<String, &'a Instance<'a>>,
}

impl Managed<'_> {
    fn get(&self, arn: &str, owner: &str, unseen: &mut Vec<String>) -> Result<Option<Policy>, InventoryError> {
        match self.by_arn.get(arn) {
            Some(policy) => Ok(Some(policy.policy("policy", "", DocumentKind::Identity)?)),
            None => {
                unseen.push(format!("{owner} carries {arn}, which no state of the scenario holds: the analysis cannot see what it grants"));
                Ok(None)
            }
        }
    }
}

impl Inventory {
    /// Every state of a scenario (its chain's, and each `apply_as` stage's).
    pub fn from_states(states: &[Value], accounts: &AccountNames) -> Result<Inventory, InventoryError> {
        let mut all = Vec::new();
        for state in states {
            all.extend(instances(state)?);
        }
        let of = |kind: &'static str| all.iter().filter(move |i| i.kind == kind);
        let managed = Managed { by_arn: of("aws_iam_policy").map(|p| (p.text("arn").to_string(), p)).collect() };
        let mut inventory = Inventory { partition: "aws".into(), ..Inventory::default() };
        if let Some(role) = of("aws_iam_role").next() {
            inventory.partition = role.text("arn").split(':').nth(1).unwrap_or("aws").to_string();
        }
        inventory.read_roles(&all, &managed)?;
        inventory.read_users(&all, &managed)?;
        for provider in of("aws_iam_openid_connect_provider") {
            let issuer = provider.text("url").trim_start_matches("https://").to_string();
            let kind = ProviderKind::Oidc { issuer, audiences: provider.texts("client_id_list") };
            inventory.providers.push(Provider { address: provider.address.clone(), arn: provider.text("arn").to_string(), kind });
        }
        for provider in of("aws_iam_saml_provider") {
            inventory.providers.push(Provider { address: provider.address.clone(), arn: provider.text("arn").to_string(), kind: ProviderKind::Saml });
        }
        for bucket in of("aws_s3_bucket") {
            let name = bucket.text("bucket").to_string();
            let account = bucket.alias.as_ref().and_then(|a| accounts.by_alias.get(a)).cloned().unwrap_or_else(|| accounts.default.clone());
            let policy = match of("aws_s3_bucket_policy").find(|p| p.text("bucket") == name) {
                Some(policy) => Some(policy.policy("policy", "", DocumentKind::Bucket)?),
                None if !bucket.text("policy").is_empty() => Some(bucket.policy("policy", "policy", DocumentKind::Bucket)?),
                None => None,
            };
            let own = of("aws_s3_bucket_public_access_block").find(|b| b.text("bucket") == name).and_then(|b| b.flag("restrict_public_buckets"));
            let account_wide = of("aws_s3_account_public_access_block")
                .find(|b| b.alias.as_ref().and_then(|a| accounts.by_alias.get(a)).unwrap_or(&accounts.default) == &account)
                .and_then(|b| b.flag("restrict_public_buckets"));
            // The most restrictive of the two wins.
            let restrict_public = match (own, account_wide) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(false) || b.unwrap_or(false)),
            };
            let sse_kms = of("aws_s3_bucket_server_side_encryption_configuration").find(|c| c.text("bucket") == name).and_then(default_kms_key);
            inventory.buckets.push(Bucket { address: bucket.address.clone(), arn: bucket.text("arn").to_string(), account, policy, restrict_public, sse_kms, name });
        }
        for key in of("aws_kms_key") {
            // A separate aws_kms_key_policy, where the config has one, is the policy in force.
            let policy = match of("aws_kms_key_policy").find(|p| p.text("key_id") == key.text("key_id") || p.text("key_id") == key.text("arn")) {
                Some(policy) => policy.policy("policy", "", DocumentKind::Bucket)?,
                None => key.policy("policy", "key policy", DocumentKind::Bucket)?,
            };
            inventory.keys.push(Key { address: key.address.clone(), arn: key.text("arn").to_string(), account: account_of_arn(key.text("arn")), policy });
        }
        for db in of("aws_db_instance").filter(|db| db.flag("iam_database_authentication_enabled") == Some(true)) {
            let arn: Vec<&str> = db.text("arn").split(':').collect();
            let (region, account) = (arn.get(3).copied().unwrap_or_default(), arn.get(4).copied().unwrap_or_default());
            let port = db.attributes.get("port").map(|p| p.to_string().trim_matches('"').to_string()).unwrap_or_default();
            let (resource_id, host) = (db.text("resource_id").to_string(), db.text("address").to_string());
            inventory.databases.push(Database { address: db.address.clone(), account: account.into(), region: region.into(), resource_id, host, port });
        }
        inventory.organization = read_organization(&all)?;
        inventory.region = of("aws_s3_bucket").map(|b| b.text("region")).find(|r| !r.is_empty()).map(str::to_string);
        for instance in of("aws_instance") {
            inventory.instance_names.push((instance.text("id").to_string(), instance.address.clone()));
            inventory.instance_names.push((instance.text("private_ip").to_string(), format!("{}.private_ip", instance.address)));
        }
        Ok(inventory)
    }

    /// Each role with its trust, identity and boundary policies and its instance profiles.
    fn read_roles(&mut self, all: &[Instance<'_>], managed: &Managed<'_>) -> Result<(), InventoryError> {
        let of = |kind: &'static str| all.iter().filter(move |i| i.kind == kind);
        for role in of("aws_iam_role") {
            let name = role.text("name").to_string();
            let inline = of("aws_iam_role_policy").filter(|p| p.text("role") == name).map(|p| (p.text("name").to_string(), p));
            let attached = of("aws_iam_role_policy_attachment").filter(|p| p.text("role") == name).map(|p| p.text("policy_arn").to_string());
            let identity = self.identity(role, inline.collect(), attached.chain(role.texts("managed_policy_arns")).collect(), managed)?;
            let boundary = self.boundary(role, managed)?;
            let profiles = of("aws_iam_instance_profile").filter(|p| p.text("role") == name).map(|p| p.address.clone()).collect();
            self.roles.push(Role {
                address: role.address.clone(),
                arn: role.text("arn").to_string(),
                account: account_of_arn(role.text("arn")),
                trust: role.policy("assume_role_policy", "trust policy", DocumentKind::Trust)?,
                identity,
                boundary,
                tags: role.tags(),
                instance_profiles: profiles,
                name,
            });
        }
        Ok(())
    }

    /// Each user with its own policies and its groups'.
    fn read_users(&mut self, all: &[Instance<'_>], managed: &Managed<'_>) -> Result<(), InventoryError> {
        let of = |kind: &'static str| all.iter().filter(move |i| i.kind == kind);
        for user in of("aws_iam_user") {
            let name = user.text("name").to_string();
            let inline = of("aws_iam_user_policy").filter(|p| p.text("user") == name).map(|p| (p.text("name").to_string(), p)).collect();
            let attached = of("aws_iam_user_policy_attachment").filter(|p| p.text("user") == name).map(|p| p.text("policy_arn").to_string()).collect();
            let mut identity = self.identity(user, inline, attached, managed)?;
            for group in user_groups(all, &name) {
                let inline = of("aws_iam_group_policy").filter(|p| p.text("group") == group).map(|p| (p.text("name").to_string(), p)).collect();
                let attached = of("aws_iam_group_policy_attachment").filter(|p| p.text("group") == group).map(|p| p.text("policy_arn").to_string()).collect();
                let owner = of("aws_iam_group").find(|g| g.text("name") == group);
                match owner {
                    Some(owner) => identity.extend(self.identity(owner, inline, attached, managed)?),
                    None => self.unseen.push(format!("{} is in group {group}, which no state of the scenario holds", user.address)),
                }
            }
            let boundary = self.boundary(user, managed)?;
            self.users.push(User { address: user.address.clone(), arn: user.text("arn").to_string(), account: account_of_arn(user.text("arn")), identity, boundary, tags: user.tags(), name });
        }
        Ok(())
    }

    /// An owner's inline policies (the separate resources', then the ones
    /// only its own attribute lists) and its attached managed policies.
    fn identity(&mut self, owner: &Instance<'_>, inline: Vec<(String, &Instance<'_>)>, attached: Vec<String>, managed: &Managed<'_>) -> Result<Vec<Policy>, InventoryError> {
        let mut policies = Vec::new();
        let mut seen = BTreeSet::new();
        for (name, resource) in inline {
            seen.insert(name);
            policies.push(resource.policy("policy", "", DocumentKind::Identity)?);
        }
        for entry in owner.attributes.get("inline_policy").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            let name = entry.get("name").and_then(Value::as_str).unwrap_or_default();
            let document = entry.get("policy").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty() || document.is_empty() || !seen.insert(name.to_string()) {
                continue;
            }
            policies.push(parse(&format!("{} inline policy {name}", owner.address), document, DocumentKind::Identity, &owner.address)?);
        }
        let arns: BTreeSet<String> = attached.into_iter().collect();
        for arn in arns {
            policies.extend(managed.get(&arn, &owner.address, &mut self.unseen)?);
        }
        Ok(policies)
    }

    fn boundary(&mut self, owner: &Instance<'_>, managed: &Managed<'_>) -> Result<Option<Policy>, InventoryError> {
        match owner.text("permissions_boundary") {
            "" => Ok(None),
            arn => match managed.get(arn, &owner.address, &mut self.unseen)? {
                Some(mut policy) => {
                    policy.name = format!("{} (the permissions boundary of {})", policy.name, owner.address);
                    Ok(Some(policy))
                }
                // A boundary it cannot read: nothing the owner does is allowed by what the analysis sees.
                None => Ok(Some(Policy { name: format!("{arn} (the permissions boundary of {}, unseen)", owner.address), statements: Vec::new() })),
            },
        }
    }
}

/// A bucket's default SSE-KMS key and S3 Bucket Key setting, from its encryption configuration.
fn default_kms_key(configuration: &Instance<'_>) -> Option<(String, bool)> {
    let rules = configuration.attributes.get("rule").and_then(Value::as_array)?;
    rules.iter().find_map(|rule| {
        let default = rule.get("apply_server_side_encryption_by_default").and_then(Value::as_array)?.first()?;
        let key = default.get("kms_master_key_id").and_then(Value::as_str).filter(|k| !k.is_empty())?;
        (default.get("sse_algorithm").and_then(Value::as_str) == Some("aws:kms")).then(|| (key.to_string(), rule.get("bucket_key_enabled").and_then(Value::as_bool).unwrap_or(false)))
    })
}

/// The Organization of the states, its members and the SCPs and RCPs they attach.
fn read_organization(all: &[Instance<'_>]) -> Result<Option<Organization>, InventoryError> {
    let of = |kind: &'static str| all.iter().filter(move |i| i.kind == kind);
    let Some(org) = of("aws_organizations_organization").next() else { return Ok(None) };
    let root = org.attributes.get("roots").and_then(Value::as_array).and_then(|r| r.first()).and_then(|r| r.get("id")).and_then(Value::as_str).unwrap_or_default();
    let listed = org.attributes.get("accounts").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let management = org.text("master_account_id").to_string();
    let mut accounts: BTreeSet<String> = listed.iter().filter_map(|a| a.get("id").and_then(Value::as_str)).map(str::to_string).collect();
    accounts.insert(management.clone());
    let kind_of = |policy_type: &str| match policy_type {
        "SERVICE_CONTROL_POLICY" => Some(DocumentKind::Scp),
        "RESOURCE_CONTROL_POLICY" => Some(DocumentKind::Rcp),
        _ => None,
    };
    let enabled: Vec<DocumentKind> = org.texts("enabled_policy_types").iter().filter_map(|t| kind_of(t)).collect();
    let mut attached: BTreeMap<String, Vec<(DocumentKind, Policy)>> = BTreeMap::new();
    for attachment in of("aws_organizations_policy_attachment") {
        let Some(policy) = of("aws_organizations_policy").find(|p| p.text("id") == attachment.text("policy_id")) else { continue };
        let Some(kind) = kind_of(policy.text("type")) else { continue };
        attached.entry(attachment.text("target_id").to_string()).or_default().push((kind, policy.policy("content", "", kind)?));
    }
    let levels_of = |account: &str, kind: DocumentKind| -> Vec<OrgLevel> {
        if !enabled.contains(&kind) {
            return Vec::new();
        }
        let (name, default) = match kind {
            DocumentKind::Scp => ("FullAWSAccess", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#),
            _ => ("RCPFullAWSAccess", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#),
        };
        let level = |target: &str, label: String| {
            let mut policies = vec![Policy::parse(name, default, kind).expect("AWS's own policy parses")];
            policies.extend(attached.get(target).into_iter().flatten().filter(|(k, _)| *k == kind).map(|(_, p)| p.clone()));
            OrgLevel { target: label, policies }
        };
        vec![level(root, format!("the organization's root {root}")), level(account, format!("account {account}"))]
    };
    let levels = accounts.iter().map(|a| (a.clone(), [levels_of(a, DocumentKind::Scp), levels_of(a, DocumentKind::Rcp)])).collect();
    Ok(Some(Organization { id: org.text("id").to_string(), management, accounts, levels }))
}

/// The groups a user is in, by either membership resource.
fn user_groups(all: &[Instance<'_>], user: &str) -> BTreeSet<String> {
    let mut groups = BTreeSet::new();
    for instance in all {
        match instance.kind {
            "aws_iam_user_group_membership" if instance.text("user") == user => groups.extend(instance.texts("groups")),
            "aws_iam_group_membership" if instance.texts("users").iter().any(|u| u == user) => {
                groups.insert(instance.text("group").to_string());
            }
            _ => {}
        }
    }
    groups
}
