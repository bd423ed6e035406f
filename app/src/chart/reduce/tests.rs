//! The reduction checked against what a chart needs: spikes survive, the
//! incremental path agrees with a full recompute, gaps break the line and
//! the output follows the width, not the number of points.

use super::*;

/// A small deterministic generator (xorshift64*), so the property tests
/// replay the same cases on every run.
pub(in crate::chart) struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

/// Sorted points with repeated times, gap markers and jumps in time.
fn random_points(rng: &mut XorShift, count: usize) -> Vec<(i64, f64)> {
    let mut ts = rng.below(1_000) as i64 - 500;
    (0..count)
        .map(|_| {
            ts += if rng.chance(30) {
                rng.below(2_000) as i64
            } else {
                rng.below(20) as i64
            };
            let value = match rng.below(12) {
                0 => f64::NAN,
                1 => f64::INFINITY,
                _ => rng.below(1_000) as f64 - 500.0,
            };
            (ts, value)
        })
        .collect()
}

fn sample(ts: i64, value: f64) -> Sample {
    Sample { ts, value }
}

fn vertices(reduction: &Reduction) -> Vec<Sample> {
    reduction.columns().flat_map(Column::vertices).collect()
}

#[test]
fn single_sample_spike_among_a_million_flat_points_survives() {
    let mut points: Vec<(i64, f64)> = (0..1_000_000).map(|ts| (ts, 1.0)).collect();
    points[123_457].1 = 50.0;
    points[876_543].1 = -50.0;

    let reduction = Reduction::from_points(&points, 0, 1_000, column_ms_for(1_000_000, 1_000));

    assert_eq!(reduction.columns().len(), 1_000);
    let highest = reduction
        .columns()
        .filter_map(|column| column.summary)
        .max_by(|a, b| a.max.value.total_cmp(&b.max.value))
        .expect("the window holds points");
    assert_eq!(highest.max, sample(123_457, 50.0));
    let lowest = reduction
        .columns()
        .filter_map(|column| column.summary)
        .min_by(|a, b| a.min.value.total_cmp(&b.min.value))
        .expect("the window holds points");
    assert_eq!(lowest.min, sample(876_543, -50.0));
    assert!(vertices(&reduction).contains(&sample(123_457, 50.0)));
    assert!(vertices(&reduction).contains(&sample(876_543, -50.0)));
    assert!(reduction
        .columns()
        .all(|column| column.summary.map(|s| s.count) == Some(1_000)));
}

#[test]
fn output_is_bounded_by_the_width_not_the_number_of_points() {
    let mut rng = XorShift(7);
    for width in [1, 3, 64, 300] {
        let points = random_points(&mut rng, 20_000);
        let span = points[points.len() - 1].0 - points[0].0 + 1;
        let reduction =
            Reduction::from_points(&points, points[0].0, width, column_ms_for(span, width));
        assert!(reduction.columns().len() <= width);
        assert!(reduction.path().len() <= 4 * width, "width {width}");
    }
}

#[test]
fn appending_in_order_matches_recomputing_from_the_points() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..300 {
        let width = 1 + rng.below(40) as usize;
        let column_ms = 1 + rng.below(30) as i64;
        let count = rng.below(400) as usize;
        let points = random_points(&mut rng, count);
        let from = points.first().map_or(0, |p| p.0) - rng.below(100) as i64;

        let mut live = Reduction::new(from, width, column_ms);
        for (i, &(ts, value)) in points.iter().enumerate() {
            if rng.chance(25) {
                let (start, _) = live.window();
                let jump = rng.below(3 * column_ms as u64 * width as u64) as i64;
                live.shift_to(start + jump).expect("a forward shift");
            }
            match live.append(ts, value) {
                Ok(()) => {}
                Err(UpdateError::AfterWindow { .. }) => {
                    live.shift_to(ts - (width as i64 - 1) * column_ms)
                        .expect("a forward shift");
                    live.append(ts, value)
                        .expect("the point is now in the window");
                }
                Err(other) => panic!("in-order point refused: {other}"),
            }
            if rng.chance(10) || i + 1 == points.len() {
                let (start, _) = live.window();
                let recomputed = Reduction::from_points(&points[..=i], start, width, column_ms);
                assert_eq!(live, recomputed, "after {} points", i + 1);
            }
        }
    }
}

#[test]
fn shifting_the_window_matches_recomputing_the_shifted_window() {
    let mut rng = XorShift(0xDEAD_BEEF);
    for _ in 0..300 {
        let width = 1 + rng.below(50) as usize;
        let column_ms = 1 + rng.below(20) as i64;
        let count = rng.below(300) as usize;
        let points = random_points(&mut rng, count);
        let from = points.first().map_or(0, |p| p.0);

        let mut shifted = Reduction::from_points(&points, from, width, column_ms);
        let (_, end) = shifted.window();
        let seen: Vec<(i64, f64)> = points.iter().copied().filter(|p| p.0 < end).collect();
        let mut start = shifted.window().0;
        for _ in 0..5 {
            start += rng.below(column_ms as u64 * width as u64 / 2 + 1) as i64;
            shifted.shift_to(start).expect("a forward shift");
            assert_eq!(
                shifted,
                Reduction::from_points(&seen, start, width, column_ms)
            );
        }
    }
}

#[test]
fn columns_are_aligned_to_the_epoch_not_to_the_window() {
    let points: Vec<(i64, f64)> = (-50..50).map(|ts| (ts, ts as f64)).collect();
    let a = Reduction::from_points(&points, -23, 10, 10);
    let b = Reduction::from_points(&points, -30, 10, 10);

    assert_eq!(a, b);
    assert_eq!(a.window(), (-30, 70));
    let first = a.columns().next().expect("points in the window");
    assert_eq!(first.index, -3);
    assert_eq!(
        first.summary.map(|s| (s.first.ts, s.last.ts)),
        Some((-30, -21))
    );
}

#[test]
fn vertices_follow_the_order_the_extremes_occurred() {
    let rising_dip = Reduction::from_points(&[(0, 5.0), (1, 9.0), (2, 1.0), (3, 4.0)], 0, 1, 10);
    let column = rising_dip.columns().next().expect("one column");
    assert_eq!(
        column.vertices().collect::<Vec<_>>(),
        [
            sample(0, 5.0),
            sample(1, 9.0),
            sample(2, 1.0),
            sample(3, 4.0)
        ]
    );

    let dip_first = Reduction::from_points(&[(0, 5.0), (1, 1.0), (2, 9.0), (3, 4.0)], 0, 1, 10);
    let column = dip_first.columns().next().expect("one column");
    assert_eq!(
        column.vertices().collect::<Vec<_>>(),
        [
            sample(0, 5.0),
            sample(1, 1.0),
            sample(2, 9.0),
            sample(3, 4.0)
        ]
    );
}

#[test]
fn equal_vertices_are_drawn_once() {
    let flat = Reduction::from_points(&[(0, 2.0), (4, 2.0), (9, 2.0)], 0, 1, 10);
    assert_eq!(vertices(&flat), [sample(0, 2.0), sample(9, 2.0)]);

    let single = Reduction::from_points(&[(3, 7.0)], 0, 1, 10);
    assert_eq!(vertices(&single), [sample(3, 7.0)]);

    let rising = Reduction::from_points(&[(0, 1.0), (5, 2.0), (9, 3.0)], 0, 1, 10);
    assert_eq!(vertices(&rising), [sample(0, 1.0), sample(9, 3.0)]);
}

#[test]
fn gap_marker_in_its_own_column_breaks_the_line_there() {
    let points = [(0, 1.0), (10, f64::NAN), (20, 2.0), (30, 3.0)];
    let reduction = Reduction::from_points(&points, 0, 4, 10);

    let gap = reduction
        .columns()
        .nth(1)
        .expect("the marker's column is kept");
    assert_eq!(gap.summary, None);
    assert!(gap.gap_before && gap.has_gap());
    assert_eq!(
        reduction.path(),
        [
            PathStep::MoveTo(sample(0, 1.0)),
            PathStep::MoveTo(sample(20, 2.0)),
            PathStep::LineTo(sample(30, 3.0)),
        ]
    );
}

#[test]
fn gap_marker_after_a_columns_points_breaks_before_the_next_column() {
    let points = [(0, 1.0), (5, f64::NEG_INFINITY), (10, 2.0)];
    let reduction = Reduction::from_points(&points, 0, 2, 10);

    let first = reduction.columns().next().expect("two columns");
    assert!(first.gap_after && !first.gap_before && !first.gap_within);
    assert_eq!(
        reduction.path(),
        [
            PathStep::MoveTo(sample(0, 1.0)),
            PathStep::MoveTo(sample(10, 2.0))
        ]
    );
}

#[test]
fn gap_marker_before_a_columns_points_breaks_on_its_left() {
    let points = [(0, 1.0), (10, f64::NAN), (15, 2.0)];
    let reduction = Reduction::from_points(&points, 0, 2, 10);

    let second = reduction.columns().nth(1).expect("two columns");
    assert!(second.gap_before && !second.gap_after);
    assert_eq!(second.summary.map(|s| s.count), Some(1));
    assert_eq!(
        reduction.path(),
        [
            PathStep::MoveTo(sample(0, 1.0)),
            PathStep::MoveTo(sample(15, 2.0))
        ]
    );
}

#[test]
fn gap_narrower_than_a_column_is_recorded_but_not_drawn() {
    let points = [(0, 1.0), (3, f64::NAN), (6, 2.0), (10, 3.0)];
    let reduction = Reduction::from_points(&points, 0, 2, 10);

    let first = reduction.columns().next().expect("two columns");
    assert!(first.gap_within && !first.gap_after && !first.gap_before);
    assert_eq!(first.summary.map(|s| s.count), Some(2));
    assert_eq!(
        reduction.path(),
        [
            PathStep::MoveTo(sample(0, 1.0)),
            PathStep::LineTo(sample(6, 2.0)),
            PathStep::LineTo(sample(10, 3.0)),
        ]
    );
}

#[test]
fn empty_columns_between_points_are_bridged() {
    let reduction = Reduction::from_points(&[(0, 1.0), (95, 2.0)], 0, 10, 10);
    assert_eq!(reduction.columns().len(), 2);
    assert_eq!(
        reduction.path(),
        [
            PathStep::MoveTo(sample(0, 1.0)),
            PathStep::LineTo(sample(95, 2.0))
        ]
    );
}

#[test]
fn older_point_is_refused_so_the_caller_can_recompute() {
    let mut reduction = Reduction::new(0, 10, 10);
    reduction.append(50, 1.0).expect("in order");
    reduction.append(50, 2.0).expect("same time is in order");

    assert_eq!(
        reduction.append(49, 3.0),
        Err(UpdateError::OutOfOrder { ts: 49, newest: 50 })
    );
    assert_eq!(reduction.columns().len(), 1);
}

#[test]
fn point_past_the_window_is_refused_until_the_window_shifts() {
    let mut reduction = Reduction::new(0, 10, 10);
    assert_eq!(
        reduction.append(100, 1.0),
        Err(UpdateError::AfterWindow { ts: 100, end: 100 })
    );

    reduction.shift_to(100 - 9 * 10).expect("a forward shift");
    assert_eq!(reduction.window(), (10, 110));
    reduction.append(100, 1.0).expect("now inside the window");
}

#[test]
fn point_before_the_window_is_ignored() {
    let mut reduction = Reduction::new(100, 10, 10);
    reduction.append(99, 1.0).expect("ignored, not refused");
    assert_eq!(reduction.columns().len(), 0);
}

#[test]
fn shifting_back_is_refused() {
    let mut reduction = Reduction::new(100, 10, 10);
    reduction
        .shift_to(105)
        .expect("the same column is not a move back");
    assert_eq!(
        reduction.shift_to(99),
        Err(UpdateError::ShiftBackwards {
            current: 10,
            requested: 9
        })
    );
}

#[test]
fn column_width_rounds_up_so_the_span_fits() {
    assert_eq!(column_ms_for(1_000, 100), 10);
    assert_eq!(column_ms_for(1_001, 100), 11);
    assert_eq!(column_ms_for(5, 100), 1);
    assert_eq!(column_ms_for(0, 0), 1);
    assert_eq!(column_ms_for(i64::MAX, 1), i64::MAX);
}

/// A random window (its width, column width and start) over random points
/// (markers, repeated times and jumps among them).
struct Case {
    width: usize,
    column_ms: i64,
    from: i64,
    points: Vec<(i64, f64)>,
}

fn random_case(rng: &mut XorShift) -> Case {
    let width = 1 + rng.below(40) as usize;
    let column_ms = 1 + rng.below(30) as i64;
    let count = rng.below(400) as usize;
    let points = random_points(rng, count);
    let first = points.first().map_or(0, |p| p.0);
    let from = first - 50 + rng.below(400) as i64;
    Case {
        width,
        column_ms,
        from,
        points,
    }
}

#[test]
fn reading_in_place_with_gap_markers_matches_reducing_the_marked_copy() {
    let mut rng = XorShift(0x5EED_CAFE);
    for _ in 0..300 {
        let Case {
            width,
            column_ms,
            from,
            mut points,
        } = random_case(&mut rng);
        // Finite values only: a line holds no markers of its own.
        points.retain(|p| p.1.is_finite());
        let gap = rng.chance(4).then(|| 1 + rng.below(60) as i64);
        let marked = match gap {
            Some(gap) => crate::chart::mark_gaps(&points, gap),
            None => points.clone(),
        };
        let expected = Reduction::from_points(&marked, from, width, column_ms);
        // From the point just before the window (which may start a column
        // before `from`), as a line hands them over.
        let before = points
            .partition_point(|p| p.0 < from - column_ms)
            .saturating_sub(1);
        let read = Reduction::from_iter(
            points[before..].iter().copied(),
            gap,
            from,
            width,
            column_ms,
        );
        assert_eq!(
            read, expected,
            "from {from}, width {width}, column {column_ms} ms, gap {gap:?}"
        );
    }
}

#[test]
fn reading_in_place_takes_gap_markers_in_the_points_as_reducing_them_does() {
    let mut rng = XorShift(0xFEED_BEEF);
    for _ in 0..300 {
        let Case {
            width,
            column_ms,
            from,
            points,
        } = random_case(&mut rng);
        let expected = Reduction::from_points(&points, from, width, column_ms);
        let read = Reduction::from_iter(points.iter().copied(), None, from, width, column_ms);
        assert_eq!(
            read, expected,
            "from {from}, width {width}, column {column_ms} ms"
        );
    }
}

#[test]
fn runs_of_points_in_pieces_reduce_as_one_point_at_a_time() {
    let mut rng = XorShift(0xC0FF_EE00);
    for _ in 0..500 {
        let Case {
            width,
            column_ms,
            from,
            mut points,
        } = random_case(&mut rng);
        // Now and then a point out of order.
        for point in points.iter_mut().skip(1) {
            if rng.chance(15) {
                point.0 -= rng.below(50) as i64;
            }
        }
        let gap = rng.chance(2).then(|| 1 + rng.below(60) as i64);
        let expected = Reduction::from_iter(points.iter().copied(), gap, from, width, column_ms);
        // In two pieces, as a ring holds them.
        let cut = rng.below(points.len() as u64 + 1) as usize;
        let mut reducer = Reducer::new(gap, from, width, column_ms);
        for part in [&points[..cut], &points[cut..]] {
            if !reducer.push_run(part, |&p| p) {
                break;
            }
        }
        assert_eq!(
            reducer.finish(),
            expected,
            "from {from}, width {width}, column {column_ms} ms, gap {gap:?}, cut {cut}"
        );
    }
}
