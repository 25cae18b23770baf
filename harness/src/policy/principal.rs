//! Who makes a request (the caller), and whether a policy's Principal
//! element names it, and how: naming an account delegates to that account's
//! identity policies, naming a role reaches its sessions, naming a user or a
//! session (or everyone) grants directly. What kind of name matched decides
//! whether an identity grant is still needed (see `evaluate`).

use serde_json::Value;

use super::element::{DocumentKind, strings};

/// The principal making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    User { partition: String, account: String, name: String, arn: String },
    /// A session of a role: `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    RoleSession { partition: String, account: String, role: String, session: String, arn: String },
    /// An IAM user's GetFederationToken session: `arn:aws:sts::ACCOUNT:federated-user/NAME`.
    FederatedUser { partition: String, account: String, name: String, arn: String },
    /// The account's root user.
    Root { partition: String, account: String },
    /// An AWS service acting for the account (EC2 assuming an instance profile's role).
    Service(String),
    /// A web identity or SAML provider's user (AssumeRoleWith...): the provider's name or ARN.
    Federated(String),
    /// An unsigned request: only a policy granting everyone (`"*"`) lets it in
    /// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-anonymous).
    Anonymous,
}

impl Caller {
    /// A caller from its ARN (or a service's name, `ec2.amazonaws.com`).
    pub fn parse(text: &str) -> Option<Caller> {
        if text == "*" {
            return Some(Caller::Anonymous);
        }
        if !text.starts_with("arn:") {
            return text.ends_with(".amazonaws.com").then(|| Caller::Service(text.to_string()));
        }
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let [_, partition, service, region, account, resource] = parts.as_slice() else { return None };
        if !region.is_empty() || account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (partition, account) = (partition.to_string(), account.to_string());
        match (*service, *resource) {
            ("iam", "root") => Some(Caller::Root { partition, account }),
            ("iam", user) if user.starts_with("user/") => {
                let name = user.rsplit('/').next().unwrap_or_default().to_string();
                Some(Caller::User { partition, account, name, arn: text.to_string() })
            }
            ("iam", provider) if provider.starts_with("oidc-provider/") || provider.starts_with("saml-provider/") => {
                Some(Caller::Federated(text.to_string()))
            }
            ("sts", federated) if federated.starts_with("federated-user/") => {
                let name = federated.split_once('/').map(|(_, n)| n.to_string()).filter(|n| !n.is_empty())?;
                Some(Caller::FederatedUser { partition, account, name, arn: text.to_string() })
            }
            ("sts", session) if session.starts_with("assumed-role/") => {
                let mut parts = session.splitn(3, '/').skip(1);
                let (role, session) = (parts.next()?.to_string(), parts.next()?.to_string());
                Some(Caller::RoleSession { partition, account, role, session, arn: text.to_string() })
            }
            _ => None,
        }
    }

    pub fn account(&self) -> Option<&str> {
        match self {
            Caller::User { account, .. } | Caller::RoleSession { account, .. } | Caller::Root { account, .. } | Caller::FederatedUser { account, .. } => Some(account),
            Caller::Service(_) | Caller::Federated(_) | Caller::Anonymous => None,
        }
    }

    pub fn arn(&self) -> String {
        match self {
            Caller::User { arn, .. } | Caller::RoleSession { arn, .. } | Caller::FederatedUser { arn, .. } => arn.clone(),
            Caller::Root { partition, account } => format!("arn:{partition}:iam::{account}:root"),
            Caller::Service(name) | Caller::Federated(name) => name.clone(),
            Caller::Anonymous => "*".into(),
        }
    }

    /// `aws:PrincipalArn`: for a role session, the role's ARN.
    pub fn principal_arn(&self) -> String {
        match self {
            Caller::RoleSession { partition, account, role, .. } => format!("arn:{partition}:iam::{account}:role/{role}"),
            other => other.arn(),
        }
    }

    /// `aws:PrincipalType`.
    pub fn principal_type(&self) -> &'static str {
        match self {
            Caller::User { .. } => "User",
            Caller::RoleSession { .. } => "AssumedRole",
            Caller::FederatedUser { .. } => "FederatedUser",
            Caller::Root { .. } => "Account",
            Caller::Service(_) => "Service",
            Caller::Federated(_) => "WebIdentityUser",
            Caller::Anonymous => "Anonymous",
        }
    }
}

/// How a Principal element named the caller; the strongest match wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PrincipalMatch {
    None,
    /// The caller's account (`arn:aws:iam::A:root` or `A`): a delegation to its identity policies.
    Account,
    /// The caller's role, by the role's ARN (the caller is one of its sessions).
    Role,
    /// The caller itself: its user or session ARN, its service, its provider, or everyone (`*`).
    Direct,
}

/// One entry of `Principal.AWS`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AwsPrincipal {
    Everyone,
    Account(String),
    User { account: String, name: String },
    Role { account: String, name: String },
    Session(String),
}

impl AwsPrincipal {
    /// What IAM accepts; anything else is "Invalid principal in policy".
    fn parse(text: &str) -> Option<AwsPrincipal> {
        if text == "*" {
            return Some(AwsPrincipal::Everyone);
        }
        let digits = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
        if digits(text) {
            return Some(AwsPrincipal::Account(text.to_string()));
        }
        if text.contains(['*', '?']) {
            return None;
        }
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let ["arn", partition, service, "", account, resource] = parts.as_slice() else { return None };
        if partition.is_empty() || !digits(account) {
            return None;
        }
        let name = || resource.rsplit('/').next().filter(|n| !n.is_empty()).map(str::to_string);
        let account = account.to_string();
        match (*service, *resource) {
            ("iam", "root") => Some(AwsPrincipal::Account(account)),
            ("iam", r) if r.starts_with("user/") => Some(AwsPrincipal::User { account, name: name()? }),
            ("iam", r) if r.starts_with("role/") => Some(AwsPrincipal::Role { account, name: name()? }),
            ("sts", r) if r.starts_with("assumed-role/") && r.split('/').count() == 3 => Some(AwsPrincipal::Session(text.to_string())),
            ("sts", r) if r.starts_with("federated-user/") && name().is_some() => Some(AwsPrincipal::Session(text.to_string())),
            _ => None,
        }
    }

    fn matches(&self, caller: &Caller) -> PrincipalMatch {
        let hit = |yes: bool, how: PrincipalMatch| if yes { how } else { PrincipalMatch::None };
        match (self, caller) {
            (AwsPrincipal::Everyone, Caller::User { .. } | Caller::RoleSession { .. } | Caller::Root { .. } | Caller::FederatedUser { .. } | Caller::Anonymous) => PrincipalMatch::Direct,
            (AwsPrincipal::Account(a), c) => hit(c.account() == Some(a.as_str()), PrincipalMatch::Account),
            (AwsPrincipal::User { account, name }, Caller::User { account: ca, name: cn, .. }) => hit(account == ca && name == cn, PrincipalMatch::Direct),
            (AwsPrincipal::Role { account, name }, Caller::RoleSession { account: ca, role, .. }) => hit(account == ca && name == role, PrincipalMatch::Role),
            (AwsPrincipal::Session(arn), Caller::RoleSession { arn: ca, .. } | Caller::FederatedUser { arn: ca, .. }) => hit(arn == ca, PrincipalMatch::Direct),
            _ => PrincipalMatch::None,
        }
    }
}

/// A statement's Principal or NotPrincipal element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalElement {
    everyone: bool,
    aws: Vec<AwsPrincipal>,
    services: Vec<String>,
    federated: Vec<String>,
}

impl PrincipalElement {
    pub(crate) fn parse(value: &Value, kind: DocumentKind) -> Result<PrincipalElement, String> {
        let mut element = PrincipalElement { everyone: false, aws: Vec::new(), services: Vec::new(), federated: Vec::new() };
        match value {
            Value::String(s) if s == "*" => element.everyone = true,
            Value::Object(map) => {
                for (key, entries) in map {
                    let entries = strings(entries).ok_or_else(|| format!("Principal {key} must be a string or a list of strings"))?;
                    match key.as_str() {
                        "AWS" => {
                            for entry in entries {
                                element.aws.push(AwsPrincipal::parse(&entry).ok_or_else(|| format!("Invalid principal in policy: \"AWS\":\"{entry}\""))?);
                            }
                        }
                        "Service" => element.services.extend(entries),
                        "Federated" if kind == DocumentKind::Trust => element.federated.extend(entries),
                        "CanonicalUser" if kind == DocumentKind::Bucket => {}
                        other => return Err(format!("Invalid principal in policy: unknown principal type {other}")),
                    }
                }
            }
            _ => return Err("Principal must be \"*\" or an object".into()),
        }
        Ok(element)
    }

    /// Whether a Deny's NotPrincipal spares `caller`. AWS checks the account
    /// first, then the user, or the role and then its session: the account
    /// and the caller's own user (or its role, or its session) must both be
    /// listed; naming one without the other spares nobody.
    pub fn spares(&self, caller: &Caller) -> bool {
        let lists_account = || self.aws.iter().any(|p| p.matches(caller) == PrincipalMatch::Account);
        match caller {
            _ if self.everyone => true,
            Caller::User { .. } | Caller::RoleSession { .. } | Caller::FederatedUser { .. } => lists_account() && self.aws.iter().any(|p| p.matches(caller) >= PrincipalMatch::Role),
            Caller::Root { .. } => lists_account(),
            _ => self.matches(caller) != PrincipalMatch::None,
        }
    }

    /// The accounts it names (`arn:aws:iam::A:root` or `A`).
    pub fn accounts(&self) -> impl Iterator<Item = &str> {
        self.aws.iter().filter_map(|p| match p {
            AwsPrincipal::Account(account) => Some(account.as_str()),
            _ => None,
        })
    }

    /// Whether it names everyone: `"*"` or `{"AWS": "*"}`.
    pub fn names_everyone(&self) -> bool {
        self.everyone || self.aws.contains(&AwsPrincipal::Everyone)
    }

    /// The federated users it names (`arn:...:sts::A:federated-user/NAME`).
    pub fn federated_users(&self) -> impl Iterator<Item = &str> {
        self.aws.iter().filter_map(|p| match p {
            AwsPrincipal::Session(arn) if arn.contains(":federated-user/") => Some(arn.as_str()),
            _ => None,
        })
    }

    /// The identity providers it names (`Federated`).
    pub fn federated(&self) -> &[String] {
        &self.federated
    }

    pub fn matches(&self, caller: &Caller) -> PrincipalMatch {
        if self.everyone {
            return PrincipalMatch::Direct;
        }
        let aws = self.aws.iter().map(|p| p.matches(caller)).max().unwrap_or(PrincipalMatch::None);
        let other = match caller {
            Caller::Service(name) if self.services.iter().any(|s| s.eq_ignore_ascii_case(name)) => PrincipalMatch::Direct,
            Caller::Federated(name) if self.federated.iter().any(|f| f == name) => PrincipalMatch::Direct,
            _ => PrincipalMatch::None,
        };
        aws.max(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_parse_from_their_arns() {
        let session = Caller::parse("arn:aws:sts::111111111111:assumed-role/role1/i-0abc").unwrap();
        assert_eq!(session.principal_arn(), "arn:aws:iam::111111111111:role/role1");
        assert_eq!(session.account(), Some("111111111111"));
        assert!(matches!(Caller::parse("arn:aws:iam::111111111111:user/dev/alice"), Some(Caller::User { name, .. }) if name == "alice"));
        assert_eq!(Caller::parse("ec2.amazonaws.com"), Some(Caller::Service("ec2.amazonaws.com".into())));
        assert_eq!(Caller::parse("arn:aws::iam::111111111111:root"), None);
    }

    #[test]
    fn the_blogs_malformed_root_arn_is_an_invalid_principal() {
        assert_eq!(AwsPrincipal::parse("arn:aws::iam::111111111111:root"), None);
        assert_eq!(AwsPrincipal::parse("arn:aws:iam::111111111111:role/*"), None);
        assert_eq!(AwsPrincipal::parse("arn:aws:iam::111111111111:root"), Some(AwsPrincipal::Account("111111111111".into())));
    }
}
