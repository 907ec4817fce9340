//! A task: its fields and their rules, and what happens to it (edit, complete, reopen, the
//! next occurrence of a recurring task). Due dates and recurrence rules have modules of their
//! own.

use std::collections::HashSet;

use chrono::{NaiveDate, NaiveDateTime};
use poem_openapi::Enum;

use super::{
    due_date::DueDate,
    field::{
        Facts, FieldRule, Given, Refusal, Refusals, has_nul, is_blank, is_control, is_invisible,
        is_visible_line,
    },
    ids::{TaskId, UserId},
    recurrence::RecurrenceRule,
};

pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 5000;
pub const TAGS_MAX: usize = 20;
pub const TAG_MAX: usize = 50;
pub const TAGS_INPUT_MAX: usize = TAGS_MAX * (TAG_MAX + 1) - 1;

/// Characters no title or tag may hold: control characters and bidirectional overrides.
macro_rules! control_class {
    () => {
        "\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069"
    };
}
/// Characters that show nothing (see [`is_invisible`]).
macro_rules! invisible_class {
    () => {
        concat!(
            "\\t\\n\\u000b\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff",
            "\\u00ad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u200b-\\u200f",
            "\\u2060-\\u2064\\u3164\\ufe00-\\ufe0f\\uffa0"
        )
    };
}

/// A title holds no control character and at least one visible one. The classes are
/// spelled out, so the pattern means the same in every regex engine.
pub const TITLE_PATTERN: &str = concat!(
    "^[^",
    control_class!(),
    "]*[^",
    control_class!(),
    invisible_class!(),
    "][^",
    control_class!(),
    "]*$"
);
/// The `tags` text as sent: at most 20 comma-separated entries of at most 50 characters,
/// without control characters.
pub const TAGS_PATTERN: &str = concat!(
    "^[^,",
    control_class!(),
    "]{0,50}(,[^,",
    control_class!(),
    "]{0,50}){0,19}$"
);
/// Free text: anything but NUL, which PostgreSQL cannot store in text.
pub const TEXT_PATTERN: &str = "^[^\\u0000]*$";

/// How important a task is. Stored as PostgreSQL's `priority_enum`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, sqlx::Type, Enum)]
#[sqlx(type_name = "priority_enum")]
pub enum Priority {
    High,
    #[default]
    Medium,
    Low,
}

impl Priority {
    /// Rank for sorting: higher is more important.
    pub fn rank(self) -> i32 {
        match self {
            Self::High => 3,
            Self::Medium => 2,
            Self::Low => 1,
        }
    }
}

impl FieldRule for Priority {
    const FACTS: Facts = Facts::text("one of High, Medium or Low, like Medium", "Medium")
        .choices(&["High", "Medium", "Low"]);

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "High" => Some(Self::High),
            "Medium" => Some(Self::Medium),
            "Low" => Some(Self::Low),
            _ => None,
        }
    }
}

/// 1–200 visible characters once surrounding whitespace is trimmed; stored trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl FieldRule for Title {
    const FACTS: Facts = Facts::text(
        "1 to 200 characters with something visible in them and no control characters, \
         like \"Water the plants\"",
        "Water the plants",
    )
    .min(1)
    .max(TITLE_MAX)
    .pattern(TITLE_PATTERN);

    fn parse(raw: &str) -> Option<Self> {
        let trimmed = raw.trim_matches(is_blank);
        (is_visible_line(raw) && trimmed.chars().count() <= TITLE_MAX)
            .then(|| Self(trimmed.to_owned()))
    }
}

impl Title {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text of at most 5 000 characters, stored as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl FieldRule for Description {
    const FACTS: Facts = Facts::text(
        "text of at most 5 000 characters without the NUL character, like \"The ones on the balcony\"",
        "The ones on the balcony",
    )
    .max(DESCRIPTION_MAX)
    .pattern(TEXT_PATTERN);

    fn parse(raw: &str) -> Option<Self> {
        (!has_nul(raw) && raw.chars().count() <= DESCRIPTION_MAX).then(|| Self(raw.to_owned()))
    }
}

/// Tags, normalised: trimmed, empty entries dropped, duplicates (ignoring case) removed,
/// first spelling kept. At most 20 tags of 1–50 visible characters; none at all is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tags(Vec<String>);

impl FieldRule for Tags {
    const FACTS: Facts = Facts::text(
        "comma-separated tags like \"work,home\": at most 20 tags of at most 50 characters, \
         each with something visible in it and no control characters",
        "work,home",
    )
    .max(TAGS_INPUT_MAX)
    .pattern(TAGS_PATTERN);

    fn parse(raw: &str) -> Option<Self> {
        let entries: Vec<&str> = raw.split(',').collect();
        if entries.len() > TAGS_MAX
            || entries
                .iter()
                .any(|t| t.chars().count() > TAG_MAX || t.chars().any(is_control))
        {
            return None;
        }
        let mut seen = HashSet::new();
        let mut tags = Vec::new();
        for tag in entries.into_iter().map(|t| t.trim_matches(is_blank)) {
            if tag.is_empty() {
                continue;
            }
            if tag.chars().all(is_invisible) {
                return None;
            }
            if seen.insert(tag.to_lowercase()) {
                tags.push(tag.to_owned());
            }
        }
        Some(Self(tags))
    }
}

impl Tags {
    /// The stored form, `work,home`; `None` when there are no tags.
    pub fn joined(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.0.join(","))
    }
}

/// The stored columns a write sets. Text fields hold what is stored, which may predate
/// today's rules (the original backend stored free text): such values are kept and shown as
/// they are, and drive no behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Fields {
    pub title: String,
    pub description: Option<String>,
    pub due_date: Option<String>,
    pub priority: Priority,
    pub tags: Option<String>,
    pub recursion_pattern: Option<String>,
    pub completed: bool,
    /// When the task last became completed; `None` while it is open (and on rows completed
    /// before the server kept this).
    pub completed_at: Option<NaiveDateTime>,
    /// The first due date of the recurring series this task belongs to, which monthly and
    /// yearly rules count from; `None` when the task starts its series (its own due date).
    pub recurrence_anchor: Option<NaiveDate>,
    /// Completing this task created its next occurrence (so it happens once).
    pub next_occurrence_created: bool,
}

/// A stored task. Read from rows by `db::tasks`, which selects its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: TaskId,
    pub user_id: UserId,
    pub fields: Fields,
    /// Incremented by every write: the task's ETag.
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A write as the client sent it, field by field, before any rule is applied.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub title: Given,
    pub description: Given,
    pub due_date: Given,
    pub priority: Given,
    pub tags: Given,
    pub recursion_pattern: Given,
    pub completed: Given,
}

/// What a change does: the task's new fields, and the next occurrence to create when it
/// completes a recurring task for the first time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub fields: Fields,
    pub next_occurrence: Option<Fields>,
}

/// A text field sent with a value: its stored value sent back unchanged passes whatever
/// today's rules say; anything else follows the rule and is stored in the rule's form.
fn text<R: FieldRule>(
    raw: &str,
    stored: Option<&str>,
    store: impl FnOnce(R) -> Option<String>,
) -> Result<Option<String>, String> {
    if stored == Some(raw) {
        return Ok(Some(raw.to_owned()));
    }
    R::check(raw).map(store)
}

/// A field that can be cleared: absent keeps it, `null` clears it, text follows the rule.
fn nullable<R: FieldRule>(
    given: &Given,
    stored: Option<&str>,
    store: impl FnOnce(R) -> Option<String>,
) -> Result<Option<Option<String>>, String> {
    match given {
        Given::Absent => Ok(None),
        Given::Null => Ok(Some(None)),
        Given::Text(raw) => text(raw, stored, store).map(Some),
        Given::Flag(_) | Given::Other => Err(R::refusal()),
    }
}

/// A field that cannot be cleared: absent keeps it, anything but text is refused.
fn required<R: FieldRule>(
    given: &Given,
    stored: Option<&str>,
    store: impl FnOnce(R) -> Option<String>,
) -> Result<Option<String>, String> {
    match given {
        Given::Absent => Ok(None),
        Given::Text(raw) => text(raw, stored, store),
        Given::Null | Given::Flag(_) | Given::Other => Err(R::refusal()),
    }
}

impl Draft {
    /// The fields of a new task: `title` is required, the rest take their defaults.
    pub fn create(&self, now: NaiveDateTime) -> Result<Fields, Vec<Refusal>> {
        let mut refusals = Refusals::default();
        if self.title == Given::Absent {
            refusals.note::<()>(
                "title",
                Err(format!("is required and {}", Title::refusal())),
            );
        }
        let new = Fields::default();
        let fields = self.apply_to(&new, false, &mut refusals);
        refusals.finish(completion_time(&new, fields, now))
    }

    /// `current` with this draft applied. With `stored`, a field sent back with its
    /// current value passes unchanged.
    fn apply_to(&self, current: &Fields, stored: bool, refusals: &mut Refusals) -> Fields {
        fn keep(value: &Option<String>, stored: bool) -> Option<&str> {
            value.as_deref().filter(|_| stored)
        }
        let title = required::<Title>(&self.title, stored.then_some(current.title.as_str()), |t| {
            Some(t.0)
        });
        let title = refusals.note("title", title).flatten();
        let description =
            nullable::<Description>(&self.description, keep(&current.description, stored), |d| {
                Some(d.0)
            });
        let description = refusals.note("description", description).flatten();
        let due_date = nullable::<DueDate>(&self.due_date, keep(&current.due_date, stored), |d| {
            Some(d.as_str().to_owned())
        });
        let due_date = refusals.note("due_date", due_date).flatten();
        let priority = match &self.priority {
            Given::Absent => None,
            Given::Text(raw) => refusals.note("priority", Priority::check(raw)),
            _ => refusals.note("priority", Err(Priority::refusal())),
        };
        let tags = nullable::<Tags>(&self.tags, keep(&current.tags, stored), |t| t.joined());
        let tags = refusals.note("tags", tags).flatten();
        let recursion_pattern = nullable::<RecurrenceRule>(
            &self.recursion_pattern,
            keep(&current.recursion_pattern, stored),
            |r| Some(r.as_str().to_owned()),
        );
        let recursion_pattern = refusals
            .note("recursion_pattern", recursion_pattern)
            .flatten();
        let completed = match &self.completed {
            Given::Absent => None,
            Given::Flag(done) => Some(*done),
            _ => refusals.note("completed", Err(bool::refusal())),
        };
        Fields {
            title: title.unwrap_or_else(|| current.title.clone()),
            description: description.unwrap_or_else(|| current.description.clone()),
            due_date: due_date.unwrap_or_else(|| current.due_date.clone()),
            priority: priority.unwrap_or(current.priority),
            tags: tags.unwrap_or_else(|| current.tags.clone()),
            recursion_pattern: recursion_pattern
                .unwrap_or_else(|| current.recursion_pattern.clone()),
            completed: completed.unwrap_or(current.completed),
            completed_at: current.completed_at,
            recurrence_anchor: current.recurrence_anchor,
            next_occurrence_created: current.next_occurrence_created,
        }
    }
}

impl Task {
    /// The task edited as `draft` says. Every field is checked; a value sent back exactly as
    /// stored passes even where today's rules would refuse it as new input.
    pub fn edit(&self, draft: &Draft, now: NaiveDateTime) -> Result<Change, Vec<Refusal>> {
        let mut refusals = Refusals::default();
        let fields = draft.apply_to(&self.fields, true, &mut refusals);
        refusals.finish(self.becomes(fields, now))
    }

    /// Completes (`true`) or reopens (`false`) the task; `None` toggles it.
    pub fn complete(&self, completed: Option<bool>, now: NaiveDateTime) -> Change {
        let fields = Fields {
            completed: completed.unwrap_or(!self.fields.completed),
            ..self.fields.clone()
        };
        self.becomes(fields, now)
    }

    /// The task with `fields` written: when this completes a recurring task that has not
    /// yet created its next occurrence, that occurrence comes too.
    fn becomes(&self, fields: Fields, now: NaiveDateTime) -> Change {
        let completing = fields.completed && !self.fields.completed;
        let mut fields = completion_time(&self.fields, fields, now);
        // A new due date or rule starts a new series.
        if fields.due_date != self.fields.due_date
            || fields.recursion_pattern != self.fields.recursion_pattern
        {
            fields.recurrence_anchor = None;
        }
        let next_occurrence = (completing && !self.fields.next_occurrence_created)
            .then(|| next_occurrence(&fields, now.date()))
            .flatten();
        fields.next_occurrence_created |= next_occurrence.is_some();
        Change {
            fields,
            next_occurrence,
        }
    }
}

/// `next` with its completion time: `now` when it becomes completed, none while open.
fn completion_time(previous: &Fields, next: Fields, now: NaiveDateTime) -> Fields {
    let completed_at = match (previous.completed, next.completed) {
        (_, false) => None,
        (false, true) => Some(now),
        (true, true) => previous.completed_at,
    };
    Fields {
        completed_at,
        ..next
    }
}

/// The task that follows a completed recurring one: the same fields, open, due at the
/// rule's next date after its due date — or after `today` when it had none (or one that
/// does not parse, as rows from before validation may have). `None` when the task has no
/// rule the server understands, or when its next date would leave the years a due date may
/// fall in: the series ends.
pub fn next_occurrence(done: &Fields, today: NaiveDate) -> Option<Fields> {
    let rule = RecurrenceRule::parse(done.recursion_pattern.as_deref()?)?;
    let due = done
        .due_date
        .as_deref()
        .and_then(DueDate::parse)
        .unwrap_or_else(|| DueDate::from_date(today));
    let anchor = done.recurrence_anchor.unwrap_or(due.date());
    Some(Fields {
        due_date: Some(rule.next_due(&due, Some(anchor))?.as_str().to_owned()),
        recurrence_anchor: Some(anchor),
        completed: false,
        completed_at: None,
        next_occurrence_created: false,
        ..done.clone()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(Title::parse("  Buy milk ").unwrap().as_str(), "Buy milk");
        assert!(Title::parse("   ").is_none());
        assert!(Title::parse("").is_none());
        assert!(Title::parse(&"é".repeat(200)).is_some());
        assert!(Title::parse(&"x".repeat(201)).is_none());
        assert!(Title::parse(&format!("  {}  ", "x".repeat(200))).is_some());
        assert!(Title::parse("\u{3000}\u{feff}\u{2003}").is_none());
    }

    #[test]
    fn titles_refuse_invisible_and_control_text() {
        for bad in [
            "\u{200b}\u{200b}",
            "\u{1b}[31mred",
            "abc\u{202e}def",
            "a\0b",
            "\u{feff}",
        ] {
            assert!(Title::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_title_pattern_is_what_parsing_accepts() {
        let re = regex::Regex::new(TITLE_PATTERN).unwrap();
        for text in [
            "x",
            " x ",
            "   ",
            "\u{2003}",
            "\u{85}",
            "\u{feff}",
            "",
            "\t\n",
            "a\0b",
            "\0",
            "\u{200b}",
            "a\u{200b}",
            "\u{1b}[0m",
            "a\u{202e}",
            "\u{2066}x",
        ] {
            assert_eq!(re.is_match(text), Title::parse(text).is_some(), "{text:?}");
        }
    }

    #[test]
    fn the_tags_pattern_is_what_parsing_accepts() {
        let re = regex::Regex::new(TAGS_PATTERN).unwrap();
        let many = |n: usize| vec!["t"; n].join(",");
        for text in [
            "a,b".to_owned(),
            ",,,".to_owned(),
            many(20),
            many(21),
            "x".repeat(50),
            "x".repeat(51),
            format!(" {} ", "x".repeat(49)),
            "a\0".to_owned(),
            "a,\u{1b}b".to_owned(),
        ] {
            assert_eq!(re.is_match(&text), Tags::parse(&text).is_some(), "{text:?}");
        }
    }

    #[test]
    fn tags_are_normalised() {
        let tags = Tags::parse(" work, home,,Work , errands ,").unwrap();
        assert_eq!(tags.joined().unwrap(), "work,home,errands");
        assert_eq!(Tags::parse(" , ,").unwrap().joined(), None);
        assert_eq!(Tags::parse("").unwrap().joined(), None);
        let twenty: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
        assert!(Tags::parse(&twenty.join(",")).is_some());
        let twenty_one: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(Tags::parse(&twenty_one.join(",")).is_none());
        assert!(Tags::parse(&"x".repeat(51)).is_none());
        assert!(Tags::parse(&"x".repeat(50)).is_some());
        assert!(Tags::parse("work,\u{200b}").is_none());
    }

    #[test]
    fn priority_ranks_high_above_low() {
        assert!(Priority::High.rank() > Priority::Medium.rank());
        assert!(Priority::Medium.rank() > Priority::Low.rank());
        assert_eq!(Priority::default(), Priority::Medium);
    }

    fn stored(fields: Fields) -> Task {
        let at = NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        Task {
            id: TaskId(1),
            user_id: UserId(1),
            fields,
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    fn today() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 25)
            .unwrap()
            .and_hms_opt(9, 30, 0)
            .unwrap()
    }

    fn text(s: &str) -> Given {
        Given::Text(s.to_owned())
    }

    #[test]
    fn every_field_at_fault_is_named_at_once() {
        let draft = Draft {
            title: text(""),
            due_date: text("soon"),
            priority: text("Urgent"),
            tags: Given::Other,
            recursion_pattern: text("often"),
            completed: Given::Null,
            ..Draft::default()
        };
        let fields: Vec<&str> = draft
            .create(today())
            .unwrap_err()
            .iter()
            .map(|r| r.field)
            .collect();
        assert_eq!(
            fields,
            [
                "title",
                "due_date",
                "priority",
                "tags",
                "recursion_pattern",
                "completed"
            ]
        );
    }

    #[test]
    fn refusals_say_what_is_accepted_with_an_example() {
        let draft = Draft {
            title: text("ok"),
            due_date: text("next friday"),
            ..Draft::default()
        };
        let refusals = draft.create(today()).unwrap_err();
        assert_eq!(
            refusals[0].message,
            "must be a date like 2026-12-01 or a date-time with a time zone like 2026-12-01T09:30:00Z, in the years 1000 to 9998 (offsets up to 15:59)"
        );
    }

    #[test]
    fn stored_values_are_accepted_back_and_other_values_follow_the_rules() {
        let legacy = stored(Fields {
            title: "x".repeat(250),
            due_date: Some("next friday".into()),
            recursion_pattern: Some("every other day".into()),
            tags: Some("a,,a".into()),
            ..Fields::default()
        });
        let same = Draft {
            title: text(&legacy.fields.title),
            due_date: text("next friday"),
            recursion_pattern: text("every other day"),
            tags: text("a,,a"),
            ..Draft::default()
        };
        let change = legacy.edit(&same, today()).unwrap();
        assert_eq!(change.fields, legacy.fields);
        let other = Draft {
            due_date: text("next saturday"),
            ..Draft::default()
        };
        assert_eq!(
            legacy.edit(&other, today()).unwrap_err()[0].field,
            "due_date"
        );
    }

    #[test]
    fn a_free_text_recurrence_creates_no_next_occurrence() {
        let legacy = stored(Fields {
            title: "t".into(),
            recursion_pattern: Some("every other day".into()),
            ..Fields::default()
        });
        assert_eq!(legacy.complete(Some(true), today()).next_occurrence, None);
    }

    #[test]
    fn completing_a_recurring_task_creates_its_next_occurrence_once() {
        let task = stored(Fields {
            title: "t".into(),
            due_date: Some("2026-12-01".into()),
            recursion_pattern: Some("weekly".into()),
            ..Fields::default()
        });
        let done = task.complete(None, today());
        let next = done.next_occurrence.clone().unwrap();
        assert_eq!(next.due_date.as_deref(), Some("2026-12-08"));
        assert!(!next.completed);
        let reopened = stored(done.fields).complete(None, today());
        assert!(!reopened.fields.completed);
        let again = stored(reopened.fields).complete(None, today());
        assert_eq!(again.next_occurrence, None);
    }

    #[test]
    fn occurrences_of_a_monthly_series_keep_the_first_due_day() {
        let mut task = stored(Fields {
            title: "Rent".into(),
            due_date: Some("2027-01-31".into()),
            recursion_pattern: Some("monthly".into()),
            ..Fields::default()
        });
        let mut dues = Vec::new();
        for _ in 0..3 {
            let next = task.complete(Some(true), today()).next_occurrence.unwrap();
            dues.push(next.due_date.clone().unwrap());
            task = stored(next);
        }
        assert_eq!(dues, ["2027-02-28", "2027-03-31", "2027-04-30"]);
    }

    #[test]
    fn a_new_due_date_starts_a_new_series() {
        let task = stored(Fields {
            title: "Rent".into(),
            due_date: Some("2027-02-28".into()),
            recursion_pattern: Some("monthly".into()),
            recurrence_anchor: NaiveDate::from_ymd_opt(2027, 1, 31),
            ..Fields::default()
        });
        let draft = Draft {
            due_date: text("2027-02-15"),
            ..Draft::default()
        };
        let edited = task.edit(&draft, today()).unwrap().fields;
        assert_eq!(edited.recurrence_anchor, None);
        let kept = task.edit(&Draft::default(), today()).unwrap().fields;
        assert_eq!(kept.recurrence_anchor, task.fields.recurrence_anchor);
    }

    #[test]
    fn completed_at_is_set_on_completion_and_cleared_on_reopening() {
        let task = stored(Fields {
            title: "t".into(),
            ..Fields::default()
        });
        let done = task.complete(Some(true), today()).fields;
        assert_eq!(done.completed_at, Some(today()));
        let later = today() + chrono::Duration::hours(1);
        let still = stored(done.clone()).complete(Some(true), later).fields;
        assert_eq!(still.completed_at, Some(today()));
        let reopened = stored(done).complete(Some(false), later).fields;
        assert_eq!(reopened.completed_at, None);
        let created = Draft {
            title: text("t"),
            completed: Given::Flag(true),
            ..Draft::default()
        };
        assert_eq!(created.create(today()).unwrap().completed_at, Some(today()));
    }
}
