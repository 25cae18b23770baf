//! The summary at the end of a run (stdout): a row per step, then each
//! scenario's phases and cleanup, then the result with every caveat
//! (UNVERIFIED, DIVERGED, warnings) counted.

use std::io::Write;

use crate::access::{AccessReport, Proof};
use super::{Reporter, Written, count_of_steps, writing};
use crate::report::{RunReport, StepReport};
use crate::verdict::Verdict;

pub struct Table<W> {
    out: W,
    /// The rows too (run), or only the summary (the demo told the steps already).
    rows: bool,
}

impl<W: Write + Send> Table<W> {
    pub fn new(out: W) -> Self {
        Self { out, rows: true }
    }

    pub fn summary_only(out: W) -> Self {
        Self { out, rows: false }
    }
}

impl<W: Write + Send> Reporter for Table<W> {
    fn finish(&mut self, report: &RunReport) -> Written {
        let written = if self.rows { write_table(report, &mut self.out) } else { write_summary(report, &mut self.out) };
        written.map_err(writing("the summary"))
    }
}

/// The summary table: one row per step, then each scenario's phases.
fn write_table(report: &RunReport, out: &mut dyn Write) -> std::io::Result<()> {
    let header = ["SCENARIO", "STEP", "PRINCIPAL", "ACTION", "EXPECTED", "OBSERVED", "VERDICT", "MS"];
    let mut rows: Vec<[String; 8]> = Vec::new();
    for scenario in &report.scenarios {
        for step in &scenario.steps {
            rows.push([
                scenario.name.clone(),
                step.name.clone(),
                step.principal.clone(),
                step.action.clone(),
                step.expected_text(),
                step.observed_with_code(),
                step.verdict.label().to_string(),
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
    // A run stopped before any step has no table to show.
    if !rows.is_empty() {
        writeln!(out, "{}", line(&header.map(String::from)))?;
        for row in &rows {
            writeln!(out, "{}", line(row))?;
        }
        writeln!(out)?;
    }
    write_summary(report, out)
}

/// A scenario's access: how many paths, how many walked, and the snapshot's
/// verdict; every path when there is no snapshot yet or it was just written;
/// each path that differs, what opens it and what to do, when it does not hold.
fn write_access(scenario: &str, access: &AccessReport, out: &mut dyn Write) -> std::io::Result<()> {
    let (total, proven) = (access.paths.len(), access.proven());
    let verdict = match (&access.diff, access.accepted) {
        (_, true) => format!("snapshot written: {}", access.snapshot),
        (None, false) => format!("no snapshot yet ({}); `harness access --scenario {scenario} --accept` writes it", access.snapshot),
        (Some(diff), false) if diff.is_empty() => format!("snapshot holds ({})", access.snapshot),
        (Some(diff), false) => format!("SNAPSHOT DIFFERS: {} new, {} lost", diff.added.len(), diff.missing.len()),
    };
    let refused = access.refused().count();
    let predicted = total - proven - refused;
    let refused_note = if refused == 0 { String::new() } else { format!(", {refused} REFUSED by the target") };
    let paths = if total == 1 { "1 path" } else { &format!("{total} paths") };
    writeln!(out, "{scenario} access: {paths} ({proven} proven by walking them{refused_note}, {predicted} predicted only) | {verdict}")?;
    if access.diff.is_none() || access.accepted {
        for path in &access.paths {
            writeln!(out, "  {} ({})", path.path, proof_label(&path.proof))?;
        }
    }
    for path in access.refused() {
        writeln!(out, "  REFUSED on the target: {} ({}); the evaluator says AWS allows it: the target and the evaluator disagree", path.path, proof_label(&path.proof))?;
    }
    if let Some(failure) = access.failure(scenario) {
        for line in failure.lines() {
            writeln!(out, "  {line}")?;
        }
    }
    for unseen in &access.unseen {
        writeln!(out, "  not seen: {unseen}")?;
    }
    Ok(())
}

/// What stands behind a path: its walk, or why there was none.
fn proof_label(proof: &Proof) -> String {
    match proof {
        Proof::Proven { calls: 1, latency_ms } => format!("proven: 1 call allowed in {latency_ms:.0} ms"),
        Proof::Proven { calls, latency_ms } => format!("proven: {calls} calls allowed in {latency_ms:.0} ms"),
        Proof::Refused { call, code } => format!("{call} refused with {code}"),
        Proof::Predicted { why } => format!("predicted only: {why}"),
    }
}

/// Each scenario's phases and cleanup, then the overall result.
fn write_summary(report: &RunReport, out: &mut dyn Write) -> std::io::Result<()> {
    for scenario in &report.scenarios {
        let phases: Vec<String> = scenario.phases.iter().map(|p| format!("{} {:.1}s", p.name, p.latency_ms / 1000.0)).collect();
        let cleanup = scenario.cleanup.summary();
        let result = match (scenario.passed, scenario.interrupted_in(), scenario.failed_because()) {
            (true, ..) => "passed".to_string(),
            (false, Some(phase), _) => format!("INTERRUPTED during {phase}"),
            (false, None, Some(why)) => format!("FAILED ({why})"),
            (false, None, None) => "FAILED".to_string(),
        };
        writeln!(out, "{}: {result} | {} | cleanup: {cleanup}", scenario.name, phases.join(", "))?;
        if let Some(access) = &scenario.access {
            write_access(&scenario.name, access, out)?;
        }
    }
    for left in &report.left_out {
        writeln!(out, "{}: LEFT OUT | {}", left.name, left.why)?;
    }
    let steps: Vec<&StepReport> = report.scenarios.iter().flat_map(|s| &s.steps).collect();
    let count = |v: Verdict| steps.iter().filter(|s| s.verdict == v).count();
    let stopped: Vec<String> =
        report.scenarios.iter().filter(|s| !s.interrupted).filter_map(|s| s.error.as_ref().map(|e| format!("{} ({})", s.name, e.phase))).collect();
    let stopped = if stopped.is_empty() { String::new() } else { format!(" | stopped early: {}", stopped.join(", ")) };
    let interrupted: Vec<String> = report.scenarios.iter().filter_map(|s| Some(format!("{} ({})", s.name, s.interrupted_in()?))).collect();
    let interrupted = if interrupted.is_empty() { String::new() } else { format!(" | interrupted by Ctrl-C: {}", interrupted.join(", ")) };
    let unverified = count(Verdict::Unverified);
    let caveat = match (unverified, report.strict) {
        (0, _) => String::new(),
        (n, strict) => {
            let consequence = if strict { "they fail the run (--strict)" } else { "--strict fails them" };
            format!(" | {} NOT PROVEN: the target cannot show their denial (see capabilities); {consequence}", count_of_steps(n))
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
        "result: {} | {} passed, {} failed, {unverified} unverified{diverged}{interrupted}{stopped}{caveat}{warnings}",
        match (report.passed, report.interrupted) {
            (_, true) => "INTERRUPTED",
            (true, false) => "PASSED",
            (false, false) => "FAILED",
        },
        count(Verdict::Pass),
        count(Verdict::Fail),
    )
}
