//! Tasks as this instance last read or changed them, so that a change (toggle, edit) can be
//! decided on the task already known and written in one statement instead of two.
//!
//! Every write to a task gives it a new version, whoever makes it (the `task_before_write`
//! trigger), and a change is written with `WHERE version = …` the version it was decided
//! on: when the task moved since it was seen here, the write changes nothing and the task is
//! read again, exactly as without this. A refusal (412, 422) is only ever given on a task just
//! read. Nothing here is trusted without that check, so nothing needs invalidating.
//!
//! Writes that fire no triggers (`session_replication_role = replica`, `pg_restore
//! --disable-triggers`, logical replication) move no version, so that check cannot see them:
//! a change decided on a copy kept from before one writes the whole task and undoes it. A
//! task is therefore forgotten after `LIST_CACHE_MAX_AGE`, like a kept list, which bounds how
//! long that can happen.
//!
//! The tasks are kept in a [`moka`] cache bounded in bytes ([`DEFAULT_BYTES`], each task
//! weighed by its strings), whose TinyLFU admission keeps the tasks changed often when a
//! user pages through thousands they will not touch.

use std::{sync::Arc, time::Duration};

use moka::{ops::compute::Op, sync::Cache};

use crate::domain::{
    ids::{TaskId, UserId},
    task::Task,
};

/// Bytes of tasks kept: some ten thousand tasks of a few hundred bytes, or some eight
/// hundred with 5 000-character descriptions.
pub const DEFAULT_BYTES: usize = 4 * 1024 * 1024;

/// What one kept task costs besides its strings: the entry, its key and moka's bookkeeping.
const TASK_OVERHEAD: usize = 256;

/// What keeping `task` costs, in bytes.
fn weight(task: &Task) -> usize {
    let f = &task.fields;
    let len = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    TASK_OVERHEAD
        + std::mem::size_of::<Task>()
        + f.title.len()
        + len(&f.description)
        + len(&f.due_date)
        + len(&f.tags)
        + len(&f.recursion_pattern)
}

pub struct SeenTasks {
    /// `None` when the budget is 0: nothing is kept.
    tasks: Option<Cache<TaskId, Arc<Task>>>,
}

impl SeenTasks {
    /// Keeps at most `budget` bytes of tasks (0 keeps none), each for at most `max_age`.
    pub fn new(budget: usize, max_age: Duration) -> Self {
        let tasks = (budget > 0).then(|| {
            Cache::builder()
                .max_capacity(budget as u64)
                .weigher(|_, task: &Arc<Task>| u32::try_from(weight(task)).unwrap_or(u32::MAX))
                .time_to_live(max_age)
                .build()
        });
        Self { tasks }
    }

    /// The task `id` of `user` as last seen, if it was.
    pub fn get(&self, user: UserId, id: TaskId) -> Option<Task> {
        let task = self.tasks.as_ref()?.get(&id)?;
        (task.user_id == user).then(|| Task::clone(&task))
    }

    /// Keeps `tasks` as they were just read or written; an older version of one never
    /// replaces a newer one (a request that read earlier may answer later).
    pub fn saw<'a>(&self, tasks: impl IntoIterator<Item = &'a Task>) {
        let Some(kept) = &self.tasks else {
            return;
        };
        // As new a version is kept already: nothing to copy, and an older one never replaces it.
        let known =
            |old: &Task, task: &Task| old.user_id == task.user_id && old.version >= task.version;
        for task in tasks {
            // Most tasks of a list read again are as they were: a read settles them, at a
            // fraction of the cost of a change (which takes its turn on the task's key).
            if kept.get(&task.id).is_some_and(|old| known(&old, task)) {
                continue;
            }
            let _ = kept.entry(task.id).and_compute_with(|old| match old {
                Some(old) if known(old.value(), task) => Op::Nop,
                _ => Op::Put(Arc::new(task.clone())),
            });
        }
    }

    /// How many tasks and bytes are kept, once moka has applied what is pending.
    pub fn size(&self) -> (u64, u64) {
        self.tasks.as_ref().map_or((0, 0), |tasks| {
            tasks.run_pending_tasks();
            (tasks.entry_count(), tasks.weighted_size())
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use chrono::NaiveDate;

    use super::*;
    use crate::domain::task::Fields;

    const HOUR: Duration = Duration::from_secs(3600);

    fn task(id: i32, user: i32, version: i32) -> Task {
        let at = NaiveDate::from_ymd_opt(2026, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default();
        Task {
            id: TaskId(id),
            user_id: UserId(user),
            fields: Fields::default(),
            version,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_task_is_only_found_for_its_own_user_and_the_latest_version_stays() {
        let seen = SeenTasks::new(DEFAULT_BYTES, HOUR);
        seen.saw([&task(1, 7, 2)]);
        assert_eq!(seen.get(UserId(7), TaskId(1)).map(|t| t.version), Some(2));
        assert!(seen.get(UserId(8), TaskId(1)).is_none());
        seen.saw([&task(1, 7, 1)]);
        assert_eq!(seen.get(UserId(7), TaskId(1)).map(|t| t.version), Some(2));
        seen.saw([&task(1, 7, 3)]);
        assert_eq!(seen.get(UserId(7), TaskId(1)).map(|t| t.version), Some(3));
    }

    #[test]
    fn long_descriptions_are_weighed_in_bytes_and_a_zero_budget_keeps_nothing() {
        // 4 096 tasks with 5 000-character descriptions: some 20 MB as they come.
        let tasks: Vec<Task> = (1..=4096)
            .map(|id| {
                let mut t = task(id, 7, 1);
                t.fields.description = Some("d".repeat(5000));
                t
            })
            .collect();
        let seen = SeenTasks::new(DEFAULT_BYTES, HOUR);
        seen.saw(&tasks);
        let (count, bytes) = seen.size();
        assert!(bytes <= DEFAULT_BYTES as u64, "{bytes}");
        assert!(count <= (DEFAULT_BYTES / 5000) as u64, "{count}");
        let none = SeenTasks::new(0, HOUR);
        none.saw(&tasks);
        assert!(none.get(UserId(7), TaskId(1)).is_none());
        assert_eq!(none.size(), (0, 0));
    }

    #[test]
    fn a_user_paging_through_many_tasks_does_not_push_out_the_tasks_in_use() {
        let budget = 128 * 1024;
        let seen = SeenTasks::new(budget, HOUR);
        // A full cache, as it is once the server has run a while.
        let others: Vec<Task> = (100_000..101_000).map(|id| task(id, 3, 1)).collect();
        seen.saw(&others);
        seen.size();
        // User 1 changes their tasks (each change reads the task seen, then keeps the task
        // written) while user 2 lists 10 000 tasks, 500 a page, each page once.
        let in_use: Vec<Task> = (1..=20).map(|id| task(id, 1, 1)).collect();
        let change = |seen: &SeenTasks| {
            for t in &in_use {
                let now = seen.get(UserId(1), t.id).unwrap_or_else(|| t.clone());
                seen.saw([&now]);
            }
        };
        for _ in 0..3 {
            change(&seen);
        }
        let pages: Vec<Task> = (1000..11_000).map(|id| task(id, 2, 1)).collect();
        for page in pages.chunks(500) {
            change(&seen);
            seen.saw(page);
        }
        assert!(seen.size().1 <= budget as u64);
        for t in &in_use {
            assert!(seen.get(UserId(1), t.id).is_some(), "task {}", t.id);
        }
    }
}
