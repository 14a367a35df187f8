//! The runtime's modules form layers: no module reaches, directly or
//! through others, back to itself. Read from the sources: every
//! `crate::module` a module names is an edge. Also prints who uses whom.

use std::collections::BTreeMap;
use std::path::Path;

/// Module name -> the modules it names with `crate::`.
fn graph() -> BTreeMap<String, Vec<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("src/") {
        let path = entry.expect("an entry").path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else { continue };
        if name == "lib" || path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a module's source");
        // Comments (docs' links among them) are no dependency.
        let code: String =
            text.lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
        modules.insert(name, (uses(&code, "crate::"), code));
    }
    // A file included as a module of another (`#[path = "x.rs"] mod ...`)
    // reaches that one with `super::`; elsewhere `super::` is the file's
    // own inline modules reaching the file.
    let parents: Vec<(String, String)> = modules
        .iter()
        .flat_map(|(parent, (_, code))| {
            code.match_indices("#[path = \"").map(move |(at, found)| {
                let rest = &code[at + found.len()..];
                (rest[..rest.find(".rs\"").expect("a path to a .rs file")].to_owned(), parent.clone())
            })
        })
        .collect();
    let mut modules: BTreeMap<String, Vec<String>> = modules
        .into_iter()
        .map(|(name, (mut used, code))| {
            if let Some((_, parent)) = parents.iter().find(|(child, _)| *child == name) {
                used.extend(uses(&code, "super::").into_iter().map(|_| parent.clone()));
            }
            (name, used)
        })
        .collect();
    let names: Vec<String> = modules.keys().cloned().collect();
    for (name, used) in &mut modules {
        used.retain(|u| u != name && names.contains(u));
        used.sort();
        used.dedup();
    }
    modules
}

/// The first path segment after each `prefix` (`crate::`) in `text`,
/// `crate::{a, b::c}` included. (A string holding `//` would cut its line
/// short: the sources have none that matters here.)
fn uses(text: &str, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    for (at, _) in text.match_indices(prefix) {
        let rest = &text[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if c.is_whitespace() => {}
                    _ if start => {
                        found.push(ident(&group[i..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.push(ident(rest));
        }
    }
    found
}

#[test]
#[cfg_attr(miri, ignore = "reads the sources")]
fn modules_form_layers_without_cycles() {
    let graph = graph();
    assert!(graph.len() > 10 && graph.contains_key("registry"), "found the modules: {graph:?}");
    for (name, used) in &graph {
        println!("{name:>10} uses {}", if used.is_empty() { "nothing".to_owned() } else { used.join(", ") });
    }
    // Depth-first search for a path back to where it started.
    fn visit<'a>(
        graph: &'a BTreeMap<String, Vec<String>>,
        name: &'a str,
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) -> Result<(), String> {
        if let Some(at) = path.iter().position(|p| *p == name) {
            return Err(format!("import cycle: {} -> {name}", path[at..].join(" -> ")));
        }
        if done.contains(&name) {
            return Ok(());
        }
        path.push(name);
        for next in &graph[name] {
            visit(graph, next, path, done)?;
        }
        path.pop();
        done.push(name);
        Ok(())
    }
    let mut done = Vec::new();
    for name in graph.keys() {
        if let Err(cycle) = visit(&graph, name, &mut Vec::new(), &mut done) {
            panic!("{cycle}");
        }
    }
}

#[test]
fn the_reader_finds_grouped_and_plain_uses() {
    let text = "use crate::a::X;\nuse crate::{b, c::{D, E}, d::F};\nlet x = crate::e::f();";
    assert_eq!(uses(text, "crate::"), ["a", "b", "c", "d", "e"]);
}
