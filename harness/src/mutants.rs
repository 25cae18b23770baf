//! Mutation testing of the scenarios: a catalogue of IAM mistakes, each one
//! text replacement in one config, and where the shipped scenario must
//! catch it (a named step that must not pass, or must fail on its reason
//! alone, or an apply that must fail with the error AWS gives). A mutant that survives is a check the
//! scenarios lack. The unmutated scenarios run in the same batch and must
//! pass, or no kill means anything.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::report::ScenarioReport;
use crate::scenario::{Scenario, ScenarioError};
use crate::verdict::Verdict;

#[derive(Debug, thiserror::Error)]
pub enum MutantError {
    #[error("{path}: {message}")]
    Catalogue { path: PathBuf, message: String },
    #[error("mutant {mutant}: the text to replace occurs {count} times in {file} (it must occur once): {replace:?}")]
    DoesNotApply { mutant: String, file: PathBuf, count: usize, replace: String },
    #[error("mutant {mutant}: {source}")]
    Scenario {
        mutant: String,
        #[source]
        source: ScenarioError,
    },
    #[error("mutant {mutant}: cannot copy {from}: {source}")]
    Copy {
        mutant: String,
        from: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where a mutant must be caught.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum KilledAt {
    /// This step of the scenario must not pass.
    Step(String),
    /// This step must still be denied, and fail on its reason: the mutant
    /// moved the denial's cause (another statement, another value in a
    /// condition), which only its `denied_by` catches.
    Reason(String),
    /// The apply must fail with this error code (what AWS answers).
    Apply(String),
    /// The access analysis must find a path the scenario's snapshot does not
    /// hold, whose line starts with this text (every step may still pass).
    Access(String),
}

impl KilledAt {
    /// The step that must not pass, when it is a step.
    pub fn step(&self) -> Option<&str> {
        match self {
            KilledAt::Step(step) | KilledAt::Reason(step) => Some(step),
            KilledAt::Apply(_) | KilledAt::Access(_) => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mutant {
    pub name: String,
    /// The scenario (a file of `scenarios/`) that must catch it.
    pub scenario: String,
    /// The config folder (of `terraform_configuration/`) it changes, and the file.
    pub config: String,
    pub file: String,
    pub replace: String,
    pub with: String,
    pub killed_at: KilledAt,
    /// Why AWS would refuse or deny it: the catalogue's reason to exist.
    pub why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalogue {
    mutant: Vec<Mutant>,
}

pub fn load(path: &Path) -> Result<Vec<Mutant>, MutantError> {
    let text = std::fs::read_to_string(path).map_err(|e| MutantError::Catalogue { path: path.into(), message: e.to_string() })?;
    let catalogue: Catalogue = toml::from_str(&text).map_err(|e| MutantError::Catalogue { path: path.into(), message: e.to_string() })?;
    let mut names: Vec<&str> = catalogue.mutant.iter().map(|m| m.name.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(MutantError::Catalogue { path: path.into(), message: format!("two mutants named {}", pair[0]) });
    }
    Ok(catalogue.mutant)
}

/// The mutant's config, copied into `work` with its one replacement made.
pub fn mutate(mutant: &Mutant, configs_root: &Path, work: &Path) -> Result<PathBuf, MutantError> {
    let from = configs_root.join(&mutant.config);
    let dir = work.join(&mutant.name);
    std::fs::create_dir_all(&dir).map_err(|source| MutantError::Copy { mutant: mutant.name.clone(), from: from.clone(), source })?;
    let entries = std::fs::read_dir(&from).map_err(|source| MutantError::Copy { mutant: mutant.name.clone(), from: from.clone(), source })?;
    for entry in entries.flatten().filter(|e| e.path().is_file()) {
        let copy = |source| MutantError::Copy { mutant: mutant.name.clone(), from: entry.path(), source };
        std::fs::copy(entry.path(), dir.join(entry.file_name())).map_err(copy)?;
    }
    let file = dir.join(&mutant.file);
    let text = std::fs::read_to_string(&file).map_err(|source| MutantError::Copy { mutant: mutant.name.clone(), from: from.join(&mutant.file), source })?;
    let count = text.matches(&mutant.replace).count();
    if count != 1 {
        return Err(MutantError::DoesNotApply { mutant: mutant.name.clone(), file: from.join(&mutant.file), count, replace: mutant.replace.clone() });
    }
    std::fs::write(&file, text.replacen(&mutant.replace, &mutant.with, 1))
        .map_err(|source| MutantError::Copy { mutant: mutant.name.clone(), from: file.clone(), source })?;
    Ok(dir)
}

/// The scenario that must catch the mutant, on its mutated config, named
/// `m<index>-<mutant>` (the index keeps resource prefixes apart) ; None: the unmutated one.
pub fn scenario(mutant: &Mutant, index: usize, scenarios_dir: &Path, configs_root: &Path, mutated: Option<&Path>) -> Result<Scenario, MutantError> {
    let file = scenarios_dir.join(format!("{}.{}", mutant.scenario, crate::scenario::EXTENSION));
    let mut scenario = Scenario::load(&file, configs_root, None).map_err(|source| MutantError::Scenario { mutant: mutant.name.clone(), source })?;
    if let Some(mutated) = mutated {
        scenario.name = format!("m{index:02}-{}", mutant.name);
        // Every stage of the mutated config (a chain's too) runs the mutated copy.
        let stages = scenario.stages.iter_mut().filter(|stage| stage.config_name() == mutant.config);
        if stages.map(|stage| stage.config = mutated.to_path_buf()).count() == 0 {
            return Err(MutantError::Catalogue { path: file, message: format!("mutant `{}`: scenario {} has no stage of config {}", mutant.name, mutant.scenario, mutant.config) });
        }
    }
    Ok(scenario)
}

/// What became of a mutant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Caught where the catalogue says, with how.
    Killed(String),
    /// Every check passed: the scenarios miss this mistake.
    Survived,
    /// Caught, but not where the catalogue says: the catalogue (or the harness) is wrong.
    KilledElsewhere(String),
}

/// Judge a mutant by its scenario's report.
pub fn fate(mutant: &Mutant, report: &ScenarioReport) -> Fate {
    let failed_steps: Vec<String> =
        report.steps.iter().filter(|s| !matches!(s.verdict, Verdict::Pass)).map(|s| format!("`{}` {}", s.name, s.verdict.label())).collect();
    let elsewhere = || {
        let mut places = failed_steps.clone();
        if let Some(error) = &report.error {
            places.push(format!("{} failed: {}", error.phase, error.message.lines().next().unwrap_or_default()));
        }
        Fate::KilledElsewhere(places.join("; "))
    };
    match &mutant.killed_at {
        // A prefix names a step whose name holds run-time values (the instance id).
        KilledAt::Step(name) => match report.steps.iter().find(|s| s.name.starts_with(name.as_str())) {
            Some(step) if step.verdict != Verdict::Pass => {
                let observed = step.error_code.as_ref().map(|c| format!("{} ({c})", step.observed)).unwrap_or_else(|| step.observed.clone());
                let why = step.why.as_ref().map(|w| format!(": {w}")).unwrap_or_default();
                Fate::Killed(format!("step `{name}`: {}, expected {}, observed {observed}{why}", step.verdict.label(), step.expected))
            }
            _ if report.passed => Fate::Survived,
            _ => elsewhere(),
        },
        KilledAt::Reason(name) => match report.steps.iter().find(|s| s.name.starts_with(name.as_str())) {
            Some(step) if step.verdict == Verdict::Fail && step.observed == step.expected.to_string() && step.denied_by.is_some() => {
                Fate::Killed(format!("step `{name}`: still denied, FAIL on its reason: {}", step.why.as_deref().unwrap_or_default()))
            }
            _ if report.passed => Fate::Survived,
            _ => elsewhere(),
        },
        KilledAt::Access(start) => match report.access.as_ref().and_then(|a| a.diff.as_ref()).and_then(|d| d.added.iter().find(|l| l.starts_with(start.as_str()))) {
            Some(line) => Fate::Killed(format!("access: new path {line}")),
            None if report.passed => Fate::Survived,
            None => elsewhere(),
        },
        KilledAt::Apply(code) => match &report.error {
            Some(error) if error.phase.is_terraform_apply() && error.message.contains(code.as_str()) => Fate::Killed(format!("{} failed with {code}", error.phase)),
            _ if report.passed => Fate::Survived,
            _ => elsewhere(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mutant(replace: &str) -> Mutant {
        Mutant {
            name: "m".into(),
            scenario: "s".into(),
            config: "c".into(),
            file: "main.tf".into(),
            replace: replace.into(),
            with: "B".into(),
            killed_at: KilledAt::Step("x".into()),
            why: String::new(),
        }
    }

    #[test]
    fn a_mutant_caught_by_the_access_snapshot_is_killed_there_even_with_every_step_passing() {
        let report = crate::report::fixture::access_changed().scenarios.remove(0);
        let caught = Mutant { killed_at: KilledAt::Access("aws_iam_role.ci -> aws_iam_role.role2".into()), ..mutant("C") };
        assert!(matches!(fate(&caught, &report), Fate::Killed(how) if how.starts_with("access: new path aws_iam_role.ci")));
        let other = Mutant { killed_at: KilledAt::Access("aws_iam_user.nobody".into()), ..mutant("C") };
        assert!(matches!(fate(&other, &report), Fate::KilledElsewhere(_)));
        let mut held = report.clone();
        (held.access, held.passed) = (None, true);
        assert_eq!(fate(&caught, &held), Fate::Survived);
    }

    /// A reason kill is a step still denied as expected that fails only on its
    /// `denied_by`; a step that was allowed instead was killed elsewhere.
    #[test]
    fn a_reason_kill_is_a_denial_that_fails_on_its_statement() {
        let mut report = crate::report::fixture::sample().scenarios.remove(0);
        let index = report.steps.iter().position(|s| s.expected == crate::scenario::Expectation::Denied).expect("a denied step");
        let name = report.steps[index].name.clone();
        let caught = Mutant { killed_at: KilledAt::Reason(name.clone()), ..mutant("C") };
        let step = &mut report.steps[index];
        (step.verdict, step.observed, step.why) = (Verdict::Fail, "denied".into(), Some("denied because trust as expected, but by statement 1".into()));
        step.denied_by = Some(crate::policy::DeniedBy::NoStatement);
        report.passed = false;
        assert!(matches!(fate(&caught, &report), Fate::Killed(how) if how.contains("still denied, FAIL on its reason: denied because trust")), "{:?}", fate(&caught, &report));
        report.steps[index].observed = "allowed".into();
        assert!(matches!(fate(&caught, &report), Fate::KilledElsewhere(_)));
    }

    #[test]
    fn a_mutant_applies_exactly_once_or_not_at_all() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("c")).unwrap();
        std::fs::write(root.path().join("c/main.tf"), "A A C").unwrap();
        std::fs::write(root.path().join("c/outputs.tf"), "out").unwrap();
        let work = tempfile::tempdir().unwrap();
        let dir = mutate(&mutant("C"), root.path(), work.path()).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("main.tf")).unwrap(), "A A B");
        assert_eq!(std::fs::read_to_string(dir.join("outputs.tf")).unwrap(), "out");
        assert_eq!(std::fs::read_to_string(root.path().join("c/main.tf")).unwrap(), "A A C", "the original is untouched");
        assert!(matches!(mutate(&mutant("A"), root.path(), work.path()), Err(MutantError::DoesNotApply { count: 2, .. })));
        assert!(matches!(mutate(&mutant("Z"), root.path(), work.path()), Err(MutantError::DoesNotApply { count: 0, .. })));
    }
}
