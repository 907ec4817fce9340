//! The database goes away under load, and comes back.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::json;

use crate::{
    cluster::Cluster,
    support::{Reply, Server, User},
};

/// What one request got back.
#[derive(Debug, Clone)]
struct Outcome {
    status: u16,
    elapsed: Duration,
}

#[derive(Debug, Default)]
struct Ledger {
    /// Titles of tasks whose create was acknowledged (2xx), and all attempted.
    acked_creates: Vec<String>,
    unacked_creates: usize,
    /// Per task: the completion values set, in order, each with whether it was acknowledged.
    sets: HashMap<i64, Vec<(bool, bool)>>,
    outcomes: Vec<Outcome>,
}

fn check_failure(reply: Reply) {
    assert_eq!(reply.status(), 503, "only 503 may answer an outage");
    assert_eq!(reply.header("retry-after"), Some("2"));
    let detail = reply.assert_problem(503).detail;
    assert!(
        !detail.contains("sqlx") && !detail.contains("connection"),
        "{detail}"
    );
}

async fn writer(server: Arc<Server>, name: String, until: Instant, ledger: Arc<Mutex<Ledger>>) {
    let user = server.sign_up(&name).await;
    let mut mine: Vec<(i64, bool)> = Vec::new();
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        let started = Instant::now();
        if n % 2 == 1 || mine.is_empty() {
            let title = format!("{name} #{n}");
            let reply = user
                .create_task()
                .json(&json!({"title": title}))
                .send()
                .await;
            let status = reply.status();
            ledger.lock().unwrap().outcomes.push(Outcome {
                status,
                elapsed: started.elapsed(),
            });
            if status == 201 {
                mine.push((reply.task().id, false));
                ledger.lock().unwrap().acked_creates.push(title);
            } else {
                ledger.lock().unwrap().unacked_creates += 1;
                check_failure(reply);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        } else {
            let index = n % mine.len();
            let (id, current) = mine[index];
            let wanted = !current;
            let reply = user
                .complete_task(id)
                .json(&json!({"completed": wanted}))
                .send()
                .await;
            let status = reply.status();
            let acked = status == 200;
            {
                let mut l = ledger.lock().unwrap();
                l.outcomes.push(Outcome {
                    status,
                    elapsed: started.elapsed(),
                });
                l.sets.entry(id).or_default().push((wanted, acked));
            }
            if acked {
                mine[index].1 = wanted;
            } else {
                check_failure(reply);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_write_load_loses_no_acknowledged_write() {
    let cluster = Cluster::start(&[]);
    cluster.createdb("todo");
    let url = cluster.url("127.0.0.1", "todo");
    let server =
        Arc::new(Server::start(&[("DATABASE_URL", &url), ("DB_CONNECT_TIMEOUT", "5s")]).await);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let until = Instant::now() + Duration::from_secs(16);
    let writers: Vec<_> = (0..6)
        .map(|i| {
            tokio::spawn(writer(
                server.clone(),
                format!("writer{i}"),
                until,
                ledger.clone(),
            ))
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.halt();
    let down_at = Instant::now();
    // While it is down, a live probe says so within its bound.
    server.get("/health/ready?probe=live").expect(503).await;
    assert!(
        down_at.elapsed() < Duration::from_secs(4),
        "readiness took {:?}",
        down_at.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(7).saturating_sub(down_at.elapsed())).await;
    cluster.resume();
    let back_at = Instant::now();
    let recovered = loop {
        if server.get("/health/ready?probe=live").send().await.status() == 200 {
            break back_at.elapsed();
        }
        assert!(
            back_at.elapsed() < Duration::from_secs(5),
            "not serving 5 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for w in writers {
        w.await.unwrap();
    }

    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM task")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let lost: Vec<&String> = ledger
        .acked_creates
        .iter()
        .filter(|t| !titles.contains(t))
        .collect();
    assert!(lost.is_empty(), "acknowledged creates lost: {lost:?}");
    let mut toggles_acked = 0;
    for (id, sets) in &ledger.sets {
        let stored: bool = sqlx::query_scalar("SELECT completed FROM task WHERE id = $1")
            .bind(*id as i32)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        // The last acknowledged value holds, unless a later unacknowledged request (whose
        // commit may or may not have happened before its connection died) set another.
        let last_acked = sets.iter().rposition(|(_, acked)| *acked);
        let allowed: Vec<bool> = match last_acked {
            Some(i) => sets[i..].iter().map(|(v, _)| *v).collect(),
            None => std::iter::once(false)
                .chain(sets.iter().map(|(v, _)| *v))
                .collect(),
        };
        assert!(
            allowed.contains(&stored),
            "task {id}: stored {stored}, history {sets:?}"
        );
        toggles_acked += sets.iter().filter(|(_, a)| *a).count();
    }
    let failures: Vec<&Outcome> = ledger.outcomes.iter().filter(|o| o.status >= 300).collect();
    assert!(
        ledger
            .outcomes
            .iter()
            .all(|o| o.status < 500 || o.status == 503)
    );
    let slowest = ledger
        .outcomes
        .iter()
        .map(|o| o.elapsed)
        .max()
        .unwrap_or_default();
    assert!(
        slowest < Duration::from_secs(7),
        "a request hung for {slowest:?}"
    );
    assert!(!failures.is_empty(), "a 7 s outage must have produced 503s");
    eprintln!(
        "restart: {} creates and {} toggles acknowledged, 0 lost; {} answered 503 \
         (slowest answer {:.1} s); ready again {} ms after the database",
        ledger.acked_creates.len(),
        toggles_acked,
        failures.len(),
        slowest.as_secs_f64(),
        recovered.as_millis()
    );
}

use sqlx::Connection;

#[tokio::test]
async fn data_survives_a_server_restart() {
    let cluster = Cluster::start(&[]);
    cluster.createdb("todo");
    let url = cluster.url("127.0.0.1", "todo");
    let vars = [("DATABASE_URL", url.as_str())];
    let server = Server::start(&vars).await;
    let keeper = server.sign_up("keeper").await;
    let created = keeper
        .new_task(json!({"title": "Remember me", "tags": "a,b"}))
        .await;
    server.stop().await;
    let server = Server::start(&vars).await;
    // The same user and token, on the new server's address.
    let keeper = User::new(&server, keeper.id, keeper.token);
    let listed = keeper.list_tasks().expect(200).await.tasks();
    assert_eq!(
        listed,
        vec![created],
        "the task and the session survive a restart"
    );
}
