//! The InfluxDB line protocol, at every precision: nothing panics, and
//! every point names the line it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::sources::influx::{self, Precision};

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|&b| b == b'\n').count();
    for precision in [Precision::Nanos, Precision::Seconds] {
        let (samples, errors) = influx::parse(data, precision);
        assert!(samples.iter().all(|s| (1..=lines).contains(&s.line)));
        assert!(errors.iter().all(|e| (1..=lines).contains(&e.line)));
    }
});
