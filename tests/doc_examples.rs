//! Every item of the documented API carries a runnable example (issue 27): each public function,
//! struct, enum, trait, constant and type alias that rustdoc shows, and each public method and
//! associated constant of the shown types, has a fenced Rust block in its doc comment, which
//! `cargo test --doc` compiles and runs.
//!
//! Read from the source: the items written at the top level of a module file (`pub fn`, `pub
//! struct`, ...) in every module that is not `#[doc(hidden)]`, the items that such a module
//! re-exports from a hidden one, and the `pub` members of the inherent `impl` blocks of the
//! shown types; not what is `#[doc(hidden)]` itself (the kernels' binding and uniform structs
//! are: the `kernel!` and `uniform!` macros hide what they declare) or compiled only for wasm32.
//! (Methods that a `macro_rules!` writes into several types, such as the layer builders' `seed`
//! and `stride`, are not read here: their examples are written with `#[doc = concat!(..)]`, one
//! per type, and run with the rest.)
//! A block fenced as `text`, `ignore`, `compile_fail`, `no_run` or `should_panic` does not count:
//! an example runs to its end. A form the scan cannot read (a glob or multi-line re-export, an
//! inline module) fails the test rather than pass unread.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The fences that rustdoc compiles and runs to the end.
fn runnable_fence(line: &str) -> bool {
    let Some(rest) = line.trim_start().strip_prefix("```") else { return false };
    rest.split(',').map(str::trim).filter(|a| !a.is_empty()).all(|a| matches!(a, "rust" | "edition2021"))
}

/// Lines of the doc comment and attributes right above line `at`, nearest first.
fn preamble(lines: &[&str], at: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = at;
    while i > 0 {
        i -= 1;
        let l = lines[i].trim_start();
        if l.starts_with("///") || l.starts_with("#[") || l.starts_with("//") && !l.starts_with("//!") {
            out.push(l.to_string());
        } else {
            break;
        }
    }
    out
}

/// Hidden from the documentation, or compiled only for the browser (where docs are not built).
fn hidden(pre: &[String]) -> bool {
    pre.iter().map(|l| l.replace(' ', "")).any(|l| l.starts_with("#[doc(hidden)]") || l.starts_with("#[cfg(target_arch=\"wasm32\")]"))
}

/// Whether a block that opens with a runnable fence is among the doc lines (`pre`, nearest first).
fn has_example(pre: &[String]) -> bool {
    let mut open = false;
    for l in pre.iter().rev().filter(|l| l.starts_with("///")) {
        let l = l.trim_start_matches('/').trim_start();
        if l.starts_with("```") {
            if !open && runnable_fence(l) {
                return true;
            }
            open = !open;
        }
    }
    false
}

const ITEM_KINDS: [&str; 12] = ["fn ", "async fn ", "const fn ", "unsafe fn ", "const unsafe fn ", "struct ", "enum ", "union ", "trait ", "const ", "static ", "type "];

/// The public items at the indentation `indent` of `src` (an item's keyword and name), with the
/// line each is on: the top level (""), or the members of an impl block ("    ").
fn items_at(src: &str, indent: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in src.lines().enumerate() {
        let Some(rest) = line.strip_prefix(indent).and_then(|l| l.strip_prefix("pub ")) else { continue };
        // The longest keyword that matches (`const fn` before `const`).
        if let Some(k) = ITEM_KINDS.iter().filter(|k| rest.starts_with(*k)).max_by_key(|k| k.len()) {
            let name: String = rest[k.len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.push((i, format!("{k}{name}")));
        }
    }
    out
}

fn items(src: &str) -> Vec<(usize, String)> {
    items_at(src, "")
}

fn name_of(item: &str) -> &str {
    item.rsplit(' ').next().unwrap_or_default()
}

/// The names that `pub use module::{a, b}` (or `pub use module::a;`) lines of `lines` re-export
/// from the module `module`, where the line is not hidden.
fn re_exported(lines: &[&str], module: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("pub use ").and_then(|r| r.strip_prefix(module)).and_then(|r| r.strip_prefix("::")) else { continue };
        if hidden(&preamble(lines, i)) {
            continue;
        }
        out.extend(use_names(rest));
    }
    out
}

/// The names of a `pub use` line's tail (`{a, b};` or `a;`); panics on a form the scan does not
/// read (a glob, a rename, a list over several lines, a path within the braces).
fn use_names(tail: &str) -> Vec<String> {
    let t = tail.trim();
    assert!(t.ends_with(';') && !t.contains('*') && !t.contains(" as ") && t.matches('{').count() == t.matches('}').count(), "a `pub use` the doc-example scan cannot read: `{t}`");
    let names: Vec<String> = t.trim_end_matches(';').trim_start_matches('{').trim_end_matches('}').split(',').map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect();
    assert!(names.iter().all(|n| n.chars().all(|c| c.is_alphanumeric() || c == '_')), "a `pub use` the doc-example scan cannot read: `{t}`");
    names
}

/// The file of module `name` declared in `file` (`name.rs` or `name/mod.rs` beside it).
fn child(file: &Path, name: &str) -> Option<PathBuf> {
    let dir = if file.file_name().is_some_and(|f| f == "lib.rs" || f == "mod.rs") { file.parent()?.to_path_buf() } else { file.with_extension("") };
    [dir.join(format!("{name}.rs")), dir.join(name).join("mod.rs")].into_iter().find(|p| p.exists())
}

/// The file of module path `crate::a::b` (as `["a", "b"]`).
fn module_file(parts: &[&str]) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(parts.join("/"));
    [root.with_extension("rs"), root.join("mod.rs")].into_iter().find(|p| p.exists())
}

/// Where `name`, re-exported from `file`, is defined: in `file`, or through its own `pub use`
/// of a child module or of a `crate::` path, followed.
fn definition(file: &Path, name: &str, depth: usize) -> Option<(PathBuf, usize, String)> {
    assert!(depth < 8, "{}: a chain of re-exports of {name} too long to follow", file.display());
    let src = std::fs::read_to_string(file).ok()?;
    if let Some((i, item)) = items(&src).into_iter().find(|(_, it)| name_of(it) == name) {
        return Some((file.to_path_buf(), i, item));
    }
    for line in src.lines() {
        let Some(path) = line.strip_prefix("pub use ") else { continue };
        let (module, tail) = match path.split_once("::{") {
            Some((m, t)) => (m, format!("{{{t}")),
            None => match path.rsplit_once("::") {
                Some((m, t)) => (m, t.to_string()),
                None => continue,
            },
        };
        if !use_names(&tail).iter().any(|n| n == name) {
            continue;
        }
        let next = match module.strip_prefix("crate::") {
            Some(m) => module_file(&m.split("::").collect::<Vec<_>>()),
            None => child(file, module),
        };
        if let Some(next) = next {
            return definition(&next, name, depth + 1);
        }
    }
    None
}

/// A module file to scan: its path, and for a private module the names its parent re-exports
/// (its other items are not documented).
struct Module {
    path: PathBuf,
    only: Option<Vec<String>>,
}

/// The modules shown in the documentation, from `file` down; re-exports of items defined in
/// hidden modules go to `foreign` as (definition file, line, item, re-exporting file).
fn modules(file: &Path, only: Option<Vec<String>>, out: &mut Vec<Module>, foreign: &mut Vec<(PathBuf, usize, String, PathBuf)>) {
    let src = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let lines: Vec<&str> = src.lines().collect();
    let mut hidden_children = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let (public, decl) = match (line.strip_prefix("pub mod "), line.strip_prefix("mod ")) {
            (Some(d), _) => (true, d),
            (None, Some(d)) => (false, d),
            _ => continue,
        };
        let Some(name) = decl.strip_suffix(';') else {
            assert!(decl.trim_end().ends_with('{') && decl.starts_with("tests"), "{}:{}: an inline module the doc-example scan does not read", file.display(), i + 1);
            continue;
        };
        if name == "tests" {
            continue;
        }
        if hidden(&preamble(&lines, i)) {
            hidden_children.push(name.to_string());
            continue;
        }
        let path = child(file, name).unwrap_or_else(|| panic!("{}: module {name} has no file", file.display()));
        let names = re_exported(&lines, name);
        modules(&path, if public { None } else { Some(names) }, out, foreign);
    }
    // Items of hidden modules that this one re-exports are shown here, with the docs of their
    // definition (`pub use crate::ops::Workspace;`, `pub use bindings::{Arg, AsArg};`).
    for (i, line) in lines.iter().enumerate() {
        let Some(path) = line.strip_prefix("pub use ") else { continue };
        if hidden(&preamble(&lines, i)) {
            continue;
        }
        let (module, tail) = match path.split_once("::{") {
            Some((m, t)) => (m.to_string(), format!("{{{t}")),
            None => match path.rsplit_once("::") {
                Some((m, t)) => (m.to_string(), t.to_string()),
                None => continue,
            },
        };
        let first = module.trim_start_matches("crate::").split("::").next().unwrap_or_default().to_string();
        let into_hidden = if module.starts_with("crate::") { ["ops", "fuzz"].contains(&first.as_str()) } else { hidden_children.contains(&first) };
        if !into_hidden {
            continue;
        }
        for name in use_names(&tail) {
            let (def, j, item) = definition(file, &name, 0).unwrap_or_else(|| panic!("{}:{}: the definition of re-exported {name} was not found", file.display(), i + 1));
            foreign.push((def, j, item, file.to_path_buf()));
        }
    }
    out.push(Module { path: file.to_path_buf(), only });
}

/// The names of the types that the `kernel!` and `uniform!` macros of `src` declare (hidden).
fn macro_types(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in src.lines() {
        if line.starts_with("crate::kernel! {") || line.starts_with("crate::uniform! {") {
            inside = true;
        } else if line.starts_with('}') {
            inside = false;
        } else if inside {
            let l = line.trim_start();
            if let Some(rest) = l.strip_prefix("pub struct ").or_else(|| l.strip_prefix("pub ")) {
                out.push(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
            }
        }
    }
    out
}

/// The type an inherent `impl` line is for (`impl<'a> Foo<'a> {` → Foo); None for a trait impl.
fn impl_type(line: &str) -> Option<String> {
    let mut rest = line.strip_prefix("impl")?;
    if line.contains(" for ") || !(rest.starts_with(' ') || rest.starts_with('<')) {
        return None;
    }
    if rest.starts_with('<') {
        // Past the impl's generic parameters.
        let mut depth = 0;
        let end = rest.char_indices().find(|&(_, c)| {
            depth += (c == '<') as i32 - (c == '>') as i32;
            depth == 0
        })?;
        rest = &rest[end.0 + 1..];
    }
    Some(rest.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect())
}

/// Every shown item and member without a runnable example, and how many were checked.
fn scan() -> (Vec<String>, usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs");
    let (mut mods, mut foreign) = (Vec::new(), Vec::new());
    modules(&root, None, &mut mods, &mut foreign);
    let (mut missing, mut seen) = (Vec::new(), 0);
    let mut shown_types = BTreeSet::new();
    let mut check = |path: &Path, lines: &[&str], i: usize, item: &str, what: String, missing: &mut Vec<String>| {
        seen += 1;
        if !has_example(&preamble(lines, i)) {
            missing.push(format!("{}:{}: {item}{what}", path.display(), i + 1));
        }
    };
    for m in &mods {
        let src = std::fs::read_to_string(&m.path).unwrap();
        let lines: Vec<&str> = src.lines().collect();
        for (i, item) in items(&src) {
            if hidden(&preamble(&lines, i)) || m.only.as_ref().is_some_and(|o| !o.iter().any(|n| n == name_of(&item))) {
                continue;
            }
            if ["struct ", "enum ", "union ", "trait "].iter().any(|k| item.starts_with(k)) {
                shown_types.insert(name_of(&item).to_string());
            }
            check(&m.path, &lines, i, &item, String::new(), &mut missing);
        }
    }
    for (def, j, item, by) in &foreign {
        let src = std::fs::read_to_string(def).unwrap();
        let lines: Vec<&str> = src.lines().collect();
        if hidden(&preamble(&lines, *j)) {
            continue;
        }
        if ["struct ", "enum ", "union ", "trait "].iter().any(|k| item.starts_with(k)) {
            shown_types.insert(name_of(item).to_string());
        }
        check(def, &lines, *j, item, format!(" (re-exported by {})", by.display()), &mut missing);
    }
    // Members of the shown types' inherent impls, wherever the impl is written.
    let files: BTreeSet<PathBuf> = mods.iter().map(|m| m.path.clone()).chain(foreign.iter().map(|f| f.0.clone())).collect();
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = src.lines().collect();
        let hidden_types = macro_types(&src);
        let members = items_at(&src, "    ");
        let mut i = 0;
        while i < lines.len() {
            let Some(ty) = impl_type(lines[i]) else {
                i += 1;
                continue;
            };
            let end = (i + 1..lines.len()).find(|&e| lines[e].starts_with('}')).unwrap_or(lines.len());
            let shown = shown_types.contains(&ty) && !hidden_types.contains(&ty) && !hidden(&preamble(&lines, i));
            if shown {
                for (j, item) in members.iter().filter(|(j, _)| *j > i && *j < end) {
                    if !hidden(&preamble(&lines, *j)) {
                        check(path, &lines, *j, item, format!(" (a member of {ty})"), &mut missing);
                    }
                }
            }
            i = end + 1;
        }
    }
    (missing, seen)
}

#[test]
fn every_documented_item_has_a_runnable_example() {
    let (missing, seen) = scan();
    assert!(seen > 300, "only {seen} public items found: the scan of src/ is broken");
    assert!(missing.is_empty(), "{} of {seen} documented items have no runnable example in their doc comment:\n{}", missing.len(), missing.join("\n"));
}

#[test]
fn the_scan_tells_an_example_from_prose() {
    let with = ["/// Adds.", "///", "/// ```", "/// assert_eq!(1 + 1, 2);", "/// ```", "pub fn add() {}"];
    let without = ["/// Adds.", "/// ```text", "/// 1 + 1", "/// ```", "pub fn add() {}"];
    let hide = ["#[doc(hidden)]", "pub fn add() {}"];
    assert!(has_example(&preamble(&with, 5)));
    assert!(!has_example(&preamble(&without, 4)));
    assert!(hidden(&preamble(&hide, 1)));
    assert_eq!(items(&with.join("\n")), vec![(5, "fn add".to_string())]);
    assert_eq!(items("pub const fn f() {}\npub const N: u32 = 1;\npub unsafe fn g() {}"), vec![(0, "const fn f".to_string()), (1, "const N".to_string()), (2, "unsafe fn g".to_string())]);
    assert_eq!(items_at("impl A {\n    pub fn f(&self) {}\n    fn g() {}\n}", "    "), vec![(1, "fn f".to_string())]);
    assert_eq!(re_exported(&["pub use m::{a, b};", "#[doc(hidden)]", "pub use m::c;", "pub use n::d;"], "m"), ["a", "b"]);
    assert!(std::panic::catch_unwind(|| use_names("*;")).is_err(), "a glob re-export must stop the scan");
    assert!(!runnable_fence("```no_run") && !runnable_fence("```ignore") && !runnable_fence("```should_panic") && runnable_fence("```rust"));
    assert_eq!(impl_type("impl<'a> Foo<'a> {").as_deref(), Some("Foo"));
    assert_eq!(impl_type("impl Bar {").as_deref(), Some("Bar"));
    assert_eq!(impl_type("impl std::fmt::Display for Bar {"), None);
    assert_eq!(macro_types("crate::uniform! {\n    pub struct P { pub n: u32 }\n}\ncrate::kernel! {\n    pub K = \"f\" :: \"e\", P { 1 x: Read }\n}"), ["P", "K"]);
}
