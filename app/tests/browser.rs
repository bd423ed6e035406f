//! Browser tests of the hydrated side, run by wasm-bindgen-test in headless
//! Chromium: the store applies deliveries once per animation frame, pause
//! holds them back, and widgets re-render only for their own data.

#![cfg(all(target_arch = "wasm32", feature = "hydrate"))]

use app::{
    chart::{log_ticks, value_ticks, ChartStyle, Draw, Unit},
    live::{
        frame::Delivery,
        state::{ConnectionState, Transport},
    },
    protocol::{Bootstrap, Envelope, Position, SeriesKey, SeriesPoints},
    ui::{host::CPU_PERCENT, time::DEFAULT_RANGE, LiveStore, TimeControl},
    widgets::{ChartQuery, ChartSpec, ConnectionStatus, StatusBoard, TimeSeriesChart},
};
use leptos::prelude::*;
use serde_json::{json, Value};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn event(seq: u64, event: &str, data: Value) -> Delivery {
    Delivery::Event(Envelope {
        id: Position::new(1, seq),
        channel: "dashboard:main".into(),
        event: event.into(),
        key: None,
        ts: seq as i64,
        data,
    })
}

/// Lets animation frames and effects run.
async fn settle() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 120);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// A store and a container element with `view` mounted in it.
fn mount<V: IntoView + 'static>(
    view: impl FnOnce() -> V + 'static,
) -> (LiveStore, web_sys::HtmlElement) {
    mount_with(&Bootstrap::default(), view)
}

/// The same, for a page rendered with `bootstrap`.
fn mount_with<V: IntoView + 'static>(
    bootstrap: &Bootstrap,
    view: impl FnOnce() -> V + 'static,
) -> (LiveStore, web_sys::HtmlElement) {
    let owner = Owner::new();
    owner.set();
    let store = LiveStore::new(bootstrap);
    let document = web_sys::window().unwrap().document().unwrap();
    let container: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&container).unwrap();
    let handle = leptos::mount::mount_to(container.clone(), move || {
        provide_context(store);
        view()
    });
    std::mem::forget(handle);
    std::mem::forget(owner);
    (store, container)
}

fn attribute(container: &web_sys::HtmlElement, selector: &str, name: &str) -> Option<String> {
    container
        .query_selector(selector)
        .ok()
        .flatten()?
        .get_attribute(name)
}

#[wasm_bindgen_test]
async fn the_indicator_shows_state_and_transport() {
    let (store, container) = mount(|| view! { <ConnectionStatus /> });
    let selector = "[data-testid=connection-status]";
    assert_eq!(
        attribute(&container, selector, "data-state").as_deref(),
        Some("connecting")
    );
    store.connection.set(ConnectionState::Live);
    store.transport.set(Transport::Poll);
    settle().await;
    assert_eq!(
        attribute(&container, selector, "data-state").as_deref(),
        Some("live")
    );
    assert_eq!(
        attribute(&container, selector, "data-transport").as_deref(),
        Some("poll")
    );
    assert!(container
        .text_content()
        .unwrap_or_default()
        .contains("polling"));
}

#[wasm_bindgen_test]
async fn deliveries_are_applied_on_the_next_frame_and_held_while_paused() {
    let (store, _container) = mount(|| ());
    for seq in 1..=3 {
        store.receive(event(seq, "message", json!({ "seq": seq })));
    }
    assert_eq!(
        store.feed_count.get_untracked(),
        0,
        "nothing is applied before the frame"
    );
    settle().await;
    assert_eq!(store.feed_count.get_untracked(), 3);
    assert_eq!(store.position.get_untracked(), Some(Position::new(1, 3)));

    store.set_paused(true);
    store.receive(event(4, "message", json!({ "seq": 4 })));
    settle().await;
    assert_eq!(store.feed_count.get_untracked(), 3, "paused: held back");
    store.set_paused(false);
    settle().await;
    assert_eq!(store.feed_count.get_untracked(), 4, "resumed: caught up");
}

#[wasm_bindgen_test]
async fn a_patch_re_renders_only_its_own_board_item() {
    let (store, container) = mount(|| view! { <StatusBoard /> });
    store.receive(event(
        1,
        "patch",
        json!({"op": "add", "key": "api", "value": "up"}),
    ));
    store.receive(event(
        2,
        "patch",
        json!({"op": "add", "key": "db", "value": "up"}),
    ));
    settle().await;
    let renders = |key: &str| {
        attribute(
            &container,
            &format!("[data-testid=board-item-{key}]"),
            "data-renders",
        )
        .and_then(|r| r.parse::<u32>().ok())
    };
    let (api, db) = (renders("api").unwrap(), renders("db").unwrap());
    store.receive(event(
        3,
        "patch",
        json!({"op": "replace", "key": "api", "value": "down"}),
    ));
    settle().await;
    assert_eq!(renders("api"), Some(api + 1));
    assert_eq!(renders("db"), Some(db));
    assert!(container
        .text_content()
        .unwrap_or_default()
        .contains("down"));
}

/// Points of one series as the series channel carries them.
fn points(seq: u64, key: &SeriesKey, points: &[(i64, f64)]) -> Delivery {
    Delivery::Event(Envelope {
        id: Position::new(1, seq),
        channel: "series".into(),
        event: "points".into(),
        key: Some(key.to_string()),
        ts: seq as i64,
        data: serde_json::to_value(SeriesPoints {
            key: key.clone(),
            points: points.to_vec(),
            band: None,
        })
        .unwrap(),
    })
}

/// A chart of `spec` mounted on a page rendered with `bootstrap` (its
/// series are the chart's first points) at `now`, on the default range;
/// and a reader of the chart card's numeric attributes (-1: none).
fn mount_chart(
    bootstrap: &Bootstrap,
    spec: ChartSpec,
    now: i64,
) -> (LiveStore, impl Fn(&str) -> i64) {
    let card = format!("[data-testid={}-chart-card]", spec.id);
    let initial = vec![bootstrap.series.clone()];
    let (store, container) = mount_with(bootstrap, move || {
        provide_context(TimeControl::new(DEFAULT_RANGE, now));
        view! { <TimeSeriesChart spec=spec initial=initial /> }
    });
    let read = move |name: &str| {
        attribute(&container, &card, name)
            .and_then(|value| value.parse::<i64>().ok())
            .unwrap_or(-1)
    };
    (store, read)
}

#[wasm_bindgen_test]
async fn live_points_continue_the_charts_history_and_a_point_it_holds_is_not_drawn_again() {
    let key = SeriesKey::new(CPU_PERCENT, [("host".to_string(), "web-1".to_string())]).unwrap();
    const T0: i64 = 1_795_000_000_000;
    let bootstrap = Bootstrap {
        position: Some(Position::new(1, 10)),
        host: "web-1".into(),
        series: vec![SeriesPoints {
            key: key.clone(),
            points: (0..60).map(|s| (T0 + s * 1_000, s as f64)).collect(),
            band: None,
        }],
        ..Bootstrap::default()
    };
    let spec = ChartSpec {
        id: "cpu".into(),
        title: "CPU".into(),
        queries: vec![ChartQuery {
            selector: key.to_string(),
            label_by: Some("core".into()),
            unlabelled: "total".into(),
            rate: false,
        }],
        unit: Unit::Percent,
        soft_min: Some(0.0),
        soft_max: Some(100.0),
        style: ChartStyle::default(),
        thresholds: Vec::new(),
    };
    // The page's last minute, as the server rendered it.
    let (store, read) = mount_chart(&bootstrap, spec, T0 + 59_000);
    assert_eq!(read("data-points"), 60, "the history");
    assert_eq!(read("data-oldest"), T0);
    assert_eq!(read("data-newest"), T0 + 59_000);
    let renders = read("data-renders");

    // The history's newest point again: stored before the page's render,
    // published after its position.
    store.receive(points(11, &key, &[(T0 + 59_000, 59.0)]));
    settle().await;
    assert_eq!(read("data-points"), 60, "drawn once");
    assert_eq!(read("data-renders"), renders, "nothing to redraw");

    store.receive(points(12, &key, &[(T0 + 60_000, 1.0), (T0 + 61_000, 2.0)]));
    settle().await;
    assert_eq!(
        read("data-newest"),
        T0 + 61_000,
        "live goes on from history"
    );
    assert_eq!(read("data-oldest"), T0 + 1_000, "a minute is kept");
    assert_eq!(read("data-points"), 61);
    assert_eq!(read("data-max-gap"), 1_000, "no hole where they meet");
    assert_eq!(read("data-renders"), renders + 1, "one frame, one redraw");
}

/// How many pixels of the canvas's row at `y` (a share of its height)
/// are mostly opaque.
fn opaque_in_row(canvas: &web_sys::Element, y: f64) -> usize {
    let read = js_sys::Function::new_with_args(
        "c, y",
        "const d = c.getContext('2d').getImageData(0, Math.floor(c.height * y), c.width, 1).data; \
         let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 150) n++; return n;",
    );
    read.call2(&wasm_bindgen::JsValue::NULL, canvas, &y.into())
        .ok()
        .and_then(|n| n.as_f64())
        .unwrap_or_default() as usize
}

#[wasm_bindgen_test]
async fn a_bar_chart_is_drawn_as_bars_once_its_drawing_is_fetched() {
    let key = SeriesKey::new("shop_load", [("region".to_string(), "eu".to_string())]).unwrap();
    // Live now: the window scrolls with the browser's clock.
    let now = js_sys::Date::now() as i64;
    let bootstrap = Bootstrap {
        position: Some(Position::new(1, 10)),
        host: "web-1".into(),
        series: vec![SeriesPoints {
            key: key.clone(),
            points: (0..60).map(|s| (now - 59_000 + s * 1_000, 50.0)).collect(),
            band: None,
        }],
        ..Bootstrap::default()
    };
    let spec = |id: &str, draw: Draw| ChartSpec {
        id: id.into(),
        title: id.into(),
        queries: vec![ChartQuery {
            selector: key.to_string(),
            label_by: None,
            unlabelled: "load".into(),
            rate: false,
        }],
        unit: Unit::Percent,
        soft_min: Some(0.0),
        soft_max: Some(100.0),
        style: ChartStyle {
            draw,
            ..ChartStyle::default()
        },
        thresholds: Vec::new(),
    };
    // The same flat line at 50 on an axis from 0 to 100: as bars, the plot
    // is filled from the bottom to the middle; as a line, only the middle.
    let _bars = mount_chart(&bootstrap, spec("bars", Draw::Bars), now);
    let _lines = mount_chart(&bootstrap, spec("lines", Draw::Lines), now);
    settle().await;
    let document = web_sys::window().unwrap().document().unwrap();
    let canvas = |id: &str| {
        document
            .query_selector(&format!("[data-testid={id}-chart]"))
            .unwrap()
            .expect("the chart's canvas")
    };
    for id in ["bars", "lines"] {
        let draws = canvas(id).get_attribute("data-draws");
        assert!(
            draws.as_deref().is_some_and(|d| d != "0"),
            "{id} drawn: {draws:?}"
        );
    }
    // 70% down the canvas is inside the plot, below the line: each point's
    // bar crosses it (85% opaque); under a line there is at most a faint
    // grid line.
    let bars = opaque_in_row(&canvas("bars"), 0.7);
    assert!(bars >= 30, "a bar from the base to each point: {bars} px");
    let lines = opaque_in_row(&canvas("lines"), 0.7);
    assert_eq!(lines, 0, "a line leaves the area below it empty");
}

/// In the browser, ticks are read with JavaScript's `parseFloat` rather
/// than Rust's parser: they must still be the decimals they name, at the
/// ends of the float range too.
#[wasm_bindgen_test]
fn value_and_log_ticks_are_exact_decimals_in_the_browser() {
    assert_eq!(value_ticks(0.0, 1.0, 10)[3], 0.3);
    assert_eq!(
        value_ticks(1e300, 5e300, 4),
        [1e300, 2e300, 3e300, 4e300, 5e300]
    );
    assert_eq!(
        value_ticks(1e-300, 5e-300, 4),
        [1e-300, 2e-300, 3e-300, 4e-300, 5e-300]
    );
    assert_eq!(log_ticks(1.0, 1e12, 4), [1.0, 1e3, 1e6, 1e9, 1e12]);
    assert_eq!(log_ticks(0.0, 5e-324, 3), [1e-323]);
}

/// Replaces `window.fetch` for URLs naming `series` (others go on to the
/// real one): each is recorded in `window.__seriesFetches` and answered
/// with `window.__seriesReply`. Returns the real `fetch`, to put back.
fn stub_series_fetch(series: &str) -> js_sys::Function {
    let window = web_sys::window().unwrap();
    let real: js_sys::Function = js_sys::Reflect::get(&window, &"fetch".into())
        .unwrap()
        .unchecked_into();
    let stub = js_sys::Function::new_with_args(
        "real, series",
        "window.__seriesFetches = [];
         return function (url, init) {
           if (!String(url).includes(series)) return real.call(window, url, init);
           window.__seriesFetches.push(String(url));
           return Promise.resolve(new Response(JSON.stringify(window.__seriesReply), { status: 200 }));
         };",
    )
    .call2(&window, &real, &series.into())
    .unwrap();
    js_sys::Reflect::set(&window, &"fetch".into(), &stub).unwrap();
    real
}

fn series_fetches() -> Vec<String> {
    let window = web_sys::window().unwrap();
    let list: js_sys::Array = js_sys::Reflect::get(&window, &"__seriesFetches".into())
        .unwrap()
        .unchecked_into();
    list.iter().filter_map(|url| url.as_string()).collect()
}

fn set_series_reply(reply: &Value) {
    let window = web_sys::window().unwrap();
    let parsed = js_sys::JSON::parse(&reply.to_string()).unwrap();
    js_sys::Reflect::set(&window, &"__seriesReply".into(), &parsed).unwrap();
}

#[wasm_bindgen_test]
async fn a_chart_reads_its_window_again_when_points_may_be_missed_and_keeps_what_it_held() {
    let key = SeriesKey::new("missed_probe", [("host".to_string(), "web-1".to_string())]).unwrap();
    const T0: i64 = 1_795_000_000_000;
    let reply = |newest: i64| {
        json!({ "series": [{
            "name": "missed_probe",
            "labels": { "host": "web-1" },
            "points": (0..=(newest - T0) / 1_000).map(|s| json!([T0 + s * 1_000, 1.0])).collect::<Vec<_>>(),
        }] })
    };
    set_series_reply(&reply(T0 + 59_000));
    let real_fetch = stub_series_fetch("missed_probe");
    let bootstrap = Bootstrap {
        position: Some(Position::new(1, 10)),
        host: "web-1".into(),
        series: vec![SeriesPoints {
            key: key.clone(),
            points: (0..60).map(|s| (T0 + s * 1_000, 1.0)).collect(),
            band: None,
        }],
        ..Bootstrap::default()
    };
    let spec = ChartSpec {
        id: "probe".into(),
        title: "Probe".into(),
        queries: vec![ChartQuery {
            selector: key.to_string(),
            label_by: None,
            unlabelled: "value".into(),
            rate: false,
        }],
        unit: Unit::Count,
        soft_min: None,
        soft_max: None,
        style: ChartStyle::default(),
        thresholds: Vec::new(),
    };
    let (store, read) = mount_chart(&bootstrap, spec, T0 + 59_000);
    settle().await;
    let first = series_fetches();
    assert_eq!(
        first.len(),
        1,
        "the window is read once at start: {first:?}"
    );
    // A live window ends at the server's now, whatever this clock says.
    assert!(first[0].contains("from=now-60000ms&to=now"), "{}", first[0]);

    // The store answers up to a second before the newest point the page
    // was rendered with (its clock, or its write, a moment behind).
    set_series_reply(&reply(T0 + 58_000));
    store.series_missed.update(|n| *n += 1);
    settle().await;
    let again = series_fetches();
    // Restore before asserting: the other tests share this page.
    js_sys::Reflect::set(&web_sys::window().unwrap(), &"fetch".into(), &real_fetch).unwrap();
    assert_eq!(
        again.len(),
        2,
        "missed points make the chart read its window again"
    );
    assert_eq!(
        read("data-newest"),
        T0 + 59_000,
        "what the chart held past the answer stays"
    );
    assert_eq!(read("data-points"), 60);
    assert_eq!(read("data-max-gap"), 1_000);
}
