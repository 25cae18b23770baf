use std::time::Duration;

use super::made::assumed;
use super::*;
use crate::policy::{PolicyType, Reason};
use crate::shell::word;
use crate::target_facts::Capabilities;
use crate::policy::{Caller, Context, Decision, DocumentKind, Policy, PolicySet, Request};
use crate::service::Call;

fn assume(session: SessionParams<String>) -> Call {
    Call::Sts(Sts::AssumeRole { role_arn: "arn".into(), session_name: "s".into(), save_as: None, session })
}

fn reason(policy_type: PolicyType) -> Reason {
    Reason { decision: Decision::Deny, policy_type: Some(policy_type), policy: None, statement: None, explicit: false, text: "t".into(), condition: None }
}

#[test]
fn assume_role_needs_trust_enforcement_to_verify_a_denial() {
    let identity_only = Capabilities { identity_policies: true, ..Capabilities::default() };
    assert!(assume(SessionParams::default()).denial_verifiable(&identity_only, None).is_err());
    let list = Call::S3(crate::service::s3::S3::ListBucket { bucket: "b".into(), expect_keys: vec![], prefix: None, delimiter: None });
    assert!(list.denial_verifiable(&identity_only, None).is_ok());
}

#[test]
fn an_assume_role_denied_by_identity_policies_depends_on_those() {
    let call = assume(SessionParams::default());
    assert_eq!(call.denial_verifiable(&Capabilities::default(), Some(&reason(PolicyType::Identity))), Err("the target does not enforce identity policies"));
    let identity_only = Capabilities { identity_policies: true, ..Capabilities::default() };
    assert!(call.denial_verifiable(&identity_only, Some(&reason(PolicyType::Identity))).is_ok());
    assert_eq!(call.denial_verifiable(&identity_only, Some(&reason(PolicyType::Trust))), Err("the target does not enforce trust policies"));
}

#[test]
fn a_parameter_the_target_ignores_leaves_a_refusal_unproven() {
    let trust_only = Capabilities { identity_policies: true, trust_policies: true, ..Capabilities::default() };
    let tagged = assume(SessionParams { tags: [("team".to_string(), "data".to_string())].into(), ..SessionParams::default() });
    assert_eq!(tagged.denial_verifiable(&trust_only, None), Err("the target does not require sts:TagSession for session tags"));
    let long = assume(SessionParams { duration_seconds: Some(7200), ..SessionParams::default() });
    assert_eq!(long.denial_verifiable(&trust_only, None), Err("the target does not check session durations"));
    assert!(long.denial_verifiable(&Capabilities::ENFORCED, None).is_ok());
    // A later call denied by a session policy needs the target to apply them.
    let put = Call::S3(crate::service::s3::S3::PutObject { bucket: "b".into(), key: "k".into(), body: String::new() });
    assert_eq!(put.denial_verifiable(&trust_only, Some(&reason(PolicyType::Session))), Err("the target does not apply session policies"));
}

#[test]
fn assume_role_detail_redacts_secrets() {
    let creds = aws_sdk_sts::types::Credentials::builder()
        .access_key_id("ASIAEXAMPLE")
        .secret_access_key("very-secret")
        .session_token("very-token")
        .expiration(aws_smithy_types::DateTime::from(std::time::SystemTime::now() + Duration::from_secs(900)))
        .build()
        .unwrap();
    let done = assumed("arn:aws:iam::111111111111:role/r", "s", Some(&creds), Some("arn:aws:sts::111111111111:assumed-role/r/s"), Duration::from_millis(1));
    assert!(done.detail.contains("ASIAEXAMPLE"));
    assert!(!done.detail.contains("very-secret") && !done.detail.contains("very-token"));
    assert!(done.mismatch.is_none(), "{:?}", done.mismatch);
    assert!(!format!("{:?}", done.session).contains("very-secret"));
    // A session of another role than the one asked for fails the step.
    let other = assumed("arn:aws:iam::111111111111:role/r", "s", Some(&creds), Some("arn:aws:sts::111111111111:assumed-role/other/s"), Duration::from_millis(1));
    assert!(other.mismatch.unwrap().contains("expected arn:aws:sts::111111111111:assumed-role/r/s"));
}

fn request_named(name: &str) -> Request {
    let caller = Caller::parse("arn:aws:iam::111111111111:user/app").unwrap();
    let mut context = Context::default();
    for (key, values) in SessionParams::<String>::default().request_keys(name) {
        context.insert(&key, values);
    }
    Request { caller, action: ASSUME_ROLE.into(), resource: "arn:aws:iam::111111111111:role/r".into(), resource_account: None, context }
}

// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_rolesessionname:
// sts:RoleSessionName is the name the request gives its session; a trust may demand one.
#[test]
fn an_assume_role_request_carries_its_session_name() {
    assert_eq!(request_named("matrix").context.get("sts:RoleSessionName"), Some(&vec!["matrix".to_string()]));
    let document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/app"},"Action":"sts:AssumeRole","Condition":{"StringLike":{"sts:RoleSessionName":"mat*"}}}]}"#;
    let set = PolicySet { resource: Some(Policy::parse("the role's trust policy", document, DocumentKind::Trust).unwrap()), resource_exists: true, ..PolicySet::default() };
    // The app's identity policy is not in the set: the trust names the user, which is enough in one account.
    assert_eq!(crate::policy::evaluate(&request_named("matrix"), &set).decision, Decision::Allow);
    assert_eq!(crate::policy::evaluate(&request_named("other"), &set).decision, Decision::Deny);
}

#[test]
fn the_cli_text_quotes_what_a_shell_would_split() {
    let tagged = SessionParams { external_id: Some("a b".to_string()), tags: [("team".to_string(), "data".to_string())].into(), ..SessionParams::default() };
    assert_eq!(tagged.cli_flags(word), " --external-id 'a b' --tags Key=team,Value=data");
}

/// GetFederationToken: the session it saves is a federated user's (not a
/// role's), its CLI line names the session policy, and a denial it meets
/// depends on the identity rules the prediction names.
#[test]
fn a_federation_token_step_makes_a_federated_users_session() {
    let policy = r#"{"Version":"2012-10-17","Statement":[]}"#.to_string();
    let step = Sts::GetFederationToken { name: "contractor".into(), save_as: Some("contractor".into()), session: SessionParams { policy: Some(policy), ..SessionParams::default() } };
    let call = Call::Sts(step);
    let session = call.new_session().expect("a session to save");
    assert!(session.federated && session.session_name == "contractor" && session.role_arn.is_empty());
    assert!(call.cli().starts_with("aws sts get-federation-token --name contractor --policy "), "{}", call.cli());
    assert_eq!(call.resource().as_deref(), Some("federated-user/contractor"));
    let session_rules = Capabilities { identity_policies: true, ..Capabilities::default() };
    assert_eq!(call.denial_verifiable(&session_rules, Some(&reason(PolicyType::Session))), Err("the target does not apply session policies"));
    assert!(call.on_instance().is_err(), "an instance holds a role's session, which cannot call it");
}

fn saml_step(form: saml::Form) -> Call {
    let assertion = saml::Assertion { subject: "alice".into(), recipient: saml::RECIPIENT.into(), attributes: [(saml::saml_name("PrincipalTag:team"), "platform".into())].into(), form };
    let signed = saml::SignedResponse { encoded: "PHNhbWxwOlJlc3BvbnNlLz4=".into(), issuer: "https://idp".into(), certificate: "MIIC".into() };
    let provider = "arn:aws:iam::1:saml-provider/corp".to_string();
    Call::Sts(Sts::AssumeRoleWithSaml { role_arn: "arn:aws:iam::1:role/r".into(), principal_arn: Some(provider), session_name: "alice".into(), save_as: Some("s".into()), assertion, signed: Some(signed) })
}

/// A target that takes any SAML response (stock moto, LocalStack) proves no
/// refusal of one: its steps are UNVERIFIED there.
#[test]
fn a_saml_refusal_is_evidence_only_where_the_target_checks_saml_responses() {
    let step = saml_step(saml::Form::Tampered);
    let without = Capabilities { saml: false, ..Capabilities::ENFORCED };
    assert_eq!(step.denial_verifiable(&without, None), Err("the target does not check SAML responses (their signature) and trust policies"));
    assert!(step.denial_verifiable(&Capabilities::ENFORCED, None).is_ok());
}

/// The response is a credential: the step's text never shows it; its session carries the PrincipalTag attributes as tags.
#[test]
fn a_saml_step_never_shows_its_response_and_its_session_carries_the_tags() {
    let step = saml_step(saml::Form::Signed);
    assert!(!step.cli().contains("PHNhbWxw") && !format!("{step:?}").contains("PHNhbWxw"), "{}", step.cli());
    assert!(step.cli().starts_with("aws sts assume-role-with-saml --role-arn arn:aws:iam::1:role/r --principal-arn arn:aws:iam::1:saml-provider/corp --saml-assertion \"$SAML\""));
    let session = step.new_session().unwrap();
    assert_eq!(session.params.tags, [("team".to_string(), "platform".to_string())].into());
}
