//! The HTTP client for a launcher's own endpoints (health, instance credentials).

use std::time::Duration;

use super::TargetError;

pub(super) fn http_client(timeout: Duration) -> Result<reqwest::Client, TargetError> {
    reqwest::Client::builder().timeout(timeout).build().map_err(TargetError::HttpClient)
}
