//! Calendar arithmetic and MySQL's text forms of dates and times, without a date library:
//! days since the epoch (proleptic Gregorian), Debezium's zoned timestamp text, and the
//! parsers for `DATE`, `DATETIME` and `TIME` values as the text protocol sends them.

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month = i64::from(month);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// ISO-8601 in UTC with the column's fractional digits, as io.debezium.time.ZonedTimestamp.
pub fn zoned(seconds: i64, micros: u32, fsp: u8) -> String {
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let rest = seconds.rem_euclid(86_400);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    if fsp > 0 {
        let fraction = format!("{micros:06}");
        out.push('.');
        out.push_str(&fraction[..usize::from(fsp.min(6))]);
    }
    out.push('Z');
    out
}

/// ISO-8601 in UTC as Debezium's io.debezium.time.ZonedTimestamp prints it (Java's
/// `ISO_OFFSET_DATE_TIME`): the fraction with its trailing zeros dropped, none when zero,
/// whatever the column's fractional digits (`05.120` is `05.12Z`).
pub fn zoned_iso(seconds: i64, micros: u32) -> String {
    let whole = zoned(seconds, 0, 0);
    if micros == 0 {
        return whole;
    }
    let fraction = format!("{micros:06}");
    format!(
        "{}.{}Z",
        whole.trim_end_matches('Z'),
        fraction.trim_end_matches('0')
    )
}

pub(super) fn parse_date(text: &str) -> Option<(i64, u32, u32)> {
    let mut parts = text.trim().splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.get(..2)?.parse().ok()?;
    if year == 0 && month == 0 && day == 0 {
        return None;
    }
    Some((year, month, day))
}

pub(super) fn parse_fraction(text: &str) -> u32 {
    let mut digits: String = text.chars().take(6).collect();
    while digits.len() < 6 {
        digits.push('0');
    }
    digits.parse().unwrap_or(0)
}

pub(super) fn parse_datetime(text: &str) -> Option<(i64, u32, u32, u32, u32, u32, u32)> {
    let (date, time) = text
        .trim()
        .split_once([' ', 'T'])
        .unwrap_or((text, "00:00:00"));
    let (year, month, day) = parse_date(date)?;
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut parts = clock.split(':');
    let hour = parts.next()?.parse().ok()?;
    let minute = parts.next()?.parse().ok()?;
    let second = parts.next()?.parse().ok()?;
    Some((
        year,
        month,
        day,
        hour,
        minute,
        second,
        parse_fraction(fraction),
    ))
}

/// `[-]HHH:MM:SS[.ffffff]` → microseconds.
pub(super) fn parse_time(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (clock, fraction) = body.split_once('.').unwrap_or((body, ""));
    let mut parts = clock.split(':').map(str::parse::<i64>);
    let mut next = || -> Result<i64, String> {
        parts
            .next()
            .unwrap_or(Ok(0))
            .map_err(|_| format!("`{text}` is not a time"))
    };
    let (hours, minutes, seconds) = (next()?, next()?, next()?);
    let micros =
        ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + i64::from(parse_fraction(fraction));
    Ok(if negative { -micros } else { micros })
}
