//! `--spool DIR`: a drop-in target for kdump's ssh and NFS dumps. Stock
//! OpenSSH (or an NFS export) writes capture directories into DIR; the server
//! looks at DIR every `poll`, and takes each complete file into the same
//! pipeline as an HTTP upload (log first, then the dump), then removes it from
//! the spool (the store keeps it).
//!
//! Polling, not inotify: an NFS client sees no events for writes made by other
//! clients, and a poll also finds what arrived while the server was down.
//!
//! Nothing in DIR is trusted: directory and file names are parsed against
//! kdump's layouts (anything else is left alone), never joined into paths
//! unchecked; symbolic links, hard links and special files are refused; files
//! are opened with `O_NOFOLLOW`.

mod layout;

use crate::api::post_pipeline;
use crate::ingest::{free_enough, Incoming, Kind};
use crate::resume::put_pipeline;
use crate::App;
use axum::body::Body;
use bytes::Bytes;
use coroner_store::Blobs;
use layout::{capture_dir, classify, CaptureDir, Completion, Role};
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How the spool is watched.
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    pub dir: PathBuf,
    /// How often DIR is looked at.
    pub poll: Duration,
    /// A file written under its final name (scp) is whole once unchanged this long.
    pub settle: Duration,
    /// An `-incomplete` file unchanged this long is a failed capture.
    pub stall: Duration,
}

impl SpoolConfig {
    pub fn new(dir: PathBuf) -> SpoolConfig {
        SpoolConfig {
            dir,
            poll: Duration::from_secs(2),
            settle: Duration::from_secs(10),
            stall: Duration::from_secs(600),
        }
    }
}

/// A file as last seen: when its size or time last changed.
struct Seen {
    len: u64,
    mtime: SystemTime,
    since: Instant,
}

/// What the watcher remembers between polls (the database remembers the rest).
#[derive(Default)]
struct Watch {
    seen: HashMap<PathBuf, Seen>,
    /// Names already reported as not kdump's (said once, not every poll).
    warned: HashSet<PathBuf>,
    /// The last error of a file that could not be taken (said when it changes).
    failed: HashMap<PathBuf, String>,
}

/// A file of a capture directory that is ready to be taken.
struct Ready {
    name: String,
    role: Role,
    /// An `-incomplete` file that stopped growing: the capture failed.
    stalled: bool,
}

/// Watches the spool until the server stops.
pub async fn run(app: Arc<App>, spool: SpoolConfig) {
    let mut watch = Watch::default();
    loop {
        if let Err(e) = poll(&app, &spool, &mut watch).await {
            eprintln!("coroner: spool {}: {e}", spool.dir.display());
        }
        tokio::time::sleep(spool.poll).await;
    }
}

/// One look at the spool: every capture directory's ready files are taken.
async fn poll(app: &Arc<App>, spool: &SpoolConfig, watch: &mut Watch) -> Result<(), String> {
    let entries = std::fs::read_dir(&spool.dir).map_err(|e| e.to_string())?;
    let mut alive = HashSet::new();
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path();
        let name = entry.file_name();
        let Some(dir) = name.to_str().and_then(capture_dir) else {
            warn_once(
                watch,
                &path,
                "not a kdump capture directory's name; left alone",
            );
            continue;
        };
        // Not followed: a link could point anywhere on the server.
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => {
                warn_once(
                    watch,
                    &path,
                    "not a directory (links are refused); left alone",
                );
                continue;
            }
            Err(_) => continue,
        }
        let name = name.to_str().expect("checked above").to_string();
        let ready = scan_dir(spool, watch, &path, &dir, &mut alive);
        for file in ready {
            let file_path = path.join(&file.name);
            match take(app, spool, &path, &name, &dir, &file).await {
                Ok(()) => {
                    watch.failed.remove(&file_path);
                }
                Err(e) => {
                    if watch.failed.get(&file_path) != Some(&e) {
                        eprintln!(
                            "coroner: spool {name}/{}: {e} (tried again each poll)",
                            file.name
                        );
                        watch.failed.insert(file_path, e);
                    }
                }
            }
        }
        remove_if_done(spool, &path, watch);
    }
    watch.seen.retain(|path, _| alive.contains(path));
    watch.failed.retain(|path, _| alive.contains(path));
    Ok(())
}

/// The files of a capture directory ready to be taken, logs before dumps
/// (the crash is made from its log, as kdump sends it first), and a dump only
/// when no log of its directory is still arriving.
fn scan_dir(
    spool: &SpoolConfig,
    watch: &mut Watch,
    path: &Path,
    dir: &CaptureDir,
    alive: &mut HashSet<PathBuf>,
) -> Vec<Ready> {
    let Ok(entries) = std::fs::read_dir(path) else {
        return Vec::new();
    };
    let mut ready = Vec::new();
    let mut log_pending = false;
    for entry in entries.flatten() {
        let file = entry.path();
        let Some((name, role, completion)) = entry
            .file_name()
            .to_str()
            .and_then(|n| classify(dir, n).map(|(r, c)| (n.to_string(), r, c)))
        else {
            warn_once(watch, &file, "not a file kdump writes; left alone");
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(&file) else {
            continue;
        };
        if !meta.file_type().is_file() || meta.nlink() != 1 {
            warn_once(
                watch,
                &file,
                "not a plain file with one link (links and special files are refused); left alone",
            );
            continue;
        }
        alive.insert(file.clone());
        let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let now = Instant::now();
        let seen = watch.seen.entry(file).or_insert(Seen {
            len: meta.len(),
            mtime,
            since: now,
        });
        if seen.len != meta.len() || seen.mtime != mtime {
            *seen = Seen {
                len: meta.len(),
                mtime,
                since: now,
            };
        }
        let quiet = now.duration_since(seen.since);
        let (is_ready, stalled) = match completion {
            Completion::Renamed => (true, false),
            Completion::Settled => (quiet >= spool.settle, false),
            Completion::Incomplete => (quiet >= spool.stall, true),
        };
        if role == Role::Log && !is_ready {
            log_pending = true;
        }
        if is_ready {
            ready.push(Ready {
                name,
                role,
                stalled,
            });
        }
    }
    if log_pending {
        ready.retain(|r| r.role == Role::Log);
    }
    // Logs, then dumps, then the capture kernel's log (sent last by kdump).
    ready.sort_by_key(|r| match r.role {
        Role::Log => 0,
        Role::Dump => 1,
        Role::CaptureLog => 2,
    });
    ready
}

fn warn_once(watch: &mut Watch, path: &Path, why: &str) {
    if watch.warned.insert(path.to_path_buf()) {
        eprintln!("coroner: spool: {}: {why}", path.display());
    }
}

/// Takes one ready file into the pipeline, records it, and removes it from the
/// spool.
async fn take(
    app: &Arc<App>,
    spool: &SpoolConfig,
    path: &Path,
    dir_name: &str,
    dir: &CaptureDir,
    file: &Ready,
) -> Result<(), String> {
    let db = &app.db;
    let file_path = path.join(&file.name);
    if db
        .spool_taken(dir_name, &file.name)
        .await
        .map_err(|e| e.to_string())?
    {
        // Taken before a stop that came before its removal.
        return std::fs::remove_file(&file_path).map_err(|e| e.to_string());
    }
    let (opened, bytes) = open_plain(&file_path)?;
    let limits = app.config.limits;
    if !free_enough(&app.blobs, bytes, limits.keep_free)? {
        // Left in the spool: taken when there is room.
        return Err(format!(
            "{bytes} bytes would leave the store under --keep-free; left in the spool"
        ));
    }
    let crash = db.spool_crash(dir_name).await.map_err(|e| e.to_string())?;
    if bytes == 0 {
        // Nothing arrived (the collector died at once): no body for the
        // pipeline; the crash, if its log made one, says so.
        if let Some(id) = &crash {
            flag(app, id, &stalled(spool, file, 0)).await?;
        }
        db.spool_take(dir_name, &file.name, crash.as_deref(), 0)
            .await
            .map_err(|e| e.to_string())?;
        return std::fs::remove_file(&file_path)
            .map_err(|e| format!("removing it from the spool: {e}"));
    }
    let body = file_body(opened);
    let mut kept = None;
    let id = match (file.role, crash) {
        (Role::Log | Role::CaptureLog, None) => {
            let incoming = Incoming::start(body, limits.idle)
                .await
                .map_err(|e| e.message)?;
            let id = new_crash(app, dir, incoming, Kind::Log, limits.log).await?;
            db.spool_link(dir_name, &id)
                .await
                .map_err(|e| e.to_string())?;
            if file.role == Role::CaptureLog {
                let why = "no kernel log and no dump arrived, only the capture kernel's \
                           log (kexec-dmesg.log), triaged here: the capture failed early";
                flag(app, &id, why).await?;
            }
            id
        }
        (Role::Dump, None) => {
            // Forced to a dump whatever its first bytes (an outer compression
            // makes it unreadable, which its analysis then says).
            let incoming = Incoming::start(body, limits.idle)
                .await
                .map_err(|e| e.message)?;
            let id = new_crash(app, dir, incoming, Kind::Dump, limits.dump).await?;
            db.spool_link(dir_name, &id)
                .await
                .map_err(|e| e.to_string())?;
            id
        }
        (Role::Dump, Some(id)) => {
            let incoming = Incoming::start(body, limits.idle)
                .await
                .map_err(|e| e.message)?;
            let _stored = put_pipeline(app.clone(), id.clone(), incoming, 0, limits.dump)
                .await
                .map_err(|e| e.message)?;
            id
        }
        (Role::CaptureLog, Some(id)) => {
            kept = Some(keep_capture_log(app, &id, body).await?);
            id
        }
        (Role::Log, Some(id)) => {
            eprintln!(
                "coroner: spool {dir_name}/{}: a second kernel log for crash {id}; left alone",
                file.name
            );
            return Ok(());
        }
    };
    if file.stalled {
        flag(app, &id, &stalled(spool, file, bytes)).await?;
    }
    record_capture(app, &id, dir_name, dir, file, bytes, kept).await?;
    db.spool_take(dir_name, &file.name, Some(&id), bytes)
        .await
        .map_err(|e| e.to_string())?;
    std::fs::remove_file(&file_path).map_err(|e| format!("removing it from the spool: {e}"))
}

fn stalled(spool: &SpoolConfig, file: &Ready, bytes: u64) -> String {
    if bytes == 0 {
        return format!(
            "kdump's capture did not finish: {} arrived empty, nothing of it was written",
            file.name
        );
    }
    format!(
        "kdump's capture did not finish: {} stopped growing at {bytes} bytes and was never \
         renamed (no change for {} s); kept as it is, and what it holds was read",
        file.name,
        spool.stall.as_secs()
    )
}

/// Posts a spooled file as a new crash of the directory's host; its id.
async fn new_crash(
    app: &Arc<App>,
    dir: &CaptureDir,
    incoming: Incoming,
    kind: Kind,
    limit: u64,
) -> Result<String, String> {
    let (_, reply) = post_pipeline(app.clone(), dir.host.clone(), incoming, kind, limit)
        .await
        .map_err(|e| e.message)?;
    reply.0["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "the pipeline gave no crash id".to_string())
}

/// Records a failed capture on the crash (so its state ends `failed`, with what
/// was read kept).
async fn flag(app: &App, crash: &str, why: &str) -> Result<(), String> {
    app.db
        .flag_failed(crash, "capture", why)
        .await
        .map_err(|e| e.to_string())
}

/// Keeps the capture kernel's log beside the crash; its key
/// (`crashes/<id>/kexec-dmesg.log`).
async fn keep_capture_log(app: &App, crash: &str, body: Body) -> Result<String, String> {
    let key = Blobs::key(crash, "kexec-dmesg.log");
    let incoming = Incoming::start(body, app.config.limits.idle)
        .await
        .map_err(|e| e.message)?;
    let writer = app.blobs.writer(&key).await.map_err(|e| e.to_string())?;
    incoming
        .store(writer, app.config.limits.log)
        .await
        .map_err(|e| e.to_string())?;
    Ok(key)
}

/// The crash's `capture` fact: where it came from, file by file.
async fn record_capture(
    app: &App,
    crash: &str,
    dir_name: &str,
    dir: &CaptureDir,
    file: &Ready,
    bytes: u64,
    kept: Option<String>,
) -> Result<(), String> {
    let db = &app.db;
    let record = db.crash(crash).await.map_err(|e| e.to_string())?;
    let previous = record
        .as_ref()
        .and_then(|c| c.facts.iter().find(|(name, _)| name == "capture"))
        .and_then(|(_, doc)| serde_json::from_str::<serde_json::Value>(doc).ok());
    let mut files = previous
        .as_ref()
        .and_then(|p| p["files"].as_array().cloned())
        .unwrap_or_default();
    let mut entry = serde_json::json!({
        "name": file.name,
        "role": match file.role {
            Role::Log => "log",
            Role::Dump => "vmcore",
            Role::CaptureLog => "capture-log",
        },
        "bytes": bytes,
        "complete": !file.stalled,
    });
    if let Some(key) = kept {
        entry["key"] = key.into();
    }
    files.push(entry);
    let doc = serde_json::json!({
        "schema": "coroner.capture/1",
        "source": "spool",
        "directory": dir_name,
        "layout": dir.layout.name(),
        "host": dir.host,
        "stamp": dir.stamp,
        "files": files,
    });
    db.put_fact(crash, "capture", &doc.to_string())
        .await
        .map_err(|e| e.to_string())
}

/// Opens a spool file without following links, and checks again on the open
/// file that it is a plain file with one link (the name may have changed since
/// it was looked at). Non-blocking, so a FIFO put there cannot hang the server.
fn open_plain(path: &Path) -> Result<(std::fs::File, u64), String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot open it: {e}"))?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.file_type().is_file() || meta.nlink() != 1 {
        return Err("not a plain file with one link; refused".into());
    }
    Ok((file, meta.len()))
}

/// A file's bytes as a request body, read in 1 MiB chunks.
fn file_body(file: std::fs::File) -> Body {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::from_std(file);
    let chunks = futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 1 << 20];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Body::from_stream(chunks)
}

/// Removes a capture directory that is empty and has not changed for `stall`
/// (kdump writes `kexec-dmesg.log` after the dump, so an empty directory is not
/// yet a finished one).
fn remove_if_done(spool: &SpoolConfig, path: &Path, watch: &mut Watch) {
    let empty = std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none());
    let old = std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age >= spool.stall);
    if empty && old && std::fs::remove_dir(path).is_ok() {
        watch.warned.remove(path);
    }
}
