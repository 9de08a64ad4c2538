//! What people decide about problems and what follows from it: merge two
//! problems (signatures, counters and hosts move; crashes are never rewritten:
//! a crash's problem is its signature's), split a signature out, mark a problem
//! fixed in a release of a branch (a later crash on that branch is then a
//! regression), ignore or reopen it, and "probably fixed" when newer releases
//! ran long enough on enough hosts without it. Also the per-occurrence upkeep
//! that keeps the problems page free of scans ([`occurred`]).

use crate::db::{now, Db};
use crate::error::StoreError;
use crate::ids::new_id;
use crate::problems::Occurrence;
use crate::release::{at_or_after, branch, compare};
// Dynamic SQL here only names fixed tables and columns; values are bound.
use sqlx::{AnyConnection, AssertSqlSafe};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

/// A problem's state as people see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemState {
    Open,
    ProbablyFixed,
    Fixed,
    Regressed,
    Ignored,
}

impl ProblemState {
    pub const ALL: [ProblemState; 5] = [
        ProblemState::Open,
        ProblemState::Regressed,
        ProblemState::ProbablyFixed,
        ProblemState::Fixed,
        ProblemState::Ignored,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ProblemState::Open => "open",
            ProblemState::ProbablyFixed => "probably-fixed",
            ProblemState::Fixed => "fixed",
            ProblemState::Regressed => "regressed",
            ProblemState::Ignored => "ignored",
        }
    }

    pub fn parse(s: &str) -> Option<ProblemState> {
        ProblemState::ALL.into_iter().find(|st| st.name() == s)
    }
}

/// When an open problem counts as probably fixed: every branch it crashed on
/// has a newer release that crashes (of any problem) show running on at least
/// `hosts` hosts, first seen at least `days` days ago.
#[derive(Debug, Clone, Copy)]
pub struct ProbablyFixed {
    pub hosts: i64,
    pub days: i64,
}

impl Default for ProbablyFixed {
    fn default() -> Self {
        ProbablyFixed { hosts: 3, days: 7 }
    }
}

/// Keeps the pre-aggregated columns and tables up to date for one occurrence
/// (inside [`crate::problems`]'s grouping transaction, after the counters):
/// crashes per release, releases per host, the problem's host and release
/// counts, its first crash's description, and its state (a crash at or after
/// a fix's release on the fix's branch is a regression; a crash of a
/// probably-fixed problem reopens it).
pub(crate) async fn occurred(
    tx: &mut AnyConnection,
    problem: &str,
    o: &Occurrence<'_>,
) -> Result<(), StoreError> {
    let release = o.release.unwrap_or("unknown");
    sqlx::query(
        "INSERT INTO problem_releases (problem, release, count, first_seen, last_seen) \
         VALUES ($1, $2, 1, $3, $3) ON CONFLICT (problem, release) \
         DO UPDATE SET count = problem_releases.count + 1, last_seen = $3",
    )
    .bind(problem)
    .bind(release)
    .bind(o.at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO release_hosts (release, host, first_seen, last_seen) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (release, host) DO UPDATE SET last_seen = $3",
    )
    .bind(release)
    .bind(o.host)
    .bind(o.at)
    .execute(&mut *tx)
    .await?;
    recount(tx, problem).await?;
    describe(tx, problem, o.crash).await?;

    let (state,): (String,) = sqlx::query_as("SELECT state FROM problems WHERE id = $1")
        .bind(problem)
        .fetch_one(&mut *tx)
        .await?;
    if state == ProblemState::Ignored.name() || o.release.is_none() {
        return Ok(());
    }
    let fixes: Vec<(String, String)> = sqlx::query_as(
        "SELECT branch, release FROM problem_fixes WHERE problem = $1 AND regressed_in IS NULL",
    )
    .bind(problem)
    .fetch_all(&mut *tx)
    .await?;
    if let Some((fixed_branch, _)) = fixes.iter().find(|(_, fixed)| at_or_after(release, fixed)) {
        sqlx::query(
            "UPDATE problem_fixes SET regressed_in = $3 WHERE problem = $1 AND branch = $2",
        )
        .bind(problem)
        .bind(fixed_branch)
        .bind(release)
        .execute(&mut *tx)
        .await?;
        set_state_in(tx, problem, ProblemState::Regressed).await?;
    } else if state == ProblemState::ProbablyFixed.name() {
        set_state_in(tx, problem, ProblemState::Open).await?;
    }
    Ok(())
}

/// The problem's host and release counts, from their tables' primary keys.
async fn recount(tx: &mut AnyConnection, problem: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE problems SET \
         host_count = (SELECT COUNT(*) FROM problem_hosts WHERE problem = $1), \
         release_count = (SELECT COUNT(*) FROM problem_releases WHERE problem = $1) \
         WHERE id = $1",
    )
    .bind(problem)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The guilty function, its module, the frames and the matched rules of the
/// problem's first crash (from its triage document), for search and filters.
async fn describe(tx: &mut AnyConnection, problem: &str, crash: &str) -> Result<(), StoreError> {
    let (described,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM problems WHERE id = $1 AND frames IS NOT NULL")
            .bind(problem)
            .fetch_one(&mut *tx)
            .await?;
    if described > 0 {
        return Ok(());
    }
    let document: Option<(Option<String>,)> =
        sqlx::query_as("SELECT triage FROM crashes WHERE id = $1")
            .bind(crash)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(document) = document.and_then(|(d,)| d) else {
        return Ok(());
    };
    let d = crate::dashboard::Described::from_triage(&document);
    sqlx::query(
        "UPDATE problems SET guilty = $2, module = $3, frames = $4, known = $5 WHERE id = $1",
    )
    .bind(problem)
    .bind(d.guilty)
    .bind(d.module)
    .bind(d.frames.join(" "))
    .bind(d.known.join(" "))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn set_state_in(
    tx: &mut AnyConnection,
    problem: &str,
    state: ProblemState,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE problems SET state = $2 WHERE id = $1")
        .bind(problem)
        .bind(state.name())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::Invalid(message.into())
}

/// The larger of two columns' values, in SQL both databases run.
const LATER: &str =
    "CASE WHEN excluded.last_seen > {t}.last_seen THEN excluded.last_seen ELSE {t}.last_seen END";
const EARLIER: &str = "CASE WHEN excluded.first_seen < {t}.first_seen THEN excluded.first_seen ELSE {t}.first_seen END";

impl Db {
    /// Appends to the audit log: who (a token's hash, shortened) did what to what.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(now())
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(detail.map(str::to_string))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Where a merged problem's links lead now (`None`: it was not merged).
    pub async fn merged_into(&self, problem: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT merged_into FROM problems WHERE id = $1")
                .bind(problem)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(m,)| m))
    }

    /// Merges problem `from` into `into`: its signatures, counters, hosts and
    /// releases move; `from` is left empty, pointing at `into`.
    pub async fn merge(&self, from: &str, into: &str) -> Result<(), StoreError> {
        if from == into {
            return Err(invalid("a problem cannot be merged into itself"));
        }
        let mut tx = self.pool.begin().await?;
        for id in [from, into] {
            let (live,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM problems WHERE id = $1 AND merged_into IS NULL AND count > 0",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if live == 0 {
                return Err(invalid(format!(
                    "{id}: no such problem (or merged already)"
                )));
            }
        }
        sqlx::query("UPDATE signatures SET problem = $2 WHERE problem = $1")
            .bind(from)
            .bind(into)
            .execute(&mut *tx)
            .await?;
        let moves = [
            "INSERT INTO counters (problem, day, release, host, count) \
             SELECT $2, day, release, host, count FROM counters WHERE problem = $1 \
             ON CONFLICT (problem, day, release, host) DO UPDATE SET count = counters.count + excluded.count"
                .to_string(),
            format!(
                "INSERT INTO problem_hosts (problem, host, count, first_seen, last_seen) \
                 SELECT $2, host, count, first_seen, last_seen FROM problem_hosts WHERE problem = $1 \
                 ON CONFLICT (problem, host) DO UPDATE SET count = problem_hosts.count + excluded.count, \
                 first_seen = {}, last_seen = {}",
                EARLIER.replace("{t}", "problem_hosts"),
                LATER.replace("{t}", "problem_hosts")
            ),
            format!(
                "INSERT INTO problem_releases (problem, release, count, first_seen, last_seen) \
                 SELECT $2, release, count, first_seen, last_seen FROM problem_releases WHERE problem = $1 \
                 ON CONFLICT (problem, release) DO UPDATE SET count = problem_releases.count + excluded.count, \
                 first_seen = {}, last_seen = {}",
                EARLIER.replace("{t}", "problem_releases"),
                LATER.replace("{t}", "problem_releases")
            ),
        ];
        for sql in &moves {
            sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(from)
                .bind(into)
                .execute(&mut *tx)
                .await?;
        }
        for table in [
            "counters",
            "problem_hosts",
            "problem_releases",
            "problem_fixes",
        ] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE problem = $1"
            )))
            .bind(from)
            .execute(&mut *tx)
            .await?;
        }
        let (count, first, last, wanted): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT count, first_seen, last_seen, vmcores_wanted FROM problems WHERE id = $1",
        )
        .bind(from)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE problems SET count = count + $2, vmcores_wanted = vmcores_wanted + $5, \
             first_seen = CASE WHEN $3 < first_seen THEN $3 ELSE first_seen END, \
             last_seen = CASE WHEN $4 > last_seen THEN $4 ELSE last_seen END WHERE id = $1",
        )
        .bind(into)
        .bind(count)
        .bind(first)
        .bind(last)
        .bind(wanted)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE problems SET count = 0, merged_into = $2 WHERE id = $1 OR merged_into = $1",
        )
        .bind(from)
        .bind(into)
        .execute(&mut *tx)
        .await?;
        recount(&mut tx, into).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves `signature` out of its problem into a new one, with the counts of
    /// its crashes; returns the new problem's id.
    pub async fn split(&self, signature: &str) -> Result<String, StoreError> {
        let mut tx = self.pool.begin().await?;
        let owner: Option<(String,)> =
            sqlx::query_as("SELECT problem FROM signatures WHERE signature = $1")
                .bind(signature)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((old,)) = owner else {
            return Err(invalid(format!("{signature}: no such signature")));
        };
        let (owned,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM signatures WHERE problem = $1")
            .bind(&old)
            .fetch_one(&mut *tx)
            .await?;
        if owned < 2 {
            return Err(invalid(format!(
                "{signature} is its problem's only signature: nothing to split"
            )));
        }
        let crashes: Vec<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT received, host, release, triage FROM crashes WHERE signature = $1 ORDER BY received",
        )
        .bind(signature)
        .fetch_all(&mut *tx)
        .await?;
        let split = Split::of(&crashes);
        let (title, class) = split.title.clone().unwrap_or_default();
        let new = new_id();
        sqlx::query(
            "INSERT INTO problems (id, title, class, count, first_seen, last_seen, vmcores_wanted) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(&new)
        .bind(if title.is_empty() { signature.to_string() } else { title })
        .bind(class)
        .bind(split.count)
        .bind(split.first)
        .bind(split.last)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE signatures SET problem = $2 WHERE signature = $1")
            .bind(signature)
            .bind(&new)
            .execute(&mut *tx)
            .await?;
        split.write(&mut tx, &old, &new).await?;
        recount(&mut tx, &old).await?;
        recount(&mut tx, &new).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Marks `problem` fixed in `release` on that release's branch. If it
    /// already crashed at or after that release on the branch, it is regressed
    /// at once.
    pub async fn mark_fixed(&self, problem: &str, release: &str) -> Result<(), StoreError> {
        let release = release.trim();
        if release.is_empty() || release.len() > 200 || release.contains(char::is_whitespace) {
            return Err(invalid(
                "a release is one word, such as 5.14.0-427.13.1.el9_4.x86_64",
            ));
        }
        let mut tx = self.pool.begin().await?;
        let seen: Vec<(String,)> =
            sqlx::query_as("SELECT release FROM problem_releases WHERE problem = $1")
                .bind(problem)
                .fetch_all(&mut *tx)
                .await?;
        let regressed = seen
            .into_iter()
            .map(|(r,)| r)
            .filter(|r| at_or_after(r, release))
            .max_by(|a, b| compare(a, b));
        let done = sqlx::query(
            "INSERT INTO problem_fixes (problem, branch, release, marked, regressed_in) \
             SELECT id, $2, $3, $4, $5 FROM problems WHERE id = $1 AND count > 0 \
             ON CONFLICT (problem, branch) DO UPDATE SET release = $3, marked = $4, regressed_in = $5",
        )
        .bind(problem)
        .bind(branch(release))
        .bind(release)
        .bind(now())
        .bind(regressed.clone())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(invalid(format!("{problem}: no such problem")));
        }
        let state = if regressed.is_some() {
            ProblemState::Regressed
        } else {
            ProblemState::Fixed
        };
        set_state_in(&mut tx, problem, state).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ignores a problem, or reopens it (forgetting its fixes).
    pub async fn set_problem_state(
        &self,
        problem: &str,
        state: ProblemState,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if state == ProblemState::Open {
            sqlx::query("DELETE FROM problem_fixes WHERE problem = $1")
                .bind(problem)
                .execute(&mut *tx)
                .await?;
        }
        set_state_in(&mut tx, problem, state).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves open problems to probably-fixed when `rule` holds for them at
    /// `at`; returns how many moved. Run periodically: it changes with time,
    /// not only with crashes.
    pub async fn refresh_probably_fixed(
        &self,
        rule: ProbablyFixed,
        at: i64,
    ) -> Result<usize, StoreError> {
        let seen: Vec<(String, String)> = sqlx::query_as(
            "SELECT r.problem, r.release FROM problem_releases r JOIN problems p ON p.id = r.problem \
             WHERE p.state = 'open' AND p.count > 0 AND r.release <> 'unknown'",
        )
        .fetch_all(&self.pool)
        .await?;
        let fleet: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT release, COUNT(*), MIN(first_seen) FROM release_hosts GROUP BY release",
        )
        .fetch_all(&self.pool)
        .await?;
        let proven: Vec<&str> = fleet
            .iter()
            .filter(|(_, hosts, first)| *hosts >= rule.hosts && at - first >= rule.days * 86_400)
            .map(|(r, _, _)| r.as_str())
            .collect();
        // Each problem's newest release per branch.
        let mut newest: HashMap<&str, BTreeMap<String, &str>> = HashMap::new();
        for (problem, release) in &seen {
            let slot = newest.entry(problem).or_default().entry(branch(release));
            let best = slot.or_insert(release);
            if compare(release, best) == Ordering::Greater {
                *best = release;
            }
        }
        let mut moved = 0;
        for (problem, branches) in newest {
            let superseded = branches.values().all(|last| {
                proven
                    .iter()
                    .any(|r| branch(r) == branch(last) && compare(r, last) == Ordering::Greater)
            });
            if superseded {
                moved +=
                    sqlx::query("UPDATE problems SET state = $2 WHERE id = $1 AND state = 'open'")
                        .bind(problem)
                        .bind(ProblemState::ProbablyFixed.name())
                        .execute(&self.pool)
                        .await?
                        .rows_affected() as usize;
            }
        }
        Ok(moved)
    }
}

/// The counts a split-out signature takes with it.
struct Split {
    count: i64,
    first: i64,
    last: i64,
    /// Title and class of its latest crash.
    title: Option<(String, Option<String>)>,
    counters: BTreeMap<(String, String, String), i64>,
    hosts: BTreeMap<String, (i64, i64, i64)>,
    releases: BTreeMap<String, (i64, i64, i64)>,
}

impl Split {
    fn of(crashes: &[(i64, String, Option<String>, Option<String>)]) -> Split {
        let mut s = Split {
            count: crashes.len() as i64,
            first: crashes.first().map_or(0, |c| c.0),
            last: crashes.last().map_or(0, |c| c.0),
            title: None,
            counters: BTreeMap::new(),
            hosts: BTreeMap::new(),
            releases: BTreeMap::new(),
        };
        for (at, host, release, triage) in crashes {
            let release = release.clone().unwrap_or_else(|| "unknown".into());
            let day = crate::day(*at);
            *s.counters
                .entry((day, release.clone(), host.clone()))
                .or_default() += 1;
            for (slot, key) in [(&mut s.hosts, host), (&mut s.releases, &release)] {
                let e = slot.entry(key.clone()).or_insert((0, *at, *at));
                e.0 += 1;
                e.2 = *at;
            }
            if let Some(d) = triage.as_deref() {
                let d = crate::dashboard::Described::from_triage(d);
                if let Some(title) = d.title {
                    s.title = Some((title, d.class));
                }
            }
        }
        s
    }

    /// Takes the counts from `old` and gives them to `new`.
    async fn write(&self, tx: &mut AnyConnection, old: &str, new: &str) -> Result<(), StoreError> {
        for ((day, release, host), n) in &self.counters {
            sqlx::query(
                "UPDATE counters SET count = count - $5 WHERE problem = $1 AND day = $2 \
                 AND release = $3 AND host = $4",
            )
            .bind(old)
            .bind(day)
            .bind(release)
            .bind(host)
            .bind(n)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO counters (problem, day, release, host, count) VALUES ($1, $2, $3, $4, $5)")
                .bind(new)
                .bind(day)
                .bind(release)
                .bind(host)
                .bind(n)
                .execute(&mut *tx)
                .await?;
        }
        for (table, key, rows) in [
            ("problem_hosts", "host", &self.hosts),
            ("problem_releases", "release", &self.releases),
        ] {
            for (value, (n, first, last)) in rows {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {table} SET count = count - $3 WHERE problem = $1 AND {key} = $2"
                )))
                .bind(old)
                .bind(value)
                .bind(n)
                .execute(&mut *tx)
                .await?;
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {table} (problem, {key}, count, first_seen, last_seen) \
                     VALUES ($1, $2, $3, $4, $5)"
                )))
                .bind(new)
                .bind(value)
                .bind(n)
                .bind(first)
                .bind(last)
                .execute(&mut *tx)
                .await?;
            }
        }
        for table in ["counters", "problem_hosts", "problem_releases"] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE problem = $1 AND count <= 0"
            )))
            .bind(old)
            .execute(&mut *tx)
            .await?;
        }
        // The old problem's span is what its remaining hosts saw.
        sqlx::query(
            "UPDATE problems SET count = count - $2, \
             first_seen = COALESCE((SELECT MIN(first_seen) FROM problem_hosts WHERE problem = $1), first_seen), \
             last_seen = COALESCE((SELECT MAX(last_seen) FROM problem_hosts WHERE problem = $1), last_seen) \
             WHERE id = $1",
        )
        .bind(old)
        .bind(self.count)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}
