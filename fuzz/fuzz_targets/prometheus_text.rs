//! The Prometheus text exposition format: every line is a sample or an
//! error, and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::sources::prometheus_text;

fuzz_target!(|data: &[u8]| {
    let (samples, errors) = prometheus_text::parse(data);
    let lines = data.split(|&b| b == b'\n').count();
    assert!(samples.len() + errors.len() <= lines);
});
