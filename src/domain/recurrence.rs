//! Recurrence rules, and the next due date they give.
//!
//! Accepted: `daily`, `weekly`, `monthly`, `yearly`, `weekdays`, `every N days|weeks|months|
//! years` (N from 1 to 365, any case, spaces between words), and the RFC 5545 RRULE subset
//! `FREQ=…;INTERVAL=…;BYDAY=…` in that order and upper case (optionally prefixed `RRULE:`;
//! BYDAY only with DAILY or WEEKLY; a day listed twice counts once). `FREQ=DAILY;INTERVAL=N;BYDAY=…` is the first listed
//! weekday at least N days on. Months are added on the calendar and clamped to the
//! month's end, counted from the series' anchor (its first due date), so a series keeps its
//! day: Jan 31 monthly is Feb 28 (29 in leap years), then Mar 31, Apr 30.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, Months, NaiveDate};

use super::{
    due_date::DueDate,
    field::{Facts, FieldRule},
};

pub const MAX_LEN: usize = 100;
pub const MAX_INTERVAL: u32 = 365;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurrenceRule {
    /// As given, trimmed: what is stored.
    text: String,
    freq: Freq,
    interval: u32,
    /// Weekdays the rule falls on (Monday = 0); empty means "the same as the due date".
    by_day: BTreeSet<u32>,
}

const WEEKDAY_CODES: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/// Exactly the accepted rules (the schema carries it too): keywords in any case, separated
/// by spaces; RRULEs in upper case with FREQ first, then INTERVAL, then BYDAY.
pub const PATTERN: &str = concat!(
    "^ *(?:[Dd][Aa][Ii][Ll][Yy]|[Ww][Ee][Ee][Kk][Ll][Yy]|[Mm][Oo][Nn][Tt][Hh][Ll][Yy]",
    "|[Yy][Ee][Aa][Rr][Ll][Yy]|[Ww][Ee][Ee][Kk][Dd][Aa][Yy][Ss]",
    "|[Ee][Vv][Ee][Rr][Yy] +(?:[1-9]|[1-9][0-9]|[12][0-9][0-9]|3[0-5][0-9]|36[0-5])",
    " +(?:[Dd][Aa][Yy]|[Ww][Ee][Ee][Kk]|[Mm][Oo][Nn][Tt][Hh]|[Yy][Ee][Aa][Rr])[Ss]?",
    "|(?:RRULE:)?FREQ=(?:(?:DAILY|WEEKLY)(?:;INTERVAL=(?:[1-9]|[1-9][0-9]|[12][0-9][0-9]|3[0-5][0-9]|36[0-5]))?",
    "(?:;BYDAY=(?:MO|TU|WE|TH|FR|SA|SU)(?:,(?:MO|TU|WE|TH|FR|SA|SU)){0,6})?",
    "|(?:MONTHLY|YEARLY)(?:;INTERVAL=(?:[1-9]|[1-9][0-9]|[12][0-9][0-9]|3[0-5][0-9]|36[0-5]))?)) *$"
);

static PATTERN_RE: std::sync::LazyLock<Option<regex::Regex>> =
    std::sync::LazyLock::new(|| regex::Regex::new(PATTERN).ok());

impl FieldRule for RecurrenceRule {
    const FACTS: Facts = Facts::text(
        "how the task repeats: daily, weekly, monthly, yearly, weekdays, \"every N days\" \
         (or weeks, months, years; N from 1 to 365) or an RRULE like \
         FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE, at most 100 characters",
        "weekly",
    )
    .min(1)
    .max(MAX_LEN)
    .pattern(PATTERN);

    fn parse(input: &str) -> Option<Self> {
        if input.chars().count() > MAX_LEN
            || !PATTERN_RE.as_ref().is_some_and(|re| re.is_match(input))
        {
            return None;
        }
        let text = input.trim().to_ascii_lowercase();
        let words: Vec<&str> = text.split_whitespace().collect();
        let rule = |freq, interval| (freq, interval, BTreeSet::new());
        let (freq, interval, by_day) = match words.as_slice() {
            ["daily"] => Some(rule(Freq::Daily, 1)),
            ["weekly"] => Some(rule(Freq::Weekly, 1)),
            ["monthly"] => Some(rule(Freq::Monthly, 1)),
            ["yearly"] => Some(rule(Freq::Yearly, 1)),
            ["weekdays"] => Some((Freq::Daily, 1, (0..5).collect())),
            ["every", n, unit] => parse_interval(n).and_then(|n| {
                let freq = match *unit {
                    "day" | "days" => Freq::Daily,
                    "week" | "weeks" => Freq::Weekly,
                    "month" | "months" => Freq::Monthly,
                    "year" | "years" => Freq::Yearly,
                    _ => return None,
                };
                Some(rule(freq, n))
            }),
            [single] if single.contains('=') => parse_rrule(single),
            _ => None,
        }?;
        Some(Self {
            text: input.trim().to_owned(),
            freq,
            interval,
            by_day,
        })
    }
}

impl RecurrenceRule {
    /// The rule as stored: as given, trimmed.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The next occurrence strictly after `due`, in the same form (a date stays a date; a
    /// date-time keeps its time of day and offset). `None` when that would leave the years a
    /// due date may fall in: the series ends there.
    /// Monthly and yearly rules count from `anchor`, the series' first due date, when it
    /// is given and not after `due`.
    pub fn next_due(&self, due: &DueDate, anchor: Option<NaiveDate>) -> Option<DueDate> {
        let from = due.date();
        let anchored = anchor
            .filter(|a| *a <= from)
            .and_then(|a| self.next_from_anchor(a, from));
        anchored
            .or_else(|| self.next_date(from))
            .and_then(|date| due.on(date))
    }

    /// The first date of the series from `anchor` strictly after `from`, for rules that
    /// step in months.
    fn next_from_anchor(&self, anchor: NaiveDate, from: NaiveDate) -> Option<NaiveDate> {
        let step = match self.freq {
            Freq::Monthly => self.interval,
            Freq::Yearly => self.interval.checked_mul(12)?,
            Freq::Daily | Freq::Weekly => return None,
        };
        let months = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
        let elapsed = u32::try_from(months(from) - months(anchor)).ok()?;
        let mut k = (elapsed / step).max(1);
        loop {
            let candidate = anchor.checked_add_months(Months::new(k.checked_mul(step)?))?;
            if candidate > from {
                return Some(candidate);
            }
            k = k.checked_add(1)?;
        }
    }

    fn next_date(&self, from: NaiveDate) -> Option<NaiveDate> {
        match (self.freq, self.by_day.is_empty()) {
            (Freq::Daily, true) => from.checked_add_days(Days::new(self.interval.into())),
            (Freq::Daily, false) => {
                // The first listed weekday at least `interval` days on. (Stepping a whole
                // interval at a time could never reach a listed day, e.g. every 7 days.)
                let earliest = from.checked_add_days(Days::new(self.interval.into()))?;
                earliest
                    .iter_days()
                    .take(7)
                    .find(|d| self.by_day.contains(&d.weekday().num_days_from_monday()))
            }
            (Freq::Weekly, true) => from.checked_add_days(Days::new(7 * u64::from(self.interval))),
            (Freq::Weekly, false) => {
                let today = from.weekday().num_days_from_monday();
                if let Some(later) = self.by_day.range(today + 1..).next() {
                    return from.checked_add_days(Days::new(u64::from(later - today)));
                }
                let monday = from.checked_sub_days(Days::new(today.into()))?;
                let week = monday.checked_add_days(Days::new(7 * u64::from(self.interval)))?;
                let first = *self.by_day.iter().next()?;
                week.checked_add_days(Days::new(first.into()))
            }
            (Freq::Monthly, _) => from.checked_add_months(Months::new(self.interval)),
            (Freq::Yearly, _) => {
                from.checked_add_months(Months::new(self.interval.checked_mul(12)?))
            }
        }
    }
}

fn parse_interval(raw: &str) -> Option<u32> {
    if !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_INTERVAL).contains(n))
}

fn parse_rrule(lower: &str) -> Option<(Freq, u32, BTreeSet<u32>)> {
    let body = lower.strip_prefix("rrule:").unwrap_or(lower);
    let (mut freq, mut interval, mut by_day) = (None, None, None);
    for part in body.split(';') {
        let (key, value) = part.split_once('=')?;
        match key {
            "freq" if freq.is_none() => {
                freq = Some(match value {
                    "daily" => Freq::Daily,
                    "weekly" => Freq::Weekly,
                    "monthly" => Freq::Monthly,
                    "yearly" => Freq::Yearly,
                    _ => return None,
                });
            }
            "interval" if interval.is_none() => interval = Some(parse_interval(value)?),
            "byday" if by_day.is_none() => {
                let mut days = BTreeSet::new();
                for code in value.split(',') {
                    let day = WEEKDAY_CODES
                        .iter()
                        .position(|c| c.eq_ignore_ascii_case(code))?;
                    days.insert(u32::try_from(day).ok()?);
                }
                by_day = Some(days);
            }
            _ => return None,
        }
    }
    let freq = freq?;
    let by_day = by_day.unwrap_or_default();
    if !by_day.is_empty() && !matches!(freq, Freq::Daily | Freq::Weekly) {
        return None;
    }
    Some((freq, interval.unwrap_or(1), by_day))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use chrono::Weekday;
    use proptest::prelude::*;

    use super::*;

    fn next(rule: &str, due: &str) -> String {
        RecurrenceRule::parse(rule)
            .unwrap()
            .next_due(&DueDate::parse(due).unwrap(), None)
            .unwrap()
            .as_str()
            .to_owned()
    }

    #[test]
    fn accepted_rules() {
        for ok in [
            "daily",
            "Weekly",
            " monthly ",
            "YEARLY",
            "weekdays",
            "  Every 2 Weeks ",
            "every 1 day",
            "every 365 days",
            "every 3 months",
            "every 2 years",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE",
            "RRULE:FREQ=MONTHLY;INTERVAL=3",
            "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
            "FREQ=WEEKLY;BYDAY=MO,MO",
        ] {
            assert!(RecurrenceRule::parse(ok).is_some(), "{ok}");
        }
    }

    #[test]
    fn refused_rules() {
        for bad in [
            "",
            "   ",
            "fortnightly",
            "every 0 days",
            "every -1 days",
            "every +1 days",
            "every 366 days",
            "every 2 fortnights",
            "every days",
            "FREQ=WEEKLY;COUNT=3",
            "FREQ=MONTHLY;BYDAY=MO",
            "BYDAY=MO",
            "FREQ=DAILY;FREQ=WEEKLY",
            "FREQ=WEEKLY;BYDAY=1MO",
            "rrule:freq=daily",
            "INTERVAL=2;FREQ=DAILY",
            "\tdaily",
            "FREQ=WEEKLY;",
            "FREQ=HOURLY",
            "FREQ=WEEKLY;INTERVAL=0",
            "\"; drop table task; --",
        ] {
            assert_eq!(RecurrenceRule::parse(bad), None, "{bad}");
        }
        assert_eq!(
            RecurrenceRule::parse(&format!("FREQ=DAILY;{}", "x".repeat(95))),
            None
        );
    }

    #[test]
    fn next_due_dates() {
        assert_eq!(next("daily", "2026-12-31"), "2027-01-01");
        assert_eq!(next("weekly", "2026-12-01"), "2026-12-08");
        assert_eq!(next("every 2 weeks", "2026-12-01"), "2026-12-15");
        assert_eq!(next("monthly", "2027-01-31"), "2027-02-28");
        assert_eq!(next("monthly", "2028-01-31"), "2028-02-29");
        assert_eq!(next("monthly", "2026-03-31"), "2026-04-30");
        assert_eq!(next("every 3 months", "2026-11-30"), "2027-02-28");
        assert_eq!(next("yearly", "2028-02-29"), "2029-02-28");
        // 2026-11-27 is a Friday.
        assert_eq!(next("weekdays", "2026-11-27"), "2026-11-30");
        assert_eq!(next("weekdays", "2026-11-28"), "2026-11-30");
        assert_eq!(next("weekdays", "2026-11-24"), "2026-11-25");
        // 2026-11-23 is a Monday.
        assert_eq!(next("FREQ=WEEKLY;BYDAY=MO,WE", "2026-11-23"), "2026-11-25");
        assert_eq!(
            next("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE", "2026-11-25"),
            "2026-12-07"
        );
        assert_eq!(next("FREQ=WEEKLY;BYDAY=MO", "2026-11-23"), "2026-11-30");
        assert_eq!(next("FREQ=DAILY;BYDAY=SA", "2026-11-23"), "2026-11-28");
        assert_eq!(
            next("daily", "2026-12-01T09:30:00+02:00"),
            "2026-12-02T09:30:00+02:00"
        );
        assert_eq!(
            next("monthly", "2027-01-31T23:00:00Z"),
            "2027-02-28T23:00:00Z"
        );
    }

    /// The due dates of a series from `first`, each computed from the one before and the
    /// series' anchor.
    fn series(rule: &str, first: &str, n: usize) -> Vec<String> {
        let rule = RecurrenceRule::parse(rule).unwrap();
        let first = DueDate::parse(first).unwrap();
        let anchor = first.date();
        let mut due = first;
        (0..n)
            .map(|_| {
                due = rule.next_due(&due, Some(anchor)).unwrap();
                due.as_str().to_owned()
            })
            .collect()
    }

    #[test]
    fn a_monthly_series_keeps_its_day_of_the_month() {
        assert_eq!(
            series("monthly", "2027-01-31", 4),
            ["2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31"]
        );
        assert_eq!(
            series("monthly", "2028-01-31", 2),
            ["2028-02-29", "2028-03-31"]
        );
        assert_eq!(
            series("every 2 months", "2026-12-31T08:00:00Z", 2),
            ["2027-02-28T08:00:00Z", "2027-04-30T08:00:00Z"]
        );
    }

    #[test]
    fn a_yearly_series_on_february_29_returns_to_it_in_leap_years() {
        assert_eq!(
            series("yearly", "2028-02-29", 4),
            ["2029-02-28", "2030-02-28", "2031-02-28", "2032-02-29"]
        );
    }

    #[test]
    fn an_anchor_after_the_due_date_is_ignored() {
        let rule = RecurrenceRule::parse("monthly").unwrap();
        let due = DueDate::parse("2027-01-15").unwrap();
        let anchor = NaiveDate::from_ymd_opt(2027, 3, 31);
        assert_eq!(rule.next_due(&due, anchor).unwrap().as_str(), "2027-02-15");
    }

    #[test]
    fn a_series_ends_where_its_next_date_would_leave_the_range() {
        let due = DueDate::parse("9998-12-31").unwrap();
        for rule in ["daily", "yearly", "weekdays", "every 2 months"] {
            let rule = RecurrenceRule::parse(rule).unwrap();
            assert_eq!(rule.next_due(&due, None), None);
        }
        let late = DueDate::parse("9998-12-30T10:00:00-05:00").unwrap();
        let daily = RecurrenceRule::parse("daily").unwrap();
        assert_eq!(
            daily.next_due(&late, None).unwrap().as_str(),
            "9998-12-31T10:00:00-05:00"
        );
    }

    #[test]
    fn the_pattern_is_what_parsing_accepts() {
        let re = regex::Regex::new(PATTERN).unwrap();
        for text in [
            "daily",
            " Every 3 Months ",
            "FREQ=YEARLY;INTERVAL=365",
            "FREQ=YEARLY;BYDAY=MO",
            "every 366 days",
            "weekdays",
        ] {
            assert_eq!(
                re.is_match(text),
                RecurrenceRule::parse(text).is_some(),
                "{text}"
            );
        }
    }

    fn rules() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("daily".to_owned()),
            Just("weekly".to_owned()),
            Just("monthly".to_owned()),
            Just("yearly".to_owned()),
            Just("weekdays".to_owned()),
            (
                1u32..=365,
                prop_oneof![Just("days"), Just("weeks"), Just("months"), Just("years")]
            )
                .prop_map(|(n, unit)| format!("every {n} {unit}")),
            (
                prop_oneof![Just("DAILY"), Just("WEEKLY")],
                1u32..=10,
                proptest::sample::subsequence(WEEKDAY_CODES.to_vec(), 1..=7)
            )
                .prop_map(|(f, n, days)| format!("FREQ={f};INTERVAL={n};BYDAY={}", days.join(","))),
        ]
    }

    fn dates() -> impl Strategy<Value = NaiveDate> {
        (1900i32..2200, 1u32..=12, 1u32..=31)
            .prop_filter_map("a real date", |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
    }

    proptest! {
        #[test]
        fn everything_the_pattern_matches_parses(text in "[ a-zA-Z0-9;:=,]{0,40}") {
            let re = regex::Regex::new(PATTERN).unwrap();
            if re.is_match(&text) {
                prop_assert!(RecurrenceRule::parse(&text).is_some(), "{}", text);
            } else {
                prop_assert!(RecurrenceRule::parse(&text).is_none(), "{}", text);
            }
        }

        #[test]
        fn the_next_occurrence_is_later_and_keeps_its_form(rule in rules(), date in dates(), with_time in any::<bool>()) {
            let rule = RecurrenceRule::parse(&rule).unwrap();
            let due = if with_time {
                DueDate::parse(&format!("{date}T08:15:00+05:30")).unwrap()
            } else {
                DueDate::from_date(date)
            };
            let next = rule.next_due(&due, None).unwrap();
            prop_assert!(next.instant() > due.instant());
            prop_assert_eq!(next.is_date_only(), !with_time);
            if with_time {
                prop_assert!(next.as_str().ends_with("T08:15:00+05:30"), "{}", next);
            }
            // It parses back to itself: what is stored can be read again.
            prop_assert_eq!(DueDate::parse(next.as_str()).unwrap(), next.clone());
        }

        #[test]
        fn monthly_keeps_the_day_or_clamps_to_the_month_end(date in dates(), n in 1u32..=24) {
            let rule = RecurrenceRule::parse(&format!("every {n} months")).unwrap();
            let next = rule.next_due(&DueDate::from_date(date), None).unwrap().date();
            let target = date.checked_add_months(Months::new(n)).unwrap();
            prop_assert_eq!((next.year(), next.month()), (target.year(), target.month()));
            let month_end = NaiveDate::from_ymd_opt(next.year(), next.month(), 28)
                .unwrap()
                .iter_days()
                .take_while(|d| d.month() == next.month())
                .last()
                .unwrap()
                .day();
            prop_assert_eq!(next.day(), date.day().min(month_end));
        }

        #[test]
        fn weekdays_never_land_on_a_weekend(date in dates()) {
            let next = RecurrenceRule::parse("weekdays").unwrap().next_due(&DueDate::from_date(date), None).unwrap().date();
            prop_assert!(!matches!(next.weekday(), Weekday::Sat | Weekday::Sun));
            prop_assert!((next - date).num_days() <= 3);
        }

        #[test]
        fn by_day_rules_land_on_a_listed_day(days in proptest::sample::subsequence(WEEKDAY_CODES.to_vec(), 1..=7), n in 1u32..=5, date in dates()) {
            let rule = RecurrenceRule::parse(&format!("FREQ=WEEKLY;INTERVAL={n};BYDAY={}", days.join(","))).unwrap();
            let next = rule.next_due(&DueDate::from_date(date), None).unwrap().date();
            let code = WEEKDAY_CODES[next.weekday().num_days_from_monday() as usize];
            prop_assert!(days.contains(&code));
            prop_assert!((next - date).num_days() <= 7 * i64::from(n) + 6);
        }
    }
}
