//! Task fields that parse: title, description, priority, tags. Due dates and recurrence rules
//! have modules of their own.

use std::collections::HashSet;

use poem_openapi::Enum;

pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 5000;
pub const TAGS_MAX: usize = 20;
pub const TAG_MAX: usize = 50;
/// The `tags` text as sent: at most 20 comma-separated entries of at most 50 characters each
/// (before trimming). The schema carries the same pattern.
pub const TAGS_PATTERN: &str = "^[^,\\u0000]{0,50}(,[^,\\u0000]{0,50}){0,19}$";
/// Free text: anything but NUL, which PostgreSQL cannot store in text.
pub const TEXT_PATTERN: &str = "^[^\\u0000]*$";
pub const TAGS_INPUT_MAX: usize = TAGS_MAX * (TAG_MAX + 1) - 1;
/// A title must contain something other than whitespace. The class lists ECMAScript's
/// whitespace explicitly, so the schema's regex means the same in every engine.
pub const TITLE_PATTERN: &str = concat!(
    "^[^\\u0000]*",
    "[^\\u0000\\t\\n\\u000b\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]",
    "[^\\u0000]*$"
);

/// PostgreSQL cannot store NUL in text; refusing it here keeps it from becoming a 500.
pub fn reject_nul(raw: &str) -> Result<(), String> {
    if raw.contains('\0') {
        Err("must not contain the NUL character (\\u0000)".into())
    } else {
        Ok(())
    }
}

/// The whitespace [`TITLE_PATTERN`] excludes: what a title is trimmed of.
fn is_blank(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

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
        reject_nul(raw)?;
        let trimmed = raw.trim_matches(is_blank);
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
        reject_nul(raw)?;
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
        reject_nul(raw)?;
        let entries: Vec<&str> = raw.split(',').collect();
        if entries.len() > TAGS_MAX {
            return Err(format!("must have at most {TAGS_MAX} tags"));
        }
        if entries.iter().any(|t| t.chars().count() > TAG_MAX) {
            return Err(format!("has a tag longer than {TAG_MAX} characters"));
        }
        let mut seen = HashSet::new();
        let mut tags = Vec::new();
        for tag in entries.into_iter().map(str::trim).filter(|t| !t.is_empty()) {
            if seen.insert(tag.to_lowercase()) {
                tags.push(tag.to_owned());
            }
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
        assert!(TaskTitle::parse("\u{3000}\u{feff}\t").is_err());
    }

    #[test]
    fn the_title_pattern_is_what_parsing_accepts() {
        let re = regex::Regex::new(TITLE_PATTERN).unwrap();
        for text in [
            "x", " x ", "   ", "\u{2003}", "\u{85}", "\u{feff}", "", "\t\n", "a\0b", "\0",
        ] {
            assert_eq!(
                re.is_match(text),
                TaskTitle::parse(text).is_ok(),
                "{text:?}"
            );
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
        ] {
            assert_eq!(re.is_match(&text), Tags::parse(&text).is_ok(), "{text:?}");
        }
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
