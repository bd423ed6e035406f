//! The page: what it shows and how it stays live.
//!
//! - `cards`: the bodies of a dashboard's value and text widgets, as HTML.
//! - `host`: the host's series the page shows, and their newest values.
//! - `reducer`: what a frame of deliveries changes, decided in plain Rust
//!   (built without features, tested natively).
//! - `store` (`LiveStore`): the signals that mirror those changes, one per
//!   thing that changes, and the live client that feeds them.
//! - `page`: the HTML shell and the `App` component: the host overview
//!   with the list of dashboards (`/`), or a dashboard (`board`, `/d/<id>`).

pub mod cards;
pub mod host;
pub mod presence;
pub mod reducer;

#[cfg(any(feature = "ssr", feature = "hydrate"))]
mod board;
#[cfg(any(feature = "ssr", feature = "hydrate"))]
mod page;
#[cfg(any(feature = "ssr", feature = "hydrate"))]
mod release;
#[cfg(any(feature = "ssr", feature = "hydrate"))]
mod store;
#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub mod time;

pub use reducer::DASHBOARD_CHANNEL;

#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub use board::EditorState;
#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub use page::{shell, App, PageAssets, BOOTSTRAP_ELEMENT_ID};
#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub use store::{LiveStore, SeriesSink};
#[cfg(any(feature = "ssr", feature = "hydrate"))]
pub use time::{TimeControl, TimeView};
