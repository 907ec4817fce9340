//! A fair share of the pool per user: at most a few of one user's requests use the
//! database at once, so one user's slow requests (30 broad searches, say) cannot take
//! every pooled connection while others wait. Requests over the share queue, bounded.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use poem::{Endpoint, IntoResponse, Request, Response, Result};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{db::refusal::Refusal, error::ApiError};

pub struct UserSlots {
    per_user: u32,
    wait: Duration,
    users: Mutex<HashMap<i64, Arc<Semaphore>>>,
}

/// One request's place in its user's share; given back when dropped.
pub struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    user: i64,
    slots: Arc<UserSlots>,
}

impl UserSlots {
    pub fn new(per_user: u32, wait: Duration) -> Self {
        Self {
            per_user,
            wait,
            users: Mutex::new(HashMap::new()),
        }
    }

    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<Semaphore>>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits (at most the pool's acquire deadline) for a place in `user`'s share.
    pub async fn enter(self: &Arc<Self>, user: i64) -> Option<Slot> {
        let semaphore = self
            .users()
            .entry(user)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_user as usize)))
            .clone();
        let permit = match semaphore.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                metrics::counter!("user_share_waits_total").increment(1);
                match tokio::time::timeout(self.wait, semaphore.acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    _ => return None,
                }
            }
        };
        Some(Slot {
            permit: Some(permit),
            user,
            slots: self.clone(),
        })
    }

    /// Users with a semaphore right now (the map only holds users with requests in flight).
    pub fn tracked(&self) -> usize {
        self.users().len()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut users = self.slots.users();
        // Forget users with nothing in flight, so the map stays as small as the traffic.
        if let Some(semaphore) = users.get(&self.user)
            && Arc::strong_count(semaphore) == 1
            && semaphore.available_permits() == self.slots.per_user as usize
        {
            users.remove(&self.user);
        }
    }
}

/// The user id of `/api/{user_id}/…`, if the path has one.
fn path_user(path: &str) -> Option<i64> {
    let rest = path.strip_prefix("/api/")?;
    let (id, _) = rest.split_once('/')?;
    id.parse().ok()
}

/// Holds a place in the path user's share for the whole request. A path naming another
/// user than the token's is refused (403) without touching the database, so it occupies
/// that user's share only for an instant.
pub async fn fair_share<E: Endpoint>(
    next: E,
    req: Request,
    slots: &Arc<UserSlots>,
) -> Result<Response> {
    let Some(user) = path_user(req.uri().path()) else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let Some(slot) = slots.enter(user).await else {
        crate::instruments::throttled("user_share");
        return Ok(ApiError::Database(Refusal::UserShare).into_response());
    };
    let response = next.call(req).await.map(IntoResponse::into_response);
    drop(slot);
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_user_paths_have_a_user() {
        assert_eq!(path_user("/api/42/tasks"), Some(42));
        assert_eq!(path_user("/api/42/tasks/7/complete"), Some(42));
        assert_eq!(path_user("/api/auth/login"), None);
        assert_eq!(path_user("/health/ready"), None);
    }

    #[tokio::test]
    async fn a_user_beyond_the_share_waits_and_others_do_not() {
        let slots = Arc::new(UserSlots::new(2, Duration::from_millis(50)));
        let a1 = slots.enter(1).await.unwrap();
        let _a2 = slots.enter(1).await.unwrap();
        assert!(
            slots.enter(1).await.is_none(),
            "a third request of user 1 waits, then gives up"
        );
        assert!(
            slots.enter(2).await.is_some(),
            "user 2 is not held up by user 1"
        );
        drop(a1);
        assert!(slots.enter(1).await.is_some());
    }

    #[tokio::test]
    async fn users_are_forgotten_when_idle() {
        let slots = Arc::new(UserSlots::new(2, Duration::from_millis(50)));
        drop(slots.enter(1).await.unwrap());
        assert_eq!(slots.tracked(), 0);
    }
}
