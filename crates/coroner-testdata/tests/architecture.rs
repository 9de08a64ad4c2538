//! The layering in ARCHITECTURE.md, checked against every crate's manifest: a
//! crate depends only on the crates its row allows, every crate has a row, the
//! rows form no cycle, and external crates kept to some layers (an async runtime,
//! SQL, a line editor) appear nowhere else. As rust-analyzer checks its own rules
//! under `cargo test`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// crate → the workspace crates it may depend on.
type Allowed = BTreeMap<String, BTreeSet<String>>;
/// external crate → the workspace crates that may use it.
type Confined = BTreeMap<String, BTreeSet<String>>;

/// A crate's name and its normal and build dependencies.
struct Manifest {
    name: String,
    dependencies: Vec<String>,
}

/// The rows of the Markdown table between `<!-- layering:NAME -->` markers.
fn table(doc: &str, name: &str) -> Vec<(String, String)> {
    let start = format!("<!-- layering:{name} -->");
    let end = format!("<!-- /layering:{name} -->");
    let body = doc
        .split_once(&start)
        .and_then(|(_, rest)| rest.split_once(&end))
        .map(|(body, _)| body)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no {start} table"));
    body.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
            match cells.as_slice() {
                [left, right] if !left.contains("---") => {
                    Some((left.trim().to_string(), right.trim().to_string()))
                }
                _ => None,
            }
        })
        .skip(1) // the header row
        .collect()
}

fn names(list: &str) -> BTreeSet<String> {
    list.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

fn rules(doc: &str) -> (Allowed, Confined) {
    let allowed = table(doc, "crates")
        .into_iter()
        .map(|(krate, deps)| {
            let krate = krate.trim_end_matches("(planned)").trim().to_string();
            (krate, names(&deps))
        })
        .collect();
    let mut confined = Confined::new();
    for (externals, only_in) in table(doc, "external") {
        for external in names(&externals) {
            confined.insert(external, names(&only_in));
        }
    }
    (allowed, confined)
}

fn manifest(text: &str) -> Manifest {
    let toml: toml::Table = text.parse().expect("a manifest is TOML");
    let name = toml["package"]["name"]
        .as_str()
        .expect("package.name")
        .to_string();
    let dependencies = ["dependencies", "build-dependencies"]
        .iter()
        .filter_map(|section| toml.get(*section).and_then(|t| t.as_table()))
        .flat_map(|t| t.keys().cloned())
        .collect();
    Manifest { name, dependencies }
}

/// Every rule a set of manifests breaks, in words.
fn violations(manifests: &[Manifest], allowed: &Allowed, confined: &Confined) -> Vec<String> {
    let mut out = Vec::new();
    for m in manifests {
        let Some(may) = allowed.get(&m.name) else {
            out.push(format!(
                "{} has no row in ARCHITECTURE.md's layering table",
                m.name
            ));
            continue;
        };
        for dep in &m.dependencies {
            if dep.starts_with("coroner-") && !may.contains(dep) {
                out.push(format!(
                    "{} depends on {dep}, which its row does not allow",
                    m.name
                ));
            }
            if let Some(only_in) = confined.get(dep) {
                if !only_in.contains(&m.name) {
                    out.push(format!(
                        "{} depends on {dep}, which only {} may use",
                        m.name,
                        only_in.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
    }
    if let Some(cycle) = cycle(allowed) {
        out.push(format!(
            "the allowed arrows form a cycle: {}",
            cycle.join(" -> ")
        ));
    }
    out
}

/// A cycle among the allowed arrows, if any (depth-first search).
fn cycle(allowed: &Allowed) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        allowed: &Allowed,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if !done.insert(node.to_string()) {
            return None;
        }
        path.push(node.to_string());
        for next in allowed.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, allowed, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    allowed
        .keys()
        .find_map(|k| visit(k, allowed, &mut Vec::new(), &mut done))
}

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

#[test]
fn every_crate_keeps_to_the_layering() {
    let doc = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).unwrap();
    let (allowed, confined) = rules(&doc);
    assert!(allowed.len() >= 12 && confined.contains_key("tokio"));
    let mut manifests = Vec::new();
    for entry in std::fs::read_dir(workspace().join("crates")).unwrap() {
        let path = entry.unwrap().path().join("Cargo.toml");
        if path.exists() {
            manifests.push(manifest(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    assert!(manifests.iter().any(|m| m.name == "coroner-report"));
    let broken = violations(&manifests, &allowed, &confined);
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

const DOC: &str = "
<!-- layering:crates -->
| crate | may depend on |
|---|---|
| coroner-cli | coroner-report |
| coroner-report | coroner-kernel |
| coroner-kernel | |
<!-- /layering:crates -->
<!-- layering:external -->
| external crate | only in |
|---|---|
| tokio, sqlx | coroner-cli |
<!-- /layering:external -->
";

fn check(manifests: &[&str]) -> Vec<String> {
    let (allowed, confined) = rules(DOC);
    let manifests: Vec<Manifest> = manifests.iter().map(|m| manifest(m)).collect();
    violations(&manifests, &allowed, &confined)
}

#[test]
fn a_forbidden_dependency_fails_the_check() {
    let report =
        "[package]\nname = \"coroner-report\"\n[dependencies]\ncoroner-kernel = { path = \"x\" }\n";
    assert_eq!(check(&[report]), Vec::<String>::new());

    let upward =
        "[package]\nname = \"coroner-kernel\"\n[dependencies]\ncoroner-report = { path = \"x\" }\n";
    assert_eq!(
        check(&[upward]),
        ["coroner-kernel depends on coroner-report, which its row does not allow"]
    );

    let runtime = "[package]\nname = \"coroner-report\"\n[dependencies]\ntokio = \"1\"\n";
    assert_eq!(
        check(&[runtime]),
        ["coroner-report depends on tokio, which only coroner-cli may use"]
    );

    let build = "[package]\nname = \"coroner-kernel\"\n[build-dependencies]\nsqlx = \"0.8\"\n";
    assert_eq!(check(&[build]).len(), 1);

    let dev_only = "[package]\nname = \"coroner-kernel\"\n[dev-dependencies]\ncoroner-report = { path = \"x\" }\n";
    assert!(check(&[dev_only]).is_empty());

    let unplaced = "[package]\nname = \"coroner-new\"\n";
    assert_eq!(
        check(&[unplaced]),
        ["coroner-new has no row in ARCHITECTURE.md's layering table"]
    );
}

#[test]
fn a_cycle_in_the_table_fails_the_check() {
    let doc = DOC.replace("| coroner-kernel | |", "| coroner-kernel | coroner-cli |");
    let (allowed, _) = rules(&doc);
    let found = cycle(&allowed).expect("a cycle");
    assert_eq!(found.first(), found.last());
}
