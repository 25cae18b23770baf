use super::*;
use crate::service::s3::S3;
use crate::service::sts::{SessionParams, Sts};

const SESSION: &str = "arn:aws:sts::111111111111:assumed-role/role1/i-0abc";
const USER: &str = "arn:aws:iam::111111111111:user/ci";

fn list() -> Call {
    Call::S3(S3::ListBucket { bucket: "data".into(), expect_keys: Vec::new(), prefix: Some("home/".into()), delimiter: None })
}

#[test]
fn a_role_session_is_simulated_as_its_role_with_the_requests_keys() {
    let facts = SessionFacts { tags: [("team".to_string(), "data".to_string())].into(), ..SessionFacts::default() };
    let asked = question(&list(), SESSION, &facts, "aws").unwrap();
    assert_eq!(asked.source, Source::Role { account: "111111111111".into(), name: "role1".into() });
    assert_eq!((asked.action.as_str(), asked.resource.as_str()), ("s3:ListBucket", "arn:aws:s3:::data"));
    assert_eq!(asked.caller_arn, None, "a role session cannot be CallerArn");
    assert_eq!(asked.resource_policy, Some(Governed::Bucket("data".into())));
    for key in ["s3:prefix", "aws:PrincipalTag/team", "aws:SecureTransport"] {
        assert!(asked.context.iter().any(|(k, _)| k == key), "{key} missing from {:?}", asked.context);
    }
}

#[test]
fn a_user_is_its_own_caller_where_a_resource_policy_takes_part() {
    let asked = question(&list(), USER, &SessionFacts::default(), "aws").unwrap();
    assert_eq!((asked.source, asked.caller_arn), (Source::User(USER.into()), Some(USER.into())));
}

/// What the simulator cannot be asked says why, as the API reference limits it.
#[test]
fn what_the_simulator_cannot_take_is_not_askable() {
    let narrowed = SessionFacts { policy: Some("{}".into()), ..SessionFacts::default() };
    assert!(question(&list(), SESSION, &narrowed, "aws").unwrap_err().contains("session policy"));
    let token = Call::Sts(Sts::AssumeRoleWithWebIdentity { role_arn: "arn:aws:iam::1:role/r".into(), session_name: "s".into(), save_as: None, issuer: "i".into(), claims: Default::default() });
    assert!(question(&token, "arn:aws:iam::1:oidc-provider/i", &SessionFacts::default(), "aws").unwrap_err().contains("not for a token"));
    let encrypt = Call::Kms(crate::service::kms::Kms::Encrypt { key: "arn:aws:kms:us-east-1:1:key/k".into(), plaintext: "x".into(), context: Default::default() });
    assert!(question(&encrypt, SESSION, &SessionFacts::default(), "aws").unwrap_err().contains("only with an IAM user as CallerArn"));
    assert!(question(&list(), "*", &SessionFacts::default(), "aws").unwrap_err().contains("simulates IAM users, groups and roles"));
}

#[test]
fn an_assume_role_is_asked_with_the_caveat_that_the_trust_is_not_read() {
    let assume = Call::Sts(Sts::AssumeRole { role_arn: "arn:aws:iam::111111111111:role/role2".into(), session_name: "s".into(), save_as: None, session: SessionParams::default() });
    let asked = question(&assume, SESSION, &SessionFacts::default(), "aws").unwrap();
    assert!(asked.caveat.as_deref().is_some_and(|c| c.contains("aws-cli #10314")));
    assert!(asked.context.iter().any(|(k, v)| k == "sts:RoleSessionName" && v == &["s".to_string()]));
}

#[test]
fn a_note_says_where_the_simulator_differs_and_only_there() {
    let allowed = Answer::Answered { decision: "allowed".into(), statements: Vec::new(), missing_context: Vec::new() };
    assert_eq!(note(&allowed, Some(Decision::Allow), Some(Decision::Allow), None), None);
    let said = note(&allowed, Some(Decision::Deny), Some(Decision::Deny), Some("trust not read")).unwrap();
    assert_eq!(said, "the Policy Simulator says allow, but AWS answered deny and the evaluator predicts deny (trust not read)");
    assert_eq!(note(&Answer::NotAskable { why: "x".into() }, Some(Decision::Deny), None, None), None);
}
