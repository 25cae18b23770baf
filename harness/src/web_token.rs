//! Web identity tokens the harness issues for a scenario's OIDC provider
//! (GitHub Actions' `token.actions.githubusercontent.com`, say): a JWT whose
//! claims the scenario names, for the emulator to check against the role's
//! trust policy (`<provider>:sub`, `<provider>:aud`, ...). Its signature is
//! a placeholder: offline, nobody can sign as the real provider, so the
//! emulator checks the claims and the provider's audience, never the
//! signature; AWS would refuse these tokens, which is why scenarios with a
//! token issuer run on emulators only.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long an issued token is valid.
const LIFETIME_SECONDS: u64 = 300;

/// A token from `issuer` (a host, as IAM names OIDC providers) with `claims`
/// (`sub`, `aud`, ...), issued now.
pub fn issue(issuer: &str, claims: &BTreeMap<String, String>) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    let mut payload = serde_json::Map::new();
    payload.insert("iss".into(), format!("https://{issuer}").into());
    payload.insert("iat".into(), now.into());
    payload.insert("exp".into(), (now + LIFETIME_SECONDS).into());
    for (name, value) in claims {
        payload.insert(name.clone(), value.clone().into());
    }
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "harness-unsigned"});
    let part = |value: &serde_json::Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.{}", part(&header), part(&serde_json::Value::Object(payload)), URL_SAFE_NO_PAD.encode("harness-unsigned"))
}

/// A token's claims (for tests and reports; nothing is verified).
pub fn claims(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// The IAM name of an OIDC provider: its issuer URL without `https://`.
pub fn provider_arn(partition: &str, account: &str, issuer: &str) -> String {
    format!("arn:{partition}:iam::{account}:oidc-provider/{}", issuer.trim_start_matches("https://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_carries_the_issuer_and_the_scenarios_claims() {
        let claims_asked = BTreeMap::from([("sub".to_string(), "repo:acme/app:ref:refs/heads/main".to_string()), ("aud".to_string(), "sts.amazonaws.com".to_string())]);
        let token = issue("token.actions.githubusercontent.com", &claims_asked);
        assert_eq!(token.split('.').count(), 3);
        let read = claims(&token).unwrap();
        assert_eq!(read["iss"], "https://token.actions.githubusercontent.com");
        assert_eq!(read["sub"], "repo:acme/app:ref:refs/heads/main");
        assert_eq!(read["aud"], "sts.amazonaws.com");
        assert!(read["exp"].as_u64() > read["iat"].as_u64());
    }

    #[test]
    fn provider_arns_name_the_issuer_host() {
        assert_eq!(provider_arn("aws", "123456789012", "https://token.actions.githubusercontent.com"), "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com");
    }
}
