//! Reading a scenario file: the TOML as written, checked field by field,
//! every error at `file:line:column`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::model::*;
use super::{FORMAT, ScenarioError, denied_by, did_you_mean};
use crate::accounts::{Accounts, AccountsError};
use crate::policy::{Because, DeniedBy};
use crate::service::sts::{ASSUME_ROLE_WITH_SAML, ASSUME_ROLE_WITH_WEB_IDENTITY};
use crate::service::{FieldError, ParseError, StepFields};

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
    organization: Option<Spanned<RawOrganization>>,
    #[serde(default)]
    principals: BTreeMap<String, Spanned<RawPrincipal>>,
    #[serde(default)]
    steps: Vec<Spanned<RawStep>>,
    #[serde(default)]
    stages: Vec<Spanned<RawStage>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganization {
    management: String,
    #[serde(default)]
    members: Vec<String>,
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
    denied_by: Option<Spanned<toml::Value>>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    steps: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrincipal {
    #[serde(default)]
    anonymous: bool,
    oidc_provider: Option<Spanned<String>>,
    saml_provider: Option<Spanned<String>>,
    metadata_file: Option<Spanned<String>>,
    instance: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
    access_key_id: Option<Spanned<String>>,
    secret_access_key: Option<Spanned<String>>,
}

/// A step as written: the fields every step has, and the action's own,
/// which its service reads.
#[derive(Deserialize)]
#[serde(try_from = "BTreeMap<String, Spanned<toml::Value>>")]
struct RawStep {
    name: Option<String>,
    principal: Spanned<String>,
    action: Spanned<String>,
    expect: Expectation,
    because: Option<Spanned<String>>,
    denied_by: Option<Spanned<toml::Value>>,
    error_code: Option<Spanned<String>>,
    fields: BTreeMap<String, Spanned<toml::Value>>,
}

impl TryFrom<BTreeMap<String, Spanned<toml::Value>>> for RawStep {
    type Error = String;

    fn try_from(mut fields: BTreeMap<String, Spanned<toml::Value>>) -> Result<Self, String> {
        let mut text = |name: &str| -> Result<Option<Spanned<String>>, String> {
            let Some(value) = fields.remove(name) else { return Ok(None) };
            let span = value.span();
            match value.into_inner() {
                toml::Value::String(text) => Ok(Some(Spanned::new(span, text))),
                other => Err(format!("`{name}` must be a string, not {}", other.type_str())),
            }
        };
        let name = text("name")?.map(Spanned::into_inner);
        let principal = text("as")?.ok_or("missing field `as`")?;
        let action = text("action")?.ok_or("missing field `action`")?;
        let because = text("because")?;
        let error_code = text("error_code")?;
        let denied_by = fields.remove("denied_by");
        let expect = fields.remove("expect").ok_or("missing field `expect`")?.into_inner();
        let expect = Expectation::deserialize(expect).map_err(|e| format!("expect: {}", e.message()))?;
        Ok(RawStep { name, principal, action, expect, because, denied_by, error_code, fields })
    }
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
    let denied_by = parse_denied_by(source, stage.denied_by.as_ref(), stage.because.is_some())?;
    Ok(StageApply { as_principal: Some(principal.get_ref().clone()), refused, because, denied_by })
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

/// `denied_by` names the statement an expected denial comes from; it goes with `because`.
fn parse_denied_by(source: &Source<'_>, denied_by: Option<&Spanned<toml::Value>>, because: bool) -> Result<Option<DeniedBy<Template>>, ScenarioError> {
    let Some(value) = denied_by else { return Ok(None) };
    if !because {
        return Err(source.error(value.span().start, "`denied_by` goes with `because` (the side that denies) and expect = \"denied\""));
    }
    let template = |text: &str, offset: usize| source.template_at(text, offset);
    denied_by::parse(value, &template).map(Some).map_err(|invalid| source.error(invalid.offset, invalid.message))
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
        self.template_at(value.get_ref(), value.span().start).map_err(|message| self.error(value.span().start, message))
    }

    /// `text`, written at `offset`, as a template; Err: a malformed reference.
    fn template_at(&self, text: &str, offset: usize) -> Result<Template, String> {
        let (line, column) = self.line_col(offset);
        let template = Template { text: text.to_string(), line, column };
        if template.text.matches("${").count() != template.references().len()
            || template.references().iter().any(|r| r.is_empty() || !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(format!("malformed output reference in `{}`; write `${{output_name}}`", template.text));
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
        let organization = parse_organization(&source, raw.organization.as_ref(), &accounts)?;
        let mut principals = BTreeMap::new();
        for (principal, spec) in &raw.principals {
            principals.insert(principal.clone(), parse_principal(&source, principal, spec)?);
        }

        // A principal is known once declared, or once an earlier step saved it
        // (sessions stay usable across stages).
        let mut known: BTreeSet<String> = principals.keys().cloned().collect();
        let exchangers = exchangers(&principals);
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
            let steps = parse_steps(&source, raw_steps, &mut known, &exchangers)?;
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
        check_metadata_files(&source, &raw.principals, &stages)?;

        Ok(Scenario { name, path: path.to_path_buf(), description: raw.description, principals, stages, accounts, organization })
    }
}

/// A SAML provider's metadata file is one a config of the scenario has: a
/// mistyped path would leave the user's own IdP's metadata in the provider.
fn check_metadata_files(source: &Source<'_>, principals: &BTreeMap<String, Spanned<RawPrincipal>>, stages: &[Stage]) -> Result<(), ScenarioError> {
    for file in principals.values().filter_map(|spec| spec.get_ref().metadata_file.as_ref()) {
        if !stages.iter().any(|stage| stage.config.join(file.get_ref()).is_file()) {
            let folders: BTreeSet<String> = stages.iter().map(|stage| stage.config.display().to_string()).collect();
            let folders = folders.into_iter().collect::<Vec<_>>().join(", ");
            return Err(source.error(file.span().start, format!("`metadata_file = \"{}\"` is in no config of this scenario ({folders}): name the file its aws_iam_saml_provider reads, relative to the root module", file.get_ref())));
        }
    }
    Ok(())
}

/// `[organization]`: its management account and members, each an account of `[accounts]`.
fn parse_organization(source: &Source<'_>, raw: Option<&Spanned<RawOrganization>>, accounts: &Accounts) -> Result<Option<Organization>, ScenarioError> {
    let Some(raw) = raw else { return Ok(None) };
    let at = raw.span().start;
    let organization = raw.get_ref();
    let known = || accounts.names().join(", ");
    for name in std::iter::once(&organization.management).chain(&organization.members) {
        if accounts.get(name).is_none() {
            return Err(source.accounts_error(at, format!("[organization] names `{name}`, which is not an account of this scenario's [accounts] (known: {})", known())));
        }
    }
    if organization.members.contains(&organization.management) {
        return Err(source.accounts_error(at, format!("`{}` is the management account: list only the member accounts in `members`", organization.management)));
    }
    Ok(Some(Organization { management: organization.management.clone(), members: organization.members.clone() }))
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

/// The provider principals, each with the one action it makes: a provider
/// only exchanges what it issues.
fn exchangers(principals: &BTreeMap<String, PrincipalSource>) -> BTreeMap<String, &'static str> {
    principals
        .iter()
        .filter_map(|(name, p)| match p {
            PrincipalSource::TokenIssuer { .. } => Some((name.clone(), ASSUME_ROLE_WITH_WEB_IDENTITY)),
            PrincipalSource::SamlProvider { .. } => Some((name.clone(), ASSUME_ROLE_WITH_SAML)),
            _ => None,
        })
        .collect()
}

/// An instance (`instance`, optionally `role`), a user (`access_key_id` and
/// `secret_access_key`), a token issuer (`oidc_provider`), a SAML identity
/// provider (`saml_provider`) or anyone (`anonymous = true`).
fn parse_principal(source: &Source<'_>, name: &str, spec: &Spanned<RawPrincipal>) -> Result<PrincipalSource, ScenarioError> {
    let raw = spec.get_ref();
    if let Some(provider) = &raw.saml_provider {
        if raw.anonymous || raw.oidc_provider.is_some() || raw.instance.is_some() || raw.role.is_some() || raw.access_key_id.is_some() || raw.secret_access_key.is_some() {
            return Err(source.error(spec.span().start, format!("principal `{name}` is a SAML provider: `saml_provider` alone (and its `metadata_file`)")));
        }
        let metadata_file = raw.metadata_file.as_ref().map(|file| metadata_path(source, file)).transpose()?;
        return Ok(PrincipalSource::SamlProvider { provider: source.template(provider)?, metadata_file });
    }
    if let Some(file) = &raw.metadata_file {
        return Err(source.error(file.span().start, format!("`metadata_file` belongs to a SAML provider principal (`saml_provider`); `{name}` is not one")));
    }
    if raw.anonymous {
        if raw.oidc_provider.is_some() || raw.instance.is_some() || raw.role.is_some() || raw.access_key_id.is_some() || raw.secret_access_key.is_some() {
            return Err(source.error(spec.span().start, format!("principal `{name}` is anonymous: it has no credentials, `anonymous = true` alone")));
        }
        return Ok(PrincipalSource::Anonymous);
    }
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
                "principal `{name}` is an instance (`instance`, optionally `role`), a user (`access_key_id` and `secret_access_key`, from outputs) an OIDC provider (`oidc_provider`), a SAML provider (`saml_provider`), or anyone (`anonymous = true`)"
            ),
        )),
    }
}

/// A SAML provider's metadata file: a path inside the root module, which the working copy's file of that name is.
fn metadata_path(source: &Source<'_>, file: &Spanned<String>) -> Result<std::path::PathBuf, ScenarioError> {
    let path = std::path::PathBuf::from(file.get_ref());
    let inside = !file.get_ref().is_empty() && path.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside {
        return Err(source.error(file.span().start, format!("`metadata_file = \"{}\"` must be a path inside the config folder (relative, without `..`): the file its aws_iam_saml_provider reads", file.get_ref())));
    }
    Ok(path)
}

/// A stage's steps; `known` holds the principals a step may act as, and
/// gains each session an AssumeRole step saves.
fn parse_steps(
    source: &Source<'_>,
    raw_steps: &[Spanned<RawStep>],
    known: &mut BTreeSet<String>,
    exchangers: &BTreeMap<String, &'static str>,
) -> Result<Vec<Step>, ScenarioError> {
    let mut steps = Vec::new();
    for spanned in raw_steps {
        let raw_step = spanned.get_ref();
        let principal = raw_step.principal.get_ref();
        let action = raw_step.action.get_ref().as_str();
        let message = match exchangers.get(principal) {
            Some(only) if action != *only => Some(format!("`{principal}` is a provider: it only exchanges what it issues ({only})")),
            None if action == ASSUME_ROLE_WITH_WEB_IDENTITY => {
                Some(format!("sts:AssumeRoleWithWebIdentity is made with a token: `as` names an OIDC provider principal (`oidc_provider`), not `{principal}`"))
            }
            None if action == ASSUME_ROLE_WITH_SAML => {
                Some(format!("sts:AssumeRoleWithSAML is made with a SAML response: `as` names a SAML provider principal (`saml_provider`), not `{principal}`"))
            }
            _ => None,
        };
        if let Some(message) = message {
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
        let name = raw_step.name.clone().unwrap_or_else(|| format!("{principal} {}", action.name()));
        let because = parse_because(source, raw_step)?;
        let denied_by = parse_denied_by(source, raw_step.denied_by.as_ref(), raw_step.because.is_some())?;
        let error_code = parse_error_code(source, raw_step, spanned.span().start)?;
        steps.push(Step { name, principal: principal.clone(), action, expect: raw_step.expect, because, denied_by, error_code });
    }
    Ok(steps)
}

/// The step's action, read by its service from the step's own fields.
fn parse_action(source: &Source<'_>, step: &RawStep, step_start: usize) -> Result<Action<Template>, ScenarioError> {
    let action_name = step.action.get_ref().as_str();
    let template = |text: &str, offset: usize| source.template_at(text, offset).map_err(|message| FieldError { offset, message });
    let fields = StepFields::new(action_name, step_start, &step.fields, step.expect == Expectation::Allowed, &template);
    Action::parse(&fields).map_err(|err| match err {
        ParseError::Field(field) => source.error(field.offset, field.message),
        ParseError::UnknownAction => {
            let known = Action::names();
            let hint = did_you_mean(action_name, known.iter().copied());
            source.error(step.action.span().start, format!("unknown action `{action_name}`{hint}; known: {}", known.join(", ")))
        }
    })
}
