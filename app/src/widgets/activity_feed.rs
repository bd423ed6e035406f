//! The activity feed: the newest events of the dashboard's channel
//! (`message` and `annotation` events published by people and programs).
//! `data-count` is how many events the page has applied: with the list, it
//! shows that each arrived once and in order. The composer below the list
//! publishes an annotation (over the WebSocket, which the page switches to
//! when it first sends).

use leptos::prelude::*;

use crate::{live::state::Transport, ui::LiveStore, widgets::render_count};

/// The longest annotation the composer takes.
use crate::protocol::MAX_ANNOTATION_CHARS;

/// The activity feed.
#[component]
pub fn ActivityFeed(
    /// Its heading (default: "Activity").
    #[prop(optional, into)]
    title: Option<String>,
) -> impl IntoView {
    let store = expect_context::<LiveStore>();
    let channel = store.channel();
    store.need(&channel, None);
    let feed = store.feed;
    view! {
        <section
            class="feed-card"
            data-testid="activity-feed"
            data-count=move || store.feed_count.get()
            data-renders=render_count(feed)
        >
            <h2 class="feed-card__title">{title.unwrap_or_else(|| "Activity".to_string())}</h2>
            <ol class="feed-card__list">
                <For each=move || feed.get() key=|item| item.id let:item>
                    <li class="feed-card__item" data-id=item.id.to_string()>
                        <span class="feed-card__event">{item.event}</span>
                        <code class="feed-card__data">{item.text}</code>
                    </li>
                </For>
            </ol>
            <p class="feed-card__empty" class:feed-card__empty--hidden=move || feed.with(|f| !f.is_empty())>
                {format!("Nothing yet. Publish to {channel} to see it here.")}
            </p>
            <Composer />
        </section>
    }
}

/// The annotation composer: disabled while a transport that cannot send is
/// pinned; shows how many messages wait for a connection.
#[component]
fn Composer() -> impl IntoView {
    let store = expect_context::<LiveStore>();
    let (draft, set_draft) = signal(String::new());
    let can_send = move || store.pinned.get().is_none_or(|p| p == Transport::Ws);
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let text = draft.get_untracked();
        let text = text.trim();
        if !text.is_empty() && store.annotate(text.into()) {
            set_draft.set(String::new());
        }
    };
    let queued = move || match store.outbox.get() {
        0 => String::new(),
        1 => "1 waiting to send".to_string(),
        n => format!("{n} waiting to send"),
    };
    view! {
        <form
            class="feed-card__composer"
            data-testid="annotate"
            on:submit=on_submit
            title=move || (!can_send()).then_some("Sending needs a WebSocket: choose automatic or WebSocket")
        >
            <input
                class="feed-card__input"
                data-testid="annotation-input"
                type="text"
                aria-label="Annotation"
                placeholder="Annotate, e.g. deployed v1.4"
                maxlength=MAX_ANNOTATION_CHARS
                prop:value=draft
                on:input=move |event| set_draft.set(event_target_value(&event))
                disabled=move || !can_send()
            />
            <button class="feed-card__send" type="submit" disabled=move || !can_send()>
                "Annotate"
            </button>
            <span class="feed-card__queued" data-testid="outbox" data-queued=move || store.outbox.get()>
                {queued}
            </span>
        </form>
    }
}
