//! A fair share of the pool per user: a user's requests hold at most a few pooled
//! connections at once (`DB_MAX_CONNECTIONS_PER_USER`), so one user's slow requests (30
//! broad searches, say) cannot take every connection while others wait. A request past its
//! user's share keeps its place in the queue for connections, passed over until one of its
//! user's own comes back (see [`crate::db::recycle`]).

use poem::{Endpoint, IntoResponse, Request, Response, Result};

use crate::db::recycle::for_user;

/// The user id of `/api/{user_id}/…`, if the path has one.
fn path_user(path: &str) -> Option<i64> {
    let rest = path.strip_prefix("/api/")?;
    let (id, _) = rest.split_once('/')?;
    id.parse().ok()
}

/// Runs a request for the path's user, whose connections count against their share. A path
/// naming another user than the token's is refused (403) without touching the database.
pub async fn fair_share<E: Endpoint>(next: E, req: Request) -> Result<Response> {
    match path_user(req.uri().path()) {
        Some(user) => for_user(user, next.call(req))
            .await
            .map(IntoResponse::into_response),
        None => next.call(req).await.map(IntoResponse::into_response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_user_paths_have_a_user() {
        assert_eq!(path_user("/api/42/tasks"), Some(42));
        assert_eq!(path_user("/api/42/tasks/7/complete"), Some(42));
        assert_eq!(path_user("/api/auth/login"), None);
        assert_eq!(path_user("/health/ready"), None);
    }
}
