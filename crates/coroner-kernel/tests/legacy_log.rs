//! The pre-5.10 logs judged by the real makedumpfile: coroner-testdata's generator
//! writes ELF vmcores of 2.6.24 to 5.4 kernels (records stored as `log_store`
//! stores them, wrapped or not, continuation and dictionary records, bytes to
//! escape; character buffers wrapped or not), `makedumpfile --dump-dmesg` on each
//! gives the expected text, and the log read through coroner's own address
//! translation must render to exactly those bytes. The record fields makedumpfile
//! does not print (level, facility, dictionary, caller) must equal the records the
//! kernel kept.

use coroner_dump::Dump;
use coroner_kernel::dmesg::{self, text, Log, LogRead};
use coroner_kernel::Kernel;
use coroner_testdata::legacy_log::{self, samples, Generated, Kernel as K, Log as Content, Spec};
use std::path::{Path, PathBuf};
use std::process::Command;

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("legacy-log");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// makedumpfile's version, to know whether it prints caller ids (1.7.5 and later).
fn makedumpfile_version() -> (u32, u32, u32) {
    let out = Command::new("makedumpfile")
        .arg("-v")
        .output()
        .expect("run makedumpfile (apt-get install makedumpfile)");
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .expect("makedumpfile -v names its version");
    let mut n = v.split('.').map(|p| p.parse().unwrap());
    (n.next().unwrap(), n.next().unwrap(), n.next().unwrap_or(0))
}

fn makedumpfile_dmesg(dump: &Path) -> Vec<u8> {
    let out = dump.with_extension("makedumpfile.txt");
    let _ = std::fs::remove_file(&out);
    let run = Command::new("makedumpfile")
        .arg("--dump-dmesg")
        .arg(dump)
        .arg(&out)
        .output()
        .expect("run makedumpfile (apt-get install makedumpfile)");
    assert!(
        run.status.success(),
        "makedumpfile rejected {}: {}{}",
        dump.display(),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read(out).unwrap()
}

/// Generates `spec`, reads its log through coroner, and checks the text against
/// makedumpfile's. Returns what was generated and what was read.
fn judged(name: &str, spec: &Spec) -> (Generated, LogRead) {
    let path = work_dir().join(format!("{name}.vmcore"));
    let generated = legacy_log::write(&path, spec).unwrap();
    (generated, judged_file(name, &path))
}

/// Reads the log of the dump at `path` through coroner and checks its text
/// against makedumpfile's on the same file.
fn judged_file(name: &str, path: &Path) -> LogRead {
    let expected = makedumpfile_dmesg(path);
    let kernel = Kernel::new(Dump::open(path).unwrap()).unwrap();
    let read = dmesg::read_log(&kernel, kernel.vmcoreinfo()).unwrap();
    assert_eq!(read.warnings, Vec::<String>::new(), "{name}");
    let has_callers = kernel
        .vmcoreinfo()
        .offset("printk_log", "caller_id")
        .is_some();
    let ours = if has_callers && makedumpfile_version() >= (1, 7, 5) {
        text::render_with_callers(&read.log)
    } else {
        text::render(&read.log)
    };
    assert!(!expected.is_empty(), "{name}: makedumpfile printed nothing");
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&expected),
        "{name}: coroner's text differs from makedumpfile's"
    );
    assert_eq!(ours, expected, "{name}: same text, different bytes");
    read
}

/// Checks every record field against what the kernel stored.
fn fields_match(name: &str, generated: &Generated, read: &LogRead, callers: bool) {
    let Log::Records(records) = &read.log else {
        panic!("{name}: records expected");
    };
    assert_eq!(records.len(), generated.live.len(), "{name}");
    for (got, want) in records.iter().zip(&generated.live) {
        let dict = |key: &str| {
            want.dict
                .split(|&b| b == 0)
                .find_map(|kv| kv.strip_prefix(key.as_bytes()))
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(got.text, want.text, "{name}");
        assert_eq!(got.ts_nsec, want.ts_nsec, "{name}");
        assert_eq!(
            (got.level, got.facility),
            (want.level, want.facility),
            "{name}"
        );
        assert_eq!(got.subsystem, dict("SUBSYSTEM="), "{name}");
        assert_eq!(got.device, dict("DEVICE="), "{name}");
        let caller = callers.then(|| {
            let id = want.caller_id;
            if id & 0x8000_0000 != 0 {
                format!("C{}", id & 0x7fff_ffff)
            } else {
                format!("T{id}")
            }
        });
        assert_eq!(got.caller, caller, "{name}");
    }
}

fn records_spec(kernel: K, buf_len: usize, count: usize) -> Spec {
    Spec {
        kernel,
        log: Content::Records {
            buf_len,
            records: samples::records(count, kernel.release(), kernel == K::V5_4),
        },
        boot_param_buffer: false,
        phys_base: 0,
    }
}

#[test]
fn printk_log_not_wrapped() {
    let spec = records_spec(K::V4_18, 8192, 13);
    let (generated, read) = judged("4.18-not-wrapped", &spec);
    assert!(generated.first_idx == 0 && generated.live.len() == 13);
    fields_match("4.18-not-wrapped", &generated, &read, false);
}

#[test]
fn printk_log_wrapped_with_kaslr() {
    let mut spec = records_spec(K::V4_18, 2048, 60);
    spec.phys_base = 0x3a00_0000;
    let (generated, read) = judged("4.18-wrapped", &spec);
    assert!(generated.first_idx > generated.next_idx, "the log wraps");
    fields_match("4.18-wrapped", &generated, &read, false);
}

#[test]
fn printk_log_without_dictionaries() {
    let mut spec = records_spec(K::V4_18, 1024, 40);
    if let Content::Records { records, .. } = &mut spec.log {
        records.iter_mut().for_each(|r| r.dict.clear());
    }
    let (generated, read) = judged("4.18-no-dict", &spec);
    fields_match("4.18-no-dict", &generated, &read, false);
}

#[test]
fn log_first_idx_on_the_wrap_marker() {
    // The kernel leaves log_first_idx on the marker when the records it dropped
    // last were those just before it; find a record count where that happens.
    let found = (20..200).find_map(|count| {
        let spec = records_spec(K::V4_18, 1024, count);
        let path = work_dir().join("probe.vmcore");
        let g = legacy_log::write(&path, &spec).unwrap();
        g.first_is_marker.then_some(spec)
    });
    let spec = found.expect("some record count leaves log_first_idx on the marker");
    let (generated, read) = judged("4.18-first-on-marker", &spec);
    fields_match("4.18-first-on-marker", &generated, &read, false);
}

#[test]
fn struct_log_of_3_10_in_a_boot_param_buffer() {
    // `log_buf_len=` at boot: the buffer is memblock memory in the direct map.
    let mut spec = records_spec(K::V3_10, 4096, 150);
    spec.boot_param_buffer = true;
    let (generated, read) = judged("3.10-log-boot-param", &spec);
    assert!(generated.first_idx > generated.next_idx, "the log wraps");
    fields_match("3.10-log-boot-param", &generated, &read, false);
}

#[test]
fn relocated_kernel_before_4_10() {
    // Before 4.10 VMCOREINFO gives phys_base's address, not its value.
    for (name, mut spec) in [
        ("3.10-relocated", records_spec(K::V3_10, 4096, 150)),
        ("2.6.32-relocated", chars_spec(K::V2_6_32, 4096, 0, 200)),
    ] {
        spec.phys_base = 0x200_0000;
        judged(name, &spec);
    }
}

#[test]
fn struct_log_of_3_10_not_wrapped() {
    let spec = records_spec(K::V3_10, 4096, 20);
    let (generated, read) = judged("3.10-log", &spec);
    fields_match("3.10-log", &generated, &read, false);
}

#[test]
fn printk_log_with_caller_ids() {
    let spec = records_spec(K::V5_4, 2048, 120);
    let (generated, read) = judged("5.4-caller", &spec);
    assert!(generated.first_idx > generated.next_idx, "the log wraps");
    fields_match("5.4-caller", &generated, &read, true);
}

#[test]
fn converted_to_kdump_compressed_by_makedumpfile() {
    // makedumpfile -c keeps the phys_base it derived in the kdump sub-header, so
    // even relocated kernels before 4.10 read through it.
    let mut relocated = records_spec(K::V3_10, 4096, 150);
    relocated.phys_base = 0x200_0000;
    let mut plain = chars_spec(K::V2_6_32, 4096, 0, 200);
    plain.phys_base = 0x400_0000;
    for (name, spec) in [
        ("4.18-kdump", records_spec(K::V4_18, 2048, 60)),
        ("3.10-relocated-kdump", relocated),
        ("2.6.32-relocated-kdump", plain),
    ] {
        let elf = work_dir().join(format!("{name}.vmcore"));
        let kdump = elf.with_extension("kdump");
        legacy_log::write(&elf, &spec).unwrap();
        let _ = std::fs::remove_file(&kdump);
        let run = Command::new("makedumpfile")
            .args(["-c", "-d", "1"])
            .arg(&elf)
            .arg(&kdump)
            .output()
            .unwrap();
        assert!(run.status.success(), "{name}: {run:?}");
        judged_file(name, &kdump);
    }
}

fn chars_spec(kernel: K, buf_len: usize, earlier: u64, lines: usize) -> Spec {
    Spec {
        kernel,
        log: Content::Chars {
            buf_len,
            earlier,
            text: samples::text(lines, kernel.release()),
        },
        boot_param_buffer: false,
        phys_base: 0,
    }
}

/// The character buffer's text, as makedumpfile gives it.
fn plain_judged(name: &str, spec: &Spec) -> Vec<u8> {
    let (_, read) = judged(name, spec);
    let Log::Plain(bytes) = read.log else {
        panic!("{name}: a plain buffer expected");
    };
    bytes
}

#[test]
fn plain_buffer_not_wrapped() {
    let spec = chars_spec(K::V2_6_32, 4096, 0, 12);
    let bytes = plain_judged("2.6.32-plain", &spec);
    let Content::Chars { text, .. } = &spec.log else {
        unreachable!()
    };
    assert_eq!(&bytes, text, "nothing was overwritten");
}

#[test]
fn plain_buffer_wrapped() {
    let spec = chars_spec(K::V2_6_32, 2048, 0, 90);
    assert_eq!(plain_judged("2.6.32-plain-wrapped", &spec).len(), 2048);
}

#[test]
fn plain_buffer_in_a_boot_param_buffer() {
    let mut spec = chars_spec(K::V2_6_32, 4096, 0, 200);
    spec.boot_param_buffer = true;
    plain_judged("2.6.32-plain-boot-param", &spec);
}

#[test]
fn plain_buffer_with_an_unsigned_long_log_end() {
    // Before 2.6.25 `log_end` is 64 bits: past 2^32 characters only a 64-bit read
    // sees that the buffer has wrapped.
    let spec = chars_spec(K::V2_6_24, 4096, 1 << 32, 10);
    assert_eq!(plain_judged("2.6.24-plain-long-log-end", &spec).len(), 4096);
}
