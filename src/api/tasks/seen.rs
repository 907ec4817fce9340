//! Tasks as this instance last read or changed them, so that a change (toggle, edit) can be
//! decided on the task already known and written in one statement instead of two.
//!
//! Every write to a task gives it a new version, whoever makes it (the `task_before_write`
//! trigger), and a change is written with `WHERE version = …` the version it was decided
//! on: when the task moved since it was seen here, the write changes nothing and the task is
//! read again, exactly as without this. A refusal (412, 422) is only ever given on a task just
//! read. Nothing here is trusted without that check, so nothing needs invalidating.
//!
//! At most [`TASKS_KEPT`] tasks are kept; the ones kept longest go first.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Mutex, PoisonError},
};

use crate::domain::{
    ids::{TaskId, UserId},
    task::Task,
};

/// A few thousand tasks: a few MB at most, the lists of a few hundred active users.
pub const TASKS_KEPT: usize = 4096;

#[derive(Default)]
struct Seen {
    tasks: HashMap<TaskId, Task>,
    /// The ids of `tasks`, oldest first (an id seen again keeps its place).
    line: VecDeque<TaskId>,
}

pub struct SeenTasks {
    capacity: usize,
    seen: Mutex<Seen>,
}

impl SeenTasks {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            seen: Mutex::default(),
        }
    }

    /// The task `id` of `user` as last seen, if it was.
    pub fn get(&self, user: UserId, id: TaskId) -> Option<Task> {
        self.lock()
            .tasks
            .get(&id)
            .filter(|t| t.user_id == user)
            .cloned()
    }

    /// Keeps `tasks` as they were just read or written; an older version of one never
    /// replaces a newer one (a request that read earlier may answer later).
    pub fn saw<'a>(&self, tasks: impl IntoIterator<Item = &'a Task>) {
        if self.capacity == 0 {
            return;
        }
        let mut seen = self.lock();
        let seen = &mut *seen;
        for task in tasks {
            match seen.tasks.get_mut(&task.id) {
                // The same version is the same task: nothing to copy.
                Some(old) if old.user_id == task.user_id && old.version >= task.version => {}
                Some(old) => old.clone_from(task),
                None => {
                    seen.tasks.insert(task.id, task.clone());
                    seen.line.push_back(task.id);
                }
            }
            while seen.tasks.len() > self.capacity {
                let Some(oldest) = seen.line.pop_front() else {
                    break;
                };
                seen.tasks.remove(&oldest);
            }
        }
    }

    /// How many tasks are kept.
    pub fn len(&self) -> usize {
        self.lock().tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        // Every change above leaves the maps consistent before anything that could panic.
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::domain::task::Fields;

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
        let seen = SeenTasks::new(10);
        seen.saw([&task(1, 7, 2)]);
        assert_eq!(seen.get(UserId(7), TaskId(1)).map(|t| t.version), Some(2));
        assert!(seen.get(UserId(8), TaskId(1)).is_none());
        seen.saw([&task(1, 7, 1)]);
        assert_eq!(seen.get(UserId(7), TaskId(1)).map(|t| t.version), Some(2));
        seen.saw([&task(1, 7, 3)]);
        assert_eq!(seen.get(UserId(7), TaskId(1)).map(|t| t.version), Some(3));
    }

    #[test]
    fn the_oldest_go_first_and_a_zero_capacity_keeps_nothing() {
        let seen = SeenTasks::new(3);
        let tasks: Vec<Task> = (1..=5).map(|id| task(id, 7, 1)).collect();
        seen.saw(&tasks);
        assert_eq!(seen.len(), 3);
        assert!(seen.get(UserId(7), TaskId(2)).is_none());
        assert!(seen.get(UserId(7), TaskId(3)).is_some());
        let none = SeenTasks::new(0);
        none.saw(&tasks);
        assert!(none.is_empty());
    }
}
