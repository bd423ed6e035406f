//! Who is viewing the dashboard: the header's line ("Viewing now: Ana,
//! Ben and 2 anonymous"), the viewer's own name (chosen in the page, kept in
//! this browser), and the page's part in it: while the page is in view it
//! says so to the server every [`PRESENCE_EVERY_MS`]; when it is hidden or
//! closed it says it left (a beacon, which outlives the page). The server
//! publishes each change on the dashboard's channel (`presence` events),
//! which the reducer hands to [`LiveStore::presence`].

#[cfg(feature = "hydrate")]
use leptos::prelude::*;

#[cfg(feature = "hydrate")]
use crate::ui::LiveStore;

/// Where this browser keeps the viewer's name.
#[cfg(feature = "hydrate")]
const NAME_KEY: &str = "livedash-name";

/// The line a page shows for `names` and `anonymous` viewers who chose
/// no name (the page's own viewer among them).
pub fn describe(names: &[String], anonymous: u32) -> String {
    let others = if anonymous == 0 {
        String::new()
    } else {
        format!("{anonymous} anonymous")
    };
    match (names.is_empty(), others.is_empty()) {
        (true, true) => String::new(),
        (true, false) => format!("Viewing now: {others}"),
        (false, true) => format!("Viewing now: {}", names.join(", ")),
        (false, false) => format!("Viewing now: {} and {others}", names.join(", ")),
    }
}

/// The header's presence line and name button. `dashboard` is the id;
/// a wall screen (`kiosk`) is counted, and shows no button. Mounted in
/// the browser only, with the alerts panel (`crate::alerts`).
#[cfg(feature = "hydrate")]
#[component]
pub fn Presence(dashboard: String, kiosk: bool) -> impl IntoView {
    let store = expect_context::<LiveStore>();
    let name = RwSignal::new(None::<String>);
    browser::install(dashboard, name);
    let line = move || {
        store.presence.with(|p| {
            p.as_ref()
                .map(|(names, n)| describe(names, *n))
                .unwrap_or_default()
        })
    };
    let choose = move |_| browser::ask_name(name);
    view! {
        <p class="presence" data-testid="presence" aria-live="polite">
            <span class="presence__line">{line}</span>
            " "
            {(!kiosk).then(|| view! {
                <button type="button" class="presence__name" data-testid="presence-name" on:click=choose>
                    {move || name.get().map_or_else(|| "Set your name".to_string(), |n| format!("You: {n}"))}
                </button>
            })}
        </p>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::{ev, prelude::*};
    use wasm_bindgen::JsValue;

    use super::NAME_KEY;
    use crate::protocol::PRESENCE_EVERY_MS;

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok().flatten()
    }

    /// Asks the viewer's name (empty: none), keeps it, and tells the others.
    pub fn ask_name(name: RwSignal<Option<String>>) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let current = name.get_untracked().unwrap_or_default();
        let Ok(Some(answer)) = window.prompt_with_message_and_default(
            "Your name, shown to the others viewing this dashboard (empty: none)",
            &current,
        ) else {
            return;
        };
        let answer: String = answer
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(40)
            .collect();
        if let Some(storage) = storage() {
            let _ = if answer.is_empty() {
                storage.remove_item(NAME_KEY)
            } else {
                storage.set_item(NAME_KEY, &answer)
            };
        }
        name.set((!answer.is_empty()).then_some(answer));
    }

    /// Says the page is here while it is in view, and that it left.
    pub fn install(dashboard: String, name: RwSignal<Option<String>>) {
        // After hydration (an effect's first run): the server rendered the
        // page without the name, and hydration keeps what it rendered.
        Effect::new(move |_| name.set(storage().and_then(|s| s.get_item(NAME_KEY).ok().flatten())));
        let viewer = format!(
            "{:08x}{:08x}",
            (js_sys::Math::random() * 4_294_967_296.0) as u32,
            (js_sys::Math::random() * 4_294_967_296.0) as u32
        );
        let url = format!("/api/dashboards/{dashboard}/presence");
        let body = move |leave: bool| {
            let mut body = serde_json::Map::new();
            body.insert("viewer".into(), viewer.clone().into());
            if let Some(name) = name.get_untracked() {
                body.insert("name".into(), name.into());
            }
            if leave {
                body.insert("leave".into(), true.into());
            }
            serde_json::Value::Object(body).to_string()
        };
        let visible = || {
            web_sys::window()
                .and_then(|w| w.document())
                .is_some_and(|d| !d.hidden())
        };
        let beat = {
            let url = url.clone();
            let body = body.clone();
            move || {
                if !visible() {
                    return;
                }
                let Some(window) = web_sys::window() else {
                    return;
                };
                let init = web_sys::RequestInit::new();
                init.set_method("POST");
                init.set_body(&JsValue::from_str(&body(false)));
                // Nobody waits for the answer: the next beat says it again.
                let _ = window.fetch_with_str_and_init(&url, &init);
            }
        };
        let leave = move || {
            if let Some(window) = web_sys::window() {
                let _ = window
                    .navigator()
                    .send_beacon_with_opt_str(&url, Some(&body(true)));
            }
        };
        // At once, on each name change, then every few seconds.
        Effect::new({
            let beat = beat.clone();
            move |_| {
                name.track();
                beat();
            }
        });
        if let Ok(handle) = set_interval_with_handle(
            beat.clone(),
            std::time::Duration::from_millis(PRESENCE_EVERY_MS),
        ) {
            on_cleanup(move || handle.clear());
        }
        // Hidden: not viewing (and a hidden tab's timers are slowed); shown
        // again: back at once. Closed: gone.
        let on_visibility = window_event_listener(ev::visibilitychange, {
            let leave = leave.clone();
            move |_| {
                if visible() {
                    beat();
                } else {
                    leave();
                }
            }
        });
        let on_hide = window_event_listener(ev::pagehide, move |_| leave());
        on_cleanup(move || {
            on_visibility.remove();
            on_hide.remove();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn the_line_names_the_named_and_counts_the_anonymous() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(describe(&[], 0), "");
        assert_eq!(describe(&[], 1), "Viewing now: 1 anonymous");
        assert_eq!(describe(&names(&["Ana"]), 0), "Viewing now: Ana");
        assert_eq!(
            describe(&names(&["Ana", "Ben"]), 3),
            "Viewing now: Ana, Ben and 3 anonymous"
        );
    }
}
