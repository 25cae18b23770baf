//! Who could reach what: a scenario's access analysis (its snapshot's
//! paths) as a picture for the HTML page, beside who did ([`super::reach`]).
//! A node per principal, role and bucket, each drawn once; an edge per link
//! the paths share, green where a walk proved a path through it, grey and
//! dashed where only predicted, purple where the target refused a walk, and
//! red where every path through it is new (not in the snapshot).

use super::layout::{Diagram, Link, Shape};
use crate::access::{AccessReport, PathReport, Proof};

const NEW: &str = "#c62828";
const PROVEN: &str = "#1b7f1b";
const REFUSED: &str = "#7b1fa2";
const PREDICTED: &str = "#666666";

/// The paths' places and links; None when the report holds no path with places.
pub fn diagram(access: &AccessReport) -> Option<Diagram> {
    let added = access.diff.as_ref().map(|d| d.added.as_slice()).unwrap_or_default();
    let mut nodes: Vec<Shape> = Vec::new();
    // Each link, and the paths through it.
    let mut links: Vec<(usize, usize, &str, Vec<&PathReport>)> = Vec::new();
    for path in access.paths.iter().filter(|p| p.places.len() == p.links.len() + 1 && !p.links.is_empty()) {
        let mut previous = None;
        for (i, place) in path.places.iter().enumerate() {
            let class = match i {
                0 => "principal",
                _ if i == path.links.len() && !path.links[i - 1].starts_with("sts:AssumeRole") => "bucket",
                _ => "role",
            };
            let node = match nodes.iter().position(|n| n.label == *place) {
                Some(n) => n,
                None => {
                    let title = format!("{class} {place}");
                    nodes.push(Shape { class, id: format!("{class}:{place}"), label: place.clone(), note: None, title, rounded: class != "bucket" });
                    nodes.len() - 1
                }
            };
            if let Some(from) = previous {
                let label = path.links[i - 1].as_str();
                match links.iter_mut().find(|l| (l.0, l.1, l.2) == (from, node, label)) {
                    Some(link) => link.3.push(path),
                    None => links.push((from, node, label, vec![path])),
                }
            }
            previous = Some(node);
        }
    }
    if nodes.is_empty() {
        return None;
    }
    let links = links.into_iter().map(|(from, to, label, paths)| link(from, to, label, &paths, added)).collect();
    Some(Diagram { nodes, links })
}

fn link(from: usize, to: usize, label: &str, paths: &[&PathReport], added: &[String]) -> Link {
    let new = paths.iter().all(|p| added.contains(&p.path));
    let refused = paths.iter().any(|p| matches!(p.proof, Proof::Refused { .. }));
    let proven = paths.iter().any(|p| matches!(p.proof, Proof::Proven { .. }));
    let (colour, proof) = match (new, refused, proven) {
        (true, ..) => (NEW, if proven { "proven" } else { "predicted" }),
        (_, true, _) => (REFUSED, "refused"),
        (_, _, true) => (PROVEN, "proven"),
        _ => (PREDICTED, "predicted"),
    };
    let each: Vec<String> = paths.iter().map(|p| format!("{}{} ({})", if added.contains(&p.path) { "NEW " } else { "" }, p.path, proof_text(&p.proof))).collect();
    Link {
        from,
        to,
        label: if new { format!("NEW {label}") } else { label.to_string() },
        title: each.join("\n"),
        colour,
        dashed: !proven,
        width: if new { 3.0 } else { 2.0 },
        class: if new { "edge new" } else { "edge" },
        data: vec![("paths", paths.len().to_string()), ("proof", proof.into())],
    }
}

fn proof_text(proof: &Proof) -> String {
    match proof {
        Proof::Proven { calls, .. } => format!("proven by walking it: {calls} calls allowed"),
        Proof::Refused { call, code } => format!("walked: the target refused {call} ({code})"),
        Proof::Predicted { why } => format!("predicted only: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::access_changed;

    #[test]
    fn a_new_path_is_red_where_it_leaves_the_accepted_ones() {
        let mut access = access_changed().scenarios[0].access.clone().unwrap();
        let accepted = PathReport {
            path: "aws_iam_role.role2 -> aws_s3_bucket.bucket: s3:ListBucket".into(),
            places: vec!["aws_iam_role.role2".into(), "aws_s3_bucket.bucket".into()],
            links: vec!["s3:ListBucket".into()],
            proof: Proof::Proven { calls: 1, latency_ms: 3.0 },
            ..access.paths[0].clone()
        };
        access.paths.push(accepted);
        let diagram = diagram(&access).unwrap();
        let ids: Vec<&str> = diagram.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["principal:aws_iam_role.ci", "role:aws_iam_role.role2", "bucket:aws_s3_bucket.bucket"], "each place once");
        let [into_role, to_bucket] = diagram.links.as_slice() else { panic!("two links, the shared one once") };
        assert_eq!((into_role.colour, into_role.class, into_role.label.as_str()), (NEW, "edge new", "NEW sts:AssumeRole"));
        assert_eq!((to_bucket.colour, to_bucket.dashed), (PROVEN, false), "a link an accepted, walked path shares is not new");
        assert!(to_bucket.title.contains("NEW aws_iam_role.ci") && to_bucket.title.contains("proven by walking it"), "{}", to_bucket.title);
    }
}
