//! `/api/auth`: register, login, logout, me.

use std::{net::IpAddr, time::Duration};

use poem::{Request, web::Data};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, payload::Json, types::Example};

use super::{
    ApiTags,
    body::{BodyRules, FieldCheck, JsonBody, raw_field_errors},
    text::{EmailText, LoginEmailText},
    timestamp::Timestamp,
};
use crate::{
    auth::{
        BearerAuth, MAX_FAILURES_PER_CLIENT, MAX_FAILURES_PER_EMAIL, THROTTLE_WINDOW,
        password::{self, Verified},
        token,
    },
    db::{
        connect::read_again_if_lost,
        sessions, throttle,
        users::{self, InsertUserError, Taken, UserRow},
    },
    domain::{
        ids::UserId,
        user::{Email, Password, Username},
    },
    error::{ApiError, AuthFailure, FieldError},
    problems,
    state::AppState,
};

/// An account, as clients see it: never a password or its hash.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct User {
    pub id: UserId,
    pub username: String,
    /// Stored lower-case.
    pub email: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Example for User {
    fn example() -> Self {
        let at = Timestamp(chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_780));
        Self {
            id: UserId(1),
            username: "alice".into(),
            email: "alice@example.com".into(),
            created_at: at,
            updated_at: at,
        }
    }
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            email: row.email,
            created_at: Timestamp::from_db(row.created_at),
            updated_at: Timestamp::from_db(row.updated_at),
        }
    }
}

/// A new account.
#[derive(Debug, Object)]
#[oai(example)]
pub struct RegisterRequest {
    /// 3–30 letters, digits or underscores; unique regardless of case.
    #[oai(validator(min_length = 3, max_length = 30, pattern = "^[A-Za-z0-9_]+$"))]
    pub username: String,
    /// A valid address; unique regardless of case; stored lower-case.
    pub email: EmailText,
    /// 8–128 characters.
    #[oai(validator(min_length = 8, max_length = 128))]
    pub password: String,
}

impl Example for RegisterRequest {
    fn example() -> Self {
        Self {
            username: "alice".into(),
            email: EmailText("alice@example.com".into()),
            password: "correct horse battery staple".into(),
        }
    }
}

impl BodyRules for RegisterRequest {
    fn rule_errors(value: &serde_json::Value) -> Vec<FieldError> {
        let checks: [FieldCheck; 3] = [
            ("username", |v| Username::parse(v).err()),
            ("email", |v| Email::parse(v).err()),
            ("password", |v| Password::parse(v).err()),
        ];
        raw_field_errors(value, &checks)
    }
}

/// Credentials to exchange for an access token.
#[derive(Debug, Object)]
#[oai(example)]
pub struct LoginRequest {
    pub email: LoginEmailText,
    #[oai(validator(min_length = 1, max_length = 128))]
    pub password: String,
}

impl Example for LoginRequest {
    fn example() -> Self {
        Self {
            email: LoginEmailText("alice@example.com".into()),
            password: "correct horse battery staple".into(),
        }
    }
}

impl BodyRules for LoginRequest {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum TokenType {
    Bearer,
}

/// An access token and the account it belongs to.
#[derive(Debug, Object)]
#[oai(example)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: TokenType,
    /// When the token stops working.
    pub expires_at: Timestamp,
    pub user: User,
}

impl Example for LoginResponse {
    fn example() -> Self {
        let user = User::example();
        Self {
            access_token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
                .into(),
            token_type: TokenType::Bearer,
            expires_at: Timestamp(user.created_at.0 + chrono::Duration::hours(24)),
            user,
        }
    }
}

#[derive(ApiResponse)]
pub enum RegisterResponse {
    /// The account was created.
    #[oai(status = 201)]
    Created(Json<User>),
}

#[derive(ApiResponse)]
pub enum LoginResult {
    /// Logged in.
    #[oai(status = 200)]
    Ok(Json<LoginResponse>),
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// The token's session is revoked, on every instance at once.
    #[oai(status = 204)]
    LoggedOut,
}

#[derive(ApiResponse)]
pub enum MeResponse {
    /// The account the token belongs to.
    #[oai(status = 200)]
    Ok(Json<User>),
}

problems!(RegisterError: 400, 409, 413, 422, 503);
problems!(LoginError: 400, 401, 413, 422, 429, 503);
problems!(SessionError: 401, 503);

pub struct AuthApi;

#[OpenApi(prefix_path = "/api/auth", tag = "ApiTags::Accounts")]
impl AuthApi {
    /// Create an account.
    #[oai(path = "/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        state: Data<&AppState>,
        body: JsonBody<RegisterRequest>,
    ) -> Result<RegisterResponse, RegisterError> {
        let (username, email, password) = parse_registration(&body.0)?;
        let hashed = password::hash(password.expose()).await?;
        let row = users::insert(&state.pool, &username, &email, &hashed)
            .await
            .map_err(|e| match e {
                InsertUserError::Taken(which) => taken(which),
                InsertUserError::Db(e) => e.into(),
            })?;
        tracing::info!(user_id = %row.id, "account created");
        Ok(RegisterResponse::Created(Json(row.into())))
    }

    /// Exchange email and password for an access token.
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: JsonBody<LoginRequest>,
    ) -> Result<LoginResult, LoginError> {
        state.maintenance.nudge(&state.pool);
        // An address that cannot be registered is simply a wrong email: the same 401.
        let email = Email::parse(body.0.email.as_str()).ok();
        let email_key = format!("email:{}", body.0.email.as_str().to_lowercase());
        let keys = [email_key.clone(), format!("client:{}", client_ip(req))];
        let limits = [MAX_FAILURES_PER_EMAIL, MAX_FAILURES_PER_CLIENT];
        if let Some(wait) = throttle::blocked(&state.pool, &keys, &limits, THROTTLE_WINDOW).await? {
            return Err(too_many_attempts(wait).into());
        }
        let user = match &email {
            Some(email) => users::find_by_email(&state.pool, email).await?,
            None => None,
        };
        let stored = user.as_ref().map(|u| u.hashed_password.clone());
        let verified = password::verify(&body.0.password, stored).await?;
        let user = match (verified, user) {
            (Verified::No, _) | (_, None) => {
                throttle::record_failure(&state.pool, &keys, THROTTLE_WINDOW).await?;
                tracing::info!("login failed");
                return Err(ApiError::Unauthorized(AuthFailure::BadCredentials).into());
            }
            (Verified::YesRehash(new_hash), Some(user)) => {
                users::set_password_hash(&state.pool, user.id, &new_hash).await?;
                tracing::info!(user_id = %user.id, "legacy bcrypt hash replaced with argon2id");
                user
            }
            (Verified::Yes, Some(user)) => user,
        };
        throttle::reset(&state.pool, &email_key).await?;
        let issued = state.jwt.issue(user.id).map_err(ApiError::internal)?;
        sessions::insert(
            &state.pool,
            user.id,
            &issued.jti,
            &token::fingerprint(&issued.token),
            issued.expires_at,
        )
        .await?;
        tracing::info!(user_id = %user.id, "logged in");
        Ok(LoginResult::Ok(Json(LoginResponse {
            access_token: issued.token,
            token_type: TokenType::Bearer,
            expires_at: Timestamp(issued.expires_at),
            user: user.into(),
        })))
    }

    /// Revoke the token used for this request.
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
    ) -> Result<LogoutResponse, SessionError> {
        sessions::revoke(&state.pool, &auth.0.jti).await?;
        // Other instances hear of it from PostgreSQL; this one need not wait for that.
        state.sessions.changed(&auth.0.jti);
        tracing::info!(user_id = %auth.0.user_id, "logged out");
        Ok(LogoutResponse::LoggedOut)
    }

    /// The account the token belongs to.
    #[oai(path = "/me", method = "get", operation_id = "me")]
    async fn me(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
    ) -> Result<MeResponse, SessionError> {
        let user = read_again_if_lost(|| users::find(&state.pool, auth.0.user_id))
            .await?
            .ok_or(ApiError::Unauthorized(AuthFailure::Revoked))?;
        Ok(MeResponse::Ok(Json(user.into())))
    }
}

/// Every rule broken by a registration, one entry per field.
fn parse_registration(body: &RegisterRequest) -> Result<(Username, Email, Password), ApiError> {
    let username = Username::parse(&body.username);
    let email = Email::parse(body.email.as_str());
    let password = Password::parse(&body.password);
    match (username, email, password) {
        (Ok(u), Ok(e), Ok(p)) => Ok((u, e, p)),
        (u, e, p) => {
            let errors = [
                ("username", u.err()),
                ("email", e.err()),
                ("password", p.err()),
            ]
            .into_iter()
            .filter_map(|(field, err)| err.map(|m| FieldError::new(field, m)))
            .collect();
            Err(ApiError::Validation(errors))
        }
    }
}

fn taken(which: Taken) -> ApiError {
    let (field, detail) = match which {
        Taken::Username => ("username", "That username is already taken."),
        Taken::Email => ("email", "An account with that email already exists."),
    };
    ApiError::Conflict(
        detail.into(),
        vec![FieldError::new(field, "is already taken")],
    )
}

fn too_many_attempts(wait: Duration) -> ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::TooManyRequests {
        retry_after_secs: secs.max(1),
        detail: "Too many failed login attempts: wait before trying again.".into(),
    }
}

/// The client's address. Behind a reverse proxy on a loopback or private address, that is
/// the last hop the proxy appended to `X-Forwarded-For`; a client on the internet cannot
/// connect from such an address, so it cannot forge this.
fn client_ip(req: &Request) -> String {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let behind_proxy = peer.is_some_and(|ip| match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local(),
    });
    let forwarded = behind_proxy
        .then(|| req.headers().get("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok());
    forwarded
        .or(peer)
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}
