//! Connections killed under the server, as Neon does when a compute suspends.

use std::time::Duration;

use serde_json::json;

use crate::{
    cluster::Cluster,
    support::{Server, lock_waiters, wait_until},
};

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
    let survivor = server.sign_up("survivor").await;
    for round in 0..3 {
        // Warm several connections, then kill them all.
        let warm: Vec<_> = (0..8)
            .map(|_| tokio::spawn(survivor.list_tasks().send()))
            .collect();
        for w in warm {
            w.await.unwrap().assert_status(200);
        }
        let killed = terminate_app_backends(&cluster);
        assert!(killed >= 1, "round {round}: nothing to kill");
        for n in 0..10 {
            let created = survivor
                .create_task()
                .json(&json!({"title": format!("round {round} task {n}")}))
                .send()
                .await;
            assert_eq!(created.status(), 201, "round {round}: {}", created.text());
            survivor.list_tasks().expect(200).await;
        }
    }
}

#[tokio::test]
async fn queries_in_flight_when_their_connection_dies_get_503_not_500() {
    let cluster = Cluster::start(&[]);
    cluster.createdb("todo");
    let url = cluster.url("127.0.0.1", "todo");
    let server = Server::start(&[("DATABASE_URL", &url)]).await;
    // Four users, one listing each: each user's share of the pool lets their listing in.
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(server.sign_up(&format!("inflight{i}")).await);
    }
    // A lock makes list queries wait inside PostgreSQL, so they are in flight when killed.
    let mut locker = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::Executor::execute(
        &mut locker,
        "BEGIN; LOCK TABLE task IN ACCESS EXCLUSIVE MODE",
    )
    .await
    .unwrap();
    let waiting: Vec<_> = users
        .iter()
        .map(|user| tokio::spawn(user.list_tasks().send()))
        .collect();
    let mut watcher = sqlx::PgConnection::connect(&url).await.unwrap();
    wait_until(
        "the four listings to wait on the lock",
        Duration::from_secs(10),
        async || lock_waiters(&mut watcher).await == 4,
    )
    .await;
    terminate_app_backends(&cluster);
    for w in waiting {
        let reply = w.await.unwrap();
        assert_eq!(reply.header("retry-after"), Some("2"));
        assert_eq!(reply.assert_problem(503).kind, "/problems/unavailable");
    }
    sqlx::Executor::execute(&mut locker, "ROLLBACK")
        .await
        .unwrap();
    users[0].list_tasks().expect(200).await;
}

use sqlx::Connection;
