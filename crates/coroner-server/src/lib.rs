//! `coroner serve`: the fleet server. Hosts send kernel logs and dumps over HTTP
//! with per-host upload tokens; each crash goes through the pipeline (store the
//! bytes under a server-made key → triage → signature → problem and counters →
//! for a dump, its facts read with the same report code as the CLI), every stage
//! recorded with its status, duration and reason. Viewers read crashes and
//! problems with viewer tokens. Storage is coroner-store's.

mod analysis;
mod api;
mod auth;
mod config;
mod error;
mod ingest;
mod nodes;
mod push;
mod resume;
mod spool;
mod triage;
mod view;
mod web;
mod worker;

pub use config::{default_data_dir, Config, Limits};
pub use push::{push, Push};
pub use spool::SpoolConfig;

use coroner_store::{Db, Role};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What a run of the server shares between requests and the worker.
pub(crate) struct App {
    pub db: Db,
    pub blobs: coroner_store::Blobs,
    pub config: Config,
    pub kb: Arc<coroner_triage::KnowledgeBase>,
    /// Wakes the worker when a job is queued.
    pub jobs: tokio::sync::Notify,
    /// Dumps opened at once for a POST's triage (each maps its file and reads
    /// its log): bounds the blocking work that uploads can cause.
    pub dump_opens: tokio::sync::Semaphore,
    /// Uploads in progress at once (each holds a few stream parts in memory).
    pub uploads: Arc<tokio::sync::Semaphore>,
}

/// Runs the server until SIGINT or SIGTERM, on a runtime of its own (the caller
/// needs none).
pub fn serve(config: Config) -> Result<(), String> {
    runtime()?.block_on(async move {
        let server = start(config).await?;
        // Tests and scripts read the bound port from this line.
        eprintln!("coroner: listening on http://{}", server.addr());
        shutdown_signal().await;
        server.stop().await
    })
}

/// A running server: its HTTP front and its worker.
pub struct Server {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

impl Server {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking requests, lets those in flight finish, and closes the storage.
    pub async fn stop(self) -> Result<(), String> {
        // The task is gone only if it ended by itself: its result says why.
        let _ = self.stop.send(());
        self.task
            .await
            .map_err(|e| format!("the server stopped: {e}"))?
    }
}

/// Opens the storage, finishes what a previous run left (interrupted jobs
/// requeued, cut-off uploads marked), and serves `config.listen`.
pub async fn start(config: Config) -> Result<Server, String> {
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("{}: cannot listen: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = open(config).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(app, listener, async {
        let _ = stopped.await;
    }));
    Ok(Server { addr, stop, task })
}

/// Makes a token in the configured database and returns it (on a runtime of
/// its own).
pub fn create_token(config: &Config, role: &str, host: Option<&str>) -> Result<String, String> {
    let role =
        Role::parse(role).ok_or_else(|| format!("{role}: the role is upload, viewer or admin"))?;
    runtime()?.block_on(async {
        let db = config.database().await.map_err(|e| e.to_string())?;
        let token = db.create_token(role, host).await.map_err(|e| e.to_string());
        db.close().await;
        token
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))
}

/// Opens the storage and finishes what a stop left: requeues interrupted jobs,
/// marks cut-off uploads.
async fn open(config: Config) -> Result<Arc<App>, String> {
    let kb = coroner_triage::KnowledgeBase::builtin().map_err(|e| e.to_string())?;
    let db = config.database().await.map_err(|e| e.to_string())?;
    let blobs = config.blobs().map_err(|e| e.to_string())?;
    if let Some(spool) = &config.spool {
        std::fs::create_dir_all(&spool.dir)
            .map_err(|e| format!("--spool {}: {e}", spool.dir.display()))?;
    }
    db.heartbeat().await.map_err(|e| e.to_string())?;
    let (requeued, cut) = db.recover().await.map_err(|e| e.to_string())?;
    let staged = blobs.remove_staging().map_err(|e| e.to_string())?;
    if requeued + cut > 0 || staged > 0 {
        eprintln!(
            "coroner: restart: {requeued} jobs requeued, {cut} cut-off uploads marked failed, \
             {staged} partial files removed"
        );
    }
    let uploads = Arc::new(tokio::sync::Semaphore::new(config.limits.uploads));
    Ok(Arc::new(App {
        uploads,
        db,
        blobs,
        config,
        kb: Arc::new(kb),
        jobs: tokio::sync::Notify::new(),
        dump_opens: tokio::sync::Semaphore::new(2),
    }))
}

/// Serves `listener` and runs the worker until `stop` resolves.
async fn run(
    app: Arc<App>,
    listener: TcpListener,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let worker = tokio::spawn(worker::run(app.clone()));
    let spool = app
        .config
        .spool
        .clone()
        .map(|spool| tokio::spawn(spool::run(app.clone(), spool)));
    let housekeeping = tokio::spawn(web::housekeeping(app.clone()));
    let served = axum::serve(listener, api::router(app.clone()))
        .with_graceful_shutdown(stop)
        .await
        .map_err(|e| format!("serving: {e}"));
    worker.abort();
    if let Some(spool) = spool {
        spool.abort();
    }
    housekeeping.abort();
    app.db.close().await;
    served
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
