//! Who reached what, as a Graphviz DOT graph (`--report-dot`), for READMEs
//! and pull requests: a node per principal and per resource it called (a
//! bucket, a role, an instance), an edge per step labelled with its action,
//! verdict and latency, coloured by verdict; an expected denial is a dashed
//! edge (the proof that the way is closed). One cluster per scenario.

use std::io::Write;

use super::{Reporter, Written, writing};
use crate::report::{RunReport, ScenarioReport, StepReport};
use crate::scenario::Expectation;
use crate::verdict::Verdict;

pub struct Graph<W> {
    out: W,
}

impl<W: Write + Send> Graph<W> {
    pub fn new(out: W) -> Self {
        Self { out }
    }
}

impl<W: Write + Send> Reporter for Graph<W> {
    fn finish(&mut self, report: &RunReport) -> Written {
        self.out.write_all(dot(report).as_bytes()).and_then(|()| self.out.flush()).map_err(writing("the DOT graph"))
    }
}

/// The colour of a verdict: green proven, red failed, orange not proven, purple diverged.
fn colour(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "forestgreen",
        Verdict::Fail => "red3",
        Verdict::Unverified => "darkorange",
        Verdict::Diverged => "purple",
    }
}

/// A DOT string literal.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

pub fn dot(report: &RunReport) -> String {
    let mut out = String::from("digraph harness {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (index, scenario) in report.scenarios.iter().enumerate() {
        out.push_str(&cluster(index, scenario));
    }
    out.push_str("}\n");
    out
}

fn cluster(index: usize, scenario: &ScenarioReport) -> String {
    let node = |name: &str| quoted(&format!("{}/{name}", scenario.name));
    let mut out = format!("  subgraph cluster_{index} {{\n    label={};\n", quoted(&format!("{} ({})", scenario.name, if scenario.passed { "passed" } else { "FAILED" })));
    let mut declared: Vec<String> = Vec::new();
    let mut declare = |out: &mut String, name: &str, shape: &str| {
        if !declared.iter().any(|d| d == name) {
            out.push_str(&format!("    {} [label={}, shape={shape}];\n", node(name), quoted(name)));
            declared.push(name.to_string());
        }
    };
    for step in &scenario.steps {
        declare(&mut out, &step.principal, "ellipse");
        let Some(resource) = &step.resource else { continue };
        declare(&mut out, resource, if step.action.starts_with("s3:") { "cylinder" } else { "box" });
        out.push_str(&format!("    {} -> {} [{}];\n", node(&step.principal), node(resource), edge(step)));
    }
    out.push_str("  }\n");
    out
}

fn edge(step: &StepReport) -> String {
    let label = format!("{} {} {:.1} ms", step.action, step.verdict.label(), step.latency_ms);
    let style = if step.expected == Expectation::Denied { ", style=dashed" } else { "" };
    format!("label={}, color={}, fontcolor={}{style}, tooltip={}", quoted(&label), colour(step.verdict), colour(step.verdict), quoted(&step.name))
}
