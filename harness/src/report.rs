//! What a run found, as data (the JSON report is a contract other tools
//! read), and the reporters that render it: progress lines for a person on
//! stderr, a table, and JSON. Reporters consume events and reports only;
//! the runner knows no output format.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::phase::Phase;
use crate::policy::{Because, Decision, Reason};
use crate::scenario::Expectation;
use crate::verdict::Verdict;
use crate::target::{Capabilities, TargetDescription};

/// The JSON report's schema: 2 since steps carry `predicted` and `reason`
/// (an object; the verdict's own explanation moved to `why`).
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Always SCHEMA_VERSION: what a reader of the JSON checks first.
    pub schema_version: u32,
    pub run_id: String,
    pub target: TargetReport,
    pub scenarios: Vec<ScenarioReport>,
    pub passed: bool,
    /// Whether UNVERIFIED steps failed the run (--strict).
    pub strict: bool,
}

impl RunReport {
    /// The one mapping from a run's outcome to its exit code: a cleanup that
    /// kept state, then Ctrl-C, then success, then what stopped a scenario
    /// (terraform init or apply of any stage: 5; a config: 8), else a step.
    pub fn exit_code(&self, interrupted: bool) -> i32 {
        use crate::exit_code::*;
        let stopped_in = |wanted: fn(&Phase) -> bool| self.scenarios.iter().any(|s| s.error.as_ref().is_some_and(|e| wanted(&e.phase)));
        if self.scenarios.iter().any(|s| matches!(s.cleanup, Cleanup::Kept { .. })) {
            CLEANUP_FAILED
        } else if interrupted {
            INTERRUPTED
        } else if self.passed {
            SUCCESS
        } else if stopped_in(Phase::is_terraform_apply) {
            APPLY_FAILED
        } else if stopped_in(|p| *p == Phase::Config) {
            CONFIG_MISSING
        } else {
            STEPS_FAILED
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    #[serde(flatten)]
    pub description: TargetDescription,
    pub capabilities: Capabilities,
    /// Whose policy evaluation the target's answers come from.
    pub evaluation: String,
    pub probe_notes: Vec<String>,
    /// Time the capability probes took.
    pub probe_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub config: String,
    pub passed: bool,
    /// Why the scenario stopped early (init/apply failure, interruption...).
    pub error: Option<ScenarioError>,
    /// What happened to what was applied: destroyed, kept (with the folder), nothing applied.
    pub cleanup: Cleanup,
    pub phases: Vec<PhaseReport>,
    pub steps: Vec<StepReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioError {
    pub phase: Phase,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Cleanup {
    NothingApplied,
    Destroyed,
    /// The target died with the run (the embedded emulator): nothing outlives it.
    TargetEnded,
    /// Destroy failed: the working copy and its state are kept for the user.
    Kept { dir: String, command: String, error: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    pub name: Phase,
    pub latency_ms: f64,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub name: String,
    /// In a chain, the stage (its config's name) the step ran in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    pub principal: String,
    pub action: String,
    pub expected: Expectation,
    /// The reason the scenario asserts for an expected denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<Because>,
    pub observed: String,
    pub error_code: Option<String>,
    pub verdict: Verdict,
    pub latency_ms: f64,
    /// Calls made for this step (>1 while waiting out IAM propagation).
    pub attempts: u32,
    /// For a step first denied then allowed: time from the first attempt to success.
    pub propagation_ms: Option<f64>,
    /// The instance the call was made on, by its aws CLI through SSM Run
    /// Command (latency_ms is then the CLI's time there); None: made by the harness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_instance: Option<String>,
    /// The aws CLI command that makes the same call (on an instance: the one it ran).
    pub command: String,
    /// What the call returned, as the aws CLI shows it (secrets redacted).
    pub detail: String,
    /// Why the verdict is not a plain pass.
    pub why: Option<String>,
    /// What the policy evaluator predicts AWS answers (None: see prediction_error).
    pub predicted: Option<Decision>,
    /// The prediction's reason: the deciding policy type, policy and statement.
    pub reason: Option<Reason>,
    /// Why there is no prediction (a policy the harness cannot read, the admin's own lookup).
    pub prediction_error: Option<String>,
    /// On AWS: the evaluator disagreed with the observation (which stands).
    pub warning: Option<String>,
}


/// What the runner tells reporters as it goes.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    TargetReady(&'a TargetReport),
    ScenarioStarted { scenario: &'a str, prefix: &'a str },
    PhaseStarted { scenario: &'a str, phase: &'a Phase },
    PhaseFinished { scenario: &'a str, phase: &'a PhaseReport },
    StepFinished { scenario: &'a str, step: &'a StepReport },
    ScenarioFinished(&'a ScenarioReport),
}

/// Which target runs, where, and why: `target: moto 5.2.5 at http://... (reason)`.
pub fn target_line(d: &TargetDescription) -> String {
    let container = match (&d.image, d.network) {
        (Some(image), Some(network)) => format!(", image {image}, {network} network"),
        _ => String::new(),
    };
    format!("target: {} {} at {}{container} ({})", d.kind, d.version.as_deref().unwrap_or("?"), d.endpoint.as_deref().unwrap_or("AWS"), d.reason)
}

/// Human progress lines (written to stderr by the CLI).
pub fn progress_line(event: &Event<'_>) -> String {
    match event {
        Event::TargetReady(target) => {
            let c = &target.capabilities;
            let yes = |b: bool| if b { "yes" } else { "NO" };
            format!(
                "{}\ncapabilities: identity policies enforced: {}, trust policies enforced: {}, role ARN matches its sessions: {}",
                target_line(&target.description),
                yes(c.identity_policies),
                yes(c.trust_policies),
                yes(c.role_session_principals),
            )
        }
        Event::ScenarioStarted { scenario, prefix } => format!("[{scenario}] start (resource prefix {prefix})"),
        Event::PhaseStarted { scenario, phase } => format!("[{scenario}] {phase} ..."),
        Event::PhaseFinished { scenario, phase } => {
            format!("[{scenario}] {} {} {:.1}s", phase.name, if phase.ok { "done" } else { "FAILED" }, phase.latency_ms / 1000.0)
        }
        Event::StepFinished { scenario, step } => {
            let observed = match &step.error_code {
                Some(code) => format!("{} ({code})", step.observed),
                None => step.observed.clone(),
            };
            let mut line = format!(
                "[{scenario}] {:<10} {} | {} {} | expected {}, observed {} | {:.1} ms",
                verdict_label(step.verdict),
                step.name,
                step.principal,
                step.action,
                step.expected,
                observed,
                step.latency_ms
            );
            match &step.on_instance {
                Some(instance) => line.push_str(&format!("\n    {instance}$ {}   (SSM Run Command)", step.command)),
                None => line.push_str(&format!("\n    $ {}", step.command)),
            }
            for detail in step.detail.lines() {
                line.push_str(&format!("\n    {detail}"));
            }
            if let Some(why) = &step.why {
                line.push_str(&format!("\n    why: {why}"));
            }
            if let Some(reason) = step.reason.as_ref().filter(|r| r.decision != Decision::Allow) {
                line.push_str(&format!("\n    reason: {}", reason.text));
            }
            if let Some(warning) = &step.warning {
                line.push_str(&format!("\n    WARNING: {warning}"));
            }
            line
        }
        Event::ScenarioFinished(report) => {
            let mut line = format!("[{}] {}", report.name, if report.passed { "PASSED" } else { "FAILED" });
            let unverified = report.steps.iter().filter(|s| s.verdict == Verdict::Unverified).count();
            if report.passed && unverified > 0 {
                line.push_str(&format!(", {} NOT PROVEN (the target does not enforce what they depend on)", not_proven(unverified)));
            }
            if let Some(error) = &report.error {
                let indented = error.message.trim_end().replace('\n', "\n    ");
                line.push_str(&format!(": {} failed: {indented}", error.phase));
            }
            if let Cleanup::Kept { dir, command, error } = &report.cleanup {
                line.push_str(&format!("\n    CLEANUP INCOMPLETE: {error}\n    state kept in {dir}; finish with: {command}"));
            }
            line
        }
    }
}

/// The demo's narrative for a person watching (stdout): each step as the
/// aws CLI command and what it printed, like the blog shows it. Terraform
/// phases are shown by the caller's spinner.
pub fn story_line(event: &Event<'_>) -> Option<String> {
    match event {
        Event::TargetReady(_) => Some(progress_line(event)),
        Event::PhaseStarted { phase, .. } => phase.is_steps().then(|| {
            let title = phase.stage().map(|config| format!(" {config} ")).unwrap_or_default();
            format!("\n=={title}{}", "=".repeat(60usize.saturating_sub(title.len())))
        }),
        Event::StepFinished { step, .. } => {
            let mut text = format!("\n# {} (as {})\n$ {}\n", step.name, step.principal, step.command);
            if !step.detail.is_empty() {
                text.push_str(&step.detail);
                text.push('\n');
            }
            text.push_str(&format!("-> expected {}: {} ({:.1} ms)", step.expected, verdict_label(step.verdict), step.latency_ms));
            if let Some(why) = &step.why {
                text.push_str(&format!(" - {why}"));
            }
            if let Some(reason) = step.reason.as_ref().filter(|r| r.decision != Decision::Allow) {
                text.push_str(&format!("\n   because {}", reason.text));
            }
            Some(text)
        }
        Event::ScenarioFinished(_) => Some(format!("\n{}", progress_line(event))),
        Event::PhaseFinished { .. } | Event::ScenarioStarted { .. } => None,
    }
}

/// `1 step` / `2 steps`.
fn not_proven(n: usize) -> String {
    format!("{n} {}", if n == 1 { "step" } else { "steps" })
}

pub fn verdict_label(verdict: Verdict) -> &'static str {
    verdict.label()
}

/// The summary table: one row per step, then each scenario's phases.
pub fn write_table(report: &RunReport, out: &mut dyn Write) -> std::io::Result<()> {
    let header = ["SCENARIO", "STEP", "PRINCIPAL", "ACTION", "EXPECTED", "OBSERVED", "VERDICT", "MS"];
    let mut rows: Vec<[String; 8]> = Vec::new();
    for scenario in &report.scenarios {
        for step in &scenario.steps {
            let observed = match &step.error_code {
                Some(code) => format!("{} ({code})", step.observed),
                None => step.observed.clone(),
            };
            rows.push([
                scenario.name.clone(),
                step.name.clone(),
                step.principal.clone(),
                step.action.clone(),
                step.expected.to_string(),
                observed,
                verdict_label(step.verdict).to_string(),
                format!("{:.1}", step.latency_ms),
            ]);
        }
    }
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(&format!("{cell:>w$}"));
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s
    };
    writeln!(out, "{}", line(&header.map(String::from)))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    writeln!(out)?;
    write_summary(report, out)
}

/// Each scenario's phases and cleanup, then the overall result.
pub fn write_summary(report: &RunReport, out: &mut dyn Write) -> std::io::Result<()> {
    for scenario in &report.scenarios {
        let phases: Vec<String> = scenario.phases.iter().map(|p| format!("{} {:.1}s", p.name, p.latency_ms / 1000.0)).collect();
        let cleanup = match &scenario.cleanup {
            Cleanup::NothingApplied => "nothing applied".to_string(),
            Cleanup::Destroyed => "destroyed".to_string(),
            Cleanup::TargetEnded => "ended with the emulator".to_string(),
            Cleanup::Kept { dir, .. } => format!("KEPT in {dir}"),
        };
        writeln!(
            out,
            "{}: {} | {} | cleanup: {cleanup}",
            scenario.name,
            if scenario.passed { "passed" } else { "FAILED" },
            phases.join(", ")
        )?;
    }
    let steps: Vec<&StepReport> = report.scenarios.iter().flat_map(|s| &s.steps).collect();
    let count = |v: Verdict| steps.iter().filter(|s| s.verdict == v).count();
    let stopped: Vec<String> =
        report.scenarios.iter().filter_map(|s| s.error.as_ref().map(|e| format!("{} ({})", s.name, e.phase))).collect();
    let stopped = if stopped.is_empty() { String::new() } else { format!(" | stopped early: {}", stopped.join(", ")) };
    let unverified = count(Verdict::Unverified);
    let caveat = match (unverified, report.strict) {
        (0, _) => String::new(),
        (n, strict) => {
            let consequence = if strict { "they fail the run (--strict)" } else { "--strict fails them" };
            format!(" | {} NOT PROVEN: the target cannot show their denial (see capabilities); {consequence}", not_proven(n))
        }
    };
    let diverged = match count(Verdict::Diverged) {
        0 => String::new(),
        n => format!(", {n} diverged (the emulator and the policy evaluator disagree: nothing proven)"),
    };
    let warnings = match steps.iter().filter(|s| s.warning.is_some()).count() {
        0 => String::new(),
        n => format!(" | {n} warnings: AWS answered otherwise than the policy evaluator predicts (see each step)"),
    };
    writeln!(
        out,
        "result: {} | {} passed, {} failed, {unverified} unverified{diverged}{stopped}{caveat}{warnings}",
        if report.passed { "PASSED" } else { "FAILED" },
        count(Verdict::Pass),
        count(Verdict::Fail),
    )
}

/// JUnit XML for CI: a suite per scenario, a test case per step with its
/// time (and one per failed phase, so an apply failure is visible too).
pub fn write_junit(report: &RunReport, path: &Path) -> std::io::Result<()> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut junit = Report::new("harness");
    for scenario in &report.scenarios {
        let mut suite = TestSuite::new(scenario.name.as_str());
        for phase in scenario.phases.iter().filter(|p| !p.ok) {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(scenario.error.as_ref().map(|e| e.message.clone()).unwrap_or_else(|| format!("{} failed", phase.name)));
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
                    let observed = step.error_code.as_ref().map(|c| format!("{} ({c})", step.observed)).unwrap_or_else(|| step.observed.clone());
                    status.set_message(format!(
                        "{}: expected {}, observed {observed}; {}",
                        verdict_label(step.verdict),
                        step.expected,
                        step.why.clone().unwrap_or_default()
                    ));
                    status
                }
            };
            let mut case = TestCase::new(step.name.as_str(), status);
            case.set_time(Duration::from_secs_f64(step.latency_ms / 1000.0));
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    let file = std::fs::File::create(path)?;
    junit.serialize(file).map_err(std::io::Error::other)
}

pub fn write_json(report: &RunReport, path: &Path) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(path, json + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> RunReport {
        RunReport {
            schema_version: SCHEMA_VERSION,
            run_id: "abc123".into(),
            target: TargetReport {
                description: TargetDescription {
                    kind: "moto".into(),
                    endpoint: Some("http://127.0.0.1:5000".into()),
                    version: Some("5.2.5".into()),
                    image: None,
                    network: None,
                    reason: "default".into(),
                    startup_ms: 1500.0,
                },
                capabilities: Capabilities { identity_policies: true, trust_policies: true, role_session_principals: true },
                evaluation: "AWS's documented evaluation".into(),
                probe_notes: vec![],
                probe_ms: 40.0,
            },
            scenarios: vec![ScenarioReport {
                name: "problem_demo".into(),
                config: "terraform_configuration/problem_demo".into(),
                passed: true,
                error: None,
                cleanup: Cleanup::Destroyed,
                phases: vec![PhaseReport { name: Phase::Apply(None), latency_ms: 30000.0, ok: true }],
                steps: vec![StepReport {
                    name: "role1 cannot list the bucket".into(),
                    stage: None,
                    principal: "role1".into(),
                    action: "s3:ListBucket".into(),
                    expected: Expectation::Denied,
                    observed: "denied".into(),
                    error_code: Some("AccessDenied".into()),
                    verdict: Verdict::Pass,
                    latency_ms: 4.2,
                    attempts: 1,
                    propagation_ms: None,
                    on_instance: None,
                    command: "aws s3 ls s3://b".into(),
                    detail: String::new(),
                    why: None,
                    because: None,
                    predicted: Some(Decision::Deny),
                    reason: Some(Reason {
                        decision: Decision::Deny,
                        policy_type: Some(crate::policy::PolicyType::Identity),
                        policy: None,
                        statement: None,
                        explicit: false,
                        text: "no statement of the identity policies of assumed-role/role1/i-1 allows s3:ListBucket on arn:aws:s3:::b".into(),
                    }),
                    prediction_error: None,
                    warning: None,
                }],
            }],
            passed: true,
            strict: false,
        }
    }

    #[test]
    fn a_failed_apply_exits_5_in_any_stage_of_a_chain() {
        for phase in [Phase::Init, Phase::Apply(None), Phase::Apply(Some("solution_demo".into()))] {
            let mut report = sample();
            report.passed = false;
            report.scenarios[0].error = Some(ScenarioError { phase: phase.clone(), message: "boom".into() });
            assert_eq!(report.exit_code(false), crate::exit_code::APPLY_FAILED, "{phase}");
        }
        let mut report = sample();
        report.passed = false;
        report.scenarios[0].error = Some(ScenarioError { phase: Phase::Steps(Some("solution_demo".into())), message: "panic".into() });
        assert_eq!(report.exit_code(false), crate::exit_code::STEPS_FAILED);
        assert_eq!(sample().exit_code(true), crate::exit_code::INTERRUPTED);
        assert_eq!(sample().exit_code(false), crate::exit_code::SUCCESS);
    }

    #[test]
    fn json_keeps_the_contract_names() {
        let json: serde_json::Value = serde_json::to_value(sample()).unwrap();
        assert_eq!(json["schema_version"], SCHEMA_VERSION);
        assert_eq!(json["passed"], true);
        for key in ["kind", "endpoint", "version"] {
            assert!(json["target"][key].is_string(), "target.{key}");
        }
        assert_eq!(json["target"]["capabilities"]["identity_policies"], true);
        assert_eq!(json["target"]["capabilities"]["trust_policies"], true);
        let scenario = &json["scenarios"][0];
        for key in ["name", "config"] {
            assert!(scenario[key].is_string(), "scenario.{key}");
        }
        assert_eq!(scenario["passed"], true);
        assert_eq!(scenario["phases"][0]["name"], "apply");
        assert!(scenario["phases"][0]["latency_ms"].is_number());
        let step = &scenario["steps"][0];
        assert_eq!(step["expected"], "denied");
        assert_eq!(step["observed"], "denied");
        assert_eq!(step["error_code"], "AccessDenied");
        assert_eq!(step["verdict"], "pass");
        assert_eq!(step["predicted"], "deny");
        assert_eq!(step["reason"]["decision"], "deny");
        assert_eq!(step["reason"]["policy_type"], "identity");
        for key in ["policy", "statement"] {
            assert!(step["reason"].get(key).is_some(), "step.reason.{key}");
        }
        for key in ["name", "principal", "action"] {
            assert!(step[key].is_string(), "step.{key}");
        }
        assert!(step["latency_ms"].is_number());
    }

    #[test]
    fn a_denial_shows_its_predicted_reason() {
        let report = sample();
        let line = progress_line(&Event::StepFinished { scenario: "problem_demo", step: &report.scenarios[0].steps[0] });
        assert!(line.contains("\n    reason: no statement of the identity policies of assumed-role/role1/i-1 allows s3:ListBucket"), "{line}");
        let story = story_line(&Event::StepFinished { scenario: "problem_demo", step: &report.scenarios[0].steps[0] }).unwrap();
        assert!(story.contains("because no statement of the identity policies"), "{story}");
    }

    #[test]
    fn junit_has_a_case_per_step_with_its_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.xml");
        let mut report = sample();
        let failing = StepReport { name: "fails".into(), verdict: Verdict::Fail, ..report.scenarios[0].steps[0].clone() };
        report.scenarios[0].steps.push(failing);
        write_junit(&report, &path).unwrap();
        let xml = std::fs::read_to_string(&path).unwrap();
        assert!(xml.contains("<testsuite name=\"problem_demo\" tests=\"2\""), "{xml}");
        assert!(xml.contains("<testcase name=\"role1 cannot list the bucket\" time=\"0.004"), "{xml}");
        assert!(xml.contains("<failure message=\"FAIL: expected denied"), "{xml}");
    }

    /// The sample with its step UNVERIFIED (a target that does not enforce IAM).
    fn unverified(strict: bool) -> RunReport {
        let mut report = sample();
        let step = &mut report.scenarios[0].steps[0];
        step.verdict = Verdict::Unverified;
        step.observed = "allowed".into();
        step.why = Some("allowed, but the target does not enforce identity policies".into());
        report.strict = strict;
        report.passed = !strict;
        report
    }

    #[test]
    fn unverified_steps_are_never_silent() {
        let mut out = Vec::new();
        write_summary(&unverified(false), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("result: PASSED | 0 passed, 0 failed, 1 unverified | 1 step NOT PROVEN"), "{text}");
        let mut out = Vec::new();
        write_summary(&unverified(true), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("result: FAILED | 0 passed, 0 failed, 1 unverified | 1 step NOT PROVEN: the target cannot show their denial (see capabilities); they fail the run (--strict)"), "{text}");
        // The scenario's own line says it too.
        let report = unverified(false);
        let line = progress_line(&Event::ScenarioFinished(&report.scenarios[0]));
        assert_eq!(line, "[problem_demo] PASSED, 1 step NOT PROVEN (the target does not enforce what they depend on)");
    }

    #[test]
    fn junit_skips_unverified_steps_unless_strict() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.xml");
        write_junit(&unverified(false), &path).unwrap();
        let xml = std::fs::read_to_string(&path).unwrap();
        assert!(xml.contains("<skipped message=\"UNVERIFIED: allowed, but the target does not enforce identity policies\""), "{xml}");
        write_junit(&unverified(true), &path).unwrap();
        let xml = std::fs::read_to_string(&path).unwrap();
        assert!(xml.contains("<failure message=\"UNVERIFIED: expected denied"), "{xml}");
    }

    #[test]
    fn diverged_steps_and_warnings_are_counted() {
        let mut report = sample();
        report.passed = false;
        report.scenarios[0].steps[0].verdict = Verdict::Diverged;
        let mut warned = report.scenarios[0].steps[0].clone();
        warned.verdict = Verdict::Pass;
        warned.warning = Some("the target answered deny, the policy evaluator predicts allow".into());
        report.scenarios[0].steps.push(warned);
        let mut out = Vec::new();
        write_summary(&report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("result: FAILED | 1 passed, 0 failed, 0 unverified, 1 diverged (the emulator and the policy evaluator disagree"), "{text}");
        assert!(text.contains("| 1 warnings: AWS answered otherwise"), "{text}");
    }

    #[test]
    fn table_shows_every_step_and_the_result() {
        let mut out = Vec::new();
        write_table(&sample(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().next().unwrap().starts_with("SCENARIO"));
        assert!(text.contains("role1 cannot list the bucket"));
        assert!(text.contains("denied (AccessDenied)"));
        assert!(text.contains("problem_demo: passed | apply 30.0s | cleanup: destroyed"));
        assert!(text.trim_end().ends_with("result: PASSED | 1 passed, 0 failed, 0 unverified"));
    }
}
