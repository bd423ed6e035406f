//! The WASM entry point. Its only job is to hydrate the page the server rendered.

#[cfg(feature = "heap-count")]
mod heap_count;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    #[cfg(feature = "heap-count")]
    heap_count::expose();
    leptos::mount::hydrate_body(app::ui::App);
}
