//! Times and spans read as people type them, written back the same way,
//! and hostile input refused with a message, never a panic.

use super::*;

/// 2026-12-03T10:00:00Z.
const DEC_03_2026_10H: i64 = 1_796_292_000_000;

fn relative(offset_ms: i64) -> Result<TimePoint, RangeError> {
    Ok(TimePoint::Relative { offset_ms })
}

fn absolute(ms: i64) -> Result<TimePoint, RangeError> {
    Ok(TimePoint::Absolute(ms))
}

#[test]
fn now_and_offsets_from_it_are_read_in_every_unit() {
    assert_eq!(parse_time("now"), relative(0));
    assert_eq!(parse_time("now-6h"), relative(-6 * HOUR));
    assert_eq!(parse_time("now-30m"), relative(-30 * MINUTE));
    assert_eq!(parse_time("now-1d"), relative(-DAY));
    assert_eq!(parse_time("now-7d"), relative(-7 * DAY));
    assert_eq!(parse_time("now-2w"), relative(-2 * WEEK));
    assert_eq!(parse_time("now-90s"), relative(-90 * SECOND));
    assert_eq!(parse_time("now-250ms"), relative(-250));
    assert_eq!(parse_time("now+0s"), relative(0));
    assert_eq!(parse_time("now+1h"), relative(HOUR));
}

#[test]
fn spaces_around_a_time_and_its_sign_are_ignored() {
    assert_eq!(parse_time("  now "), relative(0));
    assert_eq!(parse_time("now - 6h"), relative(-6 * HOUR));
    assert_eq!(parse_time(" 1796292000000 "), absolute(DEC_03_2026_10H));
}

#[test]
fn unix_milliseconds_are_read_as_absolute_times() {
    assert_eq!(parse_time("1796292000000"), absolute(DEC_03_2026_10H));
    assert_eq!(parse_time("0"), absolute(0));
    assert_eq!(parse_time("-1000"), absolute(-1_000));
}

#[test]
fn iso_times_are_read_with_or_without_seconds_and_fractions() {
    let at = absolute(DEC_03_2026_10H);
    assert_eq!(parse_time("2026-12-03T10:00:00Z"), at);
    assert_eq!(parse_time("2026-12-03T10:00Z"), at);
    assert_eq!(parse_time("2026-12-03t10:00:00z"), at);
    assert_eq!(parse_time("2026-12-03 10:00:00Z"), at);
    assert_eq!(
        parse_time("2026-12-03T10:00:00.250Z"),
        absolute(DEC_03_2026_10H + 250)
    );
    assert_eq!(
        parse_time("2026-12-03T10:00:00.2Z"),
        absolute(DEC_03_2026_10H + 200)
    );
    assert_eq!(
        parse_time("2026-12-03T10:00:00.123456789Z"),
        absolute(DEC_03_2026_10H + 123),
        "kept to the millisecond"
    );
}

#[test]
fn an_offset_is_taken_away_to_give_utc() {
    let at = absolute(DEC_03_2026_10H);
    assert_eq!(parse_time("2026-12-03T11:00:00+01:00"), at);
    assert_eq!(parse_time("2026-12-03T11:00+0100"), at);
    assert_eq!(parse_time("2026-12-03T04:30:00-05:30"), at);
    assert_eq!(parse_time("2026-12-04T00:00:00+14:00"), at);
    assert_eq!(parse_time("2026-12-03T10:00:00-00:00"), at);
}

#[test]
fn leap_days_exist_only_in_leap_years() {
    assert_eq!(parse_time("2024-02-29T00:00Z"), absolute(1_709_164_800_000));
    assert!(parse_time("2000-02-29T00:00Z").is_ok(), "divisible by 400");
    for text in [
        "2023-02-29T00:00Z",
        "1900-02-29T00:00Z",
        "2026-04-31T00:00Z",
    ] {
        assert_eq!(
            parse_time(text),
            Err(RangeError::InvalidField {
                text: text.to_string(),
                field: "day"
            }),
            "{text}"
        );
    }
}

#[test]
fn fields_out_of_range_are_named() {
    let field_of = |text: &str| match parse_time(text) {
        Err(RangeError::InvalidField { field, .. }) => field,
        other => panic!("{text}: {other:?}"),
    };
    assert_eq!(field_of("2026-13-03T10:00Z"), "month");
    assert_eq!(field_of("2026-00-03T10:00Z"), "month");
    assert_eq!(field_of("2026-12-00T10:00Z"), "day");
    assert_eq!(field_of("2026-12-03T24:00Z"), "hour");
    assert_eq!(field_of("2026-12-03T10:60Z"), "minute");
    assert_eq!(field_of("2026-12-03T10:00:60Z"), "second");
    assert_eq!(field_of("2026-12-03T10:00+24:00"), "time zone offset");
    assert_eq!(field_of("2026-12-03T10:00+01"), "time zone offset");
}

#[test]
fn a_time_without_a_zone_is_refused_with_a_way_to_add_one() {
    let error = parse_time("2026-12-03T10:00:00").unwrap_err();
    assert!(matches!(error, RangeError::MissingZone { .. }));
    assert_eq!(
        error.to_string(),
        "'2026-12-03T10:00:00' has no time zone: add Z for UTC or an offset such as +01:00"
    );
}

#[test]
fn an_unknown_unit_says_which_units_there_are() {
    let error = parse_time("now-5x").unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown unit 'x' in 'now-5x': use ms, s, m, h, d or w"
    );
    assert!(matches!(
        parse_time("now-1.5h"),
        Err(RangeError::UnknownUnit { .. })
    ));
    assert!(matches!(
        parse_duration("5M"),
        Err(RangeError::UnknownUnit { .. })
    ));
}

#[test]
fn a_span_without_amount_or_unit_says_what_is_missing() {
    assert_eq!(
        parse_time("now-5"),
        Err(RangeError::MissingUnit {
            text: "now-5".to_string()
        })
    );
    assert_eq!(
        parse_time("now-h"),
        Err(RangeError::MissingAmount {
            text: "now-h".to_string()
        })
    );
    assert!(matches!(
        parse_time("now-"),
        Err(RangeError::MissingAmount { .. })
    ));
    assert!(parse_time("now-5")
        .unwrap_err()
        .to_string()
        .contains("as in now-5m"));
}

#[test]
fn offsets_that_overflow_are_too_far_not_wrapped() {
    for text in [
        "now-99999999999999d",
        "now-99999999999999999999ms",
        "now+9223372036854775807w",
    ] {
        assert_eq!(
            parse_time(text),
            Err(RangeError::TooFar {
                text: text.to_string()
            }),
            "{text}"
        );
    }
}

#[test]
fn times_outside_the_years_0000_to_9999_are_refused() {
    assert_eq!(parse_time(&MAX_TIME_MS.to_string()), absolute(MAX_TIME_MS));
    assert_eq!(parse_time(&MIN_TIME_MS.to_string()), absolute(MIN_TIME_MS));
    for text in [
        (MAX_TIME_MS + 1).to_string(),
        (MIN_TIME_MS - 1).to_string(),
        "99999999999999999999".to_string(),
        "0000-01-01T00:00:00+00:01".to_string(),
    ] {
        assert!(
            matches!(parse_time(&text), Err(RangeError::OutOfYears { .. })),
            "{text}"
        );
    }
    let far = TimePoint::Relative {
        offset_ms: -i64::MAX,
    };
    assert!(matches!(far.resolve(0), Err(RangeError::OutOfYears { .. })));
    let just_before = TimePoint::Relative { offset_ms: -1 };
    assert!(just_before.resolve(MIN_TIME_MS).is_err());
}

#[test]
fn hostile_text_is_an_error_and_never_a_panic() {
    let long = "9".repeat(10_000);
    let hostile = [
        "",
        "   ",
        "-",
        "--5",
        "+5m",
        "nowhere",
        "now*5m",
        "now-５m",
        "nów",
        "２０２６-12-03T10:00Z",
        "2026-12-03T10:00:00.Z",
        "2026-12-03T10:00:00\u{0}Z",
        "2026-12-03T10:00Zjunk",
        "2026-12-03T10:00+01:00:00",
        "2026-1-3T10:00Z",
        "2026-12-03",
        "2026-12-03T1é:00Z",
        "now-5\u{301}m",
        long.as_str(),
    ];
    for text in hostile {
        assert!(parse_time(text).is_err(), "{text:?}");
        assert!(parse_duration(text).is_err(), "{text:?}");
    }
    assert_eq!(parse_time(""), Err(RangeError::Empty));
}

#[test]
fn an_error_quotes_at_most_forty_characters_of_what_was_written() {
    let text = format!("now-{}", "x".repeat(1_000));
    let message = parse_time(&text).unwrap_err().to_string();
    assert!(message.len() < 200, "{message}");
    assert!(message.contains('…'));
    assert_eq!(quoted("now-5m"), "now-5m");
    assert_eq!(quoted(&"é".repeat(50)), format!("{}…", "é".repeat(40)));
}

#[test]
fn spans_are_written_in_the_largest_unit_that_is_exact() {
    assert_eq!(format_duration(5 * MINUTE), "5m");
    assert_eq!(format_duration(90 * SECOND), "90s");
    assert_eq!(format_duration(24 * HOUR), "1d");
    assert_eq!(format_duration(14 * DAY), "2w");
    assert_eq!(format_duration(1_500), "1500ms");
    assert_eq!(format_duration(0), "0s");
    assert_eq!(format_duration(-5 * MINUTE), "-5m");
    assert_eq!(format_duration(i64::MIN), "-9223372036854775808ms");
}

#[test]
fn a_written_span_reads_back_as_itself() {
    for span in [
        1,
        999,
        1_000,
        90_000,
        HOUR,
        36 * HOUR,
        WEEK,
        400 * DAY,
        i64::MAX,
    ] {
        assert_eq!(parse_duration(&format_duration(span)), Ok(span), "{span}");
    }
}

#[test]
fn times_are_written_as_utc_iso_with_milliseconds_only_when_there_are_some() {
    assert_eq!(format_time(DEC_03_2026_10H), "2026-12-03T10:00:00Z");
    assert_eq!(format_time(DEC_03_2026_10H + 7), "2026-12-03T10:00:00.007Z");
    assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
    assert_eq!(format_time(-1), "1969-12-31T23:59:59.999Z");
    assert_eq!(format_time(MIN_TIME_MS), "0000-01-01T00:00:00Z");
    assert_eq!(format_time(MAX_TIME_MS), "9999-12-31T23:59:59.999Z");
    // Defined, if not readable back, for every i64.
    assert!(!format_time(i64::MIN).is_empty());
    assert!(!format_time(i64::MAX).is_empty());
}

#[test]
fn a_written_time_reads_back_as_itself() {
    let mut ms = MIN_TIME_MS;
    while ms < MAX_TIME_MS {
        assert_eq!(parse_time(&format_time(ms)), absolute(ms), "{ms}");
        ms += 29 * DAY + 3 * HOUR + 17 * SECOND + 123;
    }
}

#[test]
fn the_calendar_conversions_invert_each_other() {
    for days in (-800_000..3_000_000).step_by(37) {
        let (year, month, day) = civil_from_days(days);
        assert!((1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day));
        assert_eq!(days_from_civil(year, month, day), days);
    }
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
}

#[test]
fn a_time_point_is_written_the_way_it_is_read() {
    for point in [
        TimePoint::NOW,
        TimePoint::Relative {
            offset_ms: -6 * HOUR,
        },
        TimePoint::Relative {
            offset_ms: 90 * SECOND,
        },
        TimePoint::Absolute(DEC_03_2026_10H + 250),
    ] {
        assert_eq!(parse_time(&point.to_string()), Ok(point), "{point}");
    }
    assert_eq!(TimePoint::NOW.to_string(), "now");
    assert_eq!(
        TimePoint::Relative {
            offset_ms: -6 * HOUR
        }
        .to_string(),
        "now-6h"
    );
}
