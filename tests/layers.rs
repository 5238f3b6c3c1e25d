//! The layout's rules (ARCHITECTURE.md, "Lines that must not be crossed"), checked on the source:
//! which layer may name which, and no import circles between the API's files.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The file's code without its unit tests (a test module may use what the layer itself may not).
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).expect("read source");
    match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every file under `layer` (a folder or a single file of src/) that names one of `forbidden`.
fn offenders(layer: &str, forbidden: &[&str]) -> Vec<String> {
    let root = src().join(layer);
    let files = if root.is_dir() {
        sources(&root)
    } else {
        vec![root.with_extension("rs")]
    };
    let mut found = vec![];
    for file in files {
        let text = code(&file);
        for name in forbidden {
            if text.contains(name) {
                found.push(format!("{} names {name}", file.strip_prefix(src()).unwrap().display()));
            }
        }
    }
    found
}

#[test]
fn the_api_reaches_the_database_only_through_use_cases() {
    let found = offenders(
        "api",
        &["crate::store", "crate::engine", "crate::actions", "sqlx", ".begin()"],
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn use_cases_and_storage_do_not_name_the_layers_above_them() {
    let mut found = offenders("service", &["crate::api"]);
    found.extend(offenders("actions", &["crate::service", "crate::api"]));
    found.extend(offenders(
        "store",
        &["crate::service", "crate::api", "crate::engine", "crate::actions"],
    ));
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn permissions_the_engine_and_the_domain_are_pure() {
    let impure = [
        "sqlx",
        "axum",
        "crate::store",
        "crate::service",
        "crate::api",
        "crate::actions",
    ];
    let mut found = offenders("authz", &impure);
    found.extend(offenders("engine", &impure));
    found.extend(offenders("domain", &impure));
    assert!(found.is_empty(), "{found:#?}");
}

/// The API's files by the sibling files they name (`super::x`, `crate::api::x`).
fn api_imports() -> BTreeMap<String, BTreeSet<String>> {
    let api = src().join("api");
    let files = sources(&api);
    let name_of = |p: &Path| {
        let rel = p.strip_prefix(&api).unwrap().with_extension("");
        rel.to_string_lossy()
            .replace("/mod", "")
            .split('/')
            .next()
            .unwrap()
            .to_string()
    };
    let names: BTreeSet<String> = files.iter().map(|p| name_of(p)).filter(|n| n != "mod").collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = name_of(file);
        if from == "mod" {
            continue;
        }
        let text = code(file);
        for to in &names {
            let named = [format!("super::{to}::"), format!("crate::api::{to}::")]
                .iter()
                .any(|pattern| text.contains(pattern.as_str()));
            if to != &from && named {
                graph.entry(from.clone()).or_default().insert(to.clone());
            }
        }
    }
    graph
}

#[test]
fn no_two_api_files_import_each_other_even_through_others() {
    let graph = api_imports();
    fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str, seen: &mut BTreeSet<String>) -> bool {
        graph
            .get(from)
            .into_iter()
            .flatten()
            .any(|next| next == to || (seen.insert(next.clone()) && reaches(graph, next, to, seen)))
    }
    let circles: Vec<&String> = graph
        .keys()
        .filter(|f| reaches(&graph, f, f, &mut BTreeSet::new()))
        .collect();
    assert!(
        circles.is_empty(),
        "API files in an import circle: {circles:?}\n{graph:#?}"
    );
}
