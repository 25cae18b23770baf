//! Who reached what in one scenario, the graph both pictures draw (DOT and
//! the HTML page): a node per principal and per thing called (an instance, a
//! role, a bucket), an edge per step. An AssumeRole step leads to the session
//! it saves (so a chain reads instance -> role1 -> role2 -> bucket); the
//! harness's own lookup of an instance leads from the instance to its role.

use crate::naming::ADMIN_PRINCIPAL;
use crate::report::{ScenarioReport, StepReport};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// An EC2 instance (whose profile's role is a principal).
    Instance,
    /// Who acts: an instance's role, a user, a session an AssumeRole saved.
    Principal,
    /// A role called by name (the AssumeRole's target, not its session).
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
}

impl Node {
    /// Unique within its scenario: `principal:role1`, `bucket:b`.
    pub fn id(&self) -> String {
        format!("{}:{}", self.kind.name(), self.label)
    }
}

/// A step drawn from node `from` to node `to` (indices into the nodes).
pub struct Edge<'a> {
    pub from: usize,
    pub to: usize,
    pub step: &'a StepReport,
}

pub struct Reach<'a> {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge<'a>>,
}

impl<'a> Reach<'a> {
    pub fn of(scenario: &'a ScenarioReport) -> Self {
        let mut reach = Reach { nodes: Vec::new(), edges: Vec::new() };
        for step in &scenario.steps {
            let Some((from, to)) = ends(step) else {
                if step.principal != ADMIN_PRINCIPAL {
                    reach.node(NodeKind::Principal, &step.principal);
                }
                continue;
            };
            let from = reach.node(from.kind, &from.label);
            let to = reach.node(to.kind, &to.label);
            reach.edges.push(Edge { from, to, step });
        }
        reach
    }

    /// The index of the node, added when new.
    fn node(&mut self, kind: NodeKind, label: &str) -> usize {
        let node = Node { kind, label: label.to_string() };
        match self.nodes.iter().position(|n| *n == node) {
            Some(index) => index,
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        }
    }

    /// Each node's column, left to right: the longest way to it from a node
    /// nothing leads to (bounded, so a cycle cannot loop).
    pub fn columns(&self) -> Vec<usize> {
        let mut column = vec![0; self.nodes.len()];
        for _ in 0..self.nodes.len() {
            let mut moved = false;
            for edge in &self.edges {
                let next = (column[edge.from] + 1).min(self.nodes.len());
                if edge.from != edge.to && column[edge.to] < next {
                    column[edge.to] = next;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        column
    }
}

/// Where a step's edge starts and ends; None for a step that reaches nothing
/// drawable (GetCallerIdentity, or another of the harness's own calls).
fn ends(step: &StepReport) -> Option<(Node, Node)> {
    let node = |kind, label: &str| Node { kind, label: label.to_string() };
    if step.principal == ADMIN_PRINCIPAL {
        // The instance lookup: the instance leads to its profile's role.
        let (instance, role) = (step.resource.as_deref()?, step.yields.as_deref()?);
        return Some((node(NodeKind::Instance, instance), node(NodeKind::Principal, role)));
    }
    let from = node(NodeKind::Principal, &step.principal);
    if let Some(session) = &step.yields {
        return Some((from, node(NodeKind::Principal, session)));
    }
    let resource = step.resource.as_deref()?;
    let kind = match step.action.split(':').next() {
        Some("s3") => NodeKind::Bucket,
        Some("ec2") => NodeKind::Instance,
        _ => NodeKind::Role,
    };
    Some((from, node(kind, resource)))
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
        assert_eq!(ids, ["principal:role1", "bucket:b", "principal:role2"]);
        // role1 -> role2 (the AssumeRole), role2 -> b: role2 sits between them.
        assert_eq!(chain.columns(), [0, 2, 1]);
        let broken = Reach::of(&run.scenarios[1]);
        assert_eq!(broken.nodes[0].id(), "instance:i-0abc");
        assert_eq!((broken.edges[0].from, broken.edges[0].to), (0, 1), "the instance leads to its role");
        assert_eq!(broken.edges.len(), run.scenarios[1].steps.len());
    }

    #[test]
    fn a_cycle_of_sessions_still_gets_columns() {
        let mut run = fixed_run();
        let mut back = run.scenarios[0].steps[1].clone();
        back.principal = "role2".into();
        back.yields = Some("role1".into());
        run.scenarios[0].steps.push(back);
        let columns = Reach::of(&run.scenarios[0]).columns();
        assert!(columns.iter().all(|&c| c <= 3), "{columns:?}");
    }
}
