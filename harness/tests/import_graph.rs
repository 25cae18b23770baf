//! The flow reads one way: no circle of imports among the source files.
//! Each file's uses of `crate::…` and `super::…` paths are edges to the file
//! that defines that module; a parent module's own `mod`/`pub use` of its
//! children is structure, not an edge. A circle fails the test and is
//! printed file by file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `policy::evaluate` for `src/policy/evaluate.rs`, `policy` for `src/policy/mod.rs`, `` for lib.rs.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).filter(|p| p != "mod" && p != "lib" && p != "main").collect();
    parts.join("::")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn ident(text: &str) -> String {
    text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// The segments of a path (`a::b::Type` -> [a, b, Type]) and what follows them.
fn segments(mut rest: &str) -> (Vec<String>, &str) {
    let mut path = Vec::new();
    loop {
        let word = ident(rest);
        if word.is_empty() || word == "self" {
            return (path, rest);
        }
        rest = &rest[word.len()..];
        path.push(word);
        match rest.strip_prefix("::") {
            Some(next) => rest = next,
            None => return (path, rest),
        }
    }
}

/// Every `crate::a::b::Item` and `super::c` path a file names, outside
/// comments and tests; a `{...}` group after a path names each of its items (one level).
fn paths_named(text: &str) -> Vec<(bool, Vec<String>)> {
    let code: String = text.split("#[cfg(test)]").next().unwrap_or_default().lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let mut found = Vec::new();
    for (anchor, is_super) in [("crate::", false), ("super::", true)] {
        for (at, _) in code.match_indices(anchor) {
            if code[..at].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let (path, rest) = segments(&code[at + anchor.len()..]);
            if let Some(group) = rest.strip_prefix('{') {
                for item in group.split('}').next().unwrap_or_default().split(',') {
                    let (inner, _) = segments(item.trim());
                    if !inner.is_empty() {
                        found.push((is_super, path.iter().cloned().chain(inner).collect()));
                    }
                }
            }
            if !path.is_empty() {
                found.push((is_super, path));
            }
        }
    }
    found
}

/// `pub use child::Item` in a module: who names `module::Item` uses `module::child`.
fn reexports(modules: &BTreeMap<String, PathBuf>) -> BTreeMap<(String, String), String> {
    let mut reexports = BTreeMap::new();
    for (module, file) in modules {
        let text = std::fs::read_to_string(file).unwrap();
        for line in text.lines().filter_map(|l| l.trim().strip_prefix("pub use ")) {
            let (path, rest) = segments(line);
            let Some(child) = path.first() else { continue };
            let full = if module.is_empty() { child.clone() } else { format!("{module}::{child}") };
            if !modules.contains_key(&full) {
                continue;
            }
            let items: Vec<String> = match rest.strip_prefix('{') {
                Some(group) => group.split('}').next().unwrap_or_default().split(',').map(|i| ident(i.trim())).collect(),
                None => path.last().into_iter().cloned().collect(),
            };
            for item in items.into_iter().filter(|i| !i.is_empty()) {
                reexports.insert((module.clone(), item), full.clone());
            }
        }
    }
    reexports
}

/// Module -> the modules it imports (a child module is part of its parent, not an edge).
fn edges(modules: &BTreeMap<String, PathBuf>) -> BTreeMap<String, BTreeSet<String>> {
    let reexports = reexports(modules);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file) in modules {
        let text = std::fs::read_to_string(file).unwrap();
        // Where `super::` points: the parent of this file's module (of mod.rs: its own parent).
        let parent: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        let parent = &parent[..parent.len().saturating_sub(1)];
        for (is_super, path) in paths_named(&text) {
            let mut full: Vec<String> = if is_super { parent.iter().map(|s| s.to_string()).collect() } else { Vec::new() };
            full.extend(path);
            // The longest prefix that is a module of this crate; an item it re-exports leads on to its file.
            let found = (1..=full.len()).rev().find(|n| modules.contains_key(&full[..*n].join("::")));
            let Some(n) = found else { continue };
            let mut target = full[..n].join("::");
            if let Some(child) = full.get(n).and_then(|item| reexports.get(&(target.clone(), item.clone()))) {
                target = child.clone();
            }
            let structural = target.starts_with(&format!("{module}::")) || module.is_empty();
            if target != *module && !structural {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    edges
}

/// Depth-first search for a back edge: the circle it closes.
fn visit(node: &str, edges: &BTreeMap<String, BTreeSet<String>>, state: &mut BTreeMap<String, u8>, stack: &mut Vec<String>) -> Option<Vec<String>> {
    state.insert(node.to_string(), 1);
    stack.push(node.to_string());
    for next in edges.get(node).into_iter().flatten() {
        match state.get(next.as_str()).copied().unwrap_or(0) {
            1 => {
                let start = stack.iter().position(|n| n == next).unwrap();
                let mut circle = stack[start..].to_vec();
                circle.push(next.clone());
                return Some(circle);
            }
            0 => {
                if let Some(circle) = visit(next, edges, state, stack) {
                    return Some(circle);
                }
            }
            _ => {}
        }
    }
    stack.pop();
    state.insert(node.to_string(), 2);
    None
}

#[test]
fn no_circle_of_imports_among_the_source_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let modules: BTreeMap<String, PathBuf> = all.iter().map(|f| (module_of(&src, f), f.clone())).collect();
    let edges = edges(&modules);
    let mut state = BTreeMap::new();
    for module in modules.keys() {
        if state.get(module.as_str()).copied().unwrap_or(0) == 0
            && let Some(circle) = visit(module, &edges, &mut state, &mut Vec::new())
        {
            panic!("a circle of imports: {}", circle.join(" -> "));
        }
    }
    assert!(edges.values().map(BTreeSet::len).sum::<usize>() > 20, "the graph was read: {edges:?}");
}
