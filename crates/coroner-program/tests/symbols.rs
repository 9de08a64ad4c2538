//! kallsyms decoded from each fixture dump agrees with the kernel package's own
//! System.map, shifted by the dump's KASLR offset.

use coroner_program::{Program, SymbolSource};
use coroner_testdata::{all_variants, system_map, CRASHES};
use std::collections::HashMap;

#[test]
fn kallsyms_from_the_dump_matches_system_map() {
    let map = system_map();
    let text = std::fs::read_to_string(&map).unwrap();
    for crash in CRASHES {
        let path = &all_variants(crash)[0];
        let program = Program::open(path, None).unwrap();
        assert_eq!(program.symbol_source(), &SymbolSource::Kallsyms);
        assert!(program.warnings().is_empty(), "{:?}", program.warnings());
        let slide = program.kernel().vmcoreinfo().kernel_offset().unwrap();
        let mut by_name: HashMap<&str, Vec<u64>> = HashMap::new();
        for s in program.symbols().iter() {
            by_name.entry(&s.name).or_default().push(s.address);
        }
        let (mut checked, mut missing) = (0, Vec::new());
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [addr, kind, name] = f[..] else { continue };
            // kallsyms keeps text and data symbols, not absolute or per-CPU ones.
            if !"TtDdBbRr".contains(kind) || name.starts_with("__key") {
                continue;
            }
            let linked = u64::from_str_radix(addr, 16).unwrap();
            // Per-CPU symbols are offsets (near 0), which KASLR does not move.
            let expected = if linked < 1 << 32 {
                linked
            } else {
                linked + slide
            };
            match by_name.get(name) {
                Some(addresses) => {
                    assert!(
                        addresses.contains(&expected),
                        "{crash}: {name} at {addresses:x?}"
                    );
                    checked += 1;
                }
                None => missing.push(name.to_string()),
            }
        }
        assert!(checked > 50_000, "{crash}: only {checked} symbols compared");
        assert!(
            missing.len() < checked / 100,
            "{crash}: {} missing, e.g. {:?}",
            missing.len(),
            &missing[..5.min(missing.len())]
        );
        let (sym, off) = program
            .symbolize(program.address_of("panic").unwrap() + 5)
            .unwrap();
        assert_eq!((sym.name.as_str(), off), ("panic", 5));
    }
}

#[test]
fn system_map_given_by_the_user_is_used_with_the_kaslr_slide() {
    let path = &all_variants("mod-null")[0];
    let from_dump = Program::open(path, None).unwrap();
    let from_map = Program::open(path, Some(&system_map())).unwrap();
    assert!(matches!(
        from_map.symbol_source(),
        SymbolSource::SystemMap(_)
    ));
    for name in ["panic", "init_task", "linux_banner", "prb", "schedule"] {
        assert_eq!(
            from_map.address_of(name),
            from_dump.address_of(name),
            "{name}"
        );
    }
}
