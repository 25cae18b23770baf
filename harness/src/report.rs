//! What a run found, as data (the JSON report is a contract other tools
//! read), and the reporters that render it: progress lines for a person on
//! stderr, a table, and JSON. Reporters consume events and reports only;
//! the runner knows no output format.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::scenario::Expectation;
use crate::steps::Verdict;
use crate::target::{Capabilities, TargetDescription};

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub target: TargetReport,
    pub scenarios: Vec<ScenarioReport>,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    #[serde(flatten)]
    pub description: TargetDescription,
    pub capabilities: Capabilities,
    pub probe_notes: Vec<String>,
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
    pub phase: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Cleanup {
    NothingApplied,
    Destroyed,
    /// Destroy failed: the working copy and its state are kept for the user.
    Kept { dir: String, command: String, error: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    pub name: String,
    pub latency_ms: f64,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub name: String,
    pub principal: String,
    pub action: String,
    pub expected: Expectation,
    pub observed: String,
    pub error_code: Option<String>,
    pub verdict: Verdict,
    pub latency_ms: f64,
    pub detail: String,
    pub reason: Option<String>,
}

pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// What the runner tells reporters as it goes.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    TargetReady(&'a TargetReport),
    ScenarioStarted { scenario: &'a str, prefix: &'a str },
    PhaseFinished { scenario: &'a str, phase: &'a PhaseReport },
    StepFinished { scenario: &'a str, step: &'a StepReport },
    ScenarioFinished(&'a ScenarioReport),
}

/// Human progress lines (written to stderr by the CLI).
pub fn progress_line(event: &Event<'_>) -> String {
    match event {
        Event::TargetReady(target) => {
            let d = &target.description;
            let c = &target.capabilities;
            let yes = |b: bool| if b { "yes" } else { "NO" };
            format!(
                "target: {} {} at {} ({})\ncapabilities: identity policies enforced: {}, trust policies enforced: {}, role ARN matches its sessions: {}",
                d.kind,
                d.version.as_deref().unwrap_or("?"),
                d.endpoint.as_deref().unwrap_or("AWS"),
                d.reason,
                yes(c.identity_policies),
                yes(c.trust_policies),
                yes(c.role_session_principals),
            )
        }
        Event::ScenarioStarted { scenario, prefix } => format!("[{scenario}] start (resource prefix {prefix})"),
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
            if !step.detail.is_empty() {
                line.push_str(&format!("\n    {}", step.detail));
            }
            if let Some(reason) = &step.reason {
                line.push_str(&format!("\n    why: {reason}"));
            }
            line
        }
        Event::ScenarioFinished(report) => {
            let mut line = format!("[{}] {}", report.name, if report.passed { "PASSED" } else { "FAILED" });
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

pub fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Unverified => "UNVERIFIED",
    }
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
    for scenario in &report.scenarios {
        let phases: Vec<String> = scenario.phases.iter().map(|p| format!("{} {:.1}s", p.name, p.latency_ms / 1000.0)).collect();
        let cleanup = match &scenario.cleanup {
            Cleanup::NothingApplied => "nothing applied".to_string(),
            Cleanup::Destroyed => "destroyed".to_string(),
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
    writeln!(
        out,
        "result: {} | {} passed, {} failed, {} unverified{stopped}",
        if report.passed { "PASSED" } else { "FAILED" },
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Unverified)
    )
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
            run_id: "abc123".into(),
            target: TargetReport {
                description: TargetDescription { kind: "moto".into(), endpoint: Some("http://127.0.0.1:5000".into()), version: Some("5.2.5".into()), reason: "default".into() },
                capabilities: Capabilities { identity_policies: true, trust_policies: true, role_session_principals: true },
                probe_notes: vec![],
            },
            scenarios: vec![ScenarioReport {
                name: "problem_demo".into(),
                config: "terraform_configuration/problem_demo".into(),
                passed: true,
                error: None,
                cleanup: Cleanup::Destroyed,
                phases: vec![PhaseReport { name: "apply".into(), latency_ms: 30000.0, ok: true }],
                steps: vec![StepReport {
                    name: "role1 cannot list the bucket".into(),
                    principal: "role1".into(),
                    action: "s3:ListBucket".into(),
                    expected: Expectation::Denied,
                    observed: "denied".into(),
                    error_code: Some("AccessDenied".into()),
                    verdict: Verdict::Pass,
                    latency_ms: 4.2,
                    detail: String::new(),
                    reason: None,
                }],
            }],
            passed: true,
        }
    }

    #[test]
    fn json_keeps_the_contract_names() {
        let json: serde_json::Value = serde_json::to_value(sample()).unwrap();
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
        for key in ["name", "principal", "action"] {
            assert!(step[key].is_string(), "step.{key}");
        }
        assert!(step["latency_ms"].is_number());
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
