//! The AWS services a step calls, one module each. A service's module holds,
//! for its actions: the scenario fields and their parsing ([`Written`]), the
//! IAM action and resource the evaluator decides, the SDK call, the `aws`
//! CLI text, the script a real instance runs and the reading of its output,
//! and what a denial needs the target to enforce ([`Made`]). The rest of the
//! harness goes through [`Action`], whose one registry line per service is
//! at the bottom of this file. README's "Adding a service" walks the recipe.

pub mod ec2;
mod fields;
pub mod kms;
pub mod rds;
pub mod s3;
pub mod sts;

use std::borrow::Cow;
use std::collections::BTreeMap;

pub use fields::{FieldError, MakeTemplate, StepFields};
#[cfg(not(fuzzing))]
pub use made::{Made, identity_rules_enforced};
use crate::template::Template;
use sts::SessionParams;

/// What every action is, written or made.
pub trait Named {
    /// The IAM action, as a scenario writes it and reports show it.
    fn name(&self) -> &'static str;
    /// The principal name of the session the action makes, if it makes one.
    fn save_as(&self) -> Option<&str> {
        None
    }
}

/// A service's actions as a scenario writes them (`T` = [`Template`]).
pub trait Written: Sized {
    type Made;
    /// Each action a scenario may name, with the fields it takes.
    const ACTIONS: &'static [(&'static str, &'static [&'static str])];
    /// The action `fields.action()` names, one of [`Self::ACTIONS`].
    fn parse(fields: &StepFields<'_>) -> Result<Self, FieldError>;
    /// Every `${output}` template the action holds.
    fn templates(&self) -> Vec<&Template>;
    /// The action with its templates rendered; Err: the first unknown output.
    fn render(&self, with: &Rendering<'_>) -> Result<Self::Made, String>;
}

/// What a rendering knows besides the action: the applied config's outputs
/// and, for a token exchange, the issuer of the acting OIDC principal; for
/// a SAML exchange, the acting SAML provider and the identity provider that signs.
pub struct Rendering<'a> {
    pub outputs: &'a BTreeMap<String, String>,
    pub issuer: Option<&'a str>,
    pub saml: Option<SamlRendering<'a>>,
    /// The target's partition and account (what an ARN the step makes names).
    pub account: Option<(&'a str, &'a str)>,
    /// Where an embedded target's databases are reached.
    pub databases: Option<&'a dyn rds::DatabaseFronts>,
}

/// The acting SAML provider principal's ARN and the run's identity provider.
pub struct SamlRendering<'a> {
    pub provider_arn: &'a str,
    pub signer: &'a dyn sts::saml::AssertionSigner,
}

/// What makes the calls: left out of the fuzz build (cfg fuzzing), which
/// reads scenarios without the SDK.
#[cfg(not(fuzzing))]
mod made {
    use std::future::Future;
    use std::time::Duration;

    use aws_config::SdkConfig;

    use super::{Authorization, InstanceCommand, NewSession};
    use crate::outcome::Performed;
    use crate::policy::{PolicyType, Reason};
    use crate::target_facts::Capabilities;

    /// A service's actions ready to make (`T` = String).
    pub trait Made {
        /// The API operation (what `aws` names in its errors).
        fn operation(&self) -> &'static str;
        /// What the call acts on, as a person names it; None for who-am-I.
        fn resource(&self) -> Option<String>;
        /// The `aws` command a person would type for the same call.
        fn cli(&self) -> String;
        /// What the evaluator must decide for the call.
        fn authorization(&self, partition: &str) -> Authorization<'_>;
        /// Whether a refusal is evidence on a target with `caps`; Err: what it does not enforce.
        fn denial_verifiable(&self, caps: &Capabilities, predicted: Option<&Reason>) -> Result<(), &'static str> {
            identity_rules_enforced(caps, predicted)
        }
        /// Make the call here, with the SDK, as the principal whose config is `config`.
        fn perform(&self, config: &SdkConfig) -> impl Future<Output = Performed> + Send;
        /// The call as an `aws` command on a real instance; Err: why it is not made there.
        fn on_instance(&self) -> Result<InstanceCommand, &'static str>;
        /// An allowed call's answer, from what the instance's `aws` printed.
        fn read_on_instance(&self, stdout: &str, elapsed: Duration) -> Performed;
        /// The session the call makes, if it is expected to make one.
        fn new_session(&self) -> Option<NewSession<'_>> {
            None
        }
    }

    /// The rules every call made with credentials depends on: identity policies,
    /// session policies when the predicted denial is a session policy's, an
    /// Organization's SCPs and RCPs when it is theirs, and a KMS key's policy
    /// when it is the key S3 uses (SSE-KMS).
    pub fn identity_rules_enforced(caps: &Capabilities, predicted: Option<&Reason>) -> Result<(), &'static str> {
        if !caps.identity_policies {
            return Err("the target does not enforce identity policies");
        }
        match predicted.and_then(|p| p.policy_type) {
            Some(PolicyType::Session) if !caps.session_policies => Err("the target does not apply session policies"),
            Some(PolicyType::Scp | PolicyType::Rcp) if !caps.organization_policies => Err("the target does not enforce an Organization's SCPs and RCPs"),
            // An S3 call refused by the KMS key S3 would use for it (SSE-KMS).
            Some(PolicyType::KeyPolicy) if !caps.key_policies => Err("the target does not enforce KMS key policies"),
            Some(PolicyType::PublicAccessBlock) if !caps.public_access_block => Err("the target does not apply S3 Block Public Access"),
            Some(PolicyType::TokenExpiry) if !caps.rds_iam_auth => Err("the target does not check IAM database authentication tokens"),
            _ => Ok(()),
        }
    }
}

/// What the evaluator decides for a call.
#[derive(Debug)]
pub enum Authorization<'a> {
    /// AWS asks no permission for it.
    NoneNeeded(&'static str),
    /// Not a principal's call: the harness's own, made as the admin.
    Harness(&'static str),
    /// A request: the IAM action, the resource's ARN, the resource whose
    /// policy takes part, and the keys the request itself carries.
    Request { action: &'static str, resource: String, governed_by: Governing<'a>, keys: Vec<(String, Vec<String>)> },
    /// Refused before any policy is read (an RDS auth token past its 15 minutes): the rule, and why.
    Refused { rule: crate::policy::PolicyType, why: String },
    /// A token exchanged for a session: STS checks the provider, then the trust.
    WebIdentity { role_arn: &'a str, issuer: &'a str, claims: &'a BTreeMap<String, String> },
    /// A SAML response exchanged for a session: STS checks the response
    /// against the provider, the role and provider pair, then the trust.
    Saml { role_arn: &'a str, provider_arn: &'a str, assertion: &'a sts::saml::Assertion, signed: &'a sts::saml::SignedResponse },
}

/// The resource of a request whose own policy the predictor reads.
#[derive(Debug)]
pub enum Governing<'a> {
    /// A role to assume: its trust policy, and what STS checks of the session asked for.
    Role { arn: &'a str, session: &'a SessionParams<String> },
    /// A bucket: its policy, and the account that owns it.
    Bucket(&'a str),
    /// A KMS key (its ARN): its key policy.
    Key(&'a str),
    /// GetFederationToken's federated user (its name): the caller's own policies alone.
    Federation(&'a str),
    /// No resource policy takes part (rds-db:connect): the caller's own policies decide.
    CallerOnly,
}

/// A call as an `aws` command in the instance script. The script's files,
/// in its own folder: what it prints as the answer is `out.$$`; `body.$$`,
/// `obj.$$` and `new.$$` are scratch files it removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceCommand {
    /// What runs first (writing `body.$$`).
    pub prepare: String,
    pub command: String,
    /// Where the command's stdout goes.
    pub stdout_to: String,
    /// What runs when the command succeeded.
    pub on_success: String,
    /// The session file on the instance the call saves.
    pub saves: Option<String>,
}

impl InstanceCommand {
    /// A command whose stdout is the answer.
    pub fn printing(command: String) -> Self {
        Self { prepare: String::new(), command, stdout_to: "\"out.$$\"".into(), on_success: String::new(), saves: None }
    }
}

/// A session an allowed call makes, named for later steps.
#[derive(Debug)]
pub struct NewSession<'a> {
    pub save_as: &'a str,
    pub role_arn: &'a str,
    pub session_name: &'a str,
    pub params: Cow<'a, SessionParams<String>>,
    /// A GetFederationToken session (`federated-user/<session_name>`), not a role's.
    pub federated: bool,
}

/// The registry: one line per service generates [`Action`] and its dispatch.
macro_rules! registry {
    ($($(#[$doc:meta])* $variant:ident($module:ident::$ty:ident)),* $(,)?) => {
        /// A step's action: `Action<Template>` as a scenario writes it, [`Call`] once rendered.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Action<T> {
            $($(#[$doc])* $variant($module::$ty<T>),)*
        }

        impl<T> Action<T> {
            pub fn name(&self) -> &'static str {
                match self { $(Action::$variant(a) => a.name(),)* }
            }
            pub fn save_as(&self) -> Option<&str> {
                match self { $(Action::$variant(a) => a.save_as(),)* }
            }
        }

        impl Action<Template> {
            /// Every action a scenario may name, with the fields it takes.
            pub fn written() -> impl Iterator<Item = (&'static str, &'static [&'static str])> {
                std::iter::empty()$(.chain(<$module::$ty<Template> as Written>::ACTIONS.iter().copied()))*
            }
            fn parse_in_service(fields: &StepFields<'_>) -> Option<Result<Self, FieldError>> {
                $(if <$module::$ty<Template> as Written>::ACTIONS.iter().any(|(name, _)| *name == fields.action()) {
                    return Some(<$module::$ty<Template> as Written>::parse(fields).map(Action::$variant));
                })*
                None
            }
            pub fn templates(&self) -> Vec<&Template> {
                match self { $(Action::$variant(a) => a.templates(),)* }
            }
            pub fn render(&self, with: &Rendering<'_>) -> Result<Call, String> {
                match self { $(Action::$variant(a) => a.render(with).map(Action::$variant),)* }
            }
        }

        #[cfg(not(fuzzing))]
        impl Call {
            pub fn operation(&self) -> &'static str {
                match self { $(Action::$variant(a) => a.operation(),)* }
            }
            pub fn resource(&self) -> Option<String> {
                match self { $(Action::$variant(a) => a.resource(),)* }
            }
            pub fn cli(&self) -> String {
                match self { $(Action::$variant(a) => a.cli(),)* }
            }
            pub fn authorization(&self, partition: &str) -> Authorization<'_> {
                match self { $(Action::$variant(a) => a.authorization(partition),)* }
            }
            pub fn denial_verifiable(&self, caps: &crate::target_facts::Capabilities, predicted: Option<&crate::policy::Reason>) -> Result<(), &'static str> {
                match self { $(Action::$variant(a) => a.denial_verifiable(caps, predicted),)* }
            }
            pub async fn perform(&self, config: &aws_config::SdkConfig) -> crate::outcome::Performed {
                match self { $(Action::$variant(a) => a.perform(config).await,)* }
            }
            pub fn on_instance(&self) -> Result<InstanceCommand, &'static str> {
                match self { $(Action::$variant(a) => a.on_instance(),)* }
            }
            pub fn read_on_instance(&self, stdout: &str, elapsed: std::time::Duration) -> crate::outcome::Performed {
                match self { $(Action::$variant(a) => a.read_on_instance(stdout, elapsed),)* }
            }
            pub fn new_session(&self) -> Option<NewSession<'_>> {
                match self { $(Action::$variant(a) => a.new_session(),)* }
            }
        }
    };
}

/// A step's call with every `${output}` rendered.
pub type Call = Action<String>;

impl Action<Template> {
    /// The action a step names, read from its fields; Err: an unknown
    /// action, a field it does not take, or a field it cannot read.
    pub fn parse(fields: &StepFields<'_>) -> Result<Self, ParseError> {
        let Some((_, taken)) = Self::written().find(|(name, _)| *name == fields.action()) else {
            return Err(ParseError::UnknownAction);
        };
        if let Some((field, offset)) = fields.written().find(|(field, _)| !taken.contains(field)) {
            let message = match Self::written().find(|(_, others)| others.contains(&field)) {
                Some((other, _)) => format!("`{field}` is a field of {other}, not of {}", fields.action()),
                None => format!("unknown field `{field}` of {}; its fields: {}", fields.action(), taken.join(", ")),
            };
            return Err(ParseError::Field(FieldError { offset, message }));
        }
        Self::parse_in_service(fields).unwrap_or(Err(FieldError { offset: 0, message: "no service parses it".into() })).map_err(ParseError::Field)
    }

    /// Every action name a scenario may write.
    pub fn names() -> Vec<&'static str> {
        Self::written().map(|(name, _)| name).collect()
    }
}

/// Why a step's action could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    UnknownAction,
    Field(FieldError),
}

registry! {
    S3(s3::S3),
    Sts(sts::Sts),
    Kms(kms::Kms),
    Rds(rds::Rds),
    /// The harness's own lookups, made as the admin (never written in a scenario).
    Ec2(ec2::Ec2),
}

#[cfg(test)]
mod tests;
