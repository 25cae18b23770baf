//! What every policy element shares: where the document is used, and the
//! "a string or a list of strings" shape of its values.

use serde_json::Value;

/// Where a document is used decides what it may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// Identity, boundary and session policies: no Principal.
    Identity,
    /// A role's trust policy: Principal required, NotPrincipal refused.
    Trust,
    /// A bucket policy, or a KMS key policy (the same rules): Principal or NotPrincipal required.
    Bucket,
    /// A service control policy: no Principal or NotPrincipal
    /// (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_syntax.html).
    Scp,
    /// A resource control policy: Principal `"*"` only, no NotPrincipal
    /// (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_syntax.html).
    Rcp,
}

/// A string or a list of strings (numbers and booleans as their text).
pub(crate) fn strings(value: &Value) -> Option<Vec<String>> {
    fn one(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        other => one(other).map(|s| vec![s]),
    }
}
