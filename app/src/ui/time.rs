//! The page's time: the range every chart shows, the zoom history, the
//! shared crosshair, and the clock that scrolls live views.
//!
//! One [`TimeControl`] per page, in context. A live range ("last 5
//! minutes") keeps scrolling with [`TimeControl::now`]; zooming into the
//! past makes the range fixed, which pauses scrolling (the badge says so)
//! while live points keep arriving into the charts, so they are there when
//! the viewer goes back to live. The range lives in the URL (`?range=5m`,
//! or `?from=…&to=…`): a reload or a shared link shows the same view.
//!
//! The clock follows the server's timestamps, not only the browser's: a
//! point newer than the browser's now moves the right edge with it, so a
//! browser clock behind the server's never hides the newest points.

use leptos::prelude::*;

use super::release::detached_memo;
use crate::chart::{zoom_out, zoom_to, TimeRange, ZoomStack};

/// The range a page opens with when its URL names none.
pub const DEFAULT_RANGE: TimeRange = TimeRange::Live { span_ms: 60_000 };

/// The page's time range and the state around it.
#[derive(Clone, Copy)]
pub struct TimeControl {
    /// What every chart shows.
    pub range: RwSignal<TimeRange>,
    /// Now, in Unix ms, as the page's clock says (ticks while live).
    pub now: RwSignal<i64>,
    /// The shared crosshair's time (a chart under the pointer sets it).
    pub crosshair: RwSignal<Option<i64>>,
    /// The live range to go back to.
    last_live: RwSignal<TimeRange>,
    zoom: RwSignal<ZoomStack>,
    /// Server time minus browser time, as far as points have shown it.
    skew_ms: StoredValue<i64>,
}

/// One widget's view of the page's time: its own memos of the range, the
/// clock and the crosshair (so a widget that goes away leaves nothing in
/// the page's signals; see `ui::release`). Set them through the
/// [`TimeControl`].
#[derive(Clone, Copy)]
pub struct TimeView {
    pub range: Memo<TimeRange>,
    pub now: Memo<i64>,
    pub crosshair: Memo<Option<i64>>,
}

impl TimeView {
    /// The shown window, `(from, to)` in Unix ms.
    pub fn window(&self) -> (i64, i64) {
        self.range.get().resolve(self.now.get())
    }
}

impl TimeControl {
    /// A control showing `range`, at `now`.
    pub fn new(range: TimeRange, now: i64) -> Self {
        Self {
            range: RwSignal::new(range),
            now: RwSignal::new(now),
            crosshair: RwSignal::new(None),
            last_live: RwSignal::new(if range.is_live() {
                range
            } else {
                DEFAULT_RANGE
            }),
            zoom: RwSignal::new(ZoomStack::default()),
            skew_ms: StoredValue::new(0),
        }
    }

    /// The calling widget's view of the page's time, released when the
    /// widget is cleaned up.
    pub fn view(&self) -> TimeView {
        let control = *self;
        TimeView {
            range: detached_memo(move |_| control.range.get()),
            now: detached_memo(move |_| control.now.get()),
            crosshair: detached_memo(move |_| control.crosshair.get()),
        }
    }

    /// The shown window, `(from, to)` in Unix ms.
    pub fn window(&self) -> (i64, i64) {
        self.range.get().resolve(self.now.get())
    }

    /// Whether the view scrolls with time.
    pub fn is_live(&self) -> bool {
        self.range.with(TimeRange::is_live)
    }

    /// Shows `range`, remembering the current one for [`TimeControl::back`].
    pub fn set(&self, range: TimeRange) {
        let current = self.range.get_untracked();
        if current == range {
            return;
        }
        self.zoom.update(|zoom| zoom.push(current));
        if range.is_live() {
            self.last_live.set(range);
        }
        self.range.set(range);
    }

    /// Zooms into `from..to` (a drag on a chart); too narrow a drag does
    /// nothing. Returns whether it zoomed.
    pub fn zoom_into(&self, from: i64, to: i64) -> bool {
        match zoom_to(from, to) {
            Some(range) => {
                self.set(range);
                true
            }
            None => false,
        }
    }

    /// Doubles the shown span.
    pub fn zoom_out(&self) {
        let now = self.now.get_untracked();
        self.set(zoom_out(self.range.get_untracked(), now));
    }

    /// The range before the last change, if any.
    pub fn back(&self) {
        if let Some(previous) = self.zoom.try_update(ZoomStack::back).flatten() {
            if previous.is_live() {
                self.last_live.set(previous);
            }
            self.range.set(previous);
        }
    }

    /// Whether [`TimeControl::back`] has somewhere to go.
    pub fn can_go_back(&self) -> bool {
        self.zoom.with(|zoom| !zoom.is_empty())
    }

    /// Back to the last live range.
    pub fn go_live(&self) {
        self.set(self.last_live.get_untracked());
    }

    /// Advances the clock to the browser's `browser_now`, corrected by the
    /// skew points have shown.
    pub fn tick(&self, browser_now: i64) {
        let now = browser_now.saturating_add(self.skew_ms.get_value());
        if now > self.now.get_untracked() {
            self.now.set(now);
        }
    }

    /// A point at `ts` arrived when the browser's clock said
    /// `browser_now`: the page's now is at least `ts`.
    pub fn saw_point(&self, ts: i64, browser_now: i64) {
        let skew = ts.saturating_sub(browser_now);
        if skew > self.skew_ms.get_value() {
            self.skew_ms.set_value(skew);
            self.tick(browser_now);
        }
    }
}

#[cfg(feature = "hydrate")]
pub use browser::{install, url_range};

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::{closure::Closure, JsCast};

    use super::TimeControl;
    use crate::chart::TimeRange;

    /// How often the clock ticks while the view is live.
    const TICK_MS: i32 = 250;

    /// The range the page's URL names, if it names a valid one.
    pub fn url_range() -> Option<TimeRange> {
        let search = web_sys::window()?.location().search().ok()?;
        let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
        let pairs: Vec<(String, String)> = ["range", "from", "to"]
            .into_iter()
            .filter_map(|key| params.get(key).map(|value| (key.to_string(), value)))
            .collect();
        if pairs.is_empty() {
            return None;
        }
        let now = js_sys::Date::now() as i64;
        match TimeRange::from_query(pairs, now) {
            Ok(range) => Some(range),
            Err(error) => {
                leptos::logging::warn!("livedash: ignoring the URL's time range: {error}");
                None
            }
        }
    }

    /// Starts the clock and keeps the URL in step with the range.
    pub fn install(control: TimeControl) {
        if let Some(window) = web_sys::window() {
            let tick = Closure::<dyn Fn()>::new(move || {
                if control.range.try_with_untracked(TimeRange::is_live) == Some(true) {
                    control.tick(js_sys::Date::now() as i64);
                }
            });
            if let Ok(handle) = window.set_interval_with_callback_and_timeout_and_arguments_0(
                tick.as_ref().unchecked_ref(),
                TICK_MS,
            ) {
                // Kept alive (and released) with the page's owner.
                let tick = StoredValue::new_local(Some(tick));
                on_cleanup(move || {
                    if let Some(window) = web_sys::window() {
                        window.clear_interval_with_handle(handle);
                    }
                    tick.try_update_value(Option::take);
                });
            }
        }
        // Not on the first run: the page opens with the URL's range, or
        // with the default, which the URL need not name.
        Effect::new(move |first: Option<()>| {
            let range = control.range.get();
            if first.is_some() {
                write_url(&range);
            }
        });
    }

    /// Puts `range` into the URL without a navigation, keeping the other
    /// parameters.
    fn write_url(range: &TimeRange) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let location = window.location();
        let Ok(search) = location.search() else {
            return;
        };
        let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) else {
            return;
        };
        for key in ["range", "from", "to"] {
            params.delete(key);
        }
        for (key, value) in range.to_query() {
            params.set(key, &value);
        }
        let query: String = params.to_string().into();
        let path = location.pathname().unwrap_or_default();
        let url = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
        }
    }
}
