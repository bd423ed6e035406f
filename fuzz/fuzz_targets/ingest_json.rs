//! A JSON ingest body: parsed as the handler parses it, and each point's
//! key checked as the handler checks it. Nothing may panic.
#![no_main]

use app::protocol::{IngestPoint, SeriesKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(points) = serde_json::from_slice::<Vec<IngestPoint>>(data) {
        for point in points {
            if let Ok(key) = SeriesKey::new(point.name, point.labels) {
                // The key's text form is what live events are keyed by.
                let _ = key.to_string();
            }
        }
    }
});
