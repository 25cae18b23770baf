//! The edit-and-verify loop (`harness watch`): what it watches of each
//! scenario (its file and every stage's config, as one fingerprint: no
//! terraform call to find that nothing changed), waiting for a change by
//! polling with the run's cancel token, and what changed between two runs of
//! a scenario (a step that went from FAIL to PASS says so).

use std::collections::BTreeMap;
use std::hash::Hasher;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::report::ScenarioReport;
use crate::scenario::Scenario;
use crate::terraform;

/// A scenario's inputs as one number: its file's bytes and each stage's
/// config fingerprint. Unreadable: 0 (reads as a change once it is back).
pub fn stamp(scenario: &Scenario) -> u64 {
    let mut hash = fnv::FnvHasher::default();
    hash.write(&std::fs::read(&scenario.path).unwrap_or_default());
    for stage in &scenario.stages {
        match terraform::fingerprint(&stage.config) {
            Ok(print) => hash.write_u64(print),
            Err(_) => return 0,
        }
    }
    hash.finish()
}

/// Every watched scenario's stamp, by name.
pub fn stamps(scenarios: &[Scenario]) -> BTreeMap<String, u64> {
    scenarios.iter().map(|s| (s.name.clone(), stamp(s))).collect()
}

/// Wait until a watched scenario's inputs change: their names, in order
/// (`stamps` updated); None once `cancel` fires (Ctrl-C).
pub async fn next_change(scenarios: &[Scenario], stamps: &mut BTreeMap<String, u64>, poll: Duration, cancel: &CancellationToken) -> Option<Vec<String>> {
    let mut previous = stamps.clone();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return None,
            _ = tokio::time::sleep(poll) => {}
        }
        let now = self::stamps(scenarios);
        if let Some(changed) = settled(stamps, &previous, &now) {
            *stamps = now;
            return Some(changed);
        }
        previous = now;
    }
}

/// The scenarios whose stamps differ from those last run (`run`), once two
/// polls in a row agree on them: an editor writes a file in steps (truncate,
/// then write), and a half-written file is not a change to run.
fn settled(run: &BTreeMap<String, u64>, previous: &BTreeMap<String, u64>, now: &BTreeMap<String, u64>) -> Option<Vec<String>> {
    let changed: Vec<String> = now.iter().filter(|(name, stamp)| run.get(*name) != Some(stamp)).map(|(name, _)| name.clone()).collect();
    (!changed.is_empty() && previous == now).then_some(changed)
}

/// What changed since the scenario's previous run: each step whose verdict
/// changed, appeared or went, and each path of its access opened or closed;
/// empty when nothing did.
pub fn changes(before: &ScenarioReport, after: &ScenarioReport) -> Vec<String> {
    let verdicts = |report: &ScenarioReport| -> BTreeMap<String, &'static str> {
        report.steps.iter().map(|s| (s.name.clone(), s.verdict.label())).collect()
    };
    let (was, now) = (verdicts(before), verdicts(after));
    let mut lines = Vec::new();
    for step in &after.steps {
        match was.get(&step.name) {
            Some(&old) if old != step.verdict.label() => lines.push(format!("{}: {old} -> {}", step.name, step.verdict.label())),
            None => lines.push(format!("{}: new, {}", step.name, step.verdict.label())),
            Some(_) => {}
        }
    }
    for step in &before.steps {
        if !now.contains_key(&step.name) {
            lines.push(format!("{}: gone (was {})", step.name, step.verdict.label()));
        }
    }
    lines.extend(access_changes(before, after));
    lines
}

/// The paths the edit opened or closed: who can reach what, beyond the steps.
fn access_changes(before: &ScenarioReport, after: &ScenarioReport) -> Vec<String> {
    let paths = |report: &ScenarioReport| -> std::collections::BTreeSet<String> { report.access.iter().flat_map(|a| a.paths.iter().map(|p| p.path.clone())).collect() };
    let (was, now) = (paths(before), paths(after));
    let opened = now.difference(&was).map(|p| format!("access: new path {p}"));
    let closed = was.difference(&now).map(|p| format!("access: path gone {p}"));
    opened.chain(closed).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::fixed_run;
    use crate::verdict::Verdict;

    #[test]
    fn a_change_counts_once_two_polls_agree_on_it() {
        let stamps = |a: u64, b: u64| BTreeMap::from([("a".to_string(), a), ("b".to_string(), b)]);
        let run = stamps(1, 2);
        assert_eq!(settled(&run, &run, &run), None, "nothing changed");
        assert_eq!(settled(&run, &run, &stamps(7, 2)), None, "seen once: perhaps half-written");
        assert_eq!(settled(&run, &stamps(7, 2), &stamps(8, 2)), None, "still being written");
        assert_eq!(settled(&run, &stamps(8, 2), &stamps(8, 2)), Some(vec!["a".to_string()]));
        assert_eq!(settled(&run, &stamps(1, 3), &stamps(1, 3)), Some(vec!["b".to_string()]));
    }

    #[test]
    fn a_step_that_went_from_fail_to_pass_says_so() {
        let before = fixed_run().scenarios[1].clone();
        let mut after = before.clone();
        after.steps[2].verdict = Verdict::Pass;
        after.steps.remove(1);
        let mut new = after.steps[0].clone();
        new.name = "role1 reads".into();
        after.steps.push(new);
        assert_eq!(
            changes(&before, &after),
            ["role1 uploads: FAIL -> PASS", "role1 reads: new, PASS", "role1 cannot list the bucket: gone (was DIVERGED)"]
        );
        assert!(changes(&before, &before).is_empty());
    }

    #[test]
    fn a_path_the_edit_opened_or_closed_says_so() {
        let before = crate::report::fixture::access_changed().scenarios[0].clone();
        let mut after = before.clone();
        let access = after.access.as_mut().unwrap();
        let opened = crate::access::PathReport { path: "anonymous -> aws_s3_bucket.bucket: s3:GetObject".into(), ..access.paths[0].clone() };
        access.paths = vec![opened];
        assert_eq!(
            changes(&before, &after),
            ["access: new path anonymous -> aws_s3_bucket.bucket: s3:GetObject", "access: path gone aws_iam_role.ci -> aws_iam_role.role2 -> aws_s3_bucket.bucket: s3:ListBucket"]
        );
    }

    #[tokio::test]
    async fn an_edit_of_a_config_is_a_change_and_nothing_else_is() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::create_dir(&config).unwrap();
        std::fs::write(config.join("main.tf"), "output \"x\" { value = 1 }\n").unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "").unwrap();
        let scenario = Scenario { name: "s".into(), path, description: None, principals: BTreeMap::new(), accounts: Default::default(), organization: None, stages: vec![crate::scenario::Stage { config: config.clone(), steps: vec![], apply: Default::default(), variables: BTreeMap::new(), name: None }] };
        let scenarios = [scenario];
        let mut seen = stamps(&scenarios);
        let cancel = CancellationToken::new();
        // terraform's own files are not the config.
        std::fs::create_dir(config.join(".terraform")).unwrap();
        std::fs::write(config.join("terraform.tfstate"), "{}").unwrap();
        cancel.cancel();
        assert_eq!(next_change(&scenarios, &mut seen, Duration::from_millis(10), &cancel).await, None);
        std::fs::write(config.join("main.tf"), "output \"x\" { value = 2 }\n").unwrap();
        let changed = next_change(&scenarios, &mut seen, Duration::from_millis(10), &CancellationToken::new()).await;
        assert_eq!(changed, Some(vec!["s".to_string()]));
        assert_eq!(seen, stamps(&scenarios), "what was run is what is there now");
    }
}
