//! The activity feed: the newest events of the dashboard's channel
//! (`message` and `annotation` events published by people and programs).
//! `data-count` is how many events the page has applied: with the list, it
//! shows that each arrived once and in order.

use leptos::prelude::*;

use crate::{ui::LiveStore, widgets::render_count};

/// The activity feed.
#[component]
pub fn ActivityFeed() -> impl IntoView {
    let store = expect_context::<LiveStore>();
    store.need(crate::ui::DASHBOARD_CHANNEL);
    let feed = store.feed;
    view! {
        <section
            class="feed-card"
            data-testid="activity-feed"
            data-count=move || store.feed_count.get()
            data-renders=render_count(feed)
        >
            <h2 class="feed-card__title">"Activity"</h2>
            <ol class="feed-card__list">
                <For each=move || feed.get() key=|item| item.id let:item>
                    <li class="feed-card__item" data-id=item.id.to_string()>
                        <span class="feed-card__event">{item.event}</span>
                        <code class="feed-card__data">{item.text}</code>
                    </li>
                </For>
            </ol>
            <p class="feed-card__empty" class:feed-card__empty--hidden=move || feed.with(|f| !f.is_empty())>
                "Nothing yet. Publish to dashboard:main to see it here."
            </p>
        </section>
    }
}
