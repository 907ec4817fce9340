//! `/api/auth`: register, login, logout, me.

use std::net::IpAddr;

use poem::{Request, web::Data};
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi, param::Header, payload::Json, types::Example,
};
use sha2::{Digest, Sha256};

use super::{
    ApiTags,
    body::JsonBody,
    client::ClientAddr,
    conditional::{EntityTags, Revalidated},
    field::{Field, Param, header},
    timestamp::Timestamp,
};
use crate::{
    auth::{
        BearerAuth, limits,
        password::{self, Verified},
        scheme::AuthUser,
        token::{self, Issued},
    },
    db::{
        sessions,
        users::{self, InsertUserError, Taken, UserRow},
    },
    domain::{
        field::{FieldRule, Given, Refusals},
        ids::UserId,
        user::{Email, LoginEmail, LoginPassword, Password, Username},
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
    pub username: Field<Username, true>,
    pub email: Field<Email, true>,
    pub password: Field<Password, true>,
}

impl Example for RegisterRequest {
    fn example() -> Self {
        Self {
            username: Field::text("alice"),
            email: Field::text("alice@example.com"),
            password: Field::text("correct horse battery staple"),
        }
    }
}

/// Credentials to exchange for an access token.
#[derive(Debug, Object)]
#[oai(example)]
pub struct LoginRequest {
    pub email: Field<LoginEmail, true>,
    pub password: Field<LoginPassword, true>,
}

impl Example for LoginRequest {
    fn example() -> Self {
        Self {
            email: Field::text("alice@example.com"),
            password: Field::text("correct horse battery staple"),
        }
    }
}

/// A field's value under rule `R`, or its refusal noted.
fn field<R: FieldRule, const REQUIRED: bool>(
    refusals: &mut Refusals,
    name: &'static str,
    field: &Field<R, REQUIRED>,
) -> Option<R> {
    let checked = match field.given() {
        Given::Text(raw) => R::check(&raw),
        _ => Err(R::refusal()),
    };
    refusals.note(name, checked)
}

impl LoginRequest {
    /// The email and password, or a 422 naming each one missing or malformed.
    pub fn parse(&self) -> Result<(LoginEmail, LoginPassword), ApiError> {
        let mut refusals = Refusals::default();
        let email = field(&mut refusals, "email", &self.email);
        let password = field(&mut refusals, "password", &self.password);
        refusals
            .finish(email.zip(password))?
            .ok_or_else(|| ApiError::internal("a refused field was not noted"))
    }
}

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
    /// Logged in. The token is a credential: `Cache-Control: no-store`.
    #[oai(status = 200)]
    Ok(
        Json<LoginResponse>,
        /// Always `no-store`: the body is a credential.
        #[oai(header = "Cache-Control")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// The token's session is revoked, on every instance at once.
    #[oai(status = 204)]
    LoggedOut,
}

problems!(RegisterError: 400, 409, 413, 415, 422, 429, 503);
problems!(LoginError: 400, 401, 413, 415, 422, 429, 503);
problems!(SessionError: 401, 503);
problems!(AccountError: 400, 401, 422, 503);

/// Responses that carry a credential must not be stored by any cache.
pub const NO_STORE: &str = "no-store";

pub struct AuthApi;

#[OpenApi(prefix_path = "/api/auth", tag = "ApiTags::Accounts")]
impl AuthApi {
    /// Create an account.
    #[oai(path = "/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: JsonBody<RegisterRequest>,
    ) -> Result<RegisterResponse, RegisterError> {
        let row = register_account(&state, ClientAddr::of(req), &body.0).await?;
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
        state.maintenance.nudge(&state.db);
        let issued = log_in(&state, ClientAddr::of(req), &body.0).await?;
        Ok(LoginResult::Ok(Json(issued), NO_STORE.into()))
    }

    /// Revoke the token used for this request.
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
    ) -> Result<LogoutResponse, SessionError> {
        log_out(&state, &auth.0).await?;
        Ok(LogoutResponse::LoggedOut)
    }

    /// The account the token belongs to.
    #[oai(path = "/me", method = "get", operation_id = "me")]
    async fn me(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// An ETag from an earlier answer.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<Param<EntityTags>>>,
    ) -> Result<Revalidated<Json<User>>, AccountError> {
        let (user, etag) = account_with_etag(&state, &auth.0).await?;
        Ok(Revalidated::unless_current(
            header("If-None-Match", if_none_match)?.as_ref(),
            etag,
            Json(user),
        ))
    }
}

/// Creates an account for a registration from `client`, within the registration limits.
/// Every route that registers goes through here.
pub async fn register_account(
    state: &AppState,
    client: IpAddr,
    body: &RegisterRequest,
) -> Result<UserRow, ApiError> {
    let (username, email, password) = parse_registration(body)?;
    limits::admit_registration(&state.db, state.registrations, client).await?;
    let hashed = password::hash(password.expose()).await?;
    let row = users::insert(&state.db, &username, &email, &hashed)
        .await
        .map_err(|e| match e {
            InsertUserError::Taken(which) => taken(which),
            InsertUserError::Db(e) => e.into(),
        })?;
    tracing::info!(user_id = %row.id, "account created");
    Ok(row)
}

/// Checks credentials from `client` within the login limits and starts a session. Every
/// route that logs in goes through here.
pub async fn log_in(
    state: &AppState,
    client: IpAddr,
    body: &LoginRequest,
) -> Result<LoginResponse, ApiError> {
    let (login_email, offered) = body.parse()?;
    // Counted before the password is looked at, so parallel guesses cannot outrun the limit.
    let attempt = limits::admit_login(&state.db, login_email.as_str(), client).await?;
    // An address that cannot be registered is simply a wrong email: the same 401.
    let email = Email::parse(login_email.as_str()).ok();
    let user = match &email {
        Some(email) => users::find_by_email(&state.db, email).await?,
        None => None,
    };
    let stored = user.as_ref().map(|u| u.hashed_password.clone());
    let verified = password::verify(offered.expose(), stored).await?;
    let user = match (verified, user) {
        (Verified::No, _) | (_, None) => {
            tracing::info!("login failed");
            return Err(ApiError::Unauthorized(AuthFailure::BadCredentials));
        }
        (Verified::YesRehash(new_hash), Some(user)) => {
            users::set_password_hash(&state.db, user.id, &new_hash).await?;
            tracing::info!(user_id = %user.id, "legacy bcrypt hash replaced with argon2id");
            user
        }
        (Verified::Yes, Some(user)) => user,
    };
    limits::login_succeeded(&state.db, attempt, user.id).await?;
    let issued = open_session(state, user.id).await?;
    tracing::info!(user_id = %user.id, "logged in");
    Ok(LoginResponse {
        access_token: issued.token,
        token_type: TokenType::Bearer,
        expires_at: Timestamp(issued.expires_at),
        user: user.into(),
    })
}

/// Issues a token for `user_id` and records its session: logging in, and registering
/// through the original backend's routes (which also logged in).
pub async fn open_session(state: &AppState, user_id: UserId) -> Result<Issued, ApiError> {
    let issued = state.jwt.issue(user_id).map_err(ApiError::internal)?;
    sessions::insert(
        &state.db,
        user_id,
        &issued.jti,
        &token::fingerprint(&issued.token),
        issued.expires_at,
    )
    .await?;
    Ok(issued)
}

/// Revokes the session of the token used for the request. Every route that logs out goes
/// through here.
pub async fn log_out(state: &AppState, auth: &AuthUser) -> Result<(), ApiError> {
    sessions::revoke(&state.db, &auth.jti).await?;
    // Other instances hear of it from PostgreSQL; this one need not wait for that.
    state.sessions.changed(&auth.jti);
    tracing::info!(user_id = %auth.user_id, "logged out");
    Ok(())
}

/// The account the token belongs to.
pub async fn account(state: &AppState, auth: &AuthUser) -> Result<User, ApiError> {
    let user = state
        .liveness
        .read_again_if_lost(|| users::find(&state.db, auth.user_id))
        .await?
        .ok_or(ApiError::Unauthorized(AuthFailure::Revoked))?;
    Ok(user.into())
}

/// The account and its ETag.
pub async fn account_with_etag(
    state: &AppState,
    auth: &AuthUser,
) -> Result<(User, String), ApiError> {
    let user = account(state, auth).await?;
    let etag = account_etag(&user);
    Ok((user, etag))
}

/// A weak ETag for an account: it changes when anything clients see of it does.
fn account_etag(user: &User) -> String {
    let mut hash = Sha256::new();
    hash.update(user.id.0.to_le_bytes());
    for text in [&user.username, &user.email] {
        hash.update((text.len() as u64).to_le_bytes());
        hash.update(text.as_bytes());
    }
    for at in [&user.created_at, &user.updated_at] {
        hash.update(at.0.timestamp_micros().to_le_bytes());
    }
    format!("W/\"{}\"", hex::encode(&hash.finalize()[..12]))
}

/// Every rule broken by a registration, one entry per field.
fn parse_registration(body: &RegisterRequest) -> Result<(Username, Email, Password), ApiError> {
    let mut refusals = Refusals::default();
    let username = field(&mut refusals, "username", &body.username);
    let email = field(&mut refusals, "email", &body.email);
    let password = field(&mut refusals, "password", &body.password);
    match refusals.finish((username, email, password))? {
        (Some(u), Some(e), Some(p)) => Ok((u, e, p)),
        _ => Err(ApiError::internal("a refused field was not noted")),
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
