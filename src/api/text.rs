//! Constrained strings on the wire. Each type's OpenAPI schema (pattern, lengths) comes from
//! the domain's own constants, so the document, Swagger UI, generated clients, fuzzers and
//! the server's parsing all mean the same thing by "valid".

use std::{borrow::Cow, sync::LazyLock};

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type},
};
use regex::Regex;
use serde_json::Value;

use crate::domain::{due_date, recurrence, task, user};

macro_rules! constrained_text {
    ($(#[$doc:meta])* $name:ident, pattern = $pattern:expr, min = $min:expr, max = $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            fn check(text: String) -> ParseResult<Self> {
                static RE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new($pattern).ok());
                let len = text.chars().count();
                if !($min..=$max).contains(&len) {
                    return Err(ParseError::custom(format!("must be {} to {} characters", $min, $max)));
                }
                if !RE.as_ref().is_some_and(|re| re.is_match(&text)) {
                    return Err(ParseError::custom(format!("must match the pattern {}", $pattern)));
                }
                Ok(Self(text))
            }
        }

        impl Type for $name {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                "string".into()
            }

            fn schema_ref() -> MetaSchemaRef {
                let mut schema = MetaSchema::new("string");
                schema.pattern = Some($pattern.to_owned());
                schema.max_length = Some($max);
                schema.min_length = ($min > 0).then_some($min);
                MetaSchemaRef::Inline(Box::new(schema))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }

        impl ParseFromJSON for $name {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                match value {
                    Some(Value::String(s)) => Self::check(s),
                    other => Err(ParseError::expected_type(other.unwrap_or_default())),
                }
            }
        }

        impl ParseFromParameter for $name {
            fn parse_from_parameter(value: &str) -> ParseResult<Self> {
                Self::check(value.to_owned())
            }
        }

        impl ToJSON for $name {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.0.clone()))
            }
        }
    };
}

constrained_text!(
    /// A task title: 1–200 characters, not only whitespace.
    TitleText, pattern = task::TITLE_PATTERN, min = 1, max = task::TITLE_MAX
);
constrained_text!(
    /// Free text without NUL.
    DescriptionText, pattern = task::TEXT_PATTERN, min = 0, max = task::DESCRIPTION_MAX
);
constrained_text!(
    /// A date or RFC 3339 date-time.
    DueDateText, pattern = due_date::PATTERN, min = 10, max = due_date::MAX_LEN
);
constrained_text!(
    /// Comma-separated tags.
    TagsText, pattern = task::TAGS_PATTERN, min = 0, max = task::TAGS_INPUT_MAX
);
constrained_text!(
    /// A recurrence rule.
    RecurrenceText, pattern = recurrence::PATTERN, min = 1, max = recurrence::MAX_LEN
);
constrained_text!(
    /// One tag to filter by.
    TagFilter, pattern = task::TEXT_PATTERN, min = 0, max = task::TAG_MAX
);
constrained_text!(
    /// Text to search for.
    SearchText, pattern = task::TEXT_PATTERN, min = 0, max = 200
);
constrained_text!(
    /// An email address for a new account.
    EmailText, pattern = user::EMAIL_PATTERN, min = 3, max = user::EMAIL_MAX
);
constrained_text!(
    /// An email address to log in with (anything else is just a wrong email).
    LoginEmailText, pattern = task::TEXT_PATTERN, min = 1, max = user::EMAIL_MAX
);

/// An opaque list cursor: base64url.
pub const CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]+$";

constrained_text!(
    /// A cursor from a `Link: rel="next"` header.
    CursorText, pattern = CURSOR_PATTERN, min = 1, max = 500
);

constrained_text!(
    /// `*`, or a comma-separated list of ETags as sent in `ETag` headers (`"12-3"`,
    /// `W/"…"`).
    EtagListText, pattern = super::conditional::ETAG_LIST_PATTERN, min = 1, max = 1000
);

/// A `Prefer` header (RFC 7240): visible ASCII, spaces and tabs.
pub const PREFER_PATTERN: &str = "^[\\t -~]*$";

constrained_text!(
    /// Preferences, comma-separated (`count=exact`); unknown ones are ignored.
    PreferText, pattern = PREFER_PATTERN, min = 0, max = 1000
);
