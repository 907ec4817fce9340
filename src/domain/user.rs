//! Account fields that parse: once you hold a `Username`, `Email` or `Password`, it is valid.

use std::fmt;

use validator::ValidateEmail;

use crate::config::Secret;

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 30;
pub const USERNAME_PATTERN: &str = "^[A-Za-z0-9_]+$";
pub const EMAIL_MAX: usize = 255;
/// Every address this matches, `validator` accepts too; the schema shows it so that clients
/// and fuzzers know exactly what is accepted.
pub const EMAIL_PATTERN: &str = r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;

/// 3–30 ASCII letters, digits or underscores. Unique regardless of case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
            return Err(format!(
                "must be {USERNAME_MIN} to {USERNAME_MAX} characters long"
            ));
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err("may contain only letters A–Z, digits and underscores".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A valid email address of at most 255 characters, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

static EMAIL_RE: std::sync::LazyLock<Option<regex::Regex>> =
    std::sync::LazyLock::new(|| regex::Regex::new(EMAIL_PATTERN).ok());

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > EMAIL_MAX {
            return Err(format!("must be at most {EMAIL_MAX} characters"));
        }
        let shaped = EMAIL_RE.as_ref().is_some_and(|re| re.is_match(raw));
        if !shaped || !raw.validate_email() {
            return Err("must be a valid email address such as name@example.com".into());
        }
        Ok(Self(raw.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password: 8–128 characters. Never printed.
#[derive(Debug, Clone)]
pub struct Password(Secret<String>);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&len) {
            return Err(format!(
                "must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long"
            ));
        }
        Ok(Self(Secret::new(raw.to_owned())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["abc", "Alice_1", &"x".repeat(30)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            &"x".repeat(31),
            "al ice",
            "ålice",
            "alice!",
            "",
            "a-b-c",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            Email::parse("Alice@Example.COM").unwrap().as_str(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "a b@example.com",
            " a@example.com",
            "a@-x.com",
            "a@x",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn passwords_count_characters_and_never_print() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"é".repeat(128)).is_ok());
        assert!(Password::parse(&"é".repeat(129)).is_err());
        let p = Password::parse("correct horse").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}
