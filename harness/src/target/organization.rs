//! The AWS Organization a scenario declares (`[organization]`), as the
//! embedded emulator plays it: the launcher is told which accounts are in it
//! before anything is applied, so the Organization a config creates in the
//! management account has those members (moto's own would get random ids)
//! and its SCPs and RCPs cap them. On AWS the Organization is what it is:
//! nothing is declared there.

use super::{Target, TargetError};

impl Target {
    /// One scenario with an Organization at a time: an account holds one
    /// Organization, and a run's declaration starts it afresh.
    pub async fn organization_turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.organization_turn.lock().await
    }

    /// Whether this target plays a declared Organization (the harness's launcher does).
    pub fn plays_organizations(&self) -> bool {
        self.launcher().is_some()
    }

    /// Tell the launcher the Organization `management` will create holds `members`.
    pub async fn declare_organization(&self, management: &str, members: &[String]) -> Result<(), TargetError> {
        let Some(http) = self.launcher() else { return Ok(()) };
        let url = format!("{}/_harness/organization", self.endpoint.url.as_deref().unwrap_or_default().trim_end_matches('/'));
        let response = http
            .post(url)
            .json(&serde_json::json!({"management": management, "members": members}))
            .send()
            .await
            .map_err(|err| TargetError::Organization(crate::sdk::error_chain(&err)))?;
        match response.status().is_success() {
            true => Ok(()),
            false => Err(TargetError::Organization(format!("{}: {}", response.status(), response.text().await.unwrap_or_default()))),
        }
    }
}
