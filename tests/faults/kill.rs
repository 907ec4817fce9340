//! Connections killed under the server, as Neon does when a compute suspends.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{app::Server, cluster::Cluster};

fn terminate_app_backends(cluster: &Cluster) -> usize {
    cluster
        .psql(
            "postgres",
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'todo-api'",
        )
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn after_every_pooled_connection_is_killed_the_next_requests_succeed() {
    let cluster = Cluster::start(&[]);
    cluster.createdb("todo");
    let server = Server::start(&[("DATABASE_URL", &cluster.url("127.0.0.1", "todo"))]).await;
    let (uid, token) = server.user("survivor").await;
    let tasks = server.url(&format!("/api/{uid}/tasks"));
    for round in 0..3 {
        // Warm several connections, then kill them all.
        let warm: Vec<_> = (0..8)
            .map(|_| tokio::spawn(server.client.get(&tasks).bearer_auth(&token).send()))
            .collect();
        for w in warm {
            assert_eq!(w.await.unwrap().unwrap().status(), 200);
        }
        let killed = terminate_app_backends(&cluster);
        assert!(killed >= 1, "round {round}: nothing to kill");
        for n in 0..10 {
            let created = server
                .client
                .post(&tasks)
                .bearer_auth(&token)
                .json(&json!({"title": format!("round {round} task {n}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                created.status(),
                201,
                "round {round}: {}",
                created.text().await.unwrap()
            );
            let listed = server
                .client
                .get(&tasks)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(listed.status(), 200);
        }
    }
}

#[tokio::test]
async fn queries_in_flight_when_their_connection_dies_get_503_not_500() {
    let cluster = Cluster::start(&[]);
    cluster.createdb("todo");
    let url = cluster.url("127.0.0.1", "todo");
    let server = Server::start(&[("DATABASE_URL", &url)]).await;
    let (uid, token) = server.user("inflight").await;
    let tasks = server.url(&format!("/api/{uid}/tasks"));
    // A lock makes list queries wait inside PostgreSQL, so they are in flight when killed.
    let mut locker = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::Executor::execute(
        &mut locker,
        "BEGIN; LOCK TABLE task IN ACCESS EXCLUSIVE MODE",
    )
    .await
    .unwrap();
    let waiting: Vec<_> = (0..4)
        .map(|_| tokio::spawn(server.client.get(&tasks).bearer_auth(&token).send()))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    terminate_app_backends(&cluster);
    for w in waiting {
        let response = w.await.unwrap().unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "2");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["type"], "/problems/unavailable");
    }
    sqlx::Executor::execute(&mut locker, "ROLLBACK")
        .await
        .unwrap();
    assert_eq!(
        server
            .client
            .get(&tasks)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

use sqlx::Connection;
