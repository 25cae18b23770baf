//! JUnit XML for CI: a suite per scenario, a test case per step with its
//! time (and one per failed phase, so an apply failure is visible too).
//! UNVERIFIED steps are skipped cases with their reason, failures under --strict.

use std::io::Write;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{Reporter, Written, writing};
use crate::access::{AccessReport, Proof};
use crate::phase::Phase;
use crate::report::{Cleanup, LeftOut, RunReport};
use crate::verdict::Verdict;

pub struct JUnit<W> {
    out: W,
}

impl<W: Write + Send> JUnit<W> {
    pub fn new(out: W) -> Self {
        Self { out }
    }
}

impl<W: Write + Send> Reporter for JUnit<W> {
    fn finish(&mut self, report: &RunReport) -> Written {
        junit(report).serialize(&mut self.out).map_err(|e| writing("the JUnit report")(std::io::Error::other(e)))?;
        self.out.flush().map_err(writing("the JUnit report"))
    }
}

fn junit(report: &RunReport) -> Report {
    let mut junit = Report::new("harness");
    for scenario in &report.scenarios {
        let mut suite = TestSuite::new(scenario.name.as_str());
        for phase in scenario.phases.iter().filter(|p| !p.ok) {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            // Each failed phase with its own error: the scenario's stopping one, or the destroy's.
            let message = match (&scenario.error, &scenario.cleanup) {
                (Some(error), _) if error.phase == phase.name => error.message.clone(),
                (_, Cleanup::Kept { error, .. }) if phase.name == Phase::Destroy => error.clone(),
                _ => format!("{} failed", phase.name),
            };
            status.set_message(message);
            let mut case = TestCase::new(format!("phase: {}", phase.name), status);
            case.set_time(Duration::from_secs_f64(phase.latency_ms / 1000.0));
            suite.add_test_case(case);
        }
        for step in &scenario.steps {
            let status = match step.verdict {
                Verdict::Pass => TestCaseStatus::success(),
                // Not proven, and not failing the run: CI shows it as skipped, with the reason.
                Verdict::Unverified if !report.strict => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(format!("UNVERIFIED: {}", step.why.clone().unwrap_or_default()));
                    status
                }
                Verdict::Fail | Verdict::Unverified | Verdict::Diverged => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status.set_message(format!(
                        "{}: expected {}, observed {}; {}",
                        step.verdict.label(),
                        step.expected_text(),
                        step.observed_with_code(),
                        step.why.clone().unwrap_or_default()
                    ));
                    status
                }
            };
            let mut case = TestCase::new(step.name.as_str(), status);
            case.set_time(Duration::from_secs_f64(step.latency_ms / 1000.0));
            suite.add_test_case(case);
        }
        if let Some(access) = &scenario.access {
            suite.add_test_cases(access_cases(&scenario.name, access));
        }
        junit.add_test_suite(suite);
    }
    junit.add_test_suites(report.left_out.iter().map(left_out_suite));
    junit
}

/// A scenario the run left out: one skipped case that says why, so CI shows it.
fn left_out_suite(left: &LeftOut) -> TestSuite {
    let mut status = TestCaseStatus::skipped();
    status.set_message(format!("left out: {}", left.why));
    let mut suite = TestSuite::new(left.name.as_str());
    suite.add_test_case(TestCase::new("left out", status));
    suite
}

/// The access snapshot as test cases: each path (passing when walked,
/// skipped when only predicted, failing when new to the snapshot or refused
/// by the target) and each path the snapshot holds that the config lost.
fn access_cases(scenario: &str, access: &AccessReport) -> Vec<TestCase> {
    let added: Vec<&String> = access.diff.iter().flat_map(|d| &d.added).collect();
    let failure = |message: String| {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message(message);
        status
    };
    let mut cases: Vec<TestCase> = access
        .paths
        .iter()
        .map(|path| {
            let status = match &path.proof {
                _ if added.contains(&&path.path) => {
                    failure(format!("new path, not in {}; opened by {}; if intended: harness access --scenario {scenario} --accept", access.snapshot, path.statements.join("; ")))
                }
                Proof::Refused { call, code } => failure(format!("the target refused {call} ({code}); the evaluator says AWS allows this path")),
                Proof::Proven { .. } => TestCaseStatus::success(),
                Proof::Predicted { why } => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(format!("predicted only: {why}"));
                    status
                }
            };
            let mut case = TestCase::new(format!("access: {}", path.path), status);
            if let Proof::Proven { latency_ms, .. } = path.proof {
                case.set_time(Duration::from_secs_f64(latency_ms / 1000.0));
            }
            case
        })
        .collect();
    for lost in access.diff.iter().flat_map(|d| &d.missing) {
        cases.push(TestCase::new(format!("access: {lost}"), failure(format!("lost path: in {}, no longer opened by the config", access.snapshot))));
    }
    cases
}
