//! `harness mutants`: every mutant of the catalogue beside the unmutated
//! scenarios it is checked by, on one target; the score, and exit 1 below 100%.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::{CommandError, Invocation, project_dir, reporters, run_on};
use crate::cli::{MutantsArgs, ReportFiles};
use crate::exit_code;
use crate::mutants::{self, Fate, Mutant, MutantError};
use crate::report::ScenarioReport;
use crate::reporter::progress::Progress;
use crate::runner::RunOptions;
use crate::scenario::Scenario;

pub async fn mutants(args: MutantsArgs) -> Result<i32, CommandError> {
    let invocation = Invocation::resolve(&args.target)?;
    let catalogue = if args.catalogue.is_file() { args.catalogue.clone() } else { project_dir(None, ".").join(&args.catalogue) };
    let passed = passed_in(args.baselines_from.as_deref())?;
    let (list, scenarios, _work) = prepare(&catalogue, &invocation, &passed)?;
    let reporters = reporters(vec![Box::new(Progress::quiet(std::io::stderr()))], &ReportFiles { json: args.report_json.clone(), ..ReportFiles::default() })?;
    let cancel = CancellationToken::new();
    let (terraform, target) = invocation.prepare(&cancel).await?;
    eprintln!("mutants: {} mutants of {}, and the {} unmutated scenarios, {} at once", list.len(), catalogue.display(), scenarios.len() - list.len(), args.jobs);
    // A mutant caught at its step stops there (its later stages would prove nothing more).
    let stop_at = list.iter().zip(&scenarios[scenarios.len() - list.len()..]).filter_map(|(m, s)| Some((s.name.clone(), m.killed_at.step()?.to_string()))).collect();
    let options = RunOptions { jobs: args.jobs, always_destroy: args.target.always_destroy, stop_at, ..RunOptions::default() };
    let result = run_on(target, terraform, options, &cancel, &scenarios, &reporters).await;
    reporters.finish(&result)?;
    if cancel.is_cancelled() {
        return Ok(exit_code::INTERRUPTED);
    }
    let baselines = &result.scenarios[..scenarios.len() - list.len()];
    if let Some(broken) = baselines.iter().find(|s| !s.passed) {
        return Err(CommandError::BaselineFails(broken.name.clone()));
    }
    Ok(score(&list, &result.scenarios[baselines.len()..]))
}

/// The catalogue's mutants, and the scenarios to run: the unmutated ones
/// first (each must pass, or no kill means anything, unless the report given
/// says it passed on this same code), then one per mutant, its config
/// mutated in a folder that lives as long as the returned guard.
fn prepare(catalogue: &Path, invocation: &Invocation, passed: &[String]) -> Result<(Vec<Mutant>, Vec<Scenario>, tempfile::TempDir), MutantError> {
    let (scenarios_dir, configs) = (invocation.scenarios_dir(), invocation.configs_dir());
    let list = mutants::load(catalogue)?;
    let work = tempfile::Builder::new().prefix("harness-mutants-").tempdir().map_err(|e| MutantError::Catalogue { path: catalogue.to_path_buf(), message: e.to_string() })?;
    let mut baselines: Vec<String> = list.iter().map(|m| m.scenario.clone()).collect();
    baselines.sort();
    baselines.dedup();
    baselines.retain(|name| !passed.contains(name));
    let mut scenarios = Vec::new();
    for name in &baselines {
        let first = list.iter().find(|m| &m.scenario == name).expect("a baseline comes from a mutant");
        scenarios.push(mutants::scenario(first, 0, &scenarios_dir, &configs, None)?);
    }
    for (index, mutant) in list.iter().enumerate() {
        let mutated = mutants::mutate(mutant, &configs, work.path())?;
        scenarios.push(mutants::scenario(mutant, index + 1, &scenarios_dir, &configs, Some(&mutated))?);
    }
    Ok((list, scenarios, work))
}

/// The scenarios that passed in a run's report (`--baselines-from`), said.
fn passed_in(report: Option<&Path>) -> Result<Vec<String>, CommandError> {
    let Some(path) = report else { return Ok(Vec::new()) };
    let report = crate::report::merge::read(path)?;
    let passed: Vec<String> = report.scenarios.into_iter().filter(|s| s.passed).map(|s| s.name).collect();
    eprintln!("mutants: unmutated scenarios that passed in {}: {}", path.display(), passed.join(", "));
    Ok(passed)
}

/// Each mutant's fate, and the score: 100% (exit 0) or exit 1.
pub fn score(list: &[Mutant], reports: &[ScenarioReport]) -> i32 {
    let mut killed = 0;
    for (mutant, report) in list.iter().zip(reports) {
        let fate = mutants::fate(mutant, report);
        let line = match &fate {
            Fate::Killed(how) => {
                killed += 1;
                format!("KILLED    {:<34} {how}", mutant.name)
            }
            Fate::Survived => format!("SURVIVED  {:<34} every check of {} passed: it misses this mistake ({})", mutant.name, mutant.scenario, mutant.why),
            Fate::KilledElsewhere(places) => format!("ELSEWHERE {:<34} caught, but not at {:?}: {places}", mutant.name, mutant.killed_at),
        };
        println!("{line}");
    }
    let score = 100.0 * killed as f64 / list.len().max(1) as f64;
    println!("mutation score: {killed}/{} killed ({score:.0}%)", list.len());
    if killed == list.len() { exit_code::SUCCESS } else { exit_code::STEPS_FAILED }
}
