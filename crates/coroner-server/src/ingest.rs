//! Request bodies into the store: streamed in parts (never whole in memory),
//! counted against a limit, their kind told from their first bytes.

use crate::error::ApiError;
use axum::body::{Body, BodyDataStream};
use axum::http::{header, HeaderMap, StatusCode};
use bytes::{Bytes, BytesMut};
use coroner_dump::Format;
use coroner_store::{BlobWriter, Blobs, StoreError};
use futures::StreamExt;
use std::time::Duration;

/// Bytes `Format::sniff` needs to know a dump.
const SNIFF_BYTES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Log,
    Dump,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Log => "log",
            Kind::Dump => "dump",
        }
    }
}

/// Why a body did not arrive whole.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the body is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("the upload was cut off after {0} bytes: {1}")]
    CutOff(u64, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> ApiError {
        let status = match e {
            IngestError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::CutOff(..) => StatusCode::BAD_REQUEST,
            IngestError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.to_string())
    }
}

fn declared(headers: &HeaderMap) -> Option<Result<u64, std::num::ParseIntError>> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.parse::<u64>())
}

/// Refuses a body whose declared length is over `limit`, before reading it.
pub fn check_length(headers: &HeaderMap, limit: u64) -> Result<(), ApiError> {
    match declared(headers) {
        Some(Ok(n)) if n > limit => Err(IngestError::TooLarge(limit).into()),
        Some(Err(_)) => Err(ApiError::new(StatusCode::BAD_REQUEST, "bad Content-Length")),
        _ => Ok(()),
    }
}

/// Refuses an upload that would leave the store less than `keep_free` bytes
/// (by its declared length; a body without one is checked as empty).
pub fn check_space(blobs: &Blobs, headers: &HeaderMap, keep_free: u64) -> Result<(), ApiError> {
    let size = declared(headers).and_then(Result::ok).unwrap_or(0);
    let Some(free) = blobs.free_bytes()? else {
        return Ok(());
    };
    if free < size.saturating_add(keep_free) {
        return Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            format!("the server's storage is full: {free} bytes free, {keep_free} kept free"),
        ));
    }
    Ok(())
}

/// Whether `size` more bytes leave the store at least `keep_free` free.
pub fn free_enough(blobs: &Blobs, size: u64, keep_free: u64) -> Result<bool, String> {
    let free = blobs.free_bytes().map_err(|e| e.to_string())?;
    Ok(free.is_none_or(|free| free >= size.saturating_add(keep_free)))
}

/// A body whose first bytes have been read.
pub struct Incoming {
    head: Bytes,
    rest: BodyDataStream,
    /// How long the client may send nothing before the upload counts as cut off.
    idle: Duration,
}

/// The body's next chunk; a client silent for `idle` is an error, so a stalled
/// upload never holds its task for ever.
async fn next_chunk(rest: &mut BodyDataStream, idle: Duration) -> Option<Result<Bytes, String>> {
    match tokio::time::timeout(idle, rest.next()).await {
        Ok(chunk) => chunk.map(|c| c.map_err(|e| e.to_string())),
        Err(_) => Some(Err(format!("nothing arrived for {} s", idle.as_secs()))),
    }
}

impl Incoming {
    /// Reads up to the first [`SNIFF_BYTES`]; an empty body is refused.
    pub async fn start(body: Body, idle: Duration) -> Result<Incoming, ApiError> {
        let mut rest = body.into_data_stream();
        let mut head = BytesMut::new();
        while head.len() < SNIFF_BYTES {
            match next_chunk(&mut rest, idle).await {
                Some(Ok(chunk)) => head.extend_from_slice(&chunk),
                Some(Err(e)) => return Err(IngestError::CutOff(head.len() as u64, e).into()),
                None => break,
            }
        }
        if head.is_empty() {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "the body is empty"));
        }
        Ok(Incoming {
            head: head.freeze(),
            rest,
            idle,
        })
    }

    pub fn kind(&self) -> Kind {
        match Format::sniff(&self.head) {
            Some(_) => Kind::Dump,
            None => Kind::Log,
        }
    }

    /// Streams the whole body into `writer` and completes it durably; at most
    /// `limit` bytes, else the upload is dropped. Returns the size.
    pub async fn store(self, mut writer: BlobWriter, limit: u64) -> Result<u64, IngestError> {
        let Incoming {
            head,
            mut rest,
            idle,
        } = self;
        let mut next = Some(Ok(head));
        while let Some(chunk) = next {
            let failed = match chunk {
                Ok(bytes) if writer.written() + bytes.len() as u64 > limit => {
                    Some(IngestError::TooLarge(limit))
                }
                Ok(bytes) => writer.write(bytes).await.err().map(IngestError::from),
                Err(e) => Some(IngestError::CutOff(writer.written(), e)),
            };
            if let Some(e) = failed {
                // The error says what happened; a failed cleanup leaves only a
                // staging file no key points at.
                let _ = writer.abort().await;
                return Err(e);
            }
            next = next_chunk(&mut rest, idle).await;
        }
        Ok(writer.finish().await?)
    }

    /// Appends the body to `file` (a resumable upload's partial file, `offset`
    /// bytes long), at most `limit` bytes in all. Returns the bytes this body
    /// added; on a cut, the error says how many arrived. The file is not
    /// synced: the caller syncs what it keeps.
    pub async fn append(
        self,
        file: &mut tokio::fs::File,
        offset: u64,
        limit: u64,
    ) -> Result<u64, (u64, IngestError)> {
        use tokio::io::AsyncWriteExt;
        let Incoming {
            head,
            mut rest,
            idle,
        } = self;
        let mut added = 0u64;
        let mut next = Some(Ok(head));
        while let Some(chunk) = next {
            let bytes = match chunk {
                Ok(bytes) => bytes,
                Err(e) => return Err((added, IngestError::CutOff(offset + added, e))),
            };
            if offset + added + bytes.len() as u64 > limit {
                return Err((added, IngestError::TooLarge(limit)));
            }
            if let Err(e) = file.write_all(&bytes).await {
                let e = StoreError::Config(format!("writing the partial vmcore: {e}"));
                return Err((added, IngestError::Store(e)));
            }
            added += bytes.len() as u64;
            next = next_chunk(&mut rest, idle).await;
        }
        Ok(added)
    }
}
