use std::collections::BTreeMap;

use toml::{Spanned, Value};

use super::*;

/// A value of the right type for every field a service declares.
fn sample(field: &str) -> Value {
    match field {
        "duration_seconds" | "token_age_seconds" => Value::Integer(3600),
        "tags" | "claims" | "encryption_context" | "attributes" => Value::Table([("team".to_string(), Value::String("data".into()))].into_iter().collect()),
        "transitive_tag_keys" => Value::Array(vec![Value::String("team".into())]),
        "expect_keys" | "policy_arns" => Value::Array(vec![Value::String("x".into())]),
        "policy" => Value::String(r#"{"Version":"2012-10-17","Statement":[]}"#.into()),
        "assertion" => Value::String("tampered".into()),
        _ => Value::String("${out}".into()),
    }
}

fn parse(action: &str, fields: &[&str]) -> Result<Action<Template>, ParseError> {
    parse_with(action, fields, None)
}

fn parse_with(action: &str, fields: &[&str], wrong: Option<&str>) -> Result<Action<Template>, ParseError> {
    let value = |f: &str| if Some(f) == wrong { Value::Boolean(true) } else { sample(f) };
    let values: BTreeMap<String, Spanned<Value>> = fields.iter().map(|f| (f.to_string(), Spanned::new(0..1, value(f)))).collect();
    let template = |text: &str, _offset: usize| Ok(Template { text: text.to_string(), line: 1, column: 1 });
    Action::parse(&StepFields::new(action, 0, &values, true, &template))
}

/// Signs nothing: what a rendering needs of an identity provider.
struct NoSigner;

impl sts::saml::AssertionSigner for NoSigner {
    fn sign(&self, request: &sts::saml::AssertionRequest<'_>) -> Result<sts::saml::SignedResponse, String> {
        Ok(sts::saml::SignedResponse { encoded: format!("{:?}", request.form), issuer: "https://idp".into(), certificate: String::new() })
    }
}

/// Every field an action declares is one its service reads: written all
/// together they parse and render; any one of them of the wrong type is refused.
#[test]
fn every_declared_field_is_read_by_its_service() {
    let outputs: BTreeMap<String, String> = [("out".to_string(), "value".to_string())].into();
    for (action, fields) in Action::written() {
        let parsed = parse(action, fields).unwrap_or_else(|err| panic!("{action} with all its fields: {err:?}"));
        assert_eq!(parsed.name(), action);
        let saml = Some(SamlRendering { provider_arn: "arn:aws:iam::1:saml-provider/p", signer: &NoSigner });
        parsed.render(&Rendering { outputs: &outputs, issuer: Some("issuer"), saml, account: Some(("aws", "111111111111")), databases: None }).unwrap();
        for field in fields {
            let Err(ParseError::Field(err)) = parse_with(action, fields, Some(field)) else { panic!("{action} ignores `{field}`") };
            assert!(err.message.contains(&format!("`{field}` must be")), "{action}: {}", err.message);
        }
    }
}

#[test]
fn a_field_of_another_action_is_named_as_such() {
    let Err(ParseError::Field(err)) = parse("s3:ListBucket", &["bucket", "external_id"]) else { panic!("accepted") };
    assert_eq!(err.message, "`external_id` is a field of sts:AssumeRole, not of s3:ListBucket");
    let Err(ParseError::Field(err)) = parse("s3:ListBucket", &["bucket", "buckets"]) else { panic!("accepted") };
    assert_eq!(err.message, "unknown field `buckets` of s3:ListBucket; its fields: bucket, expect_keys, prefix, delimiter");
    assert_eq!(parse("s3:ListBuckets", &[]), Err(ParseError::UnknownAction));
}

#[test]
fn action_names_are_unique_and_the_harness_own_lookup_is_not_writable() {
    let names = Action::names();
    let unique: std::collections::BTreeSet<_> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    assert!(!names.contains(&"ec2:DescribeInstances+iam:GetInstanceProfile"));
}
