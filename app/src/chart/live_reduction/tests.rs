//! A reduction kept from frame to frame against one made from scratch:
//! they must always agree, and the kept one must actually be kept (folding
//! in only what arrived) whenever the line merely grew.

use super::*;
use crate::chart::reduce::tests::XorShift;

/// Brings `kept` up to `frame` and checks it against a reduction from
/// scratch; returns whether it went on from the last frame.
fn check(kept: &mut LiveReduction, line: &Line, frame: ReduceTo, context: &str) -> bool {
    let resumed = kept.update(line, frame);
    let mut fresh = LiveReduction::new(line, frame);
    assert_eq!(
        kept.reduction(),
        fresh.reduction(),
        "{context}: {frame:?}, resumed {resumed}"
    );
    resumed
}

#[test]
fn a_live_line_is_reduced_a_few_points_at_a_time_and_matches_a_full_recompute() {
    let mut rng = XorShift(0x11FE_0001);
    let (mut updates, mut resumed) = (0, 0);
    for case in 0..300 {
        let stepped = rng.chance(6);
        let step_ms = stepped.then(|| 5 + rng.below(40) as i64);
        let capacity = 5 + rng.below(300) as usize;
        let span_ms = 50 + rng.below(5_000) as i64;
        let mut line = Line::new(step_ms, span_ms, capacity);
        let connect = rng.chance(5);
        let mut width = 1 + rng.below(40) as usize;
        let mut column_ms = 1 + rng.below(30) as i64;
        let mut ts = rng.below(1_000) as i64 - 500;
        let mut kept: Option<LiveReduction> = None;
        let mut lag = rng.below(50) as i64;
        // How far the window reaches past the newest point, in percent of
        // its span: a live chart's ends at now, after the newest point.
        let lead = rng.below(60) as i64;
        for frame_no in 0..80 {
            // What arrived since the last frame: a few points, now and
            // then after a silence (a gap), with jittery spacing.
            for _ in 0..rng.below(12) {
                ts += if rng.chance(25) {
                    50 + rng.below(500) as i64
                } else {
                    1 + rng.below(12) as i64
                };
                let value = rng.below(1_000) as f64 - 500.0;
                line.push(ts, value);
            }
            // Now and then the line is replaced by one like it (a fresh
            // history answer), the window jumps back (a zoom), or the
            // chart is resized.
            if rng.chance(30) {
                line = line.clone();
            }
            if rng.chance(30) {
                lag += 20 + rng.below(200) as i64;
            }
            if rng.chance(40) {
                width = 1 + rng.below(40) as usize;
            }
            if rng.chance(40) {
                column_ms = 1 + rng.below(30) as i64;
            }
            let newest = line.newest_ts().unwrap_or(ts);
            let span = i64::try_from(width).unwrap() * column_ms;
            let frame = ReduceTo {
                gap_ms: if connect { None } else { line.gap_ms() },
                from: newest - span + 1 - lag + span * lead / 100,
                width,
                column_ms,
            };
            let context = format!("case {case}, frame {frame_no}");
            match &mut kept {
                Some(kept) => {
                    updates += 1;
                    if check(kept, &line, frame, &context) {
                        resumed += 1;
                    }
                }
                None => {
                    kept = Some(LiveReduction::new(&line, frame));
                }
            }
            // The window catches up with live time again.
            lag = lag * 2 / 3;
        }
    }
    // Most frames only add points: those must not start over, or the
    // reduction is not incremental at all.
    assert!(
        resumed * 2 > updates,
        "{resumed} of {updates} frames went on from the last"
    );
}

#[test]
fn a_second_a_frame_for_a_minute_folds_in_only_the_new_point() {
    let mut line = Line::new(None, 600_000, 10_000);
    for s in 0..600 {
        line.push(s * 1_000, (s % 7) as f64);
    }
    let frame = |now: i64| ReduceTo {
        gap_ms: line_gap(),
        from: now - 300_000,
        width: 300,
        column_ms: 1_000,
    };
    fn line_gap() -> Option<i64> {
        Some(3_000)
    }
    let mut kept = LiveReduction::new(
        &line,
        ReduceTo {
            from: 299_000,
            ..frame(0)
        },
    );
    for s in 600..660 {
        line.push(s * 1_000, (s % 7) as f64);
        assert!(check(&mut kept, &line, frame(s * 1_000), "live"));
    }
    // A silence of a minute, then points again: the gap is kept as it
    // came, and the window's columns still match.
    line.push(720_000, 1.0);
    assert!(check(&mut kept, &line, frame(720_000), "after a silence"));
    assert!(kept
        .reduction()
        .columns()
        .any(|column| column.gap_before || column.gap_after));
}

#[test]
fn whatever_changes_the_picture_otherwise_starts_over() {
    let mut line = Line::new(None, 600_000, 100);
    for s in 0..50 {
        line.push(s * 1_000, s as f64);
    }
    let at = |from: i64| ReduceTo {
        gap_ms: Some(3_000),
        from,
        width: 100,
        column_ms: 1_000,
    };
    let mut kept = LiveReduction::new(&line, at(0));
    assert!(check(&mut kept, &line, at(0), "nothing new"));
    // The window moves back: the columns there were never reduced.
    assert!(!check(&mut kept, &line, at(-5_000), "back"));
    // Another column width (a resize or a zoom).
    let wider = ReduceTo {
        column_ms: 2_000,
        ..at(0)
    };
    assert!(!check(&mut kept, &line, wider, "resized"));
    assert!(!check(&mut kept, &line, at(0), "resized back"));
    // A line made anew holds another id, even with the same points.
    let copy = line.clone();
    assert!(!check(&mut kept, &copy, at(0), "replaced"));
    // Its capacity drops points inside the window: their columns are
    // reduced again, the others kept.
    let mut line = copy;
    for s in 50..120 {
        line.push(s * 1_000, s as f64);
    }
    assert!(check(&mut kept, &line, at(0), "points dropped in view"));
    // Dropped points that were all before the window are harmless.
    line.push(120_000, 1.0);
    assert!(check(&mut kept, &line, at(30_000), "dropped before view"));
    // A spacing that would judge a seen interval otherwise.
    let tighter = ReduceTo {
        gap_ms: Some(500),
        ..at(30_000)
    };
    assert!(!check(&mut kept, &line, tighter, "tighter gaps"));
    // A looser spacing that judges every seen interval alike goes on.
    let looser = ReduceTo {
        gap_ms: Some(600),
        ..at(30_000)
    };
    line.push(121_000, 2.0);
    assert!(check(&mut kept, &line, looser, "looser gaps"));
}

#[test]
fn a_bucket_changed_in_place_is_reduced_again() {
    let mut line = Line::new(Some(10_000), 600_000, 100);
    line.push(1_000, 1.0);
    line.push(11_000, 1.0);
    let frame = ReduceTo {
        gap_ms: None,
        from: 0,
        width: 10,
        column_ms: 10_000,
    };
    let mut kept = LiveReduction::new(&line, frame);
    // The open bucket's mean moves: the same id would keep the old value.
    line.push(12_000, 100.0);
    assert!(!check(&mut kept, &line, frame, "folded"));
    line.push(21_000, 5.0);
    check(&mut kept, &line, frame, "a new bucket");
}
