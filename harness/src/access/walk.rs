//! What walking a path on the target takes, worked out from the analysis:
//! who starts it, the roles it enters, the calls at its end. The runner
//! makes the calls (as a scenario's principal) and says what they came to
//! ([`Proof`]); a path it cannot walk says why.

use serde::{Deserialize, Serialize};

use super::edge::Condition;
use crate::service::sts::saml::{self, Assertion, Form};
use super::inventory::Inventory;
use super::paths::{Path, Start, Target};

/// Who a walk starts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Walker {
    /// A plain session of this role (account, name): the workload's, or an earlier AssumeRole's.
    RoleSession { account: String, role: String },
    /// This IAM user (its ARN), by its access key.
    User { arn: String },
    /// A user of this OIDC provider, by a token the harness mints with these
    /// claims (an emulator accepts it): the walk's first role is entered with
    /// AssumeRoleWithWebIdentity.
    WebIdentity { issuer: String, claims: std::collections::BTreeMap<String, String> },
    /// A user of this SAML provider (its ARN), by a response the scenario's
    /// identity provider signs with this assertion: the walk's first role is
    /// entered with AssumeRoleWithSAML.
    Saml { provider: String, assertion: Assertion },
    /// Anyone: unsigned requests, which need no principal of the scenario.
    Anonymous,
}

/// One path as calls: AssumeRole into each role, then each action on the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    pub walker: Walker,
    /// The roles entered, in order.
    pub roles: Vec<WalkedHop>,
    /// The bucket reached, if the path reaches one.
    pub bucket: Option<WalkedBucket>,
    /// The bucket actions, puts first (a get reads what the walk put).
    pub actions: Vec<&'static str>,
    /// The database user the path connects as, if it ends at one.
    pub database: Option<WalkedDatabase>,
}

/// A connection a walk makes: the instance's endpoint, its dbuser ARN, the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkedDatabase {
    pub host: String,
    pub port: String,
    pub resource_id: String,
    /// The user (a pattern's wildcards filled, as an object key's are).
    pub user: String,
}

/// A role a walk enters, with what its trust's conditions ask of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkedHop {
    pub arn: String,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
}

/// The bucket a walk acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkedBucket {
    pub name: String,
    /// The account that owns it (whose admin sets up and removes the walk's object).
    pub account: String,
    /// The object key the actions use, if they act on objects.
    pub key: Option<String>,
}

/// What the harness knows of one path beyond the analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "proof", rename_all = "kebab-case")]
pub enum Proof {
    /// Walked on the target: every call allowed.
    Proven { calls: usize, latency_ms: f64 },
    /// Walked, and the target refused a call the analysis says AWS allows: the two disagree.
    Refused { call: String, code: String },
    /// Not walked: only the evaluator's prediction stands behind it.
    Predicted { why: String },
}

impl Proof {
    pub fn predicted(why: impl Into<String>) -> Self {
        Proof::Predicted { why: why.into() }
    }
}

/// The key a walk puts and gets under an objects pattern (`*`, `uploads/*`):
/// each wildcard filled; None where the pattern needs a policy variable.
/// (A bucket is the run's own: one key name serves every run.)
pub fn object_key(pattern: &str) -> Option<String> {
    if pattern.contains("${") {
        return None;
    }
    Some(pattern.replace('*', "harness-access-walk").replace('?', "x"))
}

/// How a line's path is walked; Err: why it is not.
pub fn plan(path: &Path, actions: &[&'static str], inventory: &Inventory) -> Result<Walk, String> {
    let walker = match &path.start {
        Start::Role(index) => {
            let role = &inventory.roles[*index];
            Walker::RoleSession { account: role.account.clone(), role: role.name.clone() }
        }
        Start::User(index) => Walker::User { arn: inventory.users[*index].arn.clone() },
        Start::Account(_) => return Err("its start is any principal of an account: none of the scenario's acts as it".into()),
        Start::Provider(arn) => provider_user(arn, path, inventory)?,
        Start::Anonymous => Walker::Anonymous,
        Start::FederatedUser { .. } => return Err("its start is a federated user: walks are not made as one yet".into()),
    };
    if path.reach.as_ref().is_some_and(|r| !r.opened.conditions.is_empty()) {
        return Err("it holds only under conditions on what the caller carries, which the walk cannot change".into());
    }
    // A provider's user enters the first role with what the provider issued: its conditions are its claims.
    let by_token = matches!(walker, Walker::WebIdentity { .. } | Walker::Saml { .. });
    let roles = path
        .hops
        .iter()
        .enumerate()
        .map(|(i, h)| match i == 0 && by_token {
            true => Ok(WalkedHop { arn: inventory.roles[h.role].arn.clone(), external_id: None, session_name: None }),
            false => hop(&inventory.roles[h.role].arn, &h.opened.conditions),
        })
        .collect::<Result<_, _>>()?;
    let (mut bucket, mut database) = (None, None);
    match &path.reach {
        None => {}
        Some(reach) => {
            let index = match reach.target {
                Target::Bucket(index) => index,
                Target::Key(_) => return Err("it ends at a KMS key: the harness walks roles and buckets, not key calls, yet".into()),
                Target::Database(index) => {
                    let db = &inventory.databases[index];
                    let users = reach.objects.as_deref().unwrap_or("*");
                    let user = object_key(users).ok_or_else(|| format!("its database users ({users}) are named by a policy variable"))?;
                    database = Some(WalkedDatabase { host: db.host.clone(), port: db.port.clone(), resource_id: db.resource_id.clone(), user });
                    return Ok(Walk { walker, roles, bucket, actions: vec![super::paths::DB_CONNECT], database });
                }
            };
            let key = match reach.objects.as_deref() {
                None => None,
                Some(pattern) => Some(object_key(pattern).ok_or_else(|| format!("its objects ({pattern}) are named by a policy variable"))?),
            };
            let found = &inventory.buckets[index];
            bucket = Some(WalkedBucket { name: found.name.clone(), account: found.account.clone(), key });
        }
    }
    let mut actions = actions.to_vec();
    actions.sort_by_key(|a| match *a {
        "s3:PutObject" => 0,
        "s3:GetObject" => 1,
        _ => 2,
    });
    Ok(Walk { walker, roles, bucket, actions, database })
}

/// A user of provider `arn` walking `path`: an OIDC provider's by a token, a SAML provider's by a response.
fn provider_user(arn: &str, path: &Path, inventory: &Inventory) -> Result<Walker, String> {
    let provider = inventory.providers.iter().find(|p| p.arn == arn).ok_or("its start is a provider no state of the scenario holds")?;
    let first = path.hops.first().ok_or("it enters no role")?;
    match &provider.kind {
        super::inventory::ProviderKind::Oidc { issuer, audiences } => web_identity(issuer, audiences, &first.opened.conditions),
        _ => saml_user(arn, &first.opened.conditions),
    }
}

/// A condition's one value a request can carry: an exact value, or a pattern with its wildcards filled.
fn one_value(condition: &Condition) -> Option<String> {
    match (condition.operator.as_str(), condition.values.as_slice()) {
        ("StringEquals" | "ForAnyValue:StringEquals", [value]) => Some(value.clone()),
        ("StringLike" | "ForAnyValue:StringLike", [value]) => object_key(value),
        _ => None,
    }
}

/// A SAML provider's user: a signed response whose recipient, subject and
/// attributes meet the first trust's SAML:* conditions.
fn saml_user(arn: &str, conditions: &[Condition]) -> Result<Walker, String> {
    let mut assertion = Assertion { subject: "harness-access-walk".into(), recipient: saml::RECIPIENT.into(), attributes: Default::default(), form: Form::Signed };
    for condition in conditions {
        let unmet = || format!("it holds only under a condition the walk's SAML response does not meet ({condition})");
        let value = one_value(condition).ok_or_else(unmet)?;
        match condition.key.to_ascii_lowercase().as_str() {
            "saml:aud" => assertion.recipient = value,
            "saml:sub" => assertion.subject = value,
            key => {
                let name = saml::attribute_of(key).ok_or_else(unmet)?;
                assertion.attributes.insert(name, value);
            }
        }
    }
    Ok(Walker::Saml { provider: arn.to_string(), assertion })
}

/// A user of OIDC provider `issuer` walking a path: a token whose claims meet
/// the first trust's conditions on `<issuer>:<claim>` (an exact value, or a
/// pattern with its wildcards filled), its audience one the provider lists.
fn web_identity(issuer: &str, audiences: &[String], conditions: &[Condition]) -> Result<Walker, String> {
    let mut claims = std::collections::BTreeMap::new();
    let prefix = format!("{}:", issuer.to_ascii_lowercase());
    for condition in conditions {
        let claim = condition.key.to_ascii_lowercase().strip_prefix(&prefix).map(str::to_string);
        let value = one_value(condition).filter(|_| !condition.operator.starts_with("ForAnyValue:"));
        match (claim, value) {
            (Some(claim), Some(value)) => claims.insert(claim, value),
            _ => return Err(format!("it holds only under a condition the walk's token does not meet ({condition})")),
        };
    }
    if !claims.contains_key("aud") {
        claims.insert("aud".into(), audiences.first().cloned().ok_or("its provider lists no audience")?);
    }
    claims.entry("sub".into()).or_insert_with(|| "harness-access-walk".into());
    Ok(Walker::WebIdentity { issuer: issuer.to_string(), claims })
}

/// Entering a role as its trust's conditions ask: an external ID or a
/// session name it names exactly is passed; any other condition is not met.
fn hop(arn: &str, conditions: &[Condition]) -> Result<WalkedHop, String> {
    let mut hop = WalkedHop { arn: arn.to_string(), external_id: None, session_name: None };
    for condition in conditions {
        let exact = match (condition.operator.as_str(), condition.values.as_slice()) {
            ("StringEquals", [value]) => Some(value.clone()),
            ("StringLike", [value]) if !value.contains(['*', '?']) => Some(value.clone()),
            _ => None,
        };
        match (condition.key.to_ascii_lowercase().as_str(), exact) {
            ("sts:externalid", Some(value)) => hop.external_id = Some(value),
            ("sts:rolesessionname", Some(value)) => hop.session_name = Some(value),
            _ => return Err(format!("it holds only under a condition the walk does not meet ({condition})")),
        }
    }
    Ok(hop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_fills_every_wildcard_and_a_variable_is_not_guessed() {
        assert_eq!(object_key("*").as_deref(), Some("harness-access-walk"));
        assert_eq!(object_key("uploads/*.txt").as_deref(), Some("uploads/harness-access-walk.txt"));
        assert_eq!(object_key("home/${aws:username}/*"), None);
    }
}
