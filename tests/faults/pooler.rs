//! A transaction-mode PgBouncer (Debian's 1.18, the worst case) between server and database.

use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use todo_api::db::pooler::{self, Pooler};

use crate::{
    cluster::{Bouncer, Cluster},
    support::{Api, Server},
};

#[tokio::test]
async fn the_probe_tells_a_direct_connection_from_a_pooler_that_loses_prepared_statements() {
    let cluster = Cluster::start(&[]);
    cluster.createdb("todo");
    let bouncer = Bouncer::start(&cluster, "todo").await;
    let direct: PgConnectOptions = cluster.url("127.0.0.1", "todo").parse().unwrap();
    let pooled: PgConnectOptions = format!("postgres://postgres@127.0.0.1:{}/todo", bouncer.port)
        .parse()
        .unwrap();
    assert_eq!(pooler::probe(&direct).await.unwrap(), Pooler::None);
    assert_eq!(
        pooler::probe(&pooled).await.unwrap(),
        Pooler::LosesStatements
    );
}

#[tokio::test]
async fn behind_an_unsafe_pooler_the_server_goes_direct_and_the_full_flow_passes_under_concurrency()
{
    let cluster = Cluster::start(&[]);
    cluster.createdb("todo");
    let bouncer = Bouncer::start(&cluster, "todo").await;
    let pooled = format!("postgres://postgres@127.0.0.1:{}/todo", bouncer.port);
    let direct = cluster.url("127.0.0.1", "todo");
    let app = Server::build(&[
        ("DATABASE_URL", &pooled),
        ("DATABASE_URL_UNPOOLED", &direct),
        // Sixteen accounts from one address: more than one client may make in a window.
        ("REGISTRATION_LIMIT_PER_CLIENT", "100"),
    ])
    .await
    .unwrap();
    assert_eq!(
        app.database_host_port(),
        ("127.0.0.1".to_owned(), cluster.port)
    );
    let server = Server::run(app);

    let flows = (0..16).map(|i| {
        let api: Api = (*server).clone();
        async move {
            let name = format!("user{i}");
            let user = api.sign_up_with(&name, "password123").await;
            let mut statuses = Vec::new();
            for n in 0..10 {
                let created = user
                    .create_task()
                    .json(
                        &json!({"title": format!("{name} task {n}"), "recursion_pattern": "daily"}),
                    )
                    .send()
                    .await;
                statuses.push(created.status());
                let completed = user.complete_task(created.task().id).send().await;
                statuses.push(completed.status());
                let listed = user.list_tasks().send().await;
                statuses.push(listed.status());
                let listed = listed.tasks();
                // Each completed recurring task left one open successor: never another user's.
                assert!(listed.iter().all(|t| t.user_id == user.id));
                assert_eq!(listed.len(), 2 * (n + 1));
            }
            statuses
        }
    });
    let handles: Vec<_> = flows.map(tokio::spawn).collect();
    for h in handles {
        let statuses = h.await.unwrap();
        assert!(
            statuses.iter().all(|s| (200..300).contains(s)),
            "{statuses:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_pooler_that_refuses_startup_options_is_detected_so_the_server_still_connects() {
    let cluster = Cluster::start(&[]);
    cluster.createdb("todo");
    let bouncer = Bouncer::start(&cluster, "todo").await;
    let with_timeout = |url: String| -> PgConnectOptions {
        url.parse::<PgConnectOptions>()
            .unwrap()
            .options([("statement_timeout", "5000ms")])
    };
    let timeout = std::time::Duration::from_secs(5);
    assert!(
        todo_api::db::connect::accepts_startup_options(
            &with_timeout(cluster.url("127.0.0.1", "todo")),
            timeout
        )
        .await
    );
    assert!(
        !todo_api::db::connect::accepts_startup_options(
            &with_timeout(format!(
                "postgres://postgres@127.0.0.1:{}/todo",
                bouncer.port
            )),
            timeout
        )
        .await,
        "PgBouncer 1.18 refuses `options` unless told to ignore it"
    );
}
