//! Who reached what ([`super::reach`]), as a Graphviz DOT graph
//! (`--report-dot`), for READMEs and pull requests: an edge per step labelled
//! with its action, verdict and latency, coloured by verdict; an expected
//! denial is a dashed edge (the proof that the way is closed). One cluster per scenario.

use std::io::Write;

use super::reach::{NodeKind, Reach};
use super::{Reporter, Written, edge_label, writing};
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
    let reach = Reach::of(scenario);
    let id = |node: usize| quoted(&format!("{}/{}", scenario.name, reach.nodes[node].id()));
    let mut out = format!("  subgraph cluster_{index} {{\n    label={};\n", quoted(&format!("{} ({})", scenario.name, if scenario.passed { "passed" } else { "FAILED" })));
    for (n, node) in reach.nodes.iter().enumerate() {
        out.push_str(&format!("    {} [label={}, shape={}];\n", id(n), quoted(&node.label), shape(node.kind)));
    }
    for edge in &reach.edges {
        out.push_str(&format!("    {} -> {} [{}];\n", id(edge.from), id(edge.to), self::edge(edge.step)));
    }
    out.push_str("  }\n");
    out
}

fn shape(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Instance => "component",
        NodeKind::Principal => "ellipse",
        NodeKind::Role => "box",
        NodeKind::Bucket => "cylinder",
    }
}

fn edge(step: &StepReport) -> String {
    let label = edge_label(step);
    let style = if step.expected == Expectation::Denied { ", style=dashed" } else { "" };
    format!("label={}, color={}, fontcolor={}{style}, tooltip={}", quoted(&label), colour(step.verdict), colour(step.verdict), quoted(&step.name))
}
