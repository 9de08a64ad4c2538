//! The pre-5.10 readers on hand-made damaged logs: lengths that loop or undershoot
//! the header, text that overruns its record, indices and buffer lengths out of
//! range, pages missing from the dump. Each ends in a clear error or in the
//! records that could be read plus a warning; none hangs, panics or allocates
//! what a garbage length claims.

use coroner_kernel::dmesg::{self, plain, structured, Log, LogError, LogRead};
use coroner_kernel::fuzzing::RegionMemory;
use coroner_kernel::VmcoreInfo;
use std::collections::BTreeMap;

const VARS: u64 = 0xffff_ffff_8100_8000;
const BUF: u64 = 0xffff_8800_0010_0000;
const HEADER: usize = 16;

/// `struct printk_log` VMCOREINFO of a 4.x kernel, variables in one page at VARS.
fn structured_info() -> String {
    format!(
        "OSRELEASE=4.18.0\nSYMBOL(log_buf)={VARS:x}\nSYMBOL(log_buf_len)={:x}\n\
         SYMBOL(log_first_idx)={:x}\nSYMBOL(log_next_idx)={:x}\nSIZE(printk_log)=16\n\
         OFFSET(printk_log.ts_nsec)=0\nOFFSET(printk_log.len)=8\n\
         OFFSET(printk_log.text_len)=10\nOFFSET(printk_log.dict_len)=12\n",
        VARS + 8,
        VARS + 16,
        VARS + 20
    )
}

fn plain_info(release: &str) -> String {
    format!(
        "OSRELEASE={release}\nSYMBOL(log_buf)={VARS:x}\nSYMBOL(log_buf_len)={:x}\n\
         SYMBOL(log_end)={:x}\n",
        VARS + 8,
        VARS + 16
    )
}

/// Kernel memory: the variables page, and `buf` at BUF minus the `holes` (page
/// numbers within the buffer).
fn memory(
    info: &str,
    vars: &[(u64, &[u8])],
    buf: &[u8],
    holes: &[usize],
) -> (VmcoreInfo, RegionMemory) {
    let mut regions = BTreeMap::new();
    let mut page = vec![0u8; 4096];
    for (off, bytes) in vars {
        page[*off as usize..*off as usize + bytes.len()].copy_from_slice(bytes);
    }
    regions.insert(VARS, page);
    for (i, chunk) in buf.chunks(4096).enumerate() {
        if !holes.contains(&i) {
            regions.insert(BUF + 4096 * i as u64, chunk.to_vec());
        }
    }
    RegionMemory::decode(&RegionMemory::encode(info.as_bytes(), &regions))
}

/// A record: header, text, padded to 8 bytes; `len` overrides the length field.
fn record(ts: u64, text: &[u8], len: Option<u16>) -> Vec<u8> {
    let size = (HEADER + text.len()).next_multiple_of(8);
    let mut r = vec![0u8; size];
    r[0..8].copy_from_slice(&ts.to_le_bytes());
    r[8..10].copy_from_slice(&len.unwrap_or(size as u16).to_le_bytes());
    r[10..12].copy_from_slice(&(text.len() as u16).to_le_bytes());
    r[15] = 6 << 5;
    r[HEADER..HEADER + text.len()].copy_from_slice(text);
    r
}

fn structured_read(
    buf: &[u8],
    len: u32,
    first: u32,
    next: u32,
    holes: &[usize],
) -> Result<LogRead, LogError> {
    let (info, mem) = memory(
        &structured_info(),
        &[
            (0, &BUF.to_le_bytes()),
            (8, &len.to_le_bytes()),
            (16, &first.to_le_bytes()),
            (20, &next.to_le_bytes()),
        ],
        buf,
        holes,
    );
    structured::read(&mem, &info)
}

fn texts(read: &LogRead) -> Vec<String> {
    let Log::Records(records) = &read.log else {
        panic!("records expected")
    };
    records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.text).into_owned())
        .collect()
}

/// Records laid end to end from `at` in a `len`-byte buffer.
fn laid_out(len: usize, at: usize, records: &[Vec<u8>]) -> (Vec<u8>, u32) {
    let mut buf = vec![0u8; len];
    let mut idx = at;
    for r in records {
        buf[idx..idx + r.len()].copy_from_slice(r);
        idx += r.len();
    }
    (buf, idx as u32)
}

#[test]
fn a_sound_log_reads_without_warnings() {
    let (buf, next) = laid_out(4096, 0, &[record(1, b"one", None), record(2, b"two", None)]);
    let read = structured_read(&buf, 4096, 0, next, &[]).unwrap();
    assert_eq!(texts(&read), ["one", "two"]);
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
}

#[test]
fn a_length_shorter_than_the_header_stops_the_walk() {
    let (buf, _) = laid_out(
        4096,
        0,
        &[record(1, b"one", None), record(2, b"two", Some(4))],
    );
    let read = structured_read(&buf, 4096, 0, 200, &[]).unwrap();
    assert_eq!(texts(&read), ["one"]);
    assert!(
        read.warnings[0].contains("less than its 16-byte header"),
        "{:?}",
        read.warnings
    );
}

#[test]
fn a_length_leading_back_before_log_first_idx_is_caught() {
    // Live records from 2048 wrap to 0; the record at 0 claims to reach 2048 again.
    let (mut buf, end) = laid_out(4096, 2048, &[record(1, b"old", None)]);
    buf[end as usize..end as usize + HEADER].fill(0); // wrap marker
    let new = record(2, b"new", Some(2048));
    buf[..new.len()].copy_from_slice(&new);
    let read = structured_read(&buf, 4096, 2048, 64, &[]).unwrap();
    assert_eq!(texts(&read), ["old", "new"]);
    assert!(
        read.warnings[0].contains("past log_first_idx"),
        "{:?}",
        read.warnings
    );
}

#[test]
fn a_second_wrap_marker_is_caught() {
    // The record at 0 leads to a marker: the walk would go round forever.
    let (mut buf, _) = laid_out(4096, 2048, &[record(1, b"old", None)]);
    let new = record(2, b"new", None);
    buf[..new.len()].copy_from_slice(&new);
    let read = structured_read(&buf, 4096, 2048, 1000, &[]).unwrap();
    assert_eq!(texts(&read), ["old", "new"]);
    assert!(
        read.warnings[0].contains("unexpected wrap marker"),
        "{:?}",
        read.warnings
    );
}

#[test]
fn a_wrap_marker_in_an_unwrapped_log_is_corrupt() {
    let (buf, _) = laid_out(4096, 0, &[record(1, b"one", None)]);
    let read = structured_read(&buf, 4096, 0, 1000, &[]).unwrap();
    assert_eq!(texts(&read), ["one"]);
    assert!(
        read.warnings[0].contains("unexpected wrap marker"),
        "{:?}",
        read.warnings
    );
}

#[test]
fn text_longer_than_its_record_is_cut_at_the_record() {
    let mut r = record(1, b"0123456789", None);
    r[10..12].copy_from_slice(&500u16.to_le_bytes());
    let (buf, next) = laid_out(4096, 0, &[r.clone(), record(2, b"next", None)]);
    let read = structured_read(&buf, 4096, 0, next, &[]).unwrap();
    let t = texts(&read);
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].len(), r.len() - HEADER);
    assert!(
        read.warnings[0].contains("claim more text"),
        "{:?}",
        read.warnings
    );
}

#[test]
fn a_record_running_past_the_buffer_stops_the_walk() {
    let (buf, _) = laid_out(4096, 4000, &[record(1, b"one", Some(200))]);
    let read = structured_read(&buf, 4096, 4000, 16, &[]).unwrap();
    assert!(
        read.warnings[0].contains("end of the 4096-byte log_buf"),
        "{:?}",
        read.warnings
    );
}

#[test]
fn indices_outside_the_buffer_are_corrupt() {
    let buf = vec![0u8; 4096];
    for (first, next) in [(4096, 0), (0, 4090), (u32::MAX, 0)] {
        let err = structured_read(&buf, 4096, first, next, &[]).unwrap_err();
        assert!(matches!(err, LogError::Corrupt(_)), "{first} {next}: {err}");
    }
}

#[test]
fn garbage_buffer_lengths_are_corrupt() {
    let buf = vec![0u8; 4096];
    for len in [0, 15, (1 << 31) + 1, u32::MAX] {
        let err = structured_read(&buf, len, 0, 0, &[]).unwrap_err();
        assert!(matches!(err, LogError::Corrupt(_)), "{len}: {err}");
    }
}

#[test]
fn a_huge_length_over_unmapped_memory_reads_what_exists() {
    // 2 GiB claimed, one page mapped: the read gives up after 16 MiB of holes.
    let (buf, next) = laid_out(4096, 0, &[record(1, b"one", None)]);
    let read = structured_read(&buf, 1 << 31, 0, next + 64, &[]).unwrap();
    assert_eq!(texts(&read), ["one"]);
    assert!(
        read.warnings.iter().any(|w| w.contains("not in the dump")),
        "{:?}",
        read.warnings
    );
}

#[test]
fn a_missing_page_in_a_wrapped_log_loses_only_its_records() {
    // 64-byte records from 4096 to the end, a marker, then from 0 to 4032.
    let rec = |i: usize| record(i as u64, format!("record {i:04}").as_bytes(), Some(64));
    let mut buf = vec![0u8; 12288];
    for (n, idx) in (4096..12224).step_by(64).enumerate() {
        buf[idx..idx + 32].copy_from_slice(&rec(n)[..32]);
    }
    for (n, idx) in (0..4032).step_by(64).enumerate() {
        buf[idx..idx + 32].copy_from_slice(&rec(1000 + n)[..32]);
    }
    let whole = structured_read(&buf, 12288, 4096, 4032, &[]).unwrap();
    assert_eq!(texts(&whole).len(), 127 + 63);
    assert!(whole.warnings.is_empty(), "{:?}", whole.warnings);

    let holed = structured_read(&buf, 12288, 4096, 4032, &[2]).unwrap();
    let t = texts(&holed);
    assert_eq!(
        t.len(),
        64 + 63,
        "page 2's records are lost, the others kept"
    );
    assert_eq!(
        (t[63].as_str(), t[64].as_str()),
        ("record 0063", "record 1000")
    );
    assert!(
        holed.warnings[0].contains("index 8192 is not in the dump"),
        "{:?}",
        holed.warnings
    );
    assert!(
        holed.warnings[1].contains("4096 of the 12288"),
        "{:?}",
        holed.warnings
    );
}

#[test]
fn vmcoreinfo_without_the_layout_or_with_a_wrong_one() {
    let (buf, next) = laid_out(4096, 0, &[record(1, b"one", None)]);
    let vars: [(u64, &[u8]); 4] = [
        (0, &BUF.to_le_bytes()),
        (8, &4096u32.to_le_bytes()),
        (16, &0u32.to_le_bytes()),
        (20, &next.to_le_bytes()),
    ];
    let without = structured_info().replace("SIZE(printk_log)=16\n", "");
    let (info, mem) = memory(&without, &vars, &buf, &[]);
    let err = structured::read(&mem, &info).unwrap_err();
    assert!(
        matches!(err, LogError::MissingInfo(ref m) if m.starts_with("SIZE(printk_log)")),
        "{err}"
    );

    let wrong = structured_info().replace("OFFSET(printk_log.len)=8", "OFFSET(printk_log.len)=15");
    let (info, mem) = memory(&wrong, &vars, &buf, &[]);
    assert!(matches!(
        structured::read(&mem, &info),
        Err(LogError::Corrupt(_))
    ));

    let (info, mem) = memory("OSRELEASE=4.18.0\n", &vars, &buf, &[]);
    assert_eq!(dmesg::read_log(&mem, &info).unwrap_err(), LogError::NoLog);
}

#[test]
fn every_byte_of_a_log_changed_still_reads() {
    // No byte value anywhere in the records or the variables makes the reader
    // panic or run away; the walk's bound keeps the record count sane.
    let (buf, next) = laid_out(
        512,
        256,
        &[record(1, b"one", None), record(2, b"two\nlines", None)],
    );
    let mut wrapped = buf.clone();
    wrapped[next as usize..next as usize + HEADER].fill(0);
    let after = record(3, b"after the wrap", None);
    wrapped[..after.len()].copy_from_slice(&after);
    let sound = structured_read(&wrapped, 512, 256, after.len() as u32, &[]).unwrap();
    assert_eq!(texts(&sound).len(), 3);
    for pos in 0..512 {
        for value in [0u8, 1, 0x10, 0x7f, 0xff] {
            let mut b = wrapped.clone();
            b[pos] = value;
            if let Ok(read) = structured_read(&b, 512, 256, after.len() as u32, &[]) {
                assert!(texts(&read).len() <= 512 / HEADER + 1);
            }
        }
    }
}

fn plain_read(
    release: &str,
    buf: &[u8],
    len: i32,
    end: u64,
    holes: &[usize],
) -> Result<LogRead, LogError> {
    let (info, mem) = memory(
        &plain_info(release),
        &[
            (0, &BUF.to_le_bytes()),
            (8, &len.to_le_bytes()),
            (16, &end.to_le_bytes()),
        ],
        buf,
        holes,
    );
    plain::read(&mem, &info)
}

fn plain_text(read: &LogRead) -> &[u8] {
    let Log::Plain(bytes) = &read.log else {
        panic!("plain text expected")
    };
    bytes
}

#[test]
fn plain_buffer_before_and_after_it_fills() {
    let buf: Vec<u8> = (0..8192).map(|i| b'a' + (i % 26) as u8).collect();
    let read = plain_read("2.6.32", &buf, 8192, 100, &[]).unwrap();
    assert_eq!(plain_text(&read), &buf[..100]);
    let read = plain_read("2.6.32", &buf, 8192, 8192 * 3 + 10, &[]).unwrap();
    assert_eq!(plain_text(&read), [&buf[10..], &buf[..10]].concat());
    assert!(read.warnings.is_empty());
}

#[test]
fn plain_log_end_width_follows_the_release() {
    // 2^32 + 10 characters: a 2.6.24 kernel's 64-bit log_end says the buffer
    // wrapped; from 2.6.25 log_end is 32 bits and only its low half is the kernel's.
    let buf = vec![b'x'; 4096];
    let end = (1u64 << 32) + 10;
    let old = plain_read("2.6.24", &buf, 4096, end, &[]).unwrap();
    assert_eq!(plain_text(&old).len(), 4096);
    let new = plain_read("2.6.32", &buf, 4096, end, &[]).unwrap();
    assert_eq!(plain_text(&new).len(), 10);
}

#[test]
fn plain_buffer_with_a_missing_page_keeps_the_rest() {
    let buf: Vec<u8> = (0..16384).map(|i| (i / 4096) as u8 + b'0').collect();
    let read = plain_read("2.6.32", &buf, 16384, 16384 + 100, &[1]).unwrap();
    let text = plain_text(&read);
    assert_eq!(text, [&buf[100..4096], &buf[8192..], &buf[..100]].concat());
    assert!(
        read.warnings[0].contains("4096 of the 16384"),
        "{:?}",
        read.warnings
    );
}

#[test]
fn plain_buffer_lengths_the_kernel_never_sets() {
    let buf = vec![b'x'; 8192];
    for len in [0, -1, i32::MIN] {
        let err = plain_read("2.6.32", &buf, len, 10, &[]).unwrap_err();
        assert!(matches!(err, LogError::Corrupt(_)), "{len}: {err}");
    }
    let read = plain_read("2.6.32", &buf, 6000, 7000, &[]).unwrap();
    assert!(
        read.warnings[0].contains("not a power of two"),
        "{:?}",
        read.warnings
    );
}

#[test]
fn unreadable_indices_read_the_records_from_the_buffers_start() {
    let records: Vec<Vec<u8>> = (0..20)
        .map(|i| record(i * 1000, format!("message {i}").as_bytes(), None))
        .collect();
    let (buf, _) = laid_out(8192, 0, &records);
    // log_first_idx and log_next_idx on a page the dump lacks.
    let info = structured_info()
        .replace(
            &format!("{:x}\n", VARS + 16),
            &format!("{:x}\n", VARS + 0x10_0000),
        )
        .replace(
            &format!("{:x}\n", VARS + 20),
            &format!("{:x}\n", VARS + 0x10_0004),
        );
    let (info, mem) = memory(
        &info,
        &[(0, &BUF.to_le_bytes()), (8, &8192u32.to_le_bytes())],
        &buf,
        &[],
    );
    let read = structured::read(&mem, &info).unwrap();
    assert_eq!(texts(&read).len(), 20);
    assert_eq!(texts(&read)[19], "message 19");
    assert_eq!(read.warnings.len(), 1, "{:?}", read.warnings);
    assert!(
        read.warnings[0].contains("log_first_idx"),
        "{:?}",
        read.warnings
    );
}
