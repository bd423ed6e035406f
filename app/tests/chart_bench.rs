//! The chart's redraw time in headless Chromium, the figure BENCHMARKS.md
//! sets beside uPlot's (`scripts/chart-bench.sh` runs both on the same
//! machine in the same browser). Ignored by the test command: run with
//! `--include-ignored --nocapture`; it prints one `chart-bench` line per
//! case with the median and the 95th percentile of the redraws, in ms.
//!
//! A redraw here is everything the page does per frame for one chart:
//! reading each line's points, the per-pixel reduction, the ticks, and
//! plotters' calls on the 2D context of an 800 x 300 canvas at device pixel
//! ratio 1. The plain cases draw from scratch each time (nothing carried
//! from the last frame); the live ones append a point to every line before
//! each frame, scroll the window with it and go on from the last frame's
//! reductions, as the page does.
//!
//! `fifty_charts` mounts 50 of the page's chart widgets, every one on
//! screen, and feeds the store 2,000 series events a second for 10 s, as
//! the live client would: it prints the frame intervals the browser
//! achieved (from `requestAnimationFrame`; 16.7 ms is 60 fps) and how many
//! times the charts were drawn.

#![cfg(all(target_arch = "wasm32", feature = "hydrate"))]

mod support;

use app::{
    chart::Line,
    ui::{time::DEFAULT_RANGE, LiveStore},
    widgets::bench_draw,
};
use leptos::prelude::*;
use support::{grid, percentile, point, sleep, views, Charts};
use wasm_bindgen::{closure::Closure, JsCast};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A canvas of the page's chart size, in the document.
fn canvas() -> web_sys::HtmlCanvasElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let canvas: web_sys::HtmlCanvasElement =
        document.create_element("canvas").unwrap().unchecked_into();
    canvas
        .set_attribute("style", "width: 800px; height: 300px; display: block")
        .unwrap();
    document.body().unwrap().append_child(&canvas).unwrap();
    canvas
}

/// `count` points one second apart, a noisy wave (as uPlot's bench draws).
fn line(count: usize, seed: u64) -> Line {
    let mut line = Line::new(None, i64::MAX / 4, count);
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    for i in 0..count {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let noise = (state >> 33) as f64 / f64::from(u32::MAX);
        let value = 50.0 + 30.0 * (i as f64 / 300.0).sin() + 10.0 * noise;
        line.push(i as i64 * 1_000, value);
    }
    line
}

/// The median and 95th percentile of `took`.
fn spread(mut took: Vec<f64>) -> (f64, f64) {
    took.sort_by(f64::total_cmp);
    let runs = took.len();
    (took[runs / 2], took[(runs * 95 / 100).min(runs - 1)])
}

/// The median and 95th percentile of `runs` frames of a live chart, after
/// a warm-up: each appends a point a second after the newest to every line
/// (its oldest dropping off), moves the window to end there, and redraws.
fn time_live(canvas: &web_sys::HtmlCanvasElement, lines: &mut [Line], runs: usize) -> (f64, f64) {
    let performance = web_sys::window().unwrap().performance().unwrap();
    let mut kept = Vec::new();
    let mut took = Vec::with_capacity(runs);
    for run in 0..runs + 3 {
        let start = performance.now();
        let mut to = 0;
        let mut span = 0;
        for line in lines.iter_mut() {
            let (oldest, newest) = (line.oldest_ts().unwrap(), line.newest_ts().unwrap());
            to = newest + 1_000;
            span = newest - oldest;
            line.push(to, 50.0 + (run % 10) as f64);
        }
        bench_draw(canvas, lines, to - span, to, &mut kept).unwrap();
        if run >= 3 {
            took.push(performance.now() - start);
        }
    }
    spread(took)
}

/// The median and 95th percentile of `runs` redraws from scratch, after a
/// warm-up.
fn time(canvas: &web_sys::HtmlCanvasElement, lines: &[Line], runs: usize) -> (f64, f64) {
    let performance = web_sys::window().unwrap().performance().unwrap();
    let to = lines
        .iter()
        .filter_map(Line::newest_ts)
        .max()
        .unwrap_or_default();
    let from = lines
        .iter()
        .filter_map(Line::oldest_ts)
        .min()
        .unwrap_or_default();
    for _ in 0..3 {
        bench_draw(canvas, lines, from, to, &mut Vec::new()).unwrap();
    }
    let took: Vec<f64> = (0..runs)
        .map(|_| {
            let start = performance.now();
            bench_draw(canvas, lines, from, to, &mut Vec::new()).unwrap();
            performance.now() - start
        })
        .collect();
    spread(took)
}

#[wasm_bindgen_test]
#[ignore = "a benchmark: scripts/chart-bench.sh runs it"]
fn redraw() {
    let canvas = canvas();
    let cases: [(&str, Vec<Line>, usize); 2] = [
        (
            "4 series x 3,600 points",
            (0..4).map(|s| line(3_600, s)).collect(),
            50,
        ),
        ("1 series x 1,000,000 points", vec![line(1_000_000, 9)], 15),
    ];
    for (name, mut lines, runs) in cases {
        let (median, p95) = time(&canvas, &lines, runs);
        console_log!("chart-bench livedash | {name} | median {median:.1} ms | p95 {p95:.1} ms");
        let (median, p95) = time_live(&canvas, &mut lines, runs * 4);
        console_log!(
            "chart-bench livedash | {name}, live | median {median:.1} ms | p95 {p95:.1} ms"
        );
    }
}

#[wasm_bindgen_test]
#[ignore = "a benchmark: scripts/chart-bench.sh runs it"]
async fn fifty_charts() {
    const CHARTS: usize = 50;
    const EVENTS_PER_SECOND: usize = 2_000;
    const SECONDS: usize = 10;
    let now = js_sys::Date::now() as i64;
    let charts = Charts::new(CHARTS, now);
    let container = grid();
    let owner = Owner::new();
    owner.set();
    let store = LiveStore::new(&charts.bootstrap);
    let series = charts.bootstrap.series.clone();
    let handle = support::mount(&container, store, DEFAULT_RANGE.span_ms(), now, move || {
        views(&series)
    });
    sleep(500).await;

    // The browser's frames, timed by requestAnimationFrame.
    let frames = std::rc::Rc::new(std::cell::RefCell::new(Vec::<f64>::new()));
    let running = std::rc::Rc::new(std::cell::Cell::new(true));
    let tick: std::rc::Rc<std::cell::RefCell<Option<FrameCallback>>> =
        std::rc::Rc::new(std::cell::RefCell::new(None));
    {
        let (frames, running, again) = (frames.clone(), running.clone(), tick.clone());
        *tick.borrow_mut() = Some(Closure::new(move |at: f64| {
            frames.borrow_mut().push(at);
            if running.get() {
                if let Some(callback) = again.borrow().as_ref() {
                    let _ = web_sys::window()
                        .unwrap()
                        .request_animation_frame(callback.as_ref().unchecked_ref());
                }
            }
        }));
    }
    let window = web_sys::window().unwrap();
    if let Some(callback) = tick.borrow().as_ref() {
        window
            .request_animation_frame(callback.as_ref().unchecked_ref())
            .unwrap();
    }

    // 2,000 events a second by the clock (however late the timers fire),
    // each a point of one chart's series; the store applies them once per
    // frame, as on the page.
    let performance = window.performance().unwrap();
    let start = performance.now();
    let mut sent = 0_usize;
    let mut seq = 1_u64;
    while performance.now() - start < (SECONDS * 1_000) as f64 {
        let due = ((performance.now() - start) * EVENTS_PER_SECOND as f64 / 1_000.0) as usize;
        let ts = js_sys::Date::now() as i64;
        while sent < due {
            seq += 1;
            let key = &charts.keys[sent % CHARTS];
            store.receive(point(
                seq,
                key,
                ts + (sent % 1_000) as i64,
                50.0 + 40.0 * ((seq % 100) as f64 / 100.0),
            ));
            sent += 1;
        }
        sleep(10).await;
    }
    let elapsed = (performance.now() - start) / 1_000.0;
    running.set(false);
    sleep(100).await;
    let at = frames.borrow().clone();
    let mut intervals: Vec<f64> = at.windows(2).map(|w| w[1] - w[0]).collect();
    let draws: u32 = (0..CHARTS)
        .filter_map(|i| {
            container
                .query_selector(&format!("[data-testid=c{i}-chart]"))
                .ok()
                .flatten()
                .and_then(|c| c.get_attribute("data-draws"))
                .and_then(|d| d.parse::<u32>().ok())
        })
        .sum();
    let frames_seen = intervals.len();
    let p50 = percentile(&mut intervals, 50);
    let p95 = percentile(&mut intervals, 95);
    console_log!(
        "chart-bench livedash | 50 charts, {sent} events in {elapsed:.1} s ({rate:.0}/s) | frames {frames_seen}, interval median {p50:.1} ms, p95 {p95:.1} ms | chart draws {draws}",
        rate = sent as f64 / elapsed
    );
    std::mem::forget(handle);
}

/// A `requestAnimationFrame` callback, given the frame's time.
type FrameCallback = Closure<dyn FnMut(f64)>;
