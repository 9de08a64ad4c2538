//! The signature: a short stable hash that groups the same crash across machines,
//! boots and kernel builds. It is made only of what does not change between two
//! occurrences: the class, the guilty function and the few frames below it (names
//! without offsets or compiler suffixes, syscall wrappers unified), and modules.

use crate::class::Class;
use crate::stack::strip_syscall_prefix;
use crate::trace::Frame;
use sha2::{Digest, Sha256};

/// Frames below the guilty one that join it in the hash: deeper frames are the
/// same bug reached another way.
const FRAMES_BELOW: usize = 4;

/// The tag that starts every signature's input: a store of signatures records it,
/// and changing what goes into the hash means a new tag.
pub const VERSION: &str = "coroner-signature-v1";

/// 16 hex digits of SHA-256 over the normalised identity. `title` is used when
/// the report names no function (machine checks, unknown NMIs).
pub fn compute(
    class: Class,
    title: &str,
    guilty: Option<&str>,
    module: Option<&str>,
    frames: &[Frame],
) -> String {
    let mut identity = format!("{VERSION}\n{}\n", class.name());
    match guilty {
        Some(guilty) => {
            identity.push_str(&entry(guilty, module));
            let below = frames
                .iter()
                .position(|f| f.function == guilty)
                .map_or(&frames[..0], |at| &frames[at + 1..]);
            for frame in below.iter().filter(|f| !f.inlined).take(FRAMES_BELOW) {
                identity.push_str(&entry(&frame.function, frame.module.as_deref()));
            }
        }
        None => identity.push_str(title),
    }
    let digest = Sha256::digest(identity.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn entry(function: &str, module: Option<&str>) -> String {
    format!(
        "{} [{}]\n",
        bare_syscall(function),
        module.unwrap_or("vmlinux")
    )
}

/// `__x64_sys_write`, `SyS_write`, `ksys_write` → `write`.
fn bare_syscall(function: &str) -> &str {
    let mut name = function;
    loop {
        let shorter = strip_syscall_prefix(name);
        if shorter == name || shorter.is_empty() {
            return name;
        }
        name = shorter;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(name: &str) -> Frame {
        Frame {
            function: name.into(),
            module: None,
            section: "task",
            inlined: false,
        }
    }

    #[test]
    fn depends_on_class_guilty_and_frames_below() {
        let frames = [frame("top"), frame("foo"), frame("bar")];
        let a = compute(Class::Bug, "t", Some("foo"), None, &frames);
        assert_eq!(a.len(), 16);
        assert_eq!(
            a,
            compute(Class::Bug, "other title", Some("foo"), None, &frames)
        );
        assert_ne!(a, compute(Class::Warning, "t", Some("foo"), None, &frames));
        assert_ne!(
            a,
            compute(Class::Bug, "t", Some("foo"), Some("kvm"), &frames)
        );
        assert_ne!(a, compute(Class::Bug, "t", Some("foo"), None, &frames[..2]));
        let unified = [frame("foo"), frame("__x64_sys_write")];
        let old = [frame("foo"), frame("SyS_write")];
        assert_eq!(
            compute(Class::Bug, "t", Some("foo"), None, &unified),
            compute(Class::Bug, "t", Some("foo"), None, &old)
        );
    }
}
