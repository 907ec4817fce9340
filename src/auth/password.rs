//! Password hashing: argon2id for everything new; bcrypt hashes from the old backend verify
//! once and are then replaced. Hashing is CPU-heavy, so it runs on tokio's blocking threads,
//! a few at a time.

use std::sync::LazyLock;

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// One queue of password hashing jobs. Each hash takes ~19 MiB and a core for tens of
/// milliseconds, so only `running` hash at once (a permit is held until the hash is done,
/// even when its request has gone away); up to `waiting` more wait for a permit, and a job
/// past those is shed with a 503, since that queue is already seconds long. Logins and
/// registrations have a queue each, so a flood of registrations cannot make logins wait
/// behind it.
struct Hashing {
    name: &'static str,
    /// A permit for each job running or waiting: what the queue has room for.
    admitted: Semaphore,
    /// A permit for each job hashing.
    running: Semaphore,
}

impl Hashing {
    fn new(name: &'static str, running: usize, waiting: usize) -> Self {
        Self {
            name,
            admitted: Semaphore::new(running + waiting),
            running: Semaphore::new(running),
        }
    }

    /// Runs `work` on a blocking thread once a permit is free, or refuses it (503) when the
    /// queue is full.
    async fn run<T: Send + 'static>(
        &'static self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let Ok(admitted) = self.admitted.try_acquire() else {
            crate::instruments::hash_shed(self.name);
            tracing::warn!(queue = self.name, "password hashing queue is full");
            return Err(ApiError::Busy(
                "The server is busy hashing passwords for other requests (this is not a \
                 database outage): retry in a few seconds.",
            ));
        };
        let waiting = Waiting::enter(self.name);
        let running = self
            .running
            .acquire()
            .await
            .map_err(|_| ApiError::internal("the password hashing permits were closed"))?;
        drop(waiting);
        tokio::task::spawn_blocking(move || {
            let _permits = (admitted, running);
            work()
        })
        .await
        .map_err(|e| ApiError::internal(format!("a password hashing job failed: {e}")))
    }
}

/// A job waiting for a permit, counted in `password_hash_queue_depth` until it gets one or
/// its request goes away.
struct Waiting(&'static str);

impl Waiting {
    fn enter(queue: &'static str) -> Self {
        crate::instruments::hash_queued(queue);
        Self(queue)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        crate::instruments::hash_dequeued(self.0);
    }
}

/// The available cores, at most four: hashes at once, and so ~19 MiB each, stay bounded on
/// a large machine.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4))
}

/// Logins: one hash per core, and a queue a few seconds long.
static LOGINS: LazyLock<Hashing> = LazyLock::new(|| Hashing::new("login", cores(), 256));

/// Registrations: half the cores, and a short queue: new accounts can wait, logins cannot.
static REGISTRATIONS: LazyLock<Hashing> =
    LazyLock::new(|| Hashing::new("registration", cores().div_ceil(2), 128));

/// Verified against when the email is unknown, so the response takes as long as for a real
/// account and timing does not reveal which emails exist. The hash of a random password
/// nobody kept, with the same parameters as every new hash (a test holds them equal), so
/// the server computes nothing for it at startup.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$NCraz7gIPUBHIxZYOjvF3w$m02LnZPqTIVEeOeZfTosiicAv3QqwW0QBJ6Q2vnq+BM";

/// What checking a password against a stored hash found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but stored in a legacy format: store this argon2id hash instead.
    YesRehash(String),
}

fn argon2() -> Argon2<'static> {
    // RustCrypto's defaults: argon2id, m = 19 MiB, t = 2, p = 1 (OWASP's recommendation).
    Argon2::default()
}

fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
}

fn verify_blocking(password: &str, stored: &str) -> Verified {
    if is_bcrypt(stored) {
        return match bcrypt::verify(password, stored) {
            Ok(true) => match hash_blocking(password) {
                Ok(new_hash) => Verified::YesRehash(new_hash),
                Err(_) => Verified::Yes,
            },
            _ => Verified::No,
        };
    }
    match PasswordHash::new(stored) {
        Ok(parsed)
            if argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok() =>
        {
            Verified::Yes
        }
        _ => Verified::No,
    }
}

/// Hashes a new account's password with argon2id.
pub async fn hash(password: &str) -> Result<String, ApiError> {
    let password = password.to_owned();
    REGISTRATIONS
        .run(move || hash_blocking(&password))
        .await?
        .map_err(ApiError::internal)
}

/// Checks a password against a stored hash, or against a dummy hash of the same cost when
/// there is no account (`stored` is `None`), which always fails.
pub async fn verify(password: &str, stored: Option<String>) -> Result<Verified, ApiError> {
    let password = password.to_owned();
    LOGINS
        .run(move || match stored {
            Some(stored) => verify_blocking(&password, &stored),
            None => {
                let _ = verify_blocking(&password, DUMMY_HASH);
                Verified::No
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::{
        pin::Pin,
        task::{Context, Poll},
    };

    use super::*;

    #[tokio::test]
    async fn argon2id_round_trip() {
        let stored = hash("correct horse battery").await.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert_eq!(
            verify("correct horse battery", Some(stored.clone()))
                .await
                .unwrap(),
            Verified::Yes
        );
        assert_eq!(
            verify("wrong horse battery", Some(stored)).await.unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn bcrypt_verifies_and_asks_for_a_rehash() {
        let legacy = bcrypt::hash("old password", 4).unwrap();
        match verify("old password", Some(legacy.clone())).await.unwrap() {
            Verified::YesRehash(new) => assert!(new.starts_with("$argon2id$")),
            other => panic!("{other:?}"),
        }
        assert_eq!(verify("not it", Some(legacy)).await.unwrap(), Verified::No);
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let real_hash = hash_blocking("any password").unwrap();
        let real = PasswordHash::new(&real_hash).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
    }

    /// Polls `future` once, as a request's first step.
    fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        Pin::new(future).poll(&mut Context::from_waker(std::task::Waker::noop()))
    }

    /// A queue of its own for one test.
    fn queue(running: usize, waiting: usize) -> &'static Hashing {
        Box::leak(Box::new(Hashing::new("test", running, waiting)))
    }

    /// A job that runs until something is sent on the sender returned with it.
    fn held_job() -> (
        std::sync::mpsc::Sender<()>,
        impl FnOnce() -> bool + Send + 'static,
    ) {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        (release, move || gate.recv().is_ok())
    }

    fn is_shed<T>(answer: Poll<Result<T, ApiError>>) -> bool {
        matches!(answer, Poll::Ready(Err(ApiError::Busy(_))))
    }

    #[tokio::test]
    async fn a_job_past_the_running_and_waiting_ones_is_shed() {
        let queue = queue(1, 1);
        let (release, job) = held_job();
        let mut running = Box::pin(queue.run(job));
        assert!(poll_once(&mut running).is_pending());
        let mut waiting = Box::pin(queue.run(|| 2));
        assert!(poll_once(&mut waiting).is_pending());

        assert!(is_shed(poll_once(&mut Box::pin(queue.run(|| 3)))));

        release.send(()).unwrap();
        assert!(running.await.unwrap());
        assert_eq!(waiting.await.unwrap(), 2);
        assert_eq!(queue.run(|| 4).await.unwrap(), 4);
    }

    #[tokio::test]
    async fn a_waiting_job_whose_request_went_away_gives_its_place_back() {
        let queue = queue(1, 1);
        let (release, job) = held_job();
        let mut running = Box::pin(queue.run(job));
        assert!(poll_once(&mut running).is_pending());
        let mut gone = Box::pin(queue.run(|| 2));
        assert!(poll_once(&mut gone).is_pending());
        drop(gone);

        let mut next = Box::pin(queue.run(|| 3));
        assert!(poll_once(&mut next).is_pending(), "it waits, not shed");
        release.send(()).unwrap();
        assert!(running.await.unwrap());
        assert_eq!(next.await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_hash_keeps_its_place_until_done_even_when_its_request_went_away() {
        let queue = queue(1, 0);
        let (release, job) = held_job();
        let mut gone = Box::pin(queue.run(job));
        assert!(poll_once(&mut gone).is_pending());
        drop(gone);

        assert!(is_shed(poll_once(&mut Box::pin(queue.run(|| 2)))));
        release.send(()).unwrap();
        // The place comes back when the hash ends.
        drop(queue.admitted.acquire().await.unwrap());
        assert_eq!(queue.run(|| 3).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn unknown_accounts_and_garbage_hashes_never_verify() {
        assert_eq!(verify("anything", None).await.unwrap(), Verified::No);
        assert_eq!(
            verify("anything", Some("not a hash".into())).await.unwrap(),
            Verified::No
        );
        assert_eq!(verify("", Some(String::new())).await.unwrap(), Verified::No);
    }
}
