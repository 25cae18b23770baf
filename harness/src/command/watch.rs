//! `harness watch`: the edit-and-verify loop. Run the scenarios once, then
//! rerun each whose file or config changes, on one target, until Ctrl-C;
//! then the kept state goes as `run` cleans up.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use super::run::{check_accounts, check_configs};
use super::{CommandError, Invocation, sole};
use crate::cli::WatchArgs;
use crate::report::ScenarioReport;
use crate::reporter::{Reporters, progress::Progress, table::Table};
use crate::runner::{self, RunOptions, Runner};
use crate::scenario::Scenario;

pub async fn watch(args: WatchArgs) -> Result<i32, CommandError> {
    let invocation = Invocation::resolve(&args.target)?;
    let mut all = invocation.load_scenarios(&args.scenarios, None)?.scenarios;
    check_configs(&all)?;
    check_accounts(&all, &invocation)?;
    super::run::check_organization_changes(&all, &invocation)?;
    let cancel = CancellationToken::new();
    let (terraform, target) = invocation.prepare(&cancel).await?;
    let options = RunOptions { jobs: args.jobs, keep: true, ..RunOptions::default() };
    let mut runner = Runner { target: target.clone(), terraform, options, cancel: cancel.clone(), run_id: runner::new_run_id(), kept: Mutex::default() };
    let mut stamps = crate::watch::stamps(&all);
    let mut previous: BTreeMap<String, ScenarioReport> = BTreeMap::new();
    let mut selected = all.clone();
    let mut code = crate::exit_code::SUCCESS;
    loop {
        if !selected.is_empty() {
            code = round(&mut runner, &selected, &mut previous).await;
        }
        eprintln!("watching {} scenario files and their configs; edit one to rerun it, Ctrl-C to end", all.len());
        let Some(changed) = crate::watch::next_change(&all, &mut stamps, args.poll, &cancel).await else { break };
        eprintln!("\nchanged: {}", changed.join(", "));
        selected = match invocation.load_scenarios(&changed, None) {
            Ok(fresh) => fresh.scenarios,
            Err(err) => {
                eprintln!("error: {err} (still watching: fix the file)");
                Vec::new()
            }
        };
        for fresh in &selected {
            if let Some(old) = all.iter_mut().find(|s| s.name == fresh.name) {
                *old = fresh.clone();
            }
        }
    }
    let failures = runner.discard_kept().await;
    drop(runner);
    if let Some(target) = sole(target).await {
        target.stop().await;
    }
    if failures.is_empty() {
        return Ok(code);
    }
    let said: Vec<String> = failures.iter().map(|failure| format!("cannot destroy {failure}")).collect();
    Err(CommandError::NotDeleted(said.join("\nerror: ")))
}

/// One round of the watch: the scenarios run (the target probed once), the
/// table, and what changed since each one's previous round.
async fn round(runner: &mut Runner, scenarios: &[Scenario], previous: &mut BTreeMap<String, ScenarioReport>) -> i32 {
    let reporters = Reporters::new(vec![Box::new(Progress::new(std::io::stderr())), Box::new(Table::new(std::io::stdout()))]);
    let report = runner.run(scenarios, &|event| reporters.emit(&event)).await;
    runner.options.probed = Some((report.target.capabilities, report.target.probe_notes.clone()));
    let _ = reporters.finish(&report);
    for scenario in &report.scenarios {
        if let Some(before) = previous.get(&scenario.name) {
            let changes = crate::watch::changes(before, scenario);
            let said = if changes.is_empty() { "no verdict changed".to_string() } else { changes.join("; ") };
            eprintln!("since the previous run of {}: {said}", scenario.name);
        }
        previous.insert(scenario.name.clone(), scenario.clone());
    }
    report.exit_code(runner.cancel.is_cancelled())
}
