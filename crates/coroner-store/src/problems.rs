//! Problems: a problem owns one or more signatures (merging or splitting moves
//! signatures, never crashes); every occurrence counts per problem × day ×
//! release × host; vmcores are kept for a sample.

use crate::db::Db;
use crate::error::StoreError;
use crate::ids::new_id;
use sqlx::AnyConnection;
use std::collections::HashMap;

/// Which vmcores a problem wants: the first `first`, then at most one every
/// `interval` seconds, and always one from a release or host new to it.
#[derive(Debug, Clone, Copy)]
pub struct Sampling {
    pub first: i64,
    pub interval: i64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            first: 5,
            interval: 3600,
        }
    }
}

/// One crash, signed, to be grouped.
#[derive(Debug, Clone)]
pub struct Occurrence<'a> {
    pub crash: &'a str,
    pub signature: &'a str,
    pub version: &'a str,
    pub title: &'a str,
    pub class: Option<&'a str>,
    pub host: &'a str,
    pub release: Option<&'a str>,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned {
    pub problem: String,
    pub want_vmcore: bool,
}

#[derive(Debug, Clone)]
pub struct ProblemRow {
    pub id: String,
    pub title: String,
    pub class: Option<String>,
    pub count: i64,
    pub hosts: Vec<String>,
    pub signatures: Vec<String>,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// Problems listed at most, most recently seen first.
const MAX_PROBLEMS: i64 = 1000;

/// The counters' day of a time (UTC): `2026-12-04`.
pub fn day(at: i64) -> String {
    coroner_report::time::utc_iso8601(at)[..10].to_string()
}

impl Db {
    /// Finds or makes the problem that owns the signature, counts the occurrence,
    /// decides whether its vmcore is wanted and records all of it on the crash, in
    /// one transaction.
    pub async fn assign(
        &self,
        o: &Occurrence<'_>,
        sampling: Sampling,
    ) -> Result<Assigned, StoreError> {
        let mut tx = self.pool.begin().await?;
        let assigned = assign_in(&mut tx, o, sampling).await?;
        tx.commit().await?;
        Ok(assigned)
    }

    /// The problems, most recently seen first.
    pub async fn problems(&self) -> Result<Vec<ProblemRow>, StoreError> {
        type Row = (String, String, Option<String>, i64, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, title, class, count, first_seen, last_seen FROM problems \
             WHERE count > 0 ORDER BY last_seen DESC, id LIMIT $1",
        )
        .bind(MAX_PROBLEMS)
        .fetch_all(&self.pool)
        .await?;
        let mut signatures = self
            .by_problem("SELECT problem, signature FROM signatures ORDER BY signature")
            .await?;
        let mut hosts = self
            .by_problem("SELECT problem, host FROM problem_hosts ORDER BY host")
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, title, class, count, first_seen, last_seen)| ProblemRow {
                    signatures: signatures.remove(&id).unwrap_or_default(),
                    hosts: hosts.remove(&id).unwrap_or_default(),
                    id,
                    title,
                    class,
                    count,
                    first_seen,
                    last_seen,
                },
            )
            .collect())
    }

    /// One problem.
    pub async fn problem(&self, id: &str) -> Result<Option<ProblemRow>, StoreError> {
        let row: Option<(String, String, Option<String>, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, title, class, count, first_seen, last_seen FROM problems \
             WHERE id = $1 AND count > 0",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((id, title, class, count, first_seen, last_seen)) = row else {
            return Ok(None);
        };
        let signatures: Vec<(String,)> = sqlx::query_as(
            "SELECT signature FROM signatures WHERE problem = $1 ORDER BY signature",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await?;
        let hosts: Vec<(String,)> =
            sqlx::query_as("SELECT host FROM problem_hosts WHERE problem = $1 ORDER BY host")
                .bind(&id)
                .fetch_all(&self.pool)
                .await?;
        Ok(Some(ProblemRow {
            id,
            title,
            class,
            count,
            hosts: hosts.into_iter().map(|(h,)| h).collect(),
            signatures: signatures.into_iter().map(|(s,)| s).collect(),
            first_seen,
            last_seen,
        }))
    }

    /// A problem's latest crashes (at most `limit`): (id, host, received, state).
    pub async fn problem_crashes(
        &self,
        problem: &str,
        limit: i64,
    ) -> Result<Vec<(String, String, i64, String)>, StoreError> {
        Ok(sqlx::query_as(
            // A crash's problem is its signature's (merges move signatures).
            "SELECT id, host, received, state FROM crashes WHERE signature IN \
             (SELECT signature FROM signatures WHERE problem = $1) \
             ORDER BY received DESC, id LIMIT $2",
        )
        .bind(problem)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A problem's counters: (day, release, host, count), in that order.
    pub async fn counters(
        &self,
        problem: &str,
    ) -> Result<Vec<(String, String, String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT day, release, host, count FROM counters WHERE problem = $1 \
             ORDER BY day, release, host",
        )
        .bind(problem)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn by_problem(
        &self,
        sql: &'static str,
    ) -> Result<HashMap<String, Vec<String>>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(sql).fetch_all(&self.pool).await?;
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (problem, value) in rows {
            map.entry(problem).or_default().push(value);
        }
        Ok(map)
    }
}

/// [`Db::assign`] inside a transaction the caller holds.
pub(crate) async fn assign_in(
    tx: &mut AnyConnection,
    o: &Occurrence<'_>,
    sampling: Sampling,
) -> Result<Assigned, StoreError> {
    let release = o.release.unwrap_or("unknown");
    // A write first, so that SQLite takes its write lock at the start.
    let candidate = new_id();
    sqlx::query(
        "INSERT INTO problems (id, title, class, count, first_seen, last_seen, vmcores_wanted) \
         SELECT $1, $2, $3, 0, $4, $4, 0 \
         WHERE NOT EXISTS (SELECT 1 FROM signatures WHERE signature = $5)",
    )
    .bind(&candidate)
    .bind(o.title)
    .bind(o.class.map(str::to_string))
    .bind(o.at)
    .bind(o.signature)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO signatures (signature, version, problem) VALUES ($1, $2, $3) \
         ON CONFLICT (signature) DO NOTHING",
    )
    .bind(o.signature)
    .bind(o.version)
    .bind(&candidate)
    .execute(&mut *tx)
    .await?;
    let (problem,): (String,) =
        sqlx::query_as("SELECT problem FROM signatures WHERE signature = $1")
            .bind(o.signature)
            .fetch_one(&mut *tx)
            .await?;
    if problem != candidate {
        // Another node signed it first (PostgreSQL): drop the unused problem.
        sqlx::query(
            "DELETE FROM problems WHERE id = $1 AND NOT EXISTS \
             (SELECT 1 FROM signatures WHERE problem = $1)",
        )
        .bind(&candidate)
        .execute(&mut *tx)
        .await?;
    }
    let (wanted, last_wanted): (i64, Option<i64>) =
        sqlx::query_as("SELECT vmcores_wanted, last_vmcore_wanted FROM problems WHERE id = $1")
            .bind(&problem)
            .fetch_one(&mut *tx)
            .await?;
    let (host_seen,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM problem_hosts WHERE problem = $1 AND host = $2")
            .bind(&problem)
            .bind(o.host)
            .fetch_one(&mut *tx)
            .await?;
    let (release_seen,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM counters WHERE problem = $1 AND release = $2")
            .bind(&problem)
            .bind(release)
            .fetch_one(&mut *tx)
            .await?;
    let want_vmcore = wanted < sampling.first
        || host_seen == 0
        || release_seen == 0
        || last_wanted.is_none_or(|t| o.at - t >= sampling.interval);

    sqlx::query(
        "UPDATE problems SET count = count + 1, last_seen = $2, \
         vmcores_wanted = vmcores_wanted + $3, \
         last_vmcore_wanted = CASE WHEN $3 = 1 THEN $2 ELSE last_vmcore_wanted END \
         WHERE id = $1",
    )
    .bind(&problem)
    .bind(o.at)
    .bind(i64::from(want_vmcore))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO counters (problem, day, release, host, count) VALUES ($1, $2, $3, $4, 1) \
         ON CONFLICT (problem, day, release, host) DO UPDATE SET count = counters.count + 1",
    )
    .bind(&problem)
    .bind(day(o.at))
    .bind(release)
    .bind(o.host)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO problem_hosts (problem, host, count, first_seen, last_seen) \
         VALUES ($1, $2, 1, $3, $3) ON CONFLICT (problem, host) \
         DO UPDATE SET count = problem_hosts.count + 1, last_seen = $3",
    )
    .bind(&problem)
    .bind(o.host)
    .bind(o.at)
    .execute(&mut *tx)
    .await?;
    crate::states::occurred(&mut *tx, &problem, o).await?;
    sqlx::query(
        "UPDATE crashes SET signature = $2, signature_version = $3, problem = $4, \
         want_vmcore = $5 WHERE id = $1",
    )
    .bind(o.crash)
    .bind(o.signature)
    .bind(o.version)
    .bind(&problem)
    .bind(i64::from(want_vmcore))
    .execute(&mut *tx)
    .await?;
    Ok(Assigned {
        problem,
        want_vmcore,
    })
}
