//! Calendar dates (UTC, proleptic Gregorian) from Unix milliseconds, without a date crate:
//! SigV4 wants `20150830T123600Z`, the Lambda event wants `30/Aug/2015:12:36:00 +0000`.

/// A UTC date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    /// Year (may be before 1970 or after 9999; the formats below assume four digits).
    pub year: i64,
    /// 1-12.
    pub month: u32,
    /// 1-31.
    pub day: u32,
    /// 0-23.
    pub hour: u32,
    /// 0-59.
    pub minute: u32,
    /// 0-59.
    pub second: u32,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days in the 400-year Gregorian cycle.
const DAYS_PER_400_YEARS: i64 = 146_097;

impl Utc {
    /// The date and time `ms` milliseconds after 1970-01-01T00:00:00Z (fractions of a second
    /// are dropped; negative values count back from the epoch).
    pub fn from_unix_ms(ms: i64) -> Utc {
        let seconds = ms.div_euclid(1000);
        let days = seconds.div_euclid(86_400);
        let of_day = seconds.rem_euclid(86_400) as u32;
        let (year, month, day) = date_of_day_number(days);
        Utc {
            year,
            month,
            day,
            hour: of_day / 3600,
            minute: of_day / 60 % 60,
            second: of_day % 60,
        }
    }

    /// ISO 8601 basic format, as SigV4's `X-Amz-Date`: `20150830T123600Z`.
    pub fn amz_date(&self) -> String {
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// The Common Log Format time API Gateway puts in `requestContext.time`:
    /// `30/Aug/2015:12:36:00 +0000`.
    pub fn clf(&self) -> String {
        format!(
            "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
            self.day,
            MONTHS[(self.month - 1) as usize],
            self.year,
            self.hour,
            self.minute,
            self.second
        )
    }
}

/// `(year, month, day)` of the `days`-th day after 1970-01-01.
///
/// Counts in a calendar shifted to start on 1 March, so that the leap day is the last day of
/// the (shifted) year: then a 400-year era has a fixed length, a year within it is found by
/// dividing out the 4/100/400-year corrections, and month lengths from March on follow the
/// repeating 31-30-31-30-31 pattern that `(153 * m + 2) / 5` produces.
fn date_of_day_number(days: i64) -> (i64, u32, u32) {
    // 1970-01-01 is day 719 468 counted from 0000-03-01.
    let from_march_0000 = days + 719_468;
    let era = from_march_0000.div_euclid(DAYS_PER_400_YEARS);
    let day_of_era = from_march_0000.rem_euclid(DAYS_PER_400_YEARS);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // 0 = March .. 11 = February
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> String {
        Utc::from_unix_ms(ms).amz_date()
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(at(0), "19700101T000000Z");
        // The SigV4 test suite's instant, and the one of its `double-url-encode` case.
        assert_eq!(at(1_440_938_160_000), "20150830T123600Z");
        assert_eq!(at(1_620_747_645_000), "20210511T154045Z");
        assert_eq!(at(1_700_000_000_999), "20231114T221320Z");
        assert_eq!(at(951_782_400_000), "20000229T000000Z"); // a 400-year leap day
        assert_eq!(at(4_107_542_400_000), "21000301T000000Z"); // 2100 has no 29 Feb
        assert_eq!(at(253_402_300_799_000), "99991231T235959Z");
        assert_eq!(at(-1), "19691231T235959Z");
        assert_eq!(
            Utc::from_unix_ms(1_440_938_160_000).clf(),
            "30/Aug/2015:12:36:00 +0000"
        );
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        // Walk 1968-2032 day by day, checking the date advances by exactly one day.
        let month_length = |y: i64, m: u32| match m {
            2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let mut previous = Utc::from_unix_ms(-731 * 86_400_000);
        assert_eq!((previous.year, previous.month, previous.day), (1968, 1, 1));
        for day in -730..23_000i64 {
            let today = Utc::from_unix_ms(day * 86_400_000 + 43_200_000);
            let expected = if previous.day < month_length(previous.year, previous.month) {
                (previous.year, previous.month, previous.day + 1)
            } else if previous.month < 12 {
                (previous.year, previous.month + 1, 1)
            } else {
                (previous.year + 1, 1, 1)
            };
            assert_eq!((today.year, today.month, today.day), expected, "day {day}");
            assert_eq!((today.hour, today.minute, today.second), (12, 0, 0));
            previous = today;
        }
    }
}
