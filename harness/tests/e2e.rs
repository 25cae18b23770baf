//! The end-to-end suite (`cargo test --features localstack`): every scenario
//! step of `scenarios/` is a trial, plus one trial per launcher fix and per
//! identity guarantee, on the IAM-enforcing moto target (in a container
//! through testcontainers when Docker answers, else a host process); and
//! the blog scenarios again on LocalStack Community in a container
//! (`localstack::` trials), where every expected denial must come out
//! UNVERIFIED (it enforces no IAM) and every expected success must pass.
//!
//! Scenarios run first (both targets at once, only scenarios with a
//! selected trial), then each trial reports its step's verdict, so
//! `cargo test --features localstack -- solution_demo` filters as usual.
//! On the moto target a step that is UNVERIFIED fails its trial unless
//! HARNESS_ALLOW_UNVERIFIED=1. Without Docker the `localstack::` trials are
//! ignored, unless HARNESS_REQUIRE_DOCKER=1 (CI), which fails them.

mod e2e_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use harness::access;
use harness::policy::{Decision, PolicyType};
use harness::report::{Cleanup, RunReport, ScenarioReport, StepReport};
use harness::reporter::{Reporters, json::Json, progress::Progress};
use harness::runner::{self, RunOptions, Runner};
use harness::scenario::{self, Expectation, PrincipalSource, Scenario};
use harness::verdict::Verdict;
use harness::target::{Target, container, localstack};
use harness::terraform::Terraform;
use tokio_util::sync::CancellationToken;
use libtest_mimic::{Arguments, Failed, Trial};

use e2e_support::{SUITE, Suite, docker_required};

type Results = Arc<OnceLock<Result<RunReport, String>>>;

/// How a target's step verdicts are judged.
type Judge = fn(&StepReport) -> Result<(), Failed>;

/// The scenarios run on one target, and how their trials are named and judged.
struct TargetRun {
    /// Trial-name prefix ("" for the moto target).
    prefix: &'static str,
    results: Results,
    judge: Judge,
    /// Which scenarios run here.
    includes: fn(&Scenario) -> bool,
    /// Its trials are ignored on this machine (no Docker).
    ignored: bool,
}

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

fn observed(step: &StepReport) -> String {
    format!("expected {}, observed {}{}", step.expected, step.observed, step.error_code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())
}

/// An enforcing target: every step passes, and every scenario step
/// carries the evaluator's prediction (the admin's own lookups are not claims).
fn judge_enforcing(step: &StepReport) -> Result<(), Failed> {
    if step.principal != runner::ADMIN_PRINCIPAL && (step.predicted.is_none() || step.reason.is_none()) {
        return Err(format!("no prediction: {}", step.prediction_error.clone().unwrap_or_default()).into());
    }
    match step.verdict {
        Verdict::Pass => Ok(()),
        Verdict::Unverified if allow_unverified() => Ok(()),
        verdict => Err(format!("{verdict:?}: {}; {}", observed(step), step.why.clone().unwrap_or_default()).into()),
    }
}

/// LocalStack Community enforces nothing: an expected denial must be
/// UNVERIFIED (never a pass it cannot prove), its `why` naming the rule its
/// predicted reason names (identity or trust policies); an expected success must pass.
fn judge_non_enforcing(step: &StepReport) -> Result<(), Failed> {
    let rule = step.reason.as_ref().filter(|r| r.decision == Decision::Deny).and_then(|r| r.policy_type).map(|t| match t {
        PolicyType::Identity => "identity policies",
        PolicyType::Trust => "trust policies",
        _ => "",
    });
    let why = step.why.clone().unwrap_or_default();
    if let (Verdict::Unverified, Some(rule)) = (step.verdict, rule)
        && !why.contains(rule)
    {
        return Err(format!("the why `{why}` does not name {rule}, which the predicted reason names: {}", step.reason.as_ref().map(|r| r.text.as_str()).unwrap_or_default()).into());
    }
    match (step.expected, step.verdict) {
        (Expectation::Denied | Expectation::Error, Verdict::Unverified) | (Expectation::Allowed, Verdict::Pass) => Ok(()),
        (expected, verdict) => {
            let wanted = if expected == Expectation::Allowed { "PASS" } else { "UNVERIFIED" };
            Err(format!("expected {expected} to come out {wanted}, got {verdict:?}: {}; {}", observed(step), step.why.clone().unwrap_or_default()).into())
        }
    }
}

/// How a trial names the step it judges.
#[derive(Debug, Clone)]
enum StepName {
    /// The runner's lookup of a principal's instance profile: its name holds the instance id.
    Lookup(String),
    Exact(String),
}

impl StepName {
    fn matches(&self, step: &StepReport) -> bool {
        match self {
            StepName::Lookup(prefix) => step.principal == runner::ADMIN_PRINCIPAL && step.name.starts_with(prefix.as_str()),
            StepName::Exact(name) => step.principal != runner::ADMIN_PRINCIPAL && &step.name == name,
        }
    }
}

/// At every stage the runner reports one lookup step per principal, then the
/// stage's steps: (trial title, stage, how to find the step), never by position.
fn expected_steps(scenario: &Scenario) -> Vec<(String, Option<String>, StepName)> {
    let chain = scenario.stages.len() > 1;
    scenario
        .stages
        .iter()
        .flat_map(|stage| {
            let stage_name = chain.then(|| stage.label());
            let config = stage_name.as_ref().map(|c| format!("{c} ")).unwrap_or_default();
            // A token issuer has no lookup (its first step is the exchange), nor has anyone.
            let lookups: Vec<_> = scenario
                .principals
                .iter()
                .filter_map(|(p, source)| match source {
                    PrincipalSource::Instance { .. } => Some((format!("{config}{p} instance profile"), stage_name.clone(), StepName::Lookup(format!("{p} is the role of instance ")))),
                    PrincipalSource::User { .. } => Some((format!("{config}{p} user"), stage_name.clone(), StepName::Exact(format!("{p} is the IAM user of its access key")))),
                    PrincipalSource::TokenIssuer { .. } | PrincipalSource::SamlProvider { .. } | PrincipalSource::Anonymous => None,
                })
                .collect();
            let steps: Vec<_> = stage.steps.iter().map(|s| (s.name.clone(), stage_name.clone(), StepName::Exact(s.name.clone()))).collect();
            // A stage whose apply is refused has that refusal as its one step (no principals, no steps).
            if let Some(refusal) = stage.refusal_step_name() {
                return vec![(refusal.clone(), stage_name.clone(), StepName::Exact(refusal))];
            }
            lookups.into_iter().chain(steps).collect::<Vec<_>>()
        })
        .collect()
}

/// One trial per scenario phase and step, all reading the shared results.
fn scenario_trials(scenario: &Scenario, run: &TargetRun) -> Vec<Trial> {
    let mut trials = Vec::new();
    let name = scenario.name.clone();
    let prefix = run.prefix;
    let find = {
        let results = run.results.clone();
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
        trials.push(Trial::test(format!("{prefix}{name}::apply"), move || {
            let report = find()?;
            match &report.error {
                Some(e) if !e.phase.is_steps() => Err(format!("{} failed: {}", e.phase, e.message).into()),
                _ => Ok(()),
            }
        }));
    }
    let expected = expected_steps(scenario);
    for (index, (title, stage, wanted)) in expected.into_iter().enumerate() {
        let find = find.clone();
        let judge = run.judge;
        trials.push(Trial::test(format!("{prefix}{name}::{index:02}_{}", slug(&title)), move || {
            let report = find()?;
            let found: Vec<&StepReport> = report.steps.iter().filter(|s| s.stage == stage && wanted.matches(s)).collect();
            match found.as_slice() {
                [step] => judge(step),
                [] => {
                    let why = report.error.map(|e| format!("{} failed: {}", e.phase, e.message)).unwrap_or_default();
                    Err(format!("step not run; {why}").into())
                }
                several => Err(format!("{} steps of this stage match {wanted:?}", several.len()).into()),
            }
        }));
    }
    trials.push(access_trial(scenario, prefix, find.clone()));
    trials.push(Trial::test(format!("{prefix}{name}::cleanup"), move || {
        let report = find()?;
        match report.cleanup {
            // The emulator ends with the run; the fault tests cover destroy.
            Cleanup::Destroyed | Cleanup::TargetEnded => Ok(()),
            other => Err(format!("cleanup: {other:?}").into()),
        }
    }));
    trials.into_iter().map(|t| if run.ignored { t.with_ignored_flag(true) } else { t }).collect()
}

/// The scenario's access snapshot must be checked in and hold what its configs open.
fn access_trial(scenario: &Scenario, prefix: &str, find: impl Fn() -> Result<ScenarioReport, Failed> + Send + 'static) -> Trial {
    let (snapshot, name) = (access::snapshot::path_of(&scenario.path), scenario.name.clone());
    Trial::test(format!("{prefix}{name}::access"), move || {
        if !snapshot.exists() {
            return Err(format!("{} is missing: every shipped scenario's access is reviewed; write it with `harness access --scenario {name} --accept`", snapshot.display()).into());
        }
        let report = find()?;
        match &report.access {
            None => Err(format!("no access analysis ran; {}", report.error.map(|e| format!("{} failed: {}", e.phase, e.message)).unwrap_or_default()).into()),
            Some(access) => {
                access.failure(&name).map_or(Ok(()), Err)?;
                walks_hold(access).map_err(Failed::from)
            }
        }
    })
}

/// Every path walked holds on the target: none refused (the target and the
/// evaluator would disagree) and none whose walk broke off.
fn walks_hold(access: &access::AccessReport) -> Result<(), String> {
    for path in &access.paths {
        match &path.proof {
            access::Proof::Refused { call, code } => return Err(format!("the target refused {call} ({code}) on a path the analysis says AWS allows: {}", path.path)),
            access::Proof::Predicted { why } if why.starts_with("its walk stopped") => return Err(format!("{}: {why}", path.path)),
            _ => {}
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let docker = runtime.block_on(container::engine());
    if let Err(err) = &docker {
        eprintln!("e2e: {err}");
    }
    let no_docker = docker.is_err() && !docker_required();
    if no_docker {
        eprintln!("e2e: the localstack:: trials are ignored (no Docker); {}=1 fails them instead", e2e_support::REQUIRE_DOCKER);
    }
    let runs = [
        TargetRun { prefix: "", results: Arc::default(), judge: judge_enforcing, includes: |_| true, ignored: false },
        TargetRun {
            prefix: "localstack::",
            results: Arc::default(),
            judge: judge_non_enforcing,
            // The blog's three configs (the chain re-applies the same ones): what
            // a target that enforces nothing makes of denials and of grants.
            includes: |s| ["problem_demo", "solution_demo", "solution_demo_root_user"].contains(&s.name.as_str()),
            ignored: no_docker,
        },
    ];

    let (mut trials, scenarios) = scenario_trials_of_every_file(&runs);
    trials.extend(e2e_support::trials(runtime.handle().clone()));

    let localstack_target = if args.list { None } else { run_selected(&runtime, &args, &runs, &trials, &scenarios) };
    let conclusion = libtest_mimic::run(&args, trials);
    if let Some(Ok(suite)) = SUITE.get() {
        runtime.block_on(suite.stop());
    }
    if let Some(Ok(target)) = localstack_target {
        runtime.block_on(target.stop_shared());
    }
    conclusion.exit_code()
}

/// Run the scenarios the selected trials need, on the moto target and on
/// LocalStack at once; the LocalStack target (when started) is returned to be closed.
fn run_selected(
    runtime: &tokio::runtime::Runtime,
    args: &Arguments,
    runs: &[TargetRun; 2],
    trials: &[Trial],
    scenarios: &BTreeMap<String, Scenario>,
) -> Option<Result<Arc<Target>, String>> {
    let mut localstack_target = None;
    let selected = |t: &Trial| !args.is_filtered_out(t) && !args.is_ignored(t);
    let wanted = |run: &TargetRun| -> Vec<Scenario> {
        scenarios
            .values()
            .filter(|s| (run.includes)(s) && trials.iter().any(|t| t.name().starts_with(&format!("{}{}::", run.prefix, s.name)) && selected(t)))
            .cloned()
            .collect()
    };
    let [moto_run, localstack_run] = &runs;
    let (on_moto, on_localstack) = (wanted(moto_run), wanted(localstack_run));
    let moto_trials = trials.iter().any(|t| !t.name().starts_with("localstack::") && !t.name().contains("::apply") && selected(t));
    if !on_moto.is_empty() || moto_trials {
        let _ = SUITE.set(runtime.block_on(Suite::start()));
    }
    if !on_localstack.is_empty() {
        localstack_target = Some(runtime.block_on(start_localstack()).map(Arc::new));
    }
    // Both targets at once: terraform mostly waits on the provider's fixed propagation delays.
    let on_moto_target = async {
        if on_moto.is_empty() {
            return;
        }
        let report = match SUITE.get() {
            Some(Ok(suite)) => run_scenarios(&suite.target, &on_moto, "e2e-report.json").await,
            Some(Err(message)) => Err(message.clone()),
            None => Err("no target".into()),
        };
        let _ = moto_run.results.set(report);
    };
    let on_localstack_target = async {
        let report = match &localstack_target {
            Some(Ok(target)) => run_scenarios(target, &on_localstack, "e2e-localstack-report.json").await,
            Some(Err(message)) => Err(message.clone()),
            None => return,
        };
        let _ = localstack_run.results.set(report);
    };
    runtime.block_on(async { tokio::join!(on_moto_target, on_localstack_target) });
    localstack_target
}

/// Every scenario file's trials on each target run that includes it (a file
/// that does not load is a failing trial), and the scenarios by name.
fn scenario_trials_of_every_file(runs: &[TargetRun; 2]) -> (Vec<Trial>, BTreeMap<String, Scenario>) {
    let scenarios_dir = project_path("scenarios");
    let configs_dir = project_path("terraform_configuration");
    let mut trials = Vec::new();
    let mut scenarios = BTreeMap::new();
    match scenario::discover(&scenarios_dir) {
        Ok(files) => {
            for file in files {
                match Scenario::load(&file, &configs_dir, None) {
                    Ok(s) => {
                        for run in runs.iter().filter(|run| (run.includes)(&s)) {
                            trials.extend(scenario_trials(&s, run));
                        }
                        scenarios.insert(s.name.clone(), s);
                    }
                    Err(err) => trials.push(Trial::test(format!("scenarios::{}", file.display()), move || Err(err.to_string().into()))),
                }
            }
        }
        Err(err) => trials.push(Trial::test("scenarios::discovered", move || Err(err.to_string().into()))),
    }
    (trials, scenarios)
}

async fn start_localstack() -> Result<Target, String> {
    let image = localstack::community_image();
    Target::start_localstack(&image, None, Default::default(), "the e2e suite: LocalStack Community, which enforces no IAM", &CancellationToken::new())
        .await
        .map_err(|e| format!("cannot start LocalStack ({image}): {e}"))
}

async fn run_scenarios(target: &Arc<Target>, scenarios: &[Scenario], report_name: &str) -> Result<RunReport, String> {
    let mut terraform = Terraform::locate(None).map_err(|e| e.to_string())?;
    terraform.arrange_providers();
    let runner = Runner {
        target: target.clone(),
        terraform,
        options: RunOptions { jobs: 4, strict: !allow_unverified(), ..RunOptions::default() },
        cancel: CancellationToken::new(),
        run_id: runner::new_run_id(),
        kept: Default::default(),
    };
    let json = project_path("target").join(report_name);
    let file = std::fs::File::create(&json).map_err(|e| format!("cannot create {}: {e}", json.display()))?;
    let reporters = Reporters::new(vec![Box::new(Progress::new(std::io::stderr())), Box::new(Json::new(file))]);
    let report = runner.run(scenarios, &|event| reporters.emit(&event)).await;
    if let Err(err) = reporters.finish(&report) {
        eprintln!("{err}: {}", err.source);
    }
    Ok(report)
}
