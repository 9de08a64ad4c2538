//! Fuzz seeds that tests generate: the committed files must be what the generator
//! makes today, so a change to a format's writer cannot leave stale seeds behind.

use std::path::Path;

/// Asserts that every generated seed is committed in `dir` as generated; with
/// `UPDATE_SEEDS` set in the environment, writes them first.
pub fn assert_current(dir: &Path, generated: Vec<(&str, Vec<u8>)>) {
    let update = std::env::var_os("UPDATE_SEEDS").is_some();
    for (name, bytes) in generated {
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == bytes,
            "{} is stale: rerun with UPDATE_SEEDS=1",
            path.display()
        );
    }
}
