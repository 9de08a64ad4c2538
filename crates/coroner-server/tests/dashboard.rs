//! The dashboard over HTTP: fixture logs and a dump posted, then the pages and
//! their JSON twins read as viewers see them, the permissions (upload tokens
//! read nothing, downloads need their own permission), the filters, and the
//! decisions (merge with its redirect, split, fixed → regressed).

mod common;

use common::{example_dump, Harness};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A raw answer: status, `Location`, body text. Redirects are not followed.
fn fetch(
    h: &Harness,
    method: Method,
    path: &str,
    token: Option<&str>,
    form: &[(&str, &str)],
) -> (StatusCode, String, String) {
    h.rt.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut req = client.request(method, format!("{}{path}", h.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if !form.is_empty() {
            let body: Vec<String> = form.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.join("&"));
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, location, resp.text().await.unwrap())
    })
}

fn page(h: &Harness, token: &str, path: &str) -> String {
    let (status, _, body) = fetch(h, Method::GET, path, Some(token), &[]);
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

fn json(h: &Harness, token: &str, path: &str) -> Value {
    serde_json::from_str(&page(h, token, path)).unwrap()
}

fn act(h: &Harness, token: &str, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let (status, _, body) = fetch(h, Method::POST, path, Some(token), form);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn fixture_log(case: &str) -> Vec<u8> {
    std::fs::read(
        coroner_testdata::fixtures_dir()
            .join(case)
            .join("dmesg.makedumpfile.txt"),
    )
    .unwrap()
}

fn with_release(log: &[u8], release: &str) -> Vec<u8> {
    String::from_utf8_lossy(log)
        .replace("6.1.0-56-amd64", release)
        .into_bytes()
}

#[test]
fn pages_permissions_filters_and_decisions() {
    pages_permissions_filters_and_decisions_on(&Harness::start(|_| {}));
}

#[test]
fn the_same_on_postgresql() {
    let Some(pg) = coroner_testdata::postgres::cluster_or_skip("the_same_on_postgresql") else {
        return;
    };
    let h = Harness::start(|c| c.database = Some(pg.url.clone()));
    pages_permissions_filters_and_decisions_on(&h);
    drop(h);
}

fn pages_permissions_filters_and_decisions_on(h: &Harness) {
    let viewer = h.token("viewer", None);
    let admin = h.token("admin", None);
    let web1 = h.token("upload", Some("web-1"));
    let db2 = h.token("upload", Some("db-2"));

    let post = |token: &str, body: Vec<u8>| {
        let (status, reply) = h.post(token, body);
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        reply
    };
    let sysrq = post(&web1, fixture_log("sysrq"));
    post(&db2, fixture_log("sysrq"));
    let null = post(&db2, fixture_log("mod-null"));
    let dump = post(&web1, std::fs::read(example_dump()).unwrap());
    let dump_crash = dump["id"].as_str().unwrap();
    let settled = h.settled(&viewer, dump_crash);
    assert!(settled["facts"]["bt"].is_object(), "{settled}");
    let (p_sysrq, p_null) = (
        sysrq["problem"].as_str().unwrap(),
        null["problem"].as_str().unwrap(),
    );
    assert_ne!(p_sysrq, p_null);

    // Who may read: viewers (token or session), not upload tokens, not nobody.
    let (status, location, _) = fetch(h, Method::GET, "/", None, &[]);
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/login?next=/");
    let (status, _, body) = fetch(h, Method::GET, "/", Some(&web1), &[]);
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("upload token only sends crashes"));
    let (status, _, _) = fetch(h, Method::GET, "/api/v1/problems", Some(&web1), &[]);
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The problems page lists both problems with their counts and sparklines.
    let home = page(h, &viewer, "/");
    for p in [p_sysrq, p_null] {
        assert!(home.contains(&format!("/problems/{p}")), "{p} listed");
    }
    assert!(
        home.contains("crashes in the last 30 days"),
        "sparklines drawn"
    );
    let listed = json(h, &viewer, "/api/v1/problems");
    let row = |id: &str| {
        listed["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap()
    };
    // The example dump is a sysrq crash too.
    assert_eq!(dump["problem"], p_sysrq);
    assert_eq!(row(p_sysrq)["count"], 3);
    assert_eq!(row(p_sysrq)["host_count"], 2);
    assert_eq!(row(p_sysrq)["hosts"], serde_json::json!(["db-2", "web-1"]));
    assert_eq!(row(p_null)["module"], "crashfixture", "{}", row(p_null));

    // Filters: host group, class, module, text, release branch, days.
    let ids = |q: &str| -> Vec<String> {
        json(h, &viewer, &format!("/api/v1/problems?{q}"))["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        ids("host=db-*").contains(&p_null.to_string()),
        "a host group"
    );
    assert!(!ids("host=web-*").contains(&p_null.to_string()));
    assert_eq!(ids("host=db-2").len(), 2);
    assert_eq!(ids("module=crashfixture"), [p_null]);
    assert!(
        ids(&format!("class={}", row(p_null)["class"].as_str().unwrap()))
            .contains(&p_null.to_string())
    );
    assert!(
        ids("q=SYSRQ").contains(&p_sysrq.to_string()),
        "search ignores case"
    );
    assert!(!ids("q=SYSRQ").contains(&p_null.to_string()));
    assert_eq!(
        ids("release=6.1.0").len(),
        ids("").len(),
        "a branch matches its releases"
    );
    assert!(ids("release=5.14.0-427").is_empty());
    assert!(ids("to=2000-01-01").is_empty());
    let (status, _, body) = fetch(
        h,
        Method::GET,
        "/api/v1/problems?from=yesterday",
        Some(&viewer),
        &[],
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let filtered = page(h, &viewer, "/?module=crashfixture");
    assert!(
        filtered.contains(&format!("/problems/{p_null}"))
            && !filtered.contains(&format!("/problems/{p_sysrq}"))
    );

    // A problem explains its grouping; a crash shows report, log, dump, backtrace.
    let problem = page(h, &viewer, &format!("/problems/{p_sysrq}"));
    for text in [
        "Why these crashes are grouped",
        "Guilty function",
        "coroner-signature-v1",
        "Crashes per kernel release",
        "6.1.0-56-amd64",
    ] {
        assert!(problem.contains(text), "problem page shows {text:?}");
    }
    assert!(!problem.contains("Mark fixed"), "viewers see no decisions");
    let crash = page(
        h,
        &viewer,
        &format!("/crashes/{}", sysrq["id"].as_str().unwrap()),
    );
    assert!(
        crash.contains("<span class=\"hit\">"),
        "the report's lines are marked"
    );
    assert!(crash.contains("Triage report"));
    let crash = page(h, &viewer, &format!("/crashes/{dump_crash}"));
    for text in [
        "Panic backtrace",
        "sysrq_handle_crash",
        "Tasks",
        "Build-id",
        "kdump",
    ] {
        assert!(crash.contains(text), "dump crash page shows {text:?}");
    }
    assert!(crash.contains("needs the download permission"));
    let host = page(h, &viewer, "/hosts/db-2");
    assert!(host.contains(&format!("/problems/{p_null}")));
    assert_eq!(json(h, &viewer, "/api/v1/hosts/db-2")["problems"], 2);

    // Downloads: their own permission, audited.
    let url = format!("/crashes/{dump_crash}/vmcore");
    let (status, _, _) = fetch(h, Method::GET, &url, Some(&viewer), &[]);
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, bytes) = h.rt.block_on(async {
        let r = reqwest::Client::new()
            .get(format!("{}{url}", h.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        (r.status(), (), r.bytes().await.unwrap())
    });
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        bytes.as_ref(),
        std::fs::read(example_dump()).unwrap().as_slice()
    );
    let audit = json(h, &admin, "/api/v1/admin");
    assert!(audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["action"] == "download" && a["subject"] == dump_crash));
    let (status, _, _) = fetch(h, Method::GET, "/api/v1/admin", Some(&viewer), &[]);
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the admin page is for admins"
    );

    // Merge: signatures and counts move, the old links lead to the new problem.
    let merge = format!("/api/v1/problems/{p_null}/merge");
    assert_eq!(
        act(h, &viewer, &merge, &[("into", p_sysrq)]).0,
        StatusCode::FORBIDDEN
    );
    let (status, reply) = act(h, &admin, &merge, &[("into", p_sysrq)]);
    assert_eq!(status, StatusCode::OK, "{reply}");
    let (status, location, _) = fetch(
        h,
        Method::GET,
        &format!("/problems/{p_null}"),
        Some(&viewer),
        &[],
    );
    assert_eq!(
        (status, location),
        (
            StatusCode::PERMANENT_REDIRECT,
            format!("/problems/{p_sysrq}")
        )
    );
    let merged = json(h, &viewer, &format!("/api/v1/problems/{p_sysrq}"));
    assert_eq!(merged["count"], 4);
    assert_eq!(merged["signatures"].as_array().unwrap().len(), 2);
    let moved = json(
        h,
        &viewer,
        &format!("/api/v1/crashes/{}", null["id"].as_str().unwrap()),
    );
    assert_eq!(
        moved["problem"], p_sysrq,
        "a crash's problem is its signature's"
    );

    // Split the signature back out: a problem of its own with its one crash.
    let (status, reply) = act(
        h,
        &admin,
        &format!("/api/v1/problems/{p_sysrq}/split"),
        &[("signature", null["signature"].as_str().unwrap())],
    );
    assert_eq!(status, StatusCode::OK, "{reply}");
    let split = json(h, &viewer, reply["url"].as_str().unwrap());
    assert_eq!(split["count"], 1);
    assert_eq!(split["hosts"], serde_json::json!(["db-2"]));
    assert_eq!(
        json(h, &viewer, &format!("/api/v1/problems/{p_sysrq}"))["count"],
        3
    );

    // Fixed in a later release of the branch; a crash on a release after it regresses.
    let fixed = format!("/api/v1/problems/{p_sysrq}/fixed");
    let (status, reply) = act(h, &admin, &fixed, &[("release", "6.1.0-57-amd64")]);
    assert_eq!(
        (status, reply["done"].as_str()),
        (StatusCode::OK, Some("fixed"))
    );
    assert_eq!(ids("state=fixed"), [p_sysrq]);
    post(&web1, with_release(&fixture_log("sysrq"), "6.1.0-58-amd64"));
    let regressed = json(h, &viewer, &format!("/api/v1/problems/{p_sysrq}"));
    assert_eq!(regressed["state"], "regressed", "{regressed}");
    assert_eq!(regressed["fixes"][0]["regressed_in"], "6.1.0-58-amd64");
    // Marked fixed in a release it already crashed after: regressed at once.
    let (_, reply) = act(
        h,
        &admin,
        &format!("/api/v1/problems/{}/fixed", split["id"].as_str().unwrap()),
        &[("release", "6.1.0-40-amd64")],
    );
    assert_eq!(reply["done"], "regressed");

    // The admin page: tokens made and revoked, the queue.
    let (status, reply) = act(
        h,
        &admin,
        "/api/v1/admin/tokens",
        &[("role", "viewer"), ("download", "1")],
    );
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let made = reply["token"].as_str().unwrap().to_string();
    assert_eq!(
        fetch(h, Method::GET, &url, Some(&made), &[]).0,
        StatusCode::OK,
        "a viewer given the download permission"
    );
    let listed = json(h, &admin, "/api/v1/admin");
    assert!(listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|j| j["crash"] == dump_crash));
    let id = listed["tokens"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        act(h, &admin, &format!("/api/v1/admin/tokens/{id}/revoke"), &[]).0,
        StatusCode::OK
    );
    assert_eq!(
        fetch(h, Method::GET, "/", Some(&made), &[]).0,
        StatusCode::UNAUTHORIZED,
        "revoked"
    );
    assert!(page(h, &admin, "/admin").contains("Failed stages"));
}

#[test]
fn login_sets_a_session_that_logout_ends() {
    let h = Harness::start(|_| {});
    let viewer = h.token("viewer", None);
    let upload = h.token("upload", Some("web-1"));
    let login = |token: &str| {
        fetch(
            &h,
            Method::POST,
            "/login",
            None,
            &[("token", token), ("next", "/admin")],
        )
    };
    assert_eq!(
        login(&upload).0,
        StatusCode::UNAUTHORIZED,
        "upload tokens cannot log in"
    );
    let (status, location, _) = fetch(
        &h,
        Method::POST,
        "/login",
        None,
        &[("token", &viewer), ("next", "//evil.example")],
    );
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/"),
        "never a redirect off the site"
    );
    let cookie = h.rt.block_on(async {
        let r = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("{}/login", h.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={viewer}&next=/"))
            .send()
            .await
            .unwrap();
        let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        set.split(';').next().unwrap().to_string()
    });
    let with_cookie = |method: Method, path: &str| {
        h.rt.block_on(async {
            let r = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .request(method, format!("{}{path}", h.base))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        })
    };
    let (status, body) = with_cookie(Method::GET, "/");
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Log out"));
    assert_eq!(
        with_cookie(Method::POST, "/logout").0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        with_cookie(Method::GET, "/").0,
        StatusCode::SEE_OTHER,
        "the session ended"
    );
}
