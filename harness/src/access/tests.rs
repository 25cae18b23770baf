//! The analysis on states written here: a config's intended snapshot, then
//! each kind of unintended path added to it must show as exactly its new
//! lines, and the traps (a Deny sparing only the writer, a boundary that
//! cuts a path, a role that can be assumed but may do nothing) as none.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;

const ACCOUNT: &str = "111111111111";

fn resource(kind: &str, name: &str, attributes: Value) -> Value {
    json!({"mode": "managed", "type": kind, "name": name, "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]", "instances": [{"attributes": attributes}]})
}

fn document(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn role(name: &str, trust: Value) -> Value {
    resource("aws_iam_role", name, json!({"name": name, "arn": format!("arn:aws:iam::{ACCOUNT}:role/{name}"), "assume_role_policy": document(trust), "permissions_boundary": ""}))
}

fn role_policy(role: &str, statements: Value) -> Value {
    resource("aws_iam_role_policy", role, json!({"name": format!("{role}-policy"), "role": role, "policy": document(statements)}))
}

fn bucket(name: &str) -> Value {
    resource("aws_s3_bucket", name, json!({"bucket": name, "arn": format!("arn:aws:s3:::{name}")}))
}

fn ec2_trust() -> Value {
    json!([{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}])
}

fn root_trust() -> Value {
    json!([{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}])
}

const GITHUB: &str = "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com";

fn github_trust(sub: &str) -> Value {
    json!([{"Effect": "Allow", "Principal": {"Federated": GITHUB}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}, "StringLike": {"token.actions.githubusercontent.com:sub": sub}}}])
}

/// The intended config: the blog's root-user variant (role1 on the
/// instance may assume role2, which trusts the account and reads the data
/// bucket), a writer that alone may put into it, and a GitHub deploy role
/// for one repository's main branch that may list it.
fn intended() -> Vec<Value> {
    vec![
        bucket("data"),
        role("role1", ec2_trust()),
        role_policy("role1", json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": format!("arn:aws:iam::{ACCOUNT}:role/role2")}])),
        role("role2", root_trust()),
        role_policy("role2", json!([{"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": ["arn:aws:s3:::data", "arn:aws:s3:::data/*"]}])),
        role("writer", ec2_trust()),
        role_policy("writer", json!([{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::data/*"}])),
        resource("aws_iam_openid_connect_provider", "github", json!({"arn": GITHUB, "url": "https://token.actions.githubusercontent.com", "client_id_list": ["sts.amazonaws.com"]})),
        role("deploy", github_trust("repo:acme/app:ref:refs/heads/main")),
        role_policy("deploy", json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::data"}])),
    ]
}

fn lines(resources: &[Value]) -> BTreeSet<String> {
    let state = json!({"version": 4, "resources": resources});
    let inventory = Inventory::from_states(&[state], &AccountNames::single(ACCOUNT)).unwrap();
    let found = paths::analyse(&inventory);
    let namer = snapshot::Namer::new(&inventory, &AccountNames::single(ACCOUNT), None);
    snapshot::lines(&found, &inventory, &namer, &|_| None).into_iter().map(|l| l.text).collect()
}

/// The lines `extra` adds to the intended config, and the ones it takes away.
fn change(extra: Vec<Value>) -> (BTreeSet<String>, BTreeSet<String>) {
    let before = lines(&intended());
    let mut all = intended();
    all.extend(extra);
    let after = lines(&all);
    (after.difference(&before).cloned().collect(), before.difference(&after).cloned().collect())
}

fn set(lines: &[&str]) -> BTreeSet<String> {
    lines.iter().map(|l| l.to_string()).collect()
}

#[test]
fn the_intended_config_has_exactly_its_intended_paths() {
    assert_eq!(
        lines(&intended()),
        set(&[
            "any principal of account self granted it -> aws_iam_role.role2 -> aws_s3_bucket.data: s3:GetObject, s3:ListBucket",
            "aws_iam_role.deploy -> aws_s3_bucket.data: s3:ListBucket",
            "aws_iam_role.role1 -> aws_iam_role.role2 -> aws_s3_bucket.data: s3:GetObject, s3:ListBucket",
            "aws_iam_role.role2 -> aws_s3_bucket.data: s3:GetObject, s3:ListBucket",
            "aws_iam_role.writer -> aws_s3_bucket.data: s3:PutObject",
            "users of aws_iam_openid_connect_provider.github -> aws_iam_role.deploy [token.actions.githubusercontent.com:aud StringEquals sts.amazonaws.com; token.actions.githubusercontent.com:sub StringLike repo:acme/app:ref:refs/heads/main] -> aws_s3_bucket.data: s3:ListBucket",
        ])
    );
}

// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts:
// a trust naming the account delegates to the identity policies of its principals.
fn wildcard_grant() -> (Vec<Value>, BTreeSet<String>) {
    let extra = vec![role("ci", ec2_trust()), role_policy("ci", json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]))];
    (extra, set(&["aws_iam_role.ci -> aws_iam_role.role2 -> aws_s3_bucket.data: s3:GetObject, s3:ListBucket"]))
}

fn three_role_chain() -> Vec<Value> {
    let trusts = |who: &str| json!([{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/{who}")}, "Action": "sts:AssumeRole"}]);
    let may_assume = |whom: &str| json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": format!("arn:aws:iam::{ACCOUNT}:role/{whom}")}]);
    vec![
        role("a", ec2_trust()),
        role_policy("a", may_assume("b")),
        role("b", trusts("a")),
        role_policy("b", may_assume("c")),
        role("c", trusts("b")),
        role_policy("c", json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}])),
    ]
}

fn chain_paths() -> BTreeSet<String> {
    set(&[
        "aws_iam_role.a -> aws_iam_role.b -> aws_iam_role.c -> aws_s3_bucket.data: s3:GetObject",
        "aws_iam_role.b -> aws_iam_role.c -> aws_s3_bucket.data: s3:GetObject",
        "aws_iam_role.c -> aws_s3_bucket.data: s3:GetObject",
    ])
}

fn org_wide_sub() -> (Vec<Value>, BTreeSet<String>) {
    let extra = vec![role("org", github_trust("repo:acme/*")), role_policy("org", json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::data"}]))];
    let paths = set(&[
        "aws_iam_role.org -> aws_s3_bucket.data: s3:ListBucket",
        "users of aws_iam_openid_connect_provider.github -> aws_iam_role.org [token.actions.githubusercontent.com:aud StringEquals sts.amazonaws.com; token.actions.githubusercontent.com:sub StringLike repo:acme/*] -> aws_s3_bucket.data: s3:ListBucket",
    ]);
    (extra, paths)
}

// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html: within one
// account an identity policy alone allows, when no resource policy denies.
fn list_everything() -> (Vec<Value>, BTreeSet<String>) {
    let extra = vec![
        resource("aws_iam_user", "auditor", json!({"name": "auditor", "arn": format!("arn:aws:iam::{ACCOUNT}:user/auditor"), "permissions_boundary": ""})),
        resource("aws_iam_user_policy", "auditor", json!({"name": "list", "user": "auditor", "policy": document(json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]))})),
    ];
    (extra, set(&["aws_iam_user.auditor -> aws_s3_bucket.data: s3:ListBucket"]))
}

// https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html: "Principal": "*"
// grants anonymous users too; nothing in the config restricts public buckets here.
fn public_read() -> (Vec<Value>, BTreeSet<String>) {
    let policy = document(json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*"}]));
    let extra = vec![bucket("site"), resource("aws_s3_bucket_policy", "site", json!({"bucket": "site", "policy": policy}))];
    // Said once, as the anonymous caller's: it stands for every principal.
    (extra, set(&["anonymous -> aws_s3_bucket.site: s3:GetObject"]))
}

fn traps() -> Vec<Value> {
    let deny = document(json!([{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::data/*",
        "Condition": {"ArnNotEquals": {"aws:PrincipalArn": format!("arn:aws:iam::{ACCOUNT}:role/writer")}}}]));
    let boundary_arn = format!("arn:aws:iam::{ACCOUNT}:policy/read-nothing");
    let boundary = document(json!([{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]));
    let bounded = json!({"name": "bounded", "arn": format!("arn:aws:iam::{ACCOUNT}:role/bounded"), "assume_role_policy": document(ec2_trust()), "permissions_boundary": boundary_arn});
    vec![
        // A Deny that spares only the writer: the writer keeps its put, and a role granted one gains nothing.
        resource("aws_s3_bucket_policy", "data", json!({"bucket": "data", "policy": deny})),
        role("hopeful", ec2_trust()),
        role_policy("hopeful", json!([{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::data/*"}])),
        // A boundary that cuts what the role's identity policy opens.
        resource("aws_iam_policy", "read_nothing", json!({"arn": boundary_arn, "policy": boundary})),
        resource("aws_iam_role", "bounded", bounded),
        role_policy("bounded", json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}])),
        // A role any principal of the account may assume, which may do nothing.
        role("idle", root_trust()),
    ]
}

#[test]
fn each_kind_of_unintended_path_shows_as_exactly_its_new_lines() {
    for (name, (extra, expected)) in [("wildcard grant", wildcard_grant()), ("org-wide sub", org_wide_sub()), ("list on *", list_everything()), ("public read", public_read())] {
        assert_eq!(change(extra), (expected, BTreeSet::new()), "{name}");
    }
    assert_eq!(change(three_role_chain()), (chain_paths(), BTreeSet::new()), "three-role chain");
}

#[test]
fn the_traps_open_nothing_and_close_nothing() {
    assert_eq!(change(traps()), (BTreeSet::new(), BTreeSet::new()));
}

#[test]
fn together_the_diff_names_every_unintended_path_and_no_trap() {
    let mut extra = traps();
    let mut expected = chain_paths();
    extra.extend(three_role_chain());
    for (more, paths) in [wildcard_grant(), org_wide_sub(), list_everything(), public_read()] {
        extra.extend(more);
        expected.extend(paths);
    }
    // Two kinds meet: the auditor lists every bucket, the public one too.
    expected.insert("aws_iam_user.auditor -> aws_s3_bucket.site: s3:ListBucket".into());
    let snapshot = lines(&intended());
    let mut all = intended();
    all.extend(extra);
    let found: Vec<Line> = lines(&all).into_iter().map(|text| Line { text, places: Vec::new(), links: Vec::new(), statements: Vec::new(), chained: false, walk: Err(String::new()) }).collect();
    let diff = Diff::between(&snapshot, &found);
    assert_eq!(diff.added.into_iter().collect::<BTreeSet<_>>(), expected);
    assert!(diff.missing.is_empty(), "{:?}", diff.missing);
}

#[test]
fn a_path_through_a_chain_names_the_statements_that_open_it_and_where_they_are_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.tf"), "resource \"aws_iam_role\" \"b\" {\n}\n\nresource \"aws_iam_role_policy\" \"a\" {\n}\n").unwrap();
    let resources = [intended(), three_role_chain()].concat();
    let state = json!({"version": 4, "resources": resources});
    let inventory = Inventory::from_states(&[state], &AccountNames::single(ACCOUNT)).unwrap();
    let namer = snapshot::Namer::new(&inventory, &AccountNames::single(ACCOUNT), None);
    let locate = snapshot::locator(&[dir.path().to_path_buf()]);
    let found = snapshot::lines(&paths::analyse(&inventory), &inventory, &namer, &locate);
    let chain = found.iter().find(|l| l.text.starts_with("aws_iam_role.a -> ")).unwrap();
    assert!(chain.chained);
    assert!(chain.statements.contains(&"statement 0 of aws_iam_role_policy.a, main.tf:4".to_string()), "{:?}", chain.statements);
    assert!(chain.statements.contains(&"statement 0 of aws_iam_role.b trust policy, main.tf:1".to_string()), "{:?}", chain.statements);
}

#[test]
fn run_names_leave_the_snapshot_and_a_managed_policy_no_state_holds_is_said_unseen() {
    let prefixed = vec![
        bucket("run-7f3a-data"),
        role("run-7f3a-reader", ec2_trust()),
        role_policy("run-7f3a-reader", json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::run-7f3a-data",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}}])),
        resource("aws_iam_role_policy_attachment", "ro", json!({"role": "run-7f3a-reader", "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})),
    ];
    let state = json!({"version": 4, "resources": prefixed});
    let inventory = Inventory::from_states(&[state], &AccountNames::single(ACCOUNT)).unwrap();
    let namer = snapshot::Namer::new(&inventory, &AccountNames::single(ACCOUNT), Some("run-7f3a"));
    let found = snapshot::lines(&paths::analyse(&inventory), &inventory, &namer, &|_| None);
    assert_eq!(found.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["aws_iam_role.run-7f3a-reader -> aws_s3_bucket.run-7f3a-data: s3:ListBucket"]);
    assert_eq!(namer.text("arn:aws:iam::111111111111:role/run-7f3a-other"), "arn:aws:iam::self:role/${prefix}-other");
    assert_eq!(inventory.unseen.len(), 1);
    assert!(inventory.unseen[0].contains("arn:aws:iam::aws:policy/ReadOnlyAccess"), "{:?}", inventory.unseen);
}

#[test]
fn a_state_that_is_not_terraform_state_is_refused() {
    assert!(matches!(Inventory::from_states(&[json!({"resources": []})], &AccountNames::single(ACCOUNT)), Err(InventoryError::NotState(_))));
}

// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user_externalid.html: a trust on
// an account with an external ID lets in any of its principals granted sts:AssumeRole that passes the ID.
#[test]
fn an_account_trust_under_a_condition_opens_a_path_from_the_account_with_that_condition() {
    let trust = json!([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "acme-7f3a"}}}]);
    let resources = vec![
        bucket("data"),
        role("partner", trust),
        role_policy("partner", json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}])),
    ];
    assert_eq!(
        lines(&resources),
        set(&[
            "any principal of account 222222222222 granted it -> aws_iam_role.partner [sts:ExternalId StringEquals acme-7f3a] -> aws_s3_bucket.data: s3:GetObject",
            "aws_iam_role.partner -> aws_s3_bucket.data: s3:GetObject",
        ])
    );
}

/// How each line of the intended config is walked: a role's session starts
/// its own paths, entering each role in order and ending on the bucket's
/// actions (puts first, on a key its objects pattern admits); a start no
/// principal can be (any principal of the account) and a path under
/// conditions are not walked, each saying why; a provider's user is, by a token.
#[test]
fn each_line_says_how_it_is_walked_or_why_not() {
    let state = json!({"version": 4, "resources": intended()});
    let inventory = Inventory::from_states(&[state], &AccountNames::single(ACCOUNT)).unwrap();
    let namer = snapshot::Namer::new(&inventory, &AccountNames::single(ACCOUNT), None);
    let found = snapshot::lines(&paths::analyse(&inventory), &inventory, &namer, &|_| None);
    let walk_of = |text: &str| found.iter().find(|l| l.text.starts_with(text)).unwrap_or_else(|| panic!("no line {text}: {found:#?}")).walk.clone();
    let chain = walk_of("aws_iam_role.role1 -> aws_iam_role.role2 -> aws_s3_bucket.data").unwrap();
    assert_eq!(chain.walker, Walker::RoleSession { account: ACCOUNT.into(), role: "role1".into() });
    assert_eq!(chain.roles.iter().map(|h| h.arn.as_str()).collect::<Vec<_>>(), [format!("arn:aws:iam::{ACCOUNT}:role/role2")]);
    assert_eq!(chain.actions, ["s3:GetObject", "s3:ListBucket"]);
    let bucket = chain.bucket.unwrap();
    assert_eq!((bucket.name.as_str(), bucket.account.as_str(), bucket.key.as_deref()), ("data", ACCOUNT, Some("harness-access-walk")));
    let writer = walk_of("aws_iam_role.writer -> aws_s3_bucket.data").unwrap();
    assert_eq!((writer.roles.len(), writer.actions.as_slice()), (0, ["s3:PutObject"].as_slice()));
    assert!(walk_of("any principal of account self").unwrap_err().contains("any principal of an account"));
    // A provider's user is walked with a token whose claims meet the trust (its audience, its sub).
    let deploy = walk_of("users of aws_iam_openid_connect_provider.github -> aws_iam_role.deploy").unwrap();
    let claims = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let expected = claims(&[("aud", "sts.amazonaws.com"), ("sub", "repo:acme/app:ref:refs/heads/main")]);
    assert_eq!(deploy.walker, Walker::WebIdentity { issuer: "token.actions.githubusercontent.com".into(), claims: expected });
    assert_eq!((deploy.roles.len(), deploy.actions.as_slice()), (1, ["s3:ListBucket"].as_slice()));
    // A `sub` pattern is met with its wildcard filled: a token of the whole organisation's.
    let mut all = intended();
    all.extend(org_wide_sub().0);
    let state = json!({"version": 4, "resources": all});
    let inventory = Inventory::from_states(&[state], &AccountNames::single(ACCOUNT)).unwrap();
    let namer = snapshot::Namer::new(&inventory, &AccountNames::single(ACCOUNT), None);
    let lines = snapshot::lines(&paths::analyse(&inventory), &inventory, &namer, &|_| None);
    let org = lines.iter().find(|l| l.text.starts_with("users of aws_iam_openid_connect_provider.github -> aws_iam_role.org")).unwrap().walk.clone().unwrap();
    assert!(matches!(&org.walker, Walker::WebIdentity { claims, .. } if claims["sub"] == "repo:acme/harness-access-walk"), "{:?}", org.walker);
}

/// A trust that asks for an external ID is walked with it; one that asks
/// for a token's `sub` or any other key the walk cannot supply is not.
#[test]
fn a_walk_passes_the_external_id_a_trust_names() {
    let ci = format!("arn:aws:iam::{ACCOUNT}:user/ci");
    let resources = vec![
        resource("aws_iam_user", "ci", json!({"name": "ci", "arn": ci, "permissions_boundary": ""})),
        resource("aws_iam_user_policy", "ci", json!({"name": "assume", "user": "ci", "policy": document(json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]))})),
        role("deployer", json!([{"Effect": "Allow", "Principal": {"AWS": ci}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "deploy-7f3a"}}}])),
        role("tagged", json!([{"Effect": "Allow", "Principal": {"AWS": ci}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:RequestTag/team": "data"}}}])),
        // What they may do is beyond the analysed actions: a path ends entering them.
        role_policy("deployer", json!([{"Effect": "Allow", "Action": "s3:CreateBucket", "Resource": "*"}])),
        role_policy("tagged", json!([{"Effect": "Allow", "Action": "s3:CreateBucket", "Resource": "*"}])),
    ];
    let state = json!({"version": 4, "resources": resources});
    let inventory = Inventory::from_states(&[state], &AccountNames::single(ACCOUNT)).unwrap();
    let namer = snapshot::Namer::new(&inventory, &AccountNames::single(ACCOUNT), None);
    let found = snapshot::lines(&paths::analyse(&inventory), &inventory, &namer, &|_| None);
    let walk_of = |text: &str| found.iter().find(|l| l.text.starts_with(text)).unwrap_or_else(|| panic!("no line {text}: {found:#?}")).walk.clone();
    let deployer = walk_of("aws_iam_user.ci -> aws_iam_role.deployer").unwrap();
    assert_eq!(deployer.walker, Walker::User { arn: ci.clone() });
    assert_eq!(deployer.roles[0].external_id.as_deref(), Some("deploy-7f3a"));
    let tagged = walk_of("aws_iam_user.ci -> aws_iam_role.tagged").unwrap_err();
    assert!(tagged.contains("aws:RequestTag/team StringEquals data"), "{tagged}");
}

fn key(name: &str, statements: Value) -> Value {
    let arn = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{name}-1234");
    resource("aws_kms_key", name, json!({"arn": arn, "key_id": format!("{name}-1234"), "policy": document(statements)}))
}

// https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html: a key
// admits whom its policy names, and its account's principals only where it enables
// IAM policies; an identity policy allowing kms:* on its own reaches no key.
#[test]
fn a_key_policy_opens_paths_to_whom_it_names_and_an_identity_grant_alone_opens_none() {
    let reader_trust = json!([{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/app")}, "Action": "sts:AssumeRole"}]);
    let users = json!([{"Sid": "UsersOfTheKey", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/reader")},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*", "Condition": {"StringEquals": {"kms:EncryptionContext:purpose": "figures"}}}]);
    let config = vec![
        role("app", ec2_trust()),
        role_policy("app", json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}])),
        role("reader", reader_trust.clone()),
        role("consumer", reader_trust),
        role_policy("consumer", json!([{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}])),
        key("data", users.clone()),
    ];
    let reader = "aws_iam_role.reader -> aws_kms_key.data: kms:Decrypt, kms:GenerateDataKey [kms:EncryptionContext:purpose StringEquals figures]";
    let through_app = "aws_iam_role.app -> aws_iam_role.reader -> aws_kms_key.data: kms:Decrypt, kms:GenerateDataKey [kms:EncryptionContext:purpose StringEquals figures]";
    let found = lines(&config);
    assert!(found.contains(reader) && found.contains(through_app), "{found:#?}");
    assert!(!found.iter().any(|l| l.starts_with("aws_iam_role.consumer -> aws_kms_key")), "kms:* in an identity policy reaches no key that does not name it: {found:#?}");
    // The key policy enabling the account's IAM policies: now the consumer's own grant counts.
    let mut enabled = config.clone();
    enabled.pop();
    let root = json!({"Sid": "EnableIAM", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"});
    enabled.push(key("data", json!([users[0].clone(), root])));
    let found = lines(&enabled);
    assert!(found.contains("aws_iam_role.consumer -> aws_kms_key.data: kms:Decrypt, kms:Encrypt, kms:GenerateDataKey"), "{found:#?}");
}

fn user(name: &str, account: &str, statements: Value) -> Vec<Value> {
    let arn = format!("arn:aws:iam::{account}:user/{name}");
    vec![
        resource("aws_iam_user", name, json!({"name": name, "arn": arn, "permissions_boundary": ""})),
        resource("aws_iam_user_policy", name, json!({"name": format!("{name}-policy"), "user": name, "policy": document(statements)})),
    ]
}

/// The Organization's SCPs and RCPs take part
/// (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html):
/// an RCP perimeter closes the path a bucket policy opens to a partner outside
/// the Organization, and an SCP's Deny the path of a member's own user.
#[test]
fn an_organizations_scps_and_rcps_close_the_paths_they_deny() {
    const PARTNER: &str = "999999999999";
    let shared = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{PARTNER}:root")}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::shared"}]});
    let mut config = vec![bucket("shared"), resource("aws_s3_bucket_policy", "shared", json!({"bucket": "shared", "policy": shared.to_string()}))];
    config.extend(user("partner", PARTNER, json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}])));
    config.extend(user("ci", ACCOUNT, json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}])));
    let partner_path = "aws_iam_user.partner -> aws_s3_bucket.shared: s3:ListBucket";
    let partner_account = "any principal of account 999999999999 granted it -> aws_s3_bucket.shared: s3:ListBucket";
    let ci_path = "aws_iam_user.ci -> aws_s3_bucket.shared: s3:ListBucket";
    let without = lines(&config);
    assert!(without.contains(partner_path) && without.contains(partner_account) && without.contains(ci_path), "{without:#?}");

    let perimeter = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
        "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-acme1234"}, "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}}]});
    let no_listing = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:ListBucket", "Resource": "*"}]});
    let organization = json!({"id": "o-acme1234", "master_account_id": "123456789012", "roots": [{"id": "r-ab12"}],
        "accounts": [{"id": "123456789012"}, {"id": ACCOUNT}], "enabled_policy_types": ["SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"]});
    let mut governed = config.clone();
    governed.extend([
        resource("aws_organizations_organization", "org", organization),
        resource("aws_organizations_policy", "perimeter", json!({"id": "p-rcp1", "type": "RESOURCE_CONTROL_POLICY", "content": perimeter.to_string()})),
        resource("aws_organizations_policy_attachment", "perimeter", json!({"policy_id": "p-rcp1", "target_id": ACCOUNT})),
    ]);
    let perimeter_only = lines(&governed);
    assert!(!perimeter_only.contains(partner_path) && !perimeter_only.contains(partner_account), "the RCP keeps the partner out: {perimeter_only:#?}");
    assert!(perimeter_only.contains(ci_path), "not the member: {perimeter_only:#?}");
    governed.extend([
        resource("aws_organizations_policy", "no_listing", json!({"id": "p-scp1", "type": "SERVICE_CONTROL_POLICY", "content": no_listing.to_string()})),
        resource("aws_organizations_policy_attachment", "no_listing", json!({"policy_id": "p-scp1", "target_id": ACCOUNT})),
    ]);
    let capped = lines(&governed);
    assert!(!capped.contains(ci_path), "the SCP's Deny closes the member's own path: {capped:#?}");
}

// https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html: an object
// of a bucket encrypted with a KMS key is put and got only where the key lets the caller
// use it too; listing the bucket asks nothing of the key.
#[test]
fn a_bucket_encrypted_with_a_key_is_reached_for_its_objects_only_where_the_key_allows() {
    let key_policy = json!([{"Sid": "WriterOnly", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/writer")},
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"}]);
    let encryption = json!({"bucket": "data", "rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms",
        "kms_master_key_id": format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/data-1234")}], "bucket_key_enabled": false}]});
    let config = vec![
        bucket("data"),
        key("data", key_policy),
        resource("aws_s3_bucket_server_side_encryption_configuration", "data", encryption),
        role("reader", ec2_trust()),
        role_policy("reader", json!([{"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject", "kms:Decrypt"], "Resource": "*"}])),
        role("writer", ec2_trust()),
        role_policy("writer", json!([{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::data/*"}])),
    ];
    let found = lines(&config);
    assert!(found.contains("aws_iam_role.reader -> aws_s3_bucket.data: s3:ListBucket"), "{found:#?}");
    assert!(!found.iter().any(|l| l.starts_with("aws_iam_role.reader -> aws_s3_bucket.data") && l.contains("s3:GetObject")), "the key refuses the reader's get: {found:#?}");
    assert!(found.contains("aws_iam_role.writer -> aws_s3_bucket.data: s3:PutObject"), "the key names the writer: {found:#?}");
    let mut plain = config.clone();
    plain.retain(|r| r["type"] != "aws_s3_bucket_server_side_encryption_configuration");
    assert!(lines(&plain).contains("aws_iam_role.reader -> aws_s3_bucket.data: s3:GetObject, s3:ListBucket"), "without the key the get is open");
}

/// Keys only an instance's session carries: the role's own path holds under
/// them, a session AssumeRole made cannot meet them. The region every
/// request is made in is the buckets': a Deny on any other region spares it,
/// and the instance's id is named by its address, as in the snapshot.
#[test]
fn instance_keys_bind_the_instance_and_the_region_deny_spares_the_home_region() {
    let instance_only = json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::data",
        "Condition": {"StringEquals": {"ec2:SourceInstanceARN": format!("arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0abc")}}}]);
    let home_only = json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"},
        {"Effect": "Deny", "NotAction": "sts:GetCallerIdentity", "Resource": "*", "Condition": {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}}]);
    let state = vec![
        resource("aws_s3_bucket", "data", json!({"bucket": "data", "arn": "arn:aws:s3:::data", "region": "us-east-1"})),
        resource("aws_instance", "host", json!({"id": "i-0abc"})),
        role("workload", root_trust()),
        role_policy("workload", instance_only),
        role("reader", root_trust()),
        role_policy("reader", home_only),
    ];
    let found = lines(&state);
    let own = "aws_iam_role.workload -> aws_s3_bucket.data: s3:ListBucket [ec2:SourceInstanceARN StringEquals arn:aws:ec2:us-east-1:self:instance/aws_instance.host]";
    assert!(found.contains(own), "{found:#?}");
    assert!(!found.iter().any(|l| l.contains("-> aws_iam_role.workload -> aws_s3_bucket.data")), "a chain cannot carry the instance's keys: {found:#?}");
    assert!(found.contains("aws_iam_role.reader -> aws_s3_bucket.data: s3:GetObject"), "{found:#?}");
    // Without the region (no bucket says it), the Deny's StringNotEquals on an absent key closes the path.
    let without_region: Vec<Value> = state.iter().map(|r| if r["type"] == "aws_s3_bucket" { bucket("data") } else { r.clone() }).collect();
    assert!(!lines(&without_region).iter().any(|l| l.starts_with("aws_iam_role.reader ->")));
}

/// What a bucket policy grants everyone is a path of anyone, walked with an
/// unsigned request; the bucket's RestrictPublicBuckets closes it.
#[test]
fn a_public_read_is_anyones_path_walked_unsigned() {
    let public = document(json!([{"Sid": "Share", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}]));
    let mut state = vec![bucket("data"), resource("aws_s3_bucket_policy", "data", json!({"bucket": "data", "policy": public}))];
    let inventory = Inventory::from_states(&[json!({"version": 4, "resources": state.clone()})], &AccountNames::single(ACCOUNT)).unwrap();
    let namer = snapshot::Namer::new(&inventory, &AccountNames::single(ACCOUNT), None);
    let found = snapshot::lines(&paths::analyse(&inventory), &inventory, &namer, &|_| None);
    let line = found.iter().find(|l| l.text == "anonymous -> aws_s3_bucket.data: s3:GetObject").unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(line.walk.as_ref().unwrap().walker, Walker::Anonymous);
    state.push(resource("aws_s3_bucket_public_access_block", "data", json!({"bucket": "data", "restrict_public_buckets": true})));
    assert!(!lines(&state).iter().any(|l| l.starts_with("anonymous")), "{:#?}", lines(&state));
}

/// A bucket policy naming a federated user grants its session directly: a
/// path of every user allowed sts:GetFederationToken, and of no other.
#[test]
fn a_federated_user_a_bucket_names_is_a_path_of_the_users_that_may_make_it() {
    let auditor = format!("arn:aws:sts::{ACCOUNT}:federated-user/auditor");
    let policy = document(json!([{"Sid": "Auditor", "Effect": "Allow", "Principal": {"AWS": auditor}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}]));
    let user = |name: &str, statements: Value| {
        vec![
            resource("aws_iam_user", name, json!({"name": name, "arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"), "permissions_boundary": ""})),
            resource("aws_iam_user_policy", name, json!({"name": format!("{name}-policy"), "user": name, "policy": document(statements)})),
        ]
    };
    let mut state = vec![bucket("data"), resource("aws_s3_bucket_policy", "data", json!({"bucket": "data", "policy": policy}))];
    state.extend(user("broker", json!([{"Effect": "Allow", "Action": "sts:GetFederationToken", "Resource": "*"}])));
    state.extend(user("clerk", json!([{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}])));
    let found = lines(&state);
    assert!(found.contains("aws_iam_user.broker as federated-user/auditor -> aws_s3_bucket.data: s3:GetObject"), "{found:#?}");
    assert!(!found.iter().any(|l| l.contains("clerk")), "a user that may not federate makes no federated user: {found:#?}");
}

/// An RDS instance with IAM authentication: each principal reaches the
/// database users its own statements of rds-db:connect name (no resource
/// policy takes part), the broadest first; the walk connects as that user at
/// the instance's endpoint. An instance without IAM authentication opens nothing.
#[test]
fn a_role_reaches_the_database_users_its_own_policy_names() {
    let instance = |name: &str, iam: bool| {
        let attributes = json!({"arn": format!("arn:aws:rds:us-east-1:{ACCOUNT}:db:{name}"), "resource_id": format!("db-{name}"), "address": format!("{name}.x.us-east-1.rds.amazonaws.com"), "port": 5432, "iam_database_authentication_enabled": iam});
        resource("aws_db_instance", name, attributes)
    };
    let dbuser = |db: &str, user: &str| format!("arn:aws:rds-db:us-east-1:{ACCOUNT}:dbuser:db-{db}/{user}");
    let resources = vec![
        instance("app", true),
        instance("legacy", false),
        role("app", ec2_trust()),
        role_policy("app", json!([{"Effect": "Allow", "Action": "rds-db:connect", "Resource": [dbuser("app", "app_user"), dbuser("legacy", "app_user")]}])),
        role("admin", ec2_trust()),
        role_policy("admin", json!([{"Effect": "Allow", "Action": "rds-db:*", "Resource": [dbuser("app", "*"), dbuser("app", "admin")]}])),
    ];
    assert_eq!(
        lines(&resources),
        set(&["aws_iam_role.admin -> aws_db_instance.app as any user: rds-db:connect", "aws_iam_role.app -> aws_db_instance.app as app_user: rds-db:connect"])
    );
    let state = json!({"version": 4, "resources": resources});
    let inventory = Inventory::from_states(&[state], &AccountNames::single(ACCOUNT)).unwrap();
    let namer = snapshot::Namer::new(&inventory, &AccountNames::single(ACCOUNT), None);
    let found = snapshot::lines(&paths::analyse(&inventory), &inventory, &namer, &|_| None);
    let app = found.iter().find(|l| l.text.starts_with("aws_iam_role.app ")).unwrap();
    let database = app.walk.as_ref().unwrap().database.clone().unwrap();
    assert_eq!((database.host.as_str(), database.port.as_str(), database.user.as_str()), ("app.x.us-east-1.rds.amazonaws.com", "5432", "app_user"));
}
