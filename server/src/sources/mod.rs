//! Where metrics come from. Each source publishes into the hub and knows
//! nothing of transports or clients.

pub mod host;
