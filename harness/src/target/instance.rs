//! The credentials EC2 would serve an instance for its profile's role:
//! from the launcher (which plays EC2), or assumed by the admin elsewhere.

use aws_config::SdkConfig;

use super::{Backend, Target, TargetError, moto};
use crate::identity::{self, InstanceRoleError, SessionCredentials};
use crate::sdk::call_error;

impl Target {
    /// The credentials EC2 would serve to `instance_id` for its profile's role.
    pub async fn instance_credentials(&self, instance_id: &str) -> Result<SessionCredentials, TargetError> {
        // The launcher plays EC2 (embedded, run by the user, or in a container the harness started).
        if let Some(http) = self.launcher() {
            let url = self.endpoint.url.as_deref().unwrap_or_default();
            return moto::launcher_instance_credentials(http, url, instance_id, &self.endpoint.region).await;
        }
        match &self.backend {
            Backend::Aws => Err(TargetError::InstanceCredentials(format!("on AWS the credentials of {instance_id} stay on it; its steps run there (SSM Run Command)"))),
            // Another emulator: the admin assumes the role (refused where trust is enforced).
            _ => self.assume_instance_role(&self.admin_config().await, instance_id).await,
        }
    }

    /// Without a launcher, the admin assumes the profile's role itself. On a
    /// target that enforces trust this is refused (the role trusts EC2, not
    /// the admin), and the error says so.
    async fn assume_instance_role(&self, admin: &SdkConfig, instance_id: &str) -> Result<SessionCredentials, TargetError> {
        let role = identity::instance_role(admin, instance_id).await.map_err(|e| match e {
            InstanceRoleError::Call(err) => TargetError::InstanceCredentials(format!("cannot look up instance {instance_id}: {}", err.code())),
            InstanceRoleError::NoProfile => TargetError::InstanceCredentials(format!("instance {instance_id} has no instance profile")),
        })?;
        let role_arn = role.role_arn.ok_or_else(|| TargetError::InstanceCredentials(format!("profile {} has no role", role.profile_name)))?;
        let out = aws_sdk_sts::Client::new(admin)
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name(instance_id)
            .duration_seconds(moto::INSTANCE_SESSION_SECONDS as i32)
            .send()
            .await
            .map_err(|e| {
                TargetError::InstanceCredentials(format!(
                    "{}: this endpoint cannot play EC2 for instance profiles (the admin may not assume {role_arn}); use the embedded moto target",
                    call_error(&e).code()
                ))
            })?;
        let c = out.credentials().ok_or_else(|| TargetError::InstanceCredentials("AssumeRole returned no credentials".into()))?;
        Ok(SessionCredentials::from(c))
    }
}
