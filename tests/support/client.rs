//! A typed client: users hold their token, each endpoint has a builder, and replies carry
//! the assertions tests make.
//!
//! ```ignore
//! alice.put_task(id).json(&body).if_match(&etag).send().await.assert_problem(412);
//! ```

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;

/// A task as the API returns it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Task {
    pub id: i64,
    pub user_id: i64,
    pub title: String,
    pub description: Option<String>,
    pub due_date: Option<String>,
    pub priority: String,
    pub tags: Option<String>,
    pub recursion_pattern: Option<String>,
    pub completed: bool,
    pub completed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// An account as the API returns it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UserBody {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub created_at: String,
    pub updated_at: String,
}

/// The answer to a successful login.
#[derive(Debug, Clone, Deserialize)]
pub struct LoginBody {
    pub access_token: String,
    pub token_type: String,
    pub expires_at: String,
    pub user: UserBody,
}

/// One field at fault in a problem.
#[derive(Debug, Clone, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// An RFC 9457 problem, checked for shape.
#[derive(Debug, Clone, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(default)]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// The fields named in `errors`, in order.
    pub fn fields(&self) -> Vec<&str> {
        self.errors.iter().map(|e| e.field.as_str()).collect()
    }
}

/// A signed-up user: every task route of theirs, sent with their token.
#[derive(Clone)]
pub struct User {
    pub id: i64,
    pub token: String,
    client: reqwest::Client,
    base: String,
}

impl User {
    pub fn new(api: &Api, id: i64, token: String) -> Self {
        Self {
            id,
            token,
            client: api.client.clone(),
            base: api.base.clone(),
        }
    }

    /// This user's token on the URLs of user `id`.
    pub fn on_urls_of(&self, id: i64) -> User {
        User { id, ..self.clone() }
    }

    /// This user's URLs with `token` instead.
    pub fn with_token(&self, token: &str) -> User {
        User {
            token: token.to_owned(),
            ..self.clone()
        }
    }

    pub fn tasks_path(&self) -> String {
        format!("/api/{}/tasks", self.id)
    }

    pub fn task_path(&self, task: i64) -> String {
        format!("/api/{}/tasks/{task}", self.id)
    }

    /// Any request to `path`, with this user's token.
    pub fn call(&self, method: Method, path: &str) -> Call {
        let call = Call::new(self.client.clone(), method, format!("{}{path}", self.base));
        if self.token.is_empty() {
            call
        } else {
            call.bearer(&self.token)
        }
    }

    pub fn list_tasks(&self) -> Call {
        self.call(Method::GET, &self.tasks_path())
    }

    pub fn create_task(&self) -> Call {
        self.call(Method::POST, &self.tasks_path())
    }

    pub fn get_task(&self, task: i64) -> Call {
        self.call(Method::GET, &self.task_path(task))
    }

    pub fn put_task(&self, task: i64) -> Call {
        self.call(Method::PUT, &self.task_path(task))
    }

    pub fn complete_task(&self, task: i64) -> Call {
        self.call(Method::PATCH, &format!("{}/complete", self.task_path(task)))
    }

    pub fn delete_task(&self, task: i64) -> Call {
        self.call(Method::DELETE, &self.task_path(task))
    }

    pub fn me(&self) -> Call {
        self.call(Method::GET, "/api/auth/me")
    }

    pub fn logout(&self) -> Call {
        self.call(Method::POST, "/api/auth/logout")
    }

    /// Creates a task from `body`, asserting 201.
    pub async fn new_task(&self, body: Value) -> Task {
        self.create_task().json(&body).expect(201).await.task()
    }

    /// Creates a task with only a title.
    pub async fn add_task(&self, title: &str) -> Task {
        self.new_task(serde_json::json!({ "title": title })).await
    }
}

/// The API at `base`, spoken to without a token until someone signs up.
#[derive(Clone)]
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
}

impl Api {
    pub fn new(base: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .unwrap(),
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The full URL of user `user`'s task list, for requests built by hand.
    pub fn tasks_url(&self, user: i64) -> String {
        self.url(&format!("/api/{user}/tasks"))
    }

    /// The full URL of one task of user `user`, for requests built by hand.
    pub fn task_url(&self, user: i64, task: i64) -> String {
        self.url(&format!("/api/{user}/tasks/{task}"))
    }

    /// Any request to `path`, sent without a token.
    pub fn request(&self, method: Method, path: &str) -> Call {
        Call::new(self.client.clone(), method, self.url(path))
    }

    pub fn get(&self, path: &str) -> Call {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call {
        self.request(Method::POST, path)
    }

    pub fn register(&self, username: &str, email: &str, password: &str) -> Call {
        self.post("/api/auth/register").json(&serde_json::json!({
            "username": username, "email": email, "password": password
        }))
    }

    pub fn login(&self, email: &str, password: &str) -> Call {
        self.post("/api/auth/login")
            .json(&serde_json::json!({"email": email, "password": password}))
    }

    /// Registers `name` with `password` (email `name@example.com`) and logs in.
    pub async fn sign_up_with(&self, name: &str, password: &str) -> User {
        let email = format!("{name}@example.com");
        self.register(name, &email, password).expect(201).await;
        let login: LoginBody = self.login(&email, password).expect(200).await.json();
        User::new(self, login.user.id, login.access_token)
    }

    /// Registers `name` (email `name@example.com`, password `password-of-name`) and logs in.
    pub async fn sign_up(&self, name: &str) -> User {
        self.sign_up_with(name, &format!("password-of-{name}"))
            .await
    }

    /// Someone without a token, using `user_id`'s URLs.
    pub fn anonymous(&self, user_id: i64) -> User {
        User::new(self, user_id, String::new())
    }
}

/// One request being built. Nothing is checked here: tests may send anything.
pub struct Call {
    client: reqwest::Client,
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Call {
    pub fn new(client: reqwest::Client, method: Method, url: String) -> Self {
        Self {
            client,
            method,
            url,
            headers: Vec::new(),
            body: None,
        }
    }

    /// A JSON body (with its content type).
    pub fn json(self, body: &impl serde::Serialize) -> Self {
        self.header("content-type", "application/json")
            .body(serde_json::to_vec(body).unwrap())
    }

    /// A body sent as it is; set a content type with `header` if one is wanted.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Any header, as it is: hostile values included.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A query string appended as it is (`limit=5&q=100%25`).
    pub fn query(mut self, query: &str) -> Self {
        if !query.is_empty() {
            let sep = if self.url.contains('?') { '&' } else { '?' };
            self.url = format!("{}{sep}{query}", self.url);
        }
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn if_match(self, etag: &str) -> Self {
        self.header("if-match", etag)
    }

    pub fn if_none_match(self, etag: &str) -> Self {
        self.header("if-none-match", etag)
    }

    pub fn idempotency_key(self, key: &str) -> Self {
        self.header("idempotency-key", key)
    }

    pub fn origin(self, origin: &str) -> Self {
        self.header("origin", origin)
    }

    /// Sends the request; an error only when no answer came at all.
    pub async fn try_send(self) -> reqwest::Result<Reply> {
        let mut request = self.client.request(self.method, &self.url);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(body) = self.body {
            request = request.body(body);
        }
        Reply::read(request.send().await?).await
    }

    /// Sends the request and returns the answer as it arrives, its body unread (a stream).
    pub async fn open(self) -> reqwest::Response {
        let mut request = self.client.request(self.method, &self.url);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        request.send().await.expect("the server answers")
    }

    /// Sends the request; the server must answer.
    pub async fn send(self) -> Reply {
        self.try_send().await.expect("the server answers")
    }

    /// Sends the request and asserts the answer's status.
    pub async fn expect(self, status: u16) -> Reply {
        self.send().await.assert_status(status)
    }

    /// Sends the request and asserts a problem+json answer with `status`.
    pub async fn expect_problem(self, status: u16) -> Problem {
        self.send().await.assert_problem(status)
    }
}

/// `call.await` is `call.send().await`.
impl std::future::IntoFuture for Call {
    type Output = Reply;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// A whole response: status, headers and body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> reqwest::Result<Self> {
        Ok(Self {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.bytes().await?.to_vec(),
        })
    }

    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn assert_status(self, expected: u16) -> Self {
        assert_eq!(self.status(), expected, "{}", self.text());
        self
    }

    /// Asserts a problem+json answer with `status` and returns it.
    #[track_caller]
    pub fn assert_problem(self, status: u16) -> Problem {
        serde_json::from_value(self.assert_problem_value(status)).unwrap()
    }

    /// As `assert_problem`, returning the raw JSON.
    #[track_caller]
    pub fn assert_problem_value(self, status: u16) -> Value {
        assert_eq!(self.status(), status, "status: {}", self.text());
        assert_eq!(
            self.header("content-type").unwrap_or_default(),
            "application/problem+json"
        );
        let body = self.value();
        assert_eq!(body["status"], status);
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{body}"
        );
        assert!(body["type"].as_str().is_some(), "{body}");
        assert!(body["title"].as_str().is_some(), "{body}");
        body
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A header's value, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The ETag, which must be present.
    #[track_caller]
    pub fn etag(&self) -> String {
        self.header("etag").expect("an ETag").to_owned()
    }

    /// `X-Total-Count`, which must be present.
    #[track_caller]
    pub fn total(&self) -> i64 {
        self.header("x-total-count")
            .expect("X-Total-Count")
            .parse()
            .unwrap()
    }

    /// The query string of a `Link: <path?query>; rel="next"` header, if any.
    pub fn next_query(&self) -> Option<String> {
        let link = self.header("link")?;
        let inside = link.trim_start_matches('<').split('>').next()?;
        Some(inside.split_once('?')?.1.to_owned())
    }

    #[track_caller]
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    #[track_caller]
    pub fn value(&self) -> Value {
        self.json()
    }

    #[track_caller]
    pub fn task(&self) -> Task {
        self.json()
    }

    #[track_caller]
    pub fn tasks(&self) -> Vec<Task> {
        self.json()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Asserts a problem+json response and returns its body.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    Reply::read(response)
        .await
        .unwrap()
        .assert_problem_value(status)
}
