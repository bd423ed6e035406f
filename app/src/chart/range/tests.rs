//! Ranges as the page keeps them: checked on the way in, written to the URL
//! and read back as themselves, and zoomed into, out of and back from.

use super::expr::SECOND;
use super::*;

/// 2026-12-03T10:00:00Z.
const NOW: i64 = 1_796_292_000_000;

fn query(pairs: &[(&str, &str)]) -> Result<TimeRange, RangeError> {
    TimeRange::from_query(pairs.iter().copied(), NOW)
}

fn live(span_ms: i64) -> TimeRange {
    TimeRange::Live { span_ms }
}

fn fixed(from: i64, to: i64) -> TimeRange {
    TimeRange::Fixed { from, to }
}

#[test]
fn a_live_range_ends_now_and_a_fixed_one_keeps_its_times() {
    assert_eq!(live(HOUR).resolve(NOW), (NOW - HOUR, NOW));
    assert_eq!(live(HOUR).resolve(NOW + 5), (NOW + 5 - HOUR, NOW + 5));
    assert_eq!(fixed(10, 20).resolve(NOW), (10, 20));
    assert!(live(HOUR).is_live());
    assert!(!fixed(10, 20).is_live());
    assert_eq!(live(HOUR).span_ms(), HOUR);
    assert_eq!(fixed(10, 20).span_ms(), 10);
    assert_eq!(live(i64::MAX).resolve(i64::MIN), (i64::MIN, i64::MIN));
}

#[test]
fn the_checked_constructors_refuse_empty_backwards_and_overlong_ranges() {
    assert_eq!(TimeRange::live(HOUR), Ok(live(HOUR)));
    assert_eq!(TimeRange::live(MAX_SPAN_MS), Ok(live(MAX_SPAN_MS)));
    assert!(matches!(
        TimeRange::live(0),
        Err(RangeError::NotBackwards { .. })
    ));
    assert_eq!(
        TimeRange::live(MAX_SPAN_MS + 1),
        Err(RangeError::TooLong {
            span_ms: MAX_SPAN_MS + 1
        })
    );
    assert_eq!(
        TimeRange::fixed(NOW - HOUR, NOW),
        Ok(fixed(NOW - HOUR, NOW))
    );
    assert_eq!(
        TimeRange::fixed(NOW, NOW),
        Err(RangeError::EndNotAfterStart { from: NOW, to: NOW })
    );
    assert!(TimeRange::fixed(NOW, NOW - 1).is_err());
    assert!(matches!(
        TimeRange::fixed(NOW - MAX_SPAN_MS - 1, NOW),
        Err(RangeError::TooLong { .. })
    ));
    assert!(matches!(
        TimeRange::fixed(MAX_TIME_MS, i64::MAX),
        Err(RangeError::OutOfYears { .. })
    ));
}

#[test]
fn an_error_about_a_range_names_its_times_and_its_limit() {
    let backwards = TimeRange::fixed(NOW, NOW - HOUR).unwrap_err().to_string();
    assert_eq!(
        backwards,
        "the range would end at 2026-12-03T09:00:00Z but start at 2026-12-03T10:00:00Z: \
         the end must come later"
    );
    let long = TimeRange::live(500 * DAY).unwrap_err().to_string();
    assert_eq!(
        long,
        "the range spans 500 days: a chart shows at most 400 days"
    );
}

#[test]
fn every_preset_is_a_live_range_the_url_names_by_its_code() {
    let codes: Vec<&str> = PRESETS.iter().map(|preset| preset.code).collect();
    assert_eq!(codes, ["1m", "5m", "15m", "1h", "6h", "24h", "7d"]);
    assert_eq!(PRESETS[1].label, "Last 5 minutes");
    for preset in &PRESETS {
        let range = preset.range();
        assert_eq!(range.to_query(), [(RANGE_KEY, preset.code.to_string())]);
        assert_eq!(query(&[("range", preset.code)]), Ok(range));
        assert_eq!(range.preset(), Some(preset));
    }
    assert_eq!(live(2 * MINUTE).preset(), None);
    assert_eq!(fixed(NOW - MINUTE, NOW).preset(), None);
}

#[test]
fn ranges_read_back_from_their_query_as_themselves() {
    let ranges = [
        live(MINUTE),
        live(90 * SECOND),
        live(36 * HOUR),
        live(1),
        live(MAX_SPAN_MS),
        fixed(NOW - HOUR, NOW),
        fixed(NOW - 1_234, NOW + 5_678),
        fixed(MIN_TIME_MS, MIN_TIME_MS + 1),
        fixed(MAX_TIME_MS - MAX_SPAN_MS, MAX_TIME_MS),
    ];
    for range in ranges {
        let pairs = range.to_query();
        assert_eq!(
            TimeRange::from_query(pairs.iter().map(|(k, v)| (*k, v.as_str())), NOW),
            Ok(range),
            "{pairs:?}"
        );
    }
}

#[test]
fn a_fixed_range_is_written_as_readable_utc_times() {
    assert_eq!(
        fixed(NOW - HOUR, NOW + 250).to_query(),
        [
            (FROM_KEY, "2026-12-03T09:00:00Z".to_string()),
            (TO_KEY, "2026-12-03T10:00:00.250Z".to_string()),
        ]
    );
    assert_eq!(
        live(30 * MINUTE).to_query(),
        [(RANGE_KEY, "30m".to_string())]
    );
}

#[test]
fn a_relative_start_to_now_is_live() {
    assert_eq!(
        query(&[("from", "now-6h"), ("to", "now")]),
        Ok(live(6 * HOUR))
    );
    assert_eq!(
        query(&[("from", "now-6h"), ("to", "now+0s")]),
        Ok(live(6 * HOUR))
    );
    assert_eq!(
        query(&[("from", "now-6h")]),
        Ok(live(6 * HOUR)),
        "to is now"
    );
    assert_eq!(query(&[("range", "now-6h")]), Ok(live(6 * HOUR)));
    assert_eq!(query(&[("range", "90s")]), Ok(live(90 * SECOND)));
}

#[test]
fn a_relative_range_that_does_not_end_now_is_fixed_when_read() {
    assert_eq!(
        query(&[("from", "now-2m"), ("to", "now-1m")]),
        Ok(fixed(NOW - 2 * MINUTE, NOW - MINUTE))
    );
    assert_eq!(
        query(&[("from", "2026-12-03T09:00:00Z"), ("to", "now")]),
        Ok(fixed(NOW - HOUR, NOW)),
        "an absolute start pauses at now"
    );
    assert_eq!(
        query(&[
            ("from", "1796288400000"),
            ("to", "2026-12-03T11:00:00+01:00")
        ]),
        Ok(fixed(NOW - HOUR, NOW))
    );
}

#[test]
fn a_query_without_a_range_is_absent_or_the_callers_default() {
    assert_eq!(query(&[]), Err(RangeError::Absent));
    assert_eq!(query(&[("tab", "cpu")]), Err(RangeError::Absent));
    let pairs = [("tab", "cpu")];
    assert_eq!(
        TimeRange::from_query_or(pairs, NOW, live(MINUTE)),
        Ok(live(MINUTE))
    );
    assert_eq!(
        TimeRange::from_query_or([("range", "5m")], NOW, live(MINUTE)),
        Ok(live(5 * MINUTE))
    );
    assert!(TimeRange::from_query_or([("range", "bogus")], NOW, live(MINUTE)).is_err());
}

#[test]
fn other_keys_are_ignored_and_the_first_of_a_repeated_key_counts() {
    assert_eq!(
        query(&[("tab", "cpu"), ("range", "5m"), ("range", "1h")]),
        Ok(live(5 * MINUTE))
    );
    assert_eq!(
        TimeRange::from_query(vec![("range".to_string(), "1h".to_string())], NOW),
        Ok(live(HOUR))
    );
}

#[test]
fn a_query_with_both_forms_or_a_lone_end_is_refused() {
    assert_eq!(
        query(&[("range", "5m"), ("from", "now-6h")]),
        Err(RangeError::Conflicting)
    );
    assert_eq!(
        query(&[("range", "5m"), ("to", "now")]),
        Err(RangeError::Conflicting)
    );
    assert_eq!(query(&[("to", "now")]), Err(RangeError::MissingFrom));
}

#[test]
fn a_query_range_that_is_empty_backwards_or_too_long_is_refused() {
    assert!(matches!(
        query(&[("from", "now"), ("to", "now")]),
        Err(RangeError::EndNotAfterStart { .. })
    ));
    assert!(matches!(
        query(&[("from", "now-1m"), ("to", "now-2m")]),
        Err(RangeError::EndNotAfterStart { .. })
    ));
    assert!(matches!(
        query(&[("from", "now+1h"), ("to", "now")]),
        Err(RangeError::EndNotAfterStart { .. })
    ));
    assert!(matches!(
        query(&[("from", "now-401d")]),
        Err(RangeError::TooLong { .. })
    ));
    assert!(matches!(
        query(&[("range", "0s")]),
        Err(RangeError::NotBackwards { .. })
    ));
    assert!(matches!(
        query(&[("range", "now+5m")]),
        Err(RangeError::NotBackwards { .. })
    ));
    assert!(matches!(
        query(&[("range", "now")]),
        Err(RangeError::NotBackwards { .. })
    ));
}

#[test]
fn hostile_query_values_are_errors_and_never_panics() {
    let long = "now-".to_string() + &"9".repeat(5_000) + "d";
    let values = [
        "",
        " ",
        "now-99999999999999d",
        "now-9223372036854775807ms",
        "now+9223372036854775807ms",
        "99999999999999999999999",
        "-9223372036854775808",
        "9223372036854775807",
        "5x",
        "now-５m",
        "🕒",
        "2026-02-30T10:00Z",
        long.as_str(),
    ];
    for value in values {
        assert!(query(&[("range", value)]).is_err(), "range={value:?}");
        assert!(query(&[("from", value)]).is_err(), "from={value:?}");
        assert!(
            query(&[("from", "now-1h"), ("to", value)]).is_err(),
            "to={value:?}"
        );
    }
    assert_eq!(
        query(&[("range", "5x")]).unwrap_err().to_string(),
        "unknown unit 'x' in '5x': use ms, s, m, h, d or w"
    );
}

#[test]
fn the_zoom_stack_goes_back_newest_first() {
    let mut stack = ZoomStack::default();
    assert!(stack.is_empty());
    assert_eq!(stack.back(), None);
    stack.push(live(MINUTE));
    stack.push(fixed(1, 2_000));
    assert_eq!(stack.len(), 2);
    assert_eq!(stack.back(), Some(fixed(1, 2_000)));
    assert_eq!(stack.back(), Some(live(MINUTE)));
    assert_eq!(stack.back(), None);
}

#[test]
fn the_zoom_stack_does_not_remember_the_same_range_twice_in_a_row() {
    let mut stack = ZoomStack::default();
    stack.push(live(MINUTE));
    stack.push(live(MINUTE));
    assert_eq!(stack.len(), 1);
    stack.push(live(HOUR));
    stack.push(live(MINUTE));
    assert_eq!(stack.len(), 3, "only a repeat of the top is dropped");
}

#[test]
fn the_zoom_stack_forgets_the_oldest_past_its_limit() {
    let mut stack = ZoomStack::default();
    for span in 1..=ZOOM_HISTORY_LIMIT as i64 + 10 {
        stack.push(live(span));
    }
    assert_eq!(stack.len(), ZOOM_HISTORY_LIMIT);
    let mut last = None;
    while let Some(range) = stack.back() {
        last = Some(range);
    }
    assert_eq!(last, Some(live(11)), "the ten oldest are gone");
    stack.push(live(1));
    stack.clear();
    assert!(stack.is_empty());
}

#[test]
fn zooming_out_a_live_range_doubles_it_up_to_seven_days() {
    assert_eq!(zoom_out(live(15 * MINUTE), NOW), live(30 * MINUTE));
    assert_eq!(zoom_out(live(4 * DAY), NOW), live(7 * DAY));
    assert_eq!(zoom_out(live(7 * DAY), NOW), live(7 * DAY));
    assert_eq!(
        zoom_out(live(30 * DAY), NOW),
        live(30 * DAY),
        "never shrinks"
    );
    assert_eq!(zoom_out(live(i64::MAX), NOW), live(i64::MAX));
}

#[test]
fn zooming_out_a_fixed_range_doubles_it_around_its_centre() {
    let (from, to) = (NOW - 10 * HOUR, NOW - 8 * HOUR);
    assert_eq!(
        zoom_out(fixed(from, to), NOW),
        fixed(from - HOUR, to + HOUR)
    );
    assert_eq!(zoom_out(fixed(0, 1_001), NOW), fixed(-501, 1_501));
}

#[test]
fn zooming_out_never_moves_the_end_past_now() {
    assert_eq!(
        zoom_out(fixed(NOW - HOUR, NOW), NOW),
        fixed(NOW - 2 * HOUR, NOW),
        "it grows backwards instead"
    );
    assert_eq!(
        zoom_out(fixed(NOW - HOUR, NOW + HOUR), NOW),
        fixed(NOW - 3 * HOUR, NOW + HOUR),
        "a range already past now keeps its end"
    );
}

#[test]
fn zooming_out_stops_at_the_widest_range() {
    let widest = fixed(NOW - MAX_SPAN_MS, NOW);
    assert_eq!(zoom_out(widest, NOW), widest);
    let near = zoom_out(fixed(NOW - 300 * DAY, NOW), NOW);
    assert_eq!(near, fixed(NOW - MAX_SPAN_MS, NOW));
    let hostile = zoom_out(fixed(i64::MIN, i64::MAX), 0);
    assert!(hostile.span_ms() > 0);
    let backwards = zoom_out(fixed(NOW, NOW - HOUR), NOW);
    assert!(backwards.span_ms() > 0);
}

#[test]
fn a_drag_selection_zooms_in_either_direction() {
    assert_eq!(zoom_to(NOW - HOUR, NOW), Some(fixed(NOW - HOUR, NOW)));
    assert_eq!(zoom_to(NOW, NOW - HOUR), Some(fixed(NOW - HOUR, NOW)));
    assert_eq!(
        zoom_to(NOW, NOW + MIN_ZOOM_MS),
        Some(fixed(NOW, NOW + 1_000))
    );
}

#[test]
fn a_drag_narrower_than_a_second_or_wider_than_any_range_is_not_a_zoom() {
    assert_eq!(zoom_to(NOW, NOW + 999), None);
    assert_eq!(zoom_to(NOW, NOW), None);
    assert_eq!(zoom_to(NOW - MAX_SPAN_MS - 1, NOW), None);
    assert_eq!(zoom_to(i64::MIN, i64::MAX), None);
}

#[test]
fn one_finger_pans_keeping_the_time_under_it() {
    let window = (NOW - 60_000, NOW);
    // 100 px of a 600 px plot to the right: 10 s earlier.
    assert_eq!(
        gesture_window(window, &[300.0], &[400.0], 600.0),
        Some((NOW - 70_000, NOW - 10_000))
    );
}

#[test]
fn spreading_two_fingers_zooms_in_around_them_and_pinching_zooms_out() {
    let window = (NOW - 60_000, NOW);
    // From 200..400 px to 100..500 px: half the span, the middle kept.
    assert_eq!(
        gesture_window(window, &[200.0, 400.0], &[100.0, 500.0], 600.0),
        Some((NOW - 45_000, NOW - 15_000))
    );
    assert_eq!(
        gesture_window(window, &[100.0, 500.0], &[200.0, 400.0], 600.0),
        Some((NOW - 90_000, NOW + 30_000))
    );
}

#[test]
fn a_gesture_too_narrow_or_crossed_or_without_fingers_changes_nothing() {
    let window = (NOW - 60_000, NOW);
    assert_eq!(
        gesture_window(window, &[200.0, 205.0], &[100.0, 500.0], 600.0),
        None
    );
    assert_eq!(
        gesture_window(window, &[200.0, 400.0], &[400.0, 200.0], 600.0),
        None
    );
    assert_eq!(gesture_window(window, &[], &[], 600.0), None);
    assert_eq!(gesture_window(window, &[1.0], &[f64::NAN], 600.0), None);
    assert_eq!(gesture_window(window, &[1.0], &[2.0], 0.0), None);
    // However far the fingers spread, the span stays at least the minimum.
    let (from, to) =
        gesture_window((NOW - 6_000, NOW), &[300.0, 320.0], &[0.0, 600.0], 600.0).unwrap();
    assert_eq!(to - from, MIN_ZOOM_MS);
}
