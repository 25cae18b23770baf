//! The AWS Organization a scenario declares (`[organization]`), as the
//! embedded emulator plays it: the launcher is told which accounts are in it
//! before anything is applied, so the Organization a config creates in the
//! management account has those members (moto's own would get random ids)
//! and its SCPs and RCPs cap them. On AWS the Organization is what it is:
//! nothing is declared there.

use super::{Target, TargetError};

/// A scenario's turn on the target: an Organization's SCPs and RCPs are
/// account-wide state, so a scenario that declares one runs alone (no other
/// scenario's accounts under its guardrails), the others side by side.
pub enum Turn<'a> {
    Alone(tokio::sync::RwLockWriteGuard<'a, ()>),
    Shared(tokio::sync::RwLockReadGuard<'a, ()>),
}

impl Target {
    /// Wait for a scenario's turn: alone when it declares an Organization.
    pub async fn turn(&self, declares_organization: bool) -> Turn<'_> {
        match declares_organization {
            true => Turn::Alone(self.organization_turn.write().await),
            false => Turn::Shared(self.organization_turn.read().await),
        }
    }

    /// Whether this target plays a declared Organization (the harness's launcher does).
    pub fn plays_organizations(&self) -> bool {
        self.launcher().is_some()
    }

    /// Tell the launcher the Organization `management` will create holds `members`.
    pub async fn declare_organization(&self, management: &str, members: &[String]) -> Result<(), TargetError> {
        self.organization_call(reqwest::Method::POST, serde_json::json!({"management": management, "members": members})).await
    }

    /// Tell the launcher the scenario of `management`'s Organization has ended: it goes.
    pub async fn retire_organization(&self, management: &str) -> Result<(), TargetError> {
        self.organization_call(reqwest::Method::DELETE, serde_json::json!({"management": management})).await
    }

    async fn organization_call(&self, method: reqwest::Method, body: serde_json::Value) -> Result<(), TargetError> {
        let Some(http) = self.launcher() else { return Ok(()) };
        let url = format!("{}/_harness/organization", self.endpoint.url.as_deref().unwrap_or_default().trim_end_matches('/'));
        let response = http.request(method, url).json(&body).send().await.map_err(|err| TargetError::Organization(crate::sdk::error_chain(&err)))?;
        match response.status().is_success() {
            true => Ok(()),
            false => Err(TargetError::Organization(format!("{}: {}", response.status(), response.text().await.unwrap_or_default()))),
        }
    }
}
