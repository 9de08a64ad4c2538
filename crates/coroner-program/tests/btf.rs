//! The kernel's BTF, read from each dump, agrees with the kernel's own `offsetof`
//! and `sizeof` as VMCOREINFO publishes them (every OFFSET and SIZE entry).

use coroner_program::Program;
use coroner_testdata::{all_variants, CRASHES};

#[test]
fn btf_offsets_and_sizes_equal_vmcoreinfo() {
    for crash in CRASHES {
        let program = Program::open(&all_variants(crash)[0], None).unwrap();
        let btf = program.types().unwrap();
        let info = program.kernel().vmcoreinfo();
        let (mut offsets, mut sizes, mut missed) = (0, 0, Vec::new());
        for (key, value) in info.entries() {
            let value: u64 = match value.parse() {
                Ok(v) => v,
                Err(_) => continue,
            };
            if let Some(inner) = key
                .strip_prefix("OFFSET(")
                .and_then(|k| k.strip_suffix(')'))
            {
                let (ty, member) = inner.split_once('.').unwrap();
                if let Some(off) = btf.offset_of(ty, member) {
                    assert_eq!(off, value, "{crash}: {key}");
                    offsets += 1;
                } else {
                    missed.push(key.to_string());
                }
            } else if let Some(ty) = key.strip_prefix("SIZE(").and_then(|k| k.strip_suffix(')')) {
                if let Some(id) = btf.find(ty) {
                    assert_eq!(btf.size_of(id), Some(value), "{crash}: {key}");
                    sizes += 1;
                }
            }
        }
        assert!(
            offsets >= 45 && sizes >= 15,
            "{crash}: {offsets} offsets, {sizes} sizes"
        );
        assert!(missed.is_empty(), "{crash}: not in BTF: {missed:?}");
    }
}
