//! The connection indicator. Its `data-testid="connection-status"` and
//! `data-state` attribute are a stable contract for tests and tooling.

use leptos::prelude::*;

use crate::live::state::ConnectionState;

/// Shows where the live connection stands.
#[component]
pub fn ConnectionStatus(#[prop(into)] state: Signal<ConnectionState>) -> impl IntoView {
    view! {
        <div
            class="connection-status"
            data-testid="connection-status"
            data-state=move || state.get().as_str()
            role="status"
            aria-live="polite"
        >
            <span class="connection-status__dot" aria-hidden="true"></span>
            <span class="connection-status__label">{move || state.get().label()}</span>
        </div>
    }
}
