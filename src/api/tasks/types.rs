//! Task wire types. Request bodies hold each field as sent ([`Field`]); the domain's rules
//! decide, in one pass, what is accepted ([`Draft`]).

use poem_openapi::{Object, types::Example};

use crate::{
    api::{field::Field, nullable::Nullable, timestamp::Timestamp},
    domain::{
        due_date::DueDate,
        ids::{TaskId, UserId},
        recurrence::RecurrenceRule,
        task::{self, Description, Draft, Priority, Tags, Title},
    },
};

/// A task. Rows the original backend wrote may hold text today's rules would refuse (a
/// free-text `due_date` or `recursion_pattern`, an over-long title): it is shown as stored,
/// accepted back unchanged, and drives nothing (a free-text recurrence repeats nothing).
// `Serialize` writes the same JSON as `ToJSON` (a test holds them equal), for `SerdeJson`.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(example)]
pub struct Task {
    pub id: TaskId,
    /// The owner.
    pub user_id: UserId,
    /// 1–200 characters, trimmed.
    pub title: String,
    /// At most 5 000 characters.
    #[oai(nullable)]
    pub description: Nullable<String>,
    /// A date (`2026-12-01`) or an RFC 3339 date-time, as it was given; free text on rows
    /// the original backend wrote, which no filter or sort can place.
    #[oai(nullable)]
    pub due_date: Nullable<String>,
    pub priority: Priority,
    /// Comma-separated tags, normalised: `work,home`.
    #[oai(nullable)]
    pub tags: Nullable<String>,
    /// How the task repeats: `daily`, `weekly`, `monthly`, `yearly`, `weekdays`,
    /// `every N days|weeks|months|years`, or an RRULE such as `FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE`.
    /// Completing the task creates its next occurrence. Free text the original backend stored
    /// is shown as it is and repeats nothing.
    #[oai(nullable)]
    pub recursion_pattern: Nullable<String>,
    pub completed: bool,
    /// When the task became completed (read-only: set by completing it); `null` while it is
    /// open, and on tasks completed before the server recorded it.
    #[oai(nullable)]
    pub completed_at: Nullable<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Example for Task {
    fn example() -> Self {
        let at = Timestamp(chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_780));
        Self {
            id: TaskId(7),
            user_id: UserId(1),
            title: "Water the plants".into(),
            description: Nullable(Some("The ones on the balcony".into())),
            due_date: Nullable(Some("2026-12-01".into())),
            priority: Priority::High,
            tags: Nullable(Some("home,garden".into())),
            recursion_pattern: Nullable(Some("weekly".into())),
            completed: false,
            completed_at: Nullable(None),
            created_at: at,
            updated_at: at,
        }
    }
}

impl From<task::Task> for Task {
    fn from(task: task::Task) -> Self {
        let f = task.fields;
        Self {
            id: task.id,
            user_id: task.user_id,
            title: f.title,
            description: f.description.into(),
            due_date: f.due_date.into(),
            priority: f.priority,
            tags: f.tags.into(),
            recursion_pattern: f.recursion_pattern.into(),
            completed: f.completed,
            completed_at: f.completed_at.map(Timestamp::from_db).into(),
            created_at: Timestamp::from_db(task.created_at),
            updated_at: Timestamp::from_db(task.updated_at),
        }
    }
}

/// A new task. Only `title` is required; `priority` defaults to `Medium`, `completed` to
/// `false`.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct CreateTask {
    pub title: Field<Title, true>,
    #[oai(nullable)]
    pub description: Field<Description>,
    #[oai(nullable)]
    pub due_date: Field<DueDate>,
    pub priority: Field<Priority>,
    #[oai(nullable)]
    pub tags: Field<Tags>,
    #[oai(nullable)]
    pub recursion_pattern: Field<RecurrenceRule>,
    pub completed: Field<bool>,
}

impl Example for CreateTask {
    fn example() -> Self {
        Self {
            title: Field::text("Water the plants"),
            description: Field::text("The ones on the balcony"),
            due_date: Field::text("2026-12-01"),
            priority: Field::text("High"),
            tags: Field::text("home,garden"),
            recursion_pattern: Field::text("weekly"),
            completed: Field::from(crate::domain::field::Given::Flag(false)),
        }
    }
}

/// What a body asks for, each field as it was given, for the domain to judge (create and
/// update read their bodies alike; what a field's absence means is the domain's to say).
macro_rules! draft_of {
    ($($body:ty),*) => {$(
        impl $body {
            pub fn draft(&self) -> Draft {
                Draft {
                    title: self.title.given(),
                    description: self.description.given(),
                    due_date: self.due_date.given(),
                    priority: self.priority.given(),
                    tags: self.tags.given(),
                    recursion_pattern: self.recursion_pattern.given(),
                    completed: self.completed.given(),
                }
            }
        }
    )*};
}

draft_of!(CreateTask, UpdateTask);

/// Changes to a task: a field present replaces, `null` clears a nullable field, a field
/// left out stays as it is. A field sent back exactly as stored is accepted even where
/// today's rules would refuse it as new input (values the original backend stored).
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct UpdateTask {
    pub title: Field<Title>,
    #[oai(nullable)]
    pub description: Field<Description>,
    #[oai(nullable)]
    pub due_date: Field<DueDate>,
    pub priority: Field<Priority>,
    #[oai(nullable)]
    pub tags: Field<Tags>,
    #[oai(nullable)]
    pub recursion_pattern: Field<RecurrenceRule>,
    pub completed: Field<bool>,
}

impl Example for UpdateTask {
    fn example() -> Self {
        Self {
            title: Field::text("Water the plants twice"),
            description: Field::from(crate::domain::field::Given::Null),
            due_date: Field::from(crate::domain::field::Given::Absent),
            priority: Field::text("Low"),
            tags: Field::from(crate::domain::field::Given::Absent),
            recursion_pattern: Field::from(crate::domain::field::Given::Absent),
            completed: Field::from(crate::domain::field::Given::Absent),
        }
    }
}

/// Sets completion explicitly; without a body the operation toggles it.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct CompleteTask {
    pub completed: Field<bool, true>,
}

impl Example for CompleteTask {
    fn example() -> Self {
        Self {
            completed: Field::from(crate::domain::field::Given::Flag(true)),
        }
    }
}

#[cfg(test)]
mod serde_tests {
    #![allow(clippy::unwrap_used)]
    use poem_openapi::types::{Example, ToJSON};

    use super::*;

    #[test]
    fn serde_writes_a_task_exactly_as_its_schema_does() {
        let full = Task::example();
        let empty = Task {
            description: Nullable(None),
            due_date: Nullable(None),
            tags: Nullable(None),
            recursion_pattern: Nullable(None),
            priority: Priority::Low,
            completed: true,
            completed_at: Nullable(Some(full.created_at)),
            ..full.clone()
        };
        for task in [full, empty] {
            assert_eq!(
                serde_json::to_value(&task).unwrap(),
                task.to_json().unwrap()
            );
        }
    }
}
