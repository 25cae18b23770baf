//! `harness sweep`: find what harness runs left on a target (a run killed
//! with SIGKILL, a destroy that failed) and delete it. A resource is the
//! harness's when it carries the tag `harness=aws-assume-role-harness`, or,
//! for the capability probes, when its name starts with `harness-` (an OIDC
//! provider: its issuer ends with the probes' domain). Only
//! resources older than a given age are touched, so a run in progress is
//! left alone. Dry-run unless asked to delete.

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;

use crate::naming::{HARNESS_TAG_KEY, HARNESS_TAG_VALUE, PROBE_ISSUER_DOMAIN, PROBE_PREFIX, RUN_TAG};
use crate::sdk::{self, error_code};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Kind {
    Instance,
    InstanceProfile,
    Role,
    User,
    OidcProvider,
    SamlProvider,
    Bucket,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Leftover {
    pub kind: Kind,
    pub name: String,
    /// How old it is, in seconds.
    pub age_s: u64,
    /// The run it belongs to, where its tags say (instances).
    pub run: Option<String>,
}

impl Leftover {
    /// Whether it belongs to run `run_id`: its run tag, or its name (every
    /// name the harness gives carries the run id: `<scenario>-<run id>-...`).
    pub fn of_run(&self, run_id: &str) -> bool {
        self.run.as_deref() == Some(run_id) || self.name.contains(&format!("-{run_id}"))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot list {what}: {code}; the sweep needs an identity that may list and delete IAM, S3 and EC2 resources")]
pub struct SweepError {
    what: &'static str,
    code: String,
}

fn listing(what: &'static str) -> impl Fn(String) -> SweepError {
    move |code| SweepError { what, code }
}

fn age(created: Option<&aws_smithy_types::DateTime>) -> Duration {
    created
        .and_then(|t| SystemTime::try_from(*t).ok())
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default()
}

fn tagged<'a>(mut tags: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
    tags.any(|(k, v)| k == HARNESS_TAG_KEY && v == HARNESS_TAG_VALUE)
}

/// Everything of the harness's older than `older_than`, in deletion order
/// (instances before the profiles they use, profiles before their roles).
pub async fn find(admin: &SdkConfig, older_than: Duration) -> Result<Vec<Leftover>, SweepError> {
    let mut found = Vec::new();
    let keep = |created: Option<&aws_smithy_types::DateTime>| {
        let age = age(created);
        (age >= older_than).then_some(age.as_secs())
    };

    let ec2 = aws_sdk_ec2::Client::new(admin);
    let instances = ec2
        .describe_instances()
        .filters(aws_sdk_ec2::types::Filter::builder().name(format!("tag:{HARNESS_TAG_KEY}")).values(HARNESS_TAG_VALUE).build())
        .send()
        .await
        .map_err(|e| listing("instances")(error_code(&e)))?;
    for instance in instances.reservations().iter().flat_map(|r| r.instances()) {
        let state = instance.state().and_then(|s| s.name()).map(|n| n.as_str()).unwrap_or_default();
        if matches!(state, "terminated" | "shutting-down") {
            continue;
        }
        if let Some(age_s) = keep(instance.launch_time()) {
            let run = instance.tags().iter().find(|t| t.key() == Some(RUN_TAG)).and_then(|t| t.value()).map(str::to_string);
            found.push(Leftover { kind: Kind::Instance, name: instance.instance_id().unwrap_or_default().into(), age_s, run });
        }
    }

    let iam = aws_sdk_iam::Client::new(admin);
    let profiles = iam.list_instance_profiles().send().await.map_err(|e| listing("instance profiles")(error_code(&e)))?;
    for profile in profiles.instance_profiles() {
        let ours = profile.instance_profile_name().starts_with(PROBE_PREFIX) || tagged(profile.tags().iter().map(|t| (t.key(), t.value())));
        let ours = ours || profile_tagged(&iam, profile.instance_profile_name()).await;
        if let (true, Some(age_s)) = (ours, keep(Some(profile.create_date()))) {
            found.push(Leftover { kind: Kind::InstanceProfile, name: profile.instance_profile_name().into(), age_s, run: None });
        }
    }

    let roles = iam.list_roles().send().await.map_err(|e| listing("roles")(error_code(&e)))?;
    for role in roles.roles() {
        let ours = role.role_name().starts_with(PROBE_PREFIX) || role_tagged(&iam, role.role_name()).await;
        if let (true, Some(age_s)) = (ours, keep(Some(role.create_date()))) {
            found.push(Leftover { kind: Kind::Role, name: role.role_name().into(), age_s, run: None });
        }
    }

    found.extend(users_and_providers(&iam, &keep).await?);

    let s3 = sdk::s3_client(admin);
    let buckets = s3.list_buckets().send().await.map_err(|e| listing("buckets")(error_code(&e)))?;
    for bucket in buckets.buckets() {
        let name = bucket.name().unwrap_or_default();
        let tags = s3.get_bucket_tagging().bucket(name).send().await;
        let ours = tags.is_ok_and(|t| tagged(t.tag_set().iter().map(|t| (t.key(), t.value()))));
        if let (true, Some(age_s)) = (ours, keep(bucket.creation_date())) {
            found.push(Leftover { kind: Kind::Bucket, name: name.into(), age_s, run: None });
        }
    }
    Ok(found)
}

/// The harness's users (the probes' by name, the scenarios' by tag), OIDC
/// providers (a scenario's by tag, a probe's by its issuer's domain) and SAML
/// providers (a scenario's by tag, a probe's by name).
async fn users_and_providers(iam: &aws_sdk_iam::Client, keep: &impl Fn(Option<&aws_smithy_types::DateTime>) -> Option<u64>) -> Result<Vec<Leftover>, SweepError> {
    let mut found = Vec::new();
    let users = iam.list_users().send().await.map_err(|e| listing("users")(error_code(&e)))?;
    for user in users.users() {
        let ours = user.user_name().starts_with(PROBE_PREFIX) || user_tagged(iam, user.user_name()).await;
        if let (true, Some(age_s)) = (ours, keep(Some(user.create_date()))) {
            found.push(Leftover { kind: Kind::User, name: user.user_name().into(), age_s, run: None });
        }
    }

    // A scenario's (tagged) or a probe's (its issuer under PROBE_ISSUER_DOMAIN).
    let providers = iam.list_open_id_connect_providers().send().await.map_err(|e| listing("OIDC providers")(error_code(&e)))?;
    for arn in providers.open_id_connect_provider_list().iter().filter_map(|p| p.arn()) {
        let Ok(provider) = iam.get_open_id_connect_provider().open_id_connect_provider_arn(arn).send().await else { continue };
        let ours = provider.url().is_some_and(|u| u.ends_with(PROBE_ISSUER_DOMAIN)) || tagged(provider.tags().iter().map(|t| (t.key(), t.value())));
        if let (true, Some(age_s)) = (ours, keep(provider.create_date())) {
            found.push(Leftover { kind: Kind::OidcProvider, name: arn.into(), age_s, run: None });
        }
    }

    let providers = iam.list_saml_providers().send().await.map_err(|e| listing("SAML providers")(error_code(&e)))?;
    for provider in providers.saml_provider_list() {
        let Some(arn) = provider.arn() else { continue };
        let name = arn.rsplit('/').next().unwrap_or_default();
        let tags = iam.list_saml_provider_tags().saml_provider_arn(arn).send().await.map(|out| tagged(out.tags().iter().map(|t| (t.key(), t.value())))).unwrap_or(false);
        if let (true, Some(age_s)) = (name.starts_with(PROBE_PREFIX) || tags, keep(provider.create_date())) {
            found.push(Leftover { kind: Kind::SamlProvider, name: arn.into(), age_s, run: None });
        }
    }

    Ok(found)
}

async fn role_tagged(iam: &aws_sdk_iam::Client, role: &str) -> bool {
    match iam.list_role_tags().role_name(role).send().await {
        Ok(out) => tagged(out.tags().iter().map(|t| (t.key(), t.value()))),
        Err(_) => false,
    }
}

async fn user_tagged(iam: &aws_sdk_iam::Client, user: &str) -> bool {
    match iam.list_user_tags().user_name(user).send().await {
        Ok(out) => tagged(out.tags().iter().map(|t| (t.key(), t.value()))),
        Err(_) => false,
    }
}

async fn profile_tagged(iam: &aws_sdk_iam::Client, profile: &str) -> bool {
    match iam.list_instance_profile_tags().instance_profile_name(profile).send().await {
        Ok(out) => tagged(out.tags().iter().map(|t| (t.key(), t.value()))),
        Err(_) => false,
    }
}

/// Delete one leftover with what it holds (a role's policies, a bucket's
/// objects); the error is the failing call's code.
pub async fn delete(admin: &SdkConfig, leftover: &Leftover) -> Result<(), String> {
    let iam = aws_sdk_iam::Client::new(admin);
    match leftover.kind {
        Kind::Instance => {
            aws_sdk_ec2::Client::new(admin).terminate_instances().instance_ids(&leftover.name).send().await.map_err(|e| error_code(&e))?;
        }
        Kind::InstanceProfile => {
            let profile = iam.get_instance_profile().instance_profile_name(&leftover.name).send().await.map_err(|e| error_code(&e))?;
            for role in profile.instance_profile().map(|p| p.roles()).unwrap_or_default() {
                iam.remove_role_from_instance_profile().instance_profile_name(&leftover.name).role_name(role.role_name()).send().await.map_err(|e| error_code(&e))?;
            }
            iam.delete_instance_profile().instance_profile_name(&leftover.name).send().await.map_err(|e| error_code(&e))?;
        }
        Kind::Role => delete_role(&iam, &leftover.name).await?,
        Kind::User => delete_user(&iam, &leftover.name).await?,
        Kind::OidcProvider => {
            iam.delete_open_id_connect_provider().open_id_connect_provider_arn(&leftover.name).send().await.map_err(|e| error_code(&e))?;
        }
        Kind::SamlProvider => {
            iam.delete_saml_provider().saml_provider_arn(&leftover.name).send().await.map_err(|e| error_code(&e))?;
        }
        Kind::Bucket => {
            let s3 = sdk::s3_client(admin);
            loop {
                let listed = s3.list_objects_v2().bucket(&leftover.name).send().await.map_err(|e| error_code(&e))?;
                if listed.contents().is_empty() {
                    break;
                }
                for object in listed.contents() {
                    if let Some(key) = object.key() {
                        s3.delete_object().bucket(&leftover.name).key(key).send().await.map_err(|e| error_code(&e))?;
                    }
                }
            }
            s3.delete_bucket().bucket(&leftover.name).send().await.map_err(|e| error_code(&e))?;
        }
    }
    Ok(())
}

/// A role, with its inline and attached policies and its instance profiles' hold on it.
async fn delete_role(iam: &aws_sdk_iam::Client, name: &str) -> Result<(), String> {
    let inline = iam.list_role_policies().role_name(name).send().await.map_err(|e| error_code(&e))?;
    for policy in inline.policy_names() {
        iam.delete_role_policy().role_name(name).policy_name(policy).send().await.map_err(|e| error_code(&e))?;
    }
    let attached = iam.list_attached_role_policies().role_name(name).send().await.map_err(|e| error_code(&e))?;
    for policy in attached.attached_policies() {
        if let Some(arn) = policy.policy_arn() {
            iam.detach_role_policy().role_name(name).policy_arn(arn).send().await.map_err(|e| error_code(&e))?;
        }
    }
    let profiles = iam.list_instance_profiles_for_role().role_name(name).send().await.map_err(|e| error_code(&e))?;
    for profile in profiles.instance_profiles() {
        iam.remove_role_from_instance_profile().instance_profile_name(profile.instance_profile_name()).role_name(name).send().await.map_err(|e| error_code(&e))?;
    }
    iam.delete_role().role_name(name).send().await.map_err(|e| error_code(&e))?;
    Ok(())
}

/// A user, with its policies and access keys.
async fn delete_user(iam: &aws_sdk_iam::Client, name: &str) -> Result<(), String> {
    let inline = iam.list_user_policies().user_name(name).send().await.map_err(|e| error_code(&e))?;
    for policy in inline.policy_names() {
        iam.delete_user_policy().user_name(name).policy_name(policy).send().await.map_err(|e| error_code(&e))?;
    }
    let attached = iam.list_attached_user_policies().user_name(name).send().await.map_err(|e| error_code(&e))?;
    for arn in attached.attached_policies().iter().filter_map(|p| p.policy_arn()) {
        iam.detach_user_policy().user_name(name).policy_arn(arn).send().await.map_err(|e| error_code(&e))?;
    }
    let keys = iam.list_access_keys().user_name(name).send().await.map_err(|e| error_code(&e))?;
    for key in keys.access_key_metadata() {
        if let Some(id) = key.access_key_id() {
            iam.delete_access_key().user_name(name).access_key_id(id).send().await.map_err(|e| error_code(&e))?;
        }
    }
    iam.delete_user().user_name(name).send().await.map_err(|e| error_code(&e))?;
    Ok(())
}
