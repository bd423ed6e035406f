//! The browser's live client.
//!
//! The pure parts build natively and are unit-tested without a browser:
//! connection states and transports (`state`), reconnection delays
//! (`backoff`), the transport fallback (`policy`), the circuit breaker for
//! HTTP requests (`breaker`), exactly-once ordering (`resume`), the
//! per-frame buffer (`frame`), what widgets subscribe to (`interest`),
//! keyed-collection patches (`patch`) and the
//! bounded series window (`series`). The browser glue (`client` and its
//! connections `sse`, `ws`, `poll`) is built with the `hydrate` feature.

pub mod backoff;
pub mod breaker;
pub mod frame;
pub mod interest;
pub mod patch;
pub mod policy;
pub mod resume;
pub mod series;
pub mod state;

#[cfg(feature = "hydrate")]
pub mod client;
#[cfg(feature = "hydrate")]
mod connection;
