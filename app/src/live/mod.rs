//! The browser's live client.
//!
//! The pure parts (connection states, backoff, the bounded series window)
//! build natively and are unit-tested without a browser; `sse` is the
//! browser glue that opens an `EventSource` and feeds the page's store.

pub mod backoff;
pub mod resume;
pub mod series;
pub mod state;

#[cfg(feature = "hydrate")]
pub mod sse;
