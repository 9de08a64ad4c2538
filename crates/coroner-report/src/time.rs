//! Calendar formatting of kernel timestamps (seconds since the epoch, UTC).

/// `2026-11-24T06:17:16Z`.
pub fn utc_iso8601(secs: i64) -> String {
    let (year, month, day, h, m, s) = civil(secs);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

/// `Tue Nov 24 06:17:16 UTC 2026`, as crash's `sys` prints DATE.
pub fn utc_ctime(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (year, month, day, h, m, s) = civil(secs);
    let weekday = DAYS[secs.div_euclid(86_400).rem_euclid(7) as usize];
    let month = MONTHS[(month - 1) as usize];
    format!("{weekday} {month} {day:2} {h:02}:{m:02}:{s:02} UTC {year}")
}

/// Seconds to (year, month, day, hour, minute, second), after Howard Hinnant's
/// days-to-civil algorithm.
fn civil(secs: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::{utc_ctime, utc_iso8601};

    #[test]
    fn ctime_as_crash_prints_it() {
        assert_eq!(utc_ctime(0), "Thu Jan  1 00:00:00 UTC 1970");
        assert_eq!(utc_ctime(1_795_933_036), "Sun Nov 29 06:17:16 UTC 2026");
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(utc_iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_iso8601(1_795_933_036), "2026-11-29T06:17:16Z");
        assert_eq!(utc_iso8601(-1), "1969-12-31T23:59:59Z");
    }
}
