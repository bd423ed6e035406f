//! The demo source (`--demo`): business-like series with a daily shape,
//! noise and now and then an incident, so a first run shows a lively
//! dashboard with history even on an idle machine.
//!
//! | series | kind | labels |
//! |---|---|---|
//! | `demo_active_users` | gauge | |
//! | `demo_orders_total` | counter | `region` (eu, us, apac) |
//! | `demo_revenue_dollars_total` | counter | `region` |
//! | `demo_http_errors_ratio` | gauge (0 to 1) | |
//! | `demo_http_request_duration_seconds` | gauge | `quantile` (0.5, 0.95, 0.99) |
//! | `demo_queue_depth` | gauge | |
//!
//! Every value is a function of its timestamp alone ([`values_at`], in
//! `shape.rs`: a daily curve, hashed noise, incidents, counters as the
//! integral of their rate). So
//! the 24 hours written at first start ([`BACKFILL_MS`], at
//! [`BACKFILL_STEP_MS`] or the sample interval if longer) and the live
//! samples after them are one series with no step, and a restart fills
//! the gap since the newest stored demo sample (at most a day back), then
//! goes on live. Samples sit on multiples of the interval, and the live
//! loop writes only times after everything stored, since the store refuses
//! a sample that does not follow its series' newest; a refusal would be a
//! bug and is logged. The history is written on a blocking thread, in
//! batches, with short catch-up passes for the time writing it took, and
//! stops between batches when the server shuts down.

mod shape;

use std::time::Duration;

use tokio::task::JoinHandle;

pub use shape::{daily, incident, values_at, SERIES, USERS};

use super::live;
use crate::{
    hub::{now_ms, Hub},
    shutdown::Shutdown,
    store::{chunk::Sample, Ingested, Mode, Point, Store},
};

/// How far back the first start writes history.
pub const BACKFILL_MS: i64 = 24 * 3_600_000;
/// The finest step of that history.
pub const BACKFILL_STEP_MS: i64 = 10_000;
/// Points per backfill batch.
const BATCH_POINTS: usize = 5_000;

fn points_at(ts: i64) -> Vec<Point> {
    values_at(ts)
        .into_iter()
        .map(|(key, value)| Point {
            key,
            sample: Sample { ts, value },
        })
        .collect()
}

/// The newest demo sample stored, if any (within the window a backfill
/// would cover: an older one changes nothing).
fn newest_stored(store: &Store, now: i64) -> Option<i64> {
    store
        .select(USERS, &[], now.saturating_sub(BACKFILL_MS), i64::MAX, 1)
        .ok()?
        .into_iter()
        .next()?
        .1
        .last()
        .map(|s| s.ts)
}

/// The times a start at `now` writes as history, on the grid of `step`:
/// from a step inside the last [`BACKFILL_MS`] (so the store's retention
/// keeps the first point too), or from just after `newest` (the newest demo
/// sample stored) if that is later, up to `now`. Empty (`first > last`)
/// when there is nothing to fill, as when the clock went back.
pub fn backfill_range(newest: Option<i64>, now: i64, step: i64) -> (i64, i64) {
    let step = step.max(1);
    let window_start = now.saturating_sub(BACKFILL_MS).saturating_add(step);
    let first = match newest {
        Some(newest) => newest.saturating_add(1).max(window_start),
        None => window_start,
    };
    let first = first.saturating_add((step - first.rem_euclid(step)) % step);
    (first, now)
}

/// Logs what the store did not take of a demo batch: with every value a
/// function of its time and every time written once, a refusal is a bug
/// (or a clock that went back), never something to pass over.
fn log_refused(result: &Ingested, what: &str) {
    if let Some(first) = result.refused.first() {
        tracing::warn!(
            refused = result.refused.len(),
            reason = %first.reason,
            "the store refused {what}"
        );
    }
}

/// What a backfill wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Backfilled {
    /// The last time stored, if any.
    last: Option<i64>,
    /// Points the store refused (logged).
    refused: usize,
}

/// Stores the points of every time from `from` to `to` (inclusive) at
/// `step`, in batches of about [`BATCH_POINTS`], and stops early if
/// `shutdown` fires.
fn backfill(store: &Store, from: i64, to: i64, step: i64, shutdown: &Shutdown) -> Backfilled {
    let mut batch = Vec::with_capacity(BATCH_POINTS + SERIES);
    let mut done = Backfilled::default();
    let mut ts = from;
    while ts <= to {
        batch.extend(points_at(ts));
        ts += step;
        if batch.len() >= BATCH_POINTS || ts > to {
            match store.ingest(&batch, Mode::Partial, now_ms()) {
                Ok(result) => {
                    log_refused(&result, "demo history");
                    done.refused += result.refused.len();
                }
                Err(error) => {
                    tracing::error!(%error, "cannot store the demo's history");
                    return done;
                }
            }
            done.last = batch.last().map(|p| p.sample.ts);
            batch.clear();
            if shutdown.is_triggered() {
                break;
            }
        }
    }
    done
}

/// Starts the demo: history first (in the background: the server does not
/// wait), then a sample every `interval` until shutdown. The task returned
/// ends soon after `shutdown` fires, a backfill under way included (it
/// stops after the batch it is writing).
pub fn start(hub: Hub, store: Store, interval: Duration, shutdown: Shutdown) -> JoinHandle<()> {
    let interval_ms = i64::try_from(interval.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    tokio::spawn(async move {
        let history = {
            let store = store.clone();
            let shutdown = shutdown.clone();
            tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                let step = interval_ms.max(BACKFILL_STEP_MS);
                let newest = newest_stored(&store, now_ms());
                // Writing a day takes a while: a second, shorter pass (and
                // a third) fills what passed meanwhile, so live samples
                // follow the history with no hole wider than a step.
                let mut written = newest;
                let mut points: i64 = 0;
                let mut from = None;
                for _ in 0..3 {
                    let (first, last) = backfill_range(written, now_ms(), step);
                    if first > last || shutdown.is_triggered() {
                        break;
                    }
                    from = from.or(Some(first));
                    let done = backfill(&store, first, last, step, &shutdown);
                    let Some(done_last) = done.last else { break };
                    points += ((done_last - first) / step + 1) * SERIES as i64;
                    written = Some(done_last);
                }
                tracing::info!(
                    from,
                    to = written,
                    points,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "demo history written"
                );
                // Live samples go strictly after anything stored (the
                // newest stored one too, should the clock have gone back).
                written
            })
            .await
        };
        let mut written = match history {
            Ok(written) => written.unwrap_or(i64::MIN),
            Err(error) => {
                tracing::error!(%error, "the demo's history task failed");
                i64::MIN
            }
        };
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stop = shutdown.wait();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                // Cancel safety: both are (a tick missed is taken at the
                // next call; `stop` is polled again, not recreated).
                _ = ticker.tick() => {}
                () = &mut stop => break,
            }
            let now = now_ms();
            let ts = now - now.rem_euclid(interval_ms);
            if ts <= written {
                continue;
            }
            let points = points_at(ts);
            match store.ingest(&points, Mode::Partial, now) {
                Ok(result) => {
                    log_refused(&result, "a demo sample");
                    live::publish_stored(&hub, &points, &result);
                    written = ts;
                }
                Err(error) => tracing::error!(%error, "cannot store a demo sample"),
            }
        }
        tracing::debug!("demo source stopped");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    /// A Tuesday, 00:00 UTC.
    const TUESDAY: i64 = 1_795_478_400_000;
    const STEP: i64 = BACKFILL_STEP_MS;

    #[test]
    fn a_first_start_fills_the_last_day_on_the_step_grid() {
        let now = TUESDAY + 12 * 3_600_000 + 4_321;
        let (first, last) = backfill_range(None, now, STEP);
        assert_eq!(last, now);
        assert_eq!(first.rem_euclid(STEP), 0);
        assert!(first > now - BACKFILL_MS && first <= now - BACKFILL_MS + 2 * STEP);
        assert_eq!((last - first) / STEP + 1, 8_639);
    }

    #[test]
    fn a_restart_fills_only_after_the_newest_stored_point_and_at_most_a_day() {
        let now = TUESDAY + 12 * 3_600_000;
        // A live sample a second apart: the next grid time after it.
        let (first, _) = backfill_range(Some(now - 95_001), now, STEP);
        assert_eq!(first, now - 90_000);
        let (first, _) = backfill_range(Some(now - 90_000), now, STEP);
        assert_eq!(first, now - 80_000, "never the newest stored time again");
        // Down for a week: one day back only.
        let (first, _) = backfill_range(Some(now - 7 * DAY), now, STEP);
        assert_eq!(first, backfill_range(None, now, STEP).0);
    }

    #[test]
    fn a_clock_that_went_back_fills_nothing() {
        let now = TUESDAY;
        let (first, last) = backfill_range(Some(now + 60_000), now, STEP);
        assert!(first > last);
    }

    struct TempDir(std::path::PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn history_then_a_restart_store_every_time_once_with_no_refusal() {
        let dir =
            TempDir(std::env::temp_dir().join(format!("livedash-demo-{}", std::process::id())));
        let _ = std::fs::remove_dir_all(&dir.0);
        let open = || {
            Store::open(&crate::store::StoreConfig::new(dir.0.clone()))
                .expect("a store in a temp dir")
                .0
        };
        let (_trigger, shutdown) = crate::shutdown::channel();
        let now = now_ms();
        let store = open();
        let (first, last) = backfill_range(newest_stored(&store, now), now, STEP);
        let done = backfill(&store, first, last, STEP, &shutdown);
        assert_eq!(done.refused, 0);
        let written = done.last.expect("a day written");
        // Live samples a second apart, then a restart a minute later.
        let mut live = written;
        for _ in 0..5 {
            live += 1_000;
            let result = store
                .ingest(&points_at(live), Mode::All, now_ms())
                .expect("stored");
            assert!(result.refused.is_empty(), "{:?}", result.refused);
        }
        drop(store);
        let store = open();
        let newest = newest_stored(&store, now + 60_000);
        assert_eq!(newest, Some(live));
        let (first, last) = backfill_range(newest, now + 60_000, STEP);
        let done = backfill(&store, first, last, STEP, &shutdown);
        assert_eq!(done.refused, 0);
        assert!(done.last.is_some_and(|l| l > live), "the gap is filled");
        let history = store
            .select(USERS, &[], 0, i64::MAX, 1)
            .expect("a selection");
        let times: Vec<i64> = history[0].1.iter().map(|s| s.ts).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "no time twice");
        assert!(times.len() >= 8_639 + 5 + 5, "{}", times.len());
    }

    #[test]
    fn a_backfill_stops_when_shutdown_has_fired() {
        let dir = TempDir(
            std::env::temp_dir().join(format!("livedash-demo-stop-{}", std::process::id())),
        );
        let _ = std::fs::remove_dir_all(&dir.0);
        let store = Store::open(&crate::store::StoreConfig::new(dir.0.clone()))
            .expect("a store in a temp dir")
            .0;
        let (trigger, shutdown) = crate::shutdown::channel();
        trigger.trigger();
        let now = now_ms();
        let (first, last) = backfill_range(None, now, STEP);
        let written = backfill(&store, first, last, STEP, &shutdown)
            .last
            .expect("one batch");
        // One batch of about BATCH_POINTS points, not the day.
        assert!(written < first + 1_000 * STEP, "{written} vs {first}");
    }
}
