//! Probes of what a target really enforces, run before any scenario. A
//! negative step is only evidence on a target that enforces the policy it
//! depends on; elsewhere its verdict is UNVERIFIED.
//!
//! - identity_policies: a fresh IAM user with no policy calls s3:ListBuckets;
//!   enforced if refused with AccessDenied.
//! - trust_policies: the admin (allowed `*`) assumes a role that trusts only
//!   ec2.amazonaws.com; enforced if refused.
//! - role_session_principals: a session of role A assumes role B whose trust
//!   names A's ARN; matched (as on AWS) if allowed.
//! - trust_conditions: a role whose trust requires an external ID; enforced
//!   if the admin is refused without it and let in with it.
//! - session_tags: the admin passes a session tag to A, whose trust does not
//!   allow sts:TagSession; enforced if refused.
//! - session_durations: the admin asks A (maximum one hour) for two hours;
//!   checked if refused with ValidationError.
//! - session_policies: a session of A narrowed to s3:ListAllMyBuckets
//!   assumes B (which A's own policy allows); applied if refused.
//! - web_identity: a role trusting a probe OIDC provider for one `sub`:
//!   checked if a token with another `sub` is refused and one with it is not.
//! - saml: a role trusting a probe SAML provider; checked if an unsigned
//!   response naming it is refused with InvalidIdentityToken (a target that
//!   checks signatures; the scenarios' own steps show it accepts signed ones).
//! - key_policies: a KMS key whose policy lets the admin manage it but not
//!   encrypt; enforced if the admin's Encrypt is refused (`service::kms::probe`).
//! - public_access_block: a bucket whose policy grants everyone a read; applied
//!   if an unsigned read passes, then is refused once the bucket restricts
//!   public buckets (`service::s3::probe`).

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::naming::{HARNESS_TAG_KEY, HARNESS_TAG_VALUE, PROBE_ISSUER_DOMAIN};
use crate::sdk::{self, Endpoint, call_error, is_access_denied};
use crate::target_facts::Capabilities;

/// What one probe saw, for the report when a probe could not decide.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ProbeNotes(pub Vec<String>);

/// The external ID the probe role requires.
const PROBE_EXTERNAL_ID: &str = "harness-probe";
const LIST_BUCKETS_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#;

fn probe_tag() -> aws_sdk_sts::types::Tag {
    aws_sdk_sts::types::Tag::builder().key("harness-probe").value("1").build().expect("key and value are set")
}

const ALLOW_ALL_ASSUME: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;

fn harness_tag() -> aws_sdk_iam::types::Tag {
    aws_sdk_iam::types::Tag::builder().key(HARNESS_TAG_KEY).value(HARNESS_TAG_VALUE).build().expect("key and value are set")
}

fn trust(principal: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRole"}}]}}"#)
}

/// Run the probes as the admin; every probe resource is named with `prefix`,
/// tagged as the harness's, and deleted afterwards.
pub async fn probe(admin: &SdkConfig, endpoint: &Endpoint, account_id: &str, prefix: &str) -> (Capabilities, ProbeNotes) {
    let mut probes = Probes { iam: aws_sdk_iam::Client::new(admin), sts: aws_sdk_sts::Client::new(admin), endpoint, notes: ProbeNotes::default() };
    let identity_policies = probes.identity_policies(&format!("{prefix}-user")).await;
    let caps = probes.role_rules(account_id, prefix).await;
    let web_identity = probes.web_identity(prefix).await;
    let saml = probes.saml(prefix).await;
    let key_policies = probes.key_policies(admin, prefix).await;
    let public_access_block = match crate::service::s3::probe(admin, endpoint, &format!("{prefix}-bpa")).await {
        Ok(applied) => applied,
        Err(note) => {
            probes.note(note);
            false
        }
    };
    (Capabilities { identity_policies, web_identity, key_policies, public_access_block, saml, ..caps }, probes.notes)
}

/// The admin's clients, and what the probes saw when they could not decide.
struct Probes<'a> {
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    endpoint: &'a Endpoint,
    notes: ProbeNotes,
}

impl Probes<'_> {
    fn note(&mut self, note: String) {
        self.notes.0.push(note);
    }

    /// KMS's own probe (in its service's file), as the admin whose ARN the key policy names.
    async fn key_policies(&mut self, admin: &SdkConfig, prefix: &str) -> bool {
        let admin_arn = match self.sts.get_caller_identity().send().await {
            Ok(me) => me.arn().unwrap_or_default().to_string(),
            Err(err) => {
                self.note(format!("kms probe: GetCallerIdentity failed: {}", call_error(&err).code()));
                return false;
            }
        };
        match crate::service::kms::probe(admin, &admin_arn, &format!("{prefix}-key")).await {
            Ok(enforced) => enforced,
            Err(note) => {
                self.note(note);
                false
            }
        }
    }

    /// A fresh user with no policy lists buckets: enforced if refused.
    async fn identity_policies(&mut self, user: &str) -> bool {
        if let Err(err) = self.iam.create_user().user_name(user).tags(harness_tag()).send().await {
            self.note(format!("identity probe: CreateUser failed: {}", call_error(&err).code()));
            return false;
        }
        let enforced = match self.iam.create_access_key().user_name(user).send().await {
            Ok(out) => match out.access_key() {
                Some(key) => {
                    let enforced = self.refuses_a_user_without_policies(key).await;
                    let _ = self.iam.delete_access_key().user_name(user).access_key_id(key.access_key_id()).send().await;
                    enforced
                }
                None => false,
            },
            Err(err) => {
                self.note(format!("identity probe: CreateAccessKey failed: {}", call_error(&err).code()));
                false
            }
        };
        let _ = self.iam.delete_user().user_name(user).send().await;
        enforced
    }

    async fn refuses_a_user_without_policies(&mut self, key: &aws_sdk_iam::types::AccessKey) -> bool {
        let creds = Credentials::new(key.access_key_id(), key.secret_access_key(), None, None, "probe");
        let config = sdk::config_with(self.endpoint, SharedCredentialsProvider::new(creds)).await;
        let Err(err) = sdk::s3_client(&config).list_buckets().send().await else {
            self.note("a user with no policy could list buckets".into());
            return false;
        };
        let code = call_error(&err).code().to_string();
        let enforced = is_access_denied(&code);
        if !enforced {
            self.note(format!("identity probe got {code}"));
        }
        enforced
    }

    /// Four roles: one trusting only EC2 (the admin must be refused), A
    /// trusting the account, B trusting A's ARN (A's session must get in),
    /// D trusting the account with an external ID. What the target enforces
    /// of trust policies and of AssumeRole's session parameters.
    async fn role_rules(&mut self, account_id: &str, prefix: &str) -> Capabilities {
        let root = format!(r#"{{"AWS":"arn:aws:iam::{account_id}:root"}}"#);
        let roles = [
            (format!("{prefix}-ec2-only"), trust(r#"{"Service":"ec2.amazonaws.com"}"#)),
            (format!("{prefix}-a"), trust(&root)),
            (format!("{prefix}-b"), trust(&format!(r#"{{"AWS":"arn:aws:iam::{account_id}:role/{prefix}-a"}}"#))),
            (
                format!("{prefix}-d"),
                format!(
                    r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{root},"Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"sts:ExternalId":"{PROBE_EXTERNAL_ID}"}}}}}}]}}"#
                ),
            ),
        ];
        let mut created = Vec::new();
        for (name, policy) in &roles {
            match self.iam.create_role().role_name(name).assume_role_policy_document(policy).tags(harness_tag()).send().await {
                Ok(out) => created.push((name.clone(), out.role().map(|r| r.arn().to_string()).unwrap_or_default())),
                Err(err) => self.note(format!("trust probe: CreateRole failed: {}", call_error(&err).code())),
            }
        }
        let mut caps = Capabilities::default();
        if let [(_, ec2_only), (a_name, a), (_, b), (_, d)] = created.as_slice() {
            caps.trust_policies = self.refuses_the_admin(ec2_only).await;
            caps.trust_conditions = caps.trust_policies && self.checks_the_external_id(d).await;
            caps.session_tags = self.refuses("session tags without sts:TagSession", self.sts.assume_role().role_arn(a).role_session_name("probe").tags(probe_tag())).await;
            caps.session_durations = self.refuses("two hours of a one-hour role", self.sts.assume_role().role_arn(a).role_session_name("probe").duration_seconds(7200)).await;
            (caps.role_session_principals, caps.session_policies) = self.session_gets_in(a_name, a, b).await;
        }
        for (name, _) in &created {
            let _ = self.iam.delete_role().role_name(name).send().await;
        }
        caps
    }

    /// A probe OIDC provider and a role trusting its tokens for one `sub`:
    /// a token with another `sub` must be refused, one with it let in.
    async fn web_identity(&mut self, prefix: &str) -> bool {
        let issuer = format!("{prefix}{PROBE_ISSUER_DOMAIN}");
        let provider = match self
            .iam
            .create_open_id_connect_provider()
            .url(format!("https://{issuer}"))
            .client_id_list("sts.amazonaws.com")
            .thumbprint_list("0".repeat(40))
            .tags(harness_tag())
            .send()
            .await
        {
            Ok(out) => out.open_id_connect_provider_arn().unwrap_or_default().to_string(),
            Err(err) => {
                self.note(format!("web identity probe: CreateOpenIDConnectProvider failed: {}", call_error(&err).code()));
                return false;
            }
        };
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{issuer}:sub":"allowed","{issuer}:aud":"sts.amazonaws.com"}}}}}}]}}"#
        );
        let name = format!("{prefix}-web");
        let checked = match self.iam.create_role().role_name(&name).assume_role_policy_document(trust).tags(harness_tag()).send().await {
            Ok(out) => {
                let role = out.role().map(|r| r.arn().to_string()).unwrap_or_default();
                let sts = aws_sdk_sts::Client::new(&sdk::anonymous_config(self.endpoint).await);
                let exchange = |sub: &str| {
                    let claims = [("sub".to_string(), sub.to_string()), ("aud".to_string(), "sts.amazonaws.com".to_string())].into();
                    sts.assume_role_with_web_identity().role_arn(&role).role_session_name("probe").web_identity_token(crate::web_token::issue(&issuer, &claims)).send()
                };
                let refused = exchange("another").await.is_err_and(|e| is_access_denied(call_error(&e).code()));
                let admitted = exchange("allowed").await;
                if let Err(err) = &admitted {
                    self.note(format!("a web identity token the trust allows was refused: {}", call_error(err).code()));
                } else if !refused {
                    self.note("a web identity token the trust does not allow was accepted".into());
                }
                let _ = self.iam.delete_role().role_name(&name).send().await;
                refused && admitted.is_ok()
            }
            Err(err) => {
                self.note(format!("web identity probe: CreateRole failed: {}", call_error(&err).code()));
                false
            }
        };
        let _ = self.iam.delete_open_id_connect_provider().open_id_connect_provider_arn(&provider).send().await;
        checked
    }

    /// A probe SAML provider and a role trusting it: an unsigned response
    /// naming both must be refused as STS refuses it (InvalidIdentityToken).
    async fn saml(&mut self, prefix: &str) -> bool {
        let entity = format!("https://{prefix}{PROBE_ISSUER_DOMAIN}");
        // Attributes apart by newlines: moto's signature check misreads a form body's %20.
        let metadata = format!(
            "<md:EntityDescriptor\nxmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\"\nentityID=\"{entity}\"><md:IDPSSODescriptor\nprotocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"><md:SingleSignOnService\nBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\"\nLocation=\"{entity}/sso\"/></md:IDPSSODescriptor></md:EntityDescriptor>"
        );
        let provider = match self.iam.create_saml_provider().name(format!("{prefix}-saml")).saml_metadata_document(metadata).tags(harness_tag()).send().await {
            Ok(out) => out.saml_provider_arn().unwrap_or_default().to_string(),
            Err(err) => {
                self.note(format!("SAML probe: CreateSAMLProvider failed: {}", call_error(&err).code()));
                return false;
            }
        };
        let trust = format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},"Action":"sts:AssumeRoleWithSAML"}}]}}"#);
        let name = format!("{prefix}-saml");
        let checked = match self.iam.create_role().role_name(&name).assume_role_policy_document(trust).tags(harness_tag()).send().await {
            Ok(out) => {
                let role = out.role().map(|r| r.arn().to_string()).unwrap_or_default();
                let sts = aws_sdk_sts::Client::new(&sdk::anonymous_config(self.endpoint).await);
                let unsigned = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, unsigned_saml_response(&entity, &role, &provider));
                match sts.assume_role_with_saml().role_arn(&role).principal_arn(&provider).saml_assertion(unsigned).send().await {
                    Err(err) if call_error(&err).code() == "InvalidIdentityToken" => true,
                    Err(err) => {
                        self.note(format!("an unsigned SAML response was refused with {}, not InvalidIdentityToken", call_error(&err).code()));
                        false
                    }
                    Ok(_) => {
                        self.note("an unsigned SAML response was accepted".into());
                        false
                    }
                }
            }
            Err(err) => {
                self.note(format!("SAML probe: CreateRole failed: {}", call_error(&err).code()));
                false
            }
        };
        let _ = self.iam.delete_role().role_name(&name).send().await;
        let _ = self.iam.delete_saml_provider().saml_provider_arn(&provider).send().await;
        checked
    }

    /// Whether the admin's AssumeRole `request` is refused (AccessDenied or ValidationError, as AWS would).
    async fn refuses(&mut self, what: &str, request: aws_sdk_sts::operation::assume_role::builders::AssumeRoleFluentBuilder) -> bool {
        match request.send().await {
            Ok(_) => {
                self.note(format!("the target allowed {what}"));
                false
            }
            Err(err) => {
                let code = call_error(&err).code().to_string();
                let refused = is_access_denied(&code) || code == "ValidationError";
                if !refused {
                    self.note(format!("{what}: got {code}"));
                }
                refused
            }
        }
    }

    /// D trusts the account with an external ID: refused without it, let in with it.
    async fn checks_the_external_id(&mut self, d: &str) -> bool {
        let without = self.refuses("AssumeRole without the external ID a trust requires", self.sts.assume_role().role_arn(d).role_session_name("probe")).await;
        let with = self.sts.assume_role().role_arn(d).role_session_name("probe").external_id(PROBE_EXTERNAL_ID).send().await;
        if let Err(err) = &with {
            self.note(format!("AssumeRole with the right external ID was refused: {}", call_error(err).code()));
        }
        without && with.is_ok()
    }

    /// The admin (allowed `*`) assumes a role that trusts only EC2: enforced if refused.
    async fn refuses_the_admin(&mut self, ec2_only: &str) -> bool {
        let Err(err) = self.sts.assume_role().role_arn(ec2_only).role_session_name("probe").send().await else {
            self.note("the admin assumed a role that trusts only ec2.amazonaws.com".into());
            return false;
        };
        let code = call_error(&err).code().to_string();
        let enforced = is_access_denied(&code);
        if !enforced {
            self.note(format!("trust probe got {code}"));
        }
        enforced
    }

    /// A session of role A assumes role B, whose trust names A's ARN:
    /// matched (as on AWS) if allowed. Then a session of A narrowed by a
    /// session policy to s3:ListAllMyBuckets tries the same: session
    /// policies are applied if it is refused.
    async fn session_gets_in(&mut self, a_name: &str, a: &str, b: &str) -> (bool, bool) {
        let _ = self.iam.put_role_policy().role_name(a_name).policy_name("assume").policy_document(ALLOW_ALL_ASSUME).send().await;
        let matched = self.a_session_assumes_b(a, b, None).await;
        let narrowed = matched && !self.a_session_assumes_b(a, b, Some(LIST_BUCKETS_ONLY)).await;
        if matched && !narrowed {
            self.note("a session narrowed by a session policy to s3:ListAllMyBuckets could still assume a role".into());
        }
        let _ = self.iam.delete_role_policy().role_name(a_name).policy_name("assume").send().await;
        (matched, narrowed)
    }

    async fn a_session_assumes_b(&mut self, a: &str, b: &str, session_policy: Option<&str>) -> bool {
        let out = match self.sts.assume_role().role_arn(a).role_session_name("probe").set_policy(session_policy.map(str::to_string)).send().await {
            Ok(out) => out,
            Err(err) => {
                self.note(format!("session probe: the admin could not assume a role trusting the account: {}", call_error(&err).code()));
                return false;
            }
        };
        let Some(c) = out.credentials() else { return false };
        let creds = Credentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().to_string()), None, "probe");
        let config = sdk::config_with(self.endpoint, SharedCredentialsProvider::new(creds)).await;
        match aws_sdk_sts::Client::new(&config).assume_role().role_arn(b).role_session_name("probe").send().await {
            Ok(_) => true,
            Err(err) => {
                if session_policy.is_none() {
                    self.note(format!("a session of a role trusted by ARN was refused: {}", call_error(&err).code()));
                }
                false
            }
        }
    }
}

/// A SAML response with no signature, otherwise as STS wants it: what a
/// target that checks signatures refuses.
fn unsigned_saml_response(issuer: &str, role: &str, provider: &str) -> String {
    let until = crate::timestamp::format_timestamp(std::time::SystemTime::now() + std::time::Duration::from_secs(300));
    let attribute = |name: &str, value: &str| {
        format!(r#"<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/{name}"><saml:AttributeValue>{value}</saml:AttributeValue></saml:Attribute>"#)
    };
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_probe" Version="2.0" IssueInstant="{until}"><saml:Issuer>{issuer}</saml:Issuer><saml:Assertion ID="_probe-assertion" Version="2.0" IssueInstant="{until}"><saml:Issuer>{issuer}</saml:Issuer><saml:Subject><saml:NameID>probe</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="{}"/></saml:SubjectConfirmation></saml:Subject><saml:AttributeStatement>{}{}</saml:AttributeStatement></saml:Assertion></samlp:Response>"#,
        crate::service::sts::saml::RECIPIENT,
        attribute("Role", &format!("{role},{provider}")),
        attribute("RoleSessionName", "probe"),
    )
}
