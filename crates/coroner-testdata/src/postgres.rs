//! A throw-away PostgreSQL cluster for tests: Debian's `initdb` and `pg_ctl`
//! (package `postgresql`), a data directory under the temp dir, listening on
//! 127.0.0.1 at a free port, trust authentication, stopped and removed on drop.
//! As root the cluster runs as the `postgres` user (initdb refuses root).
//! PostgreSQL is installed with apt-get when missing (as root), like the tests'
//! other tools.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

const HOW: &str = "PostgreSQL's server is needed: apt-get install postgresql \
                   (set CORONER_SKIP_POSTGRES=1 to skip the PostgreSQL tests)";

pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    /// `postgres://postgres@127.0.0.1:PORT/postgres`
    pub url: String,
}

/// A cluster, or `None` when CORONER_SKIP_POSTGRES=1 (said on stderr); panics
/// saying how to install PostgreSQL when it is missing.
pub fn cluster_or_skip(test: &str) -> Option<Cluster> {
    if std::env::var_os("CORONER_SKIP_POSTGRES").is_some_and(|v| v == "1") {
        eprintln!("{test}: skipped (CORONER_SKIP_POSTGRES=1)");
        return None;
    }
    Some(Cluster::start().unwrap_or_else(|e| panic!("{test}: {e}")))
}

fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

/// Runs a PostgreSQL program (as `postgres` when root).
fn run(bin: &Path, program: &str, args: &[&str]) -> Result<(), String> {
    let path = bin.join(program);
    let mut cmd = if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(&path);
        cmd
    } else {
        Command::new(&path)
    };
    let out = cmd
        .args(args)
        .output()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Cluster {
    pub fn start() -> Result<Cluster, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        // Installed with apt-get when missing, as the tests install their other tools
        // (postgresql-common puts pg_ctlcluster on the PATH).
        if bin_dir().is_none() {
            crate::setup::apt_install(&["pg_ctlcluster"], &["postgresql"])
                .map_err(|e| format!("{HOW}: {e}"))?;
        }
        let bin = bin_dir().ok_or(HOW)?;
        let dir = std::env::temp_dir().join(format!(
            "coroner-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        if is_root() {
            let status = Command::new("chown").arg("postgres:").arg(&dir).status();
            if !status.is_ok_and(|s| s.success()) {
                return Err(format!("chown postgres {}: failed", dir.display()));
            }
        }
        // The cluster is removed on drop even if starting it fails below.
        let mut cluster = Cluster {
            dir,
            bin,
            url: String::new(),
        };
        let data = cluster.dir.join("data");
        let data = data.to_str().ok_or("temp dir is not UTF-8")?.to_string();
        run(
            &cluster.bin,
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
            cluster.dir.display()
        );
        let log = cluster.dir.join("log");
        let log = log.to_str().ok_or("temp dir is not UTF-8")?.to_string();
        run(
            &cluster.bin,
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60", "start",
            ],
        )
        .map_err(|e| format!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default()))?;
        cluster.url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        Ok(cluster)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        if let Some(data) = data.to_str() {
            // Nothing more can be done if it fails: the directory goes anyway.
            let _ = run(
                &self.bin,
                "pg_ctl",
                &["-D", data, "-m", "immediate", "-w", "stop"],
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
