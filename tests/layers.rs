//! The crate's layers stack (docs/ARCHITECTURE.md): `src/gpu` names nothing above it, and no
//! module of `src/` is in an import cycle. Read from the sources, no GPU needed: every
//! `crate::a::b` and `super::a` path (comments left out) is an edge from the module that writes it
//! to the longest module it names; a parent's `mod` lines and its children's names used through
//! `self` paths are structure, not imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of `src/` (`gpu::kernel`, `nn`, …; the crate root is "") and its source without
/// comments.
fn modules() -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let rel = path.strip_prefix(root).unwrap().with_extension("");
                let mut name = rel.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "::");
                if let Some(parent) = name.strip_suffix("::mod") {
                    name = parent.to_string();
                }
                if name == "lib" {
                    name.clear();
                }
                let src = std::fs::read_to_string(&path).unwrap();
                let code: String = src.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
                out.insert(name, code);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

/// The paths after each occurrence of `prefix` (`crate::`, `super::`), as their `::` segments,
/// including those inside a `use prefix{a, b::c}` group.
fn paths(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    for (i, _) in code.match_indices(prefix) {
        if code[..i].chars().next_back().is_some_and(ident) {
            continue;
        }
        let rest = &code[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(0)];
            for item in inner.split(',') {
                let item = item.trim().split(' ').next().unwrap_or("");
                out.push(item.split("::").map(str::to_string).collect());
            }
            continue;
        }
        let end = rest.find(|c: char| !(ident(c) || c == ':')).unwrap_or(rest.len());
        out.push(rest[..end].split("::").filter(|s| !s.is_empty()).map(str::to_string).collect());
    }
    out
}

/// Module → the modules it names.
fn edges(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let join = |base: &str, seg: &[String]| if base.is_empty() { seg.join("::") } else { format!("{base}::{}", seg.join("::")) };
    let resolve = |base: &str, segs: &[String]| -> Option<String> { (1..=segs.len()).rev().map(|k| join(base, &segs[..k])).find(|m| mods.contains_key(m)) };
    let mut out = BTreeMap::new();
    for (m, code) in mods {
        let parent = m.rsplit_once("::").map_or("", |p| p.0);
        let mut to = BTreeSet::new();
        for segs in paths(code, "crate::") {
            to.extend(resolve("", &segs));
        }
        for segs in paths(code, "super::") {
            to.extend(resolve(parent, &segs).or_else(|| Some(parent.to_string())));
        }
        to.remove(m);
        to.remove("");
        out.insert(m.clone(), to);
    }
    out
}

#[test]
fn the_runtime_names_nothing_above_it() {
    let mods = modules();
    let e = edges(&mods);
    let above = ["nn", "gan", "loss", "optim", "metrics", "models", "rng", "data", "cli", "checkpoint", "interop", "plot", "fuzz", "layers"];
    let mut bad = Vec::new();
    for (m, to) in e.iter().filter(|(m, _)| *m == "gpu" || m.starts_with("gpu::")) {
        for t in to {
            if above.iter().any(|a| t == a || t.starts_with(&format!("{a}::"))) {
                bad.push(format!("{m} -> {t}"));
            }
        }
    }
    println!("gpu modules: {}; edges out of gpu: {:?}", e.keys().filter(|m| m.starts_with("gpu")).count(), e.iter().filter(|(m, _)| m.starts_with("gpu")).flat_map(|(_, t)| t.iter().cloned()).collect::<BTreeSet<_>>());
    assert!(bad.is_empty(), "src/gpu must not name the layers above it: {bad:?}");
}

#[test]
fn no_module_is_in_an_import_cycle() {
    let mods = modules();
    let e = edges(&mods);
    // Tarjan's strongly connected components.
    struct T<'a> {
        e: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        cycles: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for w in &t.e[v] {
            let w = w.as_str();
            if !t.e.contains_key(w) {
                continue;
            }
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                t.low.insert(v, t.low[v].min(lw));
            } else if t.on.contains(w) {
                let iw = t.index[w];
                t.low.insert(v, t.low[v].min(iw));
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
                t.cycles.push(comp);
            }
        }
    }
    let mut t = T { e: &e, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), on: BTreeSet::new(), cycles: Vec::new() };
    for m in e.keys() {
        if !t.index.contains_key(m.as_str()) {
            visit(&mut t, m);
        }
    }
    let n_edges: usize = e.values().map(|v| v.len()).sum();
    println!("{} modules, {n_edges} import edges, {} cycles", e.len(), t.cycles.len());
    assert!(e.len() > 40 && n_edges > 100, "the scan found too little: {} modules, {n_edges} edges", e.len());
    assert!(t.cycles.is_empty(), "modules in import cycles: {:?}", t.cycles);
}
