//! Access to `../shared/fixtures` for tests: shipped dumps, the QEMU ELF unpacked from
//! its `.zst`, and variants the fixtures do not ship, derived on first use with the
//! real Debian `makedumpfile` (as the factory's 40-makedumpfile-derive.sh does).
//! Unpacked and derived files are cached under `target/fixture-cache/`. The tools it
//! runs are installed by [`setup`] when missing (apt-get, as root, once).

mod heap;
pub mod legacy_log;
pub mod postgres;
pub mod qemu;
pub mod seaweedfs;
pub mod seeds;
pub mod setup;
pub mod vbox;
pub mod vmware;

pub use heap::{CountingAllocator, HeapMark};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Serialises generation within one test binary; files appear by atomic rename, so
/// concurrent test binaries at worst do the same work twice.
static GENERATE: Mutex<()> = Mutex::new(());

/// The crash folders in `../shared/fixtures`.
pub const CRASHES: [&str; 3] = ["sysrq", "kdump-sysrq", "mod-null"];

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

pub fn crash_dir(crash: &str) -> PathBuf {
    fixtures_dir().join(crash)
}

fn cache_dir(crash: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/fixture-cache")
        .join(crash);
    std::fs::create_dir_all(&dir).expect("create target/fixture-cache");
    dir
}

/// The dump files shipped in a crash folder (not manifests, logs or `.zst`).
pub fn shipped_dumps(crash: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(crash_dir(crash))
        .expect("fixture folder is readable")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("vmcore.") && !name.ends_with(".json") && !name.ends_with(".zst")
        })
        .collect();
    files.sort();
    files
}

/// The folder of reference outputs (crash, drgn) for `dump`: its own when the
/// fixtures have one, else (a derived variant, or no dump given) the first of the
/// crash's, in name order: every variant of a crash holds the same memory.
pub fn reference_dir(crash: &str, dump: Option<&Path>) -> PathBuf {
    let refs = crash_dir(crash).join("ref");
    if let Some(own) = dump.and_then(|d| d.file_name()).map(|n| refs.join(n)) {
        if own.is_dir() {
            return own;
        }
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&refs)
        .expect("fixture ref folder is readable")
        .map(|e| e.expect("dir entry").path())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .next()
        .expect("a crash has reference outputs")
}

/// The per-file manifest `<file>.manifest.json`, or the folder's `manifest.json`.
pub fn manifest(crash: &str, file: Option<&str>) -> Value {
    let name = file.map_or("manifest.json".to_string(), |f| {
        format!("{f}.manifest.json")
    });
    let text = std::fs::read_to_string(crash_dir(crash).join(name)).expect("manifest is readable");
    serde_json::from_str(&text).expect("manifest is JSON")
}

/// Writes `dst` through a temporary name so readers never see half a file.
fn produce(dst: &Path, make: impl FnOnce(&Path)) -> PathBuf {
    let _guard = GENERATE.lock().unwrap_or_else(|e| e.into_inner());
    if !dst.exists() {
        let tmp = dst.with_extension(format!("tmp{}", std::process::id()));
        make(&tmp);
        std::fs::rename(&tmp, dst).expect("rename generated fixture into place");
    }
    dst.to_path_buf()
}

/// QEMU's unfiltered ELF dump of a crash, unpacked from the shipped `.zst`.
pub fn qemu_elf(crash: &str) -> Option<PathBuf> {
    let packed = crash_dir(crash).join("vmcore.qemu-elf.zst");
    if !packed.exists() {
        return None;
    }
    Some(produce(&cache_dir(crash).join("vmcore.qemu-elf"), |tmp| {
        let input = std::fs::File::open(&packed).expect("open .zst");
        let mut output = std::fs::File::create(tmp).expect("create unpacked dump");
        zstd::stream::copy_decode(input, &mut output).expect("unpack .zst");
    }))
}

/// A copy of the QEMU ELF that makedumpfile 1.7.2 can read (program headers at 64).
pub fn qemu_elf_phfix(crash: &str) -> Option<PathBuf> {
    let src = qemu_elf(crash)?;
    Some(produce(
        &cache_dir(crash).join("vmcore.qemu-elf-phfix"),
        |tmp| {
            let script = fixtures_dir().join("factory/elf-phfix.py");
            run(Command::new("python3").arg(script).arg(&src).arg(tmp));
        },
    ))
}

fn makedumpfile() -> Command {
    setup::require_tools();
    let mut c = Command::new("makedumpfile");
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c
}

fn run(cmd: &mut Command) {
    setup::require_tools();
    let status = cmd.status().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e} (install it: apt-get install makedumpfile python3)")
    });
    assert!(status.success(), "{cmd:?} failed with {status}");
}

/// Variants of a QEMU crash that makedumpfile derives but the fixtures do not ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derived {
    /// `makedumpfile -E -d 31`: filtered ELF.
    Elf,
    /// `makedumpfile -d 31`: kdump-compressed with pages stored raw.
    NoCompress,
    /// `makedumpfile -F -d 31 -c | makedumpfile -R`: the flattened stream reassembled.
    Reassembled,
}

pub fn derived(crash: &str, variant: Derived) -> Option<PathBuf> {
    let src = qemu_elf_phfix(crash)?;
    let name = match variant {
        Derived::Elf => "vmcore.mdf-d31.elf",
        Derived::NoCompress => "vmcore.mdf-d31-nocompress",
        Derived::Reassembled => "vmcore.mdf-d31-zlib.flat-R",
    };
    Some(produce(&cache_dir(crash).join(name), |tmp| match variant {
        Derived::Elf => run(makedumpfile().args(["-E", "-d", "31"]).arg(&src).arg(tmp)),
        Derived::NoCompress => {
            // Keep makedumpfile's page report (message level 23) for page-count checks.
            let out = makedumpfile()
                .args(["--message-level", "23", "-d", "31"])
                .arg(&src)
                .arg(tmp)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .output()
                .expect("run makedumpfile (apt-get install makedumpfile)");
            assert!(
                out.status.success(),
                "makedumpfile -d 31 failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = [out.stdout, out.stderr].concat();
            std::fs::write(report_path(crash), text).expect("write makedumpfile report");
        }
        Derived::Reassembled => {
            let flat = crash_dir(crash).join("vmcore.mdf-d31-zlib.flat");
            let input = std::fs::File::open(flat).expect("open shipped flattened dump");
            run(makedumpfile().arg("-R").arg(tmp).stdin(input));
        }
    }))
}

fn report_path(crash: &str) -> PathBuf {
    cache_dir(crash).join("makedumpfile-d31.report")
}

/// What makedumpfile reports about the pages of a crash filtered with `-d 31`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageReport {
    pub original: u64,
    pub zero: u64,
    pub excluded: u64,
    pub remaining: u64,
}

/// makedumpfile's page report for the crash's `-d 31` variants (sysrq only: it
/// needs the unfiltered QEMU ELF as input).
pub fn makedumpfile_report(crash: &str) -> Option<PageReport> {
    derived(crash, Derived::NoCompress)?;
    let text = std::fs::read_to_string(report_path(crash)).expect("report was written");
    let field = |label: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("makedumpfile report lacks {label:?}"));
        let hex = line
            .rsplit(':')
            .next()
            .unwrap_or("")
            .trim()
            .trim_start_matches("0x");
        u64::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad number in {line:?}"))
    };
    Some(PageReport {
        original: field("Original pages"),
        zero: field("Pages filled with zero"),
        excluded: field("Excluded pages"),
        remaining: field("Remaining pages"),
    })
}

/// Every container variant of a crash: the shipped files, and for crashes shipped
/// with a QEMU ELF, that ELF unpacked plus the variants makedumpfile derives from it.
pub fn all_variants(crash: &str) -> Vec<PathBuf> {
    let mut files = shipped_dumps(crash);
    if let Some(elf) = qemu_elf(crash) {
        files.push(elf);
        for variant in [Derived::Elf, Derived::NoCompress, Derived::Reassembled] {
            files.extend(derived(crash, variant));
        }
    }
    files
}

/// The frame-pointer kernel without BTF (`fp-nobtf`): its DWARF vmlinux (6.1,
/// DWARF 4), unpacked once from the shipped `.zst`.
pub fn fp_vmlinux() -> PathBuf {
    let name = "vmlinux-6.1.192-coroner-fp";
    let packed = fixtures_dir().join(format!("fp-nobtf/kernel/{name}.zst"));
    produce(&cache_dir("fp-nobtf").join(name), |tmp| {
        let input = std::fs::File::open(&packed).expect("open packed vmlinux");
        let mut output = std::fs::File::create(tmp).expect("create vmlinux");
        zstd::stream::copy_decode(input, &mut output).expect("unpack vmlinux");
    })
}

/// The `System.map` of [`fp_vmlinux`].
pub fn fp_system_map() -> PathBuf {
    fixtures_dir().join("fp-nobtf/kernel/System.map-6.1.192-coroner-fp")
}

/// The fixture kernel's real `System.map` (Debian ships it only in the 860 MB -dbg
/// package, so a zstd copy is kept in `data/`; see `data/README.md`), unpacked.
pub fn system_map() -> PathBuf {
    let name = "System.map-6.1.0-56-amd64";
    let packed = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("data/{name}.zst"));
    produce(&cache_dir("kernel").join(name), |tmp| {
        let input = std::fs::File::open(&packed).expect("open packed System.map");
        let mut output = std::fs::File::create(tmp).expect("create System.map");
        zstd::stream::copy_decode(input, &mut output).expect("unpack System.map");
    })
}

/// The lines of crash's output that two runs on one kernel share: without the file
/// names (`KERNEL:`, `DUMPFILE:`), blank lines and the start-up warning every run
/// prints.
pub fn crash_comparable(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            let t = l.trim();
            !(t.is_empty()
                || t.starts_with("KERNEL:")
                || t.starts_with("DUMPFILE:")
                || t.starts_with("WARNING: active task"))
        })
        .collect()
}
