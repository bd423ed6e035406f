//! A page left open must not grow. These tests count what a dashboard of
//! the page's chart widgets (and, opened and left, its value cards) holds
//! in headless Chromium:
//!
//! - the Rust heap, exactly: this test binary's global allocator counts
//!   the bytes allocated and not yet freed;
//! - the WASM memory (it only ever grows, so a leak shows as growth);
//! - the JS heap after a forced garbage collection (`--js-flags=--expose-gc`
//!   in `webdriver.json`);
//! - the DOM nodes in the document.
//!
//! `opening_and_leaving_a_dashboard_200_times_returns_memory_to_its_baseline`
//! runs with every test. The soak, `fifty_charts_updating_every_second`,
//! runs for an hour and prints one line a minute: `scripts/chart-soak.sh`
//! runs it, and BENCHMARKS.md keeps its figures.
#![cfg(all(target_arch = "wasm32", feature = "hydrate"))]

mod support;

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicIsize, Ordering},
};

use app::ui::LiveStore;
use leptos::prelude::*;
use support::{cards, grid, point, sleep, views, Charts};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The system allocator, counting the bytes it holds for the program.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed to `System` unchanged; only the count is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grown = unsafe { System.realloc(ptr, layout, new_size) };
        if !grown.is_null() {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        grown
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What the page holds at one moment.
#[derive(Clone, Copy, Debug)]
struct Reading {
    /// Bytes the Rust side has allocated and not freed.
    rust_heap: isize,
    /// The WASM instance's linear memory.
    wasm_memory: u32,
    /// The JS heap in use (Chromium's `performance.memory`).
    js_heap: f64,
    /// Elements in the document.
    dom_nodes: u32,
    /// JS values the Rust side holds (wasm-bindgen's table of them): a
    /// handle never dropped shows here before it shows in the JS heap.
    js_values: u32,
    /// Calls to `console.*` so far (the test harness keeps what is
    /// written there: a page that writes on every event grows its heap).
    console_calls: u32,
}

impl std::fmt::Display for Reading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rust heap {:.1} KiB | wasm memory {:.1} MiB | js heap {:.2} MiB | dom nodes {} | js values held {} | console calls {}",
            self.rust_heap as f64 / 1024.0,
            f64::from(self.wasm_memory) / 1_048_576.0,
            self.js_heap / 1_048_576.0,
            self.dom_nodes,
            self.js_values,
            self.console_calls
        )
    }
}

fn dom_nodes() -> u32 {
    web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .get_elements_by_tag_name("*")
        .length()
}

/// Collects the JS garbage, lets pending frames and timers run, and reads.
async fn settled_reading() -> Reading {
    let window = web_sys::window().unwrap();
    let gc = js_sys::Reflect::get(&window, &JsValue::from_str("gc"))
        .ok()
        .and_then(|gc| gc.dyn_into::<js_sys::Function>().ok())
        .expect("webdriver.json starts Chromium with --js-flags=--expose-gc");
    sleep(50).await;
    gc.call0(&JsValue::NULL).unwrap();
    sleep(50).await;
    let performance = window.performance().unwrap();
    let js_heap = js_sys::Reflect::get(&performance, &JsValue::from_str("memory"))
        .and_then(|memory| js_sys::Reflect::get(&memory, &JsValue::from_str("usedJSHeapSize")))
        .ok()
        .and_then(|used| used.as_f64())
        .unwrap_or_default();
    let wasm_memory = wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length();
    Reading {
        rust_heap: LIVE_BYTES.load(Ordering::Relaxed),
        wasm_memory,
        js_heap,
        dom_nodes: dom_nodes(),
        js_values: wasm_bindgen::externref_heap_live_count(),
        console_calls: js_sys::Reflect::get(&window, &JsValue::from_str("__consoleCalls"))
            .ok()
            .and_then(|n| n.as_f64())
            .unwrap_or_default() as u32,
    }
}

/// Counts what the page writes to the console from here on (see
/// `Reading::console_calls`).
fn count_console() {
    let _ = js_sys::eval(
        "window.__consoleCalls = 0; for (const m of ['log', 'warn', 'error', 'info', 'debug']) { \
         const write = console[m]; console[m] = (...args) => { window.__consoleCalls++; return write.apply(console, args); }; }",
    );
}

/// Whether any mounted widget still follows a series.
fn follows_series(store: &LiveStore) -> bool {
    let interest = untrack(|| store.interest());
    interest.channels.contains("series")
        && interest
            .filters
            .get("series")
            .is_none_or(|keys| !keys.is_empty())
}

#[wasm_bindgen_test]
async fn opening_and_leaving_a_dashboard_200_times_returns_memory_to_its_baseline() {
    const CHARTS: usize = 8;
    const CYCLES: u64 = 200;
    // Allocations that are caches filled once (interned strings, the
    // reactive arena's slots) settle in the first cycles; measured after them.
    const WARM_UP: u64 = 10;
    let now = js_sys::Date::now() as i64;
    let charts = Charts::new(CHARTS, now);
    let owner = Owner::new();
    owner.set();
    let store = LiveStore::new(&charts.bootstrap);
    let container = grid();
    let mut baseline = None;
    let nodes_before = dom_nodes();
    let mut seq = 1;
    // The page stays; the dashboard in it opens and goes, as a switch
    // between dashboards does.
    let open = RwSignal::new(false);
    let series = charts.bootstrap.series.clone();
    let _page = support::mount(&container, store, 60_000, now, move || {
        move || open.get().then(|| (views(&series), cards(&series)))
    });
    for cycle in 0..CYCLES {
        open.set(true);
        sleep(20).await;
        assert!(
            follows_series(&store),
            "an open dashboard follows its series"
        );
        // Live points while it is open: drawn, kept in its lines.
        for key in &charts.keys {
            seq += 1;
            store.receive(point(seq, key, now + 500 + cycle as i64, 42.0));
        }
        sleep(20).await;
        open.set(false);
        sleep(10).await;
        if cycle + 1 == WARM_UP {
            baseline = Some(settled_reading().await);
        }
    }
    let end = settled_reading().await;
    let baseline = baseline.expect("measured after the warm-up");
    let message = format!("after {WARM_UP} cycles: {baseline}; after {CYCLES}: {end}");
    console_log!("memory | open and leave {CHARTS} charts and {CHARTS} value cards | {message}");
    assert_eq!(
        end.dom_nodes, nodes_before,
        "every node is removed: {message}"
    );
    assert!(
        !follows_series(&store),
        "no chart follows a series after it left"
    );
    assert_eq!(
        app::widgets::frames_held(),
        0,
        "no canvas (nor its lines' reductions) is held after its chart left"
    );
    // A chart that left anything behind (a closure, a line, a listener's
    // state) leaves it 190 times: well past these margins.
    assert!(
        end.rust_heap - baseline.rust_heap < 16 * 1024,
        "the Rust heap is back at its baseline: {message}"
    );
    assert!(
        end.js_heap - baseline.js_heap < 1_048_576.0,
        "the JS heap is back at its baseline: {message}"
    );
}

#[wasm_bindgen_test]
#[ignore = "an hour long: scripts/chart-soak.sh runs it"]
async fn fifty_charts_updating_every_second() {
    const CHARTS: usize = 50;
    // A dashboard's usual range (LIVEDASH_SOAK_SPAN, minutes, default
    // 15): the lines fill for that long, then each point in drops the
    // oldest.
    let span_ms: i64 = option_env!("LIVEDASH_SOAK_SPAN")
        .and_then(|m| m.parse::<i64>().ok())
        .filter(|m| (1..=24 * 60).contains(m))
        .unwrap_or(15)
        * 60_000;
    let minutes: u32 = option_env!("LIVEDASH_SOAK_MINUTES")
        .and_then(|m| m.parse().ok())
        .unwrap_or(60);
    // Points a second into each chart (LIVEDASH_SOAK_RATE, default 1).
    let rate: i64 = option_env!("LIVEDASH_SOAK_RATE")
        .and_then(|r| r.parse().ok())
        .filter(|r| (1..=1_000).contains(r))
        .unwrap_or(1);
    count_console();
    let now = js_sys::Date::now() as i64;
    let charts = Charts::new(CHARTS, now);
    let owner = Owner::new();
    owner.set();
    let store = LiveStore::new(&charts.bootstrap);
    let container = grid();
    // LIVEDASH_SOAK_HIDDEN: the charts mounted and fed but never drawn (off
    // screen), to tell what drawing costs from what the rest does.
    if option_env!("LIVEDASH_SOAK_HIDDEN").is_some_and(|v| !v.is_empty()) {
        let _ = container.style().set_property("display", "none");
    }
    let series = charts.bootstrap.series.clone();
    let dashboard = support::mount(&container, store, span_ms, now, move || views(&series));
    let performance = web_sys::window().unwrap().performance().unwrap();
    let start = performance.now();
    let mut seq = 1;
    let mut readings = vec![settled_reading().await];
    console_log!("chart-soak | minute 0 | {}", readings[0]);
    for second in 1..=u64::from(minutes) * 60 {
        let ts = js_sys::Date::now() as i64;
        for step in 0..rate {
            let ts = ts - 1_000 + (step + 1) * 1_000 / rate;
            for (i, key) in charts.keys.iter().enumerate() {
                seq += 1;
                let phase = (ts as f64 / 30_000.0 + i as f64).sin();
                store.receive(point(seq, key, ts, 50.0 + 40.0 * phase));
            }
        }
        if second % 60 == 0 {
            let reading = settled_reading().await;
            console_log!("chart-soak | minute {} | {reading}", second / 60);
            readings.push(reading);
        }
        // One second after the start of this one, however long it took.
        let due = start + second as f64 * 1_000.0;
        sleep((due - performance.now()).max(0.0) as i32).await;
    }
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
    // The lines are full once their span has passed: from then on the
    // trend must be flat.
    let full = ((span_ms / 60_000) as usize + 1).min(readings.len() - 1);
    let (first, last) = (readings[full], readings[readings.len() - 1]);
    console_log!(
        "chart-soak | {CHARTS} charts, {rate} points/s each, {minutes} min, {draws} draws | from minute {full}: {first} | at the end: {last}"
    );
    drop(dashboard);
}
