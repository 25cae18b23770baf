//! A synthetic account for `make bench`: the state a config of `roles`
//! roles and `buckets` buckets would leave, built in memory (no Terraform),
//! shaped like a platform team's: roles in teams of ten, each team a chain
//! (a role trusts the one before it and may assume the one after), every
//! tenth role trusting the account, one in a hundred a CI role that may
//! assume any role; each role reads one bucket and writes the next; every
//! other bucket has a policy (a named reader, a TLS-only Deny).

use serde_json::{Value, json};

const ACCOUNT: &str = "111111111111";

fn document(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn resource(kind: &str, name: String, attributes: Value) -> Value {
    json!({"mode": "managed", "type": kind, "name": name, "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]", "instances": [{"attributes": attributes}]})
}

fn role_arn(index: usize) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/r{index}")
}

fn bucket_arn(index: usize) -> String {
    format!("arn:aws:s3:::b{index}")
}

fn trust(index: usize) -> Value {
    if index.is_multiple_of(10) {
        json!([{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}])
    } else {
        json!([{"Effect": "Allow", "Principal": {"AWS": role_arn(index - 1)}, "Action": "sts:AssumeRole"}])
    }
}

fn grants(index: usize, roles: usize, buckets: usize) -> Value {
    let mut statements = vec![
        json!({"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": [bucket_arn(index % buckets), format!("{}/*", bucket_arn(index % buckets))]}),
        json!({"Effect": "Allow", "Action": "s3:PutObject", "Resource": format!("{}/*", bucket_arn((index + 1) % buckets))}),
    ];
    if index % 10 != 9 && index + 1 < roles {
        statements.push(json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn(index + 1)}));
    }
    if index % 100 == 50 {
        statements.push(json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}));
    }
    Value::Array(statements)
}

/// The state JSON of the synthetic account.
pub fn state(roles: usize, buckets: usize) -> Value {
    let buckets = buckets.max(1);
    let mut resources = Vec::new();
    for index in 0..roles {
        let attributes = json!({"name": format!("r{index}"), "arn": role_arn(index), "assume_role_policy": document(trust(index)), "permissions_boundary": ""});
        resources.push(resource("aws_iam_role", format!("r{index}"), attributes));
        let policy = json!({"name": "grants", "role": format!("r{index}"), "policy": document(grants(index, roles, buckets))});
        resources.push(resource("aws_iam_role_policy", format!("r{index}"), policy));
    }
    for index in 0..buckets {
        resources.push(resource("aws_s3_bucket", format!("b{index}"), json!({"bucket": format!("b{index}"), "arn": bucket_arn(index)})));
        if index.is_multiple_of(2) {
            let policy = document(json!([
                {"Effect": "Allow", "Principal": {"AWS": role_arn((index * 7) % roles.max(1))}, "Action": "s3:GetObject", "Resource": format!("{}/*", bucket_arn(index))},
                {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [bucket_arn(index), format!("{}/*", bucket_arn(index))], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
            ]));
            resources.push(resource("aws_s3_bucket_policy", format!("b{index}"), json!({"bucket": format!("b{index}"), "policy": policy})));
        }
    }
    json!({"version": 4, "resources": resources})
}

/// The account the synthetic state lives in.
pub fn account() -> &'static str {
    ACCOUNT
}
