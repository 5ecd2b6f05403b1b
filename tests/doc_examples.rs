//! Every item of the documented API carries a runnable example (issue 27): each public function,
//! struct, enum, trait, constant and type alias that rustdoc shows has a fenced Rust block in
//! its doc comment, which `cargo test --doc` compiles and runs.
//!
//! Read from the source: the items written at the top level of a module file (`pub fn`, `pub
//! struct`, ...), in every module that is not `#[doc(hidden)]`, unless the item is itself
//! `#[doc(hidden)]` (the kernels' binding and uniform structs are: the `kernel!` and `uniform!`
//! macros hide what they declare). A block fenced as `text`, `ignore` or `compile_fail` does not
//! count; `no_run` does not either: an example is run.

use std::path::{Path, PathBuf};

/// The modules hidden from the documentation whose items another module may re-export.
const HIDDEN_MODULES: [&str; 2] = ["ops", "fuzz"];

/// The fences that rustdoc compiles and runs.
fn runnable_fence(line: &str) -> bool {
    let Some(rest) = line.trim_start().strip_prefix("```") else { return false };
    let attrs: Vec<&str> = rest.split(',').map(str::trim).filter(|a| !a.is_empty()).collect();
    attrs.iter().all(|a| matches!(*a, "rust" | "should_panic" | "edition2021"))
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

/// The names that `pub use module::{a, b}` (or `pub use module::a;`) lines of `lines` re-export
/// from the private module `module`, where the line is not hidden.
fn re_exported(lines: &[&str], module: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("pub use ").and_then(|r| r.strip_prefix(module)).and_then(|r| r.strip_prefix("::")) else { continue };
        if hidden(&preamble(lines, i)) {
            continue;
        }
        let names = rest.trim_end_matches(';').trim_start_matches('{').trim_end_matches('}');
        out.extend(names.split(',').map(|n| n.trim().to_string()).filter(|n| !n.is_empty()));
    }
    out
}

/// The public items at the top level of `src` (an item's keyword and name), with the line it is on.
fn items(src: &str) -> Vec<(usize, String)> {
    let kinds = ["pub fn ", "pub async fn ", "pub const fn ", "pub struct ", "pub enum ", "pub trait ", "pub const ", "pub static ", "pub type "];
    let mut out = Vec::new();
    for (i, line) in src.lines().enumerate() {
        for k in kinds {
            if let Some(rest) = line.strip_prefix(k) {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                out.push((i, format!("{}{name}", k.trim_start_matches("pub "))));
            }
        }
    }
    out
}

/// The file of module `name` declared in `file` (`name.rs` or `name/mod.rs` beside it).
fn child(file: &Path, name: &str) -> Option<PathBuf> {
    let dir = if file.file_name().is_some_and(|f| f == "lib.rs" || f == "mod.rs") { file.parent()?.to_path_buf() } else { file.with_extension("") };
    [dir.join(format!("{name}.rs")), dir.join(name).join("mod.rs")].into_iter().find(|p| p.exists())
}

/// Walks the module tree from `file`, collecting (file, line, item) for items without an example;
/// `only`: the names a private module's parent re-exports (its other items are not documented).
fn walk(file: &Path, only: Option<&[String]>, missing: &mut Vec<String>, seen: &mut usize) {
    let src = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let lines: Vec<&str> = src.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let (public, decl) = match (line.strip_prefix("pub mod "), line.strip_prefix("mod ")) {
            (Some(d), _) => (true, d),
            (None, Some(d)) => (false, d),
            _ => continue,
        };
        let Some(name) = decl.strip_suffix(';') else { continue };
        if hidden(&preamble(&lines, i)) || name == "tests" {
            continue;
        }
        let path = child(file, name).unwrap_or_else(|| panic!("{}: module {name} has no file", file.display()));
        let names = re_exported(&lines, name);
        walk(&path, if public { None } else { Some(&names) }, missing, seen);
    }
    // Items of hidden modules that this one re-exports (`pub use crate::ops::split::Workspace;`)
    // are shown here, with the docs of their definition.
    for (i, line) in lines.iter().enumerate() {
        let Some(path) = line.strip_prefix("pub use crate::").and_then(|p| p.strip_suffix(';')) else { continue };
        if hidden(&preamble(&lines, i)) {
            continue;
        }
        let (module, names) = match path.split_once("::{") {
            Some((m, n)) => (m.to_string(), n.trim_end_matches('}').split(',').map(|n| n.trim().to_string()).collect::<Vec<_>>()),
            None => match path.rsplit_once("::") {
                Some((m, n)) => (m.to_string(), vec![n.to_string()]),
                None => continue,
            },
        };
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let parts: Vec<&str> = module.split("::").collect();
        let Some(def) = [root.join(parts.join("/")).with_extension("rs"), root.join(parts.join("/")).join("mod.rs")].into_iter().find(|p| p.exists()) else { continue };
        if !parts.iter().any(|p| HIDDEN_MODULES.contains(p)) {
            continue;
        }
        let def_src = std::fs::read_to_string(&def).unwrap_or_default();
        let def_lines: Vec<&str> = def_src.lines().collect();
        for (j, item) in items(&def_src) {
            if names.iter().any(|n| item.ends_with(&format!(" {n}"))) {
                *seen += 1;
                if !has_example(&preamble(&def_lines, j)) {
                    missing.push(format!("{}:{}: {item} (re-exported by {})", def.display(), j + 1, file.display()));
                }
            }
        }
    }
    for (i, item) in items(&src) {
        let pre = preamble(&lines, i);
        let name = item.rsplit(' ').next().unwrap_or_default();
        if hidden(&pre) || only.is_some_and(|o| !o.iter().any(|n| n == name)) {
            continue;
        }
        *seen += 1;
        if !has_example(&pre) {
            missing.push(format!("{}:{}: {item}", file.display(), i + 1));
        }
    }
}

#[test]
fn every_documented_item_has_a_runnable_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs");
    let (mut missing, mut seen) = (Vec::new(), 0);
    walk(&root, None, &mut missing, &mut seen);
    assert!(seen > 50, "only {seen} public items found: the scan of src/ is broken");
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
    assert_eq!(re_exported(&["pub use m::{a, b};", "#[doc(hidden)]", "pub use m::c;", "pub use n::d;"], "m"), ["a", "b"]);
    assert!(!runnable_fence("```no_run") && !runnable_fence("```ignore") && runnable_fence("```rust"));
}
