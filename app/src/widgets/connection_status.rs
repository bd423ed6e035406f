//! The connection indicator and its controls.
//!
//! `data-testid="connection-status"` with `data-state` (`connecting`,
//! `live`, `reconnecting`, `offline`, `failed`), `data-transport` (`sse`,
//! `ws`, `poll`) and `data-position` (the last position applied to the page)
//! is a stable contract for tests and tooling. Beside it: the age of the last
//! update, a Reconnect button, a Pause/Resume toggle and a transport choice.

use leptos::prelude::*;

use crate::{
    live::state::{ConnectionState, Transport},
    ui::LiveStore,
};

/// Shows where the live connection stands, with its controls.
#[component]
pub fn ConnectionStatus() -> impl IntoView {
    let store = expect_context::<LiveStore>();
    let state = store.connection;
    let clock = page_clock();
    let label = move || {
        let state = state.get();
        match state {
            ConnectionState::Reconnecting { attempt, at_ms } => {
                let seconds = (at_ms as f64 - clock.get()).max(0.0) / 1000.0;
                format!("Reconnecting in {seconds:.0} s (attempt {attempt})")
            }
            other => other.label(),
        }
    };
    let age = move || match store.updated_at.get() {
        None => "no update yet".to_string(),
        Some(at) => {
            let seconds = ((clock.get() - at) / 1000.0).max(0.0);
            if seconds < 1.0 {
                "updated just now".to_string()
            } else {
                format!("updated {seconds:.0} s ago")
            }
        }
    };
    let on_transport = move |event: leptos::ev::Event| {
        let value = event_target_value(&event);
        store.pin_transport(Transport::parse(&value));
    };
    view! {
        <div class="connection">
            <div
                class="connection-status"
                data-testid="connection-status"
                data-state=move || state.get().as_str()
                data-transport=move || store.transport.get().as_str()
                data-position=move || store.position.get().map(|p| p.to_string()).unwrap_or_default()
                data-role=move || store.sharing.get().role.as_str()
                data-tabs=move || store.sharing.get().tabs
                role="status"
                aria-live="polite"
            >
                <span class="connection-status__dot" aria-hidden="true"></span>
                <span class="connection-status__label">{label}</span>
                <span class="connection-status__transport">{move || store.transport.get().label()}</span>
                <span class="connection-status__shared" data-testid="shared">
                    {move || store.sharing.get().label()}
                </span>
                <span class="connection-status__age" data-testid="update-age">{age}</span>
            </div>
            <div class="connection-controls">
                <button
                    class="connection-controls__button"
                    data-testid="reconnect"
                    on:click=move |_| store.reconnect()
                    disabled=move || state.get() == ConnectionState::Live
                >
                    "Reconnect"
                </button>
                <button
                    class="connection-controls__button"
                    data-testid="pause"
                    aria-pressed=move || store.paused.get().to_string()
                    on:click=move |_| store.set_paused(!store.paused.get_untracked())
                >
                    {move || if store.paused.get() { "Resume" } else { "Pause" }}
                </button>
                <label class="connection-controls__label">
                    "Transport "
                    <select
                        class="connection-controls__select"
                        data-testid="transport-select"
                        prop:value=move || store.pinned.get().map_or("auto", |t| t.as_str())
                        on:change=on_transport
                    >
                        <option value="auto">"automatic"</option>
                        <option value="sse">"SSE"</option>
                        <option value="ws">"WebSocket"</option>
                        <option value="poll">"polling"</option>
                    </select>
                </label>
            </div>
        </div>
    }
}

/// A signal of the page clock (`performance.now()`), ticking every second
/// in the browser: only the texts that show ages read it.
fn page_clock() -> ReadSignal<f64> {
    let (clock, set_clock) = signal(0.0);
    #[cfg(feature = "hydrate")]
    {
        use leptos::prelude::set_interval_with_handle;
        let now = || {
            web_sys::window()
                .and_then(|w| w.performance())
                .map(|p| p.now())
                .unwrap_or(0.0)
        };
        Effect::new(move |_| {
            set_clock.set(now());
            if let Ok(handle) = set_interval_with_handle(
                move || set_clock.set(now()),
                std::time::Duration::from_secs(1),
            ) {
                on_cleanup(move || handle.clear());
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = set_clock;
    clock
}
