//! What the evaluator answers: the decision, the kind of policy that made
//! it, and the reason a scenario can assert (`because = ...`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// What AWS answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    Allow,
    Deny,
    /// S3 answers NoSuchBucket for a bucket that exists nowhere: not a denial.
    NoSuchBucket,
    /// STS refuses the request itself (ValidationError: a duration out of bounds).
    Invalid,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::NoSuchBucket => "no-such-bucket",
            Decision::Invalid => "invalid",
        })
    }
}

/// The kind of policy that decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyType {
    Identity,
    /// A role's trust policy (the resource policy of sts:AssumeRole).
    Trust,
    /// A resource policy other than a trust or key policy (a bucket policy).
    Resource,
    Boundary,
    Session,
    /// A KMS key's policy: without its permission, identity policies have no effect.
    KeyPolicy,
    /// An Organizations service control policy: caps the principals of member accounts.
    Scp,
    /// An Organizations resource control policy: caps the resources of member accounts.
    Rcp,
    /// S3 Block Public Access (RestrictPublicBuckets): a public bucket policy
    /// grants only its owner's account and AWS services.
    PublicAccessBlock,
    /// An auth token's life: RDS refuses an IAM database authentication token 15 minutes after it was signed.
    TokenExpiry,
}

impl fmt::Display for PolicyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyType::Identity => "identity",
            PolicyType::Trust => "trust",
            PolicyType::Resource => "resource",
            PolicyType::Boundary => "boundary",
            PolicyType::Session => "session",
            PolicyType::KeyPolicy => "key-policy",
            PolicyType::Scp => "scp",
            PolicyType::Rcp => "rcp",
            PolicyType::PublicAccessBlock => "public-access-block",
            PolicyType::TokenExpiry => "token-expiry",
        })
    }
}

/// Why a request is denied, as a scenario may assert it (`because = ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Because {
    /// A Deny statement of any policy matched.
    ExplicitDeny,
    /// No identity-based policy allows it.
    Identity,
    /// The role's trust policy does not allow the caller (or the role does not exist).
    Trust,
    /// The resource policy does not allow it (cross-account).
    Resource,
    /// The permissions boundary does not allow it.
    Boundary,
    /// No session policy allows it.
    Session,
    /// The KMS key's policy neither allows the caller nor enables its account's IAM policies.
    KeyPolicy,
    /// An SCP over the caller's account refused it: its Deny, or no Allow at one level.
    Scp,
    /// An RCP over the resource's account refused it: its Deny, or no Allow at one level.
    Rcp,
    /// Block Public Access kept a public bucket policy from granting the caller.
    PublicAccessBlock,
    /// The auth token had expired (RDS: 15 minutes after its signing).
    ExpiredToken,
}

impl Because {
    pub const ALL: [Because; 11] = [
        Because::ExplicitDeny,
        Because::Identity,
        Because::Trust,
        Because::Resource,
        Because::Boundary,
        Because::Session,
        Because::KeyPolicy,
        Because::Scp,
        Because::Rcp,
        Because::PublicAccessBlock,
        Because::ExpiredToken,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Because::ExplicitDeny => "explicit-deny",
            Because::Identity => "identity",
            Because::Trust => "trust",
            Because::Resource => "resource",
            Because::Boundary => "boundary",
            Because::Session => "session",
            Because::KeyPolicy => "key-policy",
            Because::Scp => "scp",
            Because::Rcp => "rcp",
            Because::PublicAccessBlock => "public-access-block",
            Because::ExpiredToken => "expired-token",
        }
    }

    pub fn parse(text: &str) -> Option<Because> {
        Because::ALL.into_iter().find(|b| b.name() == text)
    }
}

impl fmt::Display for Because {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The decision and the policy (and statement) that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub decision: Decision,
    /// The type of the deciding policy; None for NoSuchBucket.
    pub policy_type: Option<PolicyType>,
    /// The deciding policy's name (e.g. `role2 trust policy`), when one statement decided.
    pub policy: Option<String>,
    /// The deciding statement: its Sid, else its index.
    pub statement: Option<String>,
    /// A Deny statement matched (as opposed to no Allow).
    pub explicit: bool,
    /// One sentence for a person.
    pub text: String,
    /// For an implicit deny where a statement would allow but for its
    /// condition: the condition, and what the request had instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<ConditionMiss>,
}

/// A condition that kept a statement from allowing: what the policy asks and
/// what the request carried (None: the key was absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionMiss {
    pub key: String,
    pub operator: String,
    pub expected: Vec<String>,
    pub actual: Option<Vec<String>>,
}

impl fmt::Display for ConditionMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}; ", self.key, self.operator, self.expected.join(" or "))?;
        match &self.actual {
            None => write!(f, "the request has no {}", self.key),
            Some(values) => write!(f, "the request's {} is {}", self.key, values.join(", ")),
        }
    }
}

/// Which statement denied a request: what a scenario asserts with
/// `denied_by`, and what a reason says, compared exactly. `T` is the policy's
/// name as written (a template in a scenario).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeniedBy<T = String> {
    /// No statement came near: the side `because` names grants nothing.
    NoStatement,
    /// This statement of this policy: a Deny that matched, or an Allow that
    /// would have, but for `condition`.
    Statement { policy: T, statement: String, condition: Option<ConditionMiss> },
}

impl fmt::Display for DeniedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeniedBy::NoStatement => f.write_str("no statement"),
            DeniedBy::Statement { policy, statement, condition: None } => write!(f, "statement {statement} of {policy}"),
            DeniedBy::Statement { policy, statement, condition: Some(miss) } => write!(f, "statement {statement} of {policy}, only if {miss}"),
        }
    }
}

impl Reason {
    /// The statement that decided this denial, as a scenario's `denied_by` names it.
    pub fn denied_by(&self) -> DeniedBy {
        match (&self.policy, &self.statement) {
            (None, None) => DeniedBy::NoStatement,
            (policy, statement) => DeniedBy::Statement {
                policy: policy.clone().unwrap_or_default(),
                statement: statement.clone().unwrap_or_default(),
                condition: self.condition.clone(),
            },
        }
    }

    /// Whether a scenario's `because = wanted` describes this denial: its
    /// reason, or for an Organization's policy the policy's kind whether it
    /// denied explicitly or allowed nothing at a level (an SCP's Deny is both
    /// `explicit-deny` and `scp`).
    pub fn is_because(&self, wanted: Because) -> bool {
        let organization = match wanted {
            Because::Scp => Some(PolicyType::Scp),
            Because::Rcp => Some(PolicyType::Rcp),
            _ => None,
        };
        match organization {
            Some(kind) => self.decision == Decision::Deny && self.policy_type == Some(kind),
            None => self.because() == Some(wanted),
        }
    }

    /// For a denial: the reason a scenario can assert.
    pub fn because(&self) -> Option<Because> {
        if self.decision != Decision::Deny {
            return None;
        }
        if self.explicit {
            return Some(Because::ExplicitDeny);
        }
        self.policy_type.map(|t| match t {
            PolicyType::Identity => Because::Identity,
            PolicyType::Trust => Because::Trust,
            PolicyType::Resource => Because::Resource,
            PolicyType::Boundary => Because::Boundary,
            PolicyType::Session => Because::Session,
            PolicyType::KeyPolicy => Because::KeyPolicy,
            PolicyType::Scp => Because::Scp,
            PolicyType::Rcp => Because::Rcp,
            PolicyType::PublicAccessBlock => Because::PublicAccessBlock,
            PolicyType::TokenExpiry => Because::ExpiredToken,
        })
    }
}
