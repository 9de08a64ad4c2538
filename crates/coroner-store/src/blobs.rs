//! The bytes: kernel logs and vmcores in an object store, under keys the server
//! makes (`crashes/<id>/vmcore`). Uploads stream through in parts, so memory per
//! upload is a few parts whatever the dump's size; a local store fsyncs the file
//! and its directory before an upload counts as stored.

use crate::error::StoreError;
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as Key;
use object_store::{ObjectStoreExt, WriteMultipart};
use std::path::PathBuf;
use std::sync::Arc;

/// Part size of a streamed upload (S3's minimum is 5 MiB).
const PART_BYTES: usize = 8 << 20;
/// Parts in flight per upload: memory per upload is about this many parts.
const PARTS_IN_FLIGHT: usize = 2;

#[derive(Clone)]
pub struct Blobs {
    local: Arc<LocalFileSystem>,
    /// The store's directory.
    root: PathBuf,
}

impl Blobs {
    /// Opens a store URL: `file:///DIR` or a plain directory path (created if
    /// missing).
    pub fn open(url: &str) -> Result<Blobs, StoreError> {
        let dir = if let Some(path) = url.strip_prefix("file://") {
            PathBuf::from(path)
        } else if url.contains("://") {
            return Err(StoreError::Config(format!(
                "{url}: unsupported store (a directory or file:///DIR; S3 is not supported yet)"
            )));
        } else {
            PathBuf::from(url)
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| StoreError::Config(format!("{}: {e}", dir.display())))?;
        let local = LocalFileSystem::new_with_prefix(&dir)?.with_fsync(true);
        Ok(Blobs {
            local: Arc::new(local),
            root: dir,
        })
    }

    /// The key of a crash's blob (`vmcore`, `log`); `crash` is a server-made id.
    pub fn key(crash: &str, name: &str) -> String {
        format!("crashes/{crash}/{name}")
    }

    /// Starts a streamed upload to `key`.
    pub async fn writer(&self, key: &str) -> Result<BlobWriter, StoreError> {
        let upload = self.local.put_multipart(&Key::from(key)).await?;
        Ok(BlobWriter {
            upload: WriteMultipart::new_with_chunk_size(upload, PART_BYTES),
            written: 0,
        })
    }

    /// Where a stored blob lies on this machine, for readers that map files (the
    /// dump reader).
    pub fn local_path(&self, key: &str) -> Result<PathBuf, StoreError> {
        Ok(self.local.path_to_filesystem(&Key::from(key))?)
    }

    /// Removes what uploads cut off by a stop left (the local store's staging
    /// files, `KEY#N`); only for a start, when no upload is in flight. Returns how
    /// many.
    pub fn remove_staging(&self) -> Result<usize, StoreError> {
        let mut removed = 0;
        let mut dirs = vec![self.root.clone()];
        let io = |e: std::io::Error| StoreError::Config(format!("{}: {e}", self.root.display()));
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).map_err(io)? {
                let entry = entry.map_err(io)?;
                let kind = entry.file_type().map_err(io)?;
                if kind.is_dir() {
                    dirs.push(entry.path());
                } else if entry.file_name().to_string_lossy().contains('#') {
                    std::fs::remove_file(entry.path()).map_err(io)?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Bytes free for uploads on the store's filesystem.
    pub fn free_bytes(&self) -> Result<u64, StoreError> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(self.root.as_os_str().as_bytes())
            .map_err(|e| StoreError::Config(e.to_string()))?;
        // SAFETY: statvfs fills the struct it is given from a NUL-terminated path.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(StoreError::Config(format!("{}: {e}", self.root.display())));
        }
        Ok(st.f_bavail.saturating_mul(st.f_frsize))
    }
}

/// An upload in progress: nothing is visible under its key until [`finish`].
///
/// [`finish`]: BlobWriter::finish
pub struct BlobWriter {
    upload: WriteMultipart,
    written: u64,
}

impl BlobWriter {
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        self.upload.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        self.written += chunk.len() as u64;
        self.upload.put(chunk);
        Ok(())
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Completes the upload durably; returns its size.
    pub async fn finish(self) -> Result<u64, StoreError> {
        self.upload.finish().await?;
        Ok(self.written)
    }

    /// Drops what was written.
    pub async fn abort(self) -> Result<(), StoreError> {
        Ok(self.upload.abort().await?)
    }
}
