//! Task wire types, and their parsing into stored state: every rule broken is reported at
//! once, naming its field.

use poem_openapi::{
    Object,
    types::{Example, MaybeUndefined},
};

use crate::{
    api::{
        body::{BodyRules, FieldCheck, raw_field_errors},
        nullable::Nullable,
        text::{DescriptionText, DueDateText, RecurrenceText, TagsText, TitleText},
        timestamp::Timestamp,
    },
    db::tasks::{TaskRow, TaskState},
    domain::{
        due_date::DueDate,
        ids::{TaskId, UserId},
        recurrence::RecurrenceRule,
        task::{Description, Priority, Tags, TaskTitle},
    },
    error::{ApiError, FieldError},
};

/// A task.
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
    /// A date (`2026-12-01`) or an RFC 3339 date-time, as it was given.
    #[oai(nullable)]
    pub due_date: Nullable<String>,
    pub priority: Priority,
    /// Comma-separated tags, normalised: `work,home`.
    #[oai(nullable)]
    pub tags: Nullable<String>,
    /// How the task repeats: `daily`, `weekly`, `monthly`, `yearly`, `weekdays`,
    /// `every N days|weeks|months`, or an RRULE such as `FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE`.
    #[oai(nullable)]
    pub recursion_pattern: Nullable<String>,
    pub completed: bool,
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
            created_at: at,
            updated_at: at,
        }
    }
}

impl From<TaskRow> for Task {
    fn from(row: TaskRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            title: row.title,
            description: row.description.into(),
            due_date: row.due_date.into(),
            priority: row.priority,
            tags: row.tags.into(),
            recursion_pattern: row.recursion_pattern.into(),
            completed: row.completed,
            created_at: Timestamp::from_db(row.created_at),
            updated_at: Timestamp::from_db(row.updated_at),
        }
    }
}

/// A new task. Only `title` is required.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct CreateTask {
    /// 1–200 characters once trimmed.
    pub title: TitleText,
    /// At most 5 000 characters.
    #[oai(nullable)]
    pub description: Option<DescriptionText>,
    /// A date (`2026-12-01`) or an RFC 3339 date-time (`2026-12-01T09:30:00Z`).
    #[oai(nullable)]
    pub due_date: Option<DueDateText>,
    /// Default `Medium`.
    pub priority: Option<Priority>,
    /// Comma-separated; trimmed, empty entries dropped, duplicates removed. At most 20
    /// entries of at most 50 characters.
    #[oai(nullable)]
    pub tags: Option<TagsText>,
    /// A recurrence rule (see `Task.recursion_pattern`).
    #[oai(nullable)]
    pub recursion_pattern: Option<RecurrenceText>,
    /// Default `false`.
    pub completed: Option<bool>,
}

impl Example for CreateTask {
    fn example() -> Self {
        Self {
            title: TitleText("Water the plants".into()),
            description: Some(DescriptionText("The ones on the balcony".into())),
            due_date: Some(DueDateText("2026-12-01".into())),
            priority: Some(Priority::High),
            tags: Some(TagsText("home,garden".into())),
            recursion_pattern: Some(RecurrenceText("weekly".into())),
            completed: Some(false),
        }
    }
}

/// Changes to a task: a field present replaces, `null` clears a nullable field, a field
/// left out stays as it is.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct UpdateTask {
    /// 1–200 characters once trimmed; cannot be null.
    pub title: MaybeUndefined<TitleText>,
    #[oai(nullable)]
    pub description: MaybeUndefined<DescriptionText>,
    #[oai(nullable)]
    pub due_date: MaybeUndefined<DueDateText>,
    /// Cannot be null.
    pub priority: MaybeUndefined<Priority>,
    #[oai(nullable)]
    pub tags: MaybeUndefined<TagsText>,
    #[oai(nullable)]
    pub recursion_pattern: MaybeUndefined<RecurrenceText>,
    /// Cannot be null.
    pub completed: MaybeUndefined<bool>,
}

impl Example for UpdateTask {
    fn example() -> Self {
        Self {
            title: MaybeUndefined::Value(TitleText("Water the plants twice".into())),
            description: MaybeUndefined::Null,
            due_date: MaybeUndefined::Undefined,
            priority: MaybeUndefined::Value(Priority::Low),
            tags: MaybeUndefined::Undefined,
            recursion_pattern: MaybeUndefined::Undefined,
            completed: MaybeUndefined::Undefined,
        }
    }
}

/// Sets completion explicitly; without a body the operation toggles it.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct CompleteTask {
    pub completed: bool,
}

impl Example for CompleteTask {
    fn example() -> Self {
        Self { completed: true }
    }
}

/// The field rules beyond the schema, on raw JSON: used when the schema check failed too.
fn raw_task_errors(value: &serde_json::Value) -> Vec<FieldError> {
    let checks: [FieldCheck; 4] = [
        ("title", |v| TaskTitle::parse(v).err()),
        ("due_date", |v| parse_due(v).err()),
        ("tags", |v| parse_tags(v).err()),
        ("recursion_pattern", |v| parse_recurrence(v).err()),
    ];
    raw_field_errors(value, &checks)
}

impl BodyRules for CreateTask {
    fn rule_errors(value: &serde_json::Value) -> Vec<FieldError> {
        raw_task_errors(value)
    }
}

impl BodyRules for UpdateTask {
    fn rule_errors(value: &serde_json::Value) -> Vec<FieldError> {
        raw_task_errors(value)
    }
}

impl BodyRules for CompleteTask {}

impl BodyRules for Task {}

/// Collects every field error before answering.
#[derive(Default)]
struct Rules(Vec<FieldError>);

impl Rules {
    fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result
            .map_err(|m| self.0.push(FieldError::new(field, m)))
            .ok()
    }

    fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

fn parse_due(raw: &str) -> Result<String, String> {
    DueDate::parse(raw)
        .map(|d| d.as_str().to_owned())
        .map_err(|e| e.to_string())
}

fn parse_recurrence(raw: &str) -> Result<String, String> {
    RecurrenceRule::parse(raw)
        .map(|_| raw.trim().to_owned())
        .map_err(|e| e.to_string())
}

fn parse_tags(raw: &str) -> Result<Option<String>, String> {
    Tags::parse(raw).map(|t| t.map(|t| t.joined()))
}

impl CreateTask {
    pub fn parse(&self) -> Result<TaskState, ApiError> {
        let mut rules = Rules::default();
        let title = rules.check("title", TaskTitle::parse(self.title.as_str()));
        let description = self
            .description
            .as_ref()
            .map(DescriptionText::as_str)
            .map(|d| rules.check("description", Description::parse(d)))
            .unwrap_or_default();
        let due_date = self
            .due_date
            .as_ref()
            .map(DueDateText::as_str)
            .and_then(|d| rules.check("due_date", parse_due(d)));
        let tags = self
            .tags
            .as_ref()
            .map(TagsText::as_str)
            .and_then(|t| rules.check("tags", parse_tags(t)).flatten());
        let recursion_pattern = self
            .recursion_pattern
            .as_ref()
            .map(RecurrenceText::as_str)
            .and_then(|r| rules.check("recursion_pattern", parse_recurrence(r)));
        rules.finish()?;
        Ok(TaskState {
            title: title.map(|t| t.as_str().to_owned()).unwrap_or_default(),
            description: description.map(|d| d.as_str().to_owned()),
            due_date,
            priority: self.priority.unwrap_or_default(),
            tags,
            recursion_pattern,
            completed: self.completed.unwrap_or(false),
        })
    }
}

/// A validated update: each field kept as it is, or set (`Some(None)` clears it).
#[derive(Debug, Clone, Default)]
pub struct TaskChanges {
    title: Option<String>,
    description: Option<Option<String>>,
    due_date: Option<Option<String>>,
    priority: Option<Priority>,
    tags: Option<Option<String>>,
    recursion_pattern: Option<Option<String>>,
    completed: Option<bool>,
}

/// A nullable field: absent keeps, `null` clears, a value is parsed.
fn nullable<T>(
    rules: &mut Rules,
    field: &str,
    value: &MaybeUndefined<T>,
    parse: impl Fn(&T) -> Result<Option<String>, String>,
) -> Option<Option<String>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => rules.check(field, parse(v)),
    }
}

/// A field that may be left out but not cleared.
fn required<T: Clone>(rules: &mut Rules, field: &str, value: &MaybeUndefined<T>) -> Option<T> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => rules.check(field, Err("cannot be null".into())),
        MaybeUndefined::Value(v) => Some(v.clone()),
    }
}

impl UpdateTask {
    /// Checks every field, whatever the task's current state: a bad update is a 422 before
    /// any precondition is looked at.
    pub fn parse(&self) -> Result<TaskChanges, ApiError> {
        let mut rules = Rules::default();
        let title = required(&mut rules, "title", &self.title)
            .and_then(|t| rules.check("title", TaskTitle::parse(t.as_str())))
            .map(|t| t.as_str().to_owned());
        let changes = TaskChanges {
            title,
            description: nullable(&mut rules, "description", &self.description, |d| {
                Description::parse(d.as_str()).map(|d| Some(d.as_str().to_owned()))
            }),
            due_date: nullable(&mut rules, "due_date", &self.due_date, |d| {
                parse_due(d.as_str()).map(Some)
            }),
            priority: required(&mut rules, "priority", &self.priority),
            tags: nullable(&mut rules, "tags", &self.tags, |t| parse_tags(t.as_str())),
            recursion_pattern: nullable(
                &mut rules,
                "recursion_pattern",
                &self.recursion_pattern,
                |r| parse_recurrence(r.as_str()).map(Some),
            ),
            completed: required(&mut rules, "completed", &self.completed),
        };
        rules.finish()?;
        Ok(changes)
    }
}

impl TaskChanges {
    /// The task's new state: `current` with these changes applied.
    pub fn apply(&self, current: TaskState) -> TaskState {
        let c = self.clone();
        TaskState {
            title: c.title.unwrap_or(current.title),
            description: c.description.unwrap_or(current.description),
            due_date: c.due_date.unwrap_or(current.due_date),
            priority: c.priority.unwrap_or(current.priority),
            tags: c.tags.unwrap_or(current.tags),
            recursion_pattern: c.recursion_pattern.unwrap_or(current.recursion_pattern),
            completed: c.completed.unwrap_or(current.completed),
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
