//! Task fields that parse: title, description, priority, tags. Due dates and recurrence rules
//! have modules of their own.

use std::collections::HashSet;

use poem_openapi::Enum;

pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 5000;
pub const TAGS_MAX: usize = 20;
pub const TAG_MAX: usize = 50;
/// Longest `tags` string accepted before normalising: 20 tags of 50 characters, their commas,
/// and room for spaces around them.
pub const TAGS_INPUT_MAX: usize = 2000;

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

/// 1–200 characters once surrounding whitespace is trimmed; stored trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("must not be empty or only whitespace".into());
        }
        if trimmed.chars().count() > TITLE_MAX {
            return Err(format!("must be at most {TITLE_MAX} characters"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text of at most 5 000 characters, stored as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > DESCRIPTION_MAX {
            return Err(format!("must be at most {DESCRIPTION_MAX} characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Tags, normalised: trimmed, empty entries dropped, duplicates (ignoring case) removed,
/// first spelling kept. At most 20 tags of 1–50 characters; none at all is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tags(Vec<String>);

impl Tags {
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let mut seen = HashSet::new();
        let mut tags = Vec::new();
        for tag in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if tag.chars().count() > TAG_MAX {
                return Err(format!("has a tag longer than {TAG_MAX} characters"));
            }
            if seen.insert(tag.to_lowercase()) {
                tags.push(tag.to_owned());
            }
        }
        if tags.len() > TAGS_MAX {
            return Err(format!("must have at most {TAGS_MAX} tags"));
        }
        Ok((!tags.is_empty()).then_some(Self(tags)))
    }

    /// The stored form: `work,home`.
    pub fn joined(&self) -> String {
        self.0.join(",")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(
            TaskTitle::parse("  Buy milk ").unwrap().as_str(),
            "Buy milk"
        );
        assert!(TaskTitle::parse("   ").is_err());
        assert!(TaskTitle::parse("").is_err());
        assert!(TaskTitle::parse(&"é".repeat(200)).is_ok());
        assert!(TaskTitle::parse(&"x".repeat(201)).is_err());
        assert!(TaskTitle::parse(&format!("  {}  ", "x".repeat(200))).is_ok());
    }

    #[test]
    fn tags_are_normalised() {
        let tags = Tags::parse(" work, home,,Work , errands ,")
            .unwrap()
            .unwrap();
        assert_eq!(tags.joined(), "work,home,errands");
        assert_eq!(Tags::parse(" , ,").unwrap(), None);
        assert_eq!(Tags::parse("").unwrap(), None);
        let twenty: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
        assert!(Tags::parse(&twenty.join(",")).is_ok());
        let twenty_one: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(Tags::parse(&twenty_one.join(",")).is_err());
        assert!(Tags::parse(&"x".repeat(51)).is_err());
        assert!(Tags::parse(&"x".repeat(50)).is_ok());
    }

    #[test]
    fn priority_ranks_high_above_low() {
        assert!(Priority::High.rank() > Priority::Medium.rank());
        assert!(Priority::Medium.rank() > Priority::Low.rank());
        assert_eq!(Priority::default(), Priority::Medium);
    }
}
