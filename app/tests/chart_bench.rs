//! The chart's redraw time in headless Chromium, the figure BENCHMARKS.md
//! sets beside uPlot's (`scripts/chart-bench.sh` runs both on the same
//! machine in the same browser). Ignored by the test command: run with
//! `--include-ignored --nocapture`; it prints one `chart-bench` line per
//! case with the median and the 95th percentile of the redraws, in ms.
//!
//! A redraw here is everything the page does per frame for one chart:
//! reading each line's points, the per-pixel reduction, the ticks, and
//! plotters' calls on the 2D context of an 800 x 300 canvas at device pixel
//! ratio 1.

#![cfg(all(target_arch = "wasm32", feature = "hydrate"))]

use app::{chart::Line, widgets::bench_draw};
use wasm_bindgen::JsCast;
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

/// The median and 95th percentile of `runs` redraws, after a warm-up.
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
        bench_draw(canvas, lines, from, to).unwrap();
    }
    let mut took: Vec<f64> = (0..runs)
        .map(|_| {
            let start = performance.now();
            bench_draw(canvas, lines, from, to).unwrap();
            performance.now() - start
        })
        .collect();
    took.sort_by(f64::total_cmp);
    (took[runs / 2], took[(runs * 95 / 100).min(runs - 1)])
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
    for (name, lines, runs) in cases {
        let (median, p95) = time(&canvas, &lines, runs);
        console_log!("chart-bench livedash | {name} | median {median:.1} ms | p95 {p95:.1} ms");
    }
}
