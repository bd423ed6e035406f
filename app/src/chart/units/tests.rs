//! How each unit writes its values, on their own and on an axis.

use super::*;

fn labels(ticks: &[AxisTick]) -> Vec<&str> {
    ticks.iter().map(|tick| tick.label.as_str()).collect()
}

#[test]
fn units_are_named_in_lowercase_on_the_wire() {
    let names = [
        (Unit::Count, "count"),
        (Unit::Percent, "percent"),
        (Unit::Bytes, "bytes"),
        (Unit::BytesPerSec, "bytes_per_sec"),
        (Unit::Currency, "currency"),
        (Unit::Seconds, "seconds"),
        (Unit::Milliseconds, "ms"),
    ];
    for (unit, name) in names {
        let json = format!("\"{name}\"");
        assert_eq!(serde_json::to_string(&unit).expect("serialises"), json);
        assert_eq!(serde_json::from_str::<Unit>(&json).expect("parses"), unit);
    }
    assert!(serde_json::from_str::<Unit>("\"Percent\"").is_err());
}

#[test]
fn bytes_use_binary_prefixes() {
    assert_eq!(format_value(Unit::Bytes, 512.0, 1), "512 B");
    assert_eq!(format_value(Unit::Bytes, 1536.0, 1), "1.5 KiB");
    assert_eq!(
        format_value(Unit::Bytes, 1.2 * 1_073_741_824.0, 1),
        "1.2 GiB"
    );
    assert_eq!(format_value(Unit::Bytes, 3.0 * 1_073_741_824.0, 1), "3 GiB");
}

#[test]
fn rates_are_bytes_per_second() {
    assert_eq!(
        format_value(Unit::BytesPerSec, 3.4 * 1_048_576.0, 1),
        "3.4 MiB/s"
    );
    assert_eq!(format_value(Unit::BytesPerSec, 0.0, 1), "0 B/s");
}

#[test]
fn currency_is_dollars_with_short_suffixes() {
    assert_eq!(format_value(Unit::Currency, 12_300.0, 1), "$12.3k");
    assert_eq!(format_value(Unit::Currency, 12.34, 2), "$12.34");
    assert_eq!(format_value(Unit::Currency, 4.5e9, 1), "$4.5B");
    assert_eq!(format_value(Unit::Currency, -12_300.0, 1), "-$12.3k");
}

#[test]
fn counts_use_short_suffixes() {
    assert_eq!(format_value(Unit::Count, 1_500.0, 1), "1.5k");
    assert_eq!(format_value(Unit::Count, 42.0, 1), "42");
    assert_eq!(format_value(Unit::Count, 2_500_000.0, 1), "2.5M");
    assert_eq!(format_value(Unit::Count, 7e12, 1), "7T");
    assert_eq!(format_value(Unit::Count, 1e20, 1), "1.0e8T");
    assert_eq!(format_value(Unit::Count, 1.25, usize::MAX), "1.25");
    assert_eq!(format_ticks(Unit::Count, &[0.0, 1e300]), ["0", "1.0e288T"]);
}

#[test]
fn durations_take_the_unit_a_person_would_say() {
    assert_eq!(format_value(Unit::Seconds, 0.25, 1), "250 ms");
    assert_eq!(format_value(Unit::Seconds, 1.2, 1), "1.2 s");
    assert_eq!(format_value(Unit::Seconds, 180.0, 1), "3 min");
    assert_eq!(format_value(Unit::Seconds, 5_400.0, 1), "1.5 h");
    assert_eq!(format_value(Unit::Seconds, 2.0 * 86_400.0, 1), "2 d");
    assert_eq!(format_value(Unit::Seconds, 42e-6, 1), "42 µs");
    assert_eq!(format_value(Unit::Seconds, 0.0, 1), "0 s");
}

#[test]
fn milliseconds_are_durations_too() {
    assert_eq!(format_value(Unit::Milliseconds, 250.0, 1), "250 ms");
    assert_eq!(format_value(Unit::Milliseconds, 1_200.0, 1), "1.2 s");
    assert_eq!(format_value(Unit::Milliseconds, 0.0, 1), "0 s");
}

#[test]
fn percentages_sit_against_their_sign() {
    assert_eq!(format_value(Unit::Percent, 42.0, 1), "42%");
    assert_eq!(format_value(Unit::Percent, 12.345, 1), "12.3%");
    assert_eq!(format_value(Unit::Percent, 0.0, 1), "0%");
    assert_eq!(format_value(Unit::Percent, -5.5, 1), "-5.5%");
}

#[test]
fn rounding_up_to_the_next_scale_moves_to_it() {
    assert_eq!(format_value(Unit::Bytes, 1_023.97 * 1024.0, 1), "1 MiB");
    assert_eq!(format_value(Unit::Seconds, 59.97, 1), "1 min");
    assert_eq!(format_value(Unit::Count, 999.96, 1), "1k");
}

#[test]
fn small_values_keep_two_significant_digits() {
    assert_eq!(format_value(Unit::Count, 0.0042, 1), "0.0042");
    assert_eq!(format_value(Unit::Count, 0.5, 1), "0.5");
    assert_eq!(format_value(Unit::Currency, 0.42, 1), "$0.42");
    assert_eq!(format_value(Unit::Count, 4.2e-9, 1), "4.2e-9");
}

#[test]
fn negatives_keep_their_sign_and_negative_zero_does_not() {
    assert_eq!(format_value(Unit::Bytes, -1536.0, 1), "-1.5 KiB");
    assert_eq!(format_value(Unit::Seconds, -0.25, 1), "-250 ms");
    assert_eq!(format_value(Unit::Count, -0.0, 1), "0");
    assert_eq!(format_value(Unit::Count, -0.00001, 1), "-0.00001");
}

#[test]
fn not_a_number_is_a_dash() {
    for unit in [Unit::Count, Unit::Bytes, Unit::Milliseconds] {
        assert_eq!(format_value(unit, f64::NAN, 1), "—");
        assert_eq!(format_value(unit, f64::INFINITY, 1), "—");
        assert_eq!(format_value(unit, f64::NEG_INFINITY, 1), "—");
    }
    assert_eq!(format_ticks(Unit::Count, &[0.0, f64::NAN]), ["0", "—"]);
}

#[test]
fn tick_labels_share_the_scale_of_the_largest() {
    let gib = 1_073_741_824.0;
    assert_eq!(
        format_ticks(Unit::Bytes, &[0.0, 0.5 * gib, gib, 1.5 * gib]),
        ["0", "0.5 GiB", "1 GiB", "1.5 GiB"]
    );
    assert_eq!(
        format_ticks(Unit::Count, &[0.0, 2_500.0, 5_000.0]),
        ["0", "2.5k", "5k"]
    );
    assert_eq!(
        format_ticks(Unit::Percent, &[-50.0, 0.0, 50.0]),
        ["-50%", "0", "50%"]
    );
}

#[test]
fn tick_labels_keep_the_decimals_that_tell_them_apart() {
    assert_eq!(
        format_ticks(Unit::Count, &[0.0, 0.25, 0.5, 0.75]),
        ["0", "0.25", "0.5", "0.75"]
    );
    assert_eq!(
        format_ticks(Unit::Seconds, &[0.0, 0.001, 0.002]),
        ["0", "1 ms", "2 ms"]
    );
}

#[test]
fn byte_axis_steps_by_round_binary_amounts() {
    let gib = 1_073_741_824.0;
    let axis = value_axis(Unit::Bytes, 0.0, 1.4 * gib, 3);
    assert_eq!(labels(&axis), ["0", "0.5 GiB", "1 GiB", "1.5 GiB"]);
    assert_eq!(axis[1].value, 0.5 * gib);
}

#[test]
fn duration_axis_values_stay_in_the_series_unit() {
    let axis = value_axis(Unit::Milliseconds, 0.0, 90_000.0, 3);
    assert_eq!(labels(&axis), ["0", "0.5 min", "1 min", "1.5 min"]);
    assert_eq!(axis[3].value, 90_000.0);
    assert!(value_axis(Unit::Bytes, f64::NAN, 1.0, 3).is_empty());
}
