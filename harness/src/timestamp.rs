//! Times as they are written: timestamps as AWS writes them (ISO 8601,
//! `2026-11-21T13:30:50Z`) and as `aws s3 ls` shows them (local time);
//! durations as reports give them (milliseconds, one decimal).

use std::time::{Duration, SystemTime};

/// A duration in milliseconds, rounded to a tenth, as every report gives it.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

pub fn parse_timestamp(text: &str) -> Result<SystemTime, String> {
    let parsed = aws_smithy_types::DateTime::from_str(text, aws_smithy_types::date_time::Format::DateTime)
        .map_err(|e| format!("bad timestamp `{text}`: {e}"))?;
    SystemTime::try_from(parsed).map_err(|e| format!("bad timestamp `{text}`: {e}"))
}

pub fn format_timestamp(time: SystemTime) -> String {
    aws_smithy_types::DateTime::from(time)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// `aws s3 ls` prints an object's time in the local time zone (TZ):
/// `2026-11-29 23:44:27`. An unreadable time is shown as it came.
pub fn cli_local_time(timestamp: &str) -> String {
    let Ok(time) = parse_timestamp(timestamp) else { return timestamp.to_string() };
    let Ok(secs) = time.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as libc::time_t) else { return timestamp.to_string() };
    // SAFETY: localtime_r writes only into `tm`, which it is given; it is thread-safe and honours TZ.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&secs, &mut tm) }.is_null() {
        return timestamp.to_string();
    }
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_show_times_as_the_cli_does_in_the_local_time_zone() {
        // The system's `date`, under the same TZ, is the reference.
        let epoch = 1_796_000_000;
        let reference = std::process::Command::new("date").args(["-d", &format!("@{epoch}"), "+%Y-%m-%d %H:%M:%S"]).output().unwrap();
        let reference = String::from_utf8_lossy(&reference.stdout).trim().to_string();
        let iso = format_timestamp(std::time::UNIX_EPOCH + Duration::from_secs(epoch));
        assert_eq!(cli_local_time(&iso), reference);
        assert!(!cli_local_time(&iso).contains(['T', 'Z']));
        assert_eq!(cli_local_time("not a time"), "not a time");
    }
}
