//! GetFederationToken as the harness makes it: the federated user's session
//! (`arn:<partition>:sts::<account>:federated-user/<name>`), its secrets kept
//! for the principal it saves, never printed.

use std::time::Instant;

use super::SessionParams;
use crate::identity::SessionCredentials;
use crate::outcome::{self, Observed, Performed};
use crate::secret::REDACTED;
use crate::sdk::call_error;
use crate::timestamp::format_timestamp;

pub(super) async fn perform(client: &aws_sdk_sts::Client, name: &str, session: &SessionParams<String>, start: Instant) -> Performed {
    use aws_sdk_sts::types::PolicyDescriptorType;
    let arns = session.policy_arns.iter().map(|arn| PolicyDescriptorType::builder().arn(arn).build());
    let request = client
        .get_federation_token()
        .name(name)
        .set_policy(session.policy.clone())
        .set_policy_arns((!session.policy_arns.is_empty()).then(|| arns.collect()))
        .set_duration_seconds(session.duration_seconds);
    let out = match request.send().await {
        Ok(out) => out,
        Err(err) => return outcome::failed("GetFederationToken", call_error(&err), start.elapsed()),
    };
    let mut done = Performed::new(Observed::Allowed, start.elapsed());
    let arn = out.federated_user().map(|u| u.arn().to_string()).unwrap_or_default();
    let Some(credentials) = out.credentials().map(SessionCredentials::from) else {
        done.mismatch = Some("GetFederationToken returned no Credentials".into());
        return done;
    };
    done.detail = serde_json::to_string_pretty(&serde_json::json!({
        "Credentials": {
            "AccessKeyId": credentials.access_key_id,
            "SecretAccessKey": REDACTED,
            "SessionToken": REDACTED,
            "Expiration": format_timestamp(credentials.expiration),
        },
        "FederatedUser": { "Arn": arn },
    }))
    .unwrap_or_default();
    let suffix = format!(":federated-user/{name}");
    let problems: Vec<String> = [
        (!(arn.starts_with("arn:") && arn.ends_with(&suffix))).then(|| format!("FederatedUser.Arn is {arn}, expected one ending {suffix}")),
        credentials.access_key_id.is_empty().then(|| "empty AccessKeyId".to_string()),
        credentials.session_token.expose().is_empty().then(|| "empty SessionToken".to_string()),
    ]
    .into_iter()
    .flatten()
    .collect();
    done.mismatch = (!problems.is_empty()).then(|| problems.join("; "));
    done.caller_arn = Some(arn);
    done.session = Some(credentials);
    done
}
