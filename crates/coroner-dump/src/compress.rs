//! Page decompression for kdump-compressed dumps. Every decoder writes into a
//! caller-sized buffer and fails if the page does not decode to exactly that size,
//! so a corrupt page can never make us allocate or write past one page.

mod lzo;

use std::cell::RefCell;

/// The compressions a kdump page descriptor can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Compression {
    None,
    Zlib,
    Lzo,
    Snappy,
    Zstd,
}

impl Compression {
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Zlib,
        Compression::Lzo,
        Compression::Snappy,
        Compression::Zstd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zlib => "zlib",
            Compression::Lzo => "lzo",
            Compression::Snappy => "snappy",
            Compression::Zstd => "zstd",
        }
    }
}

thread_local! {
    static ZLIB: RefCell<zlib_rs::Inflate> = RefCell::new(zlib_rs::Inflate::new(true, 15));
    static ZSTD: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Decodes `input` into all of `out`; an error names what the decoder disliked.
pub fn decompress(kind: Compression, input: &[u8], out: &mut [u8]) -> Result<(), String> {
    let written = match kind {
        Compression::None => {
            if input.len() != out.len() {
                return Err(format!(
                    "stored page is {} bytes, expected {}",
                    input.len(),
                    out.len()
                ));
            }
            out.copy_from_slice(input);
            out.len()
        }
        // zlib-rs inflates kdump pages about 1.4 times as fast as miniz_oxide.
        Compression::Zlib => ZLIB.with_borrow_mut(|z| {
            z.reset(true);
            match z.decompress(input, out, zlib_rs::InflateFlush::Finish) {
                Ok(zlib_rs::Status::StreamEnd) => Ok(z.total_out() as usize),
                Ok(_) => Err("zlib stream does not end within one page".to_string()),
                Err(e) => Err(format!(
                    "zlib: {}",
                    z.error_message().unwrap_or(&format!("{e:?}"))
                )),
            }
        })?,
        Compression::Lzo => lzo::decompress(input, out)?,
        Compression::Snappy => snap::raw::Decoder::new()
            .decompress(input, out)
            .map_err(|e| format!("snappy: {e}"))?,
        Compression::Zstd => ZSTD.with_borrow_mut(|slot| {
            if slot.is_none() {
                *slot = Some(zstd::bulk::Decompressor::new().map_err(|e| format!("zstd: {e}"))?);
            }
            let d = slot.as_mut().expect("initialised above");
            d.decompress_to_buffer(input, out)
                .map_err(|e| format!("zstd: {e}"))
        })?,
    };
    if written != out.len() {
        return Err(format!(
            "{} page decodes to {written} bytes, expected {}",
            kind.name(),
            out.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn page() -> Vec<u8> {
        (0..4096u32).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn zlib_snappy_zstd_round_trip_and_reject_wrong_sizes() {
        let p = page();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&p).unwrap();
        let zlib = z.finish().unwrap();
        let snappy = snap::raw::Encoder::new().compress_vec(&p).unwrap();
        let zst = zstd::bulk::compress(&p, 3).unwrap();
        for (kind, data) in [
            (Compression::Zlib, &zlib),
            (Compression::Snappy, &snappy),
            (Compression::Zstd, &zst),
            (Compression::None, &p),
        ] {
            let mut out = vec![0; 4096];
            decompress(kind, data, &mut out).unwrap();
            assert_eq!(out, p, "{kind:?}");
            let mut small = vec![0; 2048];
            assert!(
                decompress(kind, data, &mut small).is_err(),
                "{kind:?} into a short buffer"
            );
            let mut out = vec![0; 4096];
            assert!(
                decompress(kind, &data[..data.len() / 2], &mut out).is_err(),
                "{kind:?} truncated"
            );
        }
    }
}
