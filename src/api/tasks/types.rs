//! Task wire types, and their parsing into stored state: every rule broken is reported at
//! once, naming its field.

use poem_openapi::{
    Object,
    types::{Example, MaybeUndefined},
};

use crate::{
    api::{
        body::{BodyRules, FieldCheck, raw_field_errors},
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
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct Task {
    pub id: TaskId,
    /// The owner.
    pub user_id: UserId,
    /// 1–200 characters, trimmed.
    pub title: String,
    /// At most 5 000 characters.
    #[oai(nullable)]
    pub description: Option<String>,
    /// A date (`2026-12-01`) or an RFC 3339 date-time, as it was given.
    #[oai(nullable)]
    pub due_date: Option<String>,
    pub priority: Priority,
    /// Comma-separated tags, normalised: `work,home`.
    #[oai(nullable)]
    pub tags: Option<String>,
    /// How the task repeats: `daily`, `weekly`, `monthly`, `yearly`, `weekdays`,
    /// `every N days|weeks|months`, or an RRULE such as `FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE`.
    #[oai(nullable)]
    pub recursion_pattern: Option<String>,
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
            description: Some("The ones on the balcony".into()),
            due_date: Some("2026-12-01".into()),
            priority: Priority::High,
            tags: Some("home,garden".into()),
            recursion_pattern: Some("weekly".into()),
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
            description: row.description,
            due_date: row.due_date,
            priority: row.priority,
            tags: row.tags,
            recursion_pattern: row.recursion_pattern,
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
    #[oai(validator(min_length = 1, max_length = 200))]
    pub title: String,
    /// At most 5 000 characters.
    #[oai(nullable, validator(max_length = 5000))]
    pub description: Option<String>,
    /// A date (`2026-12-01`) or an RFC 3339 date-time; at most 50 characters.
    #[oai(nullable, validator(max_length = 50))]
    pub due_date: Option<String>,
    /// Default `Medium`.
    pub priority: Option<Priority>,
    /// Comma-separated; trimmed, empty entries dropped, duplicates removed. At most 20 tags
    /// of 1–50 characters.
    #[oai(nullable, validator(max_length = 2000))]
    pub tags: Option<String>,
    /// A recurrence rule (see `Task.recursion_pattern`); at most 100 characters.
    #[oai(nullable, validator(max_length = 100))]
    pub recursion_pattern: Option<String>,
    /// Default `false`.
    pub completed: Option<bool>,
}

impl Example for CreateTask {
    fn example() -> Self {
        Self {
            title: "Water the plants".into(),
            description: Some("The ones on the balcony".into()),
            due_date: Some("2026-12-01".into()),
            priority: Some(Priority::High),
            tags: Some("home,garden".into()),
            recursion_pattern: Some("weekly".into()),
            completed: None,
        }
    }
}

/// Changes to a task: a field present replaces, `null` clears a nullable field, a field
/// left out stays as it is.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct UpdateTask {
    /// 1–200 characters once trimmed; cannot be null.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub title: MaybeUndefined<String>,
    #[oai(validator(max_length = 5000))]
    #[oai(nullable)]
    pub description: MaybeUndefined<String>,
    #[oai(validator(max_length = 50))]
    #[oai(nullable)]
    pub due_date: MaybeUndefined<String>,
    /// Cannot be null.
    pub priority: MaybeUndefined<Priority>,
    #[oai(validator(max_length = 2000))]
    #[oai(nullable)]
    pub tags: MaybeUndefined<String>,
    #[oai(validator(max_length = 100))]
    #[oai(nullable)]
    pub recursion_pattern: MaybeUndefined<String>,
    /// Cannot be null.
    pub completed: MaybeUndefined<bool>,
}

impl Example for UpdateTask {
    fn example() -> Self {
        Self {
            title: MaybeUndefined::Value("Water the plants twice".into()),
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
    raw_field_errors(value, &checks, &["due_date", "recursion_pattern"])
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

/// Blank optional text means "none", as web forms send it.
fn blank_is_none(raw: Option<&str>) -> Option<&str> {
    raw.filter(|s| !s.trim().is_empty())
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
        let title = rules.check("title", TaskTitle::parse(&self.title));
        let description = self
            .description
            .as_deref()
            .map(|d| rules.check("description", Description::parse(d)))
            .unwrap_or_default();
        let due_date = blank_is_none(self.due_date.as_deref())
            .and_then(|d| rules.check("due_date", parse_due(d)));
        let tags = self
            .tags
            .as_deref()
            .and_then(|t| rules.check("tags", parse_tags(t)).flatten());
        let recursion_pattern = blank_is_none(self.recursion_pattern.as_deref())
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

impl UpdateTask {
    /// The task's new state: `current` with this update's fields applied.
    pub fn apply(&self, current: TaskState) -> Result<TaskState, ApiError> {
        let mut rules = Rules::default();
        let mut next = current;
        match &self.title {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                rules.check::<()>("title", Err("cannot be null".into()));
            }
            MaybeUndefined::Value(t) => {
                if let Some(t) = rules.check("title", TaskTitle::parse(t)) {
                    next.title = t.as_str().to_owned();
                }
            }
        }
        match &self.description {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => next.description = None,
            MaybeUndefined::Value(d) => {
                if let Some(d) = rules.check("description", Description::parse(d)) {
                    next.description = Some(d.as_str().to_owned());
                }
            }
        }
        match &self.due_date {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => next.due_date = None,
            MaybeUndefined::Value(d) => match blank_is_none(Some(d)) {
                None => next.due_date = None,
                Some(d) => {
                    if let Some(d) = rules.check("due_date", parse_due(d)) {
                        next.due_date = Some(d);
                    }
                }
            },
        }
        match &self.priority {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                rules.check::<()>("priority", Err("cannot be null".into()));
            }
            MaybeUndefined::Value(p) => next.priority = *p,
        }
        match &self.tags {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => next.tags = None,
            MaybeUndefined::Value(t) => {
                if let Some(t) = rules.check("tags", parse_tags(t)) {
                    next.tags = t;
                }
            }
        }
        match &self.recursion_pattern {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => next.recursion_pattern = None,
            MaybeUndefined::Value(r) => match blank_is_none(Some(r)) {
                None => next.recursion_pattern = None,
                Some(r) => {
                    if let Some(r) = rules.check("recursion_pattern", parse_recurrence(r)) {
                        next.recursion_pattern = Some(r);
                    }
                }
            },
        }
        match &self.completed {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                rules.check::<()>("completed", Err("cannot be null".into()));
            }
            MaybeUndefined::Value(c) => next.completed = *c,
        }
        rules.finish()?;
        Ok(next)
    }
}
