//! The page's time controls: the range picker (live windows, and custom
//! ranges as `now-6h` or absolute times), the LIVE / PAUSED badge with one
//! click back to live, zoom back and zoom out, and their keyboard
//! shortcuts (`z` zoom out, `b` back, `l` live; not while typing).

use leptos::prelude::*;

use crate::{
    chart::{TimeRange, PRESETS},
    ui::TimeControl,
};

/// The time controls.
#[component]
pub fn TimePicker() -> impl IntoView {
    let time = expect_context::<TimeControl>();
    let custom = RwSignal::new(false);
    let from_text = RwSignal::new("now-6h".to_string());
    let to_text = RwSignal::new("now".to_string());
    let error = RwSignal::new(None::<String>);

    #[cfg(feature = "hydrate")]
    install_shortcuts(time);

    let selected = move || {
        let range = time.range.get();
        PRESETS
            .iter()
            .find(|p| TimeRange::Live { span_ms: p.span_ms } == range)
            .map(|p| p.code.to_string())
            .unwrap_or_else(|| "custom".to_string())
    };
    let apply_custom = move || {
        let now = time.now.get_untracked();
        // Read as the URL's `from` and `to` are: `to=now` is live.
        let (from, to) = (from_text.get_untracked(), to_text.get_untracked());
        let parsed = TimeRange::from_query([("from", from.as_str()), ("to", to.as_str())], now);
        match parsed {
            Ok(range) => {
                error.set(None);
                time.set(range);
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    };

    view! {
        <div class="time-picker" data-testid="time-picker">
            <span
                class="time-picker__badge"
                class:time-picker__badge--paused=move || !time.is_live()
                data-testid="live-badge"
                role="status"
            >
                {move || if time.is_live() { "LIVE" } else { "PAUSED" }}
            </span>
            <button
                class="time-picker__button"
                data-testid="back-to-live"
                hidden=move || time.is_live()
                on:click=move |_| time.go_live()
                title="Back to live (l)"
            >
                "Back to live"
            </button>
            <button
                class="time-picker__button"
                data-testid="zoom-back"
                disabled=move || !time.can_go_back()
                on:click=move |_| time.back()
                title="Back to the previous range (b)"
            >
                "Back"
            </button>
            <button
                class="time-picker__button"
                data-testid="zoom-out"
                on:click=move |_| time.zoom_out()
                title="Zoom out (z)"
            >
                "Zoom out"
            </button>
            <label class="time-picker__range">
                <span class="visually-hidden">"Time range"</span>
                <select
                    data-testid="range-select"
                    prop:value=selected
                    on:change=move |ev| {
                        let code = event_target_value(&ev);
                        if code == "custom" {
                            custom.set(true);
                            return;
                        }
                        custom.set(false);
                        if let Some(preset) = PRESETS.iter().find(|p| p.code == code) {
                            time.set(TimeRange::Live { span_ms: preset.span_ms });
                        }
                    }
                >
                    {PRESETS.iter().map(|p| view! { <option value=p.code>{p.label}</option> }).collect_view()}
                    <option value="custom">"Custom range…"</option>
                </select>
            </label>
            <form
                class="time-picker__custom"
                hidden=move || !custom.get()
                on:submit=move |ev| {
                    ev.prevent_default();
                    apply_custom();
                }
            >
                <label>"From " <input data-testid="range-from" prop:value=from_text on:input=move |ev| from_text.set(event_target_value(&ev)) /></label>
                <label>"To " <input data-testid="range-to" prop:value=to_text on:input=move |ev| to_text.set(event_target_value(&ev)) /></label>
                <button type="submit" class="time-picker__button">"Apply"</button>
                <span class="time-picker__error" role="alert" data-testid="range-error">{move || error.get()}</span>
            </form>
        </div>
    }
}

#[cfg(feature = "hydrate")]
fn install_shortcuts(time: TimeControl) {
    use wasm_bindgen::JsCast;

    let handle = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        let typing = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"));
        if typing {
            return;
        }
        match ev.key().as_str() {
            "z" => time.zoom_out(),
            "b" => time.back(),
            "l" => time.go_live(),
            _ => {}
        }
    });
    on_cleanup(move || handle.remove());
}
