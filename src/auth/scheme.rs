//! The bearer security scheme. Its checker verifies the token (signature, algorithm, expiry),
//! takes a place in the token's user's share of the database ([`super::share`]), and then
//! checks its session: from the session cache when it is known there, else in one database
//! round trip. Handlers receive an [`AuthUser`], which holds that place until the request
//! ends.

use std::sync::Arc;

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};

use super::{session_cache::Lookup, share::Share, token::fingerprint};
use crate::{
    db::{refusal::Refusal, sessions},
    domain::ids::UserId,
    error::{ApiError, AuthFailure},
    state::AppState,
};

/// The user a valid token belongs to, the token's session id, and the request's place in
/// that user's share of the database.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: UserId,
    pub jti: String,
    pub share: Arc<Share>,
}

impl AuthUser {
    /// Resources under `/api/{user_id}/…` belong to that user alone: anyone else gets 403.
    pub fn require(&self, user_id: UserId) -> Result<(), ApiError> {
        if self.user_id == user_id {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// An access token from `POST /api/auth/login`, sent as `Authorization: Bearer <token>`.
#[derive(SecurityScheme)]
#[oai(
    rename = "bearerAuth",
    ty = "bearer",
    bearer_format = "JWT",
    checker = "check_bearer"
)]
pub struct BearerAuth(pub AuthUser);

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<AuthUser> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| ApiError::internal("application state is not attached"))?;
    let token = state
        .jwt
        .verify(&bearer.token)
        .map_err(ApiError::Unauthorized)?;
    state.maintenance.nudge(&state.db);
    let share = state.shares.take(token.user_id).await.map_err(|_| {
        crate::instruments::throttled("user_share");
        ApiError::Database(Refusal::UserShare)
    })?;
    let session = match state.sessions.lookup(&token.jti) {
        Lookup::Known(mut known) => {
            known.live = known.expires_at > chrono::Utc::now().naive_utc();
            Some(known)
        }
        Lookup::Ask(ticket) => {
            let read = sessions::state(&state.db, &state.liveness, &token.jti)
                .await
                .map_err(ApiError::from)?;
            if let (Some(ticket), Some(session)) = (ticket, &read) {
                state.sessions.remember(ticket, &token.jti, session.clone());
            }
            read
        }
    };
    let failure = match session {
        None => Some(AuthFailure::Revoked),
        Some(s) if s.user_id != token.user_id || s.token != fingerprint(&bearer.token) => {
            Some(AuthFailure::Invalid)
        }
        Some(s) if s.revoked => Some(AuthFailure::Revoked),
        Some(s) if !s.live => Some(AuthFailure::Expired),
        Some(_) => None,
    };
    match failure {
        Some(why) => Err(ApiError::Unauthorized(why).into()),
        None => Ok(AuthUser {
            user_id: token.user_id,
            jti: token.jti,
            share: Arc::new(share),
        }),
    }
}
