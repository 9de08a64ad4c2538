//! Replays every seed of the `btf` fuzz target (fuzz/seeds/btf/, reproducers saved
//! there included) through its entry point, with a counting allocator; and checks
//! the generated seeds are what their recipes below make. `UPDATE_SEEDS=1 cargo
//! test -p coroner-types --test fuzz_seeds` rewrites them.

mod common;

use coroner_testdata::CountingAllocator;
use std::path::PathBuf;

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/btf")
}

/// One record of the kernel's BTF: where it is, kind, vlen, total length.
struct Record {
    at: usize,
    kind: u32,
    vlen: usize,
    len: usize,
}

fn word(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(data[at..at + 4].try_into().unwrap())
}

fn put(data: &mut [u8], at: usize, value: u32) {
    data[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// Records of a little-endian BTF blob, by id - 1, and where strings start.
fn records(blob: &[u8]) -> (Vec<Record>, usize) {
    let hdr = word(blob, 4) as usize;
    let (type_off, type_len) = (word(blob, 8) as usize, word(blob, 12) as usize);
    let mut at = hdr + type_off;
    let mut out = Vec::new();
    while at < hdr + type_off + type_len {
        let info = word(blob, at + 4);
        let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
        let (fixed, each) = match kind {
            1 | 14 | 17 => (4, 0),
            3 => (12, 0),
            4 | 5 | 15 | 19 => (0, 12),
            6 | 13 => (0, 8),
            _ => (0, 0),
        };
        let len = 12 + fixed + vlen * each;
        out.push(Record {
            at,
            kind,
            vlen,
            len,
        });
        at += len;
    }
    (out, hdr + word(blob, 16) as usize)
}

/// Offsets (within a record) of the words holding (names, type ids).
fn fields(r: &Record) -> (Vec<usize>, Vec<usize>) {
    let mut names = vec![0];
    let mut ids = Vec::new();
    match r.kind {
        2 | 8..=12 | 14 | 17 | 18 => ids.push(8),
        3 => ids.extend([12, 16]),
        4 | 5 => (0..r.vlen).for_each(|i| {
            names.push(12 + 12 * i);
            ids.push(16 + 12 * i);
        }),
        6 => names.extend((0..r.vlen).map(|i| 12 + 8 * i)),
        19 => names.extend((0..r.vlen).map(|i| 12 + 12 * i)),
        13 => {
            ids.push(8);
            (0..r.vlen).for_each(|i| {
                names.push(12 + 8 * i);
                ids.push(16 + 8 * i);
            });
        }
        _ => {}
    }
    (names, ids)
}

/// A self-contained blob of the kernel's real types: the named structs, what
/// they contain, and what their pointers reach short of another struct or union
/// (pointers to those become `void *` unless the struct is in already).
/// Renumbered, with its own string section.
fn kernel_closure(roots: &[&str]) -> Vec<u8> {
    let full = common::vmlinux_bytes();
    let (recs, strings) = records(full);
    let name_of = |r: &Record| {
        let at = strings + word(full, r.at) as usize;
        let end = full[at..].iter().position(|&b| b == 0).unwrap();
        &full[at..at + end]
    };
    let mut included = vec![false; recs.len() + 1];
    let mut queue: Vec<usize> = recs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind == 4 && roots.iter().any(|n| n.as_bytes() == name_of(r)))
        .map(|(i, _)| i + 1)
        .collect();
    while let Some(id) = queue.pop() {
        if id == 0 || std::mem::replace(&mut included[id], true) {
            continue;
        }
        let r = &recs[id - 1];
        for at in fields(r).1 {
            let target = word(full, r.at + at) as usize;
            let behind_pointer = r.kind == 2 && matches!(recs[target.max(1) - 1].kind, 4 | 5 | 7);
            if !behind_pointer {
                queue.push(target);
            }
        }
    }
    let mut new_id = vec![0u32; recs.len() + 1];
    let mut next = 1;
    for id in 1..=recs.len() {
        if included[id] {
            new_id[id] = next;
            next += 1;
        }
    }
    let mut types = Vec::new();
    let mut text = vec![0u8];
    let mut interned = std::collections::HashMap::new();
    for (_, r) in recs.iter().enumerate().filter(|(i, _)| included[i + 1]) {
        let mut bytes = full[r.at..r.at + r.len].to_vec();
        let (names, ids) = fields(r);
        for at in names {
            let old = word(&bytes, at) as usize;
            if old != 0 {
                let name = &full[strings + old..];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap()];
                let new = *interned.entry(name.to_vec()).or_insert_with(|| {
                    text.extend_from_slice(name);
                    text.push(0);
                    (text.len() - name.len() - 1) as u32
                });
                put(&mut bytes, at, new);
            }
        }
        for at in ids {
            let old = word(&bytes, at) as usize;
            put(&mut bytes, at, new_id[old]);
        }
        types.extend_from_slice(&bytes);
    }
    let mut out = full[..24].to_vec();
    put(&mut out, 4, 24);
    put(&mut out, 8, 0);
    put(&mut out, 12, types.len() as u32);
    put(&mut out, 16, types.len() as u32);
    put(&mut out, 20, text.len() as u32);
    out.extend_from_slice(&types);
    out.extend_from_slice(&text);
    out
}

/// Seeds made from the fixture data and the tests' blob writer.
fn generated() -> Vec<(&'static str, Vec<u8>)> {
    let (mut every_kind, _) = common::every_kind::every_kind();
    let little = every_kind.bytes();
    every_kind.big_endian = true;
    vec![
        ("every-kind", little),
        ("every-kind-be", every_kind.bytes()),
        ("module-qemu_fw_cfg", common::module_bytes()),
        (
            "kernel-list_head-page",
            kernel_closure(&["list_head", "page"]),
        ),
        (
            "kernel-sk_buff-bpf_prog",
            kernel_closure(&["sk_buff", "bpf_prog", "file_operations"]),
        ),
    ]
}

#[test]
fn generated_seeds_are_current() {
    coroner_testdata::seeds::assert_current(&seed_dir(), generated());
}

#[test]
fn every_btf_fuzz_seed_is_handled_in_bounded_memory() {
    let base = common::vmlinux();
    let mut replayed = 0;
    let mut decoded = std::collections::HashMap::new();
    for entry in std::fs::read_dir(seed_dir()).expect("seed folder exists") {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let mark = HEAP.mark();
        let types = coroner_types::fuzzing::fuzz_btf(&bytes, &base);
        decoded.insert(
            path.file_name().unwrap().to_str().unwrap().to_string(),
            types,
        );
        let peak = HEAP.peak_since(mark);
        assert!(
            peak < 40 * bytes.len() + (16 << 20),
            "{}: peak heap {peak}",
            path.display()
        );
        replayed += 1;
    }
    assert!(replayed >= 5, "only {replayed} seeds");
    for (name, _) in generated() {
        assert!(
            decoded[name] > 20,
            "{name} decoded only {} types",
            decoded[name]
        );
    }
}
