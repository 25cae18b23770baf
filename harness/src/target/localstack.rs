//! LocalStack in a container. With LOCALSTACK_AUTH_TOKEN (the licensed
//! image) and ENFORCE_IAM=1 it enforces identity policies; Community
//! (4.14.0, the last tag that starts without a token, or an image built
//! from localstack-core) enforces nothing, which the capability probes
//! find and report: its expected denials come out UNVERIFIED.

use std::time::Duration;

use super::container::ContainerSpec;

/// The licensed image, pinned (calendar versions since 2026.3.0; it exits with code 55 without a token).
pub const IMAGE: &str = "localstack/localstack:2026.3.0";
/// The last Community tag that starts without a token.
pub const COMMUNITY_IMAGE: &str = "localstack/localstack:4.14.0";
/// The Community image, used when no token is set (by `harness` and the test
/// suites alike): HARNESS_LOCALSTACK_COMMUNITY_IMAGE (an offline build by
/// `ci/containers.sh`), else the official tag. HARNESS_LOCALSTACK_IMAGE
/// (--localstack-image) overrides either choice.
pub fn community_image() -> String {
    std::env::var("HARNESS_LOCALSTACK_COMMUNITY_IMAGE").unwrap_or_else(|_| COMMUNITY_IMAGE.to_string())
}
pub const TOKEN_VAR: &str = "LOCALSTACK_AUTH_TOKEN";
/// The token from the environment; set but blank counts as unset.
pub fn token() -> Option<String> {
    std::env::var(TOKEN_VAR).ok().filter(|t| !t.trim().is_empty())
}
/// Any keys are accepted; with ENFORCE_IAM these are the account root's.
pub const ACCESS_KEY: &str = "test";
pub const SECRET_KEY: &str = "test";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// LocalStack serving the four services the scenarios use, on `{host}:{port}`.
pub fn spec(image: &str, token: Option<&str>) -> ContainerSpec {
    let mut env: Vec<(String, String)> = vec![
        ("GATEWAY_LISTEN".into(), "{host}:{port}".into()),
        ("SERVICES".into(), "iam,sts,s3,ec2".into()),
        ("ENFORCE_IAM".into(), "1".into()),
    ];
    if let Some(token) = token {
        env.push((TOKEN_VAR.into(), token.into()));
    }
    ContainerSpec {
        what: "localstack",
        image: image.to_string(),
        entrypoint: None,
        cmd: Vec::new(),
        env,
        files: Vec::new(),
        bridge_port: 4566,
        health_path: "/_localstack/health",
        ready: |health, _| ready(health),
        readiness: super::readiness::Readiness { timeout: STARTUP_TIMEOUT, interval: std::time::Duration::from_millis(100) },
        image_remedy: format!(
            "pull it (`docker pull {image}`), or build the Community image offline with `eval \"$(sudo ci/containers.sh)\"` (it sets HARNESS_LOCALSTACK_COMMUNITY_IMAGE)"
        ),
    }
}

/// Ready when `/_localstack/health` lists every service the scenarios use as up.
pub fn ready(health: &serde_json::Value) -> bool {
    ["iam", "sts", "s3", "ec2"]
        .iter()
        .all(|service| matches!(health.pointer(&format!("/services/{service}")).and_then(|s| s.as_str()), Some("available" | "running")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ready_only_when_every_service_the_scenarios_use_is_up() {
        let health = |ec2: &str| serde_json::json!({"services": {"iam": "available", "sts": "running", "s3": "running", "ec2": ec2, "sqs": "disabled"}});
        assert!(super::ready(&health("available")));
        assert!(!super::ready(&health("initializing")));
        assert!(!super::ready(&serde_json::json!({"services": {"iam": "available"}})));
    }
}
