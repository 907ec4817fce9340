//! Password hashing: argon2id for everything new; bcrypt hashes from the old backend verify
//! once and are then replaced. Hashing is CPU-heavy, so it runs off the async runtime, a few
//! at a time.

use std::sync::{LazyLock, mpsc::TrySendError};

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};

use crate::error::ApiError;

/// Password hashing runs on threads of its own: each hash takes ~19 MiB and a core for tens
/// of milliseconds, so a burst queues here instead of exhausting the blocking pool, and each
/// thread reuses its own buffer. Logins and registrations have separate threads and queues,
/// so a flood of registrations cannot make logins wait behind it.
struct Hashers {
    name: &'static str,
    jobs: std::sync::mpsc::SyncSender<Job>,
}

type Job = Box<dyn FnOnce() + Send>;

impl Hashers {
    fn start(name: &'static str, threads: usize, queue_len: usize) -> Self {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(queue_len);
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        for n in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-hasher-{n}"))
                .spawn(move || {
                    loop {
                        let job = match queue.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Self { name, jobs }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4))
}

/// Logins: one thread per core (up to four), and a queue a few seconds long.
static LOGIN_HASHERS: LazyLock<Hashers> = LazyLock::new(|| Hashers::start("login", cores(), 256));

/// Registrations: half the cores, and a short queue: new accounts can wait, logins cannot.
static REGISTRATION_HASHERS: LazyLock<Hashers> =
    LazyLock::new(|| Hashers::start("registration", cores().div_ceil(2), 128));

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

async fn off_runtime<T: Send + 'static>(
    hashers: &Hashers,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let (done, result) = tokio::sync::oneshot::channel();
    let queue = hashers.name;
    let job: Job = Box::new(move || {
        crate::instruments::hash_dequeued(queue);
        let _ = done.send(work());
    });
    // Counted before it is sent, so a thread taking it at once never counts below zero.
    crate::instruments::hash_queued(queue);
    hashers.jobs.try_send(job).map_err(|e| {
        crate::instruments::hash_dequeued(queue);
        match e {
            // The queue is seconds long already: shed load rather than queue for minutes.
            TrySendError::Full(_) => {
                crate::instruments::hash_shed(queue);
                tracing::warn!(queue, "password hashing queue is full");
                ApiError::Busy(
                    "The server is busy hashing passwords for other requests (this is not a \
                     database outage): retry in a few seconds.",
                )
            }
            TrySendError::Disconnected(_) => {
                ApiError::internal("the password hashing threads have stopped")
            }
        }
    })?;
    result
        .await
        .map_err(|_| ApiError::internal("a password hashing job was dropped"))
}

/// Hashes a new account's password with argon2id.
pub async fn hash(password: &str) -> Result<String, ApiError> {
    let password = password.to_owned();
    off_runtime(&REGISTRATION_HASHERS, move || hash_blocking(&password))
        .await?
        .map_err(ApiError::internal)
}

/// Checks a password against a stored hash, or against a dummy hash of the same cost when
/// there is no account (`stored` is `None`), which always fails.
pub async fn verify(password: &str, stored: Option<String>) -> Result<Verified, ApiError> {
    let password = password.to_owned();
    off_runtime(&LOGIN_HASHERS, move || match stored {
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
