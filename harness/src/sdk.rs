//! AWS SDK plumbing shared by every principal: one HTTPS client (rustls +
//! ring), one way to build an `SdkConfig` for a target, bounded timeouts,
//! and the mapping of SDK errors to what a step observed. The same code
//! path serves an emulator and a real account; only the loader differs.

use std::sync::OnceLock;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig, timeout::TimeoutConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::{Builder as HttpClientBuilder, tls};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::result::SdkError;

/// Every AWS call gives up after this long (one attempt, retries included).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// One HTTPS client for every SDK client and credentials provider.
pub(crate) fn http_client() -> SharedHttpClient {
    static CLIENT: OnceLock<SharedHttpClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| HttpClientBuilder::new().tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring)).build_https())
        .clone()
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder().operation_timeout(OPERATION_TIMEOUT).connect_timeout(CONNECT_TIMEOUT).build()
}

/// Where AWS calls go: an emulator's endpoint, or AWS itself (None).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: Option<String>,
    pub region: String,
}

/// A config whose credentials come only from `credentials` (never from the
/// ambient environment).
pub async fn config_with(endpoint: &Endpoint, credentials: SharedCredentialsProvider) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(timeouts())
        .region(Region::new(endpoint.region.clone()))
        .credentials_provider(credentials);
    if let Some(url) = &endpoint.url {
        loader = loader.endpoint_url(url.clone());
    }
    loader.load().await
}

/// A config with no credentials at all: calls authenticated otherwise
/// (sts:AssumeRoleWithWebIdentity carries a token, and is not signed).
pub async fn anonymous_config(endpoint: &Endpoint) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(timeouts())
        .region(Region::new(endpoint.region.clone()))
        .no_credentials();
    if let Some(url) = &endpoint.url {
        loader = loader.endpoint_url(url.clone());
    }
    loader.load().await
}

/// The standard credential chain (env, profile, SSO, web identity, IMDS):
/// what a real account is reached with.
pub async fn ambient_config(region: Option<String>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client()).timeout_config(timeouts());
    if let Some(region) = region {
        loader = loader.region(Region::new(region));
    }
    loader.load().await
}

/// S3 on an emulator needs path-style addressing (no per-bucket DNS names).
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(path_style).build())
}

/// What a call returned, as far as a verdict is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The service answered with an error code (AccessDenied, NoSuchBucket...).
    Service { code: String, message: String },
    /// No usable answer: connection refused, timeout, unparseable response.
    Transport { kind: &'static str, message: String },
}

impl CallError {
    pub fn code(&self) -> &str {
        match self {
            CallError::Service { code, .. } => code,
            CallError::Transport { kind, .. } => kind,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            CallError::Service { message, .. } | CallError::Transport { message, .. } => message,
        }
    }
}

/// Classify an SDK error by its data (code), never by its Debug text.
pub fn call_error<E, R>(err: &SdkError<E, R>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let message = error_chain(err);
    match err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some(code) => CallError::Service { code: code.to_string(), message: service.err().message().unwrap_or_default().to_string() },
            None => CallError::Transport { kind: "UnknownServiceError", message },
        },
        SdkError::TimeoutError(_) => CallError::Transport { kind: "Timeout", message },
        SdkError::DispatchFailure(_) => CallError::Transport { kind: "DispatchFailure", message },
        SdkError::ResponseError(_) => CallError::Transport { kind: "ResponseError", message },
        _ => CallError::Transport { kind: "ConstructionFailure", message },
    }
}

/// Just the code of a failed call, for messages.
pub fn error_code<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    call_error(err).code().to_string()
}

/// `outer: inner: innermost`, each error's Display once (no Debug dump).
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        source = inner.source();
    }
    parts.join(": ")
}

/// The error codes AWS uses for "not authorized" (S3, IAM/STS, EC2).
pub const ACCESS_DENIED_CODES: &[&str] = &["AccessDenied", "AccessDeniedException", "UnauthorizedOperation"];

pub fn is_access_denied(code: &str) -> bool {
    ACCESS_DENIED_CODES.contains(&code)
}
