//! The end-to-end suite (`cargo test --features localstack`): every scenario
//! step of `scenarios/` is a trial, plus one trial per launcher fix and per
//! identity guarantee. One embedded moto target serves them all.
//!
//! Scenarios run first (concurrently, only those with a selected trial),
//! then each trial reports its step's verdict, so
//! `cargo test --features localstack -- solution_demo` filters as usual.
//! A step that is UNVERIFIED fails its trial unless HARNESS_ALLOW_UNVERIFIED=1.

mod e2e_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use harness::report::{Cleanup, RunReport, ScenarioReport};
use harness::runner::{self, RunOptions, Runner};
use harness::scenario::{self, Scenario};
use harness::steps::Verdict;
use harness::terraform::Terraform;
use libtest_mimic::{Arguments, Failed, Trial};

use e2e_support::{SUITE, Suite};

type Results = Arc<OnceLock<Result<RunReport, String>>>;

fn project_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

fn slug(text: &str) -> String {
    let s: String = text.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    s.split('_').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("_")
}

fn allow_unverified() -> bool {
    std::env::var("HARNESS_ALLOW_UNVERIFIED").is_ok_and(|v| v == "1" || v == "true")
}

/// One trial per scenario phase and step, all reading the shared results.
fn scenario_trials(scenario: &Scenario, results: &Results) -> Vec<Trial> {
    let mut trials = Vec::new();
    let name = scenario.name.clone();
    let find = {
        let results = results.clone();
        let name = name.clone();
        move || -> Result<ScenarioReport, Failed> {
            match results.get() {
                Some(Ok(report)) => report.scenarios.iter().find(|s| s.name == name).cloned().ok_or_else(|| "the scenario did not run".into()),
                Some(Err(message)) => Err(message.clone().into()),
                None => Err("the suite did not run the scenarios".into()),
            }
        }
    };
    {
        let find = find.clone();
        trials.push(Trial::test(format!("{name}::apply"), move || {
            let report = find()?;
            match &report.error {
                Some(e) if e.phase != "scenario" => Err(format!("{} failed: {}", e.phase, e.message).into()),
                _ => Ok(()),
            }
        }));
    }
    // At every stage the runner reports one lookup step per principal, then the stage's steps.
    let chain = scenario.stages.len() > 1;
    let step_names: Vec<String> = scenario
        .stages
        .iter()
        .flat_map(|stage| {
            let config = if chain { format!("{} ", stage.config_name()) } else { String::new() };
            let lookups = scenario.principals.keys().map(move |p| format!("{config}{p} instance profile"));
            lookups.chain(stage.steps.iter().map(|s| s.name.clone()))
        })
        .collect();
    for (index, step_name) in step_names.into_iter().enumerate() {
        let find = find.clone();
        trials.push(Trial::test(format!("{name}::{index:02}_{}", slug(&step_name)), move || {
            let report = find()?;
            let Some(step) = report.steps.get(index) else {
                let why = report.error.map(|e| format!("{} failed: {}", e.phase, e.message)).unwrap_or_default();
                return Err(format!("step not run; {why}").into());
            };
            let observed = format!("expected {}, observed {}{}", step.expected, step.observed, step.error_code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default());
            match step.verdict {
                Verdict::Pass => Ok(()),
                Verdict::Unverified if allow_unverified() => Ok(()),
                verdict => Err(format!("{verdict:?}: {observed}; {}", step.reason.clone().unwrap_or_default()).into()),
            }
        }));
    }
    trials.push(Trial::test(format!("{name}::cleanup"), move || {
        let report = find()?;
        match report.cleanup {
            // The embedded emulator ends with the run; the fault tests cover destroy.
            Cleanup::Destroyed | Cleanup::TargetEnded => Ok(()),
            other => Err(format!("cleanup: {other:?}").into()),
        }
    }));
    trials
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let results: Results = Arc::new(OnceLock::new());

    let scenarios_dir = project_path("scenarios");
    let configs_dir = project_path("terraform_configuration");
    let mut trials = Vec::new();
    let mut scenarios = BTreeMap::new();
    match scenario::discover(&scenarios_dir) {
        Ok(files) => {
            for file in files {
                match Scenario::load(&file, &configs_dir, None) {
                    Ok(s) => {
                        trials.extend(scenario_trials(&s, &results));
                        scenarios.insert(s.name.clone(), s);
                    }
                    Err(err) => trials.push(Trial::test(format!("scenarios::{}", file.display()), move || Err(err.to_string().into()))),
                }
            }
        }
        Err(err) => trials.push(Trial::test("scenarios::discovered", move || Err(err.to_string().into()))),
    }
    trials.extend(e2e_support::trials(runtime.handle().clone()));

    if !args.list {
        let selected = |t: &Trial| !args.is_filtered_out(t) && !args.is_ignored(t);
        let wanted: Vec<Scenario> =
            scenarios.values().filter(|s| trials.iter().any(|t| t.name().starts_with(&format!("{}::", s.name)) && selected(t))).cloned().collect();
        let need_target = !wanted.is_empty() || trials.iter().any(|t| !t.name().contains("::apply") && selected(t));
        if need_target {
            let _ = SUITE.set(runtime.block_on(Suite::start()));
        }
        if !wanted.is_empty() {
            let report = match SUITE.get() {
                Some(Ok(suite)) => runtime.block_on(run_scenarios(suite, &wanted)),
                Some(Err(message)) => Err(message.clone()),
                None => Err("no target".into()),
            };
            let _ = results.set(report);
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    if let Some(Ok(suite)) = SUITE.get() {
        suite.stop();
    }
    conclusion.exit_code()
}

async fn run_scenarios(suite: &Suite, scenarios: &[Scenario]) -> Result<RunReport, String> {
    let mut terraform = Terraform::locate(None).map_err(|e| e.to_string())?;
    terraform.arrange_providers();
    let runner = Runner {
        target: suite.target.clone(),
        terraform,
        options: RunOptions { jobs: 4, allow_unverified: allow_unverified(), ..RunOptions::default() },
        cancel: tokio_util::sync::CancellationToken::new(),
        run_id: runner::new_run_id(),
    };
    let print = |event: harness::report::Event<'_>| eprintln!("{}", harness::report::progress_line(&event));
    let report = runner.run(scenarios, &print).await;
    let json = project_path("target/e2e-report.json");
    if let Err(err) = harness::report::write_json(&report, &json) {
        eprintln!("cannot write {}: {err}", json.display());
    }
    Ok(report)
}
