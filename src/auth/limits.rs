//! Rate limits on logins and registrations, counted in PostgreSQL (see `db::throttle`).
//!
//! Logins: an attempt is counted before the password is checked, per (account, client) and
//! per client; a refused attempt goes no further. Attempts that pass those are also counted
//! per account, across all clients: past a soft threshold each one is answered more slowly,
//! and past a much higher ceiling only clients the account has logged in from before may
//! still try, so strangers guessing from elsewhere slow the owner down but cannot lock them
//! out. A successful login takes its attempt back and remembers its client.
//!
//! Registrations: counted per client, then per network prefix (a /24 for IPv4, a /56 for
//! IPv6), then (only if both are within their limits) against a global ceiling, before the
//! password is hashed. When the global ceiling is reached, only the prefixes that used more
//! than an even share of it are refused, so a flood from a few networks cannot lock
//! everyone else out.

use std::{net::IpAddr, time::Duration};

use super::limited::Limited;
use crate::db::pool::Db;
use crate::{
    config::RegistrationLimits,
    db::throttle::{self, Counted},
    domain::ids::UserId,
    error::ApiError,
};

/// Every limit counts in windows of this length.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Login attempts per window for one account from one client.
pub const LOGIN_PER_ACCOUNT_AND_CLIENT: u32 = 5;
/// Login attempts per window from one client, whatever the accounts.
pub const LOGIN_PER_CLIENT: u32 = 20;
/// Login attempts per window for one account (from every client) answered without delay…
pub const LOGIN_PER_ACCOUNT_UNDELAYED: u32 = 10;
/// …and the most it gets in a window; between the two each attempt waits longer.
pub const LOGIN_PER_ACCOUNT_CEILING: u32 = 100;
/// The longest an attempt is held back.
pub const MAX_LOGIN_DELAY: Duration = Duration::from_secs(8);
/// A client an account logged in from stays known for this long after its last login.
pub const KNOWN_CLIENT_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// The keys a login attempt was counted against, to refund them when it succeeds.
#[derive(Debug)]
pub struct LoginAttempt {
    client: String,
    account_client: String,
    refundable: [String; 2],
}

struct Policy {
    name: &'static str,
    quota: u32,
    detail: &'static str,
}

const ACCOUNT_CLIENT: Policy = Policy {
    name: "login-account-client",
    quota: LOGIN_PER_ACCOUNT_AND_CLIENT,
    detail: "Too many login attempts for this account from your address: wait before trying again.",
};
const CLIENT: Policy = Policy {
    name: "login-client",
    quota: LOGIN_PER_CLIENT,
    detail: "Too many login attempts from your address: wait before trying again.",
};
const ACCOUNT: Policy = Policy {
    name: "login-account",
    quota: LOGIN_PER_ACCOUNT_CEILING,
    detail: "Too many login attempts for this account: wait before trying again.",
};
const REGISTER_CLIENT: &str = "register-client";
const REGISTER_PREFIX: &str = "register-prefix";
const REGISTER_GLOBAL: &str = "register-global";

/// Counts a login attempt; refuses it (429) when a limit is reached, and holds it back
/// when the account has seen many attempts.
pub async fn admit_login(pool: &Db, email: &str, client: IpAddr) -> Result<LoginAttempt, ApiError> {
    let email = email.trim().to_lowercase();
    let account_client = format!("account-client:{client} {email}");
    let client_key = format!("client:{client}");
    let counted =
        throttle::count(pool, &[account_client.clone(), client_key.clone()], WINDOW).await?;
    refuse_beyond(&counted, &account_client, &ACCOUNT_CLIENT)?;
    refuse_beyond(&counted, &client_key, &CLIENT)?;

    let account_key = format!("account:{email}");
    let counted = throttle::count(pool, std::slice::from_ref(&account_key), WINDOW).await?;
    if let Some(limited) = beyond(&counted, &account_key, &ACCOUNT) {
        let client = client.to_string();
        if !throttle::is_known_client(pool, &email, &client, KNOWN_CLIENT_FOR).await? {
            return Err(refuse(limited));
        }
    }
    let attempts = counted.first().map_or(0, |c| c.attempts);
    if let Some(delay) = login_delay(attempts) {
        tracing::info!(attempts, delay_ms = delay.as_millis(), "login held back");
        tokio::time::sleep(delay).await;
    }
    Ok(LoginAttempt {
        client: client.to_string(),
        account_client,
        refundable: [client_key, account_key],
    })
}

/// A successful login of `user`: its account starts afresh from this client, its attempt
/// does not count against the client or the account, and the client is known from now on.
pub async fn login_succeeded(
    pool: &Db,
    attempt: LoginAttempt,
    user: UserId,
) -> Result<(), ApiError> {
    throttle::settle(
        pool,
        &attempt.account_client,
        &attempt.refundable,
        user,
        &attempt.client,
    )
    .await?;
    Ok(())
}

/// How long the `attempts`-th attempt on one account in a window is held back: nothing up
/// to [`LOGIN_PER_ACCOUNT_UNDELAYED`], then 250 ms doubling up to [`MAX_LOGIN_DELAY`].
pub fn login_delay(attempts: i32) -> Option<Duration> {
    let over = u32::try_from(attempts)
        .ok()?
        .checked_sub(LOGIN_PER_ACCOUNT_UNDELAYED)
        .filter(|n| *n > 0)?;
    let delay = Duration::from_millis(250).saturating_mul(1 << (over - 1).min(10));
    Some(delay.min(MAX_LOGIN_DELAY))
}

/// Counts a registration from `client`; refuses it (429) beyond the client's or its
/// network's limit, or when the global ceiling is reached and the network has used more
/// than an even share of it. The global count only sees registrations the client's and
/// network's limits let through.
pub async fn admit_registration(
    pool: &Db,
    limits: RegistrationLimits,
    client: IpAddr,
) -> Result<(), ApiError> {
    let client_key = format!("{REGISTER_CLIENT}:{client}");
    let counted = throttle::count(pool, std::slice::from_ref(&client_key), WINDOW).await?;
    refuse_beyond(
        &counted,
        &client_key,
        &Policy {
            name: REGISTER_CLIENT,
            quota: limits.per_client.unsigned_abs(),
            detail: "Too many accounts were created from your address: wait before creating another.",
        },
    )?;
    let prefix_key = format!("{REGISTER_PREFIX}:{}", network_of(client));
    let by_prefix = throttle::count(pool, std::slice::from_ref(&prefix_key), WINDOW).await?;
    refuse_beyond(
        &by_prefix,
        &prefix_key,
        &Policy {
            name: REGISTER_PREFIX,
            quota: limits.per_prefix.unsigned_abs(),
            detail: "Too many accounts were created from your network: wait before creating another.",
        },
    )?;
    let global_key = REGISTER_GLOBAL.to_owned();
    let counted = throttle::count(pool, std::slice::from_ref(&global_key), WINDOW).await?;
    let global = Policy {
        name: REGISTER_GLOBAL,
        quota: limits.global.unsigned_abs(),
        detail: "Too many accounts are being created right now from networks like yours: try again later.",
    };
    let Some(limited) = beyond(&counted, &global_key, &global) else {
        return Ok(());
    };
    let prefixes = throttle::active_with_prefix(pool, &format!("{REGISTER_PREFIX}:"), WINDOW)
        .await?
        .max(1);
    let used = by_prefix.first().map_or(0, |c| c.attempts.unsigned_abs());
    if used <= even_share(global.quota, prefixes) {
        return Ok(());
    }
    Err(refuse(limited))
}

/// The network `client` is in, for counting: its /24 (IPv4) or /56 (IPv6).
fn network_of(client: IpAddr) -> ipnet::IpNet {
    let client = client.to_canonical();
    let bits = if client.is_ipv4() { 24 } else { 56 };
    ipnet::IpNet::new(client, bits)
        .map(|net| net.trunc())
        .unwrap_or_else(|_| ipnet::IpNet::from(client))
}

/// Each of `prefixes` networks' even share of `quota`: at least one.
fn even_share(quota: u32, prefixes: u64) -> u32 {
    u32::try_from(u64::from(quota) / prefixes.max(1))
        .unwrap_or(u32::MAX)
        .max(1)
}

fn refuse_beyond(counted: &[Counted], key: &str, policy: &Policy) -> Result<(), ApiError> {
    beyond(counted, key, policy).map_or(Ok(()), |limited| Err(refuse(limited)))
}

/// The 429 for a limit. Every rate-limit refusal is made here, so each one sent is logged
/// and counted in `throttled_requests_total` (scope: the policy's name) once.
fn refuse(limited: Limited) -> ApiError {
    tracing::info!(policy = limited.policy, "rate limited");
    crate::instruments::throttled(limited.policy);
    ApiError::TooManyRequests(limited)
}

/// The limit `key` is past, if it is; refused only once the caller decides to refuse.
fn beyond(counted: &[Counted], key: &str, policy: &Policy) -> Option<Limited> {
    let c = counted.iter().find(|c| c.key == key)?;
    if c.attempts.unsigned_abs() <= policy.quota {
        return None;
    }
    let secs = c.resets_in.as_secs() + u64::from(c.resets_in.subsec_nanos() > 0);
    tracing::debug!(
        policy = policy.name,
        attempts = c.attempts,
        "beyond a limit"
    );
    Some(Limited {
        policy: policy.name,
        quota: policy.quota,
        window_secs: WINDOW.as_secs(),
        retry_after_secs: secs.max(1),
        detail: policy.detail,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn addresses_are_counted_by_their_network() {
        let net = |a: &str| network_of(a.parse().unwrap()).to_string();
        assert_eq!(net("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(net("::ffff:203.0.113.77"), "203.0.113.0/24");
        assert_eq!(net("2001:db8:aa:bbcc::1"), "2001:db8:aa:bb00::/56");
    }

    #[test]
    fn the_even_share_is_at_least_one() {
        assert_eq!(even_share(300, 30), 10);
        assert_eq!(even_share(300, 31), 9);
        assert_eq!(even_share(5, 100), 1);
        assert_eq!(even_share(5, 0), 5);
    }

    #[test]
    fn the_delay_starts_after_the_undelayed_attempts_and_is_capped() {
        let n = LOGIN_PER_ACCOUNT_UNDELAYED as i32;
        assert_eq!(login_delay(1), None);
        assert_eq!(login_delay(n), None);
        assert_eq!(login_delay(n + 1), Some(Duration::from_millis(250)));
        assert_eq!(login_delay(n + 2), Some(Duration::from_millis(500)));
        assert_eq!(login_delay(n + 40), Some(MAX_LOGIN_DELAY));
        assert_eq!(login_delay(i32::MAX), Some(MAX_LOGIN_DELAY));
    }
}
