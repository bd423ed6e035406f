//! livedash's shared crate: the wire protocol spoken between server and
//! browser, the pure logic of the browser's live client, and the Leptos UI.
//!
//! Built with no features it is plain Rust (serde only), so the server's
//! tests, a load generator or a fuzzer can use the wire types and client
//! logic (the live client's state machine, the page's reducer) without
//! Leptos. The `ssr` feature adds the server-side rendering of
//! the page; `hydrate` adds the browser side (EventSource, canvas charts).

#[cfg(feature = "hydrate")]
mod alerts;
pub mod chart;
pub mod dashboard;
#[cfg(feature = "hydrate")]
mod editor;
pub mod format;
pub mod live;
pub mod markdown;
pub mod protocol;

pub mod ui;
#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub mod widgets;
