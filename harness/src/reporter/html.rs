//! One self-contained page (`--report-html`): the run's result and what the
//! target enforces, then per scenario the picture of who reached what
//! ([`super::reach`], inline SVG), the reason for each denial, the phase
//! timeline and the table of steps. No script and nothing fetched: the page
//! opens from a CI artifact with no network. It is well-formed XML too, so a
//! test can read it back with an XML parser.

use std::io::Write;

use quick_xml::escape::escape;

use super::reach::{NodeKind, Reach};
use super::{Reporter, Written, edge_label, writing};
use crate::report::{Cleanup, PhaseReport, RunReport, ScenarioReport, StepReport};
use crate::scenario::Expectation;
use crate::verdict::Verdict;

pub struct Html<W> {
    out: W,
}

impl<W: Write + Send> Html<W> {
    pub fn new(out: W) -> Self {
        Self { out }
    }
}

impl<W: Write + Send> Reporter for Html<W> {
    fn finish(&mut self, report: &RunReport) -> Written {
        self.out.write_all(page(report).as_bytes()).and_then(|()| self.out.flush()).map_err(writing("the HTML report"))
    }
}

/// The colour of a verdict (edges, table cells): green proven, red failed,
/// orange not proven, purple diverged.
pub fn colour(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "#1b7f1b",
        Verdict::Fail => "#c62828",
        Verdict::Unverified => "#e67e00",
        Verdict::Diverged => "#7b1fa2",
    }
}

const STYLE: &str = "body{font-family:Helvetica,Arial,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}h3{font-size:1em}\
.passed{color:#1b7f1b}.failed{color:#c62828}\
svg text{font-size:11px}svg.graph{max-width:100%;height:auto}svg .node rect{fill:#f5f7fa;stroke:#555}svg .node.instance rect{fill:#eef}\
svg .node.bucket rect{fill:#fff8e1}svg .node.role rect{fill:#f0f0f0}\
table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}\
td.verdict{font-weight:bold;color:#fff}code{font-size:0.9em}.caveat{color:#e67e00}";

pub fn page(report: &RunReport) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
    out.push_str(&format!("<title>harness report {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n", escape(&report.run_id)));
    out.push_str(&header(report));
    for (index, scenario) in report.scenarios.iter().enumerate() {
        out.push_str(&section(index, scenario));
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The run's result, its counts and what the target enforces.
fn header(report: &RunReport) -> String {
    let steps: Vec<&StepReport> = report.scenarios.iter().flat_map(|s| &s.steps).collect();
    let count = |v: Verdict| steps.iter().filter(|s| s.verdict == v).count();
    let (class, result) = if report.passed { ("passed", "PASSED") } else { ("failed", "FAILED") };
    let target = &report.target.description;
    let mut out = format!(
        "<header>\n<h1>harness run {} <span class=\"result {class}\">{result}</span></h1>\n<p class=\"counts\">{} passed, {} failed, {} unverified, {} diverged</p>\n",
        escape(&report.run_id),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Unverified),
        count(Verdict::Diverged),
    );
    out.push_str(&format!(
        "<p class=\"target\">target: {} {} at {} ({}); evaluation: {}</p>\n",
        escape(&target.kind),
        escape(target.version.as_deref().unwrap_or("")),
        escape(target.endpoint.as_deref().unwrap_or("AWS")),
        escape(&target.reason),
        escape(&report.target.evaluation),
    ));
    let capabilities = serde_json::to_value(report.target.capabilities).unwrap_or_default();
    let unenforced: Vec<String> = capabilities.as_object().into_iter().flatten().filter(|(_, v)| v.as_bool() == Some(false)).map(|(k, _)| k.replace('_', " ")).collect();
    if unenforced.is_empty() {
        out.push_str("<p class=\"capabilities\">the target enforces every rule the harness probes</p>\n");
    } else {
        out.push_str(&format!(
            "<p class=\"capabilities caveat\">the target does not enforce: {}; a denial that depends on them is UNVERIFIED</p>\n",
            escape(unenforced.join(", "))
        ));
    }
    out.push_str("</header>\n");
    out
}

fn section(index: usize, scenario: &ScenarioReport) -> String {
    let (class, result) = if scenario.passed { ("passed", "passed") } else { ("failed", "FAILED") };
    let mut out = format!(
        "<section class=\"scenario\" id=\"scenario-{index}\" data-scenario=\"{}\">\n<h2>{} <span class=\"{class}\">{result}</span></h2>\n<p>config: <code>{}</code>; cleanup: {}</p>\n",
        escape(&scenario.name),
        escape(&scenario.name),
        escape(&scenario.config),
        escape(cleanup(&scenario.cleanup)),
    );
    if let Some(stop) = &scenario.error {
        out.push_str(&format!("<p class=\"stop failed\">stopped at {}: {}</p>\n", escape(stop.phase.to_string()), escape(stop.message.lines().next().unwrap_or(""))));
    }
    out.push_str("<h3>Who reached what</h3>\n");
    out.push_str(&picture(index, &Reach::of(scenario)));
    out.push_str(&reasons(scenario));
    out.push_str("<h3>Where the time went</h3>\n");
    out.push_str(&timeline(&scenario.phases));
    out.push_str("<h3>Steps</h3>\n");
    out.push_str(&table(scenario));
    out.push_str("</section>\n");
    out
}

fn cleanup(cleanup: &Cleanup) -> String {
    match cleanup {
        Cleanup::Kept { dir, command, .. } => format!("KEPT in {dir} (remove with: {command})"),
        other => other.summary(),
    }
}

const NODE_WIDTH: f64 = 190.0;
const NODE_HEIGHT: f64 = 34.0;
const COLUMN_STEP: f64 = 430.0;
const ROW_STEP: f64 = 90.0;
const MARGIN: f64 = 20.0;
/// Room above the first row for the edges that bow over a column.
const TOP: f64 = 95.0;

/// The graph as inline SVG: nodes in columns (what leads to what, left to
/// right), an edge per step coloured by its verdict, dashed for an expected
/// denial, labelled with its action, verdict and latency.
fn picture(index: usize, reach: &Reach<'_>) -> String {
    if reach.nodes.is_empty() {
        return "<p class=\"no-graph\">no step ran</p>\n".into();
    }
    let columns = reach.columns();
    let mut rows = vec![0usize; reach.nodes.len() + 1];
    let mut at = Vec::with_capacity(reach.nodes.len());
    for &column in &columns {
        at.push((MARGIN + column as f64 * COLUMN_STEP, TOP + rows[column] as f64 * ROW_STEP));
        rows[column] += 1;
    }
    let width = MARGIN * 2.0 + columns.iter().max().copied().unwrap_or(0) as f64 * COLUMN_STEP + NODE_WIDTH;
    let height = TOP + MARGIN + (rows.iter().max().copied().unwrap_or(1).max(1) - 1) as f64 * ROW_STEP + NODE_HEIGHT + 30.0;
    let mut out = format!(
        "<svg class=\"graph\" role=\"img\" aria-label=\"who reached what\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\n<defs>\n"
    );
    for verdict in [Verdict::Pass, Verdict::Fail, Verdict::Unverified, Verdict::Diverged] {
        out.push_str(&format!(
            "<marker id=\"s{index}-{}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{}\"/></marker>\n",
            verdict.label().to_lowercase(),
            colour(verdict)
        ));
    }
    out.push_str("</defs>\n");
    for (n, node) in reach.nodes.iter().enumerate() {
        let (x, y) = at[n];
        let shown: String = if node.label.chars().count() > 28 { node.label.chars().take(27).chain(['…']).collect() } else { node.label.clone() };
        out.push_str(&format!(
            "<g class=\"node {}\" data-node=\"{}\"><title>{} {}</title><rect x=\"{x}\" y=\"{y}\" width=\"{NODE_WIDTH}\" height=\"{NODE_HEIGHT}\" rx=\"{}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></g>\n",
            node.kind.name(),
            escape(node.id()),
            node.kind.name(),
            escape(&node.label),
            if node.kind == NodeKind::Principal { 16 } else { 3 },
            x + NODE_WIDTH / 2.0,
            y + NODE_HEIGHT / 2.0 + 4.0,
            escape(&shown),
        ));
    }
    out.push_str(&edges(index, reach, &at, &columns));
    out.push_str("</svg>\n");
    out
}

/// Each edge a curve from its principal's right side to its target's left
/// side; edges between the same two nodes fan out so none hides another, and
/// an edge that is not to the next column bows over the nodes between.
fn edges(index: usize, reach: &Reach<'_>, at: &[(f64, f64)], columns: &[usize]) -> String {
    let mut out = String::new();
    for (e, edge) in reach.edges.iter().enumerate() {
        let twins: Vec<usize> = (0..reach.edges.len()).filter(|&o| (reach.edges[o].from, reach.edges[o].to) == (edge.from, edge.to)).collect();
        let nth = twins.iter().position(|&o| o == e).unwrap_or(0) as f64;
        let spread = (nth - (twins.len() as f64 - 1.0) / 2.0) * 34.0;
        let ((x1, y1), (x2, y2)) = (at[edge.from], at[edge.to]);
        let (x1, y1) = (x1 + NODE_WIDTH, y1 + NODE_HEIGHT / 2.0);
        let (y2, x2) = (y2 + NODE_HEIGHT / 2.0, if edge.from == edge.to { x2 + NODE_WIDTH / 2.0 } else { x2 });
        let span = columns[edge.to] as f64 - columns[edge.from] as f64;
        let cy = if span == 1.0 { (y1 + y2) / 2.0 } else { y1.min(y2) - 70.0 * span.abs().max(1.0) };
        let (cx, cy) = ((x1 + x2) / 2.0, cy + spread);
        let (lx, ly) = (0.25 * x1 + 0.5 * cx + 0.25 * x2, 0.25 * y1 + 0.5 * cy + 0.25 * y2 - 4.0);
        let step = edge.step;
        let verdict = step.verdict;
        let dash = if step.expected == Expectation::Denied { " stroke-dasharray=\"6 4\"" } else { "" };
        out.push_str(&format!(
            "<g class=\"edge\" data-step=\"{}\" data-verdict=\"{}\" data-from=\"{}\" data-to=\"{}\"><title>{}</title><path d=\"M{x1:.1},{y1:.1} Q{cx:.1},{cy:.1} {x2:.1},{y2:.1}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{dash} marker-end=\"url(#s{index}-{})\"/><text x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\" fill=\"{}\">{}</text></g>\n",
            escape(&step.name),
            verdict.label(),
            escape(reach.nodes[edge.from].id()),
            escape(reach.nodes[edge.to].id()),
            escape(edge_title(step)),
            colour(verdict),
            verdict.label().to_lowercase(),
            colour(verdict),
            escape(edge_label(step)),
        ));
    }
    out
}

/// What hovering an edge says: the step, its verdict and why.
fn edge_title(step: &StepReport) -> String {
    let why = step.why.as_deref().or(step.reason.as_ref().map(|r| r.text.as_str())).unwrap_or("");
    format!("{}: expected {}, observed {}: {} {why}", step.name, step.expected_text(), step.observed_with_code(), step.verdict.label())
}

/// The reason for each denial: what the policy evaluator says decided it
/// (and what the scenario asserted), and why a verdict is not a plain pass.
fn reasons(scenario: &ScenarioReport) -> String {
    let denials: Vec<&StepReport> =
        scenario.steps.iter().filter(|s| s.expected == Expectation::Denied || s.observed == "denied").collect();
    if denials.is_empty() {
        return String::new();
    }
    let mut out = String::from("<h3>Why each denial</h3>\n<ul class=\"reasons\">\n");
    for step in denials {
        let reason = match (&step.reason, &step.prediction_error) {
            (Some(reason), _) => reason.text.clone(),
            (None, Some(why)) => format!("no prediction: {why}"),
            (None, None) => "no prediction".into(),
        };
        let asserted = step.because.map(|b| format!(" The scenario asserts: because {b}.")).unwrap_or_default();
        let why = step.why.as_deref().map(|w| format!(" {}: {w}.", step.verdict.label())).unwrap_or_default();
        out.push_str(&format!(
            "<li class=\"reason\" data-step=\"{}\" data-verdict=\"{}\"><b>{}</b> ({}, observed {}): {}.{}{}</li>\n",
            escape(&step.name),
            step.verdict.label(),
            escape(&step.name),
            escape(&step.principal),
            escape(step.observed_with_code()),
            escape(&reason),
            escape(&asserted),
            escape(&why),
        ));
    }
    out.push_str("</ul>\n");
    out
}

/// The phases one under another on a common time axis (a Gantt chart), so
/// the long ones (apply, destroy) show at a glance.
fn timeline(phases: &[PhaseReport]) -> String {
    let total: f64 = phases.iter().map(|p| p.latency_ms).sum::<f64>().max(1.0);
    let (left, axis, row) = (170.0, 600.0, 20.0);
    let height = row * phases.len() as f64 + 10.0;
    let mut out = format!("<svg class=\"timeline\" width=\"{}\" height=\"{height}\" viewBox=\"0 0 {} {height}\">\n", left + axis + 140.0, left + axis + 140.0);
    let mut start = 0.0;
    for (i, phase) in phases.iter().enumerate() {
        let (x, width, y) = (left + start / total * axis, (phase.latency_ms / total * axis).max(1.5), 5.0 + i as f64 * row);
        let fill = if phase.ok { "#5b8def" } else { colour(Verdict::Fail) };
        let name = phase.name.to_string();
        out.push_str(&format!(
            "<g class=\"phase\" data-phase=\"{}\" data-ms=\"{:.1}\"><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{x:.1}\" y=\"{y}\" width=\"{width:.1}\" height=\"{}\" fill=\"{fill}\"/><text x=\"{:.1}\" y=\"{}\">{:.1} s{}</text></g>\n",
            escape(&name),
            phase.latency_ms,
            left - 6.0,
            y + 12.0,
            escape(&name),
            row - 6.0,
            x + width + 4.0,
            y + 12.0,
            phase.latency_ms / 1000.0,
            if phase.ok { "" } else { " (failed)" },
        ));
        start += phase.latency_ms;
    }
    out.push_str("</svg>\n");
    out
}

fn table(scenario: &ScenarioReport) -> String {
    let mut out = String::from(
        "<table class=\"steps\">\n<tr><th>step</th><th>stage</th><th>principal</th><th>action</th><th>resource</th><th>expected</th><th>observed</th><th>verdict</th><th>ms</th><th>command</th></tr>\n",
    );
    for step in &scenario.steps {
        let cells = [
            step.name.clone(),
            step.stage.clone().unwrap_or_default(),
            step.principal.clone(),
            step.action.clone(),
            step.resource.clone().unwrap_or_default(),
            step.expected_text(),
            step.observed_with_code(),
        ];
        let cells: String = cells.iter().map(|c| format!("<td>{}</td>", escape(c))).collect();
        out.push_str(&format!(
            "<tr class=\"step\" data-step=\"{}\" data-verdict=\"{}\">{cells}<td class=\"verdict\" style=\"background:{}\">{}</td><td>{:.1}</td><td><code>{}</code></td></tr>\n",
            escape(&step.name),
            step.verdict.label(),
            colour(step.verdict),
            step.verdict.label(),
            step.latency_ms,
            escape(&step.command),
        ));
    }
    out.push_str("</table>\n");
    out
}
