//! The status board: a keyed collection kept up to date by `patch` events
//! (`add`, `replace`, `remove`) on the dashboard's channel. Each item has
//! its own signal, so a patch re-renders that item alone (see each item's
//! `data-renders`).

use leptos::prelude::*;
use serde_json::Value;

use crate::{ui::LiveStore, widgets::render_count};

/// The status board.
#[component]
pub fn StatusBoard(
    /// Its heading (default: "Status board").
    #[prop(optional, into)]
    title: Option<String>,
) -> impl IntoView {
    let store = expect_context::<LiveStore>();
    let channel = store.channel();
    store.need(&channel, None);
    let keys = store.board_keys;
    view! {
        <section class="board-card" data-testid="status-board" data-renders=render_count(keys)>
            <h2 class="board-card__title">{title.unwrap_or_else(|| "Status board".to_string())}</h2>
            <ul class="board-card__list">
                <For each=move || keys.get() key=|key| key.clone() let:key>
                    <BoardItem name=key.clone() />
                </For>
            </ul>
            <p class="board-card__empty" class:board-card__empty--hidden=move || keys.with(|k| !k.is_empty())>
                {format!("No items. Send patch events to {channel}.")}
            </p>
        </section>
    }
}

#[component]
fn BoardItem(name: String) -> impl IntoView {
    let store = expect_context::<LiveStore>();
    let signal = store
        .board
        .with_untracked(|board| board.get(&name).copied());
    let value = Signal::derive(move || signal.map(|s| s.get()).unwrap_or(Value::Null));
    let text = move || match value.get() {
        Value::String(text) => text,
        other => other.to_string(),
    };
    view! {
        <li class="board-card__item" data-testid=format!("board-item-{name}") data-renders=render_count(value)>
            <span class="board-card__key">{name.clone()}</span>
            <span class="board-card__value">{text}</span>
        </li>
    }
}
