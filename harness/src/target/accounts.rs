//! The accounts of a scenario as the harness reaches them from its admin's:
//! its own directly, every other through the account's access role, each
//! checked with sts:GetCallerIdentity.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;

use super::{Target, TargetError};
use crate::accounts::{ACCESS_ROLE, Account, Accounts};
use crate::sdk;

/// How the harness reaches accounts other than its admin's: the role it
/// assumes in each, and (on a real account) the sandbox id of each name.
#[derive(Debug, Clone)]
pub struct AccountReach {
    pub role: String,
    /// `--sandbox-account NAME=ID`; None: the scenario's own ids (an emulator).
    pub sandbox_ids: Option<BTreeMap<String, String>>,
}

impl Default for AccountReach {
    fn default() -> Self {
        Self { role: ACCESS_ROLE.to_string(), sandbox_ids: None }
    }
}

/// One account of a scenario as the harness reaches it.
#[derive(Debug, Clone)]
pub struct ReachedAccount {
    /// Its name, and its id on this target.
    pub account: Account,
    /// The role assumed to reach it; None: the admin's own account.
    pub role_arn: Option<String>,
    /// The SDK as the account's admin.
    pub config: SdkConfig,
}

impl Target {
    /// Each account a scenario names, with its id on this target, reached as
    /// the admin (its own account) or through the account's access role, and
    /// checked with sts:GetCallerIdentity: the credentials are that account's.
    pub async fn reach_accounts(&self, accounts: &Accounts) -> Result<Vec<ReachedAccount>, TargetError> {
        let accounts = match &self.accounts.sandbox_ids {
            Some(ids) => accounts.with_ids(ids).map_err(TargetError::Accounts)?,
            None => accounts.clone(),
        };
        let admin = self.admin_config().await;
        let mut reached = Vec::new();
        for account in accounts.iter() {
            if account.id == self.admin.account_id {
                reached.push(ReachedAccount { account: account.clone(), role_arn: None, config: admin.clone() });
                continue;
            }
            let role_arn = format!("arn:{}:iam::{}:role/{}", self.admin.partition(), account.id, self.accounts.role);
            let unreachable = |cause: String| TargetError::AccountUnreachable { name: account.name.clone(), id: account.id.clone(), role_arn: role_arn.clone(), cause };
            let provider = aws_config::sts::AssumeRoleProvider::builder(&role_arn).session_name("harness").configure(&admin).build().await;
            let config = sdk::config_with(&self.endpoint, SharedCredentialsProvider::new(provider)).await;
            let identity = aws_sdk_sts::Client::new(&config).get_caller_identity().send().await.map_err(|e| unreachable(sdk::error_chain(&e)))?;
            if identity.account() != Some(account.id.as_str()) {
                return Err(unreachable(format!("its credentials are account {}'s", identity.account().unwrap_or("?"))));
            }
            reached.push(ReachedAccount { account: account.clone(), role_arn: Some(role_arn), config });
        }
        Ok(reached)
    }
}
