//! Embeds the repository's `kb/` rules into the library, so the `coroner` binary
//! carries them wherever it is installed.

use std::path::Path;

fn main() {
    let kb = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kb");
    println!("cargo:rerun-if-changed={}", kb.display());
    let mut files: Vec<_> = std::fs::read_dir(&kb)
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out = String::from("&[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().unwrap().to_string_lossy();
        let full = path.canonicalize().unwrap();
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            full.display().to_string()
        ));
    }
    out.push_str("]\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("builtin_kb.rs");
    std::fs::write(dest, out).unwrap();
}
