//! The task change log (`migrations/0016_task_change_log.sql`): what changed in a user's
//! tasks since a position, a position being a PostgreSQL snapshot.
//!
//! Each read is one statement that takes `pg_current_snapshot()` too. In READ COMMITTED a
//! statement runs on one snapshot, and `pg_current_snapshot()` returns that snapshot (the
//! active one), so the position handed out is exactly what the statement saw: every change
//! it did not see is a log row whose transaction is not visible in the position, and the
//! next read finds it there, whatever order transactions committed in.

use std::{fmt, str::FromStr, time::Duration};

use sqlx::{PgExecutor, Row, postgres::PgRow};

use super::tasks::{TASK_COLUMNS, task_columns, task_from};
use crate::domain::{
    ids::{TaskId, UserId},
    task::Task,
};

/// The channel every change to a user's tasks is announced on (payload: the user id; empty
/// when every user's tasks may have changed).
pub const CHANNEL: &str = "task_changed";

/// The most transactions a snapshot read here lists as in progress: with more running at
/// once, it is narrowed (see [`Snapshot::narrowed`]), so a token always fits in a URL.
pub const MAX_LISTED: usize = 90;

/// A snapshot as PostgreSQL writes one (`xmin:xmax:xip,xip,…`): transactions before `xmin`
/// had ended, from `xmax` on had not begun, and those listed were in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub xmin: u64,
    pub xmax: u64,
    pub in_progress: Box<[u64]>,
}

impl FromStr for Snapshot {
    type Err = ();

    /// Only snapshots PostgreSQL could have written (`xmin <= xmax`, the listed
    /// transactions ascending, distinct and within `[xmin, xmax)`), listing at most
    /// [`MAX_LISTED`] as this server writes them.
    fn from_str(text: &str) -> Result<Self, ()> {
        Self::parse(text, MAX_LISTED)
    }
}

impl Snapshot {
    /// A snapshot as PostgreSQL writes one, listing at most `most` transactions.
    fn parse(text: &str, most: usize) -> Result<Self, ()> {
        let mut parts = text.split(':');
        let (Some(xmin), Some(xmax), Some(xip), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(());
        };
        let number = |s: &str| -> Result<u64, ()> {
            if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(());
            }
            s.parse().map_err(|_| ())
        };
        let (xmin, xmax) = (number(xmin)?, number(xmax)?);
        let in_progress = if xip.is_empty() {
            Vec::new()
        } else {
            xip.split(',').map(number).collect::<Result<Vec<_>, _>>()?
        };
        let ordered = in_progress.windows(2).all(|w| w[0] < w[1]);
        let within = in_progress.iter().all(|x| (xmin..xmax).contains(x));
        // PostgreSQL refuses xmin 0 (an invalid transaction id).
        if xmin == 0 || xmin > xmax || !ordered || !within || in_progress.len() > most {
            return Err(());
        }
        Ok(Self {
            xmin,
            xmax,
            in_progress: in_progress.into(),
        })
    }
}

impl Snapshot {
    /// This snapshot, or one that sees less when it lists more than `n` transactions in
    /// progress: the first `n` stay listed, and from the next one on every transaction is
    /// taken as not yet begun. A token made from it may bring a change again; it never
    /// misses one.
    pub fn narrowed(self, n: usize) -> Self {
        match self.in_progress.get(n) {
            None => self,
            Some(&first_dropped) => Self {
                xmin: self.xmin,
                xmax: first_dropped,
                in_progress: self.in_progress[..n].into(),
            },
        }
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:", self.xmin, self.xmax)?;
        for (i, x) in self.in_progress.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{x}")?;
        }
        Ok(())
    }
}

fn snapshot_at(row: &PgRow, index: usize) -> Result<Snapshot, sqlx::Error> {
    read_back(row.try_get(index)?, index)
}

/// A snapshot PostgreSQL gave, narrowed to [`MAX_LISTED`] transactions in progress.
fn read_back(text: String, index: usize) -> Result<Snapshot, sqlx::Error> {
    match Snapshot::parse(&text, usize::MAX) {
        Ok(s) => Ok(s.narrowed(MAX_LISTED)),
        Err(()) => Err(sqlx::Error::ColumnDecode {
            index: index.to_string(),
            source: format!("not a snapshot: {text}").into(),
        }),
    }
}

/// A task in a full read, and its `created_at` as text (where a page after it starts).
#[derive(Debug, Clone)]
pub struct Listed {
    pub task: Task,
    pub created_key: String,
}

/// One page of every task of a user, newest first, and the snapshot it was read on.
pub struct FullPage {
    pub snapshot: Snapshot,
    /// One more than the limit when another page follows.
    pub tasks: Vec<Listed>,
}

/// One page of a user's tasks, newest first (`created_at DESC, id DESC`, as
/// `task_user_created_idx` orders them), after `after` (a `created_at` as PostgreSQL prints
/// it, and an id), and the snapshot of the statement that read it.
pub async fn everything(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    after: Option<(&str, TaskId)>,
    limit: u32,
) -> Result<FullPage, sqlx::Error> {
    let rows: Vec<PgRow> = sqlx::query(concat!(
        "SELECT pg_current_snapshot()::text, p.* FROM (SELECT 1) AS one LEFT JOIN LATERAL (
             SELECT ",
        task_columns!(),
        ", created_at::text AS created_key FROM task
             WHERE user_id = $1
               AND ($2::text IS NULL OR (created_at, id) < ($2::text::timestamp, $3))
             ORDER BY task.created_at DESC, task.id DESC LIMIT $4) AS p ON true"
    ))
    .bind(user_id)
    .bind(after.map(|a| a.0))
    .bind(after.map_or(0, |a| a.1.0))
    .bind(i64::from(limit) + 1)
    .fetch_all(db)
    .await?;
    let first = rows.first().ok_or(sqlx::Error::RowNotFound)?;
    let snapshot = snapshot_at(first, 0)?;
    let mut tasks = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<Option<i32>, _>(1)?.is_none() {
            break;
        }
        tasks.push(Listed {
            task: task_from(row, 1)?,
            created_key: row.try_get(1 + TASK_COLUMNS)?,
        });
    }
    Ok(FullPage { snapshot, tasks })
}

/// A task touched since a position: as it is now, or gone.
#[derive(Debug, Clone)]
pub enum Touched {
    Changed(Task),
    Deleted(TaskId),
}

impl Touched {
    pub fn id(&self) -> TaskId {
        match self {
            Self::Changed(task) => task.id,
            Self::Deleted(id) => *id,
        }
    }
}

/// What changed since a position.
pub enum Delta {
    /// The log no longer holds every change since (pruned, or the table was truncated):
    /// the client has to read everything again.
    Gone,
    /// The tasks touched since, by id ascending after the caller's `after` (one more than
    /// the limit when more follow), and the snapshot of the statement that read them.
    Found {
        snapshot: Snapshot,
        touched: Vec<Touched>,
    },
}

/// The tasks of `user_id` touched by transactions that `since` did not see, after task
/// `after`, in one statement: when nothing changed it reads the horizon and an empty range
/// of the log's index, and no task.
pub async fn since(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    since: &Snapshot,
    after: Option<TaskId>,
    limit: u32,
) -> Result<Delta, sqlx::Error> {
    let rows: Vec<PgRow> = sqlx::query(concat!(
        "WITH horizon AS (SELECT pruned_through >= $3::text::xid8 AS gone FROM task_change_horizon),
         touched AS (
             SELECT DISTINCT c.task_id FROM task_change c
             WHERE c.user_id = $1 AND c.xid >= $3::text::xid8 AND c.task_id > $4
               AND NOT pg_visible_in_snapshot(c.xid, $2::text::pg_snapshot)
               AND NOT (SELECT gone FROM horizon)
             ORDER BY c.task_id LIMIT $5)
         SELECT pg_current_snapshot()::text, (SELECT gone FROM horizon), t.task_id::integer, ",
        task_columns!(),
        " FROM (SELECT 1) AS one
         LEFT JOIN (touched t LEFT JOIN task ON task.id = t.task_id AND task.user_id = $1)
           ON true
         ORDER BY t.task_id"
    ))
    .bind(user_id)
    .bind(since.to_string())
    .bind(since.xmin.to_string())
    .bind(after.map_or(0, |a| a.0))
    .bind(i64::from(limit) + 1)
    .fetch_all(db)
    .await?;
    let first = rows.first().ok_or(sqlx::Error::RowNotFound)?;
    if first.try_get::<Option<bool>, _>(1)?.unwrap_or(false) {
        return Ok(Delta::Gone);
    }
    let snapshot = snapshot_at(first, 0)?;
    let mut touched = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(id) = row.try_get::<Option<TaskId>, _>(2)? else {
            break;
        };
        touched.push(match row.try_get::<Option<i32>, _>(3)? {
            Some(_) => Touched::Changed(task_from(row, 3)?),
            None => Touched::Deleted(id),
        });
    }
    Ok(Delta::Found { snapshot, touched })
}

/// The position "now": a snapshot with nothing after it read.
pub async fn now(db: impl PgExecutor<'_>) -> Result<Snapshot, sqlx::Error> {
    let text: String = sqlx::query_scalar("SELECT pg_current_snapshot()::text")
        .fetch_one(db)
        .await?;
    read_back(text, 0)
}

/// Deletes log rows older than `retention` and moves the horizon past them, in one
/// statement: a position that might not have seen one of them is then refused (`Gone`).
pub async fn prune(db: impl PgExecutor<'_>, retention: Duration) -> Result<u64, sqlx::Error> {
    let pruned: i64 = sqlx::query_scalar(
        "WITH gone AS (
             DELETE FROM task_change
             WHERE changed_at < now() - make_interval(secs => $1)
             RETURNING xid),
         moved AS (
             UPDATE task_change_horizon
             SET pruned_through = greatest(pruned_through, (SELECT max(xid) FROM gone))
             WHERE EXISTS (SELECT FROM gone))
         SELECT count(*) FROM gone",
    )
    .bind(retention.as_secs_f64())
    .fetch_one(db)
    .await?;
    Ok(u64::try_from(pruned).unwrap_or(0))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::Snapshot;

    #[test]
    fn a_snapshot_listing_too_many_is_narrowed_to_one_that_sees_less() {
        let many: Vec<String> = (10..10 + super::MAX_LISTED as u64 + 5)
            .map(|x| x.to_string())
            .collect();
        let text = format!("10:500:{}", many.join(","));
        assert!(
            text.parse::<Snapshot>().is_err(),
            "more than a token may list"
        );
        let wide = Snapshot::parse(&text, usize::MAX).unwrap();
        let narrow = wide.clone().narrowed(super::MAX_LISTED);
        assert_eq!(narrow.in_progress.len(), super::MAX_LISTED);
        assert_eq!(narrow.xmax, wide.in_progress[super::MAX_LISTED]);
        // Everything the narrow one counts as seen, the wide one had seen too.
        let seen = |s: &Snapshot, x: u64| x < s.xmin || (x < s.xmax && !s.in_progress.contains(&x));
        assert!((0..600).all(|x| !seen(&narrow, x) || seen(&wide, x)));
        assert_eq!(narrow.to_string().parse::<Snapshot>().unwrap(), narrow);
        let small: Snapshot = "5:9:5,7".parse().unwrap();
        assert_eq!(small.clone().narrowed(super::MAX_LISTED), small);
    }

    #[test]
    fn snapshots_read_back_as_postgresql_writes_them() {
        for ok in ["5:5:", "5:9:5,7", "1:18446744073709551615:"] {
            let s: Snapshot = ok.parse().unwrap();
            assert_eq!(s.to_string(), ok);
        }
        for bad in [
            "",
            "5:5",
            "5:4:",
            "0:5:",
            "5:9:9",
            "5:9:7,6",
            "5:9:6,6",
            "a:9:",
            "5:9:,",
            "5:9:4",
            "+5:9:",
            "5:9:6:",
            "99999999999999999999999:9:",
        ] {
            assert!(bad.parse::<Snapshot>().is_err(), "{bad}");
        }
    }
}
