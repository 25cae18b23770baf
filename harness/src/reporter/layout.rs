//! A node-and-edge picture as inline SVG, for the HTML page: nodes in
//! columns (what leads to what, left to right), each as wide as its label,
//! columns as far apart as their edges' labels need, and every edge label
//! moved off any node or label it would cover. Nothing is cut: the picture
//! is as large as what it holds, and the page scrolls it rather than
//! shrinking its text.

use quick_xml::escape::escape;

/// One node: `class` is its kind (styled by the page), `id` unique in the picture.
pub struct Shape {
    pub class: &'static str,
    pub id: String,
    pub label: String,
    /// A smaller second line (a role's sessions).
    pub note: Option<String>,
    pub title: String,
    pub rounded: bool,
}

/// One edge, drawn from `from`'s right side to `to`'s left side.
pub struct Link {
    pub from: usize,
    pub to: usize,
    pub label: String,
    pub title: String,
    pub colour: &'static str,
    pub dashed: bool,
    pub width: f64,
    /// Its `class` and `data-*` attributes, as the page's readers (and tests) find it.
    pub class: &'static str,
    pub data: Vec<(&'static str, String)>,
}

pub struct Diagram {
    pub nodes: Vec<Shape>,
    pub links: Vec<Link>,
}

/// 11-pixel text: a width that covers the widest common sans fonts.
const CHAR_WIDTH: f64 = 7.0;
const LINE_HEIGHT: f64 = 15.0;
const NODE_HEIGHT: f64 = 34.0;
const NOTE_HEIGHT: f64 = 14.0;
const MIN_NODE_WIDTH: f64 = 120.0;
const MIN_GAP: f64 = 120.0;
/// Wider labels wrap rather than push the columns apart.
const MAX_GAP: f64 = 300.0;
const LINE_CHARS: usize = 32;
const ROW_GAP: f64 = 40.0;
const MARGIN: f64 = 20.0;

fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH
}

/// An area of the picture: x, y (top left), width, height.
#[derive(Clone, Copy)]
struct Area(f64, f64, f64, f64);

impl Area {
    fn overlaps(&self, other: &Area) -> bool {
        self.0 < other.0 + other.2 && other.0 < self.0 + self.2 && self.1 < other.1 + other.3 && other.1 < self.1 + self.3
    }
}

impl Diagram {
    /// Each node's column: the longest way to it from a node nothing leads
    /// to (bounded, so a cycle cannot loop).
    pub fn columns(&self) -> Vec<usize> {
        let mut column = vec![0; self.nodes.len()];
        for _ in 0..self.nodes.len() {
            let mut moved = false;
            for link in &self.links {
                let next = (column[link.from] + 1).min(self.nodes.len());
                if link.from != link.to && column[link.to] < next {
                    column[link.to] = next;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        column
    }

    /// Where each node sits (its area): columns left to right, as far
    /// apart as their edges' labels need; in each column after the first,
    /// nodes in the order of, and as near as they can be to, the middle of
    /// what leads to them (fewer crossings, shorter edges).
    fn places(&self) -> Vec<Area> {
        let columns = self.columns();
        let count = columns.iter().max().map_or(0, |c| c + 1);
        let width = |n: usize| (text_width(&self.nodes[n].label).max(self.nodes[n].note.as_deref().map_or(0.0, text_width)) + 24.0).max(MIN_NODE_WIDTH);
        let height = |n: usize| NODE_HEIGHT + if self.nodes[n].note.is_some() { NOTE_HEIGHT } else { 0.0 };
        let mut column_width = vec![0.0f64; count];
        let mut gap = vec![MIN_GAP; count];
        for n in 0..self.nodes.len() {
            column_width[columns[n]] = column_width[columns[n]].max(width(n));
        }
        for link in &self.links {
            if columns[link.to] == columns[link.from] + 1 {
                let widest = wrap(&link.label).iter().map(|l| text_width(l)).fold(0.0, f64::max);
                gap[columns[link.from]] = gap[columns[link.from]].max((widest + 60.0).min(MAX_GAP));
            }
        }
        let mut x = vec![MARGIN; count];
        for c in 1..count {
            x[c] = x[c - 1] + column_width[c - 1] + gap[c - 1];
        }
        let mut places: Vec<Option<Area>> = vec![None; self.nodes.len()];
        for (c, &left) in x.iter().enumerate() {
            // Where each node of the column would like its middle: among what leads to it.
            let mut wanted: Vec<(f64, usize)> = (0..self.nodes.len())
                .filter(|&n| columns[n] == c)
                .map(|n| {
                    let from: Vec<f64> = self.links.iter().filter(|l| l.to == n).filter_map(|l| places[l.from]).map(|a| a.1 + a.3 / 2.0).collect();
                    (if from.is_empty() || c == 0 { f64::MAX } else { from.iter().sum::<f64>() / from.len() as f64 }, n)
                })
                .collect();
            wanted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut next = MARGIN;
            for (middle, n) in wanted {
                let top = if middle == f64::MAX { next } else { (middle - height(n) / 2.0).max(next) };
                places[n] = Some(Area(left, top, width(n), height(n)));
                next = top + height(n) + ROW_GAP;
            }
        }
        places.into_iter().map(|a| a.unwrap_or(Area(MARGIN, MARGIN, MIN_NODE_WIDTH, NODE_HEIGHT))).collect()
    }
}

/// A label in lines of at most [`LINE_CHARS`] characters, broken at spaces.
fn wrap(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= LINE_CHARS => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// The picture as an `<svg>` element; `id` keeps its markers apart from another picture's.
pub fn svg(id: &str, class: &str, label: &str, diagram: &Diagram) -> String {
    let places = diagram.places();
    let mut taken: Vec<Area> = places.clone();
    let mut body = String::new();
    for (n, shape) in diagram.nodes.iter().enumerate() {
        body.push_str(&node(shape, places[n]));
    }
    let mut colours: Vec<&'static str> = diagram.links.iter().map(|l| l.colour).collect();
    colours.sort_unstable();
    colours.dedup();
    for (e, link) in diagram.links.iter().enumerate() {
        let (d, (lx, ly)) = curve(diagram, e, &places);
        let lines = wrap(&link.label);
        let label = place_label(&lines, lx, ly, &mut taken);
        let text: String = lines
            .iter()
            .enumerate()
            .map(|(i, line)| format!("<tspan x=\"{:.1}\" y=\"{:.1}\">{}</tspan>", label.0 + label.2 / 2.0, label.1 + 11.0 + i as f64 * LINE_HEIGHT, escape(line)))
            .collect();
        let marker = colours.iter().position(|c| *c == link.colour).unwrap_or(0);
        let dash = if link.dashed { " stroke-dasharray=\"6 4\"" } else { "" };
        let data: String = link.data.iter().map(|(k, v)| format!(" data-{k}=\"{}\"", escape(v))).collect();
        body.push_str(&format!(
            "<g class=\"{}\"{data}><title>{}</title><path d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{dash} marker-end=\"url(#{id}-m{marker})\"/><text text-anchor=\"middle\" fill=\"{}\">{text}</text></g>\n",
            link.class,
            escape(&link.title),
            link.colour,
            link.width,
            link.colour,
        ));
    }
    // Large enough for everything drawn, labels moved off the nodes included.
    let right = taken.iter().map(|a| a.0 + a.2).fold(0.0, f64::max) + MARGIN;
    let (top, bottom) = taken.iter().fold((f64::MAX, 0.0f64), |(t, b), a| (t.min(a.1), b.max(a.1 + a.3)));
    let (top, height) = (top.min(0.0) - MARGIN, bottom - top.min(0.0) + 2.0 * MARGIN);
    let mut out = format!(
        "<svg class=\"{class}\" role=\"img\" aria-label=\"{}\" width=\"{right:.0}\" height=\"{height:.0}\" viewBox=\"0 {top:.0} {right:.0} {height:.0}\">\n<defs>\n",
        escape(label)
    );
    for (m, colour) in colours.iter().enumerate() {
        out.push_str(&format!(
            "<marker id=\"{id}-m{m}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{colour}\"/></marker>\n"
        ));
    }
    out.push_str("</defs>\n");
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

fn node(shape: &Shape, Area(x, y, w, h): Area) -> String {
    let note = shape.note.as_deref().map(|note| format!("<text class=\"note\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>", x + w / 2.0, y + 38.0, escape(note))).unwrap_or_default();
    format!(
        "<g class=\"node {}\" data-node=\"{}\"><title>{}</title><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>{note}</g>\n",
        shape.class,
        escape(&shape.id),
        escape(&shape.title),
        if shape.rounded { 16 } else { 3 },
        x + w / 2.0,
        y + 21.0,
        escape(&shape.label),
    )
}

/// An edge's curve (SVG path data) and the middle of it, where its label
/// goes: leaving and entering level; edges between the same two nodes fan
/// out; one that leads back (or to itself) bows over the nodes.
fn curve(diagram: &Diagram, e: usize, places: &[Area]) -> (String, (f64, f64)) {
    let link = &diagram.links[e];
    let twins: Vec<usize> = (0..diagram.links.len()).filter(|&o| (diagram.links[o].from, diagram.links[o].to) == (link.from, link.to)).collect();
    let nth = twins.iter().position(|&o| o == e).unwrap_or(0) as f64;
    let spread = (nth - (twins.len() as f64 - 1.0) / 2.0) * 36.0;
    let (from, to) = (places[link.from], places[link.to]);
    let (x1, y1) = (from.0 + from.2, from.1 + NODE_HEIGHT / 2.0);
    let (x2, y2) = if link.from == link.to { (to.0 + to.2 / 2.0, to.1) } else { (to.0, to.1 + NODE_HEIGHT / 2.0) };
    let ((c1x, c1y), (c2x, c2y)) = if x2 > x1 {
        let dx = (x2 - x1) / 2.0;
        ((x1 + dx, y1 + spread), (x2 - dx, y2 + spread))
    } else {
        let over = y1.min(y2) - 80.0 + spread;
        ((x1 + 80.0, over), (x2 - 80.0, over))
    };
    let middle = (0.125 * x1 + 0.375 * c1x + 0.375 * c2x + 0.125 * x2, 0.125 * y1 + 0.375 * c1y + 0.375 * c2y + 0.125 * y2);
    (format!("M{x1:.1},{y1:.1} C{c1x:.1},{c1y:.1} {c2x:.1},{c2y:.1} {x2:.1},{y2:.1}"), middle)
}

/// The label's area, centred on (x, y) or moved up or down, a line at a
/// time, to the nearest place that covers no node and no other label.
fn place_label(lines: &[String], x: f64, y: f64, taken: &mut Vec<Area>) -> Area {
    let width = lines.iter().map(|l| text_width(l)).fold(0.0, f64::max);
    let height = lines.len() as f64 * LINE_HEIGHT;
    let at = |offset: f64| Area(x - width / 2.0, y - height / 2.0 + offset, width, height);
    let offsets = (0..400).map(|i| if i % 2 == 0 { -(i as f64 / 2.0) } else { (i as f64 + 1.0) / 2.0 } * LINE_HEIGHT / 2.0);
    let area = offsets.map(at).find(|area| taken.iter().all(|t| !t.overlaps(area))).unwrap_or_else(|| at(0.0));
    taken.push(area);
    area
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(label: &str) -> Shape {
        Shape { class: "principal", id: label.into(), label: label.into(), note: None, title: String::new(), rounded: false }
    }

    fn link(from: usize, to: usize, label: &str) -> Link {
        Link { from, to, label: label.into(), title: String::new(), colour: "#000", dashed: false, width: 2.0, class: "edge", data: vec![] }
    }

    /// The text areas a picture claims: the labels as placed, read back from the SVG.
    fn label_areas(svg: &str) -> Vec<Area> {
        svg.replace("<tspan x=", "<text x=")
            .split("<text x=\"")
            .skip(1)
            .map(|rest| {
                let number = |s: &str| s.split('"').next().unwrap().parse::<f64>().unwrap();
                let x = number(rest);
                let y = number(rest.split("y=\"").nth(1).unwrap());
                let text = rest.split('>').nth(1).unwrap().split('<').next().unwrap();
                let w = text_width(text);
                Area(x - w / 2.0, y - 11.0, w, LINE_HEIGHT)
            })
            .collect()
    }

    #[test]
    fn long_labels_stay_whole_and_labels_of_parallel_edges_do_not_cover_each_other() {
        let long = "any principal of account self granted it";
        let diagram = Diagram {
            nodes: vec![shape(long), shape("b"), shape("c")],
            links: vec![link(0, 1, "s3:ListBucket · 3 PASS"), link(0, 1, "s3:ListBucket · 1 FAIL"), link(0, 2, "s3:PutObject PASS 5.0 ms"), link(1, 2, "sts:AssumeRole · 2 PASS")],
        };
        let svg = svg("t", "graph", "test", &diagram);
        assert!(svg.contains(&format!(">{long}</text>")), "the label is whole: {svg}");
        let places = diagram.places();
        assert!(places[0].2 >= text_width(long), "the node is as wide as its label");
        let labels = label_areas(&svg);
        for (i, a) in labels.iter().enumerate() {
            for b in &labels[i + 1..] {
                assert!(!a.overlaps(b), "two labels overlap in {svg}");
            }
        }
    }
}
