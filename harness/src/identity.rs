//! Credentials of each principal. The workload on the instance gets its
//! role's credentials the EC2 way: from a local IMDSv2-compatible endpoint
//! (token PUT, then `/latest/meta-data/iam/security-credentials/<role>`),
//! read by the SDK's standard IMDS credentials provider. No static keys.
//! The endpoint serves sessions that expire and mints a fresh one before
//! expiry, as EC2 does, so the workload must refresh.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};

use crate::sdk::{self, CallError, Endpoint, call_error};
use crate::secret::Secret;
use crate::timestamp::format_timestamp;

/// A session: what AssumeRole returns and what IMDS serves.
#[derive(Debug, Clone)]
pub struct SessionCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    pub expiration: SystemTime,
}

impl SessionCredentials {
    pub fn to_sdk(&self, provider_name: &'static str) -> Credentials {
        Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.expose().to_string(),
            Some(self.session_token.expose().to_string()),
            Some(self.expiration),
            provider_name,
        )
    }
}

impl From<&aws_sdk_sts::types::Credentials> for SessionCredentials {
    /// An AssumeRole answer; an expiration that cannot be read counts as already expired.
    fn from(c: &aws_sdk_sts::types::Credentials) -> Self {
        SessionCredentials {
            access_key_id: c.access_key_id().to_string(),
            secret_access_key: Secret::new(c.secret_access_key()),
            session_token: Secret::new(c.session_token()),
            expiration: SystemTime::try_from(*c.expiration()).unwrap_or(std::time::UNIX_EPOCH),
        }
    }
}

/// Mints a new session for the instance's role (the target's business).
pub type CredentialSource = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<SessionCredentials, String>> + Send>> + Send + Sync>;

struct Served {
    credentials: SessionCredentials,
    /// The Expiration the endpoint advertises (at most the session's own).
    expiration: SystemTime,
    rotate_at: SystemTime,
}

struct ImdsState {
    role_name: String,
    source: CredentialSource,
    /// Cap on the advertised lifetime (tests use a short one to force refreshes).
    lifetime: Option<Duration>,
    tokens: Mutex<HashSet<String>>,
    current: tokio::sync::Mutex<Option<Served>>,
    sessions_minted: AtomicUsize,
}

/// A running IMDSv2-compatible endpoint on 127.0.0.1 for one instance.
pub struct ImdsServer {
    pub url: String,
    state: Arc<ImdsState>,
    task: tokio::task::JoinHandle<()>,
}

const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
const TOKEN_TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";

impl ImdsServer {
    pub async fn start(role_name: String, source: CredentialSource, lifetime: Option<Duration>) -> std::io::Result<Self> {
        let state = Arc::new(ImdsState {
            role_name,
            source,
            lifetime,
            tokens: Mutex::new(HashSet::new()),
            current: tokio::sync::Mutex::new(None),
            sessions_minted: AtomicUsize::new(0),
        });
        let router = Router::new()
            .route("/latest/api/token", put(issue_token))
            .route("/latest/meta-data/iam/security-credentials/", get(list_roles))
            .route("/latest/meta-data/iam/security-credentials/{role}", get(role_credentials))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { url, state, task })
    }

    /// How many sessions the endpoint has minted (each refresh mints one).
    pub fn sessions_minted(&self) -> usize {
        self.state.sessions_minted.load(Ordering::SeqCst)
    }

    /// An SdkConfig for the workload: the standard IMDS credentials provider
    /// pointed at this endpoint.
    pub async fn workload_config(&self, endpoint: &Endpoint) -> SdkConfig {
        // The shared HTTP client, tokio's sleep and the system clock: no loader needed.
        let provider_config = ProviderConfig::empty()
            .with_http_client(sdk::http_client())
            .with_sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
            .with_time_source(aws_smithy_async::time::SystemTimeSource::new());
        let client = aws_config::imds::Client::builder()
            .configure(&provider_config)
            .endpoint(&self.url)
            .expect("the IMDS url is a valid http URL")
            .build();
        let provider = ImdsCredentialsProvider::builder().configure(&provider_config).imds_client(client).build();
        sdk::config_with(endpoint, SharedCredentialsProvider::new(provider)).await
    }
}

impl Drop for ImdsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn authorized(state: &ImdsState, headers: &HeaderMap) -> bool {
    let tokens = state.tokens.lock().unwrap_or_else(|p| p.into_inner());
    headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|t| tokens.contains(t))
}

async fn issue_token(State(state): State<Arc<ImdsState>>, headers: HeaderMap) -> Response {
    let Some(ttl) = headers.get(TOKEN_TTL_HEADER).cloned() else {
        return (StatusCode::BAD_REQUEST, "missing x-aws-ec2-metadata-token-ttl-seconds").into_response();
    };
    let token: String = std::iter::repeat_with(fastrand::alphanumeric).take(40).collect();
    state.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(token.clone());
    // IMDS echoes the TTL; the SDK refuses a token without it.
    ([(TOKEN_TTL_HEADER, ttl)], token).into_response()
}

async fn list_roles(State(state): State<Arc<ImdsState>>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    state.role_name.clone().into_response()
}

async fn role_credentials(State(state): State<Arc<ImdsState>>, headers: HeaderMap, Path(role): Path<String>) -> Response {
    if !authorized(&state, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if role != state.role_name {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut current = state.current.lock().await;
    let now = SystemTime::now();
    if current.as_ref().is_none_or(|served| now >= served.rotate_at) {
        match (state.source)().await {
            Ok(credentials) => {
                state.sessions_minted.fetch_add(1, Ordering::SeqCst);
                let expiration = match state.lifetime {
                    Some(lifetime) => credentials.expiration.min(now + lifetime),
                    None => credentials.expiration,
                };
                // Rotate after two thirds of the lifetime, as EC2 rotates early.
                let rotate_at = now + expiration.duration_since(now).unwrap_or_default() * 2 / 3;
                *current = Some(Served { credentials, expiration, rotate_at });
            }
            Err(message) => {
                let body = serde_json::json!({"Code": "AssumeRoleUnauthorizedAccess", "Message": message, "LastUpdated": format_timestamp(now)});
                return (StatusCode::OK, axum::Json(body)).into_response();
            }
        }
    }
    let Some(served) = current.as_ref() else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    axum::Json(serde_json::json!({
        "Code": "Success",
        "LastUpdated": format_timestamp(now),
        "Type": "AWS-HMAC",
        "AccessKeyId": served.credentials.access_key_id,
        "SecretAccessKey": served.credentials.secret_access_key.expose(),
        "Token": served.credentials.session_token.expose(),
        "Expiration": format_timestamp(served.expiration),
    }))
    .into_response()
}

/// The role an instance really carries: its instance profile and that profile's role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRole {
    pub profile_name: String,
    pub role_name: Option<String>,
    pub role_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceRoleError {
    Call(CallError),
    NoProfile,
}

/// Look the instance up as EC2 sees it (DescribeInstances), then its profile in IAM.
pub async fn instance_role(admin: &SdkConfig, instance_id: &str) -> Result<InstanceRole, InstanceRoleError> {
    let described = aws_sdk_ec2::Client::new(admin)
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .map_err(|e| InstanceRoleError::Call(call_error(&e)))?;
    let profile_arn = described
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find(|i| i.instance_id() == Some(instance_id))
        .and_then(|i| i.iam_instance_profile())
        .and_then(|p| p.arn())
        .ok_or(InstanceRoleError::NoProfile)?;
    // arn:aws:iam::ACCT:instance-profile/[path/]NAME
    let profile_name = profile_arn.rsplit('/').next().unwrap_or_default().to_string();
    let profile = aws_sdk_iam::Client::new(admin)
        .get_instance_profile()
        .instance_profile_name(&profile_name)
        .send()
        .await
        .map_err(|e| InstanceRoleError::Call(call_error(&e)))?;
    let role = profile.instance_profile().and_then(|p| p.roles().first());
    Ok(InstanceRole {
        profile_name,
        role_name: role.map(|r| r.role_name().to_string()),
        role_arn: role.map(|r| r.arn().to_string()),
    })
}

/// Where an instance sits: its VPC and private address (the keys its role's
/// session carries); None where the describe fails or the instance has none.
pub async fn instance_network(admin: &SdkConfig, instance_id: &str) -> (Option<String>, Option<String>) {
    let described = aws_sdk_ec2::Client::new(admin).describe_instances().instance_ids(instance_id).send().await;
    let instance = described.ok().and_then(|d| d.reservations().iter().flat_map(|r| r.instances()).find(|i| i.instance_id() == Some(instance_id)).cloned());
    match instance {
        Some(i) => (i.vpc_id().map(str::to_string), i.private_ip_address().map(str::to_string)),
        None => (None, None),
    }
}

/// A principal backed by a session returned by an AssumeRole step.
pub async fn session_config(endpoint: &Endpoint, session: &SessionCredentials) -> SdkConfig {
    sdk::config_with(endpoint, SharedCredentialsProvider::new(session.to_sdk("AssumeRole"))).await
}

/// The SDK config of an IAM user's long-term access key.
pub async fn user_config(endpoint: &Endpoint, access_key_id: &str, secret_access_key: &Secret) -> SdkConfig {
    let credentials = aws_credential_types::Credentials::new(access_key_id, secret_access_key.expose(), None, None, "scenario user");
    sdk::config_with(endpoint, SharedCredentialsProvider::new(credentials)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::parse_timestamp;

    #[test]
    fn timestamps_round_trip() {
        let t = parse_timestamp("2026-11-21T13:30:50Z").unwrap();
        assert_eq!(format_timestamp(t), "2026-11-21T13:30:50Z");
        assert!(parse_timestamp("yesterday").is_err());
    }

    fn counting_source(counter: Arc<AtomicUsize>) -> CredentialSource {
        Arc::new(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                Ok(SessionCredentials {
                    access_key_id: format!("ASIATEST{n}"),
                    secret_access_key: Secret::new("secret"),
                    session_token: Secret::new("token"),
                    expiration: SystemTime::now() + Duration::from_secs(900),
                })
            })
        })
    }

    #[tokio::test]
    async fn serves_imdsv2_only_with_a_token() {
        let server = ImdsServer::start("role1".into(), counting_source(Arc::default()), None).await.unwrap();
        let http = reqwest::Client::new();
        let creds_url = format!("{}/latest/meta-data/iam/security-credentials/role1", server.url);
        assert_eq!(http.get(&creds_url).send().await.unwrap().status(), 401, "IMDSv1 (no token) is refused");
        let token = http
            .put(format!("{}/latest/api/token", server.url))
            .header(TOKEN_TTL_HEADER, "60")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let listing = http.get(format!("{}/latest/meta-data/iam/security-credentials/", server.url)).header(TOKEN_HEADER, &token).send().await.unwrap();
        assert_eq!(listing.text().await.unwrap(), "role1");
        let body: serde_json::Value = http.get(&creds_url).header(TOKEN_HEADER, &token).send().await.unwrap().json().await.unwrap();
        assert_eq!(body["Code"], "Success");
        assert_eq!(body["AccessKeyId"], "ASIATEST0");
        assert!(parse_timestamp(body["Expiration"].as_str().unwrap()).unwrap() > SystemTime::now());
        // A second read within the lifetime serves the same session.
        let again: serde_json::Value = http.get(&creds_url).header(TOKEN_HEADER, &token).send().await.unwrap().json().await.unwrap();
        assert_eq!(again["AccessKeyId"], "ASIATEST0");
        assert_eq!(server.sessions_minted(), 1);
    }
}
