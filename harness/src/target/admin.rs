//! Who Terraform and the probes act as on a target: its identity, checked
//! with sts:GetCallerIdentity, and the environment that hands it to a child.

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use super::TargetError;
use crate::sdk::{self, CallError, Endpoint, call_error};
use crate::secret::Secret;

/// Who Terraform and the probes act as on the target.
#[derive(Debug, Clone)]
pub struct Admin {
    pub arn: String,
    pub account_id: String,
    pub(super) credentials: SharedCredentialsProvider,
    /// What terraform's environment needs of this identity (secrets redacted in Debug).
    pub(super) env: Vec<(String, Secret)>,
}

impl Admin {
    /// The partition of the admin's ARN (`aws`, `aws-cn`, ...).
    pub fn partition(&self) -> &str {
        self.arn.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws")
    }
}

/// The environment that hands `credentials` (when given) and `region` to a child.
pub fn credential_env(credentials: Option<&Credentials>, region: &str) -> Vec<(String, Secret)> {
    let mut env = Vec::new();
    if let Some(credentials) = credentials {
        env.push(("AWS_ACCESS_KEY_ID".to_string(), Secret::new(credentials.access_key_id())));
        env.push(("AWS_SECRET_ACCESS_KEY".to_string(), Secret::new(credentials.secret_access_key())));
        if let Some(token) = credentials.session_token() {
            env.push(("AWS_SESSION_TOKEN".to_string(), Secret::new(token)));
        }
    }
    env.push(("AWS_REGION".to_string(), Secret::new(region)));
    env
}

impl Admin {
    /// The identity of the standard credential chain, checked with
    /// sts:GetCallerIdentity. With `pin`, the credentials resolved now are
    /// handed to terraform explicitly (an emulator: its children must not
    /// read the user's real profile); otherwise terraform reads the same
    /// chain itself and refreshing credentials (SSO, OIDC) stay fresh.
    pub(super) async fn from_chain(endpoint: &Endpoint, pin: bool) -> Result<Self, TargetError> {
        let ambient = sdk::ambient_config(Some(endpoint.region.clone())).await;
        let provider = ambient.credentials_provider().ok_or_else(|| TargetError::BadCredentials("no credentials provider".into()))?;
        let credentials = provider.provide_credentials().await.map_err(|e| TargetError::BadCredentials(format!("none found: {e}")))?;
        let shared = if pin { SharedCredentialsProvider::new(credentials.clone()) } else { provider };
        Self::verify(endpoint, shared, credential_env(pin.then_some(&credentials), &endpoint.region)).await
    }

    /// Fixed credentials (an emulator the harness started), checked likewise.
    pub(super) async fn from_credentials(endpoint: &Endpoint, credentials: Credentials) -> Result<Self, TargetError> {
        let env = credential_env(Some(&credentials), &endpoint.region);
        Self::verify(endpoint, SharedCredentialsProvider::new(credentials), env).await
    }

    /// Who these credentials are on the target (sts:GetCallerIdentity).
    async fn verify(endpoint: &Endpoint, credentials: SharedCredentialsProvider, env: Vec<(String, Secret)>) -> Result<Self, TargetError> {
        let config = sdk::config_with(endpoint, credentials.clone()).await;
        let where_ = endpoint.url.clone().unwrap_or_else(|| "AWS STS".into());
        let identity = aws_sdk_sts::Client::new(&config).get_caller_identity().send().await.map_err(|e| match call_error(&e) {
            CallError::Service { code, .. } => TargetError::BadCredentials(code),
            CallError::Transport { message, .. } => TargetError::NotAws { url: where_.clone(), cause: message },
        })?;
        Ok(Admin {
            arn: identity.arn().unwrap_or_default().to_string(),
            account_id: identity.account().unwrap_or_default().to_string(),
            credentials,
            env,
        })
    }
}
