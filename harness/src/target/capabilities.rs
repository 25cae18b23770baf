//! Probes of what a target really enforces, run before any scenario. A
//! negative step is only evidence on a target that enforces the policy it
//! depends on; elsewhere its verdict is UNVERIFIED.
//!
//! - identity_policies: a fresh IAM user with no policy calls s3:ListBuckets;
//!   enforced if refused with AccessDenied.
//! - trust_policies: the admin (allowed `*`) assumes a role that trusts only
//!   ec2.amazonaws.com; enforced if refused.
//! - role_session_principals: a session of role A assumes role B whose trust
//!   names A's ARN; matched (as on AWS) if allowed.

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::naming::{HARNESS_TAG_KEY, HARNESS_TAG_VALUE};
use crate::sdk::{self, Endpoint, call_error, is_access_denied};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Capabilities {
    pub identity_policies: bool,
    pub trust_policies: bool,
    pub role_session_principals: bool,
}

impl Capabilities {
    /// What AWS itself enforces (it is not probed).
    pub const ENFORCED: Capabilities = Capabilities { identity_policies: true, trust_policies: true, role_session_principals: true };
}

/// What one probe saw, for the report when a probe could not decide.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ProbeNotes(pub Vec<String>);

const ALLOW_ALL_ASSUME: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;

fn harness_tag() -> aws_sdk_iam::types::Tag {
    aws_sdk_iam::types::Tag::builder().key(HARNESS_TAG_KEY).value(HARNESS_TAG_VALUE).build().expect("key and value are set")
}

fn trust(principal: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRole"}}]}}"#)
}

/// Run the probes as the admin; every probe resource is named with `prefix`,
/// tagged as the harness's, and deleted afterwards.
pub async fn probe(admin: &SdkConfig, endpoint: &Endpoint, account_id: &str, prefix: &str) -> (Capabilities, ProbeNotes) {
    let iam = aws_sdk_iam::Client::new(admin);
    let sts = aws_sdk_sts::Client::new(admin);
    let mut notes = ProbeNotes::default();
    let mut caps = Capabilities::default();

    // identity policies
    let user = format!("{prefix}-user");
    let mut created_user = false;
    match iam.create_user().user_name(&user).tags(harness_tag()).send().await {
        Ok(_) => {
            created_user = true;
            match iam.create_access_key().user_name(&user).send().await {
                Ok(out) => {
                    if let Some(key) = out.access_key() {
                        let creds = Credentials::new(key.access_key_id(), key.secret_access_key(), None, None, "probe");
                        let config = sdk::config_with(endpoint, SharedCredentialsProvider::new(creds)).await;
                        match sdk::s3_client(&config).list_buckets().send().await {
                            Ok(_) => notes.0.push("a user with no policy could list buckets".into()),
                            Err(err) => {
                                let err = call_error(&err);
                                caps.identity_policies = is_access_denied(err.code());
                                if !caps.identity_policies {
                                    notes.0.push(format!("identity probe got {}", err.code()));
                                }
                            }
                        }
                        let _ = iam.delete_access_key().user_name(&user).access_key_id(key.access_key_id()).send().await;
                    }
                }
                Err(err) => notes.0.push(format!("identity probe: CreateAccessKey failed: {}", call_error(&err).code())),
            }
        }
        Err(err) => notes.0.push(format!("identity probe: CreateUser failed: {}", call_error(&err).code())),
    }
    if created_user {
        let _ = iam.delete_user().user_name(&user).send().await;
    }

    let root = format!(r#"{{"AWS":"arn:aws:iam::{account_id}:root"}}"#);
    let roles = [
        (format!("{prefix}-ec2-only"), trust(r#"{"Service":"ec2.amazonaws.com"}"#)),
        (format!("{prefix}-a"), trust(&root)),
        (format!("{prefix}-b"), trust(&format!(r#"{{"AWS":"arn:aws:iam::{account_id}:role/{prefix}-a"}}"#))),
    ];
    let mut created_roles = Vec::new();
    for (name, policy) in &roles {
        match iam.create_role().role_name(name).assume_role_policy_document(policy).tags(harness_tag()).send().await {
            Ok(out) => created_roles.push((name.clone(), out.role().map(|r| r.arn().to_string()).unwrap_or_default())),
            Err(err) => notes.0.push(format!("trust probe: CreateRole failed: {}", call_error(&err).code())),
        }
    }
    if created_roles.len() == roles.len() {
        let arn = |i: usize| created_roles[i].1.clone();
        // trust policies
        match sts.assume_role().role_arn(arn(0)).role_session_name("probe").send().await {
            Ok(_) => notes.0.push("the admin assumed a role that trusts only ec2.amazonaws.com".into()),
            Err(err) => {
                let err = call_error(&err);
                caps.trust_policies = is_access_denied(err.code());
                if !caps.trust_policies {
                    notes.0.push(format!("trust probe got {}", err.code()));
                }
            }
        }
        // role ARN principals match that role's sessions
        let _ = iam.put_role_policy().role_name(&created_roles[1].0).policy_name("assume").policy_document(ALLOW_ALL_ASSUME).send().await;
        match sts.assume_role().role_arn(arn(1)).role_session_name("probe").send().await {
            Ok(out) => {
                if let Some(c) = out.credentials() {
                    let creds = Credentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().to_string()), None, "probe");
                    let config = sdk::config_with(endpoint, SharedCredentialsProvider::new(creds)).await;
                    match aws_sdk_sts::Client::new(&config).assume_role().role_arn(arn(2)).role_session_name("probe").send().await {
                        Ok(_) => caps.role_session_principals = true,
                        Err(err) => notes.0.push(format!("a session of a role trusted by ARN was refused: {}", call_error(&err).code())),
                    }
                }
            }
            Err(err) => notes.0.push(format!("session probe: the admin could not assume a role trusting the account: {}", call_error(&err).code())),
        }
        let _ = iam.delete_role_policy().role_name(&created_roles[1].0).policy_name("assume").send().await;
    }
    for (name, _) in &created_roles {
        let _ = iam.delete_role().role_name(name).send().await;
    }
    (caps, notes)
}
