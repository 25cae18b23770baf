//! One self-contained page (`--report-html`): the run's result and what the
//! target enforces, then per scenario the picture of who reached what
//! ([`super::reach`], inline SVG), the reason for each denial, the phase
//! timeline and the table of steps. No script and nothing fetched: the page
//! opens from a CI artifact with no network. It is well-formed XML too, so a
//! test can read it back with an XML parser.

use std::io::Write;

use quick_xml::escape::escape;

use super::layout::{self, Diagram, Link, Shape};
use super::reach::{NodeKind, Reach};
use super::{Reporter, Written, could_reach, writing};
use crate::access::AccessReport;
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
.picture{overflow-x:auto;max-width:100%}svg text{font-size:11px}svg text.note{font-size:10px;fill:#555}\
svg .edge text{paint-order:stroke;stroke:#fff;stroke-width:3px}svg .node rect{fill:#f5f7fa;stroke:#555}svg .node.instance rect{fill:#eef}\
svg .node.bucket rect{fill:#fff8e1}svg .node.role rect{fill:#f0f0f0}\
table{border-collapse:collapse;font-size:0.85em}table.steps{width:100%}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}\
td{overflow-wrap:anywhere}td code{white-space:pre-wrap}\
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
    for left in &report.left_out {
        out.push_str(&format!("<p class=\"left-out caveat\">left out: {} ({})</p>\n", escape(&left.name), escape(&left.why)));
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
    if let Some(access) = &scenario.access {
        out.push_str(&could_reach(index, access));
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

/// Who reached what as a picture: a node per principal, role, instance and
/// bucket, an edge per two nodes and expectation coloured by its worst
/// verdict, dashed for expected denials, labelled with its actions and verdicts.
fn picture(index: usize, reach: &Reach<'_>) -> String {
    if reach.nodes.is_empty() {
        return "<p class=\"no-graph\">no step ran</p>\n".into();
    }
    let nodes = reach
        .nodes
        .iter()
        .map(|node| Shape { class: node.kind.name(), id: node.id(), label: node.label.clone(), note: node.note(), title: match node.sessions.as_slice() {
                [] => format!("{} {}", node.kind.name(), node.label),
                sessions => format!("{} {}, whose sessions {} act from it", node.kind.name(), node.label, sessions.join(", ")),
            }, rounded: matches!(node.kind, NodeKind::Principal | NodeKind::Role) })
        .collect();
    let links = reach
        .edges
        .iter()
        .map(|edge| {
            let verdict = edge.verdict();
            let names: Vec<&str> = edge.steps.iter().map(|s| s.name.as_str()).collect();
            Link {
                from: edge.from,
                to: edge.to,
                label: edge.label(),
                title: edge.title(),
                colour: colour(verdict),
                dashed: edge.denial(),
                width: 2.0,
                class: "edge",
                data: vec![
                    ("steps", names.join("; ")),
                    ("count", edge.steps.len().to_string()),
                    ("verdict", verdict.label().into()),
                    ("from", reach.nodes[edge.from].id()),
                    ("to", reach.nodes[edge.to].id()),
                ],
            }
        })
        .collect();
    let svg = layout::svg(&format!("s{index}"), "graph", "who reached what", &Diagram { nodes, links });
    format!("<div class=\"picture\">\n{svg}</div>\n")
}

/// Who could reach what: the access analysis's paths, new ones in red, and
/// the paths the snapshot holds that the config no longer opens.
fn could_reach(index: usize, access: &AccessReport) -> String {
    let predicted = access.paths.len() - access.proven();
    let mut out = format!(
        "<h3>Who could reach what</h3>\n<p class=\"access\">{} paths: {} proven by walking them (solid), {predicted} predicted only (dashed); snapshot <code>{}</code> {}</p>\n",
        access.paths.len(),
        access.proven(),
        escape(&access.snapshot),
        if access.accepted { "written from this run" } else if access.holds() { "holds" } else { "<b class=\"failed\">no longer holds</b>" },
    );
    if let Some(diagram) = could_reach::diagram(access) {
        out.push_str(&format!("<div class=\"picture\">\n{}</div>\n", layout::svg(&format!("a{index}"), "graph access", "who could reach what", &diagram)));
    }
    let diff = access.diff.clone().unwrap_or_default();
    let listed = |class: &str, title: &str, lines: &[String]| {
        if lines.is_empty() {
            return String::new();
        }
        let items: String = lines.iter().map(|l| format!("<li class=\"{class}\"><code>{}</code></li>\n", escape(l))).collect();
        format!("<p>{title}</p>\n<ul>\n{items}</ul>\n")
    };
    out.push_str(&listed("new-path failed", "New paths (not in the snapshot; red above):", &diff.added));
    out.push_str(&listed("lost-path failed", "Lost paths (in the snapshot, no longer opened):", &diff.missing));
    out
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
        // The third opinion, where the Policy Simulator was asked.
        let simulator = step.simulator.as_ref().map(|o| format!(" The Policy Simulator: {}.{}", o.answer.line(), o.note.as_deref().map(|n| format!(" Note: {n}.")).unwrap_or_default())).unwrap_or_default();
        out.push_str(&format!(
            "<li class=\"reason\" data-step=\"{}\" data-verdict=\"{}\"><b>{}</b> ({}, observed {}): {}.{}{}{}</li>\n",
            escape(&step.name),
            step.verdict.label(),
            escape(&step.name),
            escape(&step.principal),
            escape(step.observed_with_code()),
            escape(&reason),
            escape(&asserted),
            escape(&why),
            escape(&simulator),
        ));
    }
    out.push_str("</ul>\n");
    out
}

/// The phases one under another on a common time axis (a Gantt chart), so
/// the long ones (apply, destroy) show at a glance.
fn timeline(phases: &[PhaseReport]) -> String {
    let total: f64 = phases.iter().map(|p| p.latency_ms).sum::<f64>().max(1.0);
    // Room for the longest phase name, whole.
    let longest = phases.iter().map(|p| p.name.to_string().chars().count()).max().unwrap_or(0);
    let (left, axis, row) = (longest as f64 * 7.0 + 16.0, 600.0, 20.0);
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
