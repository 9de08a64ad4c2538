//! The problems page over a fleet's worth of data: 100,000 crashes in 1,000
//! problems (skewed: a few problems hold most crashes), 500 hosts, six RHEL 9
//! releases on two branches, 90 days. The crashes are grouped through the
//! store's own `assign` (the pipeline's grouping, with its counters), on SQLite
//! in `/dev/shm` when there is one (so that generating them is not a test of
//! the disk's fsync). Then the server answers the pages on loopback and the
//! table gives each page's time (median and 95th percentile of 20).
//!
//! `cargo bench -p coroner-server --bench dashboard [-- CRASHES PROBLEMS]`

use coroner_server::{create_token, Config};
use coroner_store::{Db, Occurrence, Sampling};
use std::time::{Duration, Instant};

const HOSTS: usize = 500;
const DAYS: i64 = 90;
const RELEASES: [&str; 6] = [
    "5.14.0-427.13.1.el9_4.x86_64",
    "5.14.0-427.24.1.el9_4.x86_64",
    "5.14.0-427.40.1.el9_4.x86_64",
    "5.14.0-503.11.1.el9_5.x86_64",
    "5.14.0-503.15.1.el9_5.x86_64",
    "5.14.0-503.22.1.el9_5.x86_64",
];
const CLASSES: [&str; 5] = ["null-deref", "bug", "gpf", "soft-lockup", "warning"];

/// A small deterministic generator (xorshift), so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Skewed towards 0: problem k is picked about 1/(k+1) as often.
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (((n as f64 + 1.0).powf(u) - 1.0) as usize).min(n - 1)
    }
}

async fn generate(db: &Db, crashes: usize, problems: usize) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let now = coroner_store::now();
    let titles: Vec<String> = (0..problems)
        .map(|p| format!("BUG: unable to handle page fault in driver_{p}_work"))
        .collect();
    let signatures: Vec<String> = (0..problems).map(|p| format!("{p:016x}")).collect();
    let hosts: Vec<String> = (0..HOSTS).map(|h| format!("web-{h:03}")).collect();
    let started = Instant::now();
    for n in 0..crashes {
        let p = rng.skewed(problems);
        let host = &hosts[rng.below(HOSTS)];
        let crash = db.insert_crash(host, "log").await.unwrap();
        let occurrence = Occurrence {
            crash: &crash,
            signature: &signatures[p],
            version: "coroner-signature-v1",
            title: &titles[p],
            class: Some(CLASSES[p % CLASSES.len()]),
            host,
            release: Some(RELEASES[rng.below(RELEASES.len())]),
            at: now - (rng.below((DAYS * 86_400) as usize) as i64),
        };
        db.assign(&occurrence, Sampling::default()).await.unwrap();
        if n % 10_000 == 9_999 {
            eprintln!(
                "  {} crashes grouped ({:.0}/s)",
                n + 1,
                (n + 1) as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let crashes = args.first().copied().unwrap_or(100_000);
    let problems = args.get(1).copied().unwrap_or(1_000);
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let mut config = Config::new(dir.path().join("data"));
    config.listen = "127.0.0.1:0".into();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    eprintln!(
        "generating {crashes} crashes in {problems} problems in {}",
        dir.path().display()
    );
    let started = Instant::now();
    rt.block_on(async {
        std::fs::create_dir_all(&config.data).unwrap();
        let db = Db::open_dir(&config.data).await.unwrap();
        generate(&db, crashes, problems).await;
        db.close().await;
    });
    let generated = started.elapsed();
    let viewer = create_token(&config, "viewer", None).unwrap();
    let server = rt.block_on(coroner_server::start(config.clone())).unwrap();
    let base = format!("http://{}", server.addr());
    let client = reqwest::Client::new();

    let pages = [
        ("problems page (default: active, last seen)", "/"),
        ("sorted by crashes", "/?sort=count"),
        ("sorted by hosts", "/?sort=hosts"),
        ("branch 5.14.0-427", "/?release=5.14.0-427"),
        ("host group web-1*", "/?host=web-1*"),
        ("last 7 days", "/?from=DAY7"),
        ("text search", "/?q=driver_42_"),
        ("page 10", "/?page=10"),
        ("JSON twin, 50 a page", "/api/v1/problems?per_page=50"),
        ("a problem's page", "/problems/TOP"),
    ];
    let day7 = coroner_report_day(coroner_store::now() - 7 * 86_400);
    let top = rt.block_on(async {
        let doc: serde_json::Value = client
            .get(format!("{base}/api/v1/problems?sort=count&per_page=1"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        doc["problems"][0]["id"].as_str().unwrap().to_string()
    });
    println!(
        "\n{crashes} crashes, {problems} problems, {HOSTS} hosts, {} releases, {DAYS} days (generated in {:.0} s)\n",
        RELEASES.len(),
        generated.as_secs_f64()
    );
    println!("| page | median ms | p95 ms | bytes |");
    println!("|---|---|---|---|");
    for (name, path) in pages {
        let path = path.replace("DAY7", &day7).replace("TOP", &top);
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..20 {
            let t = Instant::now();
            let body = rt.block_on(async {
                let r = client
                    .get(format!("{base}{path}"))
                    .bearer_auth(&viewer)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{path}: {}", r.status());
                r.bytes().await.unwrap()
            });
            times.push(t.elapsed());
            bytes = body.len();
        }
        times.sort();
        println!(
            "| {name} (`{path}`) | {:.1} | {:.1} | {bytes} |",
            percentile(&times, 0.5),
            percentile(&times, 0.95)
        );
    }
    rt.block_on(server.stop()).unwrap();
}

fn coroner_report_day(at: i64) -> String {
    coroner_report::time::utc_iso8601(at)[..10].to_string()
}
