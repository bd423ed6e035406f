//! The legend and tooltip checked at their edges: empty series, single
//! points, gap markers only, ties, and times outside every point.

use super::*;

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

fn row(label: &str, last: Option<f64>) -> LegendRow {
    LegendRow {
        key: label.to_lowercase(),
        label: label.to_string(),
        stats: last.map(|value| SeriesStats {
            min: -value,
            max: value * 2.0,
            mean: value,
            last: value,
            count: 1,
        }),
    }
}

/// A line of `points` (those not finite, or older than one before them,
/// are left out as a line leaves them out).
fn line(points: &[(i64, f64)]) -> Line {
    Line::from_history(points, None, None, i64::MAX, usize::MAX)
}

fn labels(rows: &[LegendRow]) -> Vec<&str> {
    rows.iter().map(|row| row.label.as_str()).collect()
}

#[test]
fn stats_cover_the_visible_range_both_ends_included() {
    let points = [(0, 9.0), (1, 5.0), (3, 1.0), (4, 3.0), (9, 100.0)];
    let figures = stats(&line(&points), 1, 4).unwrap();
    assert_eq!(
        figures,
        SeriesStats {
            min: 1.0,
            max: 5.0,
            mean: 3.0,
            last: 3.0,
            count: 3
        }
    );
    assert_eq!(stats(&line(&points), i64::MIN, i64::MAX).unwrap().count, 5);
}

#[test]
fn stats_skip_values_that_are_not_finite() {
    let points = [
        (1, f64::NAN),
        (2, 4.0),
        (3, f64::INFINITY),
        (4, 2.0),
        (5, f64::NAN),
    ];
    let figures = stats(&line(&points), 0, 10).unwrap();
    assert_eq!((figures.min, figures.max, figures.last), (2.0, 4.0, 2.0));
    assert_eq!((figures.mean, figures.count), (3.0, 2));
    assert_eq!(
        stats(&line(&[(1, f64::NAN), (2, f64::NEG_INFINITY)]), 0, 10),
        None
    );
}

#[test]
fn stats_of_nothing_in_range_are_none() {
    let points = [(10, 1.0), (20, 2.0)];
    assert_eq!(stats(&line(&[]), 0, 100), None);
    assert_eq!(stats(&line(&points), 11, 19), None, "between points");
    assert_eq!(stats(&line(&points), 21, 100), None, "after the last");
    assert_eq!(stats(&line(&points), -5, 9), None, "before the first");
    assert_eq!(stats(&line(&points), 20, 10), None, "a backwards range");
    assert_eq!(
        stats(&line(&[(20, 1.0), (10, 2.0)]), 15, 15),
        None,
        "unsorted"
    );
}

#[test]
fn stats_of_a_single_point_are_that_point() {
    let figures = stats(&line(&[(5, -2.5)]), 5, 5).unwrap();
    assert_eq!((figures.min, figures.max, figures.mean), (-2.5, -2.5, -2.5));
    assert_eq!((figures.last, figures.count), (-2.5, 1));
}

#[test]
fn the_mean_of_huge_values_does_not_overflow() {
    let points = [(1, f64::MAX), (2, f64::MAX)];
    assert_eq!(stats(&line(&points), 0, 10).unwrap().mean, f64::MAX);
}

#[test]
fn rows_sort_by_a_figure_in_either_direction() {
    let mut rows = vec![
        row("b", Some(2.0)),
        row("a", Some(1.0)),
        row("c", Some(3.0)),
    ];
    sort_rows(&mut rows, LegendSort::Last, false);
    assert_eq!(labels(&rows), ["a", "b", "c"]);
    sort_rows(&mut rows, LegendSort::Mean, true);
    assert_eq!(labels(&rows), ["c", "b", "a"]);
    sort_rows(&mut rows, LegendSort::Min, true);
    assert_eq!(labels(&rows), ["a", "b", "c"], "min is the negated value");
    sort_rows(&mut rows, LegendSort::Max, false);
    assert_eq!(labels(&rows), ["a", "b", "c"]);
}

#[test]
fn rows_sort_by_name_in_natural_order() {
    let mut rows = vec![
        row("cpu10", Some(1.0)),
        row("CPU2", Some(1.0)),
        row("cpu1", Some(1.0)),
        row("cpu", Some(1.0)),
    ];
    sort_rows(&mut rows, LegendSort::Name, false);
    assert_eq!(labels(&rows), ["cpu", "cpu1", "CPU2", "cpu10"]);
    sort_rows(&mut rows, LegendSort::Name, true);
    assert_eq!(labels(&rows), ["cpu10", "CPU2", "cpu1", "cpu"]);
}

#[test]
fn rows_without_figures_sort_last_in_either_direction() {
    for sort in [LegendSort::Name, LegendSort::Max, LegendSort::Last] {
        for descending in [false, true] {
            let mut rows = vec![row("z", None), row("b", Some(1.0)), row("a", None)];
            sort_rows(&mut rows, sort, descending);
            assert_eq!(labels(&rows), ["b", "a", "z"], "{sort:?} {descending}");
        }
    }
}

#[test]
fn rows_that_tie_sort_by_label_from_a_in_either_direction() {
    for descending in [false, true] {
        let mut rows = vec![
            row("c", Some(1.0)),
            row("a", Some(1.0)),
            row("b", Some(1.0)),
        ];
        sort_rows(&mut rows, LegendSort::Last, descending);
        assert_eq!(labels(&rows), ["a", "b", "c"]);
    }
    let mut empty: Vec<LegendRow> = Vec::new();
    sort_rows(&mut empty, LegendSort::Max, true);
    assert!(empty.is_empty());
}

#[test]
fn a_header_click_turns_its_column_around_or_starts_another() {
    let order = LegendOrder::default();
    assert_eq!((order.by, order.descending), (LegendSort::Name, false));
    let order = order.clicked(LegendSort::Name);
    assert!(order.descending);
    let order = order.clicked(LegendSort::Max);
    assert_eq!((order.by, order.descending), (LegendSort::Max, true));
    let order = order.clicked(LegendSort::Max);
    assert_eq!((order.by, order.descending), (LegendSort::Max, false));
    let order = order.clicked(LegendSort::Name);
    assert_eq!((order.by, order.descending), (LegendSort::Name, false));
}

#[test]
fn every_series_is_visible_at_first() {
    let all = keys(&["cpu0", "cpu1"]);
    let visibility = Visibility::default();
    assert!(all.iter().all(|key| visibility.is_visible(key)));
    assert!(visibility.is_visible("a series not seen yet"));
    assert_eq!(
        visibility.describe(&all),
        "Click a series to show only it — Ctrl-click to show or hide one"
    );
    assert_eq!(visibility.describe::<&str>(&[]), "No series yet");
}

#[test]
fn a_click_isolates_and_a_second_click_shows_all() {
    let all = keys(&["cpu0", "cpu1", "cpu2"]);
    let mut visibility = Visibility::default();
    visibility.click("cpu0", &all);
    assert!(visibility.is_visible("cpu0"));
    assert!(!visibility.is_visible("cpu1") && !visibility.is_visible("cpu2"));
    assert_eq!(
        visibility.describe(&all),
        "Showing only cpu0 — click again to show all"
    );
    visibility.click("cpu2", &all);
    assert!(visibility.is_visible("cpu2") && !visibility.is_visible("cpu0"));
    visibility.click("cpu2", &all);
    assert_eq!(visibility, Visibility::default());
}

#[test]
fn an_isolated_series_stays_alone_when_new_series_appear() {
    let mut visibility = Visibility::default();
    visibility.click("cpu0", &keys(&["cpu0", "cpu1"]));
    assert!(!visibility.is_visible("cpu9"));
    let mut hiding = Visibility::default();
    hiding.toggle("cpu0", &keys(&["cpu0", "cpu1"]));
    assert!(hiding.is_visible("cpu9"), "hiding one shows newcomers");
}

#[test]
fn a_modifier_click_flips_one_series() {
    let all = keys(&["a", "b", "c", "d", "e"]);
    let mut visibility = Visibility::default();
    visibility.toggle("a", &all);
    visibility.toggle("c", &all);
    assert!(!visibility.is_visible("a") && visibility.is_visible("b"));
    assert_eq!(
        visibility.describe(&all),
        "2 of 5 series hidden — Ctrl-click to show or hide one"
    );
    visibility.toggle("a", &all);
    visibility.toggle("c", &all);
    assert_eq!(visibility, Visibility::default(), "nothing hidden is all");
}

#[test]
fn a_modifier_click_after_isolating_adds_to_what_is_shown() {
    let all = keys(&["a", "b", "c"]);
    let mut visibility = Visibility::default();
    visibility.click("a", &all);
    visibility.toggle("b", &all);
    assert!(visibility.is_visible("a") && visibility.is_visible("b"));
    assert!(!visibility.is_visible("c"));
    visibility.toggle("a", &all);
    visibility.toggle("b", &all);
    assert_eq!(
        visibility.describe(&all),
        "All 3 series hidden — Ctrl-click one to show it"
    );
}

#[test]
fn clicking_the_only_series_left_shown_shows_all() {
    let all = keys(&["a", "b"]);
    let mut visibility = Visibility::default();
    visibility.toggle("a", &all);
    assert_eq!(
        visibility.describe(&all),
        "Showing only b — click again to show all"
    );
    visibility.click("b", &all);
    assert_eq!(visibility, Visibility::default());
}

#[test]
fn a_single_series_is_never_described_as_isolated() {
    let all = keys(&["only"]);
    let mut visibility = Visibility::default();
    visibility.click("only", &all);
    assert!(visibility.is_visible("only"));
    assert_eq!(
        visibility.describe(&all),
        "Click a series to show only it — Ctrl-click to show or hide one"
    );
}

#[test]
fn keys_that_left_the_chart_are_forgotten_on_the_next_toggle() {
    let mut visibility = Visibility::default();
    visibility.toggle("gone", &keys(&["gone", "kept"]));
    visibility.toggle("kept", &keys(&["kept"]));
    visibility.toggle("kept", &keys(&["kept"]));
    assert_eq!(visibility, Visibility::default());
}

#[test]
fn the_nearest_finite_point_within_reach_is_found() {
    let points = [(0, 1.0), (10, f64::NAN), (20, 2.0), (30, 3.0)];
    assert_eq!(nearest(&points, 24, 100), Some((20, 2.0)));
    assert_eq!(nearest(&points, 26, 100), Some((30, 3.0)));
    assert_eq!(nearest(&points, 20, 0), Some((20, 2.0)), "exactly on it");
    assert_eq!(
        nearest(&points, 11, 100),
        Some((20, 2.0)),
        "gap markers skipped"
    );
    assert_eq!(
        nearest(&points, 11, 5),
        None,
        "the gap marker is not a value"
    );
}

#[test]
fn the_earlier_of_two_equally_near_points_is_taken() {
    let points = [(20, 2.0), (30, 3.0)];
    assert_eq!(nearest(&points, 25, 100), Some((20, 2.0)));
}

#[test]
fn nothing_is_nearest_when_out_of_reach_empty_or_all_gaps() {
    let points = [(0, 1.0), (100, 2.0)];
    assert_eq!(nearest(&points, 50, 49), None);
    assert_eq!(nearest(&points, 50, 50), Some((0, 1.0)));
    assert_eq!(nearest(&points, -1_000, 10), None, "before every point");
    assert_eq!(nearest(&points, 1_000, 10), None, "after every point");
    assert_eq!(nearest(&[], 0, 50), None);
    assert_eq!(nearest(&[(0, f64::NAN), (1, f64::NAN)], 0, 50), None);
    assert_eq!(
        nearest(&points, 0, -1),
        None,
        "a negative reach reaches nothing"
    );
    assert_eq!(
        nearest(&[(5, 1.0)], -5, 10),
        Some((5, 1.0)),
        "a single point"
    );
    assert_eq!(
        nearest(&[(i64::MIN, 1.0), (i64::MAX, 2.0)], 0, i64::MAX),
        Some((i64::MAX, 2.0))
    );
}

fn three_series() -> [TooltipSeries<'static>; 3] {
    [
        ("a", "A", &[(0, 1.0), (10, 5.0)]),
        ("b", "B", &[(0, 9.0), (10, 7.0)]),
        ("c", "C", &[(100, 3.0)]),
    ]
}

#[test]
fn the_all_tooltip_lists_every_series_in_reach_largest_first() {
    let rows = tooltip_rows(&three_series(), 9, 20, TooltipMode::All, None);
    let labels: Vec<&str> = rows.iter().map(|row| row.label.as_str()).collect();
    assert_eq!(labels, ["B", "A"], "C has nothing near");
    assert_eq!(
        (rows[0].key.as_str(), rows[0].ts, rows[0].value),
        ("b", 10, 7.0)
    );
}

#[test]
fn tooltip_rows_of_equal_value_go_by_label() {
    let series: [TooltipSeries<'_>; 2] = [("y", "cpu10", &[(0, 1.0)]), ("x", "cpu2", &[(0, 1.0)])];
    let rows = tooltip_rows(&series, 0, 0, TooltipMode::All, None);
    assert_eq!(rows[0].label, "cpu2");
}

#[test]
fn the_single_tooltip_takes_the_series_nearest_the_pointer() {
    let series = three_series();
    let single = |pointer| tooltip_rows(&series, 9, 20, TooltipMode::Single, pointer);
    let rows = single(Some(4.0));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].label, "A");
    assert_eq!(single(Some(100.0))[0].label, "B");
    assert_eq!(single(Some(6.0))[0].label, "B", "a tie goes to the larger");
    assert_eq!(single(None)[0].label, "B", "no pointer: the largest");
    assert_eq!(single(Some(f64::NAN))[0].label, "B");
}

#[test]
fn no_tooltip_when_off_empty_or_out_of_reach() {
    let series = three_series();
    assert!(tooltip_rows(&series, 9, 20, TooltipMode::Off, Some(1.0)).is_empty());
    assert!(tooltip_rows(&[], 9, 20, TooltipMode::All, None).is_empty());
    assert!(tooltip_rows(&[], 9, 20, TooltipMode::Single, Some(1.0)).is_empty());
    assert!(tooltip_rows(&series, 5_000, 20, TooltipMode::Single, None).is_empty());
}

#[test]
fn tooltip_modes_are_named_the_way_they_are_read() {
    for mode in [TooltipMode::Single, TooltipMode::All, TooltipMode::Off] {
        assert_eq!(TooltipMode::parse(mode.as_str()), Some(mode));
    }
    assert_eq!(TooltipMode::parse("bogus"), None);
    assert_eq!(TooltipMode::default(), TooltipMode::All);
}

#[test]
fn names_compare_as_people_read_them() {
    use std::cmp::Ordering::{Equal, Greater, Less};
    assert_eq!(natural_cmp("cpu2", "cpu10"), Less);
    assert_eq!(natural_cmp("cpu10", "cpu2"), Greater);
    assert_eq!(natural_cmp("Disk", "disk"), Less, "case only breaks ties");
    assert_eq!(natural_cmp("cpu01", "cpu1"), Less);
    assert_eq!(natural_cmp("cpu", "cpu0"), Less);
    assert_eq!(natural_cmp("", ""), Equal);
    assert_eq!(natural_cmp("é1", "é2"), Less);
    assert_eq!(natural_cmp("99999999999999999999999", "1"), Greater);
}
