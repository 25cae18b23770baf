//! What AWS should answer each step, before the target answers: after each
//! apply the harness reads the policies the target holds (a role's inline
//! and attached policies, boundary and trust policy, a bucket's policy) as
//! the admin, and asks the policy evaluator. The prediction and its reason
//! go with every step; `verdict` compares them with the observation.
//!
//! On a real account this needs, besides what the configs create:
//! `iam:GetRole`, `iam:ListRolePolicies`, `iam:GetRolePolicy`,
//! `iam:ListAttachedRolePolicies`, `iam:GetPolicy`, `iam:GetPolicyVersion`
//! on the run's roles, and `s3:GetBucketPolicy` on its buckets.

use std::collections::HashMap;

use aws_config::SdkConfig;
use tokio::sync::Mutex;

use crate::policy::{self, Caller, Context, Decision, DocumentKind, Policy, PolicySet, Reason, Request};
use crate::sdk::{self, call_error};
use crate::call::Call;

/// A role as the evaluator needs it.
#[derive(Debug, Clone)]
struct RoleSnapshot {
    identity: Vec<Policy>,
    boundary: Option<Policy>,
    trust: Policy,
    tags: Vec<(String, String)>,
}

/// A bucket as the evaluator needs it.
#[derive(Debug, Clone)]
enum Bucket {
    /// It exists nowhere (S3 answers NoSuchBucket).
    Missing,
    /// It exists, with its policy if it has one.
    Exists(Option<Policy>),
}

/// Reads policies from the target as the admin, each role and bucket once
/// per stage (a new stage's apply may change them).
pub struct Predictor {
    iam: aws_sdk_iam::Client,
    s3: aws_sdk_s3::Client,
    account: String,
    partition: String,
    roles: Mutex<HashMap<String, Result<Option<RoleSnapshot>, String>>>,
    buckets: Mutex<HashMap<String, Result<Bucket, String>>>,
}

/// IAM returns documents URL-encoded.
fn decoded(document: &str) -> String {
    percent_encoding::percent_decode_str(document).decode_utf8_lossy().into_owned()
}

fn parse(name: String, document: &str, kind: DocumentKind) -> Result<Policy, String> {
    Policy::parse(&name, &decoded(document), kind).map_err(|e| format!("{name}: {e}"))
}

impl Predictor {
    pub fn new(admin: &SdkConfig, account: &str, partition: &str) -> Self {
        Self {
            iam: aws_sdk_iam::Client::new(admin),
            s3: sdk::s3_client(admin),
            account: account.to_string(),
            partition: partition.to_string(),
            roles: Mutex::default(),
            buckets: Mutex::default(),
        }
    }

    /// The session ARN of `role` as `session`: who a principal is.
    pub fn session_arn(&self, role: &str, session: &str) -> String {
        format!("arn:{}:sts::{}:assumed-role/{role}/{session}", self.partition, self.account)
    }

    /// The evaluator's answer for `call` made as `caller` (an ARN); Err: why there is none.
    pub async fn predict(&self, call: &Call, caller: &str) -> Result<Reason, String> {
        let (action, resource) = match call {
            Call::ListBucket { bucket, .. } => ("s3:ListBucket", format!("arn:{}:s3:::{bucket}", self.partition)),
            Call::PutObject { bucket, key, .. } => ("s3:PutObject", format!("arn:{}:s3:::{bucket}/{key}", self.partition)),
            Call::GetObject { bucket, key, .. } => ("s3:GetObject", format!("arn:{}:s3:::{bucket}/{key}", self.partition)),
            Call::AssumeRole { role_arn, .. } => ("sts:AssumeRole", role_arn.clone()),
            Call::GetCallerIdentity { .. } => {
                return Ok(Reason {
                    decision: Decision::Allow,
                    policy_type: None,
                    policy: None,
                    statement: None,
                    explicit: false,
                    text: "sts:GetCallerIdentity needs no permission".into(),
                });
            }
            Call::InstanceProfileRole { .. } => return Err("the harness's own lookup, made as the admin".into()),
        };
        let caller = Caller::parse(caller).ok_or_else(|| format!("{caller} is not a principal the evaluator knows"))?;
        let Caller::RoleSession { role, .. } = &caller else { return Err("only role sessions are predicted".into()) };
        let own = self.role(role).await?.ok_or_else(|| format!("the caller's role {role} does not exist"))?;
        let mut set = PolicySet { identity: own.identity.clone(), boundary: own.boundary.clone(), resource_exists: true, ..PolicySet::default() };
        match call {
            Call::AssumeRole { role_arn, .. } => {
                let target = role_arn.rsplit('/').next().unwrap_or_default();
                if role_arn.split(':').nth(4) != Some(self.account.as_str()) {
                    return Err(format!("{role_arn} is in another account, whose trust policy the harness cannot read"));
                }
                match self.role(target).await? {
                    Some(snapshot) => set.resource = Some(snapshot.trust),
                    None => set.resource_exists = false,
                }
            }
            Call::ListBucket { bucket, .. } | Call::PutObject { bucket, .. } | Call::GetObject { bucket, .. } => match self.bucket(bucket).await? {
                Bucket::Exists(policy) => set.resource = policy,
                Bucket::Missing => set.resource_exists = false,
            },
            _ => {}
        }
        let mut context = Context::default();
        // The SDK reaches AWS over HTTPS; the emulators stand for it.
        context.insert("aws:SecureTransport", vec!["true".into()]);
        for (key, value) in &own.tags {
            context.insert(&format!("aws:PrincipalTag/{key}"), vec![value.clone()]);
        }
        let request = Request { caller, action: action.into(), resource, resource_account: Some(self.account.clone()), context };
        Ok(policy::evaluate(&request, &set).reason)
    }

    async fn role(&self, name: &str) -> Result<Option<RoleSnapshot>, String> {
        let mut roles = self.roles.lock().await;
        if let Some(known) = roles.get(name) {
            return known.clone();
        }
        let read = self.read_role(name).await;
        roles.insert(name.to_string(), read.clone());
        read
    }

    async fn read_role(&self, name: &str) -> Result<Option<RoleSnapshot>, String> {
        let failed = |what: &str, code: &str| format!("cannot read {what} of role {name}: {code}");
        let role = match self.iam.get_role().role_name(name).send().await {
            Ok(out) => out.role.ok_or_else(|| failed("GetRole", "no role in the answer"))?,
            Err(err) if call_error(&err).code() == "NoSuchEntity" => return Ok(None),
            Err(err) => return Err(failed("iam:GetRole", call_error(&err).code())),
        };
        let trust = parse(format!("{name}'s trust policy"), role.assume_role_policy_document().unwrap_or("{}"), DocumentKind::Trust)?;
        let mut identity = Vec::new();
        let inline = self.iam.list_role_policies().role_name(name).send().await.map_err(|e| failed("iam:ListRolePolicies", call_error(&e).code()))?;
        for policy_name in inline.policy_names() {
            let out = self.iam.get_role_policy().role_name(name).policy_name(policy_name).send().await;
            let out = out.map_err(|e| failed("iam:GetRolePolicy", call_error(&e).code()))?;
            identity.push(parse(format!("{name}'s inline policy {policy_name}"), out.policy_document(), DocumentKind::Identity)?);
        }
        let attached = self.iam.list_attached_role_policies().role_name(name).send().await;
        let attached = attached.map_err(|e| failed("iam:ListAttachedRolePolicies", call_error(&e).code()))?;
        for policy in attached.attached_policies() {
            let arn = policy.policy_arn().unwrap_or_default();
            identity.push(self.managed(arn, &format!("{name}'s managed policy {}", policy.policy_name().unwrap_or(arn))).await?);
        }
        let boundary = match role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()) {
            Some(arn) => Some(self.managed(arn, &format!("{name}'s permissions boundary")).await?),
            None => None,
        };
        let tags = role.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        Ok(Some(RoleSnapshot { identity, boundary, trust, tags }))
    }

    async fn managed(&self, arn: &str, name: &str) -> Result<Policy, String> {
        let failed = |what: &str, code: &str| format!("cannot read {name} ({arn}): {what}: {code}");
        let policy = self.iam.get_policy().policy_arn(arn).send().await.map_err(|e| failed("iam:GetPolicy", call_error(&e).code()))?;
        let version = policy.policy().and_then(|p| p.default_version_id()).unwrap_or("v1");
        let out = self.iam.get_policy_version().policy_arn(arn).version_id(version).send().await;
        let out = out.map_err(|e| failed("iam:GetPolicyVersion", call_error(&e).code()))?;
        parse(name.to_string(), out.policy_version().and_then(|v| v.document()).unwrap_or("{}"), DocumentKind::Identity)
    }

    async fn bucket(&self, bucket: &str) -> Result<Bucket, String> {
        let mut buckets = self.buckets.lock().await;
        if let Some(known) = buckets.get(bucket) {
            return known.clone();
        }
        let read = match self.s3.get_bucket_policy().bucket(bucket).send().await {
            Ok(out) => parse(format!("the bucket policy of {bucket}"), out.policy().unwrap_or("{}"), DocumentKind::Bucket).map(|p| Bucket::Exists(Some(p))),
            Err(err) => match call_error(&err).code() {
                "NoSuchBucketPolicy" => Ok(Bucket::Exists(None)),
                "NoSuchBucket" => Ok(Bucket::Missing),
                code => Err(format!("cannot read the bucket policy of {bucket}: s3:GetBucketPolicy: {code}")),
            },
        };
        buckets.insert(bucket.to_string(), read.clone());
        read
    }
}
