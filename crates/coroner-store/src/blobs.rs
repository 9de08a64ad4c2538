//! The bytes: kernel logs and vmcores in an object store, under keys the server
//! makes (`crashes/<id>/vmcore`): a local directory (the default) or an
//! S3-compatible bucket. Uploads stream through in parts, so memory per upload
//! is a few parts whatever the dump's size; a local store fsyncs the file and
//! its directory before an upload counts as stored, S3 completes the multipart
//! upload. Readers that map files (the dump reader) get a local copy of an S3
//! object in the scratch directory for as long as they need it.

use crate::error::StoreError;
use bytes::Bytes;
use futures::StreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Part size of a streamed upload (S3's minimum is 5 MiB).
const PART_BYTES: usize = 8 << 20;
/// Parts in flight per upload: memory per upload is about this many parts.
const PARTS_IN_FLIGHT: usize = 2;

#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    place: Place,
}

/// Where the bytes are.
#[derive(Clone)]
enum Place {
    /// A local directory: the store's own files are read in place.
    Local {
        fs: Arc<LocalFileSystem>,
        root: PathBuf,
    },
    /// A bucket: objects are copied to `scratch` to be read.
    S3 { scratch: PathBuf },
}

impl Blobs {
    /// Opens a store URL: `file:///DIR` or a plain directory path (created if
    /// missing), or `s3://BUCKET?endpoint=URL&region=R` (credentials from the
    /// `AWS_*` environment variables, never the URL); `scratch` is where S3
    /// objects are copied to be read.
    pub fn open(url: &str, scratch: &Path) -> Result<Blobs, StoreError> {
        if let Some(rest) = url.strip_prefix("s3://") {
            return Blobs::s3(url, rest, scratch);
        }
        let dir = if let Some(path) = url.strip_prefix("file://") {
            PathBuf::from(path)
        } else if url.contains("://") {
            return Err(StoreError::Config(format!(
                "{url}: unsupported store (a directory, file:///DIR or s3://BUCKET?endpoint=URL)"
            )));
        } else {
            PathBuf::from(url)
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| StoreError::Config(format!("{}: {e}", dir.display())))?;
        let local = Arc::new(LocalFileSystem::new_with_prefix(&dir)?.with_fsync(true));
        Ok(Blobs {
            store: local.clone(),
            place: Place::Local {
                fs: local,
                root: dir,
            },
        })
    }

    fn s3(url: &str, rest: &str, scratch: &Path) -> Result<Blobs, StoreError> {
        let bad = |why: String| StoreError::Config(format!("{url}: {why}"));
        let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
        if bucket.is_empty() || bucket.contains('/') {
            return Err(bad(
                "the bucket is missing (s3://BUCKET?endpoint=URL)".into()
            ));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| bad(format!("{pair}: expected NAME=VALUE")))?;
            let key: AmazonS3ConfigKey = name
                .parse()
                .map_err(|_| bad(format!("{name}: not an S3 option")))?;
            if matches!(
                key,
                AmazonS3ConfigKey::SecretAccessKey | AmazonS3ConfigKey::Token
            ) {
                return Err(bad(format!(
                    "{name}: secrets go in the environment (AWS_SECRET_ACCESS_KEY), \
                     not in a URL that ps and logs show"
                )));
            }
            if matches!(key, AmazonS3ConfigKey::Endpoint) && value.starts_with("http://") {
                // A plain-HTTP endpoint named on purpose (a local test server).
                builder = builder.with_allow_http(true);
            }
            builder = builder.with_config(key, value);
        }
        // Signing with ring: rustls' default provider (aws-lc) needs cmake and
        // a C toolchain beyond gcc to build.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = builder.build()?;
        std::fs::create_dir_all(scratch)
            .map_err(|e| StoreError::Config(format!("{}: {e}", scratch.display())))?;
        Ok(Blobs {
            store: Arc::new(store),
            place: Place::S3 {
                scratch: scratch.to_path_buf(),
            },
        })
    }

    /// The key of a crash's blob (`vmcore`, `log`); `crash` is a server-made id.
    pub fn key(crash: &str, name: &str) -> String {
        format!("crashes/{crash}/{name}")
    }

    /// Starts a streamed upload to `key`.
    pub async fn writer(&self, key: &str) -> Result<BlobWriter, StoreError> {
        let upload = self.store.put_multipart(&Key::from(key)).await?;
        Ok(BlobWriter {
            upload: WriteMultipart::new_with_chunk_size(upload, PART_BYTES),
            written: 0,
        })
    }

    /// Moves a finished local file (a resumable upload's partial file, synced)
    /// into the store under `key`: a rename when the store is a directory on
    /// the same filesystem (then the directory is synced), else a streamed
    /// copy, after which the file is removed. Returns its size.
    pub async fn adopt(&self, key: &str, file: &Path) -> Result<u64, StoreError> {
        let io = |e: std::io::Error| StoreError::Config(format!("{}: {e}", file.display()));
        let size = std::fs::metadata(file).map_err(io)?.len();
        if let Place::Local { fs, .. } = &self.place {
            let target = fs.path_to_filesystem(&Key::from(key))?;
            let dir = target
                .parent()
                .expect("a key has a directory")
                .to_path_buf();
            std::fs::create_dir_all(&dir).map_err(io)?;
            if std::fs::rename(file, &target).is_ok() {
                std::fs::File::open(&dir)
                    .and_then(|d| d.sync_all())
                    .map_err(io)?;
                return Ok(size);
            }
        }
        use tokio::io::AsyncReadExt;
        let mut writer = self.writer(key).await?;
        let mut input = tokio::fs::File::open(file).await.map_err(io)?;
        loop {
            let mut buf = vec![0u8; 1 << 20];
            let n = input.read(&mut buf).await.map_err(io)?;
            if n == 0 {
                break;
            }
            buf.truncate(n);
            writer.write(Bytes::from(buf)).await?;
        }
        writer.finish().await?;
        std::fs::remove_file(file).map_err(io)?;
        Ok(size)
    }

    /// A stored blob as a file on this machine, for readers that map files
    /// (the dump reader): the store's own file, or a copy of the S3 object
    /// removed when the copy is dropped.
    pub async fn local(&self, key: &str) -> Result<LocalCopy, StoreError> {
        match &self.place {
            Place::Local { fs, .. } => Ok(LocalCopy {
                path: fs.path_to_filesystem(&Key::from(key))?,
                temporary: false,
            }),
            Place::S3 { scratch } => {
                let path = scratch.join(format!("{}.copy", crate::ids::new_id()));
                let copy = LocalCopy {
                    path,
                    temporary: true,
                };
                let io =
                    |e: std::io::Error| StoreError::Config(format!("{}: {e}", copy.path.display()));
                let mut file = tokio::fs::File::create(&copy.path).await.map_err(io)?;
                let mut stream = self.store.get(&Key::from(key)).await?.into_stream();
                while let Some(chunk) = stream.next().await {
                    file.write_all(&chunk?).await.map_err(io)?;
                }
                file.flush().await.map_err(io)?;
                Ok(copy)
            }
        }
    }

    /// Removes what uploads cut off by a stop left (the local store's staging
    /// files, `KEY#N`); only for a start, when no upload is in flight. Returns how
    /// many. In S3 an unfinished multipart upload is the bucket's to expire
    /// (a lifecycle rule); the scratch copies are removed.
    pub fn remove_staging(&self) -> Result<usize, StoreError> {
        let (root, partial): (&Path, fn(&str) -> bool) = match &self.place {
            Place::Local { root, .. } => (root, |name| name.contains('#')),
            Place::S3 { scratch } => (scratch, |name| name.ends_with(".copy")),
        };
        let mut removed = 0;
        let mut dirs = vec![root.to_path_buf()];
        let io = |e: std::io::Error| StoreError::Config(format!("{}: {e}", root.display()));
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).map_err(io)? {
                let entry = entry.map_err(io)?;
                let kind = entry.file_type().map_err(io)?;
                if kind.is_dir() {
                    dirs.push(entry.path());
                } else if partial(&entry.file_name().to_string_lossy()) {
                    std::fs::remove_file(entry.path()).map_err(io)?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Bytes free for uploads on the store's filesystem; `None` for a bucket,
    /// whose limits are its own.
    pub fn free_bytes(&self) -> Result<Option<u64>, StoreError> {
        let Place::Local { root, .. } = &self.place else {
            return Ok(None);
        };
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(root.as_os_str().as_bytes())
            .map_err(|e| StoreError::Config(e.to_string()))?;
        // SAFETY: statvfs fills the struct it is given from a NUL-terminated path.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(StoreError::Config(format!("{}: {e}", root.display())));
        }
        Ok(Some(st.f_bavail.saturating_mul(st.f_frsize)))
    }
}

/// A blob as a local file (see [`Blobs::local`]).
pub struct LocalCopy {
    path: PathBuf,
    /// A copy made for the reader, removed on drop.
    temporary: bool,
}

impl LocalCopy {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LocalCopy {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
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
