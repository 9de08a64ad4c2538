//! The capture's input side under a fuzzer: bytes as a vmcore (ELF program headers,
//! notes, VMCOREINFO, `struct page`s), filtered at `-d 31` and written as a
//! flattened stream that is thrown away. Hostile headers must give an error, never
//! a panic or unbounded memory (the filter refuses more than `MAX_FRAMES`).

use crate::kdump::{write, WriteOptions};
use crate::sink::FlatSink;
use crate::{filter, DumpLevel};
use coroner_dump::{Compression, Dump};
use coroner_kernel::Kernel;

/// Frames a fuzz input may claim: the walk's time grows with them, and a few MiB of
/// input cannot store more than this anyway.
const FUZZ_MAX_FRAMES: u64 = 1 << 20;

/// Runs one capture of `bytes`; returns the bytes the dump would have.
pub fn fuzz_capture(bytes: &[u8]) -> u64 {
    let Ok(dump) = Dump::from_bytes("fuzz-input", bytes.to_vec()) else {
        return 0;
    };
    let claimed: u64 = dump.ram_ranges().iter().map(|(s, e)| (e - s) / 4096).sum();
    if claimed > FUZZ_MAX_FRAMES {
        return 0;
    }
    let Ok(kernel) = Kernel::new(dump) else {
        return 0;
    };
    let Ok(filtered) = filter(&kernel, DumpLevel(31)) else {
        return 0;
    };
    let opts = WriteOptions {
        compression: Compression::Lzo,
        level: DumpLevel(31),
        threads: 1,
        important_first: true,
    };
    let mut sink = FlatSink::new(std::io::sink());
    write(&kernel, &filtered, &opts, &mut sink, &mut |_| {}).map_or(0, |o| o.bytes)
}

#[cfg(test)]
mod tests {
    use super::fuzz_capture;

    #[test]
    fn garbage_and_cut_headers_are_refused_quietly() {
        assert_eq!(fuzz_capture(b""), 0);
        assert_eq!(fuzz_capture(b"\x7fELF\x02\x01\x01"), 0);
        // An ELF core whose one PT_LOAD claims 2^60 bytes of RAM with no file behind.
        let mut elf = vec![0u8; 64 + 56];
        elf[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
        elf[16] = 4; // ET_CORE
        elf[18] = 62; // x86-64
        elf[32] = 64; // e_phoff
        elf[54] = 56; // e_phentsize
        elf[56] = 1; // e_phnum
        let ph = &mut elf[64..];
        ph[0] = 1; // PT_LOAD
        ph[40..48].copy_from_slice(&(1u64 << 60).to_le_bytes()); // p_memsz
        assert_eq!(fuzz_capture(&elf), 0);
        // The filter itself refuses it, before allocating bitmaps for it.
        let dump = coroner_dump::Dump::from_bytes("hostile", elf).unwrap();
        let kernel = coroner_kernel::Kernel::new(dump).unwrap();
        let err = crate::filter(&kernel, crate::DumpLevel(31)).unwrap_err();
        assert!(err.to_string().contains("more than any machine"), "{err}");
    }
}
