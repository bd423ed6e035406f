//! The tick choosers checked at each zoom level and magnitude: steps from
//! the ladder, aligned in local time, labelled for the step; nice and
//! logarithmic value ticks at the edges of what a float holds.

use super::*;

/// 2023-12-03T00:00:00Z, a Sunday.
const DEC_03_2023: i64 = 1_701_561_600_000;

fn labels(ticks: &[TimeTick]) -> Vec<&str> {
    ticks.iter().map(|tick| tick.label.as_str()).collect()
}

#[test]
fn tick_count_stays_near_the_target_at_every_zoom_level() {
    let mut span = 30;
    while span < 10 * 365 * DAY {
        for target in [3, 6, 10, 20] {
            let ticks = time_ticks(DEC_03_2023, DEC_03_2023 + span, target, 0);
            assert!(ticks.len() <= target + 1, "span {span} target {target}");
            if span >= 10 * target as i64 {
                assert!(ticks.len() * 5 >= target, "span {span} target {target}");
            }
        }
        span = span * 3 / 2;
    }
}

#[test]
fn steps_come_from_the_ladder() {
    let time_step = |span: i64, target| time_step(i128::from(span), target) as i64;
    assert_eq!(time_step(1_000, 10), 100);
    assert_eq!(time_step(60 * SECOND, 6), 10 * SECOND);
    assert_eq!(time_step(60 * SECOND, 5), 15 * SECOND);
    assert_eq!(time_step(10 * HOUR, 4), 3 * HOUR);
    assert_eq!(time_step(30 * DAY, 5), WEEK);
    assert_eq!(time_step(50 * DAY, 5), FORTNIGHT);
    assert_eq!(time_step(100 * DAY, 3), 2 * MONTH);
    assert_eq!(time_step(1_000 * DAY, 3), 12 * MONTH);
}

#[test]
fn ticks_sit_on_multiples_of_the_step() {
    let from = DEC_03_2023 + 7 * HOUR + 13 * MINUTE + 7 * SECOND;
    let ticks = time_ticks(from, from + HOUR, 6, 0);
    assert!(ticks.iter().all(|tick| tick.ts % (10 * MINUTE) == 0));
    assert_eq!(ticks[0].ts, DEC_03_2023 + 7 * HOUR + 20 * MINUTE);
    assert!(ticks
        .iter()
        .all(|tick| (from..=from + HOUR).contains(&tick.ts)));
}

#[test]
fn second_steps_are_labelled_with_seconds() {
    let from = DEC_03_2023 + 14 * HOUR;
    let ticks = time_ticks(from, from + 30 * SECOND, 3, 0);
    assert_eq!(
        labels(&ticks),
        ["14:00:00", "14:00:10", "14:00:20", "14:00:30"]
    );
}

#[test]
fn sub_second_steps_are_labelled_with_milliseconds() {
    let from = DEC_03_2023 + 14 * HOUR + 5 * SECOND;
    let ticks = time_ticks(from, from + 100, 2, 0);
    assert_eq!(
        labels(&ticks),
        ["14:00:05.000", "14:00:05.050", "14:00:05.100"]
    );
}

#[test]
fn minute_and_hour_steps_are_labelled_with_hours_and_minutes() {
    let from = DEC_03_2023 + 9 * HOUR;
    let ticks = time_ticks(from, from + 30 * MINUTE, 2, 0);
    assert_eq!(labels(&ticks), ["09:00", "09:15", "09:30"]);

    let ticks = time_ticks(from, from + 6 * HOUR, 3, 0);
    assert_eq!(labels(&ticks), ["10:00", "12:00", "14:00"]);
}

#[test]
fn midnight_on_a_sub_day_axis_names_the_day() {
    let from = DEC_03_2023 - 6 * HOUR;
    let ticks = time_ticks(from, from + 12 * HOUR, 2, 0);
    assert_eq!(labels(&ticks), ["18:00", "Sun 03", "06:00"]);
}

#[test]
fn day_steps_are_labelled_with_weekday_and_day() {
    let ticks = time_ticks(DEC_03_2023, DEC_03_2023 + 3 * DAY, 3, 0);
    assert_eq!(labels(&ticks), ["Sun 03", "Mon 04", "Tue 05", "Wed 06"]);
}

#[test]
fn week_steps_start_on_monday_and_are_labelled_with_month_and_day() {
    let ticks = time_ticks(DEC_03_2023, DEC_03_2023 + 28 * DAY, 4, 0);
    assert_eq!(labels(&ticks), ["Dec 04", "Dec 11", "Dec 18", "Dec 25"]);
}

#[test]
fn year_scale_steps_are_labelled_with_month_and_year() {
    let ticks = time_ticks(0, 5 * 365 * DAY, 4, 0);
    assert_eq!(labels(&ticks), ["Jan 1970", "Dec 1971", "Dec 1973"]);
}

#[test]
fn offset_puts_ticks_and_labels_in_local_time() {
    let from = DEC_03_2023 + 10 * HOUR;
    let india = 5 * 60 + 30;
    let ticks = time_ticks(from, from + 3 * HOUR, 3, india);
    assert_eq!(ticks[0].ts, DEC_03_2023 + 10 * HOUR + 30 * MINUTE);
    assert_eq!(labels(&ticks), ["16:00", "17:00", "18:00"]);

    let new_york = -5 * 60;
    let ticks = time_ticks(DEC_03_2023, DEC_03_2023 + 3 * DAY, 3, new_york);
    assert_eq!(ticks[0].ts, DEC_03_2023 + 5 * HOUR);
    assert_eq!(ticks[0].label, "Sun 03");
}

#[test]
fn dates_are_right_across_leap_years_and_before_the_epoch() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(-1), (1969, 12, 31));
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    assert_eq!(civil_from_days(DEC_03_2023 / DAY), (2023, 12, 3));
}

#[test]
fn inverted_range_has_no_ticks_and_the_widest_range_does_not_overflow() {
    assert!(time_ticks(10, 0, 5, 0).is_empty());
    assert_eq!(time_ticks(0, 0, 5, 0).len(), 1);
    let widest = time_ticks(i64::MIN, i64::MAX, 10, 14 * 60);
    assert!(!widest.is_empty() && widest.len() <= 11);
    assert!(time_ticks(0, 1_000, usize::MAX, 0).len() <= MAX_TICKS + 1);
}

#[test]
fn target_follows_the_width() {
    assert_eq!(tick_target(0), 1);
    assert_eq!(tick_target(250), 2);
    assert_eq!(tick_target(1_000), 10);
}

#[test]
fn value_ticks_are_nice_numbers_covering_the_range() {
    assert_eq!(
        value_ticks(0.0, 97.0, 5),
        [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    );
    assert_eq!(value_ticks(3.0, 17.0, 3), [0.0, 5.0, 10.0, 15.0, 20.0]);
    assert_eq!(value_ticks(0.0, 10.0, 4), [0.0, 2.5, 5.0, 7.5, 10.0]);
    assert_eq!(value_ticks(97.0, 0.0, 5), value_ticks(0.0, 97.0, 5));
}

#[test]
fn value_ticks_are_clean_decimals() {
    assert_eq!(value_ticks(0.0, 0.3, 3), [0.0, 0.1, 0.2, 0.3]);
    assert_eq!(value_ticks(0.0, 0.7, 7)[7], 0.7);
}

#[test]
fn flat_range_is_widened_to_reach_zero() {
    assert_eq!(
        value_ticks(42.0, 42.0, 5),
        [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    );
    assert_eq!(value_ticks(-4.0, -4.0, 4), [-4.0, -3.0, -2.0, -1.0, 0.0]);
    assert_eq!(value_ticks(0.0, 0.0, 5), [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
}

#[test]
fn negative_ranges_have_ticks_without_negative_zero() {
    let ticks = value_ticks(-97.0, -3.0, 5);
    assert_eq!(ticks, [-100.0, -80.0, -60.0, -40.0, -20.0, 0.0]);
    assert!(ticks[5].is_sign_positive());
    assert_eq!(value_ticks(-1.0, 1.0, 4), [-1.0, -0.5, 0.0, 0.5, 1.0]);
}

#[test]
fn huge_and_tiny_magnitudes_keep_nice_steps() {
    assert_eq!(
        value_ticks(1e300, 5e300, 4),
        [1e300, 2e300, 3e300, 4e300, 5e300]
    );
    assert_eq!(
        value_ticks(1e-300, 5e-300, 4),
        [1e-300, 2e-300, 3e-300, 4e-300, 5e-300]
    );
    assert_eq!(
        value_ticks(1e9, 1e9 + 10.0, 5),
        [1e9, 1e9 + 2.0, 1e9 + 4.0, 1e9 + 6.0, 1e9 + 8.0, 1e9 + 10.0]
    );

    let widest = value_ticks(-f64::MAX, f64::MAX, 4);
    assert!(widest.len() >= 3 && widest.iter().all(|tick| tick.is_finite()));
    assert!(widest.windows(2).all(|pair| pair[0] < pair[1]));
    let subnormal = value_ticks(0.0, 5e-324, 4);
    assert!(subnormal.iter().all(|tick| tick.is_finite()));
}

#[test]
fn value_ticks_stay_bounded_for_any_target() {
    assert!(value_ticks(0.0, 1.0, usize::MAX).len() <= MAX_TICKS + 3);
    assert_eq!(value_ticks(0.0, 1.0, 0), [0.0, 1.0]);
}

#[test]
fn non_finite_bounds_give_no_ticks() {
    assert!(value_ticks(f64::NAN, 1.0, 5).is_empty());
    assert!(value_ticks(0.0, f64::INFINITY, 5).is_empty());
    assert!(log_ticks(1.0, f64::NAN, 5).is_empty());
}

#[test]
fn log_ticks_are_the_decades_covering_the_range() {
    assert_eq!(
        log_ticks(3.0, 4_000.0, 10),
        [1.0, 10.0, 100.0, 1_000.0, 10_000.0]
    );
    assert_eq!(log_ticks(1.0, 1_000.0, 10), [1.0, 10.0, 100.0, 1_000.0]);
    assert_eq!(log_ticks(0.002, 0.5, 10), [0.001, 0.01, 0.1, 1.0]);
    assert_eq!(log_ticks(100.0, 100.0, 10), [100.0, 1_000.0]);
}

#[test]
fn log_ticks_skip_decades_to_meet_the_target() {
    assert_eq!(log_ticks(1.0, 1e12, 4), [1.0, 1e3, 1e6, 1e9, 1e12]);
    assert_eq!(log_ticks(1e-300, 1e300, 3).len(), 4);
}

#[test]
fn log_ticks_of_non_positive_values() {
    assert_eq!(log_ticks(0.0, 50.0, 10), [1.0, 10.0, 100.0]);
    assert!(log_ticks(-5.0, 0.0, 10).is_empty());
    assert_eq!(log_ticks(0.0, 5e-324, 3), [1e-323]);
}

#[test]
fn a_time_label_near_an_edge_is_set_against_it_not_cut_off() {
    // "12:00:10" is 8 characters, about 28 px either side of its tick.
    assert_eq!(label_anchor(400.0, 8, 800.0), LabelAnchor::Centre(400.0));
    assert_eq!(label_anchor(790.0, 8, 800.0), LabelAnchor::End(798.0));
    assert_eq!(label_anchor(10.0, 8, 800.0), LabelAnchor::Start(2.0));
}
