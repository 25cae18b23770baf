//! AWS STS: assume a role (with its session parameters), exchange a web
//! identity token or a SAML response for a role's session, make an IAM
//! user's federated-user session (GetFederationToken), and ask who the caller is.

use std::collections::BTreeMap;

use super::{FieldError, Named, Rendering, StepFields, Written};
use crate::template::Template;
pub use saml::ASSUME_ROLE_WITH_SAML;
use saml::{Assertion, AssertionRequest, SignedResponse};

pub const ASSUME_ROLE: &str = "sts:AssumeRole";
pub const ASSUME_ROLE_WITH_WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";
const GET_CALLER_IDENTITY: &str = "sts:GetCallerIdentity";
pub const GET_FEDERATION_TOKEN: &str = "sts:GetFederationToken";

/// AssumeRole's session parameters, as a scenario names them.
const SESSION_FIELDS: [&str; 7] = ["external_id", "duration_seconds", "tags", "transitive_tag_keys", "source_identity", "policy", "policy_arns"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sts<T> {
    /// `save_as`: the principal name of the new session; None for a step
    /// expected to be denied or to fail (there is no session to name).
    AssumeRole { role_arn: T, session_name: String, save_as: Option<String>, session: SessionParams<T> },
    /// As a token issuer principal: a token with these claims, exchanged for
    /// a session; `issuer` is the acting OIDC principal's, set when rendered.
    AssumeRoleWithWebIdentity { role_arn: T, session_name: String, save_as: Option<String>, issuer: String, claims: BTreeMap<String, String> },
    /// As a SAML provider principal: a response its identity provider (the
    /// harness) signs, exchanged for a session; `principal_arn` is the acting
    /// provider's unless the step names another; `signed` is set when rendered.
    AssumeRoleWithSaml { role_arn: T, principal_arn: Option<T>, session_name: String, save_as: Option<String>, assertion: Assertion, signed: Option<SignedResponse> },
    GetCallerIdentity { expect_arn: Option<T> },
    /// As an IAM user (its long-term key): a session `federated-user/<name>`
    /// (`federated_user` in a scenario),
    /// narrowed by the session's `policy` and `policy_arns` (none: it has no
    /// permissions of its own); `duration_seconds` as GetFederationToken takes it.
    GetFederationToken { name: String, save_as: Option<String>, session: SessionParams<T> },
}

impl Sts<String> {
    /// A plain AssumeRole of `role_arn` (terraform's provider's, as a step shows it).
    pub fn assume(role_arn: &str, session_name: &str) -> Self {
        Sts::AssumeRole { role_arn: role_arn.to_string(), session_name: session_name.to_string(), save_as: None, session: SessionParams::default() }
    }
}

/// What an AssumeRole step asks of its session besides the role, each as
/// AWS's API names it (`T`: a template in the scenario, a string once rendered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionParams<T> {
    pub external_id: Option<T>,
    pub duration_seconds: Option<i32>,
    /// Session tags (need sts:TagSession); they become `aws:PrincipalTag/*` of the session.
    pub tags: BTreeMap<String, String>,
    /// Tags that pass on to the sessions this session assumes.
    pub transitive_tag_keys: Vec<String>,
    /// Needs sts:SetSourceIdentity.
    pub source_identity: Option<String>,
    /// An inline session policy (JSON): it narrows the session.
    pub policy: Option<String>,
    /// Managed policies as session policies.
    pub policy_arns: Vec<T>,
}

impl<T> Default for SessionParams<T> {
    fn default() -> Self {
        Self { external_id: None, duration_seconds: None, tags: BTreeMap::new(), transitive_tag_keys: Vec::new(), source_identity: None, policy: None, policy_arns: Vec::new() }
    }
}

impl<T> SessionParams<T> {
    /// Whether the step asks for nothing beyond the role and a session name.
    pub fn is_plain(&self) -> bool {
        self.external_id.is_none()
            && self.duration_seconds.is_none()
            && self.tags.is_empty()
            && self.transitive_tag_keys.is_empty()
            && self.source_identity.is_none()
            && self.policy.is_none()
            && self.policy_arns.is_empty()
    }
}

impl SessionParams<Template> {
    /// A step's session parameters; a session policy must be JSON, and a
    /// transitive tag key one of the step's tags.
    fn parse(fields: &StepFields<'_>) -> Result<Self, FieldError> {
        let tags = fields.table("tags")?.unwrap_or_default();
        let transitive_tag_keys = fields.texts("transitive_tag_keys")?.unwrap_or_default();
        if let Some(key) = transitive_tag_keys.iter().find(|k| !tags.contains_key(*k)) {
            return Err(fields.error("transitive_tag_keys", format!("transitive tag key `{key}` is not one of the step's tags")));
        }
        let policy = fields.text("policy")?;
        if let Some(Err(err)) = policy.as_deref().map(serde_json::from_str::<serde_json::Value>) {
            return Err(fields.error("policy", format!("the session policy is not JSON: {err}")));
        }
        let duration_seconds = match fields.integer("duration_seconds")? {
            Some(seconds) => Some(i32::try_from(seconds).map_err(|_| fields.error("duration_seconds", format!("`duration_seconds` = {seconds} is out of range")))?),
            None => None,
        };
        Ok(SessionParams {
            external_id: fields.template("external_id")?,
            duration_seconds,
            tags,
            transitive_tag_keys,
            source_identity: fields.text("source_identity")?,
            policy,
            policy_arns: fields.templates("policy_arns")?,
        })
    }

    pub fn render(&self, outputs: &BTreeMap<String, String>) -> Result<SessionParams<String>, String> {
        Ok(SessionParams {
            external_id: self.external_id.as_ref().map(|t| t.render(outputs)).transpose()?,
            duration_seconds: self.duration_seconds,
            tags: self.tags.clone(),
            transitive_tag_keys: self.transitive_tag_keys.clone(),
            source_identity: self.source_identity.clone(),
            policy: self.policy.clone(),
            policy_arns: self.policy_arns.iter().map(|t| t.render(outputs)).collect::<Result<_, _>>()?,
        })
    }
}

impl SessionParams<String> {
    /// The keys an AssumeRole request carries from its parameters
    /// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html):
    /// the session name always (RoleSessionName is a required parameter).
    pub fn request_keys(&self, session_name: &str) -> Vec<(String, Vec<String>)> {
        let mut keys = vec![("sts:RoleSessionName".to_string(), vec![session_name.to_string()])];
        if let Some(id) = &self.external_id {
            keys.push(("sts:ExternalId".into(), vec![id.clone()]));
        }
        for (key, value) in &self.tags {
            keys.push((format!("aws:RequestTag/{key}"), vec![value.clone()]));
        }
        if !self.tags.is_empty() {
            keys.push(("aws:TagKeys".into(), self.tags.keys().cloned().collect()));
        }
        if !self.transitive_tag_keys.is_empty() {
            keys.push(("sts:TransitiveTagKeys".into(), self.transitive_tag_keys.clone()));
        }
        if let Some(identity) = &self.source_identity {
            keys.push(("sts:SourceIdentity".into(), vec![identity.clone()]));
        }
        keys
    }

    /// The aws CLI flags of the parameters, each value written by `quote`
    /// (shell quoting on an instance, as a person types it in a report).
    pub fn cli_flags(&self, quote: impl Fn(&str) -> String) -> String {
        let mut flags = String::new();
        if let Some(id) = &self.external_id {
            flags.push_str(&format!(" --external-id {}", quote(id)));
        }
        if let Some(seconds) = self.duration_seconds {
            flags.push_str(&format!(" --duration-seconds {seconds}"));
        }
        if !self.tags.is_empty() {
            let tags: Vec<String> = self.tags.iter().map(|(k, v)| quote(&format!("Key={k},Value={v}"))).collect();
            flags.push_str(&format!(" --tags {}", tags.join(" ")));
        }
        if !self.transitive_tag_keys.is_empty() {
            let keys: Vec<String> = self.transitive_tag_keys.iter().map(|k| quote(k)).collect();
            flags.push_str(&format!(" --transitive-tag-keys {}", keys.join(" ")));
        }
        if let Some(identity) = &self.source_identity {
            flags.push_str(&format!(" --source-identity {}", quote(identity)));
        }
        if let Some(policy) = &self.policy {
            flags.push_str(&format!(" --policy {}", quote(policy)));
        }
        if !self.policy_arns.is_empty() {
            let arns: Vec<String> = self.policy_arns.iter().map(|a| quote(&format!("arn={a}"))).collect();
            flags.push_str(&format!(" --policy-arns {}", arns.join(" ")));
        }
        flags
    }
}

impl<T> Named for Sts<T> {
    fn name(&self) -> &'static str {
        match self {
            Sts::AssumeRole { .. } => ASSUME_ROLE,
            Sts::AssumeRoleWithWebIdentity { .. } => ASSUME_ROLE_WITH_WEB_IDENTITY,
            Sts::AssumeRoleWithSaml { .. } => ASSUME_ROLE_WITH_SAML,
            Sts::GetCallerIdentity { .. } => GET_CALLER_IDENTITY,
            Sts::GetFederationToken { .. } => GET_FEDERATION_TOKEN,
        }
    }

    fn save_as(&self) -> Option<&str> {
        match self {
            Sts::AssumeRole { save_as, .. }
            | Sts::AssumeRoleWithWebIdentity { save_as, .. }
            | Sts::AssumeRoleWithSaml { save_as, .. }
            | Sts::GetFederationToken { save_as, .. } => save_as.as_deref(),
            Sts::GetCallerIdentity { .. } => None,
        }
    }
}

const SAML_FIELDS: [&str; 8] =
    ["role_arn", "principal_arn", "session_name", "save_as", Assertion::FIELDS[0], Assertion::FIELDS[1], Assertion::FIELDS[2], Assertion::FIELDS[3]];

const ASSUME_ROLE_FIELDS: [&str; 10] =
    ["role_arn", "session_name", "save_as", SESSION_FIELDS[0], SESSION_FIELDS[1], SESSION_FIELDS[2], SESSION_FIELDS[3], SESSION_FIELDS[4], SESSION_FIELDS[5], SESSION_FIELDS[6]];

impl Written for Sts<Template> {
    type Made = Sts<String>;
    const ACTIONS: &'static [(&'static str, &'static [&'static str])] = &[
        (ASSUME_ROLE, &ASSUME_ROLE_FIELDS),
        (ASSUME_ROLE_WITH_WEB_IDENTITY, &["role_arn", "session_name", "save_as", "claims"]),
        (ASSUME_ROLE_WITH_SAML, &SAML_FIELDS),
        (GET_CALLER_IDENTITY, &["expect_arn"]),
        (GET_FEDERATION_TOKEN, &["federated_user", "save_as", "policy", "policy_arns", "duration_seconds"]),
    ];

    fn parse(fields: &StepFields<'_>) -> Result<Self, FieldError> {
        let session_name = || Ok::<_, FieldError>(fields.text("session_name")?.unwrap_or_else(|| "harness".to_string()));
        Ok(match fields.action() {
            ASSUME_ROLE => Sts::AssumeRole { role_arn: fields.need("role_arn")?, session_name: session_name()?, save_as: fields.save_as()?, session: SessionParams::parse(fields)? },
            ASSUME_ROLE_WITH_WEB_IDENTITY => Sts::AssumeRoleWithWebIdentity {
                role_arn: fields.need("role_arn")?,
                session_name: session_name()?,
                save_as: fields.save_as()?,
                issuer: String::new(),
                claims: fields.table("claims")?.unwrap_or_default(),
            },
            ASSUME_ROLE_WITH_SAML => Sts::AssumeRoleWithSaml {
                role_arn: fields.need("role_arn")?,
                principal_arn: fields.template("principal_arn")?,
                session_name: session_name()?,
                save_as: fields.save_as()?,
                assertion: Assertion::parse(fields)?,
                signed: None,
            },
            // The API's Name; `name` is the step's own.
            GET_FEDERATION_TOKEN => Sts::GetFederationToken { name: fields.need_text("federated_user")?, save_as: fields.save_as()?, session: SessionParams::parse(fields)? },
            _ => Sts::GetCallerIdentity { expect_arn: fields.template("expect_arn")? },
        })
    }

    fn templates(&self) -> Vec<&Template> {
        match self {
            Sts::AssumeRole { role_arn, session, .. } => std::iter::once(role_arn).chain(&session.external_id).chain(&session.policy_arns).collect(),
            Sts::AssumeRoleWithWebIdentity { role_arn, .. } => vec![role_arn],
            Sts::AssumeRoleWithSaml { role_arn, principal_arn, .. } => std::iter::once(role_arn).chain(principal_arn).collect(),
            Sts::GetCallerIdentity { expect_arn } => expect_arn.iter().collect(),
            Sts::GetFederationToken { session, .. } => session.policy_arns.iter().collect(),
        }
    }

    fn render(&self, with: &Rendering<'_>) -> Result<Sts<String>, String> {
        Ok(match self {
            Sts::AssumeRole { role_arn, session_name, save_as, session } => Sts::AssumeRole {
                role_arn: role_arn.render(with.outputs)?,
                session_name: session_name.clone(),
                save_as: save_as.clone(),
                session: session.render(with.outputs)?,
            },
            Sts::AssumeRoleWithWebIdentity { role_arn, session_name, save_as, claims, .. } => Sts::AssumeRoleWithWebIdentity {
                role_arn: role_arn.render(with.outputs)?,
                session_name: session_name.clone(),
                save_as: save_as.clone(),
                issuer: with.issuer.unwrap_or_default().to_string(),
                claims: claims.clone(),
            },
            Sts::AssumeRoleWithSaml { role_arn, principal_arn, session_name, save_as, assertion, .. } => {
                let role_arn = role_arn.render(with.outputs)?;
                let saml = with.saml.as_ref().ok_or("sts:AssumeRoleWithSAML is made as a saml_provider principal (its identity provider signs)")?;
                let provider = principal_arn.as_ref().map(|t| t.render(with.outputs)).transpose()?.unwrap_or_else(|| saml.provider_arn.to_string());
                let request = AssertionRequest {
                    recipient: &assertion.recipient,
                    subject: &assertion.subject,
                    attributes: assertion.all_attributes(&role_arn, &provider, session_name),
                    form: assertion.form,
                };
                let signed = saml.signer.sign(&request).map_err(|why| format!("the SAML identity provider could not sign: {why}"))?;
                Sts::AssumeRoleWithSaml {
                    role_arn,
                    principal_arn: Some(provider),
                    session_name: session_name.clone(),
                    save_as: save_as.clone(),
                    assertion: assertion.clone(),
                    signed: Some(signed),
                }
            }
            Sts::GetCallerIdentity { expect_arn } => Sts::GetCallerIdentity { expect_arn: expect_arn.as_ref().map(|t| t.render(with.outputs)).transpose()? },
            Sts::GetFederationToken { name, save_as, session } => Sts::GetFederationToken { name: name.clone(), save_as: save_as.clone(), session: session.render(with.outputs)? },
        })
    }
}

/// The file on the instance that keeps the session of `role_arn` named `session_name`.
pub fn session_file(role_arn: &str, session_name: &str) -> String {
    let role = role_arn.rsplit('/').next().unwrap_or(role_arn);
    let safe = |s: &str| s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect::<String>();
    format!("session-{}-{}", safe(role), safe(session_name))
}

// What makes the calls: left out of the fuzz build (cfg fuzzing), which reads scenarios without the SDK.
#[cfg(not(fuzzing))]
mod made {
    use std::borrow::Cow;
    use std::time::{Duration, Instant, SystemTime};

    use aws_config::SdkConfig;
    use aws_sdk_sts::operation::assume_role::builders::AssumeRoleFluentBuilder;

    use super::{ASSUME_ROLE, SessionParams, Sts, session_file};
    use crate::identity::SessionCredentials;
    use crate::outcome::{self, Observed, Performed, Session};
    use crate::policy::{PolicyType, Reason};
    use crate::sdk::call_error;
    use crate::service::{Authorization, Governing, InstanceCommand, Made, NewSession, identity_rules_enforced};
    use crate::shell::{quote, word};
    use crate::target_facts::Capabilities;
    use crate::timestamp::parse_timestamp;

    // What the instance's aws CLI prints of a new session: the secret key and
    // the token go to the session file, never to the output.
    const ASSUME_QUERY: &str = "[Credentials.AccessKeyId,Credentials.SecretAccessKey,Credentials.SessionToken,Credentials.Expiration,AssumedRoleUser.Arn]";
    const ASSUME_PRINT: &str = r#"awk -F '\t' '{ print $1 "\t" $4 "\t" $5 "\t" ($3 != "" ? "token" : "none") }'"#;

    impl Made for Sts<String> {
        fn operation(&self) -> &'static str {
            match self {
                Sts::AssumeRole { .. } => "AssumeRole",
                Sts::AssumeRoleWithWebIdentity { .. } => "AssumeRoleWithWebIdentity",
                Sts::AssumeRoleWithSaml { .. } => "AssumeRoleWithSAML",
                Sts::GetCallerIdentity { .. } => "GetCallerIdentity",
                Sts::GetFederationToken { .. } => "GetFederationToken",
            }
        }

        /// The role, by its name.
        fn resource(&self) -> Option<String> {
            match self {
                Sts::AssumeRole { role_arn, .. } | Sts::AssumeRoleWithWebIdentity { role_arn, .. } | Sts::AssumeRoleWithSaml { role_arn, .. } => {
                    Some(role_arn.rsplit('/').next().unwrap_or(role_arn).to_string())
                }
                Sts::GetCallerIdentity { .. } => None,
                Sts::GetFederationToken { name, .. } => Some(format!("federated-user/{name}")),
            }
        }

        fn cli(&self) -> String {
            match self {
                Sts::AssumeRole { role_arn, session_name, session, .. } => {
                    format!("aws sts assume-role --role-arn {role_arn} --role-session-name {session_name}{}", session.cli_flags(word))
                }
                Sts::AssumeRoleWithWebIdentity { role_arn, session_name, issuer, claims, .. } => {
                    let claims: Vec<String> = claims.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!(
                        "aws sts assume-role-with-web-identity --role-arn {role_arn} --role-session-name {session_name} --web-identity-token \"$TOKEN\"   # TOKEN: issued by the harness as {issuer}: {}",
                        claims.join(", ")
                    )
                }
                Sts::AssumeRoleWithSaml { role_arn, principal_arn, assertion, .. } => {
                    let attributes: Vec<String> = assertion.attributes.iter().map(|(k, v)| format!("{}={v}", k.trim_start_matches(super::saml::AWS_ATTRIBUTES))).collect();
                    format!(
                        "aws sts assume-role-with-saml --role-arn {role_arn} --principal-arn {} --saml-assertion \"$SAML\"   # SAML: a {} response of the harness's identity provider for {} to {}{}",
                        principal_arn.as_deref().unwrap_or_default(),
                        assertion.form.as_str(),
                        assertion.subject,
                        assertion.recipient,
                        if attributes.is_empty() { String::new() } else { format!(", {}", attributes.join(", ")) }
                    )
                }
                Sts::GetCallerIdentity { .. } => "aws sts get-caller-identity".to_string(),
                Sts::GetFederationToken { name, session, .. } => format!("aws sts get-federation-token --name {name}{}", session.cli_flags(word)),
            }
        }

        fn authorization(&self, _partition: &str) -> Authorization<'_> {
            match self {
                Sts::AssumeRole { role_arn, session_name, session, .. } => Authorization::Request {
                    action: ASSUME_ROLE,
                    resource: role_arn.clone(),
                    governed_by: Governing::Role { arn: role_arn, session },
                    keys: session.request_keys(session_name),
                },
                Sts::AssumeRoleWithWebIdentity { role_arn, issuer, claims, .. } => Authorization::WebIdentity { role_arn, issuer, claims },
                Sts::AssumeRoleWithSaml { role_arn, principal_arn: Some(provider_arn), assertion, signed: Some(signed), .. } => Authorization::Saml { role_arn, provider_arn, assertion, signed },
                Sts::AssumeRoleWithSaml { .. } => Authorization::Harness("an unrendered SAML step"),
                Sts::GetCallerIdentity { .. } => Authorization::NoneNeeded("sts:GetCallerIdentity needs no permission"),
                Sts::GetFederationToken { name, .. } => {
                    Authorization::Request { action: super::GET_FEDERATION_TOKEN, resource: name.clone(), governed_by: Governing::Federation(name), keys: Vec::new() }
                }
            }
        }

        /// The rule the predicted denial names is the one the target must
        /// enforce, and so is every session parameter the step passes.
        fn denial_verifiable(&self, caps: &Capabilities, predicted: Option<&Reason>) -> Result<(), &'static str> {
            match self {
                Sts::AssumeRole { session, .. } => {
                    match predicted.and_then(|p| p.policy_type) {
                        Some(PolicyType::Identity) if !caps.identity_policies => return Err("the target does not enforce identity policies"),
                        Some(PolicyType::Identity) => {}
                        _ if !caps.trust_policies => return Err("the target does not enforce trust policies"),
                        _ => {}
                    }
                    if session.external_id.is_some() && !caps.trust_conditions {
                        return Err("the target does not check trust policy conditions (sts:ExternalId)");
                    }
                    if !session.tags.is_empty() && !caps.session_tags {
                        return Err("the target does not require sts:TagSession for session tags");
                    }
                    if session.duration_seconds.is_some() && !caps.session_durations {
                        return Err("the target does not check session durations");
                    }
                    identity_rules_enforced(caps, predicted)
                }
                Sts::AssumeRoleWithWebIdentity { .. } => {
                    if caps.web_identity { Ok(()) } else { Err("the target does not check web identity tokens against trust policies") }
                }
                Sts::AssumeRoleWithSaml { .. } => {
                    if caps.saml { Ok(()) } else { Err("the target does not check SAML responses (their signature) and trust policies") }
                }
                Sts::GetCallerIdentity { .. } | Sts::GetFederationToken { .. } => identity_rules_enforced(caps, predicted),
            }
        }

        async fn perform(&self, config: &SdkConfig) -> Performed {
            let start = Instant::now();
            let client = aws_sdk_sts::Client::new(config);
            let failed = |err| outcome::failed(self.operation(), err, start.elapsed());
            match self {
                Sts::AssumeRole { role_arn, session_name, session, .. } => match with_params(session, client.assume_role().role_arn(role_arn).role_session_name(session_name)).send().await {
                    Ok(out) => assumed(role_arn, session_name, out.credentials(), out.assumed_role_user().map(|u| u.arn()), start.elapsed()),
                    Err(err) => failed(call_error(&err)),
                },
                Sts::AssumeRoleWithWebIdentity { role_arn, session_name, issuer, claims, .. } => {
                    let token = crate::web_token::issue(issuer, claims);
                    match client.assume_role_with_web_identity().role_arn(role_arn).role_session_name(session_name).web_identity_token(token).send().await {
                        Ok(out) => assumed(role_arn, session_name, out.credentials(), out.assumed_role_user().map(|u| u.arn()), start.elapsed()),
                        Err(err) => failed(call_error(&err)),
                    }
                }
                Sts::AssumeRoleWithSaml { role_arn, principal_arn, session_name, signed, .. } => {
                    let encoded = signed.as_ref().map(|s| s.encoded.clone()).unwrap_or_default();
                    let request = client.assume_role_with_saml().role_arn(role_arn).set_principal_arn(principal_arn.clone()).saml_assertion(encoded);
                    match request.send().await {
                        Ok(out) => assumed(role_arn, session_name, out.credentials(), out.assumed_role_user().map(|u| u.arn()), start.elapsed()),
                        Err(err) => failed(call_error(&err)),
                    }
                }
                Sts::GetFederationToken { name, session, .. } => super::federation::perform(&client, name, session, start).await,
                Sts::GetCallerIdentity { expect_arn } => match client.get_caller_identity().send().await {
                    Ok(out) => outcome::caller(
                        expect_arn.as_deref(),
                        out.user_id().unwrap_or_default(),
                        out.account().unwrap_or_default(),
                        out.arn().unwrap_or_default(),
                        start.elapsed(),
                    ),
                    Err(err) => failed(call_error(&err)),
                },
            }
        }

        fn on_instance(&self) -> Result<InstanceCommand, &'static str> {
            match self {
                Sts::AssumeRole { role_arn, session_name, session, .. } => {
                    let file = session_file(role_arn, session_name);
                    Ok(InstanceCommand {
                        prepare: String::new(),
                        command: format!(
                            "aws sts assume-role --role-arn {} --role-session-name {}{} --query '{ASSUME_QUERY}' --output text",
                            quote(role_arn),
                            quote(session_name),
                            session.cli_flags(quote)
                        ),
                        stdout_to: "\"new.$$\"".into(),
                        on_success: format!("mv \"new.$$\" {f} && {ASSUME_PRINT} {f} >\"out.$$\"", f = quote(&file)),
                        saves: Some(file),
                    })
                }
                Sts::GetCallerIdentity { .. } => Ok(InstanceCommand::printing("aws sts get-caller-identity --output json".to_string())),
                Sts::AssumeRoleWithWebIdentity { .. } => Err("a web identity token is exchanged by the harness, not on the instance"),
                Sts::AssumeRoleWithSaml { .. } => Err("a SAML response is exchanged by the harness, not on the instance"),
                Sts::GetFederationToken { .. } => Err("GetFederationToken needs an IAM user's long-term key; an instance holds a role's session"),
            }
        }

        fn read_on_instance(&self, stdout: &str, elapsed: Duration) -> Performed {
            match self {
                Sts::GetCallerIdentity { expect_arn } => {
                    let answer = serde_json::from_str::<serde_json::Value>(stdout).unwrap_or(serde_json::Value::Null);
                    let text = |key: &str| answer[key].as_str().unwrap_or_default().to_string();
                    outcome::caller(expect_arn.as_deref(), &text("UserId"), &text("Account"), &text("Arn"), elapsed)
                }
                Sts::AssumeRole { role_arn, session_name, .. } => {
                    let fields: Vec<&str> = stdout.trim_end_matches('\n').split('\t').collect();
                    let field = |i: usize| fields.get(i).copied().unwrap_or_default();
                    let session = Session { access_key_id: field(0), has_token: field(3) == "token", expiration: cli_timestamp(field(1)), assumed_arn: field(2) };
                    outcome::assumed_session(role_arn, session_name, &session, elapsed)
                }
                Sts::AssumeRoleWithWebIdentity { .. } | Sts::AssumeRoleWithSaml { .. } | Sts::GetFederationToken { .. } => {
                    let mut done = Performed::new(Observed::Allowed, elapsed);
                    done.mismatch = Some("this call is the harness's, it does not run on the instance".into());
                    done
                }
            }
        }

        fn new_session(&self) -> Option<NewSession<'_>> {
            match self {
                Sts::AssumeRole { role_arn, session_name, save_as: Some(save_as), session } => Some(NewSession { save_as, role_arn, session_name, params: Cow::Borrowed(session), federated: false }),
                Sts::AssumeRoleWithWebIdentity { role_arn, session_name, save_as: Some(save_as), .. } => {
                    Some(NewSession { save_as, role_arn, session_name, params: Cow::Owned(SessionParams::default()), federated: false })
                }
                // Its PrincipalTag attributes are the session's tags.
                Sts::AssumeRoleWithSaml { role_arn, session_name, save_as: Some(save_as), assertion, .. } => {
                    let params = SessionParams { tags: assertion.session_tags(), ..SessionParams::default() };
                    Some(NewSession { save_as, role_arn, session_name, params: Cow::Owned(params), federated: false })
                }
                Sts::GetFederationToken { name, save_as: Some(save_as), session } => {
                    Some(NewSession { save_as, role_arn: "", session_name: name, params: Cow::Borrowed(session), federated: true })
                }
                _ => None,
            }
        }
    }

    /// The CLI prints timestamps as RFC 3339 with `Z` (v1) or `+00:00` (v2).
    fn cli_timestamp(text: &str) -> Option<SystemTime> {
        parse_timestamp(text).ok().or_else(|| {
            let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
            Some(SystemTime::from(parsed))
        })
    }

    pub(super) fn assumed(role_arn: &str, session_name: &str, credentials: Option<&aws_sdk_sts::types::Credentials>, assumed_arn: Option<&str>, latency: Duration) -> Performed {
        let Some(c) = credentials else {
            let mut done = Performed::new(Observed::Allowed, latency);
            done.mismatch = Some("AssumeRole returned no Credentials".into());
            return done;
        };
        let credentials = SessionCredentials::from(c);
        let session = Session {
            access_key_id: &credentials.access_key_id,
            has_token: !credentials.session_token.expose().is_empty(),
            expiration: Some(credentials.expiration),
            assumed_arn: assumed_arn.unwrap_or_default(),
        };
        let mut done = outcome::assumed_session(role_arn, session_name, &session, latency);
        done.session = Some(credentials);
        done
    }

    /// The AssumeRole request with the step's session parameters.
    fn with_params(params: &SessionParams<String>, request: AssumeRoleFluentBuilder) -> AssumeRoleFluentBuilder {
        use aws_sdk_sts::types::{PolicyDescriptorType, Tag};
        let tags = params.tags.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok());
        let arns = params.policy_arns.iter().map(|arn| PolicyDescriptorType::builder().arn(arn).build());
        request
            .set_external_id(params.external_id.clone())
            .set_duration_seconds(params.duration_seconds)
            .set_tags((!params.tags.is_empty()).then(|| tags.collect()))
            .set_transitive_tag_keys((!params.transitive_tag_keys.is_empty()).then(|| params.transitive_tag_keys.clone()))
            .set_source_identity(params.source_identity.clone())
            .set_policy(params.policy.clone())
            .set_policy_arns((!params.policy_arns.is_empty()).then(|| arns.collect()))
    }
}

#[cfg(not(fuzzing))]
mod federation;
pub mod saml;
#[cfg(test)]
mod tests;
