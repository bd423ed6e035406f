//! The metrics store: series' samples kept durably and compactly under the
//! data directory, for range queries and rollups.
//!
//! Built up in steps; so far its foundation, the chunk codec (`chunk`,
//! over the bit stream of `bits`), which compresses a run of one series'
//! samples the way Gorilla and Prometheus do: delta-of-delta timestamps and
//! XOR'd values.

pub mod bits;
pub mod chunk;
