//! An AWS-compatible endpoint the user already runs (LocalStack, moto,
//! fakecloud, or moto behind this project's launcher). The harness detects
//! what it is from its health endpoints, acts on it with the admin
//! credentials of the standard chain, never stops it, and destroys what it
//! applied there.

use std::time::Duration;

use super::TargetError;

/// What answered at the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flavor {
    /// moto behind the harness's compatibility launcher (`/_harness/health`).
    HarnessMoto,
    Moto,
    LocalStack,
    Fakecloud,
    /// Something that answers HTTP; whether it is AWS-compatible is decided by STS.
    Unknown,
}

impl Flavor {
    pub fn name(&self) -> &'static str {
        match self {
            Flavor::HarnessMoto => "moto (harness launcher)",
            Flavor::Moto => "moto",
            Flavor::LocalStack => "localstack",
            Flavor::Fakecloud => "fakecloud",
            Flavor::Unknown => "endpoint",
        }
    }
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Ask the endpoint's health pages what it is, and its version where it says.
pub async fn detect(url: &str) -> Result<(Flavor, Option<String>), TargetError> {
    let http = super::http::http_client(PROBE_TIMEOUT)?;
    let get_json = |path: &'static str| {
        let http = http.clone();
        let url = format!("{}{path}", url.trim_end_matches('/'));
        async move {
            let response = http.get(url).send().await?;
            if !response.status().is_success() {
                return Ok(None);
            }
            Ok::<_, reqwest::Error>(response.json::<serde_json::Value>().await.ok())
        }
    };
    let version = |json: &serde_json::Value, key: &str| json.get(key).and_then(|v| v.as_str()).map(str::to_string);
    match get_json("/_harness/health").await {
        Err(err) if err.is_connect() || err.is_timeout() => {
            return Err(TargetError::Unreachable { url: url.to_string(), cause: crate::sdk::error_chain(&err) });
        }
        Ok(Some(json)) => return Ok((Flavor::HarnessMoto, version(&json, "moto_version"))),
        _ => {}
    }
    if let Ok(Some(json)) = get_json("/_localstack/health").await {
        return Ok((Flavor::LocalStack, version(&json, "version")));
    }
    if let Ok(Some(json)) = get_json("/_fakecloud/health").await {
        return Ok((Flavor::Fakecloud, version(&json, "version")));
    }
    let moto = http.get(format!("{}/moto-api/", url.trim_end_matches('/'))).send().await;
    if moto.is_ok_and(|r| r.status().is_success()) {
        return Ok((Flavor::Moto, None));
    }
    Ok((Flavor::Unknown, None))
}

