//! The original backend's account routes, kept for its clients: deprecated aliases of
//! `/api/auth/*` that call the same operations and answer in the original shapes.

use poem::{Endpoint, IntoResponse, Request, Response, Result, http::HeaderValue, web::Data};
use poem_openapi::{
    ApiRequest, ApiResponse, Object, OpenApi,
    param::Header,
    payload::{Form, Json},
    types::Example,
};
use serde::Deserialize;

use super::{
    ApiTags,
    auth::{
        self, AccountError, LoginError, LoginRequest, NO_STORE, RegisterError, RegisterRequest,
        SessionError, TokenType, User,
    },
    body::JsonBody,
    client::ClientAddr,
    conditional::{EntityTags, PRIVATE, if_none_match_hits},
    field::{Field, Param, header},
};
use crate::{auth::BearerAuth, domain::field::Given, state::AppState};

/// When these routes were deprecated (RFC 9745: `@` and seconds since the epoch;
/// 2026-11-25T00:00:00Z).
const DEPRECATED_SINCE: &str = "@1795564800";

/// The route replacing `path`, when `path` is a legacy route.
pub fn successor(path: &str) -> Option<&'static str> {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    SUCCESSORS
        .iter()
        .find(|(legacy, _)| *legacy == path)
        .map(|(_, canonical)| *canonical)
}

/// Marks every answer of a legacy route, errors included, with `Deprecation` and a `Link`
/// to its successor.
pub async fn mark_deprecated<E: Endpoint>(next: E, req: Request) -> Result<Response> {
    let canonical = successor(req.uri().path());
    let mut response = match next.call(req).await {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    };
    if let Some(canonical) = canonical {
        let link = format!("<{canonical}>; rel=\"successor-version\"");
        let headers = response.headers_mut();
        headers.insert("deprecation", HeaderValue::from_static(DEPRECATED_SINCE));
        if let Ok(link) = HeaderValue::from_str(&link) {
            headers.append(poem::http::header::LINK, link);
        }
    }
    Ok(response)
}

/// An access token, as the original backend answered a login.
#[derive(Debug, Object)]
#[oai(example)]
pub struct LegacyToken {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: TokenType,
    /// The account's id, as a string (as the original backend sent it).
    pub user_id: String,
}

impl Example for LegacyToken {
    fn example() -> Self {
        Self {
            access_token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
                .into(),
            token_type: TokenType::Bearer,
            user_id: "1".into(),
        }
    }
}

/// A new account and its first access token: registering also logs in.
#[derive(Debug, Object)]
#[oai(example)]
pub struct LegacyRegistration {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: TokenType,
    /// The account's id, as a string (as the original backend sent it).
    pub user_id: String,
    pub username: String,
    /// Stored lower-case.
    pub email: String,
}

impl Example for LegacyRegistration {
    fn example() -> Self {
        let token = LegacyToken::example();
        Self {
            access_token: token.access_token,
            token_type: token.token_type,
            user_id: token.user_id,
            username: "alice".into(),
            email: "alice@example.com".into(),
        }
    }
}

/// The original backend's answer to a logout.
#[derive(Debug, Object)]
#[oai(example)]
pub struct LegacyMessage {
    /// Always `Logout successful`.
    pub message: String,
}

impl Example for LegacyMessage {
    fn example() -> Self {
        Self {
            message: LOGOUT_MESSAGE.into(),
        }
    }
}

const LOGOUT_MESSAGE: &str = "Logout successful";

/// An OAuth2 password grant form, as OAuth2 tools send to a token endpoint.
#[derive(Debug, Deserialize, Object)]
#[oai(example)]
pub struct PasswordForm {
    /// The account's email address (OAuth2 calls the field `username`), like
    /// alice@example.com.
    #[oai(validator(min_length = 1, max_length = 255, pattern = r"^[^\u0000]*$"))]
    pub username: String,
    /// The account's password, 1 to 128 characters.
    #[oai(validator(min_length = 1, max_length = 128))]
    pub password: String,
    /// `password`, when sent.
    #[serde(default)]
    pub grant_type: Option<String>,
    /// Ignored.
    #[serde(default)]
    pub scope: Option<String>,
}

impl Example for PasswordForm {
    fn example() -> Self {
        Self {
            username: "alice@example.com".into(),
            password: "correct horse battery staple".into(),
            grant_type: Some("password".into()),
            scope: None,
        }
    }
}

/// Credentials as JSON (`email`, `password`) or as an OAuth2 password form.
#[derive(ApiRequest)]
pub enum TokenRequest {
    Json(JsonBody<LoginRequest>),
    Form(Form<PasswordForm>),
}

impl TokenRequest {
    /// The credentials, as a login sends them.
    fn into_credentials(self) -> LoginRequest {
        match self {
            Self::Json(json) => json.0,
            Self::Form(form) => LoginRequest {
                email: Field::from(Given::Text(form.0.username)),
                password: Field::from(Given::Text(form.0.password)),
            },
        }
    }
}

/// The answer of a legacy operation, whose document also names the headers every legacy
/// answer gets from [`mark_deprecated`].
macro_rules! legacy_response {
    ($name:ident { $($variants:tt)* }) => {
        // Two `header(…)` entries each name a `ty`: clippy reads that as a duplicated attribute.
        #[allow(clippy::duplicated_attributes)]
        #[derive(ApiResponse)]
        #[oai(
            header(
                name = "Deprecation",
                ty = "String",
                description = "When this route was deprecated (RFC 9745)."
            ),
            header(
                name = "Link",
                ty = "String",
                description = "The route that replaces this one: `<…>; rel=\"successor-version\"`."
            )
        )]
        pub enum $name {
            $($variants)*
        }
    };
}

legacy_response!(LegacyRegisterResponse {
    /// The account was created, and this is its first token.
    #[oai(status = 201)]
    Created(
        Json<LegacyRegistration>,
        /// Always `no-store`: the body is a credential.
        #[oai(header = "Cache-Control")]
        String,
    ),
});

legacy_response!(LegacyLoginResponse {
    /// Logged in.
    #[oai(status = 200)]
    Ok(
        Json<LegacyToken>,
        /// Always `no-store`: the body is a credential.
        #[oai(header = "Cache-Control")]
        String,
    ),
});

legacy_response!(LegacyMeResponse {
    /// The account the token belongs to.
    #[oai(status = 200)]
    Ok(
        Json<User>,
        #[oai(header = "ETag")] String,
        /// `private, no-cache`: kept only by the user's client, revalidated by `ETag`.
        #[oai(header = "Cache-Control")]
        String,
    ),
    /// The client's copy (`If-None-Match`) is current.
    #[oai(status = 304)]
    NotModified(
        #[oai(header = "ETag")] String,
        /// `private, no-cache`.
        #[oai(header = "Cache-Control")]
        String,
    ),
});

legacy_response!(LegacyLogoutResponse {
    /// The token's session is revoked.
    #[oai(status = 200)]
    Ok(Json<LegacyMessage>),
});

/// The legacy operations, in the document's order, and [`SUCCESSORS`]. Each group is one
/// behaviour: its summary, signature and body, the route replacing it, then a row for each
/// legacy route that has it (function, method, path, operation id, and any more description).
/// Every operation is deprecated and tagged `Legacy`. The login comes twice only to keep the
/// committed document's order, where `/api/token` stands between its two routes.
macro_rules! legacy_operations {
    ($(
        #[doc = $summary:tt]
        $params:tt -> Result<$answer:ty, $error:ty> $body:tt
        replaced_by $successor:tt at {
            $( $(#[doc = $more:tt])* $name:ident $method:tt $path:tt $id:tt; )+
        }
    )+) => {
        /// Every legacy route and the route that replaces it.
        const SUCCESSORS: &[(&str, &str)] = &[$($(($path, $successor),)+)+];

        pub struct LegacyApi;

        #[OpenApi(tag = "ApiTags::Legacy")]
        impl LegacyApi {
            $($(
                #[doc = $summary]
                $(#[doc = $more])*
                #[oai(path = $path, method = $method, operation_id = $id, deprecated)]
                async fn $name $params -> Result<$answer, $error> $body
            )+)+
        }
    };
}

legacy_operations! {
    /// Create an account and log in (use `POST /api/auth/register`).
    (&self, state: Data<&AppState>, req: &Request, body: JsonBody<RegisterRequest>)
        -> Result<LegacyRegisterResponse, RegisterError> {
        register(&state, req, &body.0).await
    }
    replaced_by "/api/auth/register" at {
        register "post" "/api/register" "legacy_register";
        ///
        /// The original frontend's route.
        signup "post" "/auth/signup" "legacy_signup";
    }

    /// Exchange email and password for an access token (use `POST /api/auth/login`).
    (&self, state: Data<&AppState>, req: &Request, body: JsonBody<LoginRequest>)
        -> Result<LegacyLoginResponse, LoginError> {
        log_in(&state, req, &body.0).await
    }
    replaced_by "/api/auth/login" at {
        login "post" "/api/login" "legacy_login";
    }

    /// Exchange credentials for an access token (use `POST /api/auth/login`).
    (&self, state: Data<&AppState>, req: &Request, body: TokenRequest)
        -> Result<LegacyLoginResponse, LoginError> {
        log_in(&state, req, &body.into_credentials()).await
    }
    replaced_by "/api/auth/login" at {
        ///
        /// Takes JSON `{email, password}`, or an OAuth2 password form
        /// (`application/x-www-form-urlencoded`) whose `username` is the email.
        token "post" "/api/token" "legacy_token";
    }

    /// Exchange email and password for an access token (use `POST /api/auth/login`).
    (&self, state: Data<&AppState>, req: &Request, body: JsonBody<LoginRequest>)
        -> Result<LegacyLoginResponse, LoginError> {
        log_in(&state, req, &body.0).await
    }
    replaced_by "/api/auth/login" at {
        ///
        /// The original frontend's route.
        frontend_login "post" "/auth/login" "legacy_frontend_login";
    }

    /// The account the token belongs to (use `GET /api/auth/me`).
    (
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// An ETag from an earlier answer.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<Param<EntityTags>>>,
    ) -> Result<LegacyMeResponse, AccountError> {
        let (user, etag) = auth::account_with_etag(&state, &auth.0).await?;
        let if_none_match = header("If-None-Match", if_none_match)?;
        Ok(
            if if_none_match_hits(if_none_match.as_ref().map(EntityTags::as_str), &etag) {
                LegacyMeResponse::NotModified(etag, PRIVATE.into())
            } else {
                LegacyMeResponse::Ok(Json(user), etag, PRIVATE.into())
            },
        )
    }
    replaced_by "/api/auth/me" at {
        me "get" "/api/me" "legacy_me";
        ///
        /// The original frontend's route.
        frontend_me "get" "/auth/me" "legacy_frontend_me";
    }

    /// Revoke the token used for this request (use `POST /api/auth/logout`).
    (&self, state: Data<&AppState>, auth: BearerAuth)
        -> Result<LegacyLogoutResponse, SessionError> {
        auth::log_out(&state, &auth.0).await?;
        let message = LOGOUT_MESSAGE.into();
        Ok(LegacyLogoutResponse::Ok(Json(LegacyMessage { message })))
    }
    replaced_by "/api/auth/logout" at {
        logout "post" "/api/logout" "legacy_logout";
    }
}

async fn register(
    state: &AppState,
    req: &Request,
    body: &RegisterRequest,
) -> Result<LegacyRegisterResponse, RegisterError> {
    let user = auth::register_account(state, ClientAddr::of(req), body).await?;
    let issued = auth::open_session(state, user.id).await?;
    let registration = LegacyRegistration {
        access_token: issued.token,
        token_type: TokenType::Bearer,
        user_id: user.id.to_string(),
        username: user.username,
        email: user.email,
    };
    Ok(LegacyRegisterResponse::Created(
        Json(registration),
        NO_STORE.into(),
    ))
}

async fn log_in(
    state: &AppState,
    req: &Request,
    credentials: &LoginRequest,
) -> Result<LegacyLoginResponse, LoginError> {
    let login = auth::log_in(state, ClientAddr::of(req), credentials).await?;
    let token = LegacyToken {
        access_token: login.access_token,
        token_type: TokenType::Bearer,
        user_id: login.user.id.to_string(),
    };
    Ok(LegacyLoginResponse::Ok(Json(token), NO_STORE.into()))
}

#[cfg(test)]
mod tests {
    use super::successor;

    #[test]
    fn legacy_paths_name_their_successor_and_others_none() {
        assert_eq!(successor("/api/token"), Some("/api/auth/login"));
        assert_eq!(successor("/auth/signup/"), Some("/api/auth/register"));
        assert_eq!(successor("/api/auth/login"), None);
        assert_eq!(successor("/"), None);
    }
}
