//! A scenario as the harness uses it: its principals, its stages (each a
//! config and its steps), each step's action and expectation, and the
//! `${output}` templates they hold, rendered once the config is applied.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ScenarioError, did_you_mean};
use crate::accounts::Accounts;
use crate::policy::Because;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expectation {
    Allowed,
    Denied,
    /// Refused with another error (`error_code`): e.g. ValidationError for a duration above the role's maximum.
    Error,
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expectation::Allowed => "allowed",
            Expectation::Denied => "denied",
            Expectation::Error => "error",
        })
    }
}

/// A string with `${output}` references, rendered once the config is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub text: String,
    pub line: usize,
    pub column: usize,
}

impl Template {
    /// The output names this template refers to.
    pub fn references(&self) -> Vec<&str> {
        references(&self.text)
    }

    /// Replace every `${name}` by its value; the error is the first unknown name.
    pub fn render(&self, values: &BTreeMap<String, String>) -> Result<String, String> {
        let mut out = self.text.clone();
        for name in self.references() {
            let value = values.get(name).ok_or_else(|| name.to_string())?;
            out = out.replace(&format!("${{{name}}}"), value);
        }
        Ok(out)
    }
}

/// Every `${name}` in `text`: the names, in order.
pub fn references(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                names.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    names
}

/// How a principal gets its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalSource {
    /// The workload on an EC2 instance: its instance profile's role, served
    /// over IMDSv2. `role`, when given, must be the profile's role name.
    Instance { instance: Template, role: Option<Template> },
    /// An IAM user the config creates, by its access key (outputs; the
    /// secret is never printed).
    User { access_key_id: Template, secret_access_key: Template },
    /// An OIDC provider (its issuer: `token.actions.githubusercontent.com`)
    /// whose tokens the harness issues: it only exchanges them
    /// (sts:AssumeRoleWithWebIdentity).
    TokenIssuer { issuer: Template },
}

impl PrincipalSource {
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            PrincipalSource::Instance { instance, role } => std::iter::once(instance).chain(role).collect(),
            PrincipalSource::User { access_key_id, secret_access_key } => vec![access_key_id, secret_access_key],
            PrincipalSource::TokenIssuer { issuer } => vec![issuer],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    ListBucket { bucket: Template, expect_keys: Vec<String> },
    PutObject { bucket: Template, key: Template, body: String },
    GetObject { bucket: Template, key: Template, expect_body: Option<String> },
    /// `save_as`: the principal name of the new session; None for a step
    /// expected to be denied or to fail (there is no session to name).
    AssumeRole { role_arn: Template, session_name: String, save_as: Option<String>, session: SessionParams<Template> },
    /// As a token issuer principal: a token with these claims, exchanged for a session.
    AssumeRoleWithWebIdentity { role_arn: Template, session_name: String, save_as: Option<String>, claims: BTreeMap<String, String> },
    GetCallerIdentity { expect_arn: Option<Template> },
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

/// The actions a step can take: the one table of their names (as written
/// in a scenario and shown in reports). A new action is a row here, its
/// fields in [`Action`] and `parse_action`, and its performer in `call`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    ListBucket,
    PutObject,
    GetObject,
    AssumeRole,
    AssumeRoleWithWebIdentity,
    GetCallerIdentity,
}

impl ActionKind {
    pub const ALL: [ActionKind; 6] =
        [Self::ListBucket, Self::PutObject, Self::GetObject, Self::AssumeRole, Self::AssumeRoleWithWebIdentity, Self::GetCallerIdentity];

    /// The IAM action name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ListBucket => "s3:ListBucket",
            Self::PutObject => "s3:PutObject",
            Self::GetObject => "s3:GetObject",
            Self::AssumeRole => "sts:AssumeRole",
            Self::AssumeRoleWithWebIdentity => "sts:AssumeRoleWithWebIdentity",
            Self::GetCallerIdentity => "sts:GetCallerIdentity",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

impl Action {
    /// The principal name an AssumeRole step saves its session as.
    pub fn save_as(&self) -> Option<&str> {
        match self {
            Action::AssumeRole { save_as, .. } | Action::AssumeRoleWithWebIdentity { save_as, .. } => save_as.as_deref(),
            _ => None,
        }
    }

    pub fn kind(&self) -> ActionKind {
        match self {
            Action::ListBucket { .. } => ActionKind::ListBucket,
            Action::PutObject { .. } => ActionKind::PutObject,
            Action::GetObject { .. } => ActionKind::GetObject,
            Action::AssumeRole { .. } => ActionKind::AssumeRole,
            Action::AssumeRoleWithWebIdentity { .. } => ActionKind::AssumeRoleWithWebIdentity,
            Action::GetCallerIdentity { .. } => ActionKind::GetCallerIdentity,
        }
    }

    pub fn templates(&self) -> Vec<&Template> {
        match self {
            Action::ListBucket { bucket, .. } => vec![bucket],
            Action::PutObject { bucket, key, .. } | Action::GetObject { bucket, key, .. } => vec![bucket, key],
            Action::AssumeRole { role_arn, session, .. } => std::iter::once(role_arn).chain(&session.external_id).chain(&session.policy_arns).collect(),
            Action::AssumeRoleWithWebIdentity { role_arn, .. } => vec![role_arn],
            Action::GetCallerIdentity { expect_arn } => expect_arn.iter().collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub principal: String,
    pub action: Action,
    pub expect: Expectation,
    /// For an expected denial: the reason it must be denied for (`because = "trust"`).
    pub because: Option<Because>,
    /// For expect = "error": the code the call must fail with.
    pub error_code: Option<String>,
}

/// One config applied (in place over the previous stage's state) and the
/// steps run against it.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The Terraform config folder (resolved; existence is checked before a run).
    pub config: PathBuf,
    pub steps: Vec<Step>,
    /// Who terraform runs as, and what its apply must come to.
    pub apply: StageApply,
    /// Values for variables the config declares (besides the harness's own).
    pub variables: BTreeMap<String, String>,
    /// How reports name it (`name = ...`); None: its config's folder name.
    pub name: Option<String>,
}

/// Terraform's own identity for a stage (`apply_as`): a principal of an
/// earlier stage instead of the admin. Such a stage is a config of its own
/// (its own working copy and state, beside the chain's): what a CI job
/// applies with its own role, through the provider's `assume_role`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageApply {
    /// None: the admin, in place over the previous stage's state.
    pub as_principal: Option<String>,
    /// `expect_apply = "denied"`: the apply must be refused with AccessDenied.
    pub refused: bool,
    /// For a refused apply: the reason the policy evaluator must give.
    pub because: Option<Because>,
}

impl Stage {
    /// The config's folder name.
    pub fn config_name(&self) -> String {
        self.config.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| self.config.display().to_string())
    }

    /// How reports name the stage: its `name`, else its config's folder name.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.config_name())
    }

    /// The step a refused apply (`expect_apply = "denied"`) is reported as.
    pub fn refusal_step_name(&self) -> Option<String> {
        let principal = self.apply.as_principal.as_ref().filter(|_| self.apply.refused)?;
        Some(format!("{}: the apply as {principal} is refused", self.label()))
    }
}

#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file stem: what `--scenario` and test filters name.
    pub name: String,
    pub path: PathBuf,
    pub description: Option<String>,
    pub principals: BTreeMap<String, PrincipalSource>,
    /// At least one; a chain applies each stage's config over the previous state.
    pub stages: Vec<Stage>,
    /// The accounts it acts in (`[accounts]`); empty: the target admin's own.
    pub accounts: Accounts,
}

impl Scenario {
    /// Whether a principal is a token issuer: the harness makes up its tokens, which only an emulator accepts.
    pub fn issues_tokens(&self) -> bool {
        self.principals.values().any(|p| matches!(p, PrincipalSource::TokenIssuer { .. }))
    }

    /// Every step, stage after stage.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.stages.iter().flat_map(|stage| &stage.steps)
    }

    /// The configs, for reports: `a`, or `a -> b -> c` for a chain.
    pub fn config_label(&self) -> String {
        self.stages.iter().map(Stage::label).collect::<Vec<_>>().join(" -> ")
    }

    /// Every `${output}` the scenario uses must be an output of the config
    /// of its stage: caught before anything is applied. `declared` gives the
    /// outputs of a config folder.
    pub fn check_outputs<E: fmt::Display>(&self, declared: impl Fn(&Path) -> Result<BTreeSet<String>, E>) -> Result<(), ScenarioError> {
        // A stage applied as a principal has its own config; it sees the chain's last outputs too.
        let mut chain_outputs = BTreeSet::new();
        for stage in &self.stages {
            let mut outputs = declared(&stage.config).map_err(|e| ScenarioError::Config { scenario: self.name.clone(), message: e.to_string() })?;
            if stage.apply.as_principal.is_some() {
                outputs.extend(chain_outputs.iter().cloned());
            } else {
                chain_outputs = outputs.clone();
            }
            // Principals are looked up again at every stage.
            let principal_templates = self.principals.values().flat_map(PrincipalSource::templates);
            let step_templates = stage.steps.iter().flat_map(|step| step.action.templates());
            for template in principal_templates.chain(step_templates) {
                for reference in template.references() {
                    if !outputs.contains(reference) {
                        return Err(ScenarioError::Invalid {
                            path: self.path.clone(),
                            line: template.line,
                            column: template.column,
                            message: format!(
                                "`${{{reference}}}` is not an output of {}{}; it declares: {}",
                                stage.config.display(),
                                did_you_mean(reference, outputs.iter().map(String::as_str)),
                                outputs.iter().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}
