//! The accounts a scenario acts in (`[accounts]`), as this run reaches
//! them: each as its admin (the target admin's own account, or through the
//! account's access role), for terraform's provider blocks, the policy
//! evaluator's reads and the stages' `${accounts.NAME}`.

use std::collections::BTreeMap;

use aws_config::SdkConfig;

use super::ScenarioRun;
use crate::accounts::Accounts;
use crate::phase::Phase;
use crate::prediction::Predictor;
use crate::report::ScenarioStop;
use crate::terraform::ProviderTarget;

impl ScenarioRun<'_> {
    /// Reach every account the scenario names, before anything is applied
    /// (the `accounts` phase): an account the harness cannot reach stops it there.
    pub(super) async fn reach_accounts(&mut self) -> Result<(), ScenarioStop> {
        if self.scenario.accounts.is_empty() {
            return Ok(());
        }
        let target = &self.runner.target;
        let reach = async {
            let reached = target.reach_accounts(&self.scenario.accounts).await?;
            if let Some(organization) = &self.scenario.organization {
                let id = |name: &String| reached.iter().find(|a| a.account.name == *name).map(|a| a.account.id.clone()).unwrap_or_default();
                let members: Vec<String> = organization.members.iter().map(id).collect();
                target.declare_organization(&id(&organization.management), &members).await?;
            }
            Ok::<_, crate::target::TargetError>(reached)
        };
        self.accounts = self.timed(Phase::Accounts, reach).await?;
        self.report.accounts = self.accounts.iter().map(|a| (a.account.name.clone(), a.account.id.clone())).collect();
        Ok(())
    }

    /// The scenario's Organization retired on the target once it has ended (a
    /// kept scenario's stays for its next run). One that cannot be fails the
    /// scenario: the next scenario's accounts would be under its guardrails.
    pub(super) async fn retire_organization(&mut self) {
        let Some(organization) = &self.scenario.organization else { return };
        if self.runner.options.keep {
            return;
        }
        let Some(management) = self.accounts.iter().find(|a| a.account.name == organization.management) else { return };
        if let Err(err) = self.runner.target.retire_organization(&management.account.id).await {
            let message = format!("the Organization of {} could not be retired on the target, and would cap the next scenario's accounts: {err}", management.account.id);
            self.report.error.get_or_insert(ScenarioStop { phase: Phase::Destroy, message });
        }
    }

    /// Each account's name and the id that plays it here.
    pub(super) fn account_ids(&self) -> Accounts {
        Accounts::new(self.accounts.iter().map(|a| (a.account.name.clone(), a.account.id.clone()))).unwrap_or_default()
    }

    /// The admin of the scenario's default account (its first, else the target admin's own).
    pub(super) async fn default_admin(&self) -> SdkConfig {
        match self.accounts.first() {
            Some(account) => account.config.clone(),
            None => self.runner.target.admin_config().await,
        }
    }

    /// The policy evaluator's reader: each account of the scenario as its
    /// admin, else the target admin's account (`admin`, its config).
    pub(super) fn predictor(&self, admin: &SdkConfig) -> Predictor {
        let target = &self.runner.target;
        match self.accounts.is_empty() {
            true => Predictor::new([(target.admin.account_id.as_str(), admin)], target.admin.partition()),
            false => Predictor::new(self.accounts.iter().map(|a| (a.account.id.as_str(), &a.config)), target.admin.partition()),
        }
    }

    /// How the admin's terraform reaches the scenario's accounts: the role
    /// each provider block assumes (the unaliased one: the first account's).
    pub(super) fn provider_target(&self) -> ProviderTarget {
        let mut account_roles = BTreeMap::new();
        for (index, reached) in self.accounts.iter().enumerate() {
            if let Some(role) = &reached.role_arn {
                if index == 0 {
                    account_roles.insert(None, role.clone());
                }
                account_roles.insert(Some(reached.account.name.clone()), role.clone());
            }
        }
        ProviderTarget { account_roles, ..self.runner.target.provider_target() }
    }
}
