//! A real server on 127.0.0.1 (any free port) over a temporary data directory,
//! and an HTTP client for it.

#![allow(dead_code)] // each test file uses its own part

use coroner_server::{create_token, Config, Server};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

pub struct Harness {
    pub rt: Runtime,
    server: Option<Server>,
    pub base: String,
    pub config: Config,
    pub dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl Harness {
    pub fn start(tune: impl FnOnce(&mut Config)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("data"));
        config.listen = "127.0.0.1:0".into();
        tune(&mut config);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(coroner_server::start(config.clone())).unwrap();
        let base = format!("http://{}", server.addr());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        Harness {
            rt,
            server: Some(server),
            base,
            config,
            dir,
            client,
        }
    }

    /// A new token (made in the server's database while it runs, as an admin would).
    pub fn token(&self, role: &str, host: Option<&str>) -> String {
        let config = self.config.clone();
        let (role, host) = (role.to_string(), host.map(str::to_string));
        std::thread::spawn(move || create_token(&config, &role, host.as_deref()))
            .join()
            .unwrap()
            .unwrap()
    }

    /// Sends a request; returns the status and the JSON body (`Null` if none).
    pub fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<reqwest::Body>,
    ) -> (StatusCode, Value) {
        self.rt.block_on(async {
            let mut req = self.client.request(method, format!("{}{path}", self.base));
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            if let Some(body) = body {
                req = req.body(body);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status();
            let bytes = resp.bytes().await.unwrap();
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        })
    }

    pub fn post(&self, token: &str, body: Vec<u8>) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/api/v1/crashes",
            Some(token),
            Some(body.into()),
        )
    }

    pub fn get(&self, token: &str, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, Some(token), None);
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// The crash once its pipeline has ended (state `done` or `failed`).
    pub fn settled(&self, viewer: &str, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let crash = self.get(viewer, &format!("/api/v1/crashes/{id}"));
            if matches!(crash["state"].as_str(), Some("done" | "failed" | "triaged")) {
                return crash;
            }
            assert!(
                Instant::now() < deadline,
                "crash {id} never settled: {crash}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Every file under the data directory, relative to it.
    pub fn files(&self) -> Vec<PathBuf> {
        let root = self.config.data.clone();
        let mut out = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    out.push(path.strip_prefix(&root).unwrap().to_path_buf());
                }
            }
        }
        out.sort();
        out
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = self.rt.block_on(server.stop());
        }
    }
}

/// The workspace's root (fixtures are at `../shared` beside it).
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn example_dump() -> PathBuf {
    workspace().join("examples/sysrq-6.1-small.kdump-zstd")
}
