//! The lockless ringbuffer reader on hand-built rings: wrapped blocks, truncated
//! text, reused slots, and the corruptions a damaged dump can hold. Layout offsets
//! are those Linux 6.1 exports (the same as the fixtures' VMCOREINFO).

use coroner_kernel::dmesg::{lockless, Log, LogError, LogRecord};
use coroner_kernel::fuzzing::RegionMemory;
use coroner_kernel::VmcoreInfo;
use std::collections::BTreeMap;

const LAYOUT: &str = "SYMBOL(prb)=ffffffff80001000
SIZE(printk_ringbuffer)=88
OFFSET(printk_ringbuffer.desc_ring)=0
OFFSET(printk_ringbuffer.text_data_ring)=48
OFFSET(prb_desc_ring.count_bits)=0
OFFSET(prb_desc_ring.descs)=8
OFFSET(prb_desc_ring.infos)=16
OFFSET(prb_desc_ring.head_id)=24
OFFSET(prb_desc_ring.tail_id)=32
OFFSET(atomic_long_t.counter)=0
SIZE(prb_desc)=24
OFFSET(prb_desc.state_var)=0
OFFSET(prb_desc.text_blk_lpos)=8
OFFSET(prb_data_blk_lpos.begin)=0
OFFSET(prb_data_blk_lpos.next)=8
OFFSET(prb_data_ring.size_bits)=0
OFFSET(prb_data_ring.data)=8
SIZE(printk_info)=88
OFFSET(printk_info.seq)=0
OFFSET(printk_info.ts_nsec)=8
OFFSET(printk_info.text_len)=16
OFFSET(printk_info.caller_id)=20
OFFSET(printk_info.dev_info)=24
OFFSET(dev_printk_info.subsystem)=0
LENGTH(printk_info_subsystem)=16
OFFSET(dev_printk_info.device)=16
LENGTH(printk_info_device)=48
";

const PRB_VAR: u64 = 0xffff_ffff_8000_1000;
const PRB: u64 = 0xffff_8880_0000_0000;
const DESCS: u64 = 0xffff_8880_0001_0000;
const INFOS: u64 = 0xffff_8880_0002_0000;
const DATA: u64 = 0xffff_8880_0003_0000;
const FINALIZED: u64 = 2 << 62;

/// A ring of 2^count_bits descriptors and a 2^size_bits-byte text ring.
struct Ring {
    count_bits: u32,
    size_bits: u32,
    head: u64,
    tail: u64,
    descs: Vec<u8>,
    infos: Vec<u8>,
    data: Vec<u8>,
}

impl Ring {
    fn new(count_bits: u32, size_bits: u32) -> Ring {
        Ring {
            count_bits,
            size_bits,
            head: 0,
            tail: 0,
            descs: vec![0; 24 << count_bits],
            infos: vec![0; 88 << count_bits],
            data: vec![0; 1 << size_bits],
        }
    }

    /// Stores a finalized record with id `id` whose text block spans `begin..next`
    /// (logical positions, as the kernel keeps them).
    fn record(&mut self, id: u64, begin: u64, next: u64, text: &[u8], text_len: u16) {
        let slot = (id % (1 << self.count_bits)) as usize;
        let d = &mut self.descs[slot * 24..][..24];
        d[..8].copy_from_slice(&(FINALIZED | id).to_le_bytes());
        d[8..16].copy_from_slice(&begin.to_le_bytes());
        d[16..24].copy_from_slice(&next.to_le_bytes());
        let i = &mut self.infos[slot * 88..][..88];
        i[..8].copy_from_slice(&id.to_le_bytes());
        i[8..16].copy_from_slice(&(id * 1_000_000).to_le_bytes());
        i[16..18].copy_from_slice(&text_len.to_le_bytes());
        i[19] = 6 << 5; // level 6 (info), no flags
        i[20..24].copy_from_slice(&(id as u32 + 100).to_le_bytes());
        let size = self.data.len() as u64;
        let start = if begin % size > next % size {
            0
        } else {
            begin % size
        } as usize;
        self.data[start..start + 8].copy_from_slice(&id.to_le_bytes());
        self.data[start + 8..start + 8 + text.len()].copy_from_slice(text);
    }

    fn memory(&self, info: &str) -> (VmcoreInfo, RegionMemory) {
        let mut prb = vec![0u8; 88];
        prb[..4].copy_from_slice(&self.count_bits.to_le_bytes());
        prb[8..16].copy_from_slice(&DESCS.to_le_bytes());
        prb[16..24].copy_from_slice(&INFOS.to_le_bytes());
        prb[24..32].copy_from_slice(&self.head.to_le_bytes());
        prb[32..40].copy_from_slice(&self.tail.to_le_bytes());
        prb[48..52].copy_from_slice(&self.size_bits.to_le_bytes());
        prb[56..64].copy_from_slice(&DATA.to_le_bytes());
        let regions = BTreeMap::from([
            (PRB_VAR, PRB.to_le_bytes().to_vec()),
            (PRB, prb),
            (DESCS, self.descs.clone()),
            (INFOS, self.infos.clone()),
            (DATA, self.data.clone()),
        ]);
        RegionMemory::decode(&RegionMemory::encode(info.as_bytes(), &regions))
    }

    fn read(&self) -> Result<(Vec<LogRecord>, Vec<String>), LogError> {
        let (info, mem) = self.memory(LAYOUT);
        let read = lockless::read(&mem, &info)?;
        match read.log {
            Log::Records(r) => Ok((r, read.warnings)),
            Log::Plain(_) => panic!("lockless gives records"),
        }
    }
}

fn texts(records: &[LogRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.text).into_owned())
        .collect()
}

#[test]
fn records_from_tail_to_head_with_a_wrapped_block() {
    let mut ring = Ring::new(2, 6); // 4 descriptors, 64 text bytes
    ring.record(5, 16, 40, b"second", 6);
    ring.record(6, 40, 56, b"third", 5);
    // Logical 56..88 does not fit before the end (64): stored whole at offset 0.
    ring.record(7, 56, 88, b"wrapped", 7);
    ring.tail = 5;
    ring.head = 7;
    let (records, warnings) = ring.read().unwrap();
    assert_eq!(texts(&records), ["second", "third", "wrapped"]);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(records[0].seq, 5);
    assert_eq!(records[0].ts_nsec, 5_000_000);
    assert_eq!(records[0].level, 6);
    assert_eq!(records[0].caller.as_deref(), Some("T105"));
}

#[test]
fn text_longer_than_its_block_is_truncated_as_makedumpfile_does() {
    let mut ring = Ring::new(2, 6);
    ring.record(1, 0, 16, b"abcdefgh", 200);
    ring.tail = 1;
    ring.head = 1;
    let (records, _) = ring.read().unwrap();
    assert_eq!(texts(&records), ["abcdefgh"]);
}

#[test]
fn reused_and_unfinished_slots_are_skipped() {
    let mut ring = Ring::new(2, 6);
    ring.record(2, 0, 16, b"kept", 4);
    ring.record(3, 16, 32, b"stale", 5);
    // Slot of id 3 now claims id 7: the id does not match, so it is not id 3's record.
    ring.descs[3 * 24..][..8].copy_from_slice(&(FINALIZED | 7).to_le_bytes());
    ring.tail = 2;
    ring.head = 3;
    let (records, _) = ring.read().unwrap();
    assert_eq!(texts(&records), ["kept"]);
}

#[test]
fn ids_spanning_more_than_the_ring_are_cut_to_it() {
    let mut ring = Ring::new(2, 6);
    ring.record(1000, 0, 16, b"last", 4);
    ring.tail = 0;
    ring.head = 1000;
    let (records, warnings) = ring.read().unwrap();
    assert_eq!(texts(&records), ["last"]);
    assert!(
        warnings[0].contains("more than the ring's 4 slots"),
        "{warnings:?}"
    );
}

#[test]
fn implausible_ring_sizes_are_corrupt() {
    let ring = Ring::new(2, 6);
    let mut bad = Ring::new(2, 6);
    bad.count_bits = 40;
    assert!(matches!(bad.read(), Err(LogError::Corrupt(_))));
    let huge = LAYOUT.replace("SIZE(prb_desc)=24", "SIZE(prb_desc)=999999999");
    let (info, mem) = ring.memory(&huge);
    assert!(matches!(
        lockless::read(&mem, &info),
        Err(LogError::Corrupt(_))
    ));
}

#[test]
fn missing_vmcoreinfo_entries_are_named() {
    let ring = Ring::new(2, 6);
    let partial = LAYOUT.replace("OFFSET(prb_desc_ring.head_id)=24\n", "");
    let (info, mem) = ring.memory(&partial);
    let err = lockless::read(&mem, &info).unwrap_err();
    assert_eq!(
        err,
        LogError::MissingInfo("OFFSET(prb_desc_ring.head_id)".into())
    );
}

#[test]
fn an_unmapped_descriptor_array_gives_up_with_a_warning_not_a_hang() {
    let mut ring = Ring::new(2, 6);
    ring.count_bits = 30; // 2^30 slots, none of them readable
    ring.tail = 0;
    ring.head = (1 << 30) - 1;
    let started = std::time::Instant::now();
    let (records, warnings) = ring.read().unwrap();
    assert!(records.is_empty());
    assert!(
        warnings.iter().any(|w| w.contains("gave up")),
        "{warnings:?}"
    );
    assert!(started.elapsed().as_secs() < 10);
}

#[test]
fn overlapping_text_blocks_cannot_inflate_the_log() {
    // Every descriptor points at the same block with the largest text_len.
    let mut ring = Ring::new(8, 6);
    for id in 0..256 {
        ring.record(id, 0, 63, &[b'x'; 55], 55);
    }
    ring.tail = 0;
    ring.head = 255;
    let (records, warnings) = ring.read().unwrap();
    let total: usize = records.iter().map(|r| r.text.len()).sum();
    assert!(total <= 64, "{total} bytes of text from a 64-byte ring");
    assert!(
        warnings.iter().any(|w| w.contains("corrupt")),
        "{warnings:?}"
    );
}
