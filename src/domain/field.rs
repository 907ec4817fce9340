//! Field rules: how a value a person typed becomes a stored value, what to tell that person
//! when it does not, and the facts an API schema shows about it. Each rule is written once,
//! here in `domain`; the wire types and the OpenAPI document are derived from it.

/// What a schema can say about a text field, taken from its rule.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// The JSON type: `string`, `boolean` or `integer`.
    pub json_type: &'static str,
    /// Bounds of an integer.
    pub range: Option<(i64, i64)>,
    pub min_chars: Option<usize>,
    pub max_chars: Option<usize>,
    /// A regular expression for generated clients and fuzzers; never shown to a person.
    pub pattern: Option<&'static str>,
    /// The allowed values, when the field is a choice.
    pub choices: &'static [&'static str],
    pub example: &'static str,
    /// What is accepted, in words and with an example: the refusal is "must be {accepts}".
    pub accepts: &'static str,
}

impl Facts {
    pub const fn text(accepts: &'static str, example: &'static str) -> Self {
        Self {
            json_type: "string",
            range: None,
            min_chars: None,
            max_chars: None,
            pattern: None,
            choices: &[],
            example,
            accepts,
        }
    }

    pub const fn max(self, max: usize) -> Self {
        Self {
            max_chars: Some(max),
            ..self
        }
    }

    pub const fn min(self, min: usize) -> Self {
        Self {
            min_chars: Some(min),
            ..self
        }
    }

    pub const fn pattern(self, pattern: &'static str) -> Self {
        Self {
            pattern: Some(pattern),
            ..self
        }
    }

    pub const fn boolean(self) -> Self {
        Self {
            json_type: "boolean",
            ..self
        }
    }

    pub const fn integer(self, min: i64, max: i64) -> Self {
        Self {
            json_type: "integer",
            range: Some((min, max)),
            ..self
        }
    }

    pub const fn choices(self, choices: &'static [&'static str]) -> Self {
        Self { choices, ..self }
    }
}

/// A text field's rule. Holding a value of the implementing type means the text passed.
pub trait FieldRule: Sized {
    const FACTS: Facts;

    /// The value, or `None` when the text breaks the rule.
    fn parse(raw: &str) -> Option<Self>;

    /// What a person is told when the text breaks the rule.
    fn refusal() -> String {
        format!("must be {}", Self::FACTS.accepts)
    }

    /// The value or the refusal.
    fn check(raw: &str) -> Result<Self, String> {
        Self::parse(raw).ok_or_else(Self::refusal)
    }
}

impl FieldRule for bool {
    const FACTS: Facts = Facts::text("true or false", "true").boolean();

    fn parse(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }
}

/// A field of a request as the client sent it, before any rule is applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Given {
    #[default]
    Absent,
    Null,
    Text(String),
    Flag(bool),
    /// A number, array or object: never what a task field takes.
    Other,
}

/// A field that broke its rule, and what its sender is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub field: &'static str,
    pub message: String,
}

/// Gathers every refusal of one request, so a single answer names every field at fault.
#[derive(Debug, Default)]
pub struct Refusals(Vec<Refusal>);

impl Refusals {
    pub fn note<T>(&mut self, field: &'static str, result: Result<T, String>) -> Option<T> {
        result
            .map_err(|message| self.0.push(Refusal { field, message }))
            .ok()
    }

    pub fn finish<T>(self, value: T) -> Result<T, Vec<Refusal>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}

/// PostgreSQL cannot store NUL in text: refusing it keeps it from becoming a server error.
pub fn has_nul(raw: &str) -> bool {
    raw.contains('\0')
}

/// Control characters (C0, DEL, C1: ANSI escapes among them) and the bidirectional
/// overrides and isolates that make text display as something other than what it is.
pub fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing: whitespace, and the zero-width and other format
/// characters a text can be made of without a single visible mark.
pub fn is_invisible(c: char) -> bool {
    is_blank(c)
        || matches!(
            c,
            '\u{ad}'
                | '\u{34f}'
                | '\u{61c}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{17b4}'
                | '\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2060}'..='\u{2064}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{ffa0}'
        )
}

/// Whitespace as ECMAScript's `\s` knows it (so a schema pattern means the same in every
/// engine): what titles and tags are trimmed of.
pub fn is_blank(c: char) -> bool {
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

/// A line of text a person reads: no control characters, at least one visible character.
pub fn is_visible_line(text: &str) -> bool {
    !text.chars().any(is_control) && text.chars().any(|c| !is_invisible(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_control_text_is_not_a_visible_line() {
        for bad in [
            "",
            "   ",
            "\u{200b}\u{200b}",
            "\u{feff}\u{2060}",
            "\u{1b}[31mred\u{1b}[0m",
            "a\u{202e}b",
            "a\u{2066}b",
            "a\nb",
            "a\u{85}b",
        ] {
            assert!(!is_visible_line(bad), "{bad:?}");
        }
        for good in ["x", " Buy milk ", "日本", "🙂", "a\u{200d}b"] {
            assert!(is_visible_line(good), "{good:?}");
        }
    }
}
