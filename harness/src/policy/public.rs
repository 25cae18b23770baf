//! When S3 calls a bucket policy public, the test Block Public Access
//! applies (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status):
//! an Allow is public unless it grants only to fixed principals, or is
//! limited by a fixed value of one of the keys S3 lists (a set of CIDRs in
//! `aws:SourceIp`, `aws:SourceArn`, `aws:SourceVpc`, `aws:SourceVpce`,
//! `aws:SourceOwner`, `aws:SourceAccount`, `aws:PrincipalOrgID`,
//! `s3:x-amz-server-side-encryption-aws-kms-key-id`, `aws:userid` outside
//! `AROLEID:*`). A fixed value has no wildcard and no policy variable.

use super::condition::ConditionEntry;
use super::document::{Effect, Policy, Statement};

/// The keys whose fixed value makes a statement non-public.
const LIMITING_KEYS: [&str; 9] = [
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:principalorgid",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "aws:userid",
];

/// Whether S3 calls `policy` public: one of its Allow statements is.
pub fn is_public(policy: &Policy) -> bool {
    public_statement(policy).is_some()
}

/// The first statement that makes `policy` public.
pub fn public_statement(policy: &Policy) -> Option<&Statement> {
    policy.statements.iter().find(|s| statement_is_public(s))
}

fn statement_is_public(statement: &Statement) -> bool {
    if statement.effect != Effect::Allow {
        return false;
    }
    // NotPrincipal with Allow grants everyone it does not list.
    let open = statement.not_principal.is_some() || statement.principal.as_ref().is_some_and(|p| p.names_everyone());
    open && !statement.conditions.iter().any(limits)
}

/// A condition that holds only for fixed values of a limiting key.
fn limits(entry: &ConditionEntry) -> bool {
    let key = entry.key.to_ascii_lowercase();
    let operator = entry.operator.as_str();
    let negated = operator.contains("Not") || operator.ends_with("IfExists") || operator.starts_with("ForAllValues:") || operator == "Null";
    let fixed = |value: &String| !value.contains(['*', '?']) && !value.contains("${") && !value.is_empty();
    let each_fixed = !entry.values.is_empty() && entry.values.iter().all(fixed);
    let every_address = entry.values.iter().any(|v| v.ends_with("/0"));
    let role_pattern = key == "aws:userid" && entry.values.iter().any(|v| v.ends_with(":*"));
    LIMITING_KEYS.contains(&key.as_str()) && !negated && !role_pattern && (each_fixed || key == "aws:sourceip") && !every_address
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::DocumentKind;

    fn policy(statement: &str) -> Policy {
        Policy::parse("p", &format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#), DocumentKind::Bucket).unwrap()
    }

    const READ: &str = r#""Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*""#;

    #[test]
    fn everyone_without_a_fixed_limit_is_public() {
        assert!(is_public(&policy(&format!(r#"{{{READ},"Principal":"*"}}"#))));
        assert!(is_public(&policy(&format!(r#"{{{READ},"Principal":{{"AWS":"*"}}}}"#))));
        // A wildcard value, a variable, a negated operator, IfExists and every address limit nothing.
        for condition in [
            r#"{"StringLike":{"aws:SourceArn":"arn:aws:cloudfront::*"}}"#,
            r#"{"StringEquals":{"aws:SourceAccount":"${aws:PrincipalAccount}"}}"#,
            r#"{"StringNotEquals":{"aws:SourceAccount":"111111111111"}}"#,
            r#"{"StringEqualsIfExists":{"aws:SourceAccount":"111111111111"}}"#,
            r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
            r#"{"StringEquals":{"aws:userid":"AROAEXAMPLE:*"}}"#,
            r#"{"StringEquals":{"s3:prefix":"public/"}}"#,
        ] {
            assert!(is_public(&policy(&format!(r#"{{{READ},"Principal":"*","Condition":{condition}}}"#))), "{condition}");
        }
    }

    #[test]
    fn fixed_principals_or_a_fixed_limiting_key_are_not_public() {
        assert!(!is_public(&policy(&format!(r#"{{{READ},"Principal":{{"AWS":"arn:aws:iam::111111111111:root"}}}}"#))));
        assert!(!is_public(&policy(r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}"#)));
        for condition in [
            r#"{"StringEquals":{"aws:SourceAccount":"111111111111"}}"#,
            r#"{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}"#,
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:cloudfront::111111111111:distribution/E1"}}"#,
        ] {
            assert!(!is_public(&policy(&format!(r#"{{{READ},"Principal":"*","Condition":{condition}}}"#))), "{condition}");
        }
    }
}
