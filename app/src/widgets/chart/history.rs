//! A chart's history: its window read from `GET /api/series` (once per
//! query of the chart, all answers applied together) whenever the page's
//! range changes, and again whenever the page may have missed live
//! points (a `reset` after a long disconnect sends only the newest events;
//! [`LiveStore::series_missed`]), joined to the live points that keep
//! arriving. So a hole that a reconnect left is filled from the store.
//!
//! Each fetch carries a generation number; an answer that arrives after a
//! newer fetch started is dropped, so fast range changes never show an old
//! range's data. While a fetch is in flight the chart keeps what it shows
//! (no blank frame). When the answer lands its lines replace the old ones
//! and the live samples of the last minutes are replayed over them: those
//! the answer already holds change nothing ([`Line::push`](crate::chart::Line::push)
//! drops them), the ones that raced it are kept, and so are the raw points
//! the chart held past the answer's newest (its server-rendered ones, from
//! before the page's live position). The chart then follows exactly the
//! series that answered.
//!
//! A live window is asked for relative to the server's clock
//! (`from=now-60000ms&to=now`): the page's live position was taken before
//! the query runs, so every point stored before the query is in the answer
//! and every point stored after it reaches the page live, whatever the
//! browser's clock says. A window ending at the browser's now left out a
//! sample stamped a moment later but published before the page's
//! position: a hole no live event would fill.
//!
//! A chart that goes away (a dashboard left) takes its work with it: the
//! request in flight is aborted and a pending retry cancelled, so leaving
//! and opening dashboards all day leaves nothing behind.

use leptos::{prelude::*, task::spawn_local};
use wasm_bindgen::{closure::Closure, JsCast};
use wasm_bindgen_futures::JsFuture;

use super::{lines_from, ChartLines, ChartSpec, QuerySeries};
use crate::{
    chart::TimeRange,
    protocol::{Annotation, SeriesReply},
    ui::{LiveStore, TimeView},
};

/// The width (CSS pixels) history is read at for a widget without a
/// canvas: enough for a sparkline.
const SPARKLINE_WIDTH: f64 = 120.0;

/// How long after an empty answer (no series yet) the chart asks again.
const EMPTY_RETRY_MS: i32 = 10_000;

/// The live samples a chart keeps to replay: key, time, value.
pub type Recent = StoredValue<std::collections::VecDeque<super::RecentSample>, LocalStorage>;

/// What a chart's history fetching works on.
pub struct Fetcher {
    pub spec: StoredValue<ChartSpec>,
    pub lines: RwSignal<ChartLines>,
    pub recent: Recent,
    pub status: RwSignal<Option<String>>,
    /// The chart's canvas, whose width sets the resolution read (none: a
    /// sparkline's).
    pub canvas: Option<NodeRef<leptos::html::Canvas>>,
    pub follower: u64,
    pub store: LiveStore,
    pub clock: TimeView,
}

/// A chart's fetching between two runs: the request in flight (aborted
/// when a newer one supersedes it) and the timer of a retry.
#[derive(Default)]
struct Pending {
    abort: Option<web_sys::AbortController>,
    retry: Option<(i32, Closure<dyn FnMut()>)>,
}

impl Pending {
    fn cancel(&mut self) {
        if let Some(abort) = self.abort.take() {
            abort.abort();
        }
        if let Some((handle, _callback)) = self.retry.take() {
            if let Some(window) = web_sys::window() {
                window.clear_timeout_with_handle(handle);
            }
        }
    }
}

/// Fetches the window now and again whenever the range changes.
pub fn install(fetcher: Fetcher) {
    let Fetcher {
        spec,
        lines,
        recent,
        status,
        canvas,
        follower,
        store,
        clock,
    } = fetcher;
    let generation = StoredValue::new(0u64);
    // A retry after an empty answer bumps this.
    let retry = RwSignal::new(0u32);
    let pending = StoredValue::new_local(Pending::default());
    on_cleanup(move || {
        pending
            .try_update_value(Pending::cancel)
            .unwrap_or_default()
    });
    let range = clock.range;
    let missed = store.missed();
    Effect::new(move |_| {
        let range = range.get();
        retry.track();
        // Read, not only tracked: a memo that was never read has not run,
        // so it follows nothing yet and would never say the count moved.
        let _ = missed.get();
        let this = generation
            .try_update_value(|g| {
                *g += 1;
                *g
            })
            .unwrap_or_default();
        let now = clock.now.get_untracked().max(js_sys::Date::now() as i64);
        let (from, to) = range.resolve(now);
        let width = match canvas {
            Some(canvas) => canvas
                .get_untracked()
                .map(|c| f64::from(c.client_width()))
                .unwrap_or(800.0),
            None => SPARKLINE_WIDTH,
        };
        let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
        let max_points = ((width * ratio) as usize).clamp(4, 10_000);
        let abort = web_sys::AbortController::new().ok();
        let signal = abort.as_ref().map(web_sys::AbortController::signal);
        pending.update_value(|pending| {
            pending.cancel();
            pending.abort = abort;
        });
        // A live window ends at the server's now, not this browser's: a
        // point stored before the page's live position but stamped after
        // the browser's clock (a clock behind the server's, or a sample
        // taken while the page loaded) is in the answer, never lost
        // between history and live.
        let window = match range {
            TimeRange::Live { span_ms } => format!("from=now-{span_ms}ms&to=now"),
            TimeRange::Fixed { .. } => format!("from={from}&to={to}"),
        };
        let urls: Vec<String> = spec.with_value(|s| {
            s.queries
                .iter()
                .map(|query| {
                    format!(
                        "/api/series?match={}&{window}&max_points={max_points}{}",
                        String::from(js_sys::encode_uri_component(&query.selector)),
                        if query.rate { "&rate=true" } else { "" },
                    )
                })
                .collect()
        });
        spawn_local(async move {
            let answer = fetch_all(urls, signal).await;
            if generation.try_get_value() != Some(this) {
                return;
            }
            pending.try_update_value(|pending| pending.abort = None);
            match answer {
                Ok(replies) => {
                    apply(&replies, range, (spec, lines, recent), (store, follower));
                    status.set(None);
                    if replies.iter().all(|reply| reply.series.is_empty()) {
                        retry_later(retry, pending);
                    }
                }
                Err(error) => {
                    status.set(Some(format!("History unavailable: {error}")));
                    retry_later(retry, pending);
                }
            }
        });
    });
}

/// Replaces the lines with the answers (one per query), keeping the live
/// points the answers do not hold yet.
fn apply(
    replies: &[SeriesReply],
    range: TimeRange,
    (spec, lines, recent): (StoredValue<ChartSpec>, RwSignal<ChartLines>, Recent),
    (store, follower): (LiveStore, u64),
) {
    // A paused (fixed) view keeps what it was given while live points go
    // on arriving after it: bounded by count, not trimmed by time.
    let span = if range.is_live() {
        range.span_ms()
    } else {
        i64::MAX / 4
    };
    let groups: Vec<QuerySeries<'_>> = replies
        .iter()
        .map(|reply| (reply.series.as_slice(), reply.step_ms))
        .collect();
    let mut fresh = spec.with_value(|spec| lines_from(spec, &groups, span));
    recent.with_value(|recent| {
        for (key, ts, value) in recent {
            if let Some(line) = fresh.get_mut(key) {
                line.line.push(*ts, *value);
            }
        }
    });
    // What the chart already held past the answer (the page's own
    // bootstrap points, live points replayed above) stays: those points
    // came before the live position and would never come again.
    lines.with_untracked(|held| fresh.carry_over(held));
    let keys: Vec<String> = fresh.keys().cloned().collect();
    lines.set(fresh);
    store.follow(follower, keys);
}

/// Asks again in [`EMPTY_RETRY_MS`], unless the chart goes away first.
fn retry_later(retry: RwSignal<u32>, pending: StoredValue<Pending, LocalStorage>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let callback = Closure::<dyn FnMut()>::new(move || {
        retry.try_update(|r| *r += 1);
    });
    if let Ok(handle) = window.set_timeout_with_callback_and_timeout_and_arguments_0(
        callback.as_ref().unchecked_ref(),
        EMPTY_RETRY_MS,
    ) {
        // The timer's callback lives until the next fetch or the chart's
        // end (a fired timer's is dropped with it then).
        pending.try_update_value(|pending| pending.retry = Some((handle, callback)));
    }
}

/// Each query's answer, in order, or what went wrong with the first that
/// failed, for a person. `signal` aborts them.
async fn fetch_all(
    urls: Vec<String>,
    signal: Option<web_sys::AbortSignal>,
) -> Result<Vec<SeriesReply>, String> {
    let mut replies = Vec::with_capacity(urls.len());
    for url in urls {
        replies.push(fetch_json(&url, signal.clone()).await?);
    }
    Ok(replies)
}

/// A query answer, or what went wrong, for a person. `signal` aborts it.
async fn fetch_json(
    url: &str,
    signal: Option<web_sys::AbortSignal>,
) -> Result<SeriesReply, String> {
    crate::protocol::from_json(&fetch_text(url, signal).await?)
        .map_err(|e| format!("a malformed answer: {e}"))
}

/// A successful answer's body, or what went wrong, for a person.
async fn fetch_text(url: &str, signal: Option<web_sys::AbortSignal>) -> Result<String, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_signal(signal.as_ref());
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|_| "the server cannot be reached".to_string())?
        .dyn_into()
        .map_err(|_| "not an HTTP response".to_string())?;
    let text = JsFuture::from(response.text().map_err(|_| "no body".to_string())?)
        .await
        .map_err(|_| "the answer was cut off".to_string())?
        .as_string()
        .unwrap_or_default();
    if !response.ok() {
        return Err(format!("HTTP {}: {text}", response.status()));
    }
    Ok(text)
}

/// Reads the dashboard's annotations of the page's window whenever the
/// range changes and whenever the page may have missed some (a snapshot
/// replaced the dashboard's channel), into [`LiveStore::annotations`];
/// live ones join them there. Once per page, not per chart: every chart
/// of the dashboard shows from the same set.
pub fn install_annotations(store: LiveStore, clock: TimeView) {
    let generation = StoredValue::new(0u64);
    Effect::new(move |_| {
        let range = clock.range.get();
        store.annotations_missed.track();
        let this = generation
            .try_update_value(|g| {
                *g += 1;
                *g
            })
            .unwrap_or_default();
        let (from, to) = range.resolve(clock.now.get_untracked());
        let window = match range {
            TimeRange::Live { span_ms } => format!("from=now-{span_ms}ms&to=now"),
            TimeRange::Fixed { .. } => format!("from={from}&to={to}"),
        };
        let channel = store.channel();
        let dashboard = channel
            .strip_prefix(crate::protocol::DASHBOARD_CHANNEL_PREFIX)
            .unwrap_or_default()
            .to_string();
        spawn_local(async move {
            let url = format!("/api/annotations?dashboard={dashboard}&{window}");
            let answer = fetch_text(&url, None).await.and_then(|text| {
                serde_json::from_str::<serde_json::Value>(&text)
                    .map_err(|e| format!("a malformed answer: {e}"))
            });
            if generation.try_get_value() != Some(this) {
                return;
            }
            match answer {
                Ok(reply) => {
                    let notes = reply
                        .get("annotations")
                        .and_then(serde_json::Value::as_array)
                        .map(|notes| notes.iter().filter_map(Annotation::from_value).collect())
                        .unwrap_or_else(Vec::new);
                    store.annotations.maybe_update(|set| {
                        let mut changed = false;
                        for note in notes {
                            changed |= set.upsert(note);
                        }
                        changed
                    });
                }
                Err(error) => leptos::logging::warn!("livedash: annotations unavailable: {error}"),
            }
        });
    });
}
