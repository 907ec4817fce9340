//! The database goes away under load, and comes back.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;
use tokio::sync::Semaphore;

use crate::{
    cluster::Cluster,
    support::{Reply, Server, User, wait_until},
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

/// The stages of the test, as the writers see them.
const WARMING: u8 = 0;
const DOWN: u8 = 1;
const BACK: u8 = 2;
const STOP: u8 = 3;

const WRITERS: u32 = 6;

/// Where the test is, and where the writers are: each writer adds one permit to a
/// milestone the first time it reaches it, and the test waits for all of them.
struct Timeline {
    stage: AtomicU8,
    /// Five of its writes acknowledged.
    warmed: Semaphore,
    /// A 503 for a request sent while the database was down.
    refused: Semaphore,
    /// A write acknowledged that was sent once the database was back.
    back: Semaphore,
}

impl Timeline {
    fn new() -> Self {
        Self {
            stage: AtomicU8::new(WARMING),
            warmed: Semaphore::new(0),
            refused: Semaphore::new(0),
            back: Semaphore::new(0),
        }
    }

    fn stage(&self) -> u8 {
        self.stage.load(Ordering::SeqCst)
    }

    fn enter(&self, stage: u8) {
        self.stage.store(stage, Ordering::SeqCst);
    }

    /// Waits until every writer has reached `milestone`.
    async fn all_reached(&self, milestone: &Semaphore, what: &str, within: Duration) {
        tokio::time::timeout(within, milestone.acquire_many(WRITERS))
            .await
            .unwrap_or_else(|_| panic!("waited {within:?} for every writer to {what}"))
            .unwrap_or_else(|_| {
                panic!("a writer failed (see its panic above) before all could {what}")
            })
            .forget();
    }

    /// Wakes the test at once when a writer fails, instead of at a deadline.
    fn close(&self) {
        self.warmed.close();
        self.refused.close();
        self.back.close();
    }
}

/// Closes the timeline when the writer holding it panics.
struct CloseOnPanic(Arc<Timeline>);

impl Drop for CloseOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.close();
        }
    }
}

/// One milestone of one writer: a permit the first time only.
struct Reached(bool);

impl Reached {
    fn mark(&mut self, milestone: &Semaphore) {
        if !self.0 {
            self.0 = true;
            milestone.add_permits(1);
        }
    }
}

async fn writer(
    server: Arc<Server>,
    name: String,
    timeline: Arc<Timeline>,
    ledger: Arc<Mutex<Ledger>>,
) {
    let _failing = CloseOnPanic(timeline.clone());
    let user = server.sign_up(&name).await;
    let mut mine: Vec<(i64, bool)> = Vec::new();
    let (mut warmed, mut refused, mut back) = (Reached(false), Reached(false), Reached(false));
    let mut acked = 0;
    let mut n = 0;
    loop {
        let stage = timeline.stage();
        if stage == STOP {
            break;
        }
        n += 1;
        let started = Instant::now();
        let ok = if n % 2 == 1 || mine.is_empty() {
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
                true
            } else {
                ledger.lock().unwrap().unacked_creates += 1;
                check_failure(reply);
                false
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
            }
            acked
        };
        if ok {
            acked += 1;
            if acked >= 5 {
                warmed.mark(&timeline.warmed);
            }
            if stage == BACK {
                back.mark(&timeline.back);
            }
        } else if stage == DOWN {
            refused.mark(&timeline.refused);
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
    let timeline = Arc::new(Timeline::new());
    let writers: Vec<_> = (0..WRITERS)
        .map(|i| {
            tokio::spawn(writer(
                server.clone(),
                format!("writer{i}"),
                timeline.clone(),
                ledger.clone(),
            ))
        })
        .collect();

    timeline
        .all_reached(
            &timeline.warmed,
            "have five writes acknowledged",
            Duration::from_secs(30),
        )
        .await;
    timeline.enter(DOWN);
    cluster.halt();
    let down_at = Instant::now();
    // While it is down, a live probe says so within its bound.
    server.get("/health/ready?probe=live").expect(503).await;
    assert!(
        down_at.elapsed() < Duration::from_secs(4),
        "readiness took {:?}",
        down_at.elapsed()
    );
    // The database stays down until every writer has been answered, within the server's
    // bounds, for a request it sent while the database was down: a request that hung would
    // keep it down until this deadline fails the test.
    timeline
        .all_reached(
            &timeline.refused,
            "be answered 503 while the database is down",
            Duration::from_secs(20),
        )
        .await;
    let outage = down_at.elapsed();
    cluster.resume();
    timeline.enter(BACK);
    let back_at = Instant::now();
    wait_until(
        "readiness to say ready after the database came back",
        Duration::from_secs(5),
        async || server.get("/health/ready?probe=live").send().await.status() == 200,
    )
    .await;
    let recovered = back_at.elapsed();
    timeline
        .all_reached(
            &timeline.back,
            "have a write acknowledged after the database came back",
            Duration::from_secs(20),
        )
        .await;
    timeline.enter(STOP);
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
    assert!(!failures.is_empty(), "the outage must have produced 503s");
    eprintln!(
        "restart: {} creates and {} toggles acknowledged, 0 lost; {} answered 503 during a \
         {:.1} s outage (slowest answer {:.1} s); ready again {} ms after the database",
        ledger.acked_creates.len(),
        toggles_acked,
        failures.len(),
        outage.as_secs_f64(),
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
