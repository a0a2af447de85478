//! How far an expiry is from now, as people say it: a view-only reading of TUF's `expires`.

/// "expires in 13 days", "expired 2 days ago": how far `expires` is from `now`.
pub fn relative_expiry(expires: time::OffsetDateTime, now: time::OffsetDateTime) -> (String, bool) {
    let secs = (expires - now).whole_seconds();
    let span = human_span(secs.unsigned_abs());
    if secs >= 0 {
        (format!("expires in {span}"), false)
    } else {
        (format!("expired {span} ago"), true)
    }
}

fn human_span(secs: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    const DAY: u64 = 86_400;
    match secs {
        s if s < 3_600 => plural(s.div_ceil(60).max(1), "minute"),
        s if s < 2 * DAY => plural(s / 3_600, "hour"),
        s if s < 730 * DAY => plural(s / DAY, "day"),
        s => plural((s + 182 * DAY) / (365 * DAY), "year"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuf::parse_time;

    #[test]
    fn expiry_reads_as_people_say_it() {
        let now = parse_time("2026-12-07T12:00:00Z").unwrap();
        let at = |s: &str| relative_expiry(parse_time(s).unwrap(), now);
        assert_eq!(at("2026-12-20T12:00:00.5Z"), ("expires in 13 days".into(), false));
        assert_eq!(at("2026-12-05T11:00:00Z"), ("expired 2 days ago".into(), true));
        assert_eq!(at("2026-12-07T15:30:00Z"), ("expires in 3 hours".into(), false));
        assert_eq!(at("2026-12-07T12:00:30Z"), ("expires in 1 minute".into(), false));
        assert_eq!(at("2036-12-04T13:59:48.481854621Z"), ("expires in 10 years".into(), false));
        assert_eq!(at("2029-12-06T12:00:00Z"), ("expires in 3 years".into(), false));
    }
}
