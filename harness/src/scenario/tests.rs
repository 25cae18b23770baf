//! The scenario file's parsing and checks, case by case.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::*;
use crate::policy::Because;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(Path::new("scenarios/demo.toml"), text, Path::new("terraform_configuration"), None)
}

const GOOD: &str = r#"
config = "solution_demo"

[principals.role1]
instance = "${instance_id}"

[[steps]]
as = "role1"
action = "sts:AssumeRole"
role_arn = "${role2_arn}"
save_as = "role2"
expect = "allowed"

[[steps]]
name = "role2 lists"
as = "role2"
action = "s3:ListBucket"
bucket = "${bucket_name}"
expect_keys = ["hello"]
expect = "allowed"
"#;

#[test]
fn parses_a_chain_of_principals() {
    let scenario = parse(GOOD).unwrap();
    assert_eq!(scenario.name, "demo");
    assert_eq!(scenario.stages.len(), 1);
    assert_eq!(scenario.stages[0].config, Path::new("terraform_configuration/solution_demo"));
    let steps: Vec<&Step> = scenario.steps().collect();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].name, "role1 sts:AssumeRole");
    assert_eq!(steps[1].principal, "role2");
    assert!(matches!(&steps[1].action, Action::S3(crate::service::s3::S3::ListBucket { expect_keys, .. }) if expect_keys == &["hello"]));
}

fn error_of(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn denied_by_names_a_statement_and_its_condition_or_no_statement() {
    use crate::policy::{ConditionMiss, DeniedBy};
    let denied = |by: &str| GOOD.replace("expect_keys = [\"hello\"]\nexpect = \"allowed\"", &format!("expect = \"denied\"\nbecause = \"identity\"\ndenied_by = {by}"));
    let written = r#"{ policy = "${name_prefix}-role2's inline policy", statement = "ListOwn", key = "s3:prefix", operator = "StringEquals", expected = "home/", request = "absent" }"#;
    let scenario = parse(&denied(written)).unwrap();
    let Some(DeniedBy::Statement { policy, statement, condition }) = &scenario.steps().nth(1).unwrap().denied_by else { panic!("a statement") };
    assert_eq!((policy.text.as_str(), statement.as_str()), ("${name_prefix}-role2's inline policy", "ListOwn"));
    assert_eq!(condition, &Some(ConditionMiss { key: "s3:prefix".into(), operator: "StringEquals".into(), expected: vec!["home/".into()], actual: None }));
    let values = parse(&denied(&written.replace("request = \"absent\"", "request = [\"a\", \"b\"]"))).unwrap();
    let Some(DeniedBy::Statement { condition: Some(miss), .. }) = &values.steps().nth(1).unwrap().denied_by else { panic!("a condition") };
    assert_eq!(miss.actual, Some(vec!["a".to_string(), "b".to_string()]));
    assert_eq!(parse(&denied("\"no statement\"")).unwrap().steps().nth(1).unwrap().denied_by, Some(DeniedBy::NoStatement));
    for (wrong, says) in [
        ("\"nothing\"", "`denied_by` is \"no statement\" or a table"),
        (r#"{ policy = "p" }"#, "denied_by names a statement: it needs `statement`"),
        (r#"{ policy = "p", statement = "0", operator = "StringEquals" }"#, "`operator`, `expected` and `request` go with `key`"),
        (r#"{ policy = "p", statement = "0", key = "k", operator = "StringEquals", expected = "v" }"#, "denied_by's `request` is the request's values"),
        (r#"{ policy = "p", statement = "0", sid = "x" }"#, "unknown field `sid` of denied_by"),
    ] {
        let err = error_of(&denied(wrong));
        assert!(err.starts_with("scenarios/demo.toml:"), "{err}");
        assert!(err.contains(says), "{wrong}: {err}");
    }
    let without_because = denied("\"no statement\"").replace("because = \"identity\"\n", "");
    assert!(error_of(&without_because).contains("`denied_by` goes with `because`"));
}

#[test]
fn because_names_one_of_the_evaluators_reasons_for_a_denial() {
    let denied = GOOD.replace("expect_keys = [\"hello\"]\nexpect = \"allowed\"", "expect = \"denied\"\nbecause = \"trust\"");
    let scenario = parse(&denied).unwrap();
    assert_eq!(scenario.steps().nth(1).unwrap().because, Some(Because::Trust));
    let err = error_of(&denied.replace("because = \"trust\"", "because = \"trusts\""));
    assert!(err.starts_with("scenarios/demo.toml:"), "{err}");
    assert!(err.contains("unknown reason `trusts` in because; one of: explicit-deny, identity, trust, resource, boundary, session, key-policy"), "{err}");
    let err = error_of(&GOOD.replace("expect_keys = [\"hello\"]\nexpect = \"allowed\"", "expect = \"allowed\"\nbecause = \"identity\""));
    assert!(err.contains("`because` goes with expect = \"denied\""), "{err}");
}

#[test]
fn assume_role_takes_every_session_parameter() {
    let text = GOOD.replace(
        "save_as = \"role2\"",
        "save_as = \"role2\"\nexternal_id = \"${external_id}\"\nduration_seconds = 3600\ntags = { team = \"data\" }\ntransitive_tag_keys = [\"team\"]\nsource_identity = \"alice\"\npolicy = '{\"Version\":\"2012-10-17\",\"Statement\":[]}'\npolicy_arns = [\"${policy_arn}\"]",
    );
    let scenario = parse(&text).unwrap();
    let Action::Sts(crate::service::sts::Sts::AssumeRole { session, .. }) = &scenario.steps().next().unwrap().action else { panic!("not an AssumeRole") };
    assert_eq!(session.duration_seconds, Some(3600));
    assert_eq!(session.tags.get("team").map(String::as_str), Some("data"));
    assert_eq!(session.transitive_tag_keys, ["team"]);
    assert_eq!(session.source_identity.as_deref(), Some("alice"));
    let outputs = BTreeMap::from([("external_id".to_string(), "X-1".to_string()), ("policy_arn".to_string(), "arn:p".to_string())]);
    let rendered = session.render(&outputs).unwrap();
    assert_eq!((rendered.external_id.as_deref(), rendered.policy_arns.as_slice()), (Some("X-1"), ["arn:p".to_string()].as_slice()));
}

#[test]
fn session_parameters_are_checked_where_they_are_written() {
    // A wrong type, a parameter of another action, a transitive key that is no tag, a policy that is no JSON.
    let err = error_of(&GOOD.replace("save_as = \"role2\"", "save_as = \"role2\"\nduration_seconds = \"two hours\""));
    assert!(err.starts_with("scenarios/demo.toml:12:20: `duration_seconds` must be an integer, not a string (\"two hours\")"), "{err}");
    let err = error_of(&GOOD.replace("bucket = \"${bucket_name}\"", "bucket = \"${bucket_name}\"\ntags = { team = \"data\" }"));
    assert!(err.starts_with("scenarios/demo.toml:19:8: `tags` is a field of sts:AssumeRole, not of s3:ListBucket"), "{err}");
    let err = error_of(&GOOD.replace("save_as = \"role2\"", "save_as = \"role2\"\ntags = { team = \"data\" }\ntransitive_tag_keys = [\"project\"]"));
    assert!(err.contains("transitive tag key `project` is not one of the step's tags"), "{err}");
    let err = error_of(&GOOD.replace("save_as = \"role2\"", "save_as = \"role2\"\npolicy = \"allow everything\""));
    assert!(err.contains("the session policy is not JSON"), "{err}");
    let err = error_of(&GOOD.replace("save_as = \"role2\"", "save_as = \"role2\"\nsession_tags = { a = \"b\" }"));
    assert!(err.starts_with("scenarios/demo.toml:12:16: unknown field `session_tags` of sts:AssumeRole; its fields: role_arn, session_name, save_as, external_id"), "{err}");
    // A field every step has, in the wrong type, is located too.
    let err = error_of(&GOOD.replace("save_as = \"role2\"", "save_as = \"role2\"\nerror_code = 3"));
    assert!(err.contains("`error_code` must be a string, not integer"), "{err}");
}

#[test]
fn an_expected_error_names_its_code() {
    let text = GOOD.replace("save_as = \"role2\"\nexpect = \"allowed\"", "save_as = \"role2\"\nexpect = \"error\"\nerror_code = \"ValidationError\"");
    let scenario = parse(&text).unwrap();
    let step = scenario.steps().next().unwrap();
    assert_eq!((step.expect, step.error_code.as_deref()), (Expectation::Error, Some("ValidationError")));
    let err = error_of(&text.replace("\nerror_code = \"ValidationError\"", ""));
    assert!(err.contains("a step with expect = \"error\" needs `error_code`"), "{err}");
    let err = error_of(&GOOD.replace("save_as = \"role2\"", "save_as = \"role2\"\nerror_code = \"ValidationError\""));
    assert!(err.contains("`error_code` goes with expect = \"error\""), "{err}");
}

#[test]
fn a_principal_is_an_instance_or_a_user() {
    let user = GOOD.replace("instance = \"${instance_id}\"", "access_key_id = \"${key_id}\"\nsecret_access_key = \"${secret}\"");
    let scenario = parse(&user).unwrap();
    assert!(matches!(scenario.principals["role1"], PrincipalSource::User { .. }));
    let err = error_of(&GOOD.replace("instance = \"${instance_id}\"", "instance = \"${instance_id}\"\naccess_key_id = \"${key_id}\""));
    assert!(err.contains("principal `role1` is an instance (`instance`, optionally `role`), a user"), "{err}");
}

#[test]
fn a_scenario_for_a_newer_format_names_both_versions() {
    let newer = format!("format = 3\n{GOOD}\n[[steps.new_thing]]\n");
    let err = error_of(&newer);
    assert_eq!(err, "scenarios/demo.toml:1:10: this scenario is written for format 3, this harness reads format 2; use a newer harness");
    assert!(parse(&format!("format = 1\n{GOOD}")).is_ok());
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let err = error_of("config = \"x\"\n[[steps]\n");
    assert!(err.starts_with("scenarios/demo.toml:2:"), "{err}");
}

#[test]
fn unknown_action_is_located_and_lists_the_known_ones() {
    let text = GOOD.replace("action = \"s3:ListBucket\"", "action = \"s3:ListBuckets\"");
    let err = error_of(&text);
    assert!(err.starts_with("scenarios/demo.toml:17:10: unknown action `s3:ListBuckets`"), "{err}");
    assert!(err.contains("s3:ListBucket,"), "{err}");
}

#[test]
fn a_mistyped_name_gets_the_closest_known_one() {
    let text = GOOD.replace("action = \"s3:ListBucket\"", "action = \"s3:ListBuckets\"");
    assert!(error_of(&text).contains("unknown action `s3:ListBuckets` (did you mean `s3:ListBucket`?); known:"));
    let text = GOOD.replace("\nas = \"role2\"", "\nas = \"rol2\"");
    assert!(error_of(&text).contains("unknown principal `rol2` (did you mean `role2`?)"), "{}", error_of(&text));
    assert_eq!(did_you_mean("instanceid", ["instance_id", "bucket_name"]), " (did you mean `instance_id`?)");
    assert_eq!(did_you_mean("zzz", ["instance_id", "bucket_name"]), "");
    let unknown = ScenarioError::Unknown { name: "solution_dmeo".into(), known: vec!["problem_demo".into(), "solution_demo".into()] };
    assert!(unknown.to_string().starts_with("unknown scenario `solution_dmeo` (did you mean `solution_demo`?); known:"), "{unknown}");
}

#[test]
fn unknown_principal_is_refused() {
    let text = GOOD.replace("\nas = \"role2\"", "\nas = \"role3\"");
    let err = error_of(&text);
    assert!(err.contains(":16:6: unknown principal `role3`"), "{err}");
}

#[test]
fn a_principal_is_known_only_after_the_step_that_saves_it() {
    let text = GOOD.replace("save_as = \"role2\"", "save_as = \"other\"");
    assert!(error_of(&text).contains("unknown principal `role2`"));
}

const CHAIN: &str = r#"
[principals.role1]
instance = "${instance_id}"

[[stages]]
config = "problem_demo"
[[stages.steps]]
as = "role1"
action = "sts:AssumeRole"
role_arn = "${role2_arn}"
save_as = "role2"
expect = "denied"

[[stages]]
config = "solution_demo"
[[stages.steps]]
as = "role1"
action = "sts:AssumeRole"
role_arn = "${role2_arn}"
save_as = "role2"
expect = "allowed"
[[stages.steps]]
as = "role2"
action = "sts:GetCallerIdentity"
expect = "allowed"
"#;

#[test]
fn a_chain_applies_configs_in_order() {
    let scenario = parse(CHAIN).unwrap();
    let configs: Vec<String> = scenario.stages.iter().map(Stage::config_name).collect();
    assert_eq!(configs, ["problem_demo", "solution_demo"]);
    assert_eq!(scenario.config_label(), "problem_demo -> solution_demo");
    assert_eq!(scenario.stages[1].steps.len(), 2);
    let err = Scenario::parse(Path::new("c.toml"), CHAIN, Path::new("t"), Some(Path::new("/x"))).unwrap_err();
    assert!(err.to_string().contains("several [[stages]]"), "{err}");
    assert!(error_of(&format!("config = \"x\"\n{CHAIN}")).contains("not both"));
}

/// CHAIN with a third stage applied as `role1`: `extra` goes in that stage.
fn applied_as(extra: &str) -> String {
    format!("{CHAIN}\n[[stages]]\nname = \"as role1\"\nconfig = \"deployer_apply\"\napply_as = \"role1\"\nvariables = {{ external_id = \"none\" }}\n{extra}")
}

#[test]
fn a_stage_may_be_applied_as_a_principal_and_expect_a_refusal() {
    let scenario = parse(&applied_as("expect_apply = \"denied\"\nbecause = \"trust\"\n")).unwrap();
    let stage = &scenario.stages[2];
    assert_eq!(stage.apply, StageApply { as_principal: Some("role1".into()), refused: true, because: Some(Because::Trust), denied_by: None });
    assert_eq!(stage.variables["external_id"], "none");
    assert_eq!(stage.refusal_step_name().as_deref(), Some("as role1: the apply as role1 is refused"));
    assert_eq!(scenario.config_label(), "problem_demo -> solution_demo -> as role1");
    let applied = parse(&applied_as("[[stages.steps]]\nas = \"role1\"\naction = \"sts:GetCallerIdentity\"\nexpect = \"allowed\"\n")).unwrap();
    assert_eq!((applied.stages[2].apply.refused, applied.stages[2].refusal_step_name()), (false, None));
}

fn with_accounts(table: &str, variables: &str) -> String {
    format!("{table}\n[[stages]]\nconfig = \"problem_demo\"\nvariables = {{ {variables} }}\n[[stages.steps]]\nas = \"role1\"\naction = \"sts:GetCallerIdentity\"\nexpect = \"allowed\"\n[principals.role1]\ninstance = \"${{instance_id}}\"\n")
}

#[test]
fn accounts_keep_their_written_order_and_stage_variables_name_them() {
    let text = with_accounts("[accounts]\nzeta = \"222222222222\"\nalpha = \"111111111111\"", "deployer_account_id = \"${accounts.alpha}\"");
    let scenario = parse(&text).unwrap();
    assert_eq!(scenario.accounts.names(), ["zeta", "alpha"], "the first written is the default, whatever its name");
    assert_eq!(scenario.accounts.for_alias(None).unwrap().id, "222222222222");
    assert_eq!(scenario.accounts.substitute(&scenario.stages[0].variables["deployer_account_id"]), "111111111111");
    assert!(parse(&with_accounts("", "x = \"1\"")).unwrap().accounts.is_empty());
}

#[test]
fn a_malformed_accounts_table_is_located_with_its_own_exit_code() {
    for (table, variables, says) in [
        ("[accounts]\ndev = \"1111\"", "", ":2:7: [accounts]: account `dev` is \"1111\", not an account id (12 digits)"),
        ("[accounts]\ndev = 111111111111", "", ":2:7: [accounts]: account `dev` must be a quoted 12-digit id"),
        ("[accounts]\ndev = \"111111111111\"\nprod = \"111111111111\"", "", ":3:8: [accounts]: accounts `dev` and `prod` are the same account 111111111111"),
        ("[accounts]", "", "the table names no account"),
        ("[accounts]\ndev = \"111111111111\"", "x = \"${accounts.prod}\"", "variables name `${accounts.prod}`, which is not an account of this scenario (known: dev)"),
    ] {
        let err = parse(&with_accounts(table, variables)).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit_code::ACCOUNTS_INVALID, "{err}");
        assert!(err.to_string().contains(says), "{err}");
    }
}

#[test]
fn an_organization_names_accounts_of_the_scenario() {
    let accounts = "[accounts]\nmanagement = \"123456789012\"\nworkload = \"222222222222\"\npartner = \"999999999999\"";
    let text = with_accounts(&format!("{accounts}\n[organization]\nmanagement = \"management\"\nmembers = [\"workload\"]"), "");
    let organization = parse(&text).unwrap().organization.unwrap();
    assert_eq!((organization.management.as_str(), organization.members.as_slice()), ("management", ["workload".to_string()].as_slice()));
    for (table, says) in [
        ("[organization]\nmanagement = \"management\"\nmembers = [\"staging\"]", "[organization] names `staging`, which is not an account of this scenario's [accounts] (known: management, workload, partner)"),
        ("[organization]\nmanagement = \"management\"\nmembers = [\"management\"]", "`management` is the management account: list only the member accounts"),
    ] {
        let err = parse(&with_accounts(&format!("{accounts}\n{table}"), "")).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit_code::ACCOUNTS_INVALID, "{err}");
        assert!(err.to_string().contains(says), "{err}");
    }
}

#[test]
fn apply_as_is_refused_where_it_cannot_mean_anything() {
    let err = error_of(&applied_as("expect_apply = \"refused\"\n"));
    assert!(err.contains("expect_apply is \"applied\" or \"denied\", not `refused`"), "{err}");
    let err = error_of(&applied_as("expect_apply = \"denied\"\n[[stages.steps]]\nas = \"role1\"\naction = \"sts:GetCallerIdentity\"\nexpect = \"allowed\"\n"));
    assert!(err.contains("the refusal is its step"), "{err}");
    let err = error_of(&applied_as("because = \"trust\"\n[[stages.steps]]\nas = \"role1\"\naction = \"sts:GetCallerIdentity\"\nexpect = \"allowed\"\n"));
    assert!(err.contains("`because` goes with expect_apply = \"denied\""), "{err}");
    let err = error_of(&applied_as("expect_apply = \"denied\"\n").replace("apply_as = \"role1\"", "apply_as = \"ci\""));
    assert!(err.contains("unknown principal `ci` in apply_as"), "{err}");
    let first = CHAIN.replacen("config = \"problem_demo\"", "config = \"problem_demo\"\napply_as = \"role1\"", 1);
    assert!(error_of(&first).contains("the first stage is applied as the admin"), "{}", error_of(&first));
    let admin = CHAIN.replacen("config = \"solution_demo\"", "config = \"solution_demo\"\nexpect_apply = \"denied\"", 1);
    assert!(error_of(&admin).contains("go with `apply_as`"), "{}", error_of(&admin));
}

#[test]
fn a_stage_applied_as_a_principal_sees_the_chains_outputs_too() {
    let text = applied_as("[[stages.steps]]\nas = \"role1\"\naction = \"s3:ListBucket\"\nbucket = \"${bucket_name}\"\nexpect = \"allowed\"\n");
    let scenario = parse(&text).unwrap();
    // instance_id and role2_arn come from the chain; bucket_name from the stage's own config.
    let declared = |config: &Path| {
        let names: &[&str] = if config.ends_with("deployer_apply") { &["bucket_name"] } else { &["instance_id", "role2_arn"] };
        Ok::<_, String>(names.iter().map(|n| n.to_string()).collect::<BTreeSet<String>>())
    };
    scenario.check_outputs(declared).unwrap();
}

#[test]
fn outputs_are_checked_per_stage() {
    let scenario = parse(CHAIN).unwrap();
    let err = scenario
        .check_outputs(|config| {
            let mut outputs: BTreeSet<String> = ["instance_id".to_string()].into();
            if config.ends_with("problem_demo") {
                outputs.insert("role2_arn".into());
            }
            Ok::<_, String>(outputs)
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains(":19:12: `${role2_arn}` is not an output of terraform_configuration/solution_demo"), "{err}");
}

#[test]
fn bad_expectation_and_unknown_fields_are_refused() {
    assert!(error_of(&GOOD.replace("expect = \"allowed\"\n\n[[steps]]", "expect = \"maybe\"\n\n[[steps]]")).contains("maybe"));
    assert!(error_of(&GOOD.replace("save_as", "saveas")).contains("saveas"));
}

#[test]
fn an_assume_step_expected_to_be_refused_needs_no_save_as() {
    let denied = GOOD.replace("save_as = \"role2\"\nexpect = \"allowed\"", "expect = \"denied\"");
    // Its session is no principal: the later step acts as role1.
    let scenario = parse(&denied.replace("as = \"role2\"", "as = \"role1\"")).unwrap();
    assert_eq!(scenario.steps().next().unwrap().action.save_as(), None);
    let err = error_of(&GOOD.replace("save_as = \"role2\"\n", ""));
    assert!(err.contains("a `sts:AssumeRole` step expected to be allowed needs `save_as`"), "{err}");
}

#[test]
fn missing_field_and_empty_steps() {
    assert!(error_of(&GOOD.replace("bucket = \"${bucket_name}\"\n", "")).contains("needs `bucket`"));
    assert!(error_of("config = \"x\"\n").contains("no [[steps]]"));
    assert!(error_of("description = \"x\"\n").contains("no `config`"));
}

#[test]
fn outputs_are_checked_against_the_config() {
    let scenario = parse(GOOD).unwrap();
    let declared: BTreeSet<String> = ["instance_id", "role2_arn"].iter().map(|s| s.to_string()).collect();
    let err = scenario.check_outputs(|_| Ok::<_, String>(declared.clone())).unwrap_err().to_string();
    assert!(err.starts_with("scenarios/demo.toml:18:10: `${bucket_name}` is not an output"), "{err}");
}

/// Deterministic fuzzing of the shipped scenarios (the cargo-fuzz target
/// in harness/fuzz goes further): every truncation and every single-byte
/// change to a TOML-significant character returns Ok or Err, never panics.
#[test]
fn mutated_scenarios_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    // A single-config file and a chain; the others repeat their shapes.
    let files = [dir.join("problem_demo.toml"), dir.join("blog_demo.toml")];
    let declared: BTreeSet<String> = ["instance_id", "bucket_name"].iter().map(|s| s.to_string()).collect();
    let values: BTreeMap<String, String> = declared.iter().map(|k| (k.clone(), "v".to_string())).collect();
    let mut parsed = 0;
    for file in files {
        let original = std::fs::read(&file).unwrap();
        let mut variants: Vec<Vec<u8>> = (0..original.len()).map(|i| original[..i].to_vec()).collect();
        for i in 0..original.len() {
            for byte in *b"\"[]=$\n" {
                let mut changed = original.clone();
                changed[i] = byte;
                variants.push(changed);
            }
        }
        for variant in variants {
            let Ok(text) = String::from_utf8(variant) else { continue };
            if let Ok(scenario) = parse(&text) {
                parsed += 1;
                let _ = scenario.check_outputs(|_| Ok::<_, String>(declared.clone()));
                for step in scenario.steps() {
                    for template in step.action.templates() {
                        let _ = template.render(&values);
                    }
                }
            }
        }
    }
    assert!(parsed > 0, "some variants still parse (the test exercises the validation too)");
}

#[test]
fn templates_render_and_reject_malformed_references() {
    let t = Template { text: "arn:${a}/x/${b}".into(), line: 1, column: 1 };
    let values: BTreeMap<String, String> = [("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())].into();
    assert_eq!(t.render(&values).unwrap(), "arn:1/x/2");
    assert!(error_of(&GOOD.replace("${bucket_name}", "${bucket name}")).contains("malformed output reference"));
}

/// Every denial the shipped scenarios expect says its side and its statement
/// (`because` and `denied_by`), a refused apply's too: a config change that
/// keeps a denial but moves its cause then fails the step.
#[test]
fn every_shipped_denial_names_its_statement() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut denials = 0;
    for path in discovery::discover(&root.join("scenarios")).unwrap() {
        let scenario = Scenario::load(&path, &root.join("terraform_configuration"), None).unwrap();
        for stage in &scenario.stages {
            if stage.apply.refused {
                denials += 1;
                assert!(stage.apply.because.is_some() && stage.apply.denied_by.is_some(), "{}: a refused apply of {} without because and denied_by", path.display(), stage.config.display());
            }
            for step in stage.steps.iter().filter(|s| s.expect == Expectation::Denied) {
                denials += 1;
                // An expired token is refused before any statement is read: its side is all there is to say.
                let statement_free = step.because == Some(Because::ExpiredToken);
                assert!(step.because.is_some() && (step.denied_by.is_some() || statement_free), "{}: `{}` without because and denied_by", path.display(), step.name);
            }
        }
    }
    assert!(denials >= 58, "the shipped scenarios expect {denials} denials: fewer than they did");
}

#[test]
fn a_saml_provider_only_exchanges_the_responses_its_identity_provider_signs() {
    let scenario = |principal: &str, action: &str, extra: &str| {
        format!("config = \"solution_demo\"\n[principals.corp]\n{principal}\n[[steps]]\nas = \"corp\"\naction = \"{action}\"\n{extra}\nexpect = \"allowed\"\n")
    };
    let saml = "role_arn = \"${role2_arn}\"\nattributes = { eduPersonAffiliation = \"engineering\" }\nassertion = \"expired\"\nsave_as = \"s\"";
    let parsed = parse(&scenario("saml_provider = \"${provider_arn}\"", "sts:AssumeRoleWithSAML", saml)).unwrap();
    assert!(matches!(parsed.principals["corp"], PrincipalSource::SamlProvider { .. }));
    let wrong = |principal: &str, action: &str, extra: &str| parse(&scenario(principal, action, extra)).unwrap_err().to_string();
    let err = wrong("saml_provider = \"${provider_arn}\"", "s3:ListBucket", "bucket = \"${bucket_name}\"");
    assert!(err.contains("`corp` is a provider: it only exchanges what it issues (sts:AssumeRoleWithSAML)"), "{err}");
    let err = wrong("instance = \"${instance_id}\"", "sts:AssumeRoleWithSAML", saml);
    assert!(err.contains("sts:AssumeRoleWithSAML is made with a SAML response: `as` names a SAML provider principal (`saml_provider`)"), "{err}");
    let err = wrong("saml_provider = \"${provider_arn}\"\ninstance = \"${instance_id}\"", "sts:AssumeRoleWithSAML", saml);
    assert!(err.contains("principal `corp` is a SAML provider: `saml_provider` alone"), "{err}");
    let err = wrong("saml_provider = \"${provider_arn}\"", "sts:AssumeRoleWithSAML", "role_arn = \"${role2_arn}\"\nsave_as = \"s\"\nassertion = \"forged\"");
    assert!(err.contains("unknown assertion `forged`; one of: signed, unsigned, tampered, expired"), "{err}");
}

#[test]
fn a_saml_providers_metadata_file_is_a_file_of_its_config() {
    let configs = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(configs.path().join("corp/idp")).unwrap();
    std::fs::write(configs.path().join("corp/idp/metadata.xml"), "<md:EntityDescriptor/>").unwrap();
    let scenario = |principal: &str| {
        let text = format!("config = \"corp\"\n[principals.corp]\n{principal}\n[[steps]]\nas = \"corp\"\naction = \"sts:AssumeRoleWithSAML\"\nrole_arn = \"${{role_arn}}\"\nsave_as = \"s\"\nexpect = \"allowed\"\n");
        Scenario::parse(Path::new("scenarios/corp.toml"), &text, configs.path(), None)
    };
    let parsed = scenario("saml_provider = \"${provider_arn}\"\nmetadata_file = \"idp/metadata.xml\"").unwrap();
    assert_eq!(parsed.saml_metadata_files(), [Path::new("idp/metadata.xml")]);
    let err = |principal: &str| scenario(principal).unwrap_err().to_string();
    let missing = err("saml_provider = \"${provider_arn}\"\nmetadata_file = \"idp/okta.xml\"");
    assert!(missing.contains("scenarios/corp.toml:4:17: `metadata_file = \"idp/okta.xml\"` is in no config of this scenario"), "{missing}");
    for outside in ["../corp/idp/metadata.xml", "/etc/passwd", ""] {
        let said = err(&format!("saml_provider = \"${{provider_arn}}\"\nmetadata_file = \"{outside}\""));
        assert!(said.contains("must be a path inside the config folder (relative, without `..`)"), "{said}");
    }
    let not_saml = err("instance = \"${instance_id}\"\nmetadata_file = \"idp/metadata.xml\"");
    assert!(not_saml.contains("`metadata_file` belongs to a SAML provider principal (`saml_provider`); `corp` is not one"), "{not_saml}");
}
