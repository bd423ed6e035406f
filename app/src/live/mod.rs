//! The browser's live client.
//!
//! The connection manager is a pure state machine (`machine`): inputs in,
//! effects out. It and the parts it is made of build natively and are
//! unit-tested without a browser: connection states and transports
//! (`state`), reconnection delays and their jitter (`backoff`), the
//! transport fallback (`policy`), the circuit breaker for poll requests
//! (`breaker`), exactly-once ordering (`resume`), what a connection asks
//! for and the WebSocket messages that ask it (`subscription`), messages
//! waiting for a socket (`outbox`), the per-frame buffer (`frame`), what
//! widgets subscribe to (`interest`) and keyed-collection patches
//! (`patch`). The browser glue, built with
//! the `hydrate` feature, feeds the machine page events, timers and
//! transport callbacks and carries out its effects (`client`), with one
//! `EventSource`, WebSocket or poll request at a time (`connection`).

pub mod backoff;
pub mod breaker;
pub mod frame;
pub mod interest;
pub mod machine;
pub mod outbox;
pub mod patch;
pub mod policy;
pub mod resume;
pub mod share;
pub mod state;
pub mod subscription;

#[cfg(feature = "hydrate")]
pub mod client;
#[cfg(feature = "hydrate")]
mod connection;
