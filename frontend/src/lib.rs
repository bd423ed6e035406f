//! The WASM entry point. Its only job is to hydrate the page the server rendered.

#[cfg(feature = "heap-count")]
mod heap_count;

/// Room for the split step to lay the page's constants out again.
///
/// `cargo leptos build --split` moves each split's constants out of the
/// page module by packing the data segment again, module by module. When
/// the packed segment comes out even a byte longer than the linked one
/// (alignment padding between modules), it gives up and keeps all of it,
/// every split's constants included, in the page module: about 25 KB of
/// brotli more, on a change as small as one new panic location. These
/// bytes are linked into that segment (`#[used]`) but read by no module, so
/// the packing leaves them out of every output: they are that margin, and
/// cost nothing that is shipped.
#[cfg(target_arch = "wasm32")]
#[used]
static SPLIT_DATA_SLACK: [u8; 4096] = [0xA5; 4096];

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    #[cfg(feature = "heap-count")]
    heap_count::expose();
    leptos::mount::hydrate_body(app::ui::App);
}
