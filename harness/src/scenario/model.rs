//! A scenario as the harness uses it: its principals, its stages (each a
//! config and its steps), each step's action and expectation, and the
//! `${output}` templates they hold, rendered once the config is applied.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ScenarioError, did_you_mean};
use crate::accounts::Accounts;
use crate::policy::{Because, DeniedBy};
pub use crate::service::Action;
pub use crate::service::sts::SessionParams;
pub use crate::template::{Template, references};

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
    /// A SAML 2.0 identity provider (its IAM provider's ARN) whose responses
    /// the harness signs: it only exchanges them (sts:AssumeRoleWithSAML).
    /// `metadata_file`: the file (relative to the root module) the config's
    /// `aws_iam_saml_provider` reads, which the working copy gets the harness's metadata in.
    SamlProvider { provider: Template, metadata_file: Option<std::path::PathBuf> },
    /// Anyone: unsigned requests, which get only what a policy grants everyone (`"*"`).
    Anonymous,
}

impl Scenario {
    /// The metadata files its SAML provider principals name.
    pub fn saml_metadata_files(&self) -> Vec<std::path::PathBuf> {
        self.principals.values().filter_map(|p| if let PrincipalSource::SamlProvider { metadata_file, .. } = p { metadata_file.clone() } else { None }).collect()
    }
}

impl PrincipalSource {
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            PrincipalSource::Instance { instance, role } => std::iter::once(instance).chain(role).collect(),
            PrincipalSource::User { access_key_id, secret_access_key } => vec![access_key_id, secret_access_key],
            PrincipalSource::TokenIssuer { issuer } => vec![issuer],
            PrincipalSource::SamlProvider { provider, .. } => vec![provider],
            PrincipalSource::Anonymous => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub principal: String,
    pub action: Action<Template>,
    pub expect: Expectation,
    /// For an expected denial: the reason it must be denied for (`because = "trust"`).
    pub because: Option<Because>,
    /// For an expected denial: the statement it must come from, exactly (`denied_by`).
    pub denied_by: Option<DeniedBy<Template>>,
    /// For expect = "error": the code the call must fail with.
    pub error_code: Option<String>,
}

/// The run's name prefix (every config's `name_prefix` variable): a value
/// `${name_prefix}` gives every template besides the outputs.
pub const NAME_PREFIX: &str = "name_prefix";

/// The templates a `denied_by` writes.
fn denied_by_templates(denied_by: Option<&DeniedBy<Template>>) -> Vec<Template> {
    denied_by.map(super::denied_by::templates).unwrap_or_default()
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
    /// For a refused apply: the statement the refusal must come from.
    pub denied_by: Option<DeniedBy<Template>>,
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
    /// The AWS Organization its accounts are in (`[organization]`), if any.
    pub organization: Option<Organization>,
}

/// Which of a scenario's accounts hold and are in an AWS Organization: what
/// an emulator cannot know (its accounts' ids are the scenario's), and what
/// a config's SCPs and RCPs cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// The account (by name) whose config creates the Organization and its policies.
    pub management: String,
    /// The accounts (by name) in it; the scenario's others are outside.
    pub members: Vec<String>,
}

impl Scenario {
    /// Whether a principal is a token issuer: the harness makes up its tokens, which only an emulator accepts.
    pub fn issues_tokens(&self) -> bool {
        self.principals.values().any(|p| matches!(p, PrincipalSource::TokenIssuer { .. }))
    }

    /// Whether a step connects to an RDS instance (rds-db:connect).
    pub fn connects_to_databases(&self) -> bool {
        self.steps().any(|s| matches!(s.action, crate::service::Action::Rds(_)))
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
            let step_templates = stage.steps.iter().flat_map(|step| step.action.templates().into_iter().cloned().chain(denied_by_templates(step.denied_by.as_ref())));
            let step_templates = step_templates.chain(denied_by_templates(stage.apply.denied_by.as_ref()));
            for template in principal_templates.cloned().chain(step_templates) {
                for reference in template.references() {
                    if !outputs.contains(reference) && reference != NAME_PREFIX {
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
