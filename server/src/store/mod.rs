//! The metrics store: series' samples kept durably and compactly under the
//! data directory, for range queries and rollups.
//!
//! Built up in steps; so far its foundations:
//!
//! - the chunk codec (`chunk`, over the bit stream of `bits`), which
//!   compresses a run of one series' samples the way Gorilla and Prometheus
//!   do: delta-of-delta timestamps and XOR'd values;
//! - the write-ahead log (`wal`): checksummed records in numbered segments,
//!   each append handed to the kernel before it is acknowledged, a torn last
//!   write cut off on replay and damage elsewhere repaired as Prometheus
//!   does.

pub mod bits;
pub mod chunk;
pub mod head;
pub mod wal;
