//! Where metrics come from. Each source publishes into the hub (or writes
//! into the store) and knows nothing of transports or clients.

pub mod demo;
pub mod host;
pub mod influx;
pub mod ingest;
pub mod live;
pub mod prometheus_text;
pub mod remote_write;
pub mod scrape;
