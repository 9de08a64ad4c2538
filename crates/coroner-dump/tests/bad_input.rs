//! Hostile and broken input: truncated at every header boundary, wrong magic, absurd
//! sizes, corrupt pages. Each gets a clear error naming the file and offset, or a
//! partial dump with warnings — never a panic, a hang or unbounded memory (measured
//! with a counting allocator).

use coroner_dump::{Dump, DumpError, PageState, PhysMemory, ReadError};
use coroner_testdata::{qemu_elf, shipped_dumps, CountingAllocator};
use std::path::Path;
use std::sync::Mutex;

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();
/// Peak measurements are per test; tests that measure take turns.
static MEASURE: Mutex<()> = Mutex::new(());

/// Opens `bytes` as a dump and exercises every stored page; returns the peak heap
/// growth. Panics only if the library does something it must never do.
fn exercise(name: &str, bytes: &[u8]) -> Result<usize, DumpError> {
    let input = bytes.to_vec();
    let mark = HEAP.mark();
    let dump = Dump::from_bytes(name, input)?;
    let census = dump.census();
    let ps = dump.page_size();
    let mut page = vec![0u8; ps as usize];
    let mut reads = 0;
    for (start, end) in dump.stored_ranges() {
        for pfn in start / ps..end / ps {
            match (dump.page_state(pfn), dump.read_phys(pfn * ps, &mut page)) {
                (PageState::Present | PageState::Zero, Ok(())) => {}
                (PageState::Missing, Err(ReadError::Missing { .. })) => {}
                (_, Err(ReadError::Corrupt { .. })) => {}
                (state, result) => {
                    panic!("{name}: pfn {pfn:#x} is {state:?} but read gave {result:?}")
                }
            }
            reads += 1;
            if reads > 50_000 {
                break;
            }
        }
    }
    assert!(census.counts.total() >= census.counts.missing);
    Ok(HEAP.peak_since(mark))
}

fn check_error(name: &str, err: &DumpError) {
    let msg = err.to_string();
    assert!(msg.starts_with(name), "error does not name the file: {msg}");
    match err {
        DumpError::Format { .. } => assert!(msg.contains("offset 0x"), "no offset in: {msg}"),
        DumpError::NotADump { .. } => assert!(msg.contains("not a kernel crash dump"), "{msg}"),
        DumpError::Io { .. } => {}
    }
}

/// Truncates `full` at each offset and checks the outcome is an error or a partial dump.
fn truncate_everywhere(label: &str, full: &[u8], cuts: &[usize]) {
    for &cut in cuts {
        let cut = cut.min(full.len());
        let name = format!("{label}@{cut:#x}");
        match exercise(&name, &full[..cut]) {
            Ok(peak) => assert!(
                peak < 4 * cut + (8 << 20),
                "{name}: peak heap {peak} for {cut} bytes"
            ),
            Err(e) => check_error(&name, &e),
        }
    }
}

fn read(path: &Path, limit: usize) -> Vec<u8> {
    use std::io::Read;
    let mut v = Vec::new();
    std::fs::File::open(path)
        .unwrap()
        .take(limit as u64)
        .read_to_end(&mut v)
        .unwrap();
    v
}

fn le32(b: &[u8], o: usize) -> usize {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize
}

fn le64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// (bitmap start, descriptor start) of a kdump file, from its header.
fn kdump_areas(b: &[u8]) -> (usize, usize) {
    let bs = le32(b, 428);
    let bitmap = bs * (1 + le32(b, 432));
    (bitmap, bitmap + bs * le32(b, 436))
}

#[test]
fn kdump_truncated_at_every_header_boundary() {
    let _m = MEASURE.lock().unwrap();
    let path = shipped_dumps("sysrq")
        .into_iter()
        .find(|p| p.ends_with("vmcore.mdf-d31-zstd"))
        .unwrap();
    let full = std::fs::read(&path).unwrap();
    let (bitmap, desc) = kdump_areas(&full);
    let note = le64(&full, 4096 + 48) as usize;
    let vmci = le64(&full, 4096 + 32) as usize;
    let cuts = [
        0,
        1,
        7,
        8,
        11,
        12,
        200,
        402,
        408,
        424,
        428,
        432,
        436,
        440,
        460,
        463,
        464,
        4095,
        4096,
        4100,
        4104,
        4112,
        4150,
        4199,
        4200,
        note,
        note + 100,
        vmci,
        vmci + 50,
        bitmap,
        bitmap + 100,
        (bitmap + desc) / 2,
        desc - 1,
        desc,
        desc + 12,
        desc + 24 * 100,
        desc + 24 * 10_000,
        full.len() / 2,
        full.len() - 1,
    ];
    truncate_everywhere("kdump", &full, &cuts);
}

#[test]
fn elf_truncated_at_every_header_boundary() {
    let _m = MEASURE.lock().unwrap();
    let path = qemu_elf("sysrq").unwrap();
    let head = read(&path, 4 << 20);
    let phoff = le64(&head, 32) as usize;
    let phnum = u16::from_le_bytes([head[56], head[57]]) as usize;
    let first_data = (0..phnum)
        .map(|i| le64(&head, phoff + i * 56 + 8) as usize)
        .min()
        .unwrap();
    let cuts = [
        0,
        3,
        4,
        16,
        20,
        40,
        56,
        63,
        64,
        phoff,
        phoff + 56,
        phoff + 56 * phnum - 1,
        first_data - 1,
        first_data + 100,
        4 << 20,
    ];
    truncate_everywhere("elf", &head, &cuts);
}

#[test]
fn flattened_truncated_at_every_record_boundary() {
    let _m = MEASURE.lock().unwrap();
    let path = shipped_dumps("sysrq")
        .into_iter()
        .find(|p| p.ends_with("vmcore.mdf-d31-zlib.flat"))
        .unwrap();
    let full = std::fs::read(&path).unwrap();
    let first_size = i64::from_be_bytes(full[4104..4112].try_into().unwrap()) as usize;
    let second = 4096 + 16 + first_size;
    let cuts = [
        0,
        12,
        16,
        24,
        32,
        4095,
        4096,
        4104,
        4112,
        4112 + 100,
        second,
        second + 8,
        second + 16,
        full.len() / 3,
        full.len() - 17,
    ];
    truncate_everywhere("flat", &full, &cuts);
}

#[test]
fn wrong_kinds_of_file_are_refused_by_name() {
    let cases: [(&str, Vec<u8>); 6] = [
        ("empty", vec![]),
        ("text", b"this is a console log, not a dump\n".to_vec()),
        (
            "random",
            (0..10_000u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
        ),
        (
            "elf32",
            [b"\x7fELF\x01\x01\x01".as_slice(), &[0; 57]].concat(),
        ),
        (
            "elf-big-endian",
            [b"\x7fELF\x02\x02\x01".as_slice(), &[0; 57]].concat(),
        ),
        (
            "kdump-version-0",
            [b"KDUMP   ".as_slice(), &[0; 4096]].concat(),
        ),
    ];
    for (name, bytes) in cases {
        let err = Dump::from_bytes(name, bytes)
            .err()
            .unwrap_or_else(|| panic!("{name} opened"));
        check_error(name, &err);
    }
}

#[test]
fn absurd_sizes_are_errors_in_bounded_memory() {
    let _m = MEASURE.lock().unwrap();
    let path = shipped_dumps("sysrq")
        .into_iter()
        .find(|p| p.ends_with("vmcore.mdf-d31-lzo"))
        .unwrap();
    let base = read(&path, 1 << 20);
    type Patch = fn(&mut Vec<u8>);
    let patches: [(&str, Patch); 9] = [
        ("block-size-3", |b| {
            b[428..432].copy_from_slice(&3u32.to_le_bytes())
        }),
        ("block-size-1M", |b| {
            b[428..432].copy_from_slice(&(1u32 << 20).to_le_bytes())
        }),
        ("bitmap-blocks-huge", |b| {
            b[436..440].copy_from_slice(&0xffff_fffeu32.to_le_bytes())
        }),
        ("sub-header-huge", |b| {
            b[432..436].copy_from_slice(&0x7fff_ffffu32.to_le_bytes())
        }),
        ("max-mapnr-huge", |b| {
            b[4096 + 96..4096 + 104].copy_from_slice(&(1u64 << 39).to_le_bytes())
        }),
        ("notes-huge", |b| {
            b[4096 + 56..4096 + 64].copy_from_slice(&(1u64 << 40).to_le_bytes())
        }),
        ("vmcoreinfo-huge", |b| {
            b[4096 + 40..4096 + 48].copy_from_slice(&(1u64 << 40).to_le_bytes())
        }),
        ("vmcoreinfo-offset-wild", |b| {
            b[4096 + 32..4096 + 40].copy_from_slice(&u64::MAX.to_le_bytes())
        }),
        ("descriptors-garbage", |b| {
            let (_, desc) = kdump_areas(b);
            for (i, x) in b[desc..desc + 24 * 200].iter_mut().enumerate() {
                *x = (i * 97 % 256) as u8;
            }
        }),
    ];
    for (name, patch) in patches {
        let mut bytes = base.clone();
        patch(&mut bytes);
        match exercise(name, &bytes) {
            Ok(peak) => assert!(peak < 16 << 20, "{name}: peak heap {peak}"),
            Err(e) => check_error(name, &e),
        }
    }
    // ELF: a PT_LOAD claiming 2^60 bytes of memory, and a huge PT_NOTE.
    let mut elf = read(&qemu_elf("sysrq").unwrap(), 1 << 20);
    let phoff = le64(&elf, 32) as usize;
    let load = (0..3)
        .map(|i| phoff + i * 56)
        .find(|&p| le32(&elf, p) == 1)
        .unwrap();
    elf[load + 40..load + 48].copy_from_slice(&(1u64 << 60).to_le_bytes());
    let peak = exercise("elf-memsz-huge", &elf).expect("opens: the memory is just not stored");
    assert!(peak < 16 << 20, "peak heap {peak}");
    let note = (0..3)
        .map(|i| phoff + i * 56)
        .find(|&p| le32(&elf, p) == 4)
        .unwrap();
    elf[note + 32..note + 40].copy_from_slice(&(1u64 << 40).to_le_bytes());
    check_error(
        "elf-note-huge",
        &Dump::from_bytes("elf-note-huge", elf).err().unwrap(),
    );
}

#[test]
fn a_corrupt_page_fails_only_its_own_reads() {
    let path = shipped_dumps("sysrq")
        .into_iter()
        .find(|p| p.ends_with("vmcore.mdf-d31-zstd"))
        .unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let good = Dump::open(&path).unwrap();
    let ps = good.page_size();
    // The descriptor index of a stored page is the count of stored pages before it.
    let stored: Vec<u64> = (0..good.info().max_pfn)
        .filter(|&p| matches!(good.page_state(p), PageState::Present | PageState::Zero))
        .collect();
    let (index, victim) = stored
        .iter()
        .enumerate()
        .find(|(_, &p)| good.page_state(p) == PageState::Present)
        .unwrap();
    let (_, desc) = kdump_areas(&bytes);
    let d = desc + 24 * index;
    let (offset, size) = (le64(&bytes, d) as usize, le32(&bytes, d + 8));
    for x in &mut bytes[offset + size / 3..offset + size / 3 + 16] {
        *x ^= 0x5a;
    }
    let bad = Dump::from_bytes("corrupt", bytes).unwrap();
    let mut page = vec![0u8; ps as usize];
    assert!(
        matches!(bad.read_phys(victim * ps, &mut page), Err(ReadError::Corrupt { paddr, .. }) if paddr == victim * ps)
    );
    let mut other = vec![0u8; ps as usize];
    for &pfn in stored.iter().filter(|&&p| p != *victim).take(2000) {
        bad.read_phys(pfn * ps, &mut page).unwrap();
        good.read_phys(pfn * ps, &mut other).unwrap();
        assert_eq!(page, other, "pfn {pfn:#x}");
    }
}

mod vmware {
    //! VMware checkpoints: cut, damaged and hostile variants of the generated files
    //! and of small checkpoints written here.

    use super::*;
    use coroner_testdata::vmware::{
        block, block_head, generate, region_tags, scalar, Checkpoint, Group, Region, Variant, MAGIC,
    };

    const PAGE: usize = 4096;

    /// A checkpoint with `pages` of inline memory (each page holding its number)
    /// behind `regions`, and one vCPU with `cpu_tags`.
    fn inline(regions: &[u8], cpu_tags: Vec<u8>, pages: usize) -> Vec<u8> {
        let memory: Vec<u8> = (0..pages as u64)
            .flat_map(|p| p.to_le_bytes().repeat(PAGE / 8))
            .collect();
        Checkpoint {
            magic: MAGIC,
            groups: vec![
                Group {
                    name: "cpu",
                    tags: cpu_tags,
                    inline_memory: None,
                },
                Group {
                    name: "memory",
                    tags: regions.to_vec(),
                    inline_memory: Some(memory.len() as u64),
                },
            ],
        }
        .to_bytes(&memory)
    }

    fn one_region(pages: u64) -> Vec<u8> {
        region_tags(&[Region {
            ppn: 0,
            page_num: 0,
            pages,
        }])
    }

    fn opened(name: &str, bytes: Vec<u8>) -> Dump {
        Dump::from_bytes(name, bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn refused(name: &str, bytes: Vec<u8>, says: &str) {
        let err = Dump::from_bytes(name, bytes)
            .err()
            .unwrap_or_else(|| panic!("{name} opened"));
        check_error(name, &err);
        assert!(err.to_string().contains(says), "{name}: {err}");
    }

    #[test]
    fn inline_checkpoint_truncated_at_every_boundary() {
        let _m = MEASURE.lock().unwrap();
        let path = generate("sysrq", Variant::VmsnInline).unwrap();
        let head = read(&path, 2 << 20);
        let group = |i: usize| le64(&head, 12 + 80 * i + 64) as usize;
        let (cpu, memory) = (group(1), group(2));
        let data = memory.next_multiple_of(PAGE);
        let cuts = [
            0,
            3,
            4,
            8,
            11,
            12,
            12 + 80,
            12 + 3 * 80 - 1,
            cpu - 1,
            cpu,
            cpu + 1,
            cpu + 17,
            memory - 1,
            memory,
            memory + 30,
            data - 1,
            data,
            data + 100,
            data + 5 * PAGE,
            2 << 20,
        ];
        truncate_everywhere("vmsn", &head, &cuts);
        // Cut inside the memory: opens, the rest missing, with a warning.
        let dump = opened("vmsn-cut", head[..data + 5 * PAGE].to_vec());
        assert_eq!(dump.census().counts.present, 5);
        let warnings = dump.info().warnings.join("\n");
        assert!(warnings.contains("cut short"), "{warnings}");
    }

    #[test]
    fn damaged_checkpoints_are_refused_by_name() {
        let cpu = scalar("cpu:numVCPUs", &[], &1u32.to_le_bytes());
        let ok = inline(&one_region(4), cpu.clone(), 4);
        assert_eq!(opened("ok", ok.clone()).census().counts.present, 4);
        let mut bit32 = ok.clone();
        bit32[..4].copy_from_slice(&0xbed0_bed0u32.to_le_bytes());
        refused("vmss-32bit", bit32, "32-bit");
        let mut groups_huge = ok.clone();
        groups_huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        refused("groups-huge", groups_huge, "group table");
        let mut no_memory = ok.clone();
        no_memory[12 + 80..12 + 86].copy_from_slice(b"memorz");
        refused("no-memory-group", no_memory, "no \"memory\" group");
        let mut wild_group = ok.clone();
        wild_group[12 + 80 + 64..12 + 80 + 72].copy_from_slice(&u64::MAX.to_le_bytes());
        refused("group-offset-wild", wild_group, "file ends");
        let garbage: Vec<u8> = MAGIC
            .to_le_bytes()
            .into_iter()
            .chain((0..30_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8))
            .collect();
        match Dump::from_bytes("garbage", garbage) {
            Err(e) => check_error("garbage", &e),
            Ok(d) => assert!(d.census().counts.present < 10),
        }
        let guest_overlap = region_tags(&[
            Region {
                ppn: 0,
                page_num: 0,
                pages: 3,
            },
            Region {
                ppn: 2,
                page_num: 3,
                pages: 1,
            },
        ]);
        refused(
            "guest-overlap",
            inline(&guest_overlap, cpu.clone(), 4),
            "both claim guest page 0x2",
        );
        // Two regions reading the same file pages: a loop that would let a small file
        // stand for any amount of memory.
        let file_loop = region_tags(&[
            Region {
                ppn: 0,
                page_num: 0,
                pages: 4,
            },
            Region {
                ppn: 0x100000,
                page_num: 0,
                pages: 4,
            },
        ]);
        refused(
            "file-loop",
            inline(&file_loop, cpu.clone(), 4),
            "both map memory file pages",
        );
        let mut miscounted = one_region(4);
        miscounted[14..18].copy_from_slice(&2u32.to_le_bytes());
        refused(
            "miscounted",
            inline(&miscounted, cpu.clone(), 4),
            "regionsCount is 2",
        );
        let half = scalar("regionPPN", &[0], &0u32.to_le_bytes());
        refused(
            "half-region",
            inline(&half, cpu.clone(), 4),
            "lacks its regionPPN or regionSize",
        );
        let wide = [
            scalar("regionPPN", &[0], &u64::MAX.to_le_bytes()),
            scalar("regionSize", &[0], &4u32.to_le_bytes()),
        ]
        .concat();
        refused(
            "region-overflow",
            inline(&wide, cpu.clone(), 4),
            "overflows",
        );
        let compressed = Checkpoint {
            magic: MAGIC,
            groups: vec![Group {
                name: "memory",
                tags: block("Memory", &[0, 0], &[0; PAGE], true),
                inline_memory: None,
            }],
        };
        refused(
            "compressed-memory",
            compressed.to_bytes(&[]),
            "compressed guest memory",
        );
    }

    #[test]
    fn absurd_sizes_open_in_bounded_memory() {
        let _m = MEASURE.lock().unwrap();
        let cpu = scalar("cpu:numVCPUs", &[], &1u32.to_le_bytes());
        // Regions claiming 2^40 pages of a 4-page file: the rest is missing.
        let huge = inline(&one_region(u32::MAX.into()), cpu.clone(), 4);
        let peak = exercise("region-huge", &huge).unwrap();
        assert!(peak < 16 << 20, "peak heap {peak}");
        let dump = opened("region-huge", huge);
        assert_eq!(dump.census().counts.present, 4);
        assert!(dump.info().warnings.join("\n").contains("cut short"));
        // A Memory block claiming 2^60 bytes.
        let mut claim = one_region(4);
        claim.extend(block_head("Memory", &[0, 0], 1 << 60, 1 << 60, 0, false));
        claim.extend(vec![7; 4 * PAGE]);
        let file = Checkpoint {
            magic: MAGIC,
            groups: vec![Group {
                name: "memory",
                tags: claim,
                inline_memory: None,
            }],
        }
        .to_bytes(&[]);
        let peak = exercise("memory-block-huge", &file).unwrap();
        assert!(peak < 16 << 20, "peak heap {peak}");
        // Register blocks: too big, cut, badly compressed; vCPUs far past the count.
        let mut regs = cpu.clone();
        regs.extend(block_head("gpregs", &[0], 1 << 40, 128, 0, false));
        let file = inline(&one_region(4), regs, 4);
        let dump = opened("gpregs-huge", file);
        assert!(dump.notes().is_empty());
        let mut regs = cpu.clone();
        regs.extend(block_head("CR64", &[0], 16, 72, 0, true));
        regs.extend([0xff; 16]);
        regs.extend(scalar("rip", &[7_000_000], &1u64.to_le_bytes()));
        regs.extend(scalar("rsp", &[7_000_001], &1u64.to_le_bytes()));
        let dump = opened("bad-blocks", inline(&one_region(4), regs, 4));
        let warnings = dump.info().warnings.join("\n");
        assert!(warnings.contains("zlib"), "{warnings}");
        assert!(warnings.contains("beyond cpu:numVCPUs"), "{warnings}");
        assert!(dump.notes().is_empty());
    }

    /// A checkpoint whose memory is in a `.vmem`, written into a fresh folder.
    fn external(dir_name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("coroner-{dir_name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let vmss = generate("sysrq", Variant::Vmss).unwrap();
        let ours = dir.join("guest.vmss");
        std::fs::copy(&vmss, &ours).unwrap();
        (ours, vmss.with_extension("vmem"))
    }

    #[test]
    fn a_missing_vmem_is_named() {
        let (vmss, _) = external("missing-vmem");
        let err = Dump::open(&vmss).err().expect("opens without memory");
        let msg = err.to_string();
        assert!(msg.contains("guest.vmem"), "{msg}");
        assert!(msg.contains("not inside this checkpoint"), "{msg}");
        std::fs::remove_dir_all(vmss.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_cut_vmem_opens_with_missing_pages_and_a_warning() {
        let _m = MEASURE.lock().unwrap();
        let (vmss, vmem) = external("cut-vmem");
        let head = read(&vmem, 8 << 20);
        std::fs::write(vmss.with_extension("vmem"), &head[..(8 << 20) - 100]).unwrap();
        let mark = HEAP.mark();
        let dump = Dump::open(&vmss).unwrap();
        let census = dump.census();
        assert_eq!(census.counts.present, 2047);
        assert_eq!(census.missing_ranges, [(2047 * 4096, 512 << 20)]);
        let mut page = vec![0u8; 4096];
        assert_eq!(
            dump.read_phys(2047 * 4096, &mut page),
            Err(ReadError::Missing { paddr: 2047 * 4096 })
        );
        dump.read_phys(2046 * 4096, &mut page).unwrap();
        assert!(dump.info().warnings.join("\n").contains("cut short"));
        assert!(HEAP.peak_since(mark) < 16 << 20);
        // The same memory file given explicitly under another name.
        let other = vmss.with_file_name("b1946ac9-uuid-named");
        std::fs::rename(vmss.with_extension("vmem"), &other).unwrap();
        let options = coroner_dump::OpenOptions {
            vmware_memory_file: Some(other),
        };
        assert_eq!(
            Dump::open_with(&vmss, &options)
                .unwrap()
                .census()
                .counts
                .present,
            2047
        );
        std::fs::remove_dir_all(vmss.parent().unwrap()).unwrap();
    }
}
