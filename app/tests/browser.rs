//! Browser tests of the hydrated side, run by wasm-bindgen-test in headless
//! Chromium: the store applies deliveries once per animation frame, pause
//! holds them back, and widgets re-render only for their own data.

#![cfg(all(target_arch = "wasm32", feature = "hydrate"))]

use app::{
    live::{
        frame::Delivery,
        state::{ConnectionState, Transport},
    },
    protocol::{Bootstrap, Envelope, Position},
    ui::LiveStore,
    widgets::{ConnectionStatus, StatusBoard},
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
    let owner = Owner::new();
    owner.set();
    let store = LiveStore::new(&Bootstrap::default());
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
