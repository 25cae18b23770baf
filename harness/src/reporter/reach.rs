//! Who reached what in one scenario, the graph both pictures draw (DOT and
//! the HTML page): a node per principal and per thing called (an instance, a
//! role, a bucket), each drawn once, and one edge per two nodes and kind of
//! expectation (allowed or denied) carrying every step between them. An
//! AssumeRole step leads to the role, and the sessions it saves act from that
//! role's node (so a chain reads instance -> role1 -> role2 -> bucket however
//! many sessions of role2 the stages saved); the harness's own lookup of an
//! instance leads from the instance to its role.

use crate::naming::ADMIN_PRINCIPAL;
use crate::report::{ScenarioReport, StepReport};
use crate::scenario::Expectation;
use crate::verdict::Verdict;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// An EC2 instance (whose profile's role is a principal).
    Instance,
    /// Who acts and is no role assumed here: an instance's role, a user.
    Principal,
    /// A role called by an AssumeRole step; the sessions saved act from it.
    Role,
    Bucket,
}

impl NodeKind {
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Instance => "instance",
            NodeKind::Principal => "principal",
            NodeKind::Role => "role",
            NodeKind::Bucket => "bucket",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    pub label: String,
    /// For a role: the names of the sessions the scenario saved from it.
    pub sessions: Vec<String>,
}

impl Node {
    /// Unique within its scenario: `principal:role1`, `bucket:b`.
    pub fn id(&self) -> String {
        format!("{}:{}", self.kind.name(), self.label)
    }

    /// A role's second line: the sessions that act from it (`as role2, role2_via_root`; `as 4 sessions`).
    pub fn note(&self) -> Option<String> {
        let others: Vec<&str> = self.sessions.iter().map(String::as_str).filter(|s| *s != self.label).collect();
        match others.as_slice() {
            [] => None,
            [_] | [_, _] => Some(format!("as {}", others.join(", "))),
            more => Some(format!("as {} sessions", more.len())),
        }
    }
}

/// The steps from node `from` to node `to` (indices into the nodes) that expected the same.
pub struct Edge<'a> {
    pub from: usize,
    pub to: usize,
    pub steps: Vec<&'a StepReport>,
}

impl Edge<'_> {
    /// Every step of it expected a denial (drawn dashed: the proof that the way is closed).
    pub fn denial(&self) -> bool {
        self.steps.iter().all(|s| s.expected == Expectation::Denied)
    }

    /// The worst verdict of its steps: a failure is never hidden behind a pass.
    pub fn verdict(&self) -> Verdict {
        self.steps.iter().map(|s| s.verdict).max_by_key(|v| severity(*v)).unwrap_or(Verdict::Pass)
    }

    /// `sts:AssumeRole PASS 6.8 ms`; several steps: `s3:ListBucket, s3:PutObject · 3 PASS`.
    pub fn label(&self) -> String {
        let mut what: Vec<&str> = Vec::new();
        for step in &self.steps {
            let action = if step.principal == ADMIN_PRINCIPAL { "instance profile" } else { step.action.as_str() };
            if !what.contains(&action) {
                what.push(action);
            }
        }
        match self.steps.as_slice() {
            [one] => format!("{} {} {:.1} ms", what.join(", "), one.verdict.label(), one.latency_ms),
            steps => {
                let counts: Vec<String> = [Verdict::Pass, Verdict::Fail, Verdict::Unverified, Verdict::Diverged]
                    .into_iter()
                    .filter_map(|v| Some((steps.iter().filter(|s| s.verdict == v).count(), v)).filter(|(n, _)| *n > 0))
                    .map(|(n, v)| format!("{n} {}", v.label()))
                    .collect();
                format!("{} · {}", what.join(", "), counts.join(", "))
            }
        }
    }

    /// What hovering it says: each step, its verdict and why.
    pub fn title(&self) -> String {
        let each: Vec<String> = self.steps.iter().map(|step| step_title(step)).collect();
        each.join("\n")
    }
}

fn severity(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Pass => 0,
        Verdict::Unverified => 1,
        Verdict::Diverged => 2,
        Verdict::Fail => 3,
    }
}

fn step_title(step: &StepReport) -> String {
    let why = step.why.as_deref().or(step.reason.as_ref().map(|r| r.text.as_str())).unwrap_or("");
    format!("{}: expected {}, observed {}: {} {:.1} ms {why}", step.name, step.expected_text(), step.observed_with_code(), step.verdict.label(), step.latency_ms)
}

pub struct Reach<'a> {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge<'a>>,
}

impl<'a> Reach<'a> {
    pub fn of(scenario: &'a ScenarioReport) -> Self {
        let mut reach = Reach { nodes: Vec::new(), edges: Vec::new() };
        // Each session the scenario saved, and the role node it acts from.
        let mut sessions: Vec<(String, usize)> = Vec::new();
        for step in &scenario.steps {
            let acting = |reach: &mut Reach<'a>, name: &str| match sessions.iter().find(|(s, _)| s == name) {
                Some(&(_, node)) => node,
                None => reach.node(NodeKind::Principal, name),
            };
            if step.principal == ADMIN_PRINCIPAL {
                // The instance lookup: the instance leads to its profile's role.
                if let (Some(instance), Some(role)) = (step.resource.as_deref(), step.yields.as_deref()) {
                    let (from, to) = (reach.node(NodeKind::Instance, instance), acting(&mut reach, role));
                    reach.edge(from, to, step);
                }
                continue;
            }
            let from = acting(&mut reach, &step.principal);
            let Some(resource) = step.resource.as_deref() else { continue };
            let to = match step.action.split(':').next() {
                Some("s3") => reach.node(NodeKind::Bucket, resource.split('/').next().unwrap_or(resource)),
                Some("ec2") => reach.node(NodeKind::Instance, resource),
                _ => reach.node(NodeKind::Role, resource),
            };
            if let Some(session) = step.yields.as_deref().filter(|_| reach.nodes[to].kind == NodeKind::Role) {
                if !reach.nodes[to].sessions.iter().any(|s| s == session) {
                    reach.nodes[to].sessions.push(session.to_string());
                }
                if !sessions.iter().any(|(s, _)| s == session) {
                    sessions.push((session.to_string(), to));
                }
            }
            reach.edge(from, to, step);
        }
        reach
    }

    /// The index of the node, added when new.
    fn node(&mut self, kind: NodeKind, label: &str) -> usize {
        match self.nodes.iter().position(|n| n.kind == kind && n.label == label) {
            Some(index) => index,
            None => {
                self.nodes.push(Node { kind, label: label.to_string(), sessions: Vec::new() });
                self.nodes.len() - 1
            }
        }
    }

    /// The step joins the edge between the two nodes that expected what it expected.
    fn edge(&mut self, from: usize, to: usize, step: &'a StepReport) {
        let denial = step.expected == Expectation::Denied;
        match self.edges.iter_mut().find(|e| (e.from, e.to) == (from, to) && e.denial() == denial) {
            Some(edge) => edge.steps.push(step),
            None => self.edges.push(Edge { from, to, steps: vec![step] }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::fixed_run;

    #[test]
    fn a_chain_reads_from_the_instance_through_each_session_to_the_bucket() {
        let run = fixed_run();
        let chain = Reach::of(&run.scenarios[0]);
        let ids: Vec<String> = chain.nodes.iter().map(Node::id).collect();
        assert_eq!(ids, ["principal:role1", "bucket:b", "role:role2"]);
        assert_eq!(chain.nodes[2].sessions, ["role2"], "the session role2 acts from the role it was saved from");
        let broken = Reach::of(&run.scenarios[1]);
        assert_eq!(broken.nodes[0].id(), "instance:i-0abc");
        assert_eq!((broken.edges[0].from, broken.edges[0].to), (0, 1), "the instance leads to its role");
    }

    #[test]
    fn a_role_is_one_node_however_many_sessions_and_steps_reach_it() {
        let mut run = fixed_run();
        let scenario = &mut run.scenarios[0];
        let mut again = scenario.steps[1].clone();
        again.yields = Some("role2_via_root".into());
        let mut listed = scenario.steps[2].clone();
        listed.principal = "role2_via_root".into();
        scenario.steps.extend([again, listed]);
        let reach = Reach::of(&run.scenarios[0]);
        let ids: Vec<String> = reach.nodes.iter().map(Node::id).collect();
        assert_eq!(ids, ["principal:role1", "bucket:b", "role:role2"]);
        assert_eq!(reach.nodes[2].sessions, ["role2", "role2_via_root"]);
        // role1 -> b (denied), role1 -> role2 (two AssumeRoles), role2 -> b (two lists).
        let counts: Vec<(usize, usize, usize)> = reach.edges.iter().map(|e| (e.from, e.to, e.steps.len())).collect();
        assert_eq!(counts, [(0, 1, 1), (0, 2, 2), (2, 1, 2)]);
        assert_eq!(reach.edges[1].label(), "sts:AssumeRole · 2 PASS");
    }

    #[test]
    fn an_edge_shows_its_worst_verdict_and_keeps_denials_apart() {
        let run = fixed_run();
        let broken = Reach::of(&run.scenarios[1]);
        // role1 -> b: the DIVERGED denial and the FAILED upload are two edges (denied, allowed).
        let to_bucket: Vec<&Edge<'_>> = broken.edges.iter().filter(|e| broken.nodes[e.to].kind == NodeKind::Bucket).collect();
        assert_eq!(to_bucket.len(), 2);
        assert!(to_bucket[0].denial() && !to_bucket[1].denial());
        let mut merged = run.scenarios[1].clone();
        merged.steps[2].expected = Expectation::Denied;
        let merged = Reach::of(&merged);
        let edge = merged.edges.iter().find(|e| merged.nodes[e.to].kind == NodeKind::Bucket).unwrap();
        assert_eq!(edge.verdict(), Verdict::Fail, "a failure is never hidden behind another verdict");
        assert_eq!(edge.label(), "s3:ListBucket, s3:PutObject · 1 FAIL, 1 DIVERGED");
    }
}
