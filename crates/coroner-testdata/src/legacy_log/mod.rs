//! Small ELF vmcores holding a pre-5.10 kernel log, for checking readers against the
//! real `makedumpfile --dump-dmesg`: no dump of a kernel that old is on hand, so
//! these imitate one closely enough that makedumpfile accepts them.
//!
//! Each dump is what kexec's `/proc/vmcore` of that kernel would hold, reduced to
//! the pages makedumpfile reads: a VMCOREINFO note with the kernel's entries, a
//! PT_LOAD for the kernel image (page tables, variables, `init_uts_ns`,
//! `mem_section`, the static `__log_buf`) and PT_LOADs of RAM through the direct
//! map (the image again, and a page of `mem_section` plus, with `log_buf_len=`, the
//! buffer memblock gave the log). makedumpfile translates every address through
//! the page tables and insists on `init_uts_ns` (its release decides the log
//! format), a memory model (SPARSEMEM_EXTREME, as x86-64 kernels use) and
//! OSRELEASE/PAGESIZE; everything else here is what the kernel publishes anyway.

mod image;
mod printk;
pub mod samples;

pub use printk::{Record, LOG_CONT, LOG_NEWLINE};

use std::path::Path;

/// The kernels imitated, one per difference that matters to a log reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Upstream 2.6.24: the first VMCOREINFO; `log_end` is still `unsigned long`.
    V2_6_24,
    /// RHEL 6: plain buffer, `unsigned log_end`.
    V2_6_32,
    /// Upstream 3.10: records in `struct log` (renamed `printk_log` in 3.11).
    V3_10,
    /// RHEL 8: `struct printk_log`, KASLR (text and direct map randomised),
    /// `init_top_pgt`, NUMBER(phys_base).
    V4_18,
    /// 5.4 with CONFIG_PRINTK_CALLER: a u32 caller id in every record.
    V5_4,
}

impl Kernel {
    pub fn release(self) -> &'static str {
        match self {
            Kernel::V2_6_24 => "2.6.24.7",
            Kernel::V2_6_32 => "2.6.32-754.el6.x86_64",
            Kernel::V3_10 => "3.10.108",
            Kernel::V4_18 => "4.18.0-372.9.1.el8.x86_64",
            Kernel::V5_4 => "5.4.250",
        }
    }

    fn version(self) -> (u32, u32, u32) {
        match self {
            Kernel::V2_6_24 => (2, 6, 24),
            Kernel::V2_6_32 => (2, 6, 32),
            Kernel::V3_10 => (3, 10, 108),
            Kernel::V4_18 => (4, 18, 0),
            Kernel::V5_4 => (5, 4, 250),
        }
    }

    /// Whether the kernel keeps `struct printk_log` records (3.5+), not characters.
    pub fn structured(self) -> bool {
        self.version() >= (3, 5, 0)
    }
}

/// What the log holds.
#[derive(Debug, Clone)]
pub enum Log {
    /// Records stored in order into a `buf_len`-byte buffer (3.5+ kernels); the
    /// oldest are dropped and the buffer wraps as the kernel's `log_store` does.
    Records {
        buf_len: usize,
        records: Vec<Record>,
    },
    /// `earlier` characters of older log, then `text`, written into a
    /// `buf_len`-byte character buffer (pre-3.5 kernels).
    Chars {
        buf_len: usize,
        earlier: u64,
        text: Vec<u8>,
    },
}

/// One dump to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub kernel: Kernel,
    pub log: Log,
    /// The buffer was sized with `log_buf_len=` at boot, so `log_buf` points into
    /// the direct map (memblock) instead of the kernel image's `__log_buf`.
    pub boot_param_buffer: bool,
    /// Where the kernel was loaded relative to where it was linked (2 MiB-aligned).
    pub phys_base: u64,
}

/// What was laid out, for checks beyond the text makedumpfile prints.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    /// The records still in the buffer, oldest first (none for a character buffer).
    pub live: Vec<Record>,
    pub first_idx: usize,
    pub next_idx: usize,
    /// `log_first_idx` points at a wrap marker.
    pub first_is_marker: bool,
}

/// Writes the dump described by `spec` to `path`.
pub fn write(path: &Path, spec: &Spec) -> std::io::Result<Generated> {
    // What this writes is judged by the real makedumpfile: install it where the
    // tests can (root, apt-get); where they cannot, makedumpfile's own run says so.
    let _ = crate::setup::tools();
    let (log_buf, vars, generated) = match &spec.log {
        Log::Records { buf_len, records } => {
            assert!(spec.kernel.structured(), "{:?} has no records", spec.kernel);
            let mut ring = printk::Ring::new(*buf_len, image::log_shape(spec.kernel));
            ring.store_all(records);
            let generated = Generated {
                live: records[ring.live()].to_vec(),
                first_idx: ring.first_idx,
                next_idx: ring.next_idx,
                first_is_marker: ring.first_is_marker(),
            };
            let vars = image::LogVars::Records {
                first_idx: ring.first_idx as u32,
                next_idx: ring.next_idx as u32,
            };
            (ring.buf, vars, generated)
        }
        Log::Chars {
            buf_len,
            earlier,
            text,
        } => {
            assert!(!spec.kernel.structured(), "{:?} keeps records", spec.kernel);
            let (buf, log_end) = printk::plain_buffer(*buf_len, *earlier, text);
            (buf, image::LogVars::Chars { log_end }, Generated::default())
        }
    };
    let dump = image::Image::build(spec, &log_buf, vars).into_elf();
    std::fs::write(path, dump)?;
    Ok(generated)
}
