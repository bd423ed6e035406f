//! Prometheus remote write: the raw protobuf reader and the snappy path.
//! Nothing panics, and nothing is allocated past the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::sources::remote_write;

fuzz_target!(|data: &[u8]| {
    let _ = remote_write::parse(data);
    let _ = remote_write::decode(data, 1 << 20);
});
