//! Every container variant of the same real crash must give the same physical memory.

use coroner_dump::{Dump, PageState, PhysMemory, ReadError};
use coroner_testdata::{derived, qemu_elf, shipped_dumps, Derived};

/// Compares every page `variant` holds with the unfiltered QEMU ELF of the same crash.
fn compare_with_reference(reference: &Dump, variant: &Dump) -> u64 {
    let ps = variant.page_size();
    let (mut a, mut b) = (vec![0u8; ps as usize], vec![0u8; ps as usize]);
    let mut compared = 0;
    for (start, end) in variant.stored_ranges() {
        for pfn in start / ps..end / ps {
            let state = variant.page_state(pfn);
            if !matches!(state, PageState::Present | PageState::Zero) {
                continue;
            }
            variant
                .read_phys(pfn * ps, &mut a)
                .unwrap_or_else(|e| panic!("{}: pfn {pfn:#x}: {e}", variant.path().display()));
            reference
                .read_phys(pfn * ps, &mut b)
                .expect("reference holds every page");
            assert!(
                a == b,
                "{}: pfn {pfn:#x} differs from the QEMU ELF",
                variant.path().display()
            );
            if state == PageState::Zero {
                assert!(a.iter().all(|&x| x == 0), "zero page {pfn:#x} is not zero");
            }
            compared += 1;
        }
    }
    compared
}

#[test]
fn every_variant_of_the_sysrq_crash_has_identical_memory() {
    let reference = Dump::open(qemu_elf("sysrq").expect("sysrq ships its QEMU ELF")).unwrap();
    let mut variants = shipped_dumps("sysrq");
    for v in [Derived::Elf, Derived::NoCompress, Derived::Reassembled] {
        variants.push(derived("sysrq", v).expect("derivable from the QEMU ELF"));
    }
    assert!(
        variants.len() >= 7,
        "expected lzo, snappy, zstd, flat and derived variants"
    );
    for path in &variants {
        let dump = Dump::open(path).unwrap();
        let compared = compare_with_reference(&reference, &dump);
        // -d 31 keeps about 20k of 131k pages on this 512 MiB guest.
        assert!(
            compared > 15_000,
            "{}: only {compared} pages compared",
            path.display()
        );
        println!(
            "{}: {compared} pages identical to the QEMU ELF",
            path.display()
        );
    }
}

#[test]
fn excluded_pages_are_reported_not_read_as_zeros() {
    let dump = Dump::open(&shipped_dumps("sysrq")[0]).unwrap();
    let ps = dump.page_size();
    let excluded = (0..dump.info().max_pfn)
        .find(|&pfn| dump.page_state(pfn) == PageState::Excluded)
        .expect("a -d 31 dump excludes pages");
    let mut buf = [0u8; 8];
    assert_eq!(
        dump.read_phys(excluded * ps + 16, &mut buf),
        Err(ReadError::Excluded {
            paddr: excluded * ps
        })
    );
    let beyond = dump.info().max_pfn * ps;
    assert_eq!(
        dump.read_phys(beyond, &mut buf),
        Err(ReadError::NotInDump { paddr: beyond })
    );
}

#[test]
fn a_truncated_dump_opens_with_missing_pages_and_a_warning() {
    for path in shipped_dumps("sysrq")
        .into_iter()
        .chain(shipped_dumps("mod-null"))
    {
        let full = std::fs::read(&path).unwrap();
        let complete = Dump::open(&path).unwrap().census();
        let cut = full.len() * 6 / 10;
        let dump = Dump::from_bytes(&path, full[..cut].to_vec()).unwrap();
        let census = dump.census();
        assert!(
            census.counts.missing > 0,
            "{}: nothing missing after truncation",
            path.display()
        );
        assert!(!census.missing_ranges.is_empty());
        assert_eq!(
            census.counts.total(),
            complete.counts.total(),
            "{}",
            path.display()
        );
        // Pages before the cut still read; a missing one says so.
        let ps = dump.page_size();
        let (start, _) = census.missing_ranges[0];
        let mut page = vec![0u8; ps as usize];
        assert_eq!(
            dump.read_phys(start, &mut page),
            Err(ReadError::Missing { paddr: start })
        );
        let present = (0..start / ps)
            .rev()
            .find(|&p| dump.page_state(p) == PageState::Present)
            .unwrap();
        dump.read_phys(present * ps, &mut page).unwrap();
    }
}
