//! The accounts a scenario acts in (`[accounts] dev = "111111111111"`), in
//! the order written: the first is the default, the account of the config's
//! unaliased `aws` provider; a provider alias addresses the account of its
//! name. The harness reaches every account as an AWS Organization's
//! management account does: through the account's access role.

use std::collections::BTreeMap;

/// The role the harness assumes in an account other than its own admin's:
/// what AWS Organizations creates in every member account it makes
/// (RoleName of https://docs.aws.amazon.com/organizations/latest/APIReference/API_CreateAccount.html).
pub const ACCESS_ROLE: &str = "OrganizationAccountAccessRole";

/// How a stage's variables and the scenario's steps name an account's id: `${accounts.prod}`.
pub const REFERENCE_PREFIX: &str = "accounts.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub id: String,
}

/// A scenario's accounts; empty: the target admin's account alone, as before accounts existed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts(Vec<Account>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountsError {
    #[error("account `{name}` is {id:?}, not an account id (12 digits)")]
    NotAnId { name: String, id: String },
    #[error("`{name}` cannot name an account: a provider alias is a letter or underscore, then letters, digits, `_` or `-`")]
    BadName { name: String },
    #[error("accounts `{first}` and `{second}` are the same account {id}; give each its own id")]
    Duplicate { first: String, second: String, id: String },
    #[error("`--sandbox-account {0}` is neither an account id nor NAME=ID")]
    BadSandboxArgument(String),
    #[error("account `{name}` has no sandbox id on --target aws; pass --sandbox-account {name}=ID (the real account that plays it)")]
    Unmapped { name: String },
}

impl AccountsError {
    /// The harness's exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            AccountsError::Unmapped { .. } => crate::exit_code::ACCOUNT_UNMAPPED,
            AccountsError::BadSandboxArgument(_) => crate::exit_code::USAGE,
            _ => crate::exit_code::ACCOUNTS_INVALID,
        }
    }
}

impl Accounts {
    /// From `(name, id)` pairs in the order written.
    pub fn new(accounts: impl IntoIterator<Item = (String, String)>) -> Result<Self, AccountsError> {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut list = Vec::new();
        for (name, id) in accounts {
            if !is_alias(&name) {
                return Err(AccountsError::BadName { name });
            }
            if !is_account_id(&id) {
                return Err(AccountsError::NotAnId { name, id });
            }
            if let Some(first) = seen.insert(id.clone(), name.clone()) {
                return Err(AccountsError::Duplicate { first, second: name, id });
            }
            list.push(Account { name, id });
        }
        Ok(Self(list))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Account> {
        self.0.iter()
    }

    pub fn get(&self, name: &str) -> Option<&Account> {
        self.0.iter().find(|a| a.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|a| a.name.as_str()).collect()
    }

    /// The account a provider block addresses: its alias's, the default's when unaliased.
    pub fn for_alias(&self, alias: Option<&str>) -> Option<&Account> {
        match alias {
            None => self.0.first(),
            Some(alias) => self.get(alias),
        }
    }

    /// The same names with the ids `ids` gives them (a real account's
    /// sandbox ids in place of the scenario's); refused for a name `ids`
    /// lacks, or two names it maps to one account.
    pub fn with_ids(&self, ids: &BTreeMap<String, String>) -> Result<Accounts, AccountsError> {
        let mapped = self.0.iter().map(|a| ids.get(&a.name).map(|id| (a.name.clone(), id.clone())).ok_or_else(|| AccountsError::Unmapped { name: a.name.clone() }));
        Accounts::new(mapped.collect::<Result<Vec<_>, _>>()?)
    }

    /// `${accounts.NAME}` written as each account's id.
    pub fn substitute(&self, text: &str) -> String {
        self.0.iter().fold(text.to_string(), |text, a| text.replace(&format!("${{{REFERENCE_PREFIX}{}}}", a.name), &a.id))
    }
}

/// `--sandbox-account` values: a bare id is the default account (the
/// credentials' own, as before accounts existed); `NAME=ID` maps an account
/// a scenario names to a real one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxAccounts {
    pub default: Option<String>,
    pub named: BTreeMap<String, String>,
}

impl SandboxAccounts {
    pub fn parse(values: &[String]) -> Result<Self, AccountsError> {
        let mut parsed = SandboxAccounts::default();
        for value in values {
            match value.split_once('=') {
                None if is_account_id(value) && parsed.default.is_none() => parsed.default = Some(value.clone()),
                Some((name, id)) if is_alias(name) && is_account_id(id) && !parsed.named.contains_key(name) => {
                    parsed.named.insert(name.to_string(), id.to_string());
                }
                _ => return Err(AccountsError::BadSandboxArgument(value.clone())),
            }
        }
        Ok(parsed)
    }

    /// Every id the run may touch.
    pub fn ids(&self) -> impl Iterator<Item = &String> {
        self.default.iter().chain(self.named.values())
    }
}

pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// A Terraform identifier (what a provider alias may be).
fn is_alias(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts(pairs: &[(&str, &str)]) -> Result<Accounts, AccountsError> {
        Accounts::new(pairs.iter().map(|(n, i)| (n.to_string(), i.to_string())))
    }

    #[test]
    fn the_first_account_is_the_default_and_an_alias_names_its_own() {
        let a = accounts(&[("dev", "111111111111"), ("prod", "222222222222")]).unwrap();
        assert_eq!(a.for_alias(None).unwrap().id, "111111111111");
        assert_eq!(a.for_alias(Some("prod")).unwrap().id, "222222222222");
        assert!(a.for_alias(Some("staging")).is_none());
    }

    #[test]
    fn a_malformed_table_is_refused_with_its_cause() {
        assert!(matches!(accounts(&[("dev", "1111")]), Err(AccountsError::NotAnId { .. })));
        assert!(matches!(accounts(&[("dev", "11111111111a")]), Err(AccountsError::NotAnId { .. })));
        assert!(matches!(accounts(&[("9dev", "111111111111")]), Err(AccountsError::BadName { .. })));
        let duplicate = accounts(&[("dev", "111111111111"), ("prod", "111111111111")]).unwrap_err();
        assert_eq!(duplicate.to_string(), "accounts `dev` and `prod` are the same account 111111111111; give each its own id");
    }

    #[test]
    fn references_are_substituted() {
        let a = accounts(&[("dev", "111111111111"), ("prod", "222222222222")]).unwrap();
        assert_eq!(a.substitute("arn:aws:iam::${accounts.prod}:root"), "arn:aws:iam::222222222222:root");
    }

    #[test]
    fn sandbox_accounts_take_one_default_and_named_ones() {
        let parsed = SandboxAccounts::parse(&["123456789012".into(), "prod=222222222222".into()]).unwrap();
        assert_eq!(parsed.default.as_deref(), Some("123456789012"));
        assert_eq!(parsed.named["prod"], "222222222222");
        for bad in ["prod=2222", "12345", "prod=222222222222,x", "=222222222222"] {
            assert!(SandboxAccounts::parse(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(SandboxAccounts::parse(&["prod=222222222222".into(), "prod=333333333333".into()]).is_err());
        assert!(SandboxAccounts::parse(&["111111111111".into(), "222222222222".into()]).is_err());
    }

    #[test]
    fn sandbox_ids_replace_the_scenarios_own_or_say_which_is_missing() {
        let a = accounts(&[("dev", "111111111111"), ("prod", "222222222222")]).unwrap();
        let ids = |pairs: &[(&str, &str)]| pairs.iter().map(|(n, i)| (n.to_string(), i.to_string())).collect::<BTreeMap<_, _>>();
        let mapped = a.with_ids(&ids(&[("dev", "444444444444"), ("prod", "555555555555")])).unwrap();
        assert_eq!(mapped.for_alias(Some("prod")).unwrap().id, "555555555555");
        let missing = a.with_ids(&ids(&[("dev", "444444444444")])).unwrap_err();
        assert_eq!((missing.exit_code(), missing.to_string().contains("pass --sandbox-account prod=ID")), (crate::exit_code::ACCOUNT_UNMAPPED, true));
        let same = a.with_ids(&ids(&[("dev", "444444444444"), ("prod", "444444444444")])).unwrap_err();
        assert_eq!(same.exit_code(), crate::exit_code::ACCOUNTS_INVALID, "{same}");
    }
}
