//! A policy document as IAM reads it: statements with their Effect,
//! (Not)Principal, (Not)Action, (Not)Resource and Condition, each element
//! a string or a list. Parsing also refuses what IAM and S3 refuse
//! (MalformedPolicyDocument, MalformedPolicy), so a config that cannot be
//! applied on AWS is not applied here either.

use serde_json::Value;

use super::condition::{ConditionEntry, is_known_operator};
use super::element::{DocumentKind, strings};
use super::principal::PrincipalElement;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// IAM's answer to CreateRole, UpdateAssumeRolePolicy, PutRolePolicy ...
    #[error("MalformedPolicyDocument: {0}")]
    MalformedPolicyDocument(String),
    /// S3's answer to PutBucketPolicy.
    #[error("MalformedPolicy: {0}")]
    MalformedPolicy(String),
}

impl PolicyError {
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            PolicyError::MalformedPolicy(_) => "MalformedPolicy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A list element that is either positive (`Action`) or negated (`NotAction`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    Any(Vec<String>),
    Not(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The Sid, else the statement's index.
    pub id: String,
    pub effect: Effect,
    pub principal: Option<PrincipalElement>,
    pub not_principal: Option<PrincipalElement>,
    pub action: Matcher,
    /// None: no Resource element (trust policies).
    pub resource: Option<Matcher>,
    pub conditions: Vec<ConditionEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Shown in reasons: `role1 inline policy assume`, `bucket policy of b`.
    pub name: String,
    pub statements: Vec<Statement>,
}

impl Policy {
    /// Parse and validate `json` as a document of `kind`.
    pub fn parse(name: &str, json: &str, kind: DocumentKind) -> Result<Policy, PolicyError> {
        let malformed = |why: String| match kind {
            DocumentKind::Bucket => PolicyError::MalformedPolicy(why),
            _ => PolicyError::MalformedPolicyDocument(why),
        };
        let doc: Value = serde_json::from_str(json).map_err(|e| malformed(format!("not JSON: {e}")))?;
        let statements = match doc.get("Statement") {
            Some(Value::Array(list)) => list.clone(),
            Some(one @ Value::Object(_)) => vec![one.clone()],
            _ => return Err(malformed("no Statement".into())),
        };
        let mut statements = statements
            .iter()
            .enumerate()
            .map(|(index, s)| Statement::parse(s, index, kind).map_err(&malformed))
            .collect::<Result<Vec<_>, _>>()?;
        if doc.get("Version").and_then(Value::as_str) != Some(VARIABLES_VERSION) {
            statements.iter_mut().for_each(Statement::take_variables_literally);
        }
        Ok(Policy { name: name.to_string(), statements })
    }
}

/// The policy language version that has variables: in a document without
/// it, `${aws:username}` is the literal text
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html:
/// "variables such as ${aws:username} aren't recognized as variables and are
/// instead treated as literal strings in the policy").
pub const VARIABLES_VERSION: &str = "2012-10-17";

/// `${` written so that substitution gives it back as it is: `${$}` is `$`.
fn literal(text: &str) -> String {
    text.replace("${", "${$}{")
}

impl Statement {
    /// Where variables are replaced (Resource, NotResource, condition
    /// values), every `${` stays as written.
    fn take_variables_literally(&mut self) {
        if let Some(Matcher::Any(patterns) | Matcher::Not(patterns)) = &mut self.resource {
            patterns.iter_mut().for_each(|p| *p = literal(p));
        }
        for entry in &mut self.conditions {
            entry.values.iter_mut().for_each(|v| *v = literal(v));
        }
    }

    fn parse(value: &Value, index: usize, kind: DocumentKind) -> Result<Statement, String> {
        let Value::Object(map) = value else { return Err(format!("statement {index} is not an object")) };
        let id = map.get("Sid").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| index.to_string());
        let effect = match map.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            other => return Err(format!("statement {id}: Effect must be Allow or Deny, not {other:?}")),
        };
        let list = |key: &str| -> Result<Option<Vec<String>>, String> {
            map.get(key).map(|v| strings(v).ok_or_else(|| format!("statement {id}: {key} must be a string or a list of strings"))).transpose()
        };
        let action = match (list("Action")?, list("NotAction")?) {
            (Some(a), None) => Matcher::Any(a),
            (None, Some(n)) => Matcher::Not(n),
            _ => return Err(format!("statement {id}: exactly one of Action and NotAction is required")),
        };
        let resource = match (list("Resource")?, list("NotResource")?) {
            (Some(r), None) => Some(Matcher::Any(r)),
            (None, Some(n)) => Some(Matcher::Not(n)),
            (None, None) => None,
            _ => return Err(format!("statement {id}: Resource and NotResource together")),
        };
        let principal = map.get("Principal").map(|p| PrincipalElement::parse(p, kind)).transpose().map_err(|e| format!("statement {id}: {e}"))?;
        let not_principal =
            map.get("NotPrincipal").map(|p| PrincipalElement::parse(p, kind)).transpose().map_err(|e| format!("statement {id}: {e}"))?;
        match kind {
            DocumentKind::Identity if principal.is_some() || not_principal.is_some() => {
                return Err(format!("statement {id}: Principal is not allowed in an identity-based policy"));
            }
            DocumentKind::Identity if resource.is_none() => return Err(format!("statement {id}: Resource is required")),
            DocumentKind::Trust if not_principal.is_some() => return Err(format!("statement {id}: NotPrincipal is not allowed in a trust policy")),
            DocumentKind::Trust if principal.is_none() => return Err(format!("statement {id}: Principal is required in a trust policy")),
            DocumentKind::Bucket if principal.is_none() && not_principal.is_none() => {
                return Err(format!("statement {id}: Principal is required in a bucket policy"));
            }
            DocumentKind::Bucket if resource.is_none() => return Err(format!("statement {id}: Resource is required")),
            DocumentKind::Scp if principal.is_some() || not_principal.is_some() => {
                return Err(format!("statement {id}: Principal and NotPrincipal are not allowed in a service control policy"));
            }
            DocumentKind::Rcp if not_principal.is_some() => return Err(format!("statement {id}: NotPrincipal is not allowed in a resource control policy")),
            DocumentKind::Rcp if map.get("Principal") != Some(&Value::String("*".into())) => {
                return Err(format!("statement {id}: a resource control policy's Principal must be \"*\""));
            }
            _ => {}
        }
        let mut conditions = Vec::new();
        if let Some(block) = map.get("Condition") {
            let Value::Object(operators) = block else { return Err(format!("statement {id}: Condition must be an object")) };
            for (operator, keys) in operators {
                let Value::Object(keys) = keys else { return Err(format!("statement {id}: Condition {operator} must map keys to values")) };
                if !is_known_operator(operator) {
                    return Err(format!("statement {id}: unknown condition operator {operator}"));
                }
                for (key, values) in keys {
                    let values = strings(values).ok_or_else(|| format!("statement {id}: Condition {operator} {key}: values must be strings"))?;
                    conditions.push(ConditionEntry { operator: operator.clone(), key: key.clone(), values });
                }
            }
        }
        Ok(Statement { id, effect, principal, not_principal, action, resource, conditions })
    }
}
