//! Account fields that parse: once you hold a `Username`, `Email` or `Password`, it is valid.

use std::fmt;

use validator::ValidateEmail;

use super::{
    field::{Facts, FieldRule},
    task::TEXT_PATTERN,
};
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

impl FieldRule for Username {
    const FACTS: Facts = Facts::text(
        "3 to 30 letters A–Z, digits or underscores, like alice_1 (unique regardless of case)",
        "alice",
    )
    .min(USERNAME_MIN)
    .max(USERNAME_MAX)
    .pattern(USERNAME_PATTERN);

    fn parse(raw: &str) -> Option<Self> {
        Username::parse(raw).ok()
    }
}

impl FieldRule for Email {
    const FACTS: Facts = Facts::text(
        "an email address of at most 255 characters, like name@example.com (unique regardless \
         of case, stored lower-case)",
        "alice@example.com",
    )
    .min(3)
    .max(EMAIL_MAX)
    .pattern(EMAIL_PATTERN);

    fn parse(raw: &str) -> Option<Self> {
        Email::parse(raw).ok()
    }
}

impl FieldRule for Password {
    const FACTS: Facts = Facts::text(
        "8 to 128 characters, like \"correct horse battery staple\"",
        "correct horse battery staple",
    )
    .min(PASSWORD_MIN)
    .max(PASSWORD_MAX);

    fn parse(raw: &str) -> Option<Self> {
        Password::parse(raw).ok()
    }
}

/// The email address a login names: any text an account could be looked up by (an address
/// that cannot be registered is simply a wrong email).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginEmail(String);

impl LoginEmail {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FieldRule for LoginEmail {
    const FACTS: Facts = Facts::text(
        "the account's email address, like alice@example.com",
        "alice@example.com",
    )
    .min(1)
    .max(EMAIL_MAX)
    .pattern(TEXT_PATTERN);

    fn parse(raw: &str) -> Option<Self> {
        let len = raw.chars().count();
        ((1..=EMAIL_MAX).contains(&len) && !raw.contains('\0')).then(|| Self(raw.to_owned()))
    }
}

/// The password a login offers. Never printed.
#[derive(Debug, Clone)]
pub struct LoginPassword(Secret<String>);

impl LoginPassword {
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl FieldRule for LoginPassword {
    const FACTS: Facts = Facts::text(
        "the account's password, 1 to 128 characters",
        "correct horse battery staple",
    )
    .min(1)
    .max(PASSWORD_MAX);

    fn parse(raw: &str) -> Option<Self> {
        let len = raw.chars().count();
        (1..=PASSWORD_MAX)
            .contains(&len)
            .then(|| Self(Secret::new(raw.to_owned())))
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
