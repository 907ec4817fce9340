//! The original backend's clients, end to end: the paths they called, the bodies they sent
//! and the response fields they read, against this server.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// A client of the original backend: it remembers the token and user id it was given.
struct OldClient<'a> {
    app: &'a TestApp,
    token: Option<String>,
    user_id: Option<String>,
}

impl OldClient<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut call = self.app.request(method.clone(), path);
        if let Some(token) = &self.token {
            call = call.bearer(token);
        }
        if let Some(body) = body {
            call = call.json(body);
        }
        let reply = call.await;
        let value = if reply.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&reply.body).unwrap_or(Value::String(reply.text()))
        };
        eprintln!("{method} {path} -> {}", reply.status());
        (reply.status(), value)
    }

    fn tasks(&self) -> String {
        format!("/api/{}/tasks", self.user_id.as_deref().unwrap())
    }

    fn task(&self, id: &Value) -> String {
        format!("{}/{id}", self.tasks())
    }
}

/// The fields the original frontend's edit form sent back: every editable field.
fn edit_form(task: &Value) -> Value {
    let mut form = serde_json::Map::new();
    for field in [
        "title",
        "description",
        "due_date",
        "priority",
        "tags",
        "recursion_pattern",
        "completed",
    ] {
        form.insert(field.to_owned(), task[field].clone());
    }
    Value::Object(form)
}

#[tokio::test]
async fn the_original_frontend_works_end_to_end() {
    let app = TestApp::spawn().await;
    let mut client = OldClient {
        app: &app,
        token: None,
        user_id: None,
    };

    // Sign up: the frontend stored the token and user id it was given.
    let (status, body) = client
        .call(
            Method::POST,
            "/auth/signup",
            Some(&json!({"username": "olduser", "email": "old@example.com", "password": "old-password-1"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert!(body["access_token"].as_str().is_some());
    let signed_up_as = body["user_id"].as_str().unwrap().to_owned();

    // Log in, as the login page did.
    let (status, body) = client
        .call(
            Method::POST,
            "/auth/login",
            Some(&json!({"email": "old@example.com", "password": "old-password-1"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    client.token = Some(body["access_token"].as_str().unwrap().to_owned());
    client.user_id = Some(body["user_id"].as_str().unwrap().to_owned());
    assert_eq!(client.user_id.as_deref(), Some(signed_up_as.as_str()));

    let (status, me) = client.call(Method::GET, "/auth/me", None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["username"], "olduser");
    assert_eq!(me["email"], "old@example.com");

    // Create, as the new-task form did (every field sent).
    let new_task = json!({
        "title": "Water the plants",
        "description": "the ones on the balcony",
        "due_date": "2026-12-01",
        "priority": "High",
        "tags": "home,garden",
        "recursion_pattern": "weekly",
    });
    let (status, created) = client
        .call(Method::POST, &client.tasks(), Some(&new_task))
        .await;
    assert_eq!(status, 201, "{created}");
    for field in [
        "title",
        "description",
        "due_date",
        "priority",
        "tags",
        "recursion_pattern",
    ] {
        assert_eq!(created[field], new_task[field], "{field}");
    }
    assert_eq!(created["completed"], false);
    assert!(created["id"].is_i64());

    // A task the original backend stored, with values today's rules refuse as new input.
    let legacy_id: i32 = sqlx::query_scalar(
        "INSERT INTO task (user_id, title, description, due_date, priority, tags,
                           recursion_pattern, completed)
         VALUES ($1, 'Call grandma', NULL, 'next friday', 'Low', 'family',
                 'every other day', false)
         RETURNING id",
    )
    .bind(signed_up_as.parse::<i32>().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();

    // List: the dashboard read an array of tasks.
    let (status, list) = client.call(Method::GET, &client.tasks(), None).await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let legacy = list
        .iter()
        .find(|t| t["id"] == legacy_id)
        .expect("the legacy task is listed")
        .clone();
    assert_eq!(legacy["due_date"], "next friday");
    assert_eq!(legacy["recursion_pattern"], "every other day");
    assert_eq!(legacy["priority"], "Low");

    // Edit the legacy task: the edit form sent every field back, here unchanged.
    let (status, edited) = client
        .call(
            Method::PUT,
            &client.task(&legacy["id"]),
            Some(&edit_form(&legacy)),
        )
        .await;
    assert_eq!(
        status, 200,
        "a PUT sending a legacy task's stored values back: {edited}"
    );
    assert_eq!(edit_form(&edited), edit_form(&legacy));

    // Edit the new task's title, everything else sent back as it was.
    let mut form = edit_form(&created);
    form["title"] = json!("Water the plants (and the herbs)");
    let (status, edited) = client
        .call(Method::PUT, &client.task(&created["id"]), Some(&form))
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["title"], "Water the plants (and the herbs)");
    assert_eq!(edited["due_date"], "2026-12-01");

    // Toggle, as the checkbox did: no body.
    let complete = format!("{}/complete", client.task(&legacy["id"]));
    let (status, toggled) = client.call(Method::PATCH, &complete, None).await;
    assert_eq!(status, 200, "{toggled}");
    assert_eq!(toggled["completed"], true);
    let (status, toggled) = client.call(Method::PATCH, &complete, None).await;
    assert_eq!(status, 200, "{toggled}");
    assert_eq!(toggled["completed"], false);

    // Delete: the frontend only checked for success.
    let (status, _) = client
        .call(Method::DELETE, &client.task(&created["id"]), None)
        .await;
    assert!((200..300).contains(&status), "{status}");
    let (status, list) = client.call(Method::GET, &client.tasks(), None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Log out: the token is dead everywhere.
    let (status, body) = client.call(Method::POST, "/api/logout", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Logout successful");
    let (status, body) = client.call(Method::GET, &client.tasks(), None).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["detail"].as_str().is_some(),
        "detail stays a string: {body}"
    );
    let (status, _) = client.call(Method::GET, "/auth/me", None).await;
    assert_eq!(status, 401);
}
