//! `coroner serve`, `coroner token create` and `coroner push`: the fleet server
//! (coroner-server) and its client, built with the `serve` feature.

use coroner_server::{default_data_dir, Config};
use std::path::PathBuf;

// Where the server's data is: a directory (SQLite + local files), or a database
// URL. (No doc comment: clap would take it for the commands' about text.)
#[derive(clap::Args)]
pub struct Storage {
    /// Data directory: `coroner.db` (SQLite) and `blobs/` (the logs and dumps).
    /// Default: $XDG_DATA_HOME/coroner, else ~/.local/share/coroner.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Database instead of DATA/coroner.db: sqlite://PATH or postgres://...
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

impl Storage {
    fn config(&self) -> Config {
        let mut config = Config::new(self.data.clone().unwrap_or_else(default_data_dir));
        config.database.clone_from(&self.database);
        config
    }
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    #[command(flatten)]
    storage: Storage,
    /// Object store for the logs and dumps instead of DATA/blobs: a directory or file:///DIR.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Largest kernel log accepted, in bytes (larger: 413).
    #[arg(long, value_name = "BYTES")]
    max_log: Option<u64>,
    /// Largest dump accepted, in bytes (larger: 413).
    #[arg(long, value_name = "BYTES")]
    max_dump: Option<u64>,
    /// Free bytes the store keeps: an upload that would leave less gets 507
    /// (default 1 GiB).
    #[arg(long, value_name = "BYTES")]
    keep_free: Option<u64>,
    /// Uploads at once (default 64); more get 503.
    #[arg(long, value_name = "N")]
    max_uploads: Option<usize>,
    /// Seconds a client may send nothing before its upload counts as cut off
    /// (default 120).
    #[arg(long, value_name = "SECONDS")]
    idle_timeout: Option<u64>,
    /// vmcores wanted per problem before sampling starts.
    #[arg(long, value_name = "N")]
    sample_first: Option<i64>,
    /// Then at most one vmcore per problem in this many seconds (a release or host
    /// new to the problem is always wanted).
    #[arg(long, value_name = "SECONDS")]
    sample_interval: Option<i64>,
    /// A kdump ssh/NFS target directory to watch (RHEL kdump's and Debian
    /// kdump-tools' layouts): each capture directory becomes a crash.
    #[arg(long, value_name = "DIR")]
    spool: Option<PathBuf>,
    /// Seconds a file written under its final name (scp) must stay unchanged
    /// before it is taken (default 10).
    #[arg(long, value_name = "SECONDS", requires = "spool")]
    spool_settle: Option<u64>,
    /// Seconds after which an `-incomplete` file that stopped growing is a
    /// failed capture: taken, flagged, its log triaged (default 600).
    #[arg(long, value_name = "SECONDS", requires = "spool")]
    spool_stall: Option<u64>,
}

pub fn serve(args: &ServeArgs) -> Result<(), String> {
    let mut config = args.storage.config();
    config.listen.clone_from(&args.listen);
    config.store.clone_from(&args.store);
    if let Some(n) = args.max_log {
        config.limits.log = n;
    }
    if let Some(n) = args.max_dump {
        config.limits.dump = n;
    }
    if let Some(n) = args.max_uploads {
        config.limits.uploads = n;
    }
    if let Some(s) = args.idle_timeout {
        config.limits.idle = std::time::Duration::from_secs(s);
    }
    if let Some(n) = args.keep_free {
        config.limits.keep_free = n;
    }
    if let Some(n) = args.sample_first {
        config.sampling.first = n;
    }
    if let Some(s) = args.sample_interval {
        config.sampling.interval = s;
    }
    if let Some(dir) = &args.spool {
        let mut spool = coroner_server::SpoolConfig::new(dir.clone());
        if let Some(s) = args.spool_settle {
            spool.settle = std::time::Duration::from_secs(s);
        }
        if let Some(s) = args.spool_stall {
            spool.stall = std::time::Duration::from_secs(s);
        }
        config.spool = Some(spool);
    }
    coroner_server::serve(config)
}

#[derive(clap::Args)]
pub struct TokenArgs {
    /// upload (write-only, bound to one host), viewer (read) or admin (read,
    /// download vmcores, manage tokens and problems).
    #[arg(long, value_parser = ["upload", "viewer", "admin"])]
    role: String,
    /// The host an upload token sends crashes as.
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
    #[command(flatten)]
    storage: Storage,
}

/// Makes a token and returns it (shown once: only its hash is stored).
pub fn token_create(args: &TokenArgs) -> Result<String, String> {
    coroner_server::create_token(&args.storage.config(), &args.role, args.host.as_deref())
}

#[derive(clap::Args)]
pub struct PushArgs {
    /// A kernel log (sent and triaged at once) or a dump (sent whole, unless --log).
    file: PathBuf,
    /// The dump's kernel log (vmcore-dmesg.txt, dmesg.<stamp>): sent first, and
    /// the dump after it only if the server wants it.
    #[arg(long, value_name = "LOG")]
    log: Option<PathBuf>,
    /// The fleet server, e.g. https://coroner.example.com
    #[arg(long, value_name = "URL")]
    server: String,
    /// A file holding the upload token (default: the CORONER_TOKEN variable; a
    /// token is never an argument, which `ps` would show).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
}

/// Sends a crash; returns the server's reply as JSON text.
pub fn push(args: &PushArgs) -> Result<String, String> {
    let token = match &args.token_file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .trim()
            .to_string(),
        None => std::env::var("CORONER_TOKEN")
            .map_err(|_| "no token: set CORONER_TOKEN or give --token-file FILE".to_string())?,
    };
    let reply = coroner_server::push(&coroner_server::Push {
        server: &args.server,
        token: &token,
        file: &args.file,
        log: args.log.as_deref(),
    })?;
    Ok(reply.to_string())
}
