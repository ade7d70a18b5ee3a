//! No import cycle between the crate's modules (STYLE §1, docs/architecture.md).
//!
//! Reads `src/` as text, takes every `crate::…` and `super::…` path outside comments and
//! test code (a `tests.rs` file, or what follows a `#[cfg(test)]` line) and draws an arrow
//! between the two sibling modules it joins: `service::dispatch` naming
//! `crate::plc::Memory` is an arrow `service → plc` between top-level modules; `super::ctx`
//! in `service/dispatch.rs` is `dispatch → ctx` inside `service`. A module naming its own
//! parent's items (`super::Foo` in a child) is no arrow between siblings. Any cycle among
//! siblings fails the test and is printed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path below the crate root: `["service", "dispatch"]`.
type ModPath = Vec<String>;

/// Arrows between sibling modules: (from, to), both full paths with the same parent.
type Graph = BTreeMap<ModPath, BTreeSet<ModPath>>;

/// Every `.rs` file below `dir` with the module path it defines (`a/mod.rs` and `a.rs`
/// both define `a`; `lib.rs` and `bin/` are the root and left out).
fn modules(src: &Path) -> Vec<(ModPath, PathBuf)> {
    fn walk(dir: &Path, prefix: &[String], out: &mut Vec<(ModPath, PathBuf)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                if prefix.is_empty() && name == "bin" {
                    continue;
                }
                let mut sub = prefix.to_vec();
                sub.push(name);
                walk(&p, &sub, out);
            } else if let Some(stem) = name.strip_suffix(".rs") {
                let mut path = prefix.to_vec();
                match stem {
                    "lib" | "main" if prefix.is_empty() => continue,
                    "mod" => {}
                    s => path.push(s.to_string()),
                }
                out.push((path, p));
            }
        }
    }
    let mut out = Vec::new();
    walk(src, &[], &mut out);
    out
}

/// The code of a file without comments and without its test code.
fn code(text: &str, file: &Path) -> String {
    if file.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let line = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths a `use` tree or an inline path starting at `s` names, expanded
/// (`a::{b, c::D}` gives `a::b` and `a::c::D`), each as its segments.
fn expand(s: &str) -> (Vec<Vec<String>>, usize) {
    let mut segs = Vec::new();
    let mut i = 0;
    let b = s.as_bytes();
    loop {
        while i < b.len() && (b[i] as char).is_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'{' {
            // A group: expand each comma-separated item after the prefix.
            let mut out = Vec::new();
            i += 1;
            loop {
                let (items, used) = expand(&s[i..]);
                i += used;
                for item in items {
                    let mut p = segs.clone();
                    p.extend(item);
                    out.push(p);
                }
                while i < b.len() && (b[i] as char).is_whitespace() {
                    i += 1;
                }
                match b.get(i) {
                    Some(b',') => i += 1,
                    Some(b'}') => return (out, i + 1),
                    _ => return (out, i),
                }
            }
        }
        let start = i;
        while i < b.len() && is_ident(b[i] as char) {
            i += 1;
        }
        if i == start {
            return (vec![segs], i);
        }
        segs.push(s[start..i].to_string());
        if s[i..].starts_with("::") {
            i += 2;
        } else {
            return (vec![segs], i);
        }
    }
}

/// Every path from `crate::` or `super::` in `code`, resolved to full segments from the
/// crate root (`super` relative to `here`, the module of the file).
fn references(code: &str, here: &ModPath) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    // In `a/b.rs` and in `a/b/mod.rs` (both module a::b) `super` is `a`.
    let parent = here[..here.len().saturating_sub(1)].to_vec();
    for (anchor, base) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut from = 0;
        while let Some(pos) = code[from..].find(anchor) {
            let at = from + pos;
            from = at + anchor.len();
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| is_ident(c) || c == ':') {
                continue;
            }
            for p in expand(&code[from..]).0 {
                let mut full = base.clone();
                for seg in p {
                    match seg.as_str() {
                        "super" => {
                            full.pop();
                        }
                        "self" => {}
                        _ => full.push(seg),
                    }
                }
                out.push(full);
            }
        }
    }
    out
}

/// The arrows between sibling modules of the crate whose source is `src`.
fn graph(src: &Path) -> Graph {
    let mods = modules(src);
    let known: BTreeSet<ModPath> = mods.iter().map(|(m, _)| m.clone()).collect();
    let mut g = Graph::new();
    for (here, file) in &mods {
        let text = std::fs::read_to_string(file).unwrap();
        for path in references(&code(&text, file), here) {
            // The longest prefix of the path that is a module.
            let Some(target) = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| known.contains(p))
            else {
                continue;
            };
            // Where the two paths part: the arrow joins the siblings just below.
            let common = here.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common >= here.len() || common >= target.len() {
                continue; // one contains the other: a parent and its child
            }
            g.entry(here[..=common].to_vec())
                .or_default()
                .insert(target[..=common].to_vec());
        }
    }
    g
}

/// One cycle of `g`, if it has any, as the modules along it.
fn find_cycle(g: &Graph) -> Option<Vec<ModPath>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        v: &ModPath,
        g: &Graph,
        marks: &mut BTreeMap<ModPath, Mark>,
        stack: &mut Vec<ModPath>,
    ) -> Option<Vec<ModPath>> {
        marks.insert(v.clone(), Mark::Open);
        stack.push(v.clone());
        for w in g.get(v).into_iter().flatten() {
            match marks.get(w) {
                Some(Mark::Open) => {
                    let i = stack.iter().position(|s| s == w).unwrap_or(0);
                    let mut cycle = stack[i..].to_vec();
                    cycle.push(w.clone());
                    return Some(cycle);
                }
                Some(Mark::Done) => {}
                None => {
                    if let Some(c) = visit(w, g, marks, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        marks.insert(v.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for v in g.keys() {
        if !marks.contains_key(v) {
            if let Some(c) = visit(v, g, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

fn show(cycle: &[ModPath]) -> String {
    cycle
        .iter()
        .map(|m| m.join("::"))
        .collect::<Vec<_>>()
        .join(" → ")
}

#[test]
fn no_module_of_the_crate_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&src);
    // The map is real: the arrows docs/architecture.md draws are found.
    let m = |s: &str| s.split("::").map(String::from).collect::<ModPath>();
    for (from, to) in [
        ("session", "service"),
        ("service", "plc"),
        ("plc", "wire"),
        ("config", "persist"),
    ] {
        assert!(
            g.get(&m(from)).is_some_and(|t| t.contains(&m(to))),
            "expected the arrow {from} → {to}; the graph is {g:?}"
        );
    }
    if let Some(cycle) = find_cycle(&g) {
        panic!("import cycle: {}", show(&cycle));
    }
}

/// The check can fail: a small crate with a cycle at the top and one among siblings.
#[test]
fn a_cycle_between_modules_is_found_and_named() {
    let dir = std::env::temp_dir().join(format!("s7rt-module-graph-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let write = |p: &str, text: &str| {
        let p = dir.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("lib.rs", "mod a;\nmod b;\nmod c;\n");
    write("a.rs", "use crate::b::Thing;\n");
    write("b/mod.rs", "mod x;\nmod y;\npub use x::Thing;\n");
    write(
        "b/x.rs",
        "use super::y::Other;\n// crate::c::Commented is no arrow\n",
    );
    write("b/y.rs", "use crate::{c::Z, b::{x::Thing}};\n");
    write(
        "c.rs",
        "fn f() { crate::a::g(); }\n#[cfg(test)]\nmod tests { use crate::b::Thing; }\n",
    );

    let g = graph(&dir);
    let top = find_cycle(&g).map(|c| show(&c));
    assert_eq!(top.as_deref(), Some("a → b → c → a"), "{g:?}");

    // Without the top-level cycle, the one inside `b` (x → y → x) is found.
    write("c.rs", "fn f() {}\n");
    let g = graph(&dir);
    assert_eq!(
        find_cycle(&g).map(|c| show(&c)).as_deref(),
        Some("b::x → b::y → b::x"),
        "{g:?}"
    );

    // Comments and test code draw no arrow: with y's arrow gone there is no cycle.
    write("b/y.rs", "use crate::c::Z;\n");
    assert_eq!(find_cycle(&graph(&dir)), None);
    let _ = std::fs::remove_dir_all(&dir);
}
