//! The core's modules point one way: reading every `src/**/*.rs` (not the CLI in
//! src/bin, not the generated protobuf/flatbuffer code), no module imports, directly or
//! through others, a module that imports it back; the bottom types (`error`, `dtype`,
//! `tensor`) import nothing above them; only `src/wasm/` names the JavaScript binding
//! crates.
//!
//! A module is a file (`src/quant/linear/grammar.rs` is `quant::linear::grammar`). A
//! module depends on another when it names a path into it (`use crate::x::y`,
//! `super::y::f()`, a child's `y::f()`); a parent's `mod child;` and `pub use child::..`
//! re-exports are the tree, not a dependency. Written by hand (a small tokenizer, no
//! parser crate): what it reads is `use` trees and `::` paths, which is all it needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module file: its path as a module (`["quant", "linear"]`) and its code with
/// comments, strings and `#[cfg(test)]` modules removed.
struct Module {
    file: PathBuf,
    code: String,
}

fn module_files(dir: &Path, root: &Path, out: &mut Vec<(Vec<String>, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let rel = p.strip_prefix(root).unwrap();
        let rel_s = rel.to_string_lossy().replace('\\', "/");
        if rel_s == "bin" || rel_s == "formats/generated" || rel_s.starts_with("formats/generated/")
        {
            continue;
        }
        if p.is_dir() {
            module_files(&p, root, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let mut segs: Vec<String> = rel_s
                .trim_end_matches(".rs")
                .split('/')
                .map(str::to_string)
                .collect();
            if segs.last().is_some_and(|s| s == "mod" || s == "lib") {
                segs.pop();
            }
            out.push((segs, p));
        }
    }
}

/// The code without comments, with string and char literals emptied.
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !b
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // Raw string r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|h| b.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < b.len() && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    remove_test_modules(&out)
}

/// Drops `#[cfg(test)] mod name { ... }` blocks: unit tests may reach anywhere.
fn remove_test_modules(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        if trimmed.starts_with("mod ") {
            if let Some(open) = trimmed.find('{') {
                let body = &trimmed[open..];
                let mut depth = 0;
                let mut end = body.len();
                for (k, ch) in body.char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                rest = &body[end..];
                continue;
            }
        }
        out.push_str("#[cfg(test)]");
        rest = after;
    }
    out.push_str(rest);
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The paths of a `use` tree (`a::{b, c::{d as e, self}}`), each as segments, with
/// `*`, `self` and renames dropped.
fn use_paths(tree: &str) -> Vec<Vec<String>> {
    fn walk(s: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let s = s.trim();
        if let Some(open) = s.find('{') {
            let head: Vec<String> = s[..open]
                .split("::")
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
            let mut base = prefix.to_vec();
            base.extend(head);
            let inner = &s[open + 1..s.rfind('}').unwrap_or(s.len())];
            let mut depth = 0;
            let mut start = 0;
            for (k, ch) in inner.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        walk(&inner[start..k], &base, out);
                        start = k + 1;
                    }
                    _ => {}
                }
            }
            walk(&inner[start..], &base, out);
            out.push(base);
        } else {
            let s = s.split(" as ").next().unwrap_or("").trim();
            let mut p = prefix.to_vec();
            p.extend(
                s.split("::")
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty() && t != "*" && t != "self"),
            );
            out.push(p);
        }
    }
    let mut out = Vec::new();
    walk(tree, &[], &mut out);
    out
}

/// Every path the code names: from `use` items (with whether the item is `pub`), and
/// `a::b::c` paths in expressions and types.
fn paths(code: &str) -> Vec<(bool, bool, Vec<String>)> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = code.char_indices().collect();
    let mut k = 0;
    let mut use_spans: Vec<(usize, usize)> = Vec::new();
    while k < chars.len() {
        let (pos, c) = chars[k];
        let prev_ok = k == 0 || !is_ident(chars[k - 1].1);
        if prev_ok && c == 'u' && code[pos..].starts_with("use ") {
            let end = code[pos..].find(';').map_or(code.len(), |e| pos + e);
            let line_start = code[..pos].rfind('\n').map_or(0, |n| n + 1);
            let public = code[line_start..pos].trim_start().starts_with("pub");
            for p in use_paths(&code[pos + 4..end]) {
                out.push((true, public, p));
            }
            use_spans.push((pos, end));
            while k < chars.len() && chars[k].0 < end {
                k += 1;
            }
            continue;
        }
        k += 1;
    }
    // Paths outside `use`: identifier chains joined by `::`.
    let in_use = |p: usize| use_spans.iter().any(|&(a, b)| p >= a && p < b);
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if is_ident(c) && (i == 0 || !is_ident(bytes[i - 1] as char)) && !in_use(i) {
            let mut j = i;
            let mut segs = Vec::new();
            loop {
                let s = j;
                while j < bytes.len() && is_ident(bytes[j] as char) {
                    j += 1;
                }
                segs.push(code[s..j].to_string());
                if code[j..].starts_with("::") && code[j + 2..].starts_with(|ch: char| is_ident(ch))
                {
                    j += 2;
                } else {
                    break;
                }
            }
            if segs.len() > 1 {
                out.push((false, false, segs));
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

struct Graph {
    /// (from, to) -> the first path that made the edge.
    edges: BTreeMap<(String, String), String>,
    modules: BTreeMap<Vec<String>, Module>,
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

fn graph() -> Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    module_files(&root, &root, &mut files);
    let modules: BTreeMap<Vec<String>, Module> = files
        .into_iter()
        .map(|(segs, file)| {
            let code = strip(&std::fs::read_to_string(&file).unwrap());
            (segs, Module { file, code })
        })
        .collect();
    let mut known: BTreeSet<Vec<String>> = modules.keys().cloned().collect();
    // Generated code is a leaf: named, never read.
    known.insert(vec!["formats".into(), "generated".into()]);
    let mut edges = BTreeMap::new();
    for (m, module) in &modules {
        let children: BTreeSet<&str> = known
            .iter()
            .filter(|k| k.len() == m.len() + 1 && k.starts_with(m))
            .map(|k| k[m.len()].as_str())
            .collect();
        for (is_use, public, path) in paths(&module.code) {
            // Where the path starts.
            let mut at: Vec<String>;
            let mut rest = &path[..];
            match rest[0].as_str() {
                "crate" => {
                    at = Vec::new();
                    rest = &rest[1..];
                }
                "super" | "self" => {
                    at = m.clone();
                    while let Some(first) = rest.first() {
                        match first.as_str() {
                            "super" => {
                                at.pop();
                            }
                            "self" => {}
                            _ => break,
                        }
                        rest = &rest[1..];
                    }
                }
                first if children.contains(first) => at = m.clone(),
                _ => continue,
            }
            for seg in rest {
                let mut next = at.clone();
                next.push(seg.clone());
                if known.contains(&next) {
                    at = next;
                } else {
                    break;
                }
            }
            if &at == m {
                continue;
            }
            // A parent re-exporting (or declaring) its own descendants is the tree.
            if is_use && public && at.starts_with(m) {
                continue;
            }
            edges
                .entry((name(m), name(&at)))
                .or_insert_with(|| path.join("::"));
        }
    }
    Graph { edges, modules }
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(edges: &BTreeMap<(String, String), String>) -> Vec<Vec<String>> {
    let mut adj: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        adj.entry(a).or_default().push(b);
        adj.entry(b).or_default();
    }
    struct T<'a> {
        adj: BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        n: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        t.index.insert(v, t.n);
        t.low.insert(v, t.n);
        t.n += 1;
        t.stack.push(v);
        t.on.insert(v);
        for w in t.adj[v].clone() {
            if !t.index.contains_key(w) {
                visit(t, w);
                let l = t.low[v].min(t.low[w]);
                t.low.insert(v, l);
            } else if t.on.contains(w) {
                let l = t.low[v].min(t.index[w]);
                t.low.insert(v, l);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let nodes: Vec<&str> = adj.keys().copied().collect();
    let mut t = T {
        adj,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        n: 0,
        out: Vec::new(),
    };
    for v in nodes {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_two_modules_import_each_other() {
    let g = graph();
    let found = cycles(&g.edges);
    let mut report = String::new();
    for comp in &found {
        report += &format!("\ncycle among {}:\n", comp.join(", "));
        for ((a, b), via) in &g.edges {
            if comp.contains(a) && comp.contains(b) {
                report += &format!("  {a} -> {b} (`{via}`)\n");
            }
        }
    }
    assert!(found.is_empty(), "modules that import each other:{report}");
}

#[test]
fn the_bottom_types_import_nothing_above_them() {
    let g = graph();
    for (bottom, allowed) in [
        ("error", &[][..]),
        ("dtype", &["error"][..]),
        ("tensor", &["error", "dtype"][..]),
    ] {
        for (a, b) in g.edges.keys() {
            if a == bottom {
                assert!(
                    allowed.contains(&b.as_str()),
                    "{bottom} imports {b} (`{}`): the bottom types import only {allowed:?}",
                    g.edges[&(a.clone(), b.clone())]
                );
            }
        }
    }
}

#[test]
fn only_the_binding_names_the_javascript_crates() {
    let g = graph();
    for (m, module) in &g.modules {
        if m.first().is_some_and(|s| s == "wasm") {
            continue;
        }
        for krate in ["wasm_bindgen", "js_sys", "web_sys", "serde_wasm_bindgen"] {
            assert!(
                !module.code.contains(&format!("{krate}::")),
                "{} names {krate}: only src/wasm/ may",
                module.file.display()
            );
        }
    }
}

/// The checker itself sees a cycle it is shown, so a pass above means something.
#[test]
fn the_checker_finds_a_planted_cycle() {
    let code = strip("use crate::a::{b, c::{self, D}};\n// use crate::z;\nfn f() { super::q::g(); let s = \"crate::y::x\"; }\n#[cfg(test)]\nmod tests { use crate::w; }\n");
    let got: Vec<Vec<String>> = paths(&code).into_iter().map(|(_, _, p)| p).collect();
    let want = |p: &[&str]| got.contains(&p.iter().map(|s| s.to_string()).collect());
    assert!(
        want(&["crate", "a", "b"]) && want(&["crate", "a", "c"]) && want(&["crate", "a", "c", "D"])
    );
    assert!(want(&["super", "q", "g"]));
    assert!(
        !got.iter().any(|p| p.contains(&"z".to_string())
            || p.contains(&"y".to_string())
            || p.contains(&"w".to_string())),
        "{got:?}"
    );
    let mut edges = BTreeMap::new();
    edges.insert(("a".to_string(), "b".to_string()), String::new());
    edges.insert(("b".to_string(), "c".to_string()), String::new());
    edges.insert(("c".to_string(), "a".to_string()), String::new());
    edges.insert(("c".to_string(), "d".to_string()), String::new());
    assert_eq!(
        cycles(&edges),
        vec![vec!["a".to_string(), "b".into(), "c".into()]]
    );
}
