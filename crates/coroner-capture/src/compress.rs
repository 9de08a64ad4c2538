//! Per-page compression as kdump-compressed files store it: each page alone, with
//! the codecs crash, makedumpfile and libkdumpfile decode. A page whose compressed
//! form is not smaller than the page is stored raw, as makedumpfile does.

mod lzo;

use crate::CaptureError;
pub use coroner_dump::Compression;

/// One thread's compressor state, reused page after page (a fresh zlib or zstd
/// context per page would cost more than the compression itself).
pub struct Encoder {
    kind: Compression,
    zlib: Option<zlib_rs::Deflate>,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    snappy: snap::raw::Encoder,
    lzo: lzo::Lzo1x1,
    out: Vec<u8>,
}

/// makedumpfile uses zlib's level 1 and zstd's level 1. zlib-rs follows zlib-ng,
/// whose level 1 is a cruder "quick" strategy (27% larger on the fixture's kernel
/// pages) and whose levels 2-4 still come out larger than zlib's level 1; 5 is the
/// first no larger (2% smaller).
const ZLIB_LEVEL: i32 = 5;
const ZSTD_LEVEL: i32 = 1;

impl Encoder {
    pub fn new(kind: Compression, page_size: usize) -> Result<Encoder, CaptureError> {
        let zstd = match kind {
            Compression::Zstd => Some(
                zstd::bulk::Compressor::new(ZSTD_LEVEL)
                    .map_err(|e| CaptureError::Usage(format!("zstd: {e}")))?,
            ),
            _ => None,
        };
        Ok(Encoder {
            kind,
            zlib: (kind == Compression::Zlib).then(|| zlib_rs::Deflate::new(ZLIB_LEVEL, true, 15)),
            zstd,
            snappy: snap::raw::Encoder::new(),
            lzo: lzo::Lzo1x1::new(),
            // Room for every codec's worst case on one page.
            out: vec![0; page_size + page_size / 8 + 1024],
        })
    }

    pub fn kind(&self) -> Compression {
        self.kind
    }

    /// The page compressed, or `None` to store it raw (no compression asked for, or
    /// the result is not smaller than the page).
    pub fn compress(&mut self, page: &[u8]) -> Option<&[u8]> {
        let n = match self.kind {
            Compression::None => return None,
            Compression::Zlib => {
                let z = self.zlib.as_mut().expect("made for zlib");
                z.reset();
                match z.compress(page, &mut self.out, zlib_rs::DeflateFlush::Finish) {
                    Ok(zlib_rs::Status::StreamEnd) => z.total_out() as usize,
                    _ => return None,
                }
            }
            Compression::Zstd => self
                .zstd
                .as_mut()
                .expect("made for zstd")
                .compress_to_buffer(page, &mut self.out)
                .ok()?,
            Compression::Snappy => self.snappy.compress(page, &mut self.out).ok()?,
            Compression::Lzo => self.lzo.compress(page, &mut self.out)?,
        };
        (n < page.len()).then(|| &self.out[..n])
    }
}
