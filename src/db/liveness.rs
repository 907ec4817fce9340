//! Whether a pool's connections can be trusted: after one was found dead, its siblings are
//! likely dead too (a restart, or a suspended Neon compute, kills them all), so for a few
//! seconds every connection is tested before use. One [`Liveness`] belongs to one pool.
//!
//! Reads and single-statement writes that meet a lost connection run again once, on a
//! tested connection ([`Liveness::read_again_if_lost`], [`Liveness::write_again_if_terminated`]).

use std::{
    future::Future,
    sync::Mutex,
    time::{Duration, Instant},
};

/// A connection idle for longer than this is pinged before it is handed out.
pub const TRUST_IDLE_FOR: Duration = Duration::from_secs(1);
/// After a connection was found dead, every connection is pinged for this long.
pub const SUSPICIOUS_FOR: Duration = Duration::from_secs(5);

/// When a connection of one pool was last found dead.
#[derive(Debug, Default)]
pub struct Liveness {
    last_loss: Mutex<Option<Instant>>,
}

impl Liveness {
    /// Records that a connection was found dead: for [`SUSPICIOUS_FOR`], every connection is
    /// tested before use, so the dead ones are replaced instead of failing requests.
    pub fn lost(&self) {
        *self.lock() = Some(Instant::now());
    }

    /// Whether a connection was found dead in the last [`SUSPICIOUS_FOR`].
    pub fn suspicious(&self) -> bool {
        self.lock().is_some_and(|at| at.elapsed() < SUSPICIOUS_FOR)
    }

    /// Whether a connection idle for `idle_for` must be tested before use.
    pub fn must_test(&self, idle_for: Duration) -> bool {
        idle_for >= TRUST_IDLE_FOR || self.suspicious()
    }

    /// Whether `err` means its connection is gone; if so, records it (see [`Self::lost`]).
    pub fn note_if_lost(&self, err: &sqlx::Error) -> bool {
        let lost = is_connection_lost(err);
        if lost {
            self.lost();
        }
        lost
    }

    /// Runs a read again, once, when its connection turned out to be gone: a pooled
    /// connection killed while idle (a restart, an administrator) is only found when used.
    /// The second attempt gets a tested connection.
    pub async fn read_again_if_lost<T, Fut>(
        &self,
        mut read: impl FnMut() -> Fut,
    ) -> Result<T, sqlx::Error>
    where
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        match read().await {
            Err(e) if self.note_if_lost(&e) => {
                tracing::info!(error = %e, "a pooled connection was lost; reading again");
                read().await
            }
            other => other,
        }
    }

    /// Runs a single-statement write again, once, when the server had terminated its
    /// connection (57P01/57P02). A terminated backend commits nothing it had not already
    /// answered, so the statement did not take effect. Other losses (the network) are
    /// ambiguous and are not retried.
    pub async fn write_again_if_terminated<T, Fut>(
        &self,
        mut write: impl FnMut() -> Fut,
    ) -> Result<T, sqlx::Error>
    where
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        match write().await {
            Err(e) if self.note_if_lost(&e) && is_terminated(&e) => {
                tracing::info!(error = %e, "a pooled connection had been terminated; writing again");
                write().await
            }
            other => other,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.last_loss
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether `err` means the connection it happened on is gone (the server closed it, or
/// the network did), as opposed to a problem with the statement.
pub fn is_connection_lost(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02")),
        _ => false,
    }
}

fn is_terminated(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().is_some_and(|c| matches!(&*c, "57P01" | "57P02")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn io_error() -> sqlx::Error {
        sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
    }

    #[test]
    fn a_loss_makes_every_connection_suspect_for_a_while_and_only_its_own_pool() {
        let one = Liveness::default();
        let other = Liveness::default();
        assert!(!one.must_test(Duration::ZERO));
        assert!(one.must_test(TRUST_IDLE_FOR));
        assert!(one.note_if_lost(&io_error()));
        assert!(one.must_test(Duration::ZERO));
        assert!(!other.suspicious());
    }

    #[test]
    fn statement_errors_are_not_losses() {
        let liveness = Liveness::default();
        assert!(!liveness.note_if_lost(&sqlx::Error::RowNotFound));
        assert!(!liveness.note_if_lost(&sqlx::Error::PoolTimedOut));
        assert!(!liveness.suspicious());
    }

    #[tokio::test]
    async fn a_read_runs_again_once_on_a_lost_connection_and_not_on_other_errors() {
        let liveness = Liveness::default();
        let calls = AtomicU32::new(0);
        let read = liveness
            .read_again_if_lost(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(io_error()),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(read.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let calls = AtomicU32::new(0);
        let read: Result<i32, _> = liveness
            .read_again_if_lost(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(sqlx::Error::RowNotFound)
            })
            .await;
        assert!(read.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_write_runs_again_only_when_the_server_had_terminated_its_connection() {
        let liveness = Liveness::default();
        let calls = AtomicU32::new(0);
        let write: Result<i32, _> = liveness
            .write_again_if_terminated(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(io_error())
            })
            .await;
        assert!(write.is_err());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "a network loss is ambiguous"
        );
    }
}
