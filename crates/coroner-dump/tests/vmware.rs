//! VMware checkpoints made from the sysrq crash's QEMU ELF (coroner-testdata's
//! generator) must read as that ELF does: the same memory page for page, the same
//! registers per vCPU, the same VMCOREINFO (here found by scanning memory, since
//! VMware has no note for it).

use coroner_dump::{Dump, Format, Note, PageState, PhysMemory, ReadError};
use coroner_testdata::vmware::{self, filler_page, Variant, FILLER_PAGES};
use coroner_testdata::{qemu_elf, seeds};
use std::path::Path;

fn reference() -> Dump {
    Dump::open(qemu_elf("sysrq").expect("sysrq ships its QEMU ELF")).unwrap()
}

fn open(variant: Variant) -> Dump {
    let path = vmware::generate("sysrq", variant).expect("sysrq has a QEMU ELF");
    Dump::open(&path).unwrap_or_else(|e| panic!("{variant:?}: {e}"))
}

/// Every page the VMware file stores equals the ELF's, except filler pages above
/// the ELF's RAM, which hold their own page number. Returns pages compared.
fn same_memory(reference: &Dump, dump: &Dump) -> u64 {
    let ps = dump.page_size();
    let (mut a, mut b) = (vec![0u8; ps as usize], vec![0u8; ps as usize]);
    let mut compared = 0;
    for (start, end) in dump.stored_ranges() {
        for pfn in start / ps..end / ps {
            assert_eq!(dump.page_state(pfn), PageState::Present, "pfn {pfn:#x}");
            dump.read_phys(pfn * ps, &mut a).unwrap();
            if reference.read_phys(pfn * ps, &mut b).is_ok() {
                assert!(a == b, "{}: pfn {pfn:#x} differs", dump.path().display());
            } else {
                assert_eq!(a, filler_page(pfn), "pfn {pfn:#x} is not its filler page");
            }
            compared += 1;
        }
    }
    compared
}

fn notes(dump: &Dump, name: &str) -> Vec<Note> {
    dump.notes()
        .iter()
        .filter(|n| n.name == name)
        .cloned()
        .collect()
}

/// The VMware file's PRSTATUS registers (`pr_reg`, all 27 words) and the QEMU
/// notes' control registers and IDT equal the ELF's.
fn same_registers(reference: &Dump, dump: &Dump) {
    let (ours, theirs) = (notes(dump, "CORE"), notes(reference, "CORE"));
    assert_eq!(ours.len(), theirs.len(), "one PRSTATUS per vCPU");
    for (cpu, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(a.kind, b.kind);
        // orig_rax (word 15) is not saved by VMware.
        let words = |d: &[u8]| -> Vec<u64> {
            d[112..112 + 27 * 8]
                .chunks_exact(8)
                .map(|w| u64::from_le_bytes(w.try_into().unwrap()))
                .enumerate()
                .filter(|&(i, _)| i != 15)
                .map(|(_, w)| w)
                .collect()
        };
        assert_eq!(words(&a.desc), words(&b.desc), "vCPU {cpu} pr_reg");
    }
    let (ours, theirs) = (notes(dump, "QEMU"), notes(reference, "QEMU"));
    assert_eq!(ours.len(), theirs.len());
    for (cpu, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(a.desc.len(), b.desc.len());
        // rax..rflags, then the IDT's base, then CR0-CR4.
        assert_eq!(a.desc[8..152], b.desc[8..152], "vCPU {cpu} registers");
        let idt = 152 + 24 * 9;
        assert_eq!(
            a.desc[idt + 16..idt + 24],
            b.desc[idt + 16..idt + 24],
            "vCPU {cpu} IDT"
        );
        assert_eq!(a.desc[392..432], b.desc[392..432], "vCPU {cpu} CR0-CR4");
    }
}

/// VMCOREINFO found in memory: the text the ELF's note holds.
fn same_vmcoreinfo(reference: &Dump, dump: &Dump) {
    let trim = |t: &[u8]| {
        let end = t.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        t[..end].to_vec()
    };
    assert_eq!(dump.info().vmcoreinfo_source, Some("memory scan"));
    assert_eq!(
        trim(dump.vmcoreinfo().unwrap()),
        trim(reference.vmcoreinfo().unwrap())
    );
}

#[test]
fn a_vmss_with_its_vmem_reads_as_the_qemu_elf() {
    let reference = reference();
    let dump = open(Variant::Vmss);
    assert_eq!(dump.info().format, Format::VmwareVmss);
    assert_eq!(dump.info().format.name(), "vmware-vmss");
    assert_eq!(dump.info().header_cpus, Some(2));
    assert_eq!(dump.ram_ranges(), [(0, 512 << 20)]);
    assert!(same_memory(&reference, &dump) == (512 << 20) / 4096);
    same_registers(&reference, &dump);
    same_vmcoreinfo(&reference, &dump);
}

#[test]
fn three_regions_with_a_hole_below_4_gib_map_guest_pages_to_file_pages() {
    let reference = reference();
    let dump = open(Variant::VmsnHoles);
    assert_eq!(dump.info().format, Format::VmwareVmsn);
    let four_g = 1u64 << 32;
    assert_eq!(
        dump.ram_ranges(),
        [
            (0, 0xa0000),
            (0x100000, 512 << 20),
            (four_g, four_g + FILLER_PAGES * 4096)
        ]
    );
    let compared = same_memory(&reference, &dump);
    assert_eq!(compared, (512 << 20) / 4096 - 0x60 + FILLER_PAGES);
    let mut page = [0u8; 16];
    for hole in [0xa0000, 512 << 20, four_g - 4096] {
        assert_eq!(
            dump.read_phys(hole, &mut page),
            Err(ReadError::NotInDump { paddr: hole })
        );
    }
    same_registers(&reference, &dump);
    same_vmcoreinfo(&reference, &dump);
}

#[test]
fn a_vmsn_with_inline_memory_reads_as_the_qemu_elf() {
    let reference = reference();
    let dump = open(Variant::VmsnInline);
    assert_eq!(dump.info().format.name(), "vmware-vmsn");
    assert_eq!(same_memory(&reference, &dump), (512 << 20) / 4096 - 0x60);
    same_registers(&reference, &dump);
    same_vmcoreinfo(&reference, &dump);
}

#[test]
fn a_vmem_alone_is_flat_memory_without_cpu_state() {
    let reference = reference();
    let dump = open(Variant::VmemAlone);
    assert_eq!(dump.info().format.name(), "vmware-vmem");
    assert!(dump.notes().is_empty());
    let warnings = dump.info().warnings.join("\n");
    assert!(warnings.contains("no CPU state"), "{warnings}");
    assert_eq!(same_memory(&reference, &dump), (512 << 20) / 4096);
    same_vmcoreinfo(&reference, &dump);
}

#[test]
fn a_vmem_beside_its_checkpoint_takes_the_regions_and_registers() {
    let reference = reference();
    let vmsn = vmware::generate("sysrq", Variant::VmsnHoles).unwrap();
    let dump = Dump::open(vmsn.with_extension("vmem")).unwrap();
    assert_eq!(dump.info().format, Format::VmwareVmem);
    assert_eq!(dump.ram_ranges().len(), 3);
    same_registers(&reference, &dump);
}

#[test]
fn fuzz_seeds_are_current() {
    let inline = std::fs::read(vmware::generate("sysrq", Variant::VmsnInline).unwrap()).unwrap();
    let holes = std::fs::read(vmware::generate("sysrq", Variant::VmsnHoles).unwrap()).unwrap();
    let vmss = std::fs::read(vmware::generate("sysrq", Variant::Vmss).unwrap()).unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/dump_vmware");
    seeds::assert_current(
        &dir,
        vec![
            // The container and the first 1 MiB of inline memory (the rest missing).
            ("vmsn-inline-1M", inline[..1 << 20].to_vec()),
            // Containers whose memory is in a .vmem (absent when fuzzing).
            ("vmsn-blocks-3-regions", holes),
            ("vmss-scalars", vmss),
        ],
    );
}

#[test]
fn a_checkpoint_without_regions_reads_its_memory_flat() {
    use coroner_testdata::vmware::{scalar, Checkpoint, Group, MAGIC};
    let memory: Vec<u8> = (0..8u64).flat_map(filler_page).collect();
    let file = Checkpoint {
        magic: MAGIC,
        groups: vec![Group {
            name: "memory",
            // Workstation writes regionsCount = 0 for small guests.
            tags: scalar("regionsCount", &[], &0u32.to_le_bytes()),
            inline_memory: Some(memory.len() as u64),
        }],
    }
    .to_bytes(&memory);
    let dump = Dump::from_bytes("flat.vmss", file).unwrap();
    assert_eq!(dump.ram_ranges(), [(0, 8 * 4096)]);
    let mut page = vec![0u8; 4096];
    dump.read_phys(5 * 4096, &mut page).unwrap();
    assert_eq!(page, filler_page(5));
    let warnings = dump.info().warnings.join("\n");
    assert!(warnings.contains("lists no memory regions"), "{warnings}");
    assert!(warnings.contains("no \"cpu\" group"), "{warnings}");
}

/// A real guest of 5 GiB, which QEMU lays out as VMware does (3 GiB below the PCI
/// hole, the rest from 4 GiB): its `.vmss` has two regions and a real hole, and its
/// `.vmem` alone must land on the same addresses by the default layout. Boots the
/// factory's kernel (set up by `.ci/fixtures-setup`); the 10 GiB of files are
/// removed afterwards.
#[test]
fn a_guest_above_4_gib_reads_through_two_regions_and_alone() {
    use coroner_testdata::qemu::{factory_or_skip, fresh_elf};
    let test = "a_guest_above_4_gib_reads_through_two_regions_and_alone";
    let Some(factory) = factory_or_skip(test) else {
        return;
    };
    let elf_path = fresh_elf(&factory, "vmware-5g", "sysrq", 5120, None);
    let dir = elf_path.parent().unwrap().to_path_buf();
    let reference = Dump::open(&elf_path).unwrap();
    let vmss = vmware::generate_from(&elf_path, &dir.join("vmware"), "guest", Variant::Vmss);
    let dump = Dump::open(&vmss).unwrap();
    let four_g = 1u64 << 32;
    let ram = [(0, 3 << 30), (four_g, four_g + (2 << 30))];
    assert_eq!(dump.ram_ranges(), ram);
    assert_eq!(same_memory(&reference, &dump), (5 << 30) / 4096);
    let mut word = [0u8; 8];
    assert_eq!(
        dump.read_phys(3 << 30, &mut word),
        Err(ReadError::NotInDump { paddr: 3 << 30 })
    );
    same_registers(&reference, &dump);
    same_vmcoreinfo(&reference, &dump);
    let alone = vmware::link_alone(&vmss.with_extension("vmem"), &dir.join("alone"));
    let flat = Dump::open(&alone).unwrap();
    assert_eq!(flat.ram_ranges(), ram);
    assert!(flat
        .info()
        .warnings
        .join("\n")
        .contains("above VMware's PCI hole"));
    same_vmcoreinfo(&reference, &flat);
    // Above the hole, page by page (a sample: the whole was compared above).
    let (mut a, mut b) = (vec![0u8; 4096], vec![0u8; 4096]);
    for pfn in (four_g / 4096..(four_g + (2 << 30)) / 4096).step_by(997) {
        flat.read_phys(pfn * 4096, &mut a).unwrap();
        reference.read_phys(pfn * 4096, &mut b).unwrap();
        assert!(a == b, "pfn {pfn:#x}");
    }
    drop((reference, dump, flat));
    std::fs::remove_dir_all(dir).unwrap();
}
