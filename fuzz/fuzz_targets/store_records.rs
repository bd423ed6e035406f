//! What the store reads back from disk: log records, chunks and rollup
//! chunks. Damage is an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::store::{chunk::ChunkReader, record::Record, rollup};

fuzz_target!(|data: &[u8]| {
    let _ = Record::decode(data);
    if let Ok(reader) = ChunkReader::new(data) {
        for sample in reader.take(100_000) {
            if sample.is_err() {
                break;
            }
        }
    }
    let _ = rollup::decode(data);
});
