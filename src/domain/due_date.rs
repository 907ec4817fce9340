//! A task's due date as the client gave it: a calendar date or an RFC 3339 date-time.

use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, SecondsFormat, Utc};

use super::field::{Facts, FieldRule};

pub const MAX_LEN: usize = 50;

/// The years a due date may fall in: four-digit years, up to the one before 9999, so that
/// every offset and fraction of a second keeps its moment in UTC inside the range that
/// PostgreSQL's `timestamp` and the server both hold (a date-time on 9999-12-31 at
/// `-15:59` would be in year 10000). Offsets are at most 15:59 either way, as PostgreSQL
/// takes them (the world's run from -12:00 to +14:00).
pub const FIRST_YEAR: i32 = 1000;
pub const LAST_YEAR: i32 = 9998;

/// Exactly the accepted texts: real calendar dates (leap years included) in the years
/// [`FIRST_YEAR`] to [`LAST_YEAR`], and RFC 3339 date-times on them with `T` and an explicit
/// offset of at most 15:59. The OpenAPI schema carries the same pattern, so what a client or fuzzer generates
/// from the schema is what the server accepts.
pub const PATTERN: &str = concat!(
    "^(?:(?:[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)",
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))|(?:[1-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[13579][26])00)-02-29)",
    "(?:[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?(?:[Zz]|[+-](?:0[0-9]|1[0-5]):[0-5][0-9]))?$"
);

static PATTERN_RE: std::sync::LazyLock<Option<regex::Regex>> =
    std::sync::LazyLock::new(|| regex::Regex::new(PATTERN).ok());

#[derive(Debug, Clone, PartialEq, Eq)]
enum When {
    Date(NaiveDate),
    DateTime(DateTime<FixedOffset>),
}

/// Keeps the exact text it was parsed from; that is what is stored and shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDate {
    text: String,
    when: When,
}

impl FieldRule for DueDate {
    const FACTS: Facts = Facts::text(
        "a date like 2026-12-01 or a date-time with a time zone like 2026-12-01T09:30:00Z, in the years 1000 to 9998 (offsets up to 15:59)",
        "2026-12-01",
    )
    .min(10)
    .max(MAX_LEN)
    .pattern(PATTERN);

    fn parse(text: &str) -> Option<Self> {
        if text.chars().count() > MAX_LEN
            || !PATTERN_RE.as_ref().is_some_and(|re| re.is_match(text))
        {
            return None;
        }
        let when = if text.len() == 10 {
            NaiveDate::parse_from_str(text, "%Y-%m-%d").map(When::Date)
        } else {
            DateTime::parse_from_rfc3339(text).map(When::DateTime)
        }
        .ok()?;
        Some(Self {
            text: text.to_owned(),
            when,
        })
    }
}

impl DueDate {
    pub fn from_date(date: NaiveDate) -> Self {
        Self {
            text: date.format("%Y-%m-%d").to_string(),
            when: When::Date(date),
        }
    }

    pub fn from_date_time(at: DateTime<FixedOffset>) -> Self {
        Self {
            text: at.to_rfc3339_opts(SecondsFormat::Secs, true),
            when: When::DateTime(at),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_date_only(&self) -> bool {
        matches!(self.when, When::Date(_))
    }

    /// The calendar date; for a date-time, the date in its own offset.
    pub fn date(&self) -> NaiveDate {
        match &self.when {
            When::Date(d) => *d,
            When::DateTime(at) => at.date_naive(),
        }
    }

    /// The moment it stands for; a date means its start, 00:00 UTC.
    pub fn instant(&self) -> DateTime<Utc> {
        match &self.when {
            When::Date(d) => d.and_time(chrono::NaiveTime::MIN).and_utc(),
            When::DateTime(at) => at.with_timezone(&Utc),
        }
    }

    /// The same kind of due date on another calendar day: a date stays a date; a date-time
    /// keeps its time of day and offset. `None` outside the years a due date may fall in.
    pub fn on(&self, date: NaiveDate) -> Option<Self> {
        if !(FIRST_YEAR..=LAST_YEAR).contains(&date.year()) {
            return None;
        }
        match &self.when {
            When::Date(_) => Some(Self::from_date(date)),
            When::DateTime(at) => {
                let local = date.and_time(at.time());
                let moved = local.and_local_timezone(*at.offset()).single()?;
                Some(Self::from_date_time(moved))
            }
        }
    }
}

impl fmt::Display for DueDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn dates_and_date_times_parse_and_keep_their_text() {
        let d = DueDate::parse("2026-12-01").unwrap();
        assert_eq!(d.as_str(), "2026-12-01");
        assert!(d.is_date_only());
        assert_eq!(d.instant().to_rfc3339(), "2026-12-01T00:00:00+00:00");
        let t = DueDate::parse("2026-12-01T09:30:00+02:00").unwrap();
        assert_eq!(t.as_str(), "2026-12-01T09:30:00+02:00");
        assert_eq!(t.instant().to_rfc3339(), "2026-12-01T07:30:00+00:00");
        assert_eq!(t.date(), NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        assert!(DueDate::parse("2026-12-01T09:30:00.250Z").is_some());
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [
            "",
            "tomorrow",
            "2026-02-30",
            "2026-13-01",
            "2026-12-01T25:00:00Z",
            "2026-12-01T09:30:00",
            "01/12/2026",
            " 2026-12-01",
            "2026-12-01 09:30:00Z",
            "2026-12-01T23:59:60Z",
            "1900-02-29",
            "2026-12-01T09:30:00+24:00",
            "\"; drop table task; --",
        ] {
            assert_eq!(DueDate::parse(bad), None, "{bad}");
        }
        assert_eq!(DueDate::parse(&"9".repeat(51)), None);
    }

    #[test]
    fn leap_days_follow_the_gregorian_rules() {
        for ok in [
            "2028-02-29",
            "2000-02-29",
            "2400-02-29",
            "1200-02-29",
            "9996-02-29",
        ] {
            assert!(DueDate::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "2027-02-29",
            "1900-02-29",
            "2100-02-29",
            "2026-04-31",
            "0000-02-29",
        ] {
            assert!(DueDate::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_pattern_and_chrono_agree_on_every_day_of_four_centuries() {
        let re = regex::Regex::new(PATTERN).unwrap();
        for year in [
            0, 1, 400, 999, 1000, 1200, 1899, 1900, 1999, 2000, 2023, 2024, 2100, 2200, 2300, 2400,
            9600, 9896, 9900, 9996, 9998, 9999,
        ] {
            for month in 1..=12 {
                for day in 1..=31 {
                    let text = format!("{year:04}-{month:02}-{day:02}");
                    let real = NaiveDate::from_ymd_opt(year, month, day).is_some()
                        && (FIRST_YEAR..=LAST_YEAR).contains(&year);
                    assert_eq!(re.is_match(&text), real, "{text}");
                }
            }
        }
    }

    #[test]
    fn every_accepted_moment_is_inside_the_years_in_utc_too() {
        for edge in [
            "1000-01-01T00:00:00+15:59",
            "9998-12-31T23:59:59.999999999-15:59",
            "1000-01-01",
            "9998-12-31",
        ] {
            let due = DueDate::parse(edge).unwrap();
            let year = due.instant().year();
            assert!((999..=9999).contains(&year), "{edge}: {year}");
        }
        for outside in [
            "0999-12-31",
            "9999-01-01",
            "9999-12-31T23:59:59-23:59",
            "0000-02-29",
        ] {
            assert_eq!(DueDate::parse(outside), None, "{outside}");
        }
    }

    #[test]
    fn moving_past_the_last_year_gives_nothing() {
        let d = DueDate::parse("9998-12-31").unwrap();
        assert!(d.on(NaiveDate::from_ymd_opt(9999, 1, 1).unwrap()).is_none());
    }

    #[test]
    fn moving_to_another_day_keeps_time_and_offset() {
        let t = DueDate::parse("2026-12-01T09:30:00+02:00").unwrap();
        let moved = t.on(NaiveDate::from_ymd_opt(2027, 1, 5).unwrap()).unwrap();
        assert_eq!(moved.as_str(), "2027-01-05T09:30:00+02:00");
        let z = DueDate::parse("2026-12-01T09:30:00Z").unwrap();
        let moved = z.on(NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()).unwrap();
        assert_eq!(moved.as_str(), "2026-12-02T09:30:00Z");
    }
}
