//! The dashboard's reads: the problems list with its filters (from the
//! pre-aggregated counters and columns, never a scan of crashes), what a
//! problem page adds (releases, fixes, days, hosts, crashes by signature), a
//! host's history, and the admin's lists (tokens, jobs, failed stages, audit).

use crate::db::Db;
use crate::error::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// What a problem's first crash says about it (from its triage document).
#[derive(Debug, Default)]
pub(crate) struct Described {
    pub title: Option<String>,
    pub class: Option<String>,
    pub guilty: Option<String>,
    pub module: Option<String>,
    pub frames: Vec<String>,
    pub known: Vec<String>,
}

impl Described {
    pub fn from_triage(document: &str) -> Described {
        let Ok(doc) = serde_json::from_str::<Value>(document) else {
            return Described::default();
        };
        let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
        let list = |k: &str, field: Option<&str>| -> Vec<String> {
            doc.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| match field {
                            Some(f) => v.get(f)?.as_str(),
                            None => v.as_str(),
                        })
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Described {
            title: text("title"),
            class: text("class"),
            guilty: text("guilty"),
            module: text("module"),
            frames: list("frames", None),
            known: list("kb", Some("id")),
        }
    }
}

/// The problems page's query string (empty fields mean "any").
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProblemFilter {
    /// `active` (open and regressed, the default), a state's name, or `all`.
    pub state: Option<String>,
    /// A release, or a branch (`5.14.0-427`): that release and those after
    /// `.` or `-`.
    pub release: Option<String>,
    /// A host, or a host group as a prefix ending in `*` (`web-*`).
    pub host: Option<String>,
    pub class: Option<String>,
    pub module: Option<String>,
    /// Days, `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Words in the title, the guilty function or the frames.
    pub q: Option<String>,
    /// `recent` (last seen, the default), `count`, `hosts`, `newest` (first seen).
    pub sort: Option<String>,
    pub page: Option<i64>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `LIKE` pattern text for a literal.
fn like_literal(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn valid_day(d: &str) -> bool {
    d.len() == 10
        && d.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

impl ProblemFilter {
    pub fn sort(&self) -> &'static str {
        match given(&self.sort) {
            Some("count") => "count",
            Some("hosts") => "hosts",
            Some("newest") => "newest",
            _ => "recent",
        }
    }

    pub fn state(&self) -> &str {
        given(&self.state).unwrap_or("active")
    }

    pub fn page(&self) -> i64 {
        self.page.unwrap_or(1).max(1)
    }

    /// A sentence for a filter that cannot be, else `None`.
    pub fn check(&self) -> Option<String> {
        for (name, day) in [("from", &self.from), ("to", &self.to)] {
            if let Some(d) = given(day) {
                if !valid_day(d) {
                    return Some(format!("{name}: {d:?} is not a day (YYYY-MM-DD)"));
                }
            }
        }
        let state = self.state();
        if !matches!(state, "active" | "all") && crate::ProblemState::parse(state).is_none() {
            return Some(format!(
                "state: {state:?} is none of active, all, open, regressed, probably-fixed, fixed, ignored"
            ));
        }
        None
    }
}

/// One row of the problems page.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemSummary {
    pub id: String,
    pub title: String,
    pub class: Option<String>,
    pub state: String,
    pub guilty: Option<String>,
    pub module: Option<String>,
    /// Matched knowledge-base rule ids.
    pub known: Vec<String>,
    /// Crashes (within the filter's releases, hosts and days).
    pub count: i64,
    /// Hosts affected (likewise).
    pub host_count: i64,
    pub release_count: i64,
    /// Up to three releases it crashed on, newest last seen first.
    pub releases: Vec<String>,
    #[serde(serialize_with = "iso")]
    pub first_seen: i64,
    #[serde(serialize_with = "iso")]
    pub last_seen: i64,
    /// Crashes per day over the last [`SPARK_DAYS`] days, oldest first.
    pub days: Vec<i64>,
    pub signatures: Vec<String>,
    pub hosts: Vec<String>,
}

/// A page of problems and how many match in all.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemPage {
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub problems: Vec<ProblemSummary>,
}

/// Days a problem row's sparkline covers.
pub const SPARK_DAYS: i64 = 30;

/// SQL text with its `$N` arguments.
#[derive(Default)]
struct Sql {
    text: String,
    args: Vec<String>,
}

impl Sql {
    fn arg(&mut self, value: impl Into<String>) -> String {
        self.args.push(value.into());
        format!("${}", self.args.len())
    }
}

fn in_list(sql: &mut Sql, ids: &[String]) -> String {
    let marks: Vec<String> = ids.iter().map(|id| sql.arg(id.clone())).collect();
    marks.join(", ")
}

async fn fetch<T>(db: &Db, sql: &Sql) -> Result<Vec<T>, StoreError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    // The text is built from fixed fragments; every value is a bound argument.
    let mut q = sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql.text.as_str()));
    for a in &sql.args {
        q = q.bind(a.clone());
    }
    Ok(q.fetch_all(&db.pool).await?)
}

type SummaryRow = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    i64,
);

/// A problem's state and first crash's description.
type DescribedRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A host's crash: id, received, state, release, signature, problem, title.
type HostCrashRow = (
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Db {
    /// The problems matching `f`, a page of `per_page`. `today` (`YYYY-MM-DD`)
    /// ends the sparklines. `host_names`: list each problem's hosts (the JSON
    /// gives them; the page shows only their count, and a fleet-wide problem
    /// has hundreds).
    pub async fn problem_page(
        &self,
        f: &ProblemFilter,
        per_page: i64,
        today: &str,
        host_names: bool,
    ) -> Result<ProblemPage, StoreError> {
        if let Some(why) = f.check() {
            return Err(StoreError::Invalid(why));
        }
        let mut sql = Sql::default();
        // Release, host and day filters count from the counters; else the
        // problem's own totals serve.
        let mut by = Vec::new();
        if let Some(r) = given(&f.release) {
            let exact = sql.arg(r);
            let dot = sql.arg(format!("{}.%", like_literal(r)));
            let dash = sql.arg(format!("{}-%", like_literal(r)));
            by.push(format!(
                "(release = {exact} OR release LIKE {dot} ESCAPE '\\' OR release LIKE {dash} ESCAPE '\\')"
            ));
        }
        if let Some(h) = given(&f.host) {
            match h.strip_suffix('*') {
                Some(prefix) => {
                    let p = sql.arg(format!("{}%", like_literal(prefix)));
                    by.push(format!("host LIKE {p} ESCAPE '\\'"));
                }
                None => by.push(format!("host = {}", sql.arg(h))),
            }
        }
        if let Some(d) = given(&f.from) {
            by.push(format!("day >= {}", sql.arg(d)));
        }
        if let Some(d) = given(&f.to) {
            by.push(format!("day <= {}", sql.arg(d)));
        }
        let (source, count, hosts) = if by.is_empty() {
            (String::new(), "p.count", "p.host_count")
        } else {
            (
                format!(
                    " JOIN (SELECT problem, CAST(SUM(count) AS BIGINT) AS n, COUNT(DISTINCT host) AS h \
                     FROM counters WHERE {} GROUP BY problem) c ON c.problem = p.id",
                    by.join(" AND ")
                ),
                "c.n",
                "c.h",
            )
        };
        let mut wh = vec!["p.count > 0".to_string()];
        match f.state() {
            "all" => {}
            "active" => wh.push("p.state IN ('open', 'regressed')".into()),
            s => wh.push(format!("p.state = {}", sql.arg(s))),
        }
        if let Some(c) = given(&f.class) {
            wh.push(format!("p.class = {}", sql.arg(c)));
        }
        if let Some(m) = given(&f.module) {
            wh.push(format!("p.module = {}", sql.arg(m)));
        }
        if let Some(q) = given(&f.q) {
            let pat = sql.arg(format!("%{}%", like_literal(&q.to_lowercase())));
            wh.push(format!(
                "(LOWER(p.title) LIKE {pat} ESCAPE '\\' OR LOWER(COALESCE(p.frames, '')) LIKE {pat} ESCAPE '\\' \
                 OR LOWER(COALESCE(p.guilty, '')) LIKE {pat} ESCAPE '\\')"
            ));
        }
        let from_where = format!("FROM problems p{source} WHERE {}", wh.join(" AND "));
        let order = match f.sort() {
            "count" => format!("{count} DESC"),
            "hosts" => format!("{hosts} DESC"),
            "newest" => "p.first_seen DESC".into(),
            _ => "p.last_seen DESC".into(),
        };
        sql.text = format!("SELECT COUNT(*) {from_where}");
        let total: Vec<(i64,)> = fetch(self, &sql).await?;
        let total = total.first().map_or(0, |t| t.0);
        sql.text = format!(
            "SELECT p.id, p.title, p.class, p.state, p.guilty, p.module, p.known, {count}, {hosts}, \
             p.release_count, p.first_seen, p.last_seen {from_where} ORDER BY {order}, p.id \
             LIMIT {per_page} OFFSET {}",
            (f.page() - 1) * per_page
        );
        let rows: Vec<SummaryRow> = fetch(self, &sql).await?;
        let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        let mut problems: Vec<ProblemSummary> = rows
            .into_iter()
            .map(|r| ProblemSummary {
                id: r.0,
                title: r.1,
                class: r.2,
                state: r.3,
                guilty: r.4,
                module: r.5,
                known: r
                    .6
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
                count: r.7,
                host_count: r.8,
                release_count: r.9,
                first_seen: r.10,
                last_seen: r.11,
                releases: Vec::new(),
                days: Vec::new(),
                signatures: Vec::new(),
                hosts: Vec::new(),
            })
            .collect();
        if !ids.is_empty() {
            self.fill_summaries(&mut problems, &ids, today, host_names)
                .await?;
        }
        Ok(ProblemPage {
            total,
            page: f.page(),
            per_page,
            problems,
        })
    }

    /// The page's rows' sparklines, releases, signatures and hosts: four
    /// queries by primary-key prefix over the page's ids only.
    async fn fill_summaries(
        &self,
        problems: &mut [ProblemSummary],
        ids: &[String],
        today: &str,
        host_names: bool,
    ) -> Result<(), StoreError> {
        let index: HashMap<String, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        let days = last_days(today, SPARK_DAYS);
        let mut sql = Sql::default();
        let list = in_list(&mut sql, ids);
        let since = sql.arg(days[0].clone());
        sql.text = format!(
            "SELECT problem, day, CAST(SUM(count) AS BIGINT) FROM counters \
             WHERE problem IN ({list}) AND day >= {since} GROUP BY problem, day"
        );
        let counts: Vec<(String, String, i64)> = fetch(self, &sql).await?;
        for p in problems.iter_mut() {
            p.days = vec![0; days.len()];
        }
        for (problem, day, n) in counts {
            if let (Some(&i), Some(d)) = (index.get(&problem), days.iter().position(|x| *x == day))
            {
                problems[i].days[d] = n;
            }
        }
        let mut sql = Sql::default();
        let list = in_list(&mut sql, ids);
        sql.text = format!(
            "SELECT problem, release FROM problem_releases WHERE problem IN ({list}) \
             ORDER BY problem, last_seen DESC"
        );
        for (problem, release) in fetch::<(String, String)>(self, &sql).await? {
            let releases = &mut problems[index[&problem]].releases;
            if releases.len() < 3 {
                releases.push(release);
            }
        }
        let lists: &[(&str, &str)] = if host_names {
            &[("signatures", "signature"), ("problem_hosts", "host")]
        } else {
            &[("signatures", "signature")]
        };
        for &(table, column) in lists {
            let mut sql = Sql::default();
            let list = in_list(&mut sql, ids);
            sql.text = format!(
                "SELECT problem, {column} FROM {table} WHERE problem IN ({list}) ORDER BY {column}"
            );
            for (problem, value) in fetch::<(String, String)>(self, &sql).await? {
                let p = &mut problems[index[&problem]];
                match column {
                    "host" => p.hosts.push(value),
                    _ => p.signatures.push(value),
                }
            }
        }
        Ok(())
    }

    /// The values the filters offer: releases, classes and modules seen.
    pub async fn filter_choices(&self) -> Result<FilterChoices, StoreError> {
        let column = |sql: &'static str| async move {
            let rows: Vec<(String,)> = sqlx::query_as(sql).fetch_all(&self.pool).await?;
            Ok::<_, StoreError>(rows.into_iter().map(|(v,)| v).collect::<Vec<_>>())
        };
        let mut releases = column("SELECT DISTINCT release FROM release_hosts").await?;
        releases.sort_by(|a, b| crate::release::compare(b, a));
        let mut branches: Vec<String> =
            releases.iter().map(|r| crate::release::branch(r)).collect();
        branches.sort_by(|a, b| crate::release::compare(b, a));
        branches.dedup();
        Ok(FilterChoices {
            releases,
            branches,
            classes: column(
                "SELECT DISTINCT class FROM problems WHERE class IS NOT NULL AND count > 0 ORDER BY class",
            )
            .await?,
            modules: column(
                "SELECT DISTINCT module FROM problems WHERE module IS NOT NULL AND count > 0 ORDER BY module",
            )
            .await?,
        })
    }

    /// What a problem's page shows beyond its list row.
    pub async fn problem_extras(&self, id: &str) -> Result<ProblemExtras, StoreError> {
        let row: Option<DescribedRow> = sqlx::query_as(
            "SELECT state, guilty, module, frames, known FROM problems WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let (state, guilty, module, frames, known) = row.unwrap_or_default();
        let releases: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT release, count, first_seen, last_seen FROM problem_releases WHERE problem = $1",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut releases: Vec<ReleaseSeen> = releases
            .into_iter()
            .map(|(release, count, first_seen, last_seen)| ReleaseSeen {
                branch: crate::release::branch(&release),
                release,
                count,
                first_seen,
                last_seen,
            })
            .collect();
        releases.sort_by(|a, b| crate::release::compare(&a.release, &b.release));
        let fixes: Vec<(String, String, i64, Option<String>)> = sqlx::query_as(
            "SELECT branch, release, marked, regressed_in FROM problem_fixes WHERE problem = $1 ORDER BY branch",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let signatures: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT s.signature, s.version, (SELECT COUNT(*) FROM crashes c WHERE c.signature = s.signature) \
             FROM signatures s WHERE s.problem = $1 ORDER BY s.signature",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let hosts: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT host, count, first_seen, last_seen FROM problem_hosts WHERE problem = $1 \
             ORDER BY count DESC, host LIMIT 200",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let days: Vec<(String, i64)> = sqlx::query_as(
            "SELECT day, CAST(SUM(count) AS BIGINT) FROM counters WHERE problem = $1 GROUP BY day ORDER BY day",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(ProblemExtras {
            state,
            guilty,
            module,
            frames: frames
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            known: known
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            releases,
            fixes: fixes
                .into_iter()
                .map(|(branch, release, marked, regressed_in)| Fix {
                    branch,
                    release,
                    marked,
                    regressed_in,
                })
                .collect(),
            signatures: signatures
                .into_iter()
                .map(|(signature, version, crashes)| SignatureRow {
                    signature,
                    version,
                    crashes,
                })
                .collect(),
            hosts: hosts
                .into_iter()
                .map(|(host, count, first_seen, last_seen)| HostSeen {
                    host,
                    count,
                    first_seen,
                    last_seen,
                })
                .collect(),
            days,
        })
    }

    /// The triage document of a problem's latest crash (the rule, the frames
    /// and the report a problem page shows come from a real crash).
    pub async fn problem_sample_triage(&self, id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT triage FROM crashes WHERE signature IN \
             (SELECT signature FROM signatures WHERE problem = $1) AND triage IS NOT NULL \
             ORDER BY received DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(t,)| t))
    }

    /// A host's crashes, latest first (at most `limit`), each with its problem.
    pub async fn host_crashes(&self, host: &str, limit: i64) -> Result<Vec<HostCrash>, StoreError> {
        let rows: Vec<HostCrashRow> = sqlx::query_as(
            "SELECT c.id, c.received, c.state, c.release, c.signature, s.problem, p.title \
                 FROM crashes c LEFT JOIN signatures s ON s.signature = c.signature \
                 LEFT JOIN problems p ON p.id = s.problem \
                 WHERE c.host = $1 ORDER BY c.received DESC, c.id LIMIT $2",
        )
        .bind(host)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| HostCrash {
                id: r.0,
                received: r.1,
                state: r.2,
                release: r.3,
                signature: r.4,
                problem: r.5,
                title: r.6,
            })
            .collect())
    }

    /// Tokens as the admin page lists them (never the tokens themselves).
    pub async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let rows: Vec<(String, String, Option<String>, i64, i64)> = sqlx::query_as(
            "SELECT hash, role, host, created, download FROM tokens ORDER BY created DESC, hash",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(hash, role, host, created, download)| TokenRow {
                id: hash[..16].to_string(),
                role,
                host,
                created,
                download: download != 0,
            })
            .collect())
    }

    /// Revokes the token whose hash starts with `id` (16 hex digits, as
    /// listed), ending its sessions; false if there is none.
    pub async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        let pattern = format!("{id}%");
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE token LIKE $1")
            .bind(&pattern)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM tokens WHERE hash LIKE $1")
            .bind(&pattern)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// The job queue (latest first) and the latest failed stages with reasons.
    pub async fn queue(&self, limit: i64) -> Result<Queue, StoreError> {
        let jobs: Vec<(String, String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT id, crash, kind, state, attempts, created FROM jobs \
             ORDER BY created DESC, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let failed: Vec<(String, String, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT s.crash, c.host, s.name, s.reason, c.received FROM stages s \
             JOIN crashes c ON c.id = s.crash WHERE s.status = 'failed' \
             ORDER BY c.received DESC, s.crash, s.seq LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let counts: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state")
                .fetch_all(&self.pool)
                .await?;
        Ok(Queue {
            counts,
            jobs: jobs
                .into_iter()
                .map(|(id, crash, kind, state, attempts, created)| JobRow {
                    id,
                    crash,
                    kind,
                    state,
                    attempts,
                    created,
                })
                .collect(),
            failed: failed
                .into_iter()
                .map(|(crash, host, stage, reason, received)| FailedStage {
                    crash,
                    host,
                    stage,
                    reason,
                    received,
                })
                .collect(),
        })
    }

    /// The audit log, latest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
        let rows: Vec<(i64, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT at, actor, action, subject, detail FROM audit ORDER BY at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(at, actor, action, subject, detail)| AuditRow {
                at,
                actor,
                action,
                subject,
                detail,
            })
            .collect())
    }
}

/// Times in JSON as the API gives them: UTC ISO 8601.
fn iso<S: serde::Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&coroner_report::time::utc_iso8601(*t))
}

/// The `n` days ending with `today`, oldest first.
pub fn last_days(today: &str, n: i64) -> Vec<String> {
    let end = day_number(today).unwrap_or(0);
    (0..n)
        .rev()
        .map(|back| crate::day((end - back) * 86_400))
        .collect()
}

/// Days since the epoch of `YYYY-MM-DD` (civil calendar, Howard Hinnant's
/// days_from_civil).
fn day_number(day: &str) -> Option<i64> {
    if !valid_day(day) {
        return None;
    }
    let y: i64 = day[..4].parse().ok()?;
    let m: i64 = day[5..7].parse().ok()?;
    let d: i64 = day[8..].parse().ok()?;
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[derive(Debug, Clone, Serialize)]
pub struct FilterChoices {
    pub releases: Vec<String>,
    pub branches: Vec<String>,
    pub classes: Vec<String>,
    pub modules: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReleaseSeen {
    pub release: String,
    pub branch: String,
    pub count: i64,
    #[serde(serialize_with = "iso")]
    pub first_seen: i64,
    #[serde(serialize_with = "iso")]
    pub last_seen: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fix {
    pub branch: String,
    pub release: String,
    #[serde(serialize_with = "iso")]
    pub marked: i64,
    pub regressed_in: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignatureRow {
    pub signature: String,
    pub version: String,
    pub crashes: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostSeen {
    pub host: String,
    pub count: i64,
    #[serde(serialize_with = "iso")]
    pub first_seen: i64,
    #[serde(serialize_with = "iso")]
    pub last_seen: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProblemExtras {
    pub state: String,
    pub guilty: Option<String>,
    pub module: Option<String>,
    pub frames: Vec<String>,
    pub known: Vec<String>,
    /// Oldest release first.
    pub releases: Vec<ReleaseSeen>,
    pub fixes: Vec<Fix>,
    pub signatures: Vec<SignatureRow>,
    pub hosts: Vec<HostSeen>,
    /// (day, crashes), oldest first.
    pub days: Vec<(String, i64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostCrash {
    pub id: String,
    #[serde(serialize_with = "iso")]
    pub received: i64,
    pub state: String,
    pub release: Option<String>,
    pub signature: Option<String>,
    pub problem: Option<String>,
    pub title: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenRow {
    /// The first 16 hex digits of the token's hash: enough to revoke it.
    pub id: String,
    pub role: String,
    pub host: Option<String>,
    #[serde(serialize_with = "iso")]
    pub created: i64,
    pub download: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    pub id: String,
    pub crash: String,
    pub kind: String,
    pub state: String,
    pub attempts: i64,
    #[serde(serialize_with = "iso")]
    pub created: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailedStage {
    pub crash: String,
    pub host: String,
    pub stage: String,
    pub reason: Option<String>,
    #[serde(serialize_with = "iso")]
    pub received: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Queue {
    /// Jobs per state.
    pub counts: Vec<(String, i64)>,
    pub jobs: Vec<JobRow>,
    pub failed: Vec<FailedStage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    #[serde(serialize_with = "iso")]
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_count_back_across_months() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(
            last_days("2026-03-02", 3),
            ["2026-02-28", "2026-03-01", "2026-03-02"]
        );
        assert_eq!(day_number("2026-13-xx"), None);
    }

    #[test]
    fn filters_refuse_what_cannot_be() {
        let f = ProblemFilter {
            from: Some("yesterday".into()),
            ..ProblemFilter::default()
        };
        assert!(f.check().unwrap().contains("from"));
        let f = ProblemFilter {
            state: Some("gone".into()),
            ..ProblemFilter::default()
        };
        assert!(f.check().is_some());
        assert!(ProblemFilter::default().check().is_none());
    }
}
