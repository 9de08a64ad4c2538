//! The store's rules on both databases: SQLite in a temporary directory and a
//! throw-away PostgreSQL cluster (CORONER_SKIP_POSTGRES=1 skips that one).

use coroner_store::{Db, Occurrence, Role, Sampling};

fn on_both(test: &str, check: impl AsyncFn(Db)) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async { check(Db::open_dir(dir.path()).await.unwrap()).await });
    if let Some(pg) = coroner_testdata::postgres::cluster_or_skip(test) {
        rt.block_on(async { check(Db::connect(&pg.url).await.unwrap()).await });
    }
}

/// As [`on_both`], with the database's URL, to open it again as a new node
/// would (a restart).
fn on_both_urls(test: &str, check: impl AsyncFn(String)) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("coroner.db").display()
    );
    rt.block_on(check(sqlite));
    if let Some(pg) = coroner_testdata::postgres::cluster_or_skip(test) {
        rt.block_on(check(pg.url.clone()));
    }
}

fn occurrence<'a>(crash: &'a str, host: &'a str, release: &'a str, at: i64) -> Occurrence<'a> {
    Occurrence {
        crash,
        signature: "0123456789abcdef",
        version: "coroner-signature-v1",
        title: "BUG: something",
        class: Some("bug"),
        host,
        release: Some(release),
        at,
    }
}

#[test]
fn sampling_and_counters() {
    on_both("sampling_and_counters", async |db: Db| {
        let sampling = Sampling {
            first: 2,
            interval: 3600,
        };
        let t0 = 1_800_000_000;
        let mut wanted = Vec::new();
        // (host, release, seconds after t0)
        let seen = [
            ("a", "6.1", 0),    // first
            ("a", "6.1", 10),   // second
            ("a", "6.1", 20),   // sampled out
            ("b", "6.1", 30),   // new host
            ("b", "6.2", 40),   // new release
            ("b", "6.2", 50),   // sampled out
            ("a", "6.1", 3700), // an hour after the last one wanted
        ];
        let mut problem = None;
        for (host, release, dt) in seen {
            let crash = db.insert_crash(host, "log").await.unwrap();
            let assigned = db
                .assign(&occurrence(&crash, host, release, t0 + dt), sampling)
                .await
                .unwrap();
            assert_eq!(
                problem.get_or_insert(assigned.problem.clone()),
                &assigned.problem
            );
            wanted.push(assigned.want_vmcore);
            let stored = db.crash(&crash).await.unwrap().unwrap();
            assert_eq!(stored.problem.as_deref(), Some(assigned.problem.as_str()));
            assert_eq!(
                stored.signature_version.as_deref(),
                Some("coroner-signature-v1")
            );
        }
        assert_eq!(wanted, [true, true, false, true, true, false, true]);
        let problem = problem.unwrap();
        let listed = db.problems().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].count, 7);
        assert_eq!(listed[0].hosts, ["a", "b"]);
        assert_eq!(listed[0].signatures, ["0123456789abcdef"]);
        assert_eq!((listed[0].first_seen, listed[0].last_seen), (t0, t0 + 3700));
        let day = "2027-01-15".to_string();
        let c = |r: &str, h: &str, n| (day.clone(), r.to_string(), h.to_string(), n);
        assert_eq!(
            db.counters(&problem).await.unwrap(),
            [c("6.1", "a", 4), c("6.1", "b", 1), c("6.2", "b", 2)]
        );
        db.close().await;
    });
}

#[test]
fn tokens_are_kept_hashed_and_bound_to_their_role() {
    on_both("tokens", async |db: Db| {
        let upload = db.create_token(Role::Upload, Some("web-1")).await.unwrap();
        let viewer = db.create_token(Role::Viewer, None).await.unwrap();
        assert_eq!(upload.len(), 64);
        let who = db.authenticate(&upload).await.unwrap().unwrap();
        assert_eq!(
            (who.role, who.host.as_deref()),
            (Role::Upload, Some("web-1"))
        );
        let who = db.authenticate(&viewer).await.unwrap().unwrap();
        assert_eq!((who.role, who.host), (Role::Viewer, None));
        assert!(db.authenticate(&"0".repeat(64)).await.unwrap().is_none());
        assert!(db.create_token(Role::Upload, None).await.is_err());
        assert!(db.create_token(Role::Viewer, Some("x")).await.is_err());
        assert!(db.create_token(Role::Upload, Some("../etc")).await.is_err());
        db.close().await;
    });
}

#[test]
fn jobs_survive_a_restart_and_cut_uploads_are_marked() {
    on_both_urls("jobs", async |url: String| {
        let db = Db::connect(&url).await.unwrap();
        let done = db.insert_crash("a", "log").await.unwrap();
        assert!(db.vmcore_receiving(&done, "k1").await.unwrap());
        assert!(
            !db.vmcore_receiving(&done, "k1").await.unwrap(),
            "one upload at a time"
        );
        db.vmcore_stored(&done, 42).await.unwrap();
        let cut = db.insert_crash("a", "log").await.unwrap();
        assert!(db.vmcore_receiving(&cut, "k2").await.unwrap());

        let job = db.claim_job().await.unwrap().unwrap();
        assert_eq!(job.crash, done);
        assert!(
            db.claim_job().await.unwrap().is_none(),
            "a claimed job is taken"
        );
        // The node that holds them takes nothing away from itself.
        assert_eq!(db.recover().await.unwrap(), (0, 0));
        // A stop here, then a start (a new node): the running job goes back,
        // the arriving vmcore is cut off.
        db.close().await;
        let db = Db::connect(&url).await.unwrap();
        assert_eq!(db.recover().await.unwrap(), (1, 1));
        let c = db.crash(&cut).await.unwrap().unwrap();
        assert_eq!(
            (c.state.as_str(), c.vmcore_state.as_str()),
            ("failed", "failed")
        );
        assert!(c.stages[0].reason.as_deref().unwrap().contains("cut off"));
        let again = db.claim_job().await.unwrap().unwrap();
        assert_eq!(again, job);
        db.finish_job(&again).await.unwrap();
        assert!(db.claim_job().await.unwrap().is_none());
        assert_eq!(db.recover().await.unwrap(), (0, 0));
        db.close().await;
    });
}
