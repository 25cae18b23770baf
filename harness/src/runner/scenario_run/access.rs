//! After the last stage: who can reach what in everything the scenario
//! applied (its chain's state and each `apply_as` stage's), compared with
//! the snapshot beside the scenario, or written as it (`harness access --accept`);
//! then each path the scenario's principals can start is walked (`walk`).

use super::ScenarioRun;
use crate::access::{self, AccountNames, SnapshotMode, Subject, snapshot};
use crate::phase::Phase;
use crate::report::ScenarioStop;
use crate::terraform::WorkingCopy;

impl ScenarioRun<'_> {
    /// The `access` phase: for a scenario with a snapshot, or when asked (`harness access`).
    pub(super) async fn access_phase(&mut self, copy: &WorkingCopy, prefix: &str) -> Result<(), ScenarioStop> {
        let mode = self.runner.options.access;
        if mode == SnapshotMode::Check && !snapshot::path_of(&self.scenario.path).exists() {
            return Ok(());
        }
        let mut states = vec![copy.state_file()];
        states.extend(self.side_copies.iter().map(WorkingCopy::state_file));
        let subject = Subject {
            states,
            accounts: self.account_names(),
            prefix: Some(prefix),
            configs: self.scenario.stages.iter().map(|s| s.config.clone()).collect(),
        };
        let (scenario, path) = (self.scenario.name.clone(), self.scenario.path.clone());
        let mut report = self.timed(Phase::Access, async { access::check(&scenario, &path, &subject, mode) }).await?;
        self.walk_paths(&mut report).await;
        self.report.access = Some(report);
        Ok(())
    }

    /// How snapshots name the accounts: the scenario's names, or `self` for the admin's own.
    fn account_names(&self) -> AccountNames {
        match self.accounts.first() {
            None => AccountNames::single(&self.runner.target.admin.account_id),
            Some(first) => AccountNames {
                default: first.account.id.clone(),
                by_alias: self.accounts.iter().map(|a| (a.account.name.clone(), a.account.id.clone())).collect(),
            },
        }
    }
}
