//! Who reached what ([`super::reach`]), as a Graphviz DOT graph
//! (`--report-dot`), for READMEs and pull requests: an edge per two nodes
//! and expectation, labelled with its actions and verdicts, coloured by its
//! worst verdict; expected denials are a dashed edge (the proof that the way
//! is closed). One cluster per scenario.

use std::io::Write;

use super::reach::{Edge, NodeKind, Reach};
use super::{Reporter, Written, writing};
use crate::report::{RunReport, ScenarioReport};
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
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
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
        out.push_str(&format!("    {} [label={}, shape={}];\n", id(n), quoted(&node.note().map_or(node.label.clone(), |note| format!("{}\n{note}", node.label))), shape(node.kind)));
    }
    for edge in &reach.edges {
        out.push_str(&format!("    {} -> {} [{}];\n", id(edge.from), id(edge.to), self::edge(edge)));
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

fn edge(edge: &Edge<'_>) -> String {
    let style = if edge.denial() { ", style=dashed" } else { "" };
    let names: Vec<&str> = edge.steps.iter().map(|s| s.name.as_str()).collect();
    let verdict = edge.verdict();
    format!("label={}, color={}, fontcolor={}{style}, tooltip={}", quoted(&edge.label()), colour(verdict), colour(verdict), quoted(&names.join("; ")))
}
