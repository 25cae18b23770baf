//! What a call came to, whichever way it was made (the SDK here, or the
//! aws CLI on an instance): allowed, denied (an AccessDenied-family code
//! only) or another error with its real code; the detail as the aws CLI
//! shows it (secrets redacted); and the checks an allowed answer must pass.

use std::time::Duration;

use crate::identity::SessionCredentials;
use crate::sdk::{CallError, is_access_denied};
use crate::secret::REDACTED;
use crate::timestamp::{cli_local_time, format_timestamp};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    Allowed,
    Denied { code: String, message: String },
    Error { code: String, message: String },
}

impl Observed {
    pub(crate) fn from_error(err: CallError) -> Self {
        if is_access_denied(err.code()) {
            Observed::Denied { code: err.code().to_string(), message: err.message().to_string() }
        } else {
            Observed::Error { code: err.code().to_string(), message: err.message().to_string() }
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Observed::Allowed => "allowed",
            Observed::Denied { .. } => "denied",
            Observed::Error { .. } => "error",
        }
    }

    pub fn error_code(&self) -> Option<&str> {
        match self {
            Observed::Allowed => None,
            Observed::Denied { code, .. } | Observed::Error { code, .. } => Some(code),
        }
    }
}

/// What performing a call produced.
#[derive(Debug, Clone)]
pub struct Performed {
    pub observed: Observed,
    /// A human line about the response (secrets redacted).
    pub detail: String,
    /// A check on an allowed response that did not hold (keys, ARN, body).
    pub mismatch: Option<String>,
    pub latency: Duration,
    /// AssumeRole's session, for the principal it saves (made here, with the SDK).
    pub session: Option<SessionCredentials>,
    /// AssumeRole's session kept on the instance (made there): its file there.
    pub session_on_instance: Option<String>,
    /// The instance the call was made on (SSM Run Command); None: made here.
    pub on_instance: Option<String>,
    /// The command run there (else the report shows the CLI equivalent of the SDK call).
    pub command: Option<String>,
    /// InstanceProfileRole's answer.
    pub role_name: Option<String>,
    /// GetCallerIdentity's answer: who the caller is.
    pub caller_arn: Option<String>,
    /// How many times the call was made (IAM propagation on a real account).
    pub attempts: u32,
    /// For an allowed call that was first denied: from the first attempt to success.
    pub propagation: Option<Duration>,
}

impl Performed {
    /// A call that could not be made at all (`code` says where it broke), the message as its detail.
    pub fn error(code: &str, message: String) -> Self {
        let mut done = Self::new(Observed::Error { code: code.into(), message: message.clone() }, Duration::ZERO);
        done.detail = message;
        done
    }

    pub fn new(observed: Observed, latency: Duration) -> Self {
        Self { observed, detail: String::new(), mismatch: None, latency, session: None, session_on_instance: None, on_instance: None, command: None, role_name: None, caller_arn: None, attempts: 1, propagation: None }
    }
}

/// A failed call, written the way the aws CLI writes it.
pub fn failed(operation: &str, err: CallError, latency: Duration) -> Performed {
    let mut done = Performed::new(Observed::from_error(err.clone()), latency);
    done.detail = format!("An error occurred ({}) when calling the {} operation: {}", err.code(), operation, err.message());
    done
}

/// One object of a listing.
pub struct Listed {
    pub key: String,
    pub size: i64,
    pub last_modified: String,
}

pub fn listed(expect_keys: &[String], objects: &[Listed], latency: Duration) -> Performed {
    let mut done = Performed::new(Observed::Allowed, latency);
    done.detail = objects.iter().map(|o| format!("{} {:>10} {}", cli_local_time(&o.last_modified), o.size, o.key)).collect::<Vec<_>>().join("\n");
    if done.detail.is_empty() {
        done.detail = "(empty bucket)".into();
    }
    let missing: Vec<&String> = expect_keys.iter().filter(|k| !objects.iter().any(|o| o.key == **k)).collect();
    if !missing.is_empty() {
        done.mismatch = Some(format!("expected keys missing: {missing:?}"));
    }
    done
}

pub fn uploaded(bucket: &str, key: &str, bytes: usize, latency: Duration) -> Performed {
    let mut done = Performed::new(Observed::Allowed, latency);
    done.detail = format!("upload: ./{key} to s3://{bucket}/{key} ({bytes} bytes)");
    done
}

pub fn downloaded(expect_body: Option<&str>, body: String, latency: Duration) -> Performed {
    let mut done = Performed::new(Observed::Allowed, latency);
    if let Some(expected) = expect_body.filter(|e| *e != body) {
        done.mismatch = Some(format!("body was {body:?}, expected {expected:?}"));
    }
    done.detail = body;
    done
}

pub fn caller(expect_arn: Option<&str>, user_id: &str, account: &str, arn: &str, latency: Duration) -> Performed {
    let mut done = Performed::new(Observed::Allowed, latency);
    done.detail = serde_json::to_string_pretty(&serde_json::json!({ "UserId": user_id, "Account": account, "Arn": arn })).unwrap_or_default();
    done.caller_arn = Some(arn.to_string());
    if let Some(expected) = expect_arn.filter(|e| *e != arn) {
        done.mismatch = Some(format!("caller is {arn}, expected {expected}"));
    }
    done
}

/// What an AssumeRole answer says of the session (its secrets stay out).
pub struct Session<'a> {
    pub access_key_id: &'a str,
    pub has_token: bool,
    pub expiration: Option<std::time::SystemTime>,
    pub assumed_arn: &'a str,
}

/// The session ARN AssumeRole must answer for `role_arn`:
/// `arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION` (a role's path is not part of it).
pub fn expected_session_arn(role_arn: &str, session_name: &str) -> Option<String> {
    let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
    let [_, partition, "iam", "", account, resource] = parts.as_slice() else { return None };
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    Some(format!("arn:{partition}:sts::{account}:assumed-role/{name}/{session_name}"))
}

/// An AssumeRole answer as `aws sts assume-role` prints it, secrets redacted,
/// with the checks every session must pass, the first being that it is a
/// session of the role that was asked for.
pub fn assumed_session(role_arn: &str, session_name: &str, session: &Session<'_>, latency: Duration) -> Performed {
    let mut done = Performed::new(Observed::Allowed, latency);
    done.detail = serde_json::to_string_pretty(&serde_json::json!({
        "Credentials": {
            "AccessKeyId": session.access_key_id,
            "SecretAccessKey": REDACTED,
            "SessionToken": REDACTED,
            "Expiration": session.expiration.map(format_timestamp).unwrap_or_default(),
        },
        "AssumedRoleUser": { "Arn": session.assumed_arn },
    }))
    .unwrap_or_default();
    let mut problems = Vec::new();
    match expected_session_arn(role_arn, session_name) {
        Some(expected) if expected == session.assumed_arn => {}
        Some(expected) => problems.push(format!("AssumedRoleUser.Arn is {}, expected {expected}", session.assumed_arn)),
        None => problems.push(format!("{role_arn} is not a role ARN")),
    }
    if session.access_key_id.is_empty() {
        problems.push("empty AccessKeyId".into());
    }
    if !session.has_token {
        problems.push("empty SessionToken".into());
    }
    if session.expiration.is_none_or(|e| e <= std::time::SystemTime::now()) {
        problems.push("Expiration is not in the future".into());
    }
    if !problems.is_empty() {
        done.mismatch = Some(problems.join(", "));
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expected_session_arn_drops_the_roles_path() {
        assert_eq!(
            expected_session_arn("arn:aws:iam::111111111111:role/services/role2", "blog-demo").as_deref(),
            Some("arn:aws:sts::111111111111:assumed-role/role2/blog-demo")
        );
        assert_eq!(expected_session_arn("arn:aws::iam::111111111111:role/x", "s"), None);
    }
}
