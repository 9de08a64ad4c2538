//! A bounded load test on loopback: many hosts posting logs at once, then large
//! dumps streamed at once, then the example dump from upload to facts. Prints
//! the figures (the README quotes them) and holds the server to its bounds.

mod common;

use bytes::Bytes;
use common::{example_dump, Harness};
use futures::StreamExt;
use reqwest::StatusCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HOSTS: usize = 16;
const LOGS_PER_HOST: usize = 12;
const BIG_DUMPS: usize = 2;
const BIG_DUMP_MIB: usize = 512;

/// This process's resident memory, in bytes (the server runs in it).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[test]
fn many_hosts_and_big_dumps_at_once() {
    let h = Harness::start(|_| {});
    let viewer = h.token("viewer", None);
    let tokens: Vec<String> = (0..HOSTS)
        .map(|i| h.token("upload", Some(&format!("host-{i}"))))
        .collect();
    let fixtures = coroner_testdata::fixtures_dir();
    let logs: Vec<Bytes> = ["sysrq", "mod-null", "kdump-sysrq"]
        .iter()
        .flat_map(|c| ["console.log", "dmesg.makedumpfile.txt"].map(|f| fixtures.join(c).join(f)))
        .map(|p| Bytes::from(std::fs::read(p).unwrap()))
        .collect();
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/crashes", h.base);

    // Phase 1: every host posts its logs, all hosts at once.
    let started = Instant::now();
    let mut latencies: Vec<Duration> = h.rt.block_on(async {
        let tasks = tokens.iter().enumerate().map(|(i, token)| {
            let (client, url, token, logs) =
                (client.clone(), url.clone(), token.clone(), logs.clone());
            tokio::spawn(async move {
                let mut took = Vec::new();
                for n in 0..LOGS_PER_HOST {
                    let body = logs[(i + n) % logs.len()].clone();
                    let t = Instant::now();
                    let resp = client
                        .post(&url)
                        .bearer_auth(&token)
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    let status = resp.status();
                    let reply: serde_json::Value = resp.json().await.unwrap();
                    assert_eq!(status, StatusCode::CREATED, "{reply}");
                    assert!(reply["problem"].is_string(), "{reply}");
                    took.push(t.elapsed());
                }
                took
            })
        });
        let mut all = Vec::new();
        for t in futures::future::join_all(tasks).await {
            all.extend(t.unwrap());
        }
        all
    });
    let elapsed = started.elapsed();
    latencies.sort();
    let posted = latencies.len();
    let problems = h.get(&viewer, "/api/v1/problems");
    let counted: i64 = problems["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    assert_eq!(counted as usize, posted, "every post counted once");
    eprintln!(
        "load: {posted} logs from {HOSTS} hosts at once in {:.2} s: {:.0} logs/s; \
         reply (triaged and grouped) p50 {} ms, p95 {} ms, max {} ms",
        elapsed.as_secs_f64(),
        posted as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5).as_millis(),
        percentile(&latencies, 0.95).as_millis(),
        latencies.last().unwrap().as_millis(),
    );

    // Phase 2: big dumps streamed at once; the resident memory they add.
    let base = rss();
    let peak = Arc::new(AtomicU64::new(base));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let started = Instant::now();
    h.rt.block_on(async {
        let tasks = (0..BIG_DUMPS).map(|i| {
            let (client, url, token) = (client.clone(), url.clone(), tokens[i].clone());
            tokio::spawn(async move {
                let mut head = vec![0u8; 1 << 20];
                head[..8].copy_from_slice(b"KDUMP   ");
                let (head, zeros) = (Bytes::from(head), Bytes::from(vec![0u8; 1 << 20]));
                let chunks = futures::stream::iter(0..BIG_DUMP_MIB).map(move |n| {
                    Ok::<_, std::io::Error>(if n == 0 { head.clone() } else { zeros.clone() })
                });
                let resp = client
                    .post(&url)
                    .bearer_auth(&token)
                    .body(reqwest::Body::wrap_stream(chunks))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), StatusCode::CREATED);
            })
        });
        for t in futures::future::join_all(tasks).await {
            t.unwrap();
        }
    });
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let per_upload = peak.load(Ordering::Relaxed).saturating_sub(base) / BIG_DUMPS as u64;
    eprintln!(
        "load: {BIG_DUMPS} dumps of {BIG_DUMP_MIB} MiB at once in {:.2} s ({:.0} MiB/s in all); \
         resident memory added: {:.1} MiB per upload",
        elapsed.as_secs_f64(),
        (BIG_DUMPS * BIG_DUMP_MIB) as f64 / elapsed.as_secs_f64(),
        per_upload as f64 / (1 << 20) as f64
    );
    assert!(
        per_upload < 64 << 20,
        "memory per upload: {per_upload} bytes"
    );

    // Phase 3: the example dump, from its upload complete to its facts attached.
    let upload = &tokens[0];
    let (status, reply) = h.post(upload, std::fs::read(example_dump()).unwrap());
    assert_eq!(status, StatusCode::CREATED);
    let acknowledged = Instant::now();
    let crash = h.settled(&viewer, reply["id"].as_str().unwrap());
    let took = acknowledged.elapsed();
    assert_eq!(crash["state"], "done", "{crash}");
    eprintln!(
        "load: example dump ({} MiB): facts attached {} ms after its 201",
        std::fs::metadata(example_dump()).unwrap().len() >> 20,
        took.as_millis()
    );
}
