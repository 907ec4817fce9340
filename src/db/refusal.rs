//! Why the database did not serve a request, classified by SQLSTATE (and by sqlx's own
//! errors): what a client is told, when it should retry, and the label logs and metrics use.

/// Seconds a client should wait after a 503 before retrying: long enough for a suspended
/// Neon compute to wake or a pooled connection to be replaced.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

/// A database refusal or failure that is not the request's fault. Every one is a 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// `57P03`: the server is starting (a Neon compute waking up, a restart).
    Starting,
    /// `53300` and the rest of class 53: the server's connection limit or resources are exhausted.
    TooManyConnections,
    /// `55000` and class 08, a refused or failed TCP/TLS connection: not accepting connections.
    NotAccepting,
    /// `3D000`: the configured database does not exist (deleted or renamed).
    DatabaseGone,
    /// `28P01`/`28000`: the server's credentials were refused (rotated, or the role changed).
    Credentials,
    /// `57P01`/`57P02`: the server ended the connection (admin shutdown, a suspended compute).
    AdminShutdown,
    /// `57014`: a statement ran past `statement_timeout` (or was cancelled).
    StatementTimeout,
    /// The connection broke mid-request (an I/O error on an open connection).
    ConnectionLost,
    /// Every pooled connection stayed in use until the acquire deadline.
    Busy,
    /// The requesting user already had as many requests at the database as one user may.
    UserShare,
    /// Every connection for searches and counts stayed in use until the acquire deadline.
    Searches,
    /// No connection could be opened before the acquire deadline; the cause was not learned.
    NoConnection,
    /// The database did not answer within the bound of a probe.
    Unresponsive,
}

impl Refusal {
    /// The refusal `err` stands for, or `None` when the error is not the database's
    /// availability (a constraint violation, a bug, bad data).
    pub fn classify(err: &sqlx::Error) -> Option<Self> {
        match err {
            sqlx::Error::Database(db) => db.code().as_deref().and_then(Self::from_sqlstate),
            sqlx::Error::Io(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound
                ) =>
            {
                Some(Self::NotAccepting)
            }
            sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => Some(Self::ConnectionLost),
            sqlx::Error::Tls(_) | sqlx::Error::PoolClosed => Some(Self::NotAccepting),
            sqlx::Error::PoolTimedOut => Some(Self::NoConnection),
            _ => None,
        }
    }

    /// The class of a SQLSTATE that means "not available right now", if it is one.
    pub fn from_sqlstate(code: &str) -> Option<Self> {
        Some(match code {
            "57P03" => Self::Starting,
            "3D000" => Self::DatabaseGone,
            "28P01" | "28000" => Self::Credentials,
            "57P01" | "57P02" => Self::AdminShutdown,
            "57014" => Self::StatementTimeout,
            "55000" | "55006" => Self::NotAccepting,
            c if c.starts_with("53") => Self::TooManyConnections,
            c if c.starts_with("08") => Self::NotAccepting,
            _ => return None,
        })
    }

    /// A short stable name for logs, metrics and the readiness body.
    pub fn label(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::TooManyConnections => "too_many_connections",
            Self::NotAccepting => "not_accepting_connections",
            Self::DatabaseGone => "database_missing",
            Self::Credentials => "credentials_refused",
            Self::AdminShutdown => "shut_down",
            Self::StatementTimeout => "statement_timeout",
            Self::ConnectionLost => "connection_lost",
            Self::Busy => "pool_exhausted",
            Self::UserShare => "user_share_exhausted",
            Self::Searches => "searches_busy",
            Self::NoConnection => "no_connection",
            Self::Unresponsive => "unresponsive",
        }
    }

    /// A sentence for the client: what happened and what to do.
    pub fn detail(self) -> &'static str {
        match self {
            Self::Starting => {
                "The database is starting up (it may have been idle and is waking): retry in a few seconds."
            }
            Self::TooManyConnections => {
                "The database is serving as many clients as it allows: retry shortly."
            }
            Self::NotAccepting => {
                "The database is not accepting new clients right now: retry shortly."
            }
            Self::DatabaseGone => {
                "The service's database does not exist (it may have been deleted or renamed); the operators have to fix this, so retrying soon will not help."
            }
            Self::Credentials => {
                "The database refused the service's credentials (they may have been rotated); the operators have to update them, so retrying soon will not help."
            }
            Self::AdminShutdown => {
                "The database was restarted or shut down for maintenance: retry shortly."
            }
            Self::StatementTimeout => {
                "The request took longer than the database allows for one statement: retry, or narrow it (for example with a more specific search)."
            }
            Self::ConnectionLost => "The link to the database broke: retry shortly.",
            Self::Busy => "The database is busy with other requests: retry shortly.",
            Self::UserShare => {
                "This account already has as many requests at the database as one account may: let some finish, then retry."
            }
            Self::Searches => {
                "As many searches and counts are running as the service allows at once: retry shortly, or list without `q` and `Prefer: count=exact`."
            }
            Self::NoConnection => "The database cannot be reached right now: retry shortly.",
            Self::Unresponsive => "The database is not answering in time: retry shortly.",
        }
    }

    /// Seconds a client should wait before retrying: causes an operator must fix get a
    /// longer pause than those that pass on their own.
    pub fn retry_after_secs(self) -> u64 {
        match self {
            Self::DatabaseGone | Self::Credentials => 30,
            _ => UNAVAILABLE_RETRY_AFTER_SECS,
        }
    }

    /// Whether this means the database cannot be used at all (readiness fails), as opposed
    /// to one request having been too slow or too many at once.
    pub fn is_outage(self) -> bool {
        !matches!(
            self,
            Self::StatementTimeout | Self::Busy | Self::UserShare | Self::Searches
        )
    }

    /// Whether the connection it happened on is gone, so its pooled siblings are suspect.
    pub fn loses_connection(self) -> bool {
        matches!(self, Self::ConnectionLost | Self::AdminShutdown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_their_class() {
        for (code, class) in [
            ("57P03", Refusal::Starting),
            ("53300", Refusal::TooManyConnections),
            ("53200", Refusal::TooManyConnections),
            ("55000", Refusal::NotAccepting),
            ("08006", Refusal::NotAccepting),
            ("3D000", Refusal::DatabaseGone),
            ("28P01", Refusal::Credentials),
            ("28000", Refusal::Credentials),
            ("57P01", Refusal::AdminShutdown),
            ("57014", Refusal::StatementTimeout),
        ] {
            assert_eq!(Refusal::from_sqlstate(code), Some(class), "{code}");
        }
        assert_eq!(Refusal::from_sqlstate("23505"), None);
        assert_eq!(Refusal::from_sqlstate("22P02"), None);
    }
}
