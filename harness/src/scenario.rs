//! The scenario file: which Terraform config to apply, who the principals
//! are, and the steps with their expected outcome. Files are TOML; every
//! error names `file:line:column`.
//!
//! ```toml
//! description = "role1 assumes role2 to reach role2's bucket"
//! config = "solution_demo"        # a folder under terraform_configuration/, or a path
//!
//! [principals.role1]
//! instance = "${instance_id}"     # the workload: the credentials of this instance's profile
//! role = "${role1_name}"          # optional: the role that profile must carry
//!
//! [[steps]]
//! as = "role1"
//! action = "s3:ListBucket"
//! bucket = "${bucket_name}"
//! expect = "denied"
//! ```
//! `${name}` is a Terraform output of the config.
//!
//! A scenario may also be a chain of stages, each a config applied IN PLACE
//! over the previous stage's state (as a user upgrades their config), each
//! with its own steps:
//!
//! ```toml
//! [[stages]]
//! config = "problem_demo"
//! [[stages.steps]]
//! # ...
//! [[stages]]
//! config = "solution_demo"        # applied over problem_demo's state
//! [[stages.steps]]
//! # ...
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::accounts::{Accounts, AccountsError};
use crate::policy::Because;

/// The file extension of scenario files.
pub const EXTENSION: &str = "toml";
/// The newest scenario format this harness reads (`format = N` in a file;
/// absent means 1). 2 added AssumeRole's parameters, `expect = "error"`,
/// user and OIDC provider principals, sts:AssumeRoleWithWebIdentity: a
/// file using them says `format = 2`, so an older harness names the version
/// instead of an unknown field.
pub const FORMAT: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: cannot read the scenario file: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", location(path, *line, *column))]
    Invalid { path: PathBuf, line: usize, column: usize, message: String },
    #[error("unknown scenario `{name}`{}; known: {} (see `harness list`)", did_you_mean(name, known.iter().map(String::as_str)), known.join(", "))]
    Unknown { name: String, known: Vec<String> },
    #[error("{dir}: no scenario files (*.{EXTENSION}) found")]
    NoneFound { dir: PathBuf },
    #[error("scenario {scenario}: {message}")]
    Config { scenario: String, message: String },
    #[error("{}: [accounts]: {message}", location(path, *line, *column))]
    Accounts { path: PathBuf, line: usize, column: usize, message: String },
    #[error("scenario {name} issues its own web identity tokens, which AWS refuses (only a provider's own tokens exist there); run it on an emulator (--target moto)")]
    EmulatorOnly { name: String },
}

impl ScenarioError {
    /// The harness's exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            ScenarioError::Invalid { .. } => crate::exit_code::SCENARIO_INVALID,
            ScenarioError::Accounts { .. } => crate::exit_code::ACCOUNTS_INVALID,
            ScenarioError::Config { .. } => crate::exit_code::CONFIG_MISSING,
            ScenarioError::Read { .. } | ScenarioError::Unknown { .. } | ScenarioError::NoneFound { .. } | ScenarioError::EmulatorOnly { .. } => {
                crate::exit_code::USAGE
            }
        }
    }
}

/// `; did you mean `x`?` for the known name closest to a mistyped one, if any is close.
pub fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    known
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(&word.to_lowercase(), &candidate.to_lowercase()), candidate))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| format!(" (did you mean `{candidate}`?)"))
        .unwrap_or_default()
}

fn location(path: &Path, line: usize, column: usize) -> String {
    format!("{}:{line}:{column}", path.display())
}

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
    AssumeRole { role_arn: Template, session_name: String, save_as: String, session: SessionParams<Template> },
    /// As a token issuer principal: a token with these claims, exchanged for a session.
    AssumeRoleWithWebIdentity { role_arn: Template, session_name: String, save_as: String, claims: BTreeMap<String, String> },
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
            Action::AssumeRole { save_as, .. } | Action::AssumeRoleWithWebIdentity { save_as, .. } => Some(save_as),
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

// ---- the file as written ---------------------------------------------------

/// Read first, alone: a file for a newer format is named as such, before
/// its new fields are taken for mistakes.
#[derive(Deserialize)]
struct RawFormat {
    format: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[allow(dead_code)] // read by RawFormat
    format: Option<u32>,
    description: Option<String>,
    config: Option<Spanned<String>>,
    accounts: Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    #[serde(default)]
    principals: BTreeMap<String, Spanned<RawPrincipal>>,
    #[serde(default)]
    steps: Vec<Spanned<RawStep>>,
    #[serde(default)]
    stages: Vec<Spanned<RawStage>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    config: Spanned<String>,
    /// How reports name the stage (default: its config's folder name).
    name: Option<String>,
    apply_as: Option<Spanned<String>>,
    expect_apply: Option<Spanned<String>>,
    because: Option<Spanned<String>>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    steps: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrincipal {
    oidc_provider: Option<Spanned<String>>,
    instance: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
    access_key_id: Option<Spanned<String>>,
    secret_access_key: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Option<String>,
    #[serde(rename = "as")]
    principal: Spanned<String>,
    action: Spanned<String>,
    expect: Expectation,
    because: Option<Spanned<String>>,
    bucket: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
    body: Option<String>,
    role_arn: Option<Spanned<String>>,
    session_name: Option<String>,
    save_as: Option<Spanned<String>>,
    expect_keys: Option<Vec<String>>,
    expect_body: Option<String>,
    expect_arn: Option<Spanned<String>>,
    error_code: Option<Spanned<String>>,
    /// sts:AssumeRoleWithWebIdentity: the token's claims.
    claims: Option<Spanned<BTreeMap<String, String>>>,
    // AssumeRole's session parameters.
    external_id: Option<Spanned<String>>,
    duration_seconds: Option<Spanned<i32>>,
    tags: Option<Spanned<BTreeMap<String, String>>>,
    transitive_tag_keys: Option<Spanned<Vec<String>>>,
    source_identity: Option<Spanned<String>>,
    policy: Option<Spanned<String>>,
    policy_arns: Option<Spanned<Vec<Spanned<String>>>>,
}

/// The session parameters a step sets, with where each is written.
fn session_fields(step: &RawStep) -> Vec<(&'static str, usize)> {
    let at = |name: &'static str, span: Option<std::ops::Range<usize>>| span.map(|s| (name, s.start));
    [
        at("external_id", step.external_id.as_ref().map(Spanned::span)),
        at("duration_seconds", step.duration_seconds.as_ref().map(Spanned::span)),
        at("tags", step.tags.as_ref().map(Spanned::span)),
        at("transitive_tag_keys", step.transitive_tag_keys.as_ref().map(Spanned::span)),
        at("source_identity", step.source_identity.as_ref().map(Spanned::span)),
        at("policy", step.policy.as_ref().map(Spanned::span)),
        at("policy_arns", step.policy_arns.as_ref().map(Spanned::span)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// An AssumeRole step's session parameters; a session policy must be JSON,
/// and a transitive tag key one of the step's tags.
fn parse_session(source: &Source<'_>, step: &RawStep) -> Result<SessionParams<Template>, ScenarioError> {
    let tags = step.tags.as_ref().map(|t| t.get_ref().clone()).unwrap_or_default();
    if let Some(keys) = &step.transitive_tag_keys
        && let Some(key) = keys.get_ref().iter().find(|k| !tags.contains_key(*k))
    {
        return Err(source.error(keys.span().start, format!("transitive tag key `{key}` is not one of the step's tags")));
    }
    if let Some(policy) = &step.policy
        && let Err(err) = serde_json::from_str::<serde_json::Value>(policy.get_ref())
    {
        return Err(source.error(policy.span().start, format!("the session policy is not JSON: {err}")));
    }
    Ok(SessionParams {
        external_id: step.external_id.as_ref().map(|t| source.template(t)).transpose()?,
        duration_seconds: step.duration_seconds.as_ref().map(|d| *d.get_ref()),
        tags,
        transitive_tag_keys: step.transitive_tag_keys.as_ref().map(|k| k.get_ref().clone()).unwrap_or_default(),
        source_identity: step.source_identity.as_ref().map(|s| s.get_ref().clone()),
        policy: step.policy.as_ref().map(|p| p.get_ref().clone()),
        policy_arns: step.policy_arns.as_ref().map(|a| a.get_ref().iter().map(|t| source.template(t)).collect()).transpose()?.unwrap_or_default(),
    })
}

/// `error_code` goes with expect = "error", which needs it.
fn parse_error_code(source: &Source<'_>, step: &RawStep, step_start: usize) -> Result<Option<String>, ScenarioError> {
    match (&step.error_code, step.expect) {
        (Some(code), Expectation::Error) => Ok(Some(code.get_ref().clone())),
        (None, Expectation::Error) => Err(source.error(step_start, "a step with expect = \"error\" needs `error_code`, the code it must fail with (e.g. ValidationError)")),
        (Some(code), _) => Err(source.error(code.span().start, "`error_code` goes with expect = \"error\"")),
        (None, _) => Ok(None),
    }
}

/// A stage's `apply_as` (a principal known by then, never on the first
/// stage), `expect_apply` ("applied" or "denied", only with `apply_as`) and
/// the `because` of a refused apply.
fn parse_stage_apply(source: &Source<'_>, stage: &RawStage, index: usize, known: &BTreeSet<String>) -> Result<StageApply, ScenarioError> {
    let Some(principal) = &stage.apply_as else {
        if let Some(field) = stage.expect_apply.as_ref().or(stage.because.as_ref()) {
            return Err(source.error(field.span().start, "`expect_apply` and `because` go with `apply_as` (the admin's apply is expected to succeed)"));
        }
        return Ok(StageApply::default());
    };
    if index == 0 {
        return Err(source.error(principal.span().start, "the first stage is applied as the admin: `apply_as` names a principal of an earlier stage"));
    }
    if !known.contains(principal.get_ref()) {
        let known_list = known.iter().cloned().collect::<Vec<_>>().join(", ");
        return Err(source.error(principal.span().start, format!("unknown principal `{}` in apply_as (known by this stage: {known_list})", principal.get_ref())));
    }
    let refused = match stage.expect_apply.as_ref().map(|e| (e, e.get_ref().as_str())) {
        None | Some((_, "applied")) => false,
        Some((_, "denied")) => true,
        Some((field, other)) => return Err(source.error(field.span().start, format!("expect_apply is \"applied\" or \"denied\", not `{other}`"))),
    };
    let because = match &stage.because {
        None => None,
        Some(_) if !refused => return Err(source.error(stage.because.as_ref().map_or(0, |b| b.span().start), "`because` goes with expect_apply = \"denied\"")),
        Some(because) => Some(Because::parse(because.get_ref()).ok_or_else(|| {
            source.error(because.span().start, format!("unknown reason `{}` in because; one of: {}", because.get_ref(), Because::ALL.map(Because::name).join(", ")))
        })?),
    };
    Ok(StageApply { as_principal: Some(principal.get_ref().clone()), refused, because })
}

/// `because` names the reason of an expected denial, one of the evaluator's.
fn parse_because(source: &Source<'_>, step: &RawStep) -> Result<Option<Because>, ScenarioError> {
    let Some(because) = &step.because else { return Ok(None) };
    let names = || Because::ALL.map(Because::name).join(", ");
    let parsed = Because::parse(because.get_ref())
        .ok_or_else(|| source.error(because.span().start, format!("unknown reason `{}` in because; one of: {}", because.get_ref(), names())))?;
    if step.expect != Expectation::Denied {
        return Err(source.error(because.span().start, "`because` goes with expect = \"denied\""));
    }
    Ok(Some(parsed))
}

/// Turns byte offsets into 1-based line and column.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(before.len(), |nl| before.len() - nl - 1) + 1;
        (line, column)
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> ScenarioError {
        let (line, column) = self.line_col(offset);
        ScenarioError::Invalid { path: self.path.to_path_buf(), line, column, message: message.into() }
    }

    fn accounts_error(&self, offset: usize, message: impl Into<String>) -> ScenarioError {
        let (line, column) = self.line_col(offset);
        ScenarioError::Accounts { path: self.path.to_path_buf(), line, column, message: message.into() }
    }

    fn template(&self, value: &Spanned<String>) -> Result<Template, ScenarioError> {
        let (line, column) = self.line_col(value.span().start);
        let template = Template { text: value.get_ref().clone(), line, column };
        if template.text.matches("${").count() != template.references().len()
            || template.references().iter().any(|r| r.is_empty() || !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(self.error(value.span().start, format!("malformed output reference in `{}`; write `${{output_name}}`", template.text)));
        }
        Ok(template)
    }
}

/// A stage as written: its config, its steps, where it starts in the file.
type StageAsWritten<'a> = (&'a Spanned<String>, &'a Vec<Spanned<RawStep>>, usize, Option<&'a RawStage>);

impl Scenario {
    /// Read and validate a scenario file. `configs_root` resolves a bare
    /// config name; `config_override` (the user's `--config`) wins over the file.
    pub fn load(path: &Path, configs_root: &Path, config_override: Option<&Path>) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: path.to_path_buf(), source })?;
        Self::parse(path, &text, configs_root, config_override)
    }

    pub fn parse(path: &Path, text: &str, configs_root: &Path, config_override: Option<&Path>) -> Result<Self, ScenarioError> {
        let source = Source { path, text };
        if let Ok(RawFormat { format: Some(format) }) = toml::from_str::<RawFormat>(text)
            && *format.get_ref() > FORMAT
        {
            let message = format!("this scenario is written for format {}, this harness reads format {FORMAT}; use a newer harness", format.get_ref());
            return Err(source.error(format.span().start, message));
        }
        let raw: RawScenario = toml::from_str(text).map_err(|err| {
            let offset = err.span().map_or(0, |span| span.start);
            source.error(offset, err.message().trim().to_string())
        })?;

        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();

        // Either `config` + `[[steps]]`, or `[[stages]]`: one shape for both below.
        let raw_stages: Vec<StageAsWritten<'_>> = match (&raw.config, raw.stages.is_empty()) {
            (Some(config), true) => vec![(config, &raw.steps, 0, None)],
            (None, false) if raw.steps.is_empty() => raw.stages.iter().map(|s| (&s.get_ref().config, &s.get_ref().steps, s.span().start, Some(s.get_ref()))).collect(),
            (Some(config), false) => return Err(source.error(config.span().start, "write either `config` with [[steps]] or [[stages]], not both")),
            (None, false) => return Err(source.error(raw.steps[0].span().start, "with [[stages]], steps go under [[stages.steps]]")),
            (None, true) => return Err(source.error(0, "the scenario names no `config` (or [[stages]])")),
        };
        if config_override.is_some() && raw_stages.len() > 1 {
            return Err(source.error(0, "--config replaces the config of a single-config scenario; this one has several [[stages]]"));
        }

        let accounts = parse_accounts(&source, raw.accounts.as_ref())?;
        let mut principals = BTreeMap::new();
        for (principal, spec) in &raw.principals {
            principals.insert(principal.clone(), parse_principal(&source, principal, spec)?);
        }

        // A principal is known once declared, or once an earlier step saved it
        // (sessions stay usable across stages).
        let mut known: BTreeSet<String> = principals.keys().cloned().collect();
        let issuers: BTreeSet<String> = principals.iter().filter(|(_, p)| matches!(p, PrincipalSource::TokenIssuer { .. })).map(|(n, _)| n.clone()).collect();
        let mut stages = Vec::new();
        for (index, (config, raw_steps, stage_start, raw_stage)) in raw_stages.into_iter().enumerate() {
            let apply = match raw_stage {
                Some(raw_stage) => parse_stage_apply(&source, raw_stage, index, &known)?,
                None => StageApply::default(),
            };
            if raw_steps.is_empty() && !apply.refused {
                return Err(source.error(stage_start, "the scenario has no [[steps]] for this config"));
            }
            if apply.refused && !raw_steps.is_empty() {
                return Err(source.error(raw_steps[0].span().start, "a stage whose apply is refused has nothing to step through: the refusal is its step"));
            }
            let steps = parse_steps(&source, raw_steps, &mut known, &issuers)?;
            let config = match config_override {
                Some(dir) => dir.to_path_buf(),
                None => resolve_config(path, configs_root, config.get_ref()),
            };
            let variables = raw_stage.map(|s| s.variables.clone()).unwrap_or_default();
            let named = variables.values().flat_map(|v| references(v)).filter_map(|r| r.strip_prefix(crate::accounts::REFERENCE_PREFIX));
            if let Some(unknown) = named.into_iter().find(|name| accounts.get(name).is_none()) {
                let known = accounts.names().join(", ");
                return Err(source.accounts_error(stage_start, format!("a stage's variables name `${{accounts.{unknown}}}`, which is not an account of this scenario (known: {known})")));
            }
            let name = raw_stage.and_then(|s| s.name.clone());
            stages.push(Stage { config, steps, apply, variables, name });
        }

        Ok(Scenario { name, path: path.to_path_buf(), description: raw.description, principals, stages, accounts })
    }

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

/// `[accounts]` in the order written (the first is the default), each a name and an account id.
fn parse_accounts(source: &Source<'_>, raw: Option<&Spanned<BTreeMap<String, Spanned<toml::Value>>>>) -> Result<Accounts, ScenarioError> {
    let Some(raw) = raw else { return Ok(Accounts::default()) };
    if raw.get_ref().is_empty() {
        return Err(source.accounts_error(raw.span().start, "the table names no account; write `dev = \"111111111111\"` (the first is the default) or drop it"));
    }
    let mut written: Vec<(&String, &Spanned<toml::Value>)> = raw.get_ref().iter().collect();
    written.sort_by_key(|(_, value)| value.span().start);
    let mut pairs = Vec::new();
    for (name, value) in &written {
        let Some(id) = value.get_ref().as_str() else {
            return Err(source.accounts_error(value.span().start, format!("account `{name}` must be a quoted 12-digit id (`{name} = \"111111111111\"`)")));
        };
        pairs.push((name.to_string(), id.to_string()));
    }
    Accounts::new(pairs).map_err(|err| {
        let at = match &err {
            AccountsError::NotAnId { name, .. } | AccountsError::BadName { name } | AccountsError::Duplicate { second: name, .. } => {
                written.iter().find(|(n, _)| *n == name).map_or(raw.span().start, |(_, v)| v.span().start)
            }
            AccountsError::BadSandboxArgument(_) | AccountsError::Unmapped { .. } => raw.span().start,
        };
        source.accounts_error(at, err.to_string())
    })
}

fn resolve_config(scenario_path: &Path, configs_root: &Path, config: &str) -> PathBuf {
    let beside = scenario_path.parent().unwrap_or(Path::new(".")).join(config);
    if Path::new(config).is_absolute() || config.contains('/') || beside.is_dir() {
        beside
    } else {
        configs_root.join(config)
    }
}

/// An instance (`instance`, optionally `role`), a user (`access_key_id` and
/// `secret_access_key`) or a token issuer (`oidc_provider`).
fn parse_principal(source: &Source<'_>, name: &str, spec: &Spanned<RawPrincipal>) -> Result<PrincipalSource, ScenarioError> {
    let raw = spec.get_ref();
    if let Some(issuer) = &raw.oidc_provider {
        if raw.instance.is_some() || raw.role.is_some() || raw.access_key_id.is_some() || raw.secret_access_key.is_some() {
            return Err(source.error(spec.span().start, format!("principal `{name}` is an OIDC provider: `oidc_provider` alone")));
        }
        return Ok(PrincipalSource::TokenIssuer { issuer: source.template(issuer)? });
    }
    match (&raw.instance, &raw.access_key_id, &raw.secret_access_key) {
        (Some(instance), None, None) => {
            let role = raw.role.as_ref().map(|r| source.template(r)).transpose()?;
            Ok(PrincipalSource::Instance { instance: source.template(instance)?, role })
        }
        (None, Some(key), Some(secret)) if raw.role.is_none() => {
            Ok(PrincipalSource::User { access_key_id: source.template(key)?, secret_access_key: source.template(secret)? })
        }
        _ => Err(source.error(
            spec.span().start,
            format!(
                "principal `{name}` is an instance (`instance`, optionally `role`), a user (`access_key_id` and `secret_access_key`, from outputs) or an OIDC provider (`oidc_provider`)"
            ),
        )),
    }
}

/// A stage's steps; `known` holds the principals a step may act as, and
/// gains each session an AssumeRole step saves.
fn parse_steps(
    source: &Source<'_>,
    raw_steps: &[Spanned<RawStep>],
    known: &mut BTreeSet<String>,
    issuers: &BTreeSet<String>,
) -> Result<Vec<Step>, ScenarioError> {
    let mut steps = Vec::new();
    for spanned in raw_steps {
        let raw_step = spanned.get_ref();
        let principal = raw_step.principal.get_ref();
        let web_identity = raw_step.action.get_ref() == ActionKind::AssumeRoleWithWebIdentity.name();
        if web_identity != issuers.contains(principal) {
            let message = if web_identity {
                format!("sts:AssumeRoleWithWebIdentity is made with a token: `as` names an OIDC provider principal (`oidc_provider`), not `{principal}`")
            } else {
                format!("`{principal}` is an OIDC provider: it only exchanges tokens (sts:AssumeRoleWithWebIdentity)")
            };
            return Err(source.error(raw_step.principal.span().start, message));
        }
        if !known.contains(principal) {
            return Err(source.error(
                raw_step.principal.span().start,
                format!(
                    "unknown principal `{principal}`{}; declare it under [principals.{principal}] or save it with an earlier sts:AssumeRole step (known: {})",
                    did_you_mean(principal, known.iter().map(String::as_str)),
                    known.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let action = parse_action(source, raw_step, spanned.span().start)?;
        if let Some(save_as) = action.save_as() {
            known.insert(save_as.to_string());
        }
        let name = raw_step.name.clone().unwrap_or_else(|| format!("{principal} {}", action.kind().name()));
        let because = parse_because(source, raw_step)?;
        let error_code = parse_error_code(source, raw_step, spanned.span().start)?;
        steps.push(Step { name, principal: principal.clone(), action, expect: raw_step.expect, because, error_code });
    }
    Ok(steps)
}

fn parse_action(source: &Source<'_>, step: &RawStep, step_start: usize) -> Result<Action, ScenarioError> {
    let action_name = step.action.get_ref().as_str();
    let need = |field: &Option<Spanned<String>>, field_name: &str| -> Result<Template, ScenarioError> {
        match field {
            Some(value) => source.template(value),
            None => Err(source.error(step_start, format!("a `{action_name}` step needs `{field_name}`"))),
        }
    };
    if let Some((field, offset)) = session_fields(step).into_iter().next()
        && action_name != ActionKind::AssumeRole.name()
    {
        return Err(source.error(offset, format!("`{field}` is a parameter of sts:AssumeRole, not of {action_name}")));
    }
    if let Some(claims) = &step.claims
        && action_name != ActionKind::AssumeRoleWithWebIdentity.name()
    {
        return Err(source.error(claims.span().start, format!("`claims` are a web identity token's, not a parameter of {action_name}")));
    }
    let Some(kind) = ActionKind::from_name(action_name) else {
        let known: Vec<&str> = ActionKind::ALL.iter().map(|k| k.name()).collect();
        let hint = did_you_mean(action_name, known.iter().copied());
        return Err(source.error(step.action.span().start, format!("unknown action `{action_name}`{hint}; known: {}", known.join(", "))));
    };
    let action = match kind {
        ActionKind::ListBucket => Action::ListBucket { bucket: need(&step.bucket, "bucket")?, expect_keys: step.expect_keys.clone().unwrap_or_default() },
        ActionKind::PutObject => Action::PutObject {
            bucket: need(&step.bucket, "bucket")?,
            key: need(&step.key, "key")?,
            body: step.body.clone().unwrap_or_default(),
        },
        ActionKind::GetObject => Action::GetObject {
            bucket: need(&step.bucket, "bucket")?,
            key: need(&step.key, "key")?,
            expect_body: step.expect_body.clone(),
        },
        ActionKind::AssumeRole => {
            let save_as = step
                .save_as
                .as_ref()
                .ok_or_else(|| source.error(step_start, "a `sts:AssumeRole` step needs `save_as`, the principal name of the new session"))?;
            Action::AssumeRole {
                role_arn: need(&step.role_arn, "role_arn")?,
                session_name: step.session_name.clone().unwrap_or_else(|| "harness".to_string()),
                save_as: save_as.get_ref().clone(),
                session: parse_session(source, step)?,
            }
        }
        ActionKind::AssumeRoleWithWebIdentity => Action::AssumeRoleWithWebIdentity {
            role_arn: need(&step.role_arn, "role_arn")?,
            session_name: step.session_name.clone().unwrap_or_else(|| "harness".to_string()),
            save_as: step.save_as.as_ref().ok_or_else(|| source.error(step_start, "a `sts:AssumeRoleWithWebIdentity` step needs `save_as`, the principal name of the new session"))?.get_ref().clone(),
            claims: step.claims.as_ref().map(|c| c.get_ref().clone()).unwrap_or_default(),
        },
        ActionKind::GetCallerIdentity => Action::GetCallerIdentity { expect_arn: step.expect_arn.as_ref().map(|a| source.template(a)).transpose()? },
    };
    Ok(action)
}

/// All scenario files of a folder, sorted by name.
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ScenarioError::Read { path: dir.to_path_buf(), source })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == EXTENSION))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ScenarioError::NoneFound { dir: dir.to_path_buf() });
    }
    Ok(files)
}

/// A `--scenario` argument: a file path, or the name of a file in `dir`.
pub fn find(dir: &Path, name_or_path: &str) -> Result<PathBuf, ScenarioError> {
    let as_path = Path::new(name_or_path);
    if as_path.is_file() {
        return Ok(as_path.to_path_buf());
    }
    let files = discover(dir)?;
    files
        .iter()
        .find(|file| file.file_stem().is_some_and(|stem| stem == name_or_path))
        .cloned()
        .ok_or_else(|| ScenarioError::Unknown {
            name: name_or_path.to_string(),
            known: files.iter().filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned())).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(Path::new("scenarios/demo.toml"), text, Path::new("terraform_configuration"), None)
    }

    const GOOD: &str = r#"
config = "solution_demo"

[principals.role1]
instance = "${instance_id}"

[[steps]]
as = "role1"
action = "sts:AssumeRole"
role_arn = "${role2_arn}"
save_as = "role2"
expect = "allowed"

[[steps]]
name = "role2 lists"
as = "role2"
action = "s3:ListBucket"
bucket = "${bucket_name}"
expect_keys = ["hello"]
expect = "allowed"
"#;

    #[test]
    fn parses_a_chain_of_principals() {
        let scenario = parse(GOOD).unwrap();
        assert_eq!(scenario.name, "demo");
        assert_eq!(scenario.stages.len(), 1);
        assert_eq!(scenario.stages[0].config, Path::new("terraform_configuration/solution_demo"));
        let steps: Vec<&Step> = scenario.steps().collect();
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].name, "role1 sts:AssumeRole");
        assert_eq!(steps[1].principal, "role2");
        assert!(matches!(&steps[1].action, Action::ListBucket { expect_keys, .. } if expect_keys == &["hello"]));
    }

    fn error_of(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn because_names_one_of_the_evaluators_reasons_for_a_denial() {
        let denied = GOOD.replace("expect_keys = [\"hello\"]\nexpect = \"allowed\"", "expect = \"denied\"\nbecause = \"trust\"");
        let scenario = parse(&denied).unwrap();
        assert_eq!(scenario.steps().nth(1).unwrap().because, Some(Because::Trust));
        let err = error_of(&denied.replace("because = \"trust\"", "because = \"trusts\""));
        assert!(err.starts_with("scenarios/demo.toml:"), "{err}");
        assert!(err.contains("unknown reason `trusts` in because; one of: explicit-deny, identity, trust, resource, boundary, session"), "{err}");
        let err = error_of(&GOOD.replace("expect_keys = [\"hello\"]\nexpect = \"allowed\"", "expect = \"allowed\"\nbecause = \"identity\""));
        assert!(err.contains("`because` goes with expect = \"denied\""), "{err}");
    }

    #[test]
    fn assume_role_takes_every_session_parameter() {
        let text = GOOD.replace(
            "save_as = \"role2\"",
            "save_as = \"role2\"\nexternal_id = \"${external_id}\"\nduration_seconds = 3600\ntags = { team = \"data\" }\ntransitive_tag_keys = [\"team\"]\nsource_identity = \"alice\"\npolicy = '{\"Version\":\"2012-10-17\",\"Statement\":[]}'\npolicy_arns = [\"${policy_arn}\"]",
        );
        let scenario = parse(&text).unwrap();
        let Action::AssumeRole { session, .. } = &scenario.steps().next().unwrap().action else { panic!("not an AssumeRole") };
        assert_eq!(session.duration_seconds, Some(3600));
        assert_eq!(session.tags.get("team").map(String::as_str), Some("data"));
        assert_eq!(session.transitive_tag_keys, ["team"]);
        assert_eq!(session.source_identity.as_deref(), Some("alice"));
        let outputs = BTreeMap::from([("external_id".to_string(), "X-1".to_string()), ("policy_arn".to_string(), "arn:p".to_string())]);
        let rendered = session.render(&outputs).unwrap();
        assert_eq!((rendered.external_id.as_deref(), rendered.policy_arns.as_slice()), (Some("X-1"), ["arn:p".to_string()].as_slice()));
    }

    #[test]
    fn session_parameters_are_checked_where_they_are_written() {
        // A wrong type, a parameter of another action, a transitive key that is no tag, a policy that is no JSON.
        let err = error_of(&GOOD.replace("save_as = \"role2\"", "save_as = \"role2\"\nduration_seconds = \"two hours\""));
        assert!(err.starts_with("scenarios/demo.toml:12:20: invalid type: string \"two hours\", expected i32"), "{err}");
        let err = error_of(&GOOD.replace("bucket = \"${bucket_name}\"", "bucket = \"${bucket_name}\"\ntags = { team = \"data\" }"));
        assert!(err.starts_with("scenarios/demo.toml:19:8: `tags` is a parameter of sts:AssumeRole, not of s3:ListBucket"), "{err}");
        let err = error_of(&GOOD.replace("save_as = \"role2\"", "save_as = \"role2\"\ntags = { team = \"data\" }\ntransitive_tag_keys = [\"project\"]"));
        assert!(err.contains("transitive tag key `project` is not one of the step's tags"), "{err}");
        let err = error_of(&GOOD.replace("save_as = \"role2\"", "save_as = \"role2\"\npolicy = \"allow everything\""));
        assert!(err.contains("the session policy is not JSON"), "{err}");
        let err = error_of(&GOOD.replace("save_as = \"role2\"", "save_as = \"role2\"\nsession_tags = { a = \"b\" }"));
        assert!(err.starts_with("scenarios/demo.toml:12:1: unknown field `session_tags`"), "{err}");
    }

    #[test]
    fn an_expected_error_names_its_code() {
        let text = GOOD.replace("save_as = \"role2\"\nexpect = \"allowed\"", "save_as = \"role2\"\nexpect = \"error\"\nerror_code = \"ValidationError\"");
        let scenario = parse(&text).unwrap();
        let step = scenario.steps().next().unwrap();
        assert_eq!((step.expect, step.error_code.as_deref()), (Expectation::Error, Some("ValidationError")));
        let err = error_of(&text.replace("\nerror_code = \"ValidationError\"", ""));
        assert!(err.contains("a step with expect = \"error\" needs `error_code`"), "{err}");
        let err = error_of(&GOOD.replace("save_as = \"role2\"", "save_as = \"role2\"\nerror_code = \"ValidationError\""));
        assert!(err.contains("`error_code` goes with expect = \"error\""), "{err}");
    }

    #[test]
    fn a_principal_is_an_instance_or_a_user() {
        let user = GOOD.replace("instance = \"${instance_id}\"", "access_key_id = \"${key_id}\"\nsecret_access_key = \"${secret}\"");
        let scenario = parse(&user).unwrap();
        assert!(matches!(scenario.principals["role1"], PrincipalSource::User { .. }));
        let err = error_of(&GOOD.replace("instance = \"${instance_id}\"", "instance = \"${instance_id}\"\naccess_key_id = \"${key_id}\""));
        assert!(err.contains("principal `role1` is an instance (`instance`, optionally `role`), a user"), "{err}");
    }

    #[test]
    fn a_scenario_for_a_newer_format_names_both_versions() {
        let newer = format!("format = 3\n{GOOD}\n[[steps.new_thing]]\n");
        let err = error_of(&newer);
        assert_eq!(err, "scenarios/demo.toml:1:10: this scenario is written for format 3, this harness reads format 2; use a newer harness");
        assert!(parse(&format!("format = 1\n{GOOD}")).is_ok());
    }

    #[test]
    fn syntax_error_names_file_line_and_column() {
        let err = error_of("config = \"x\"\n[[steps]\n");
        assert!(err.starts_with("scenarios/demo.toml:2:"), "{err}");
    }

    #[test]
    fn unknown_action_is_located_and_lists_the_known_ones() {
        let text = GOOD.replace("action = \"s3:ListBucket\"", "action = \"s3:ListBuckets\"");
        let err = error_of(&text);
        assert!(err.starts_with("scenarios/demo.toml:17:10: unknown action `s3:ListBuckets`"), "{err}");
        assert!(err.contains("s3:ListBucket,"), "{err}");
    }

    #[test]
    fn a_mistyped_name_gets_the_closest_known_one() {
        let text = GOOD.replace("action = \"s3:ListBucket\"", "action = \"s3:ListBuckets\"");
        assert!(error_of(&text).contains("unknown action `s3:ListBuckets` (did you mean `s3:ListBucket`?); known:"));
        let text = GOOD.replace("\nas = \"role2\"", "\nas = \"rol2\"");
        assert!(error_of(&text).contains("unknown principal `rol2` (did you mean `role2`?)"), "{}", error_of(&text));
        assert_eq!(did_you_mean("instanceid", ["instance_id", "bucket_name"]), " (did you mean `instance_id`?)");
        assert_eq!(did_you_mean("zzz", ["instance_id", "bucket_name"]), "");
        let unknown = ScenarioError::Unknown { name: "solution_dmeo".into(), known: vec!["problem_demo".into(), "solution_demo".into()] };
        assert!(unknown.to_string().starts_with("unknown scenario `solution_dmeo` (did you mean `solution_demo`?); known:"), "{unknown}");
    }

    #[test]
    fn unknown_principal_is_refused() {
        let text = GOOD.replace("\nas = \"role2\"", "\nas = \"role3\"");
        let err = error_of(&text);
        assert!(err.contains(":16:6: unknown principal `role3`"), "{err}");
    }

    #[test]
    fn a_principal_is_known_only_after_the_step_that_saves_it() {
        let text = GOOD.replace("save_as = \"role2\"", "save_as = \"other\"");
        assert!(error_of(&text).contains("unknown principal `role2`"));
    }

    const CHAIN: &str = r#"
[principals.role1]
instance = "${instance_id}"

[[stages]]
config = "problem_demo"
[[stages.steps]]
as = "role1"
action = "sts:AssumeRole"
role_arn = "${role2_arn}"
save_as = "role2"
expect = "denied"

[[stages]]
config = "solution_demo"
[[stages.steps]]
as = "role1"
action = "sts:AssumeRole"
role_arn = "${role2_arn}"
save_as = "role2"
expect = "allowed"
[[stages.steps]]
as = "role2"
action = "sts:GetCallerIdentity"
expect = "allowed"
"#;

    #[test]
    fn a_chain_applies_configs_in_order() {
        let scenario = parse(CHAIN).unwrap();
        let configs: Vec<String> = scenario.stages.iter().map(Stage::config_name).collect();
        assert_eq!(configs, ["problem_demo", "solution_demo"]);
        assert_eq!(scenario.config_label(), "problem_demo -> solution_demo");
        assert_eq!(scenario.stages[1].steps.len(), 2);
        let err = Scenario::parse(Path::new("c.toml"), CHAIN, Path::new("t"), Some(Path::new("/x"))).unwrap_err();
        assert!(err.to_string().contains("several [[stages]]"), "{err}");
        assert!(error_of(&format!("config = \"x\"\n{CHAIN}")).contains("not both"));
    }

    /// CHAIN with a third stage applied as `role1`: `extra` goes in that stage.
    fn applied_as(extra: &str) -> String {
        format!("{CHAIN}\n[[stages]]\nname = \"as role1\"\nconfig = \"deployer_apply\"\napply_as = \"role1\"\nvariables = {{ external_id = \"none\" }}\n{extra}")
    }

    #[test]
    fn a_stage_may_be_applied_as_a_principal_and_expect_a_refusal() {
        let scenario = parse(&applied_as("expect_apply = \"denied\"\nbecause = \"trust\"\n")).unwrap();
        let stage = &scenario.stages[2];
        assert_eq!(stage.apply, StageApply { as_principal: Some("role1".into()), refused: true, because: Some(Because::Trust) });
        assert_eq!(stage.variables["external_id"], "none");
        assert_eq!(stage.refusal_step_name().as_deref(), Some("as role1: the apply as role1 is refused"));
        assert_eq!(scenario.config_label(), "problem_demo -> solution_demo -> as role1");
        let applied = parse(&applied_as("[[stages.steps]]\nas = \"role1\"\naction = \"sts:GetCallerIdentity\"\nexpect = \"allowed\"\n")).unwrap();
        assert_eq!((applied.stages[2].apply.refused, applied.stages[2].refusal_step_name()), (false, None));
    }

    fn with_accounts(table: &str, variables: &str) -> String {
        format!("{table}\n[[stages]]\nconfig = \"problem_demo\"\nvariables = {{ {variables} }}\n[[stages.steps]]\nas = \"role1\"\naction = \"sts:GetCallerIdentity\"\nexpect = \"allowed\"\n[principals.role1]\ninstance = \"${{instance_id}}\"\n")
    }

    #[test]
    fn accounts_keep_their_written_order_and_stage_variables_name_them() {
        let text = with_accounts("[accounts]\nzeta = \"222222222222\"\nalpha = \"111111111111\"", "deployer_account_id = \"${accounts.alpha}\"");
        let scenario = parse(&text).unwrap();
        assert_eq!(scenario.accounts.names(), ["zeta", "alpha"], "the first written is the default, whatever its name");
        assert_eq!(scenario.accounts.for_alias(None).unwrap().id, "222222222222");
        assert_eq!(scenario.accounts.substitute(&scenario.stages[0].variables["deployer_account_id"]), "111111111111");
        assert!(parse(&with_accounts("", "x = \"1\"")).unwrap().accounts.is_empty());
    }

    #[test]
    fn a_malformed_accounts_table_is_located_with_its_own_exit_code() {
        for (table, variables, says) in [
            ("[accounts]\ndev = \"1111\"", "", ":2:7: [accounts]: account `dev` is \"1111\", not an account id (12 digits)"),
            ("[accounts]\ndev = 111111111111", "", ":2:7: [accounts]: account `dev` must be a quoted 12-digit id"),
            ("[accounts]\ndev = \"111111111111\"\nprod = \"111111111111\"", "", ":3:8: [accounts]: accounts `dev` and `prod` are the same account 111111111111"),
            ("[accounts]", "", "the table names no account"),
            ("[accounts]\ndev = \"111111111111\"", "x = \"${accounts.prod}\"", "variables name `${accounts.prod}`, which is not an account of this scenario (known: dev)"),
        ] {
            let err = parse(&with_accounts(table, variables)).unwrap_err();
            assert_eq!(err.exit_code(), crate::exit_code::ACCOUNTS_INVALID, "{err}");
            assert!(err.to_string().contains(says), "{err}");
        }
    }

    #[test]
    fn apply_as_is_refused_where_it_cannot_mean_anything() {
        let err = error_of(&applied_as("expect_apply = \"refused\"\n"));
        assert!(err.contains("expect_apply is \"applied\" or \"denied\", not `refused`"), "{err}");
        let err = error_of(&applied_as("expect_apply = \"denied\"\n[[stages.steps]]\nas = \"role1\"\naction = \"sts:GetCallerIdentity\"\nexpect = \"allowed\"\n"));
        assert!(err.contains("the refusal is its step"), "{err}");
        let err = error_of(&applied_as("because = \"trust\"\n[[stages.steps]]\nas = \"role1\"\naction = \"sts:GetCallerIdentity\"\nexpect = \"allowed\"\n"));
        assert!(err.contains("`because` goes with expect_apply = \"denied\""), "{err}");
        let err = error_of(&applied_as("expect_apply = \"denied\"\n").replace("apply_as = \"role1\"", "apply_as = \"ci\""));
        assert!(err.contains("unknown principal `ci` in apply_as"), "{err}");
        let first = CHAIN.replacen("config = \"problem_demo\"", "config = \"problem_demo\"\napply_as = \"role1\"", 1);
        assert!(error_of(&first).contains("the first stage is applied as the admin"), "{}", error_of(&first));
        let admin = CHAIN.replacen("config = \"solution_demo\"", "config = \"solution_demo\"\nexpect_apply = \"denied\"", 1);
        assert!(error_of(&admin).contains("go with `apply_as`"), "{}", error_of(&admin));
    }

    #[test]
    fn a_stage_applied_as_a_principal_sees_the_chains_outputs_too() {
        let text = applied_as("[[stages.steps]]\nas = \"role1\"\naction = \"s3:ListBucket\"\nbucket = \"${bucket_name}\"\nexpect = \"allowed\"\n");
        let scenario = parse(&text).unwrap();
        // instance_id and role2_arn come from the chain; bucket_name from the stage's own config.
        let declared = |config: &Path| {
            let names: &[&str] = if config.ends_with("deployer_apply") { &["bucket_name"] } else { &["instance_id", "role2_arn"] };
            Ok::<_, String>(names.iter().map(|n| n.to_string()).collect::<BTreeSet<String>>())
        };
        scenario.check_outputs(declared).unwrap();
    }

    #[test]
    fn outputs_are_checked_per_stage() {
        let scenario = parse(CHAIN).unwrap();
        let err = scenario
            .check_outputs(|config| {
                let mut outputs: BTreeSet<String> = ["instance_id".to_string()].into();
                if config.ends_with("problem_demo") {
                    outputs.insert("role2_arn".into());
                }
                Ok::<_, String>(outputs)
            })
            .unwrap_err()
            .to_string();
        assert!(err.contains(":19:12: `${role2_arn}` is not an output of terraform_configuration/solution_demo"), "{err}");
    }

    #[test]
    fn bad_expectation_and_unknown_fields_are_refused() {
        assert!(error_of(&GOOD.replace("expect = \"allowed\"\n\n[[steps]]", "expect = \"maybe\"\n\n[[steps]]")).contains("maybe"));
        assert!(error_of(&GOOD.replace("save_as", "saveas")).contains("saveas"));
    }

    #[test]
    fn missing_field_and_empty_steps() {
        assert!(error_of(&GOOD.replace("bucket = \"${bucket_name}\"\n", "")).contains("needs `bucket`"));
        assert!(error_of("config = \"x\"\n").contains("no [[steps]]"));
        assert!(error_of("description = \"x\"\n").contains("no `config`"));
    }

    #[test]
    fn outputs_are_checked_against_the_config() {
        let scenario = parse(GOOD).unwrap();
        let declared: BTreeSet<String> = ["instance_id", "role2_arn"].iter().map(|s| s.to_string()).collect();
        let err = scenario.check_outputs(|_| Ok::<_, String>(declared.clone())).unwrap_err().to_string();
        assert!(err.starts_with("scenarios/demo.toml:18:10: `${bucket_name}` is not an output"), "{err}");
    }

    /// Deterministic fuzzing of the shipped scenarios (the cargo-fuzz target
    /// in harness/fuzz goes further): every truncation and every single-byte
    /// change to a TOML-significant character returns Ok or Err, never panics.
    #[test]
    fn mutated_scenarios_never_panic() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        // A single-config file and a chain; the others repeat their shapes.
        let files = [dir.join("problem_demo.toml"), dir.join("blog_demo.toml")];
        let declared: BTreeSet<String> = ["instance_id", "bucket_name"].iter().map(|s| s.to_string()).collect();
        let values: BTreeMap<String, String> = declared.iter().map(|k| (k.clone(), "v".to_string())).collect();
        let mut parsed = 0;
        for file in files {
            let original = std::fs::read(&file).unwrap();
            let mut variants: Vec<Vec<u8>> = (0..original.len()).map(|i| original[..i].to_vec()).collect();
            for i in 0..original.len() {
                for byte in *b"\"[]=$\n" {
                    let mut changed = original.clone();
                    changed[i] = byte;
                    variants.push(changed);
                }
            }
            for variant in variants {
                let Ok(text) = String::from_utf8(variant) else { continue };
                if let Ok(scenario) = parse(&text) {
                    parsed += 1;
                    let _ = scenario.check_outputs(|_| Ok::<_, String>(declared.clone()));
                    for step in scenario.steps() {
                        for template in step.action.templates() {
                            let _ = template.render(&values);
                        }
                    }
                }
            }
        }
        assert!(parsed > 0, "some variants still parse (the test exercises the validation too)");
    }

    #[test]
    fn templates_render_and_reject_malformed_references() {
        let t = Template { text: "arn:${a}/x/${b}".into(), line: 1, column: 1 };
        let values: BTreeMap<String, String> = [("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())].into();
        assert_eq!(t.render(&values).unwrap(), "arn:1/x/2");
        assert!(error_of(&GOOD.replace("${bucket_name}", "${bucket name}")).contains("malformed output reference"));
    }
}
