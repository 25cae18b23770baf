//! Trials that prove, against the running emulator, each fix of the moto
//! compatibility launcher and the workload's IMDS identity. Every denial is
//! checked by its error code and for the principal that made the call.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use harness::identity::{CredentialSource, ImdsServer};
use harness::sdk::{self, CallError, call_error};
use harness::target::{Target, capabilities, container, moto::MotoOptions};
use harness::target_facts::Capabilities;
use tokio_util::sync::CancellationToken;
use libtest_mimic::{Failed, Trial};
use serde_json::{Value, json};
use tokio::runtime::Handle;

/// With this set to 1 (CI), the container trials fail when no Docker engine
/// answers; without it they are ignored, and the suite runs moto as a host process.
pub const REQUIRE_DOCKER: &str = "HARNESS_REQUIRE_DOCKER";

pub fn docker_required() -> bool {
    std::env::var(REQUIRE_DOCKER).is_ok_and(|v| v == "1" || v == "true")
}

/// The moto image: HARNESS_MOTO_IMAGE (CI builds one offline), else the official one.
fn moto_image() -> String {
    std::env::var("HARNESS_MOTO_IMAGE").unwrap_or_else(|_| harness::target::moto::official_image())
}

/// The suite's target, started once by `main` when a selected trial needs it.
pub static SUITE: OnceLock<Result<Suite, String>> = OnceLock::new();

pub struct Suite {
    pub target: Arc<Target>,
    admin: SdkConfig,
    run: String,
}

impl Suite {
    /// The IAM-enforcing moto target, as the default target picks it without
    /// a LocalStack token: in a container when Docker answers (through
    /// testcontainers), else as a host process, unless containers are required.
    pub async fn start() -> Result<Self, String> {
        let target = match container::engine().await {
            Ok(_) => Target::start_moto_container(&moto_image(), Default::default(), "the e2e suite: Docker answers", &CancellationToken::new()).await,
            Err(err) if docker_required() => return Err(format!("{err} ({REQUIRE_DOCKER}=1)")),
            Err(err) => Target::start_moto(&MotoOptions::default(), format!("the e2e suite, without containers: {err}")).await,
        }
        .map_err(|e| format!("cannot start the moto target: {e}"))?;
        let admin = target.admin_config().await;
        Ok(Self { target: Arc::new(target), admin, run: harness::runner::new_run_id() })
    }

    /// Stop the emulator (the suite lives in a static, so no Drop runs).
    pub async fn stop(&self) {
        self.target.stop_shared().await;
    }

    fn account(&self) -> &str {
        &self.target.admin.account_id
    }

    fn name(&self, what: &str) -> String {
        format!("e2e-{}-{what}", self.run)
    }

    async fn role(&self, name: &str, trust: Value, policy: Option<Value>) -> Result<String, Failed> {
        let iam = aws_sdk_iam::Client::new(&self.admin);
        let out = iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .map_err(|e| format!("CreateRole {name}: {}", call_error(&e).code()))?;
        if let Some(policy) = policy {
            iam.put_role_policy()
                .role_name(name)
                .policy_name("inline")
                .policy_document(policy.to_string())
                .send()
                .await
                .map_err(|e| format!("PutRolePolicy {name}: {}", call_error(&e).code()))?;
        }
        Ok(out.role().map(|r| r.arn().to_string()).unwrap_or_default())
    }

    /// AssumeRole as `caller`; Ok is the session's config.
    async fn assume(&self, caller: &SdkConfig, role_arn: &str) -> Result<SdkConfig, CallError> {
        self.assume_with(caller, role_arn, None).await
    }

    async fn caller_arn(config: &SdkConfig) -> Result<String, Failed> {
        let out = aws_sdk_sts::Client::new(config).get_caller_identity().send().await.map_err(|e| format!("GetCallerIdentity: {}", call_error(&e).code()))?;
        Ok(out.arn().unwrap_or_default().to_string())
    }

    /// AssumeRole with an external ID (None: none sent).
    async fn assume_with(&self, caller: &SdkConfig, role_arn: &str, external_id: Option<&str>) -> Result<SdkConfig, CallError> {
        let request = aws_sdk_sts::Client::new(caller).assume_role().role_arn(role_arn).role_session_name("e2e").set_external_id(external_id.map(str::to_string));
        let out = request.send().await.map_err(|e| call_error(&e))?;
        let c = out.credentials().expect("AssumeRole returns credentials");
        let creds = Credentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().to_string()), None, "e2e");
        Ok(sdk::config_with(&self.target.endpoint, SharedCredentialsProvider::new(creds)).await)
    }

    /// A bucket made by the admin, with `policy` as its bucket policy when given.
    async fn bucket(&self, what: &str, policy: Option<Value>) -> Result<String, Failed> {
        let name = self.name(what);
        let s3 = sdk::s3_client(&self.admin);
        s3.create_bucket().bucket(&name).send().await.map_err(|e| format!("CreateBucket {name}: {}", call_error(&e).code()))?;
        if let Some(policy) = policy {
            let policy = policy.to_string().replace("BUCKET", &name);
            s3.put_bucket_policy().bucket(&name).policy(policy).send().await.map_err(|e| format!("PutBucketPolicy {name}: {}", call_error(&e).code()))?;
        }
        Ok(name)
    }

    /// A session of a fresh role (trusting the account) with `policy` inline, and the role's ARN.
    async fn session_with(&self, what: &str, policy: Option<Value>) -> Result<(String, SdkConfig), Failed> {
        let name = self.name(what);
        let arn = self.role(&name, trust(json!({"AWS": format!("arn:aws:iam::{}:root", self.account())})), policy).await?;
        let session = self.assume(&self.admin, &arn).await.map_err(|e| format!("admin could not assume {name}: {}", e.code()))?;
        Ok((arn, session))
    }

    /// A session of a fresh role trusting the account, allowed sts:AssumeRole on anything.
    async fn assumer(&self, what: &str) -> Result<(String, SdkConfig), Failed> {
        let name = self.name(what);
        let arn = self.role(&name, trust(json!({"AWS": format!("arn:aws:iam::{}:root", self.account())})), Some(allow("sts:AssumeRole"))).await?;
        let session = self.assume(&self.admin, &arn).await.map_err(|e| format!("admin could not assume {name}: {}", e.code()))?;
        Ok((arn, session))
    }

    /// An instance whose profile carries a new role with `trust`.
    async fn instance(&self, what: &str, trust_doc: Value) -> Result<(String, String), Failed> {
        let name = self.name(what);
        self.role(&name, trust_doc, None).await?;
        let iam = aws_sdk_iam::Client::new(&self.admin);
        iam.create_instance_profile().instance_profile_name(&name).send().await.map_err(|e| call_error(&e).code().to_string())?;
        iam.add_role_to_instance_profile().instance_profile_name(&name).role_name(&name).send().await.map_err(|e| call_error(&e).code().to_string())?;
        let ec2 = aws_sdk_ec2::Client::new(&self.admin);
        let images = ec2.describe_images().owners("amazon").send().await.map_err(|e| call_error(&e).code().to_string())?;
        let ami = images.images().first().and_then(|i| i.image_id()).ok_or("no AMI")?.to_string();
        let run = ec2
            .run_instances()
            .image_id(ami)
            .min_count(1)
            .max_count(1)
            .iam_instance_profile(aws_sdk_ec2::types::IamInstanceProfileSpecification::builder().name(&name).build())
            .send()
            .await
            .map_err(|e| format!("RunInstances: {}", call_error(&e).code()))?;
        let id = run.instances().first().and_then(|i| i.instance_id()).ok_or("no instance")?.to_string();
        Ok((id, name))
    }
}

fn trust(principal: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]})
}

fn list(config: &SdkConfig, bucket: &str, prefix: Option<&str>) -> impl Future<Output = Result<(), CallError>> {
    let request = sdk::s3_client(config).list_objects().bucket(bucket).set_prefix(prefix.map(str::to_string));
    async move { request.send().await.map(|_| ()).map_err(|e| call_error(&e)) }
}

/// The call must be refused with `code` (not a denial: another error, e.g. NoSuchBucket or MalformedPolicyDocument).
fn expect_code<T>(result: Result<T, CallError>, code: &str, what: &str) -> Result<(), Failed> {
    match result {
        Ok(_) => Err(format!("{what}: accepted, expected {code}").into()),
        Err(err) if err.code() == code => Ok(()),
        Err(err) => Err(format!("{what}: expected {code}, got {} ({})", err.code(), err.message()).into()),
    }
}

fn allow(action: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
}

/// The call must be refused with AccessDenied, and the message must name the caller.
fn expect_denied<T>(result: Result<T, CallError>, caller: &str, what: &str) -> Result<(), Failed> {
    match result {
        Ok(_) => Err(format!("{what}: allowed, expected AccessDenied").into()),
        Err(CallError::Service { code, message }) if sdk::is_access_denied(&code) => {
            if !caller.is_empty() && !message.contains(caller) {
                return Err(format!("{what}: denied, but for another principal: {message}").into());
            }
            Ok(())
        }
        Err(other) => Err(format!("{what}: expected AccessDenied, got {} ({})", other.code(), other.message()).into()),
    }
}

fn trial<F, Fut>(handle: &Handle, name: &str, body: F) -> Trial
where
    F: FnOnce(&'static Suite) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Failed>>,
{
    let handle = handle.clone();
    Trial::test(name, move || {
        let suite: &'static Suite = match SUITE.get() {
            Some(Ok(suite)) => suite,
            Some(Err(message)) => return Err(message.clone().into()),
            None => return Err("the emulator was not started".into()),
        };
        handle.block_on(body(suite))
    })
}

pub fn trials(handle: Handle) -> Vec<Trial> {
    trust_trials(&handle).into_iter().chain(policy_trials(&handle)).collect()
}

/// The probes, and trust policies as AWS evaluates them.
fn trust_trials(handle: &Handle) -> Vec<Trial> {
    let handle = handle.clone();
    vec![
        trial(&handle, "target::capability_probes_find_everything_enforced", |s| async move {
            let (caps, notes) = capabilities::probe(&s.admin, &s.target.endpoint, s.account(), &s.name("probe")).await;
            // SCPs and RCPs are not probed (an account holds one Organization), nor RDS tokens: the launcher plays them.
            let probed = Capabilities { organization_policies: s.target.plays_organizations(), rds_iam_auth: s.target.plays_rds(), ..caps };
            if probed == Capabilities::ENFORCED {
                Ok(())
            } else {
                Err(format!("{caps:?} {notes:?}").into())
            }
        }),
        trial(&handle, "moto_launcher::role_arn_trust_matches_that_roles_sessions_only", |s| async move {
            let (a_arn, a) = s.assumer("arn-a").await?;
            let (_, other) = s.assumer("arn-other").await?;
            let b = s.role(&s.name("arn-b"), trust(json!({"AWS": a_arn})), None).await?;
            s.assume(&a, &b).await.map_err(|e| format!("a session of the trusted role was refused: {}", e.code()))?;
            expect_denied(s.assume(&other, &b).await, &s.name("arn-other"), "another role's session")
        }),
        trial(&handle, "moto_launcher::account_root_trust_matches_principals_of_the_account", |s| async move {
            let (_, a) = s.assumer("root-a").await?;
            let by_root = s.role(&s.name("root-b"), trust(json!({"AWS": format!("arn:aws:iam::{}:root", s.account())})), None).await?;
            let by_id = s.role(&s.name("root-c"), trust(json!({"AWS": s.account()})), None).await?;
            s.assume(&a, &by_root).await.map_err(|e| format!("root trust refused a session of the account: {}", e.code()))?;
            s.assume(&a, &by_id).await.map_err(|e| format!("account-id trust refused a session of the account: {}", e.code()))?;
            // Root trust does not grant by itself: the caller still needs the identity grant.
            let bare_name = s.name("root-bare");
            let bare = s.role(&bare_name, trust(json!({"AWS": format!("arn:aws:iam::{}:root", s.account())})), None).await?;
            let bare_session = s.assume(&s.admin, &bare).await.map_err(|e| e.code().to_string())?;
            expect_denied(s.assume(&bare_session, &by_root).await, &bare_name, "a session without sts:AssumeRole")
        }),
        trial(&handle, "moto_launcher::service_principal_never_matches_an_aws_caller", |s| async move {
            let ec2_only = s.role(&s.name("svc"), trust(json!({"Service": "ec2.amazonaws.com"})), None).await?;
            // Stock moto answers HTTP 500 here; AWS answers AccessDenied.
            expect_denied(s.assume(&s.admin, &ec2_only).await, "harness-admin", "admin assuming an ec2-only role")
        }),
        trial(&handle, "moto_launcher::non_matching_trust_statement_is_neutral", |s| async move {
            // A principal a trust policy names must exist (IAM refuses it otherwise).
            let somebody_else = s.role(&s.name("somebody-else"), trust(json!({"Service": "ec2.amazonaws.com"})), None).await?;
            let doc = json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
                {"Effect": "Allow", "Principal": {"AWS": somebody_else}, "Action": "sts:AssumeRole"},
                {"Effect": "Allow", "Principal": {"AWS": s.target.admin.arn.clone()}, "Action": "sts:AssumeRole"}]});
            let role = s.role(&s.name("neutral"), doc, None).await?;
            s.assume(&s.admin, &role).await.map(|_| ()).map_err(|e| format!("refused although one statement names the caller: {}", e.code()).into())
        }),
        trial(&handle, "moto_launcher::matching_deny_in_trust_denies", |s| async move {
            let (_, a) = s.assumer("deny-a").await?;
            let doc = json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{}:root", s.account())}, "Action": "sts:AssumeRole"},
                {"Effect": "Deny", "Principal": {"AWS": s.target.admin.arn.clone()}, "Action": "sts:AssumeRole"}]});
            let role = s.role(&s.name("deny"), doc, None).await?;
            expect_denied(s.assume(&s.admin, &role).await, "harness-admin", "the denied admin")?;
            s.assume(&a, &role).await.map(|_| ()).map_err(|e| format!("the Deny also refused another principal: {}", e.code()).into())
        }),
    ]
}

/// Conditions, identity and bucket policies, refused documents, error codes, the workload's credentials.
fn policy_trials(handle: &Handle) -> Vec<Trial> {
    let handle = handle.clone();
    vec![
        trial(&handle, "moto_launcher::trust_conditions_fail_closed", |s| async move {
            // AWS: a condition on a key the request lacks is false, so the Allow does not apply.
            // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
            let (_, caller) = s.assumer("extid-caller").await?;
            let root = format!("arn:aws:iam::{}:root", s.account());
            let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": root}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "Unique-1234"}}}]});
            let role = s.role(&s.name("extid"), doc, None).await?;
            let who = s.name("extid-caller");
            expect_denied(s.assume_with(&caller, &role, None).await, &who, "AssumeRole without the external ID")?;
            expect_denied(s.assume_with(&caller, &role, Some("Unique-9999")).await, &who, "AssumeRole with a wrong external ID")?;
            s.assume_with(&caller, &role, Some("Unique-1234")).await.map(|_| ()).map_err(|e| format!("the right external ID was refused: {}", e.code()))?;
            // A root trust narrowed to one role by aws:PrincipalArn admits that role only.
            let (narrow_arn, narrowed) = s.assumer("narrowed").await?;
            let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{}:root", s.account())}, "Action": "sts:AssumeRole",
                "Condition": {"ArnEquals": {"aws:PrincipalArn": narrow_arn}}}]});
            let role = s.role(&s.name("narrow"), doc, None).await?;
            s.assume(&narrowed, &role).await.map_err(|e| format!("the named role was refused: {}", e.code()))?;
            expect_denied(s.assume(&caller, &role).await, &who, "another role of the account")
        }),
        trial(&handle, "moto_launcher::identity_policy_conditions_and_patterns_hold", |s| async move {
            let bucket = s.bucket("cond", None).await?;
            let policy = json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "S3:LISTBUCKET", "Resource": format!("arn:aws:s3:::{bucket}"), "Condition": {"StringEquals": {"s3:prefix": "home/"}}},
                {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
                {"Effect": "Deny", "Action": "s3:ListBucket", "NotResource": format!("arn:aws:s3:::{bucket}")}]});
            let (_, session) = s.session_with("cond-reader", Some(policy)).await?;
            let who = s.name("cond-reader");
            // An Allow limited to a prefix does not list the whole bucket (moto ignored the condition).
            expect_denied(list(&session, &bucket, None).await, &who, "listing the whole bucket")?;
            // Action names ignore case; a Deny whose condition does not hold does not apply;
            // a Deny with NotResource spares the named resource (moto denied all three).
            list(&session, &bucket, Some("home/")).await.map_err(|e| format!("listing home/ was refused: {} ({})", e.code(), e.message()))?;
            // A dot in a resource pattern is a dot, not any character.
            let dotted = s.bucket("dot.x", None).await?;
            let lookalike = s.bucket("dotyx", None).await?;
            let (_, session) = s.session_with("dot-reader", Some(json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{dotted}")}]}))).await?;
            list(&session, &dotted, None).await.map_err(|e| format!("the granted bucket was refused: {}", e.code()))?;
            expect_denied(list(&session, &lookalike, None).await, "", "a bucket the dot would match as a regular expression")
        }),
        trial(&handle, "moto_launcher::bucket_policies_grant_and_deny", |s| async move {
            let (reader_arn, reader) = s.session_with("bp-reader", None).await?;
            let (denied_arn, denied) = s.session_with("bp-denied", Some(json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))).await?;
            let policy = json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": reader_arn}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::BUCKET"},
                {"Effect": "Deny", "Principal": {"AWS": denied_arn}, "Action": "s3:*", "Resource": ["arn:aws:s3:::BUCKET", "arn:aws:s3:::BUCKET/*"]}]});
            let bucket = s.bucket("bp", Some(policy)).await?;
            // Same account: the bucket policy alone allows the role it names.
            list(&reader, &bucket, None).await.map_err(|e| format!("the role the bucket policy names was refused: {}", e.code()))?;
            // Its Deny beats the role's own s3:*.
            expect_denied(list(&denied, &bucket, None).await, "", "the role the bucket policy denies")
        }),
        trial(&handle, "moto_launcher::a_missing_bucket_is_no_such_bucket_not_a_denial", |s| async move {
            let (_, nobody) = s.session_with("nsb", None).await?;
            // S3 answers NoSuchBucket for a bucket that exists nowhere, whoever asks.
            expect_code(list(&nobody, &s.name("never-created"), None).await, "NoSuchBucket", "listing a bucket that does not exist")
        }),
        trial(&handle, "moto_launcher::assume_role_into_a_missing_role_is_denied", |s| async move {
            let (_, caller) = s.assumer("missing-role").await?;
            let arn = format!("arn:aws:iam::{}:role/{}", s.account(), s.name("never-created"));
            expect_denied(s.assume(&caller, &arn).await, &s.name("missing-role"), "AssumeRole into a role that does not exist")
        }),
        trial(&handle, "moto_launcher::a_trust_naming_the_caller_needs_no_identity_grant", |s| async move {
            // https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html: within one
            // account, naming the principal in the trust policy is enough; naming the account is not.
            let (caller_arn, caller) = s.session_with("direct", None).await?;
            let named = s.role(&s.name("direct-named"), trust(json!({"AWS": caller_arn})), None).await?;
            s.assume(&caller, &named).await.map_err(|e| format!("the role naming the caller refused it: {}", e.code()))?;
            let by_root = s.role(&s.name("direct-root"), trust(json!({"AWS": format!("arn:aws:iam::{}:root", s.account())})), None).await?;
            expect_denied(s.assume(&caller, &by_root).await, &s.name("direct"), "a root trust without the identity grant")
        }),
        trial(&handle, "moto_launcher::policies_aws_refuses_are_refused", |s| async move {
            let iam = aws_sdk_iam::Client::new(&s.admin);
            let create = |name: String, doc: Value| {
                let request = iam.create_role().role_name(name).assume_role_policy_document(doc.to_string());
                async move { request.send().await.map(|_| ()).map_err(|e| call_error(&e)) }
            };
            let not_principal = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": format!("arn:aws:iam::{}:root", s.account())}, "Action": "sts:AssumeRole"}]});
            expect_code(create(s.name("np"), not_principal).await, "MalformedPolicyDocument", "a trust policy with NotPrincipal")?;
            let blog = trust(json!({"AWS": format!("arn:aws::iam::{}:root", s.account())}));
            expect_code(create(s.name("blog"), blog).await, "MalformedPolicyDocument", "the blog's malformed root ARN")?;
            let ghost = trust(json!({"AWS": format!("arn:aws:iam::{}:role/{}", s.account(), s.name("ghost"))}));
            expect_code(create(s.name("ghost-trust"), ghost).await, "MalformedPolicyDocument", "a trust naming a role that does not exist")?;
            let bucket = s.bucket("malformed", None).await?;
            let bad = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws::iam::{}:root", s.account())}, "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{bucket}")}]});
            let put = sdk::s3_client(&s.admin).put_bucket_policy().bucket(&bucket).policy(bad.to_string()).send().await.map_err(|e| call_error(&e));
            expect_code(put, "MalformedPolicy", "a bucket policy with a malformed principal")
        }),
        trial(&handle, "moto_launcher::iam_sts_and_ec2_denials_carry_their_error_code", |s| async move {
            let (_, a) = s.assumer("codes").await?;
            let caller = s.name("codes");
            let iam = aws_sdk_iam::Client::new(&a).list_roles().send().await.map_err(|e| call_error(&e));
            expect_denied(iam, &caller, "iam:ListRoles")?;
            let ec2 = aws_sdk_ec2::Client::new(&a).describe_instances().send().await.map_err(|e| call_error(&e));
            expect_denied(ec2, &caller, "ec2:DescribeInstances")?;
            let s3 = sdk::s3_client(&a).list_buckets().send().await.map_err(|e| call_error(&e));
            expect_denied(s3, "", "s3:ListBuckets")
        }),
        trial(&handle, "moto_launcher::instance_credentials_need_the_roles_ec2_trust", |s| async move {
            let (trusted, trusted_role) = s.instance("ec2-trusted", trust(json!({"Service": "ec2.amazonaws.com"}))).await?;
            let creds = s.target.instance_credentials(&trusted).await.map_err(|e| e.to_string())?;
            let config = harness::identity::session_config(&s.target.endpoint, &creds).await;
            let arn = Suite::caller_arn(&config).await?;
            let expected = format!("arn:aws:sts::{}:assumed-role/{trusted_role}/{trusted}", s.account());
            if arn != expected {
                return Err(format!("instance session is {arn}, expected {expected}").into());
            }
            let (untrusted, _) = s.instance("ec2-untrusted", trust(json!({"AWS": format!("arn:aws:iam::{}:root", s.account())}))).await?;
            match s.target.instance_credentials(&untrusted).await {
                Ok(_) => Err("EC2 got credentials for a role that does not trust ec2.amazonaws.com".into()),
                Err(e) if e.to_string().contains("AccessDenied") => Ok(()),
                Err(e) => Err(format!("expected AccessDenied, got: {e}").into()),
            }
        }),
        trial(&handle, "identity::workload_reads_imds_and_refreshes_expiring_credentials", |s| async move {
            let (instance, role) = s.instance("imds", trust(json!({"Service": "ec2.amazonaws.com"}))).await?;
            let target = s.target.clone();
            let id = instance.clone();
            let source: CredentialSource = Arc::new(move || {
                let target = target.clone();
                let id = id.clone();
                Box::pin(async move { target.instance_credentials(&id).await.map_err(|e| e.to_string()) })
            });
            // Credentials advertised for 1 s: the SDK must come back for new ones.
            let imds = ImdsServer::start(role.clone(), source, Some(Duration::from_secs(1))).await.map_err(|e| e.to_string())?;
            let workload = imds.workload_config(&s.target.endpoint).await;
            let expected = format!("arn:aws:sts::{}:assumed-role/{role}/{instance}", s.account());
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut calls = 0;
            while imds.sessions_minted() < 2 {
                let arn = Suite::caller_arn(&workload).await?;
                calls += 1;
                if arn != expected {
                    return Err(format!("call {calls} ran as {arn}, expected {expected}").into());
                }
                if Instant::now() > deadline {
                    return Err(format!("after {calls} calls the workload never fetched a second session").into());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // And the refreshed session works.
            let arn = Suite::caller_arn(&workload).await?;
            if arn == expected { Ok(()) } else { Err(format!("after refresh ran as {arn}").into()) }
        }),
    ]
}
