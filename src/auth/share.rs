//! Each user's share of the database: at most `DB_MAX_CONNECTIONS_PER_USER` of one user's
//! requests use it at once, so one account's slow requests cannot take every pooled
//! connection while others wait.
//!
//! The share belongs to the user of a verified token: the bearer checker takes it after the
//! token's signature and expiry are checked and before any database work (the session read
//! included), and the request gives it back when it ends, however it ends. What a client
//! writes in a path cannot spend anyone else's share. A request past its user's share waits
//! for one of that user's requests to finish, for at most the pool's acquire timeout.
//!
//! Each user's share is a Tokio [`Semaphore`]; a user's entry exists while one of their
//! requests holds or waits for a permit.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::ids::UserId;

/// The shares of every user with a request at the database.
#[derive(Clone)]
pub struct Shares {
    inner: Arc<Inner>,
}

struct Inner {
    per_user: u32,
    wait: Duration,
    users: Mutex<HashMap<UserId, Arc<Semaphore>>>,
}

/// A request's place in its user's share; given back when dropped.
pub struct Share {
    permit: Option<OwnedSemaphorePermit>,
    user: UserId,
    shares: Arc<Inner>,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Share").field("user", &self.user).finish()
    }
}

/// A request waited the whole time allowed while its user's other requests held the share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareHeld;

impl Shares {
    /// Shares of `per_user` requests each; a request waits at most `wait` for a place.
    pub fn new(per_user: u32, wait: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                per_user: per_user.max(1),
                wait,
                users: Mutex::default(),
            }),
        }
    }

    /// A place in `user`'s share: at once while the user is below it, else when one of
    /// their requests ends, or [`ShareHeld`] after the wait allowed.
    pub async fn take(&self, user: UserId) -> Result<Share, ShareHeld> {
        let semaphore = self.inner.semaphore(user);
        let permit = match semaphore.clone().try_acquire_owned() {
            Ok(permit) => Ok(permit),
            Err(_) => {
                metrics::counter!("user_share_waits_total").increment(1);
                // The wait holds the only clone besides the map's and the holders'.
                tokio::time::timeout(self.inner.wait, semaphore.acquire_owned())
                    .await
                    .map_err(|_| ShareHeld)
                    .and_then(|p| p.map_err(|_| ShareHeld))
            }
        };
        match permit {
            Ok(permit) => Ok(Share {
                permit: Some(permit),
                user,
                shares: self.inner.clone(),
            }),
            Err(held) => {
                self.inner.forget_if_unused(user);
                Err(held)
            }
        }
    }

    /// How many users have a request holding or waiting for a place.
    pub fn users(&self) -> usize {
        self.inner.lock().len()
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Arc<Semaphore>>> {
        // Every change to the map is a single insert or remove: a panic leaves it whole.
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn semaphore(&self, user: UserId) -> Arc<Semaphore> {
        self.lock()
            .entry(user)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_user as usize)))
            .clone()
    }

    /// Removes `user`'s entry when nothing but the map refers to it: no request holds a
    /// permit of it or waits for one (each of those keeps a clone).
    fn forget_if_unused(&self, user: UserId) {
        let mut users = self.lock();
        if users.get(&user).is_some_and(|s| Arc::strong_count(s) == 1) {
            users.remove(&user);
        }
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        drop(self.permit.take());
        self.shares.forget_if_unused(self.user);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn a_user_holds_at_most_their_share_and_others_are_not_affected() {
        let shares = Shares::new(2, Duration::from_millis(20));
        let a = shares.take(UserId(1)).await.unwrap();
        let _b = shares.take(UserId(1)).await.unwrap();
        assert_eq!(shares.take(UserId(1)).await.unwrap_err(), ShareHeld);
        let _other = shares.take(UserId(2)).await.unwrap();
        drop(a);
        let _c = shares.take(UserId(1)).await.unwrap();
    }

    #[tokio::test]
    async fn a_request_past_its_share_gets_the_place_of_the_first_to_finish() {
        let shares = Shares::new(1, WAIT);
        let first = shares.take(UserId(1)).await.unwrap();
        let waiting = tokio::spawn({
            let shares = shares.clone();
            async move { shares.take(UserId(1)).await.map(|_| ()) }
        });
        // The waiter is queued once its clone of the semaphore is counted.
        while shares.inner.lock().get(&UserId(1)).map(Arc::strong_count) != Some(3) {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished());
        drop(first);
        assert_eq!(waiting.await.unwrap(), Ok(()));
    }

    #[tokio::test]
    async fn entries_go_when_their_last_request_ends_or_gives_up() {
        let shares = Shares::new(1, Duration::from_millis(10));
        let held = shares.take(UserId(1)).await.unwrap();
        assert_eq!(shares.users(), 1);
        assert!(shares.take(UserId(1)).await.is_err());
        assert_eq!(shares.users(), 1, "the holder's entry stays");
        drop(held);
        assert_eq!(shares.users(), 0);
    }

    #[tokio::test]
    async fn a_request_dropped_while_waiting_leaves_nothing_behind() {
        let shares = Shares::new(1, WAIT);
        let held = shares.take(UserId(1)).await.unwrap();
        let waiting = tokio::spawn({
            let shares = shares.clone();
            async move { shares.take(UserId(1)).await.map(|_| ()) }
        });
        while shares.inner.lock().get(&UserId(1)).map(Arc::strong_count) != Some(3) {
            tokio::task::yield_now().await;
        }
        waiting.abort();
        assert!(waiting.await.unwrap_err().is_cancelled());
        drop(held);
        assert_eq!(shares.users(), 0);
        let _again = shares.take(UserId(1)).await.unwrap();
    }
}
