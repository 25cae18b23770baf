//! One hop of a path, decided by the policy evaluator with both sides of
//! the request (identity, trust or bucket policy, boundary). A hop that
//! holds only under conditions keeps them as the request must meet them:
//! where a statement would allow but for a condition on a key the request
//! does not carry (an external ID, a token's `sub`, a session tag), that
//! condition is recorded and the statement asked again without it. A key
//! the principal itself carries with another value (its own tag) closes the hop.

use std::fmt;

use crate::policy::{self, Decision, PolicySet, Request};

/// A condition the request must meet, as the policy writes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Condition {
    pub key: String,
    pub operator: String,
    pub values: Vec<String>,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.key, self.operator, self.values.join(" or "))
    }
}

/// A statement that opens a hop: the policy (named by its Terraform address) and its Sid or index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Opening {
    pub policy: String,
    pub statement: String,
}

/// A hop the policies allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub conditions: Vec<Condition>,
    pub statements: Vec<Opening>,
}

/// At most this many conditions set aside for one request (a statement has few).
const MAX_CONDITIONS: usize = 16;

/// Whether `request` can be allowed under `set`, and on which conditions.
pub fn decide(request: &Request, set: &PolicySet) -> Option<Opened> {
    let first = policy::evaluate(request, set);
    if first.decision == Decision::Allow {
        return Some(opened(request, set, Vec::new()));
    }
    // Most requests are denied outright: only a condition miss is worth a copy of the policies.
    first.reason.condition.as_ref()?;
    let mut set = set.clone();
    let mut conditions = Vec::new();
    let mut reason = first.reason;
    for _ in 0..MAX_CONDITIONS {
        let miss = reason.condition.take()?;
        if reason.explicit || miss.actual.is_some() {
            return None;
        }
        let (policy, statement) = (reason.policy.as_deref()?, reason.statement.as_deref()?);
        set_aside(&mut set, policy, statement, &miss.key, &miss.operator)?;
        conditions.push(Condition { key: miss.key, operator: miss.operator, values: miss.expected });
        let evaluation = policy::evaluate(request, &set);
        if evaluation.decision == Decision::Allow {
            conditions.sort();
            return Some(opened(request, &set, conditions));
        }
        reason = evaluation.reason;
    }
    None
}

fn opened(request: &Request, set: &PolicySet, conditions: Vec<Condition>) -> Opened {
    let statements = policy::allowing_statements(request, set).into_iter().map(|(policy, statement)| Opening { policy, statement }).collect();
    Opened { conditions, statements }
}

/// Remove one condition entry from the named statement; None: it is not there.
fn set_aside(set: &mut PolicySet, policy: &str, statement: &str, key: &str, operator: &str) -> Option<()> {
    let policies = set.identity.iter_mut().chain(set.resource.iter_mut()).chain(set.boundary.iter_mut()).chain(set.session.iter_mut());
    let target = policies.filter(|p| p.name == policy).flat_map(|p| p.statements.iter_mut()).find(|s| s.id == statement)?;
    let before = target.conditions.len();
    target.conditions.retain(|c| !(c.key == key && c.operator == operator));
    (target.conditions.len() < before).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Caller, Context, DocumentKind, Policy};

    fn set(trust: &str) -> PolicySet {
        PolicySet { resource: Some(Policy::parse("r trust policy", trust, DocumentKind::Trust).unwrap()), resource_exists: true, ..PolicySet::default() }
    }

    fn request(caller: &str) -> Request {
        Request { caller: Caller::parse(caller).unwrap(), action: "sts:AssumeRole".into(), resource: "arn:aws:iam::111111111111:role/r".into(), resource_account: None, context: Context::default() }
    }

    #[test]
    fn a_condition_on_a_key_the_request_may_carry_is_kept_with_the_hop() {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/u"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"acme-7f3a"}}}]}"#;
        let opened = decide(&request("arn:aws:iam::111111111111:user/u"), &set(trust)).unwrap();
        assert_eq!(opened.conditions, vec![Condition { key: "sts:ExternalId".into(), operator: "StringEquals".into(), values: vec!["acme-7f3a".into()] }]);
        assert_eq!(opened.statements, vec![Opening { policy: "r trust policy".into(), statement: "0".into() }]);
    }

    #[test]
    fn a_key_the_principal_carries_with_another_value_closes_the_hop() {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalAccount":"222222222222"}}}]}"#;
        assert_eq!(decide(&request("arn:aws:iam::111111111111:user/u"), &set(trust)), None);
    }
}
