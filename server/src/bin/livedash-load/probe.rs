//! The payload every published event carries: who sent it, its number and
//! when, so that a receiver can check exactly-once delivery and measure
//! publish-to-receive latency on its own.
//!
//! `{"run": 8123, "publisher": 0, "seq": 41, "sent_ns": 1795399686776000000, "pad": "xxxx"}`
//!
//! `run` tells this run's events from whatever else is on the channel (an
//! earlier run against the same server, another tool). `sent_ns` is
//! wall-clock time (`SystemTime`, Unix nanoseconds): publisher and
//! subscribers run in one process here, so their clocks agree.

use std::time::{SystemTime, UNIX_EPOCH};

use app::protocol::PublishRequest;
use serde::Deserialize;
use serde_json::{json, Value};

/// What a receiver reads of a payload; the padding is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Probe {
    /// The run that published it.
    pub run: u64,
    /// The publisher's index.
    pub publisher: usize,
    /// The publisher's count, from 0.
    pub seq: u64,
    /// When it was sent, Unix nanoseconds.
    pub sent_ns: u64,
}

/// Now, in Unix nanoseconds (0 if the clock is before 1970).
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Microseconds from `sent_ns` until now (0 if the clock went back).
pub fn elapsed_us(sent_ns: u64) -> u64 {
    now_ns().saturating_sub(sent_ns) / 1_000
}

/// The publish request for one probe, with `pad` as padding.
pub fn request(channel: &str, probe: Probe, pad: &str) -> PublishRequest {
    let mut data = json!({
        "run": probe.run,
        "publisher": probe.publisher,
        "seq": probe.seq,
        "sent_ns": probe.sent_ns,
    });
    if !pad.is_empty() {
        data["pad"] = Value::String(pad.to_string());
    }
    PublishRequest {
        channel: channel.to_string(),
        event: None,
        key: None,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_survives_the_round_trip_and_its_padding_is_skipped() {
        let probe = Probe {
            run: 9,
            publisher: 2,
            seq: 41,
            sent_ns: now_ns(),
        };
        let request = request("load", probe, "xxxx");
        assert_eq!(request.data["pad"], "xxxx");
        let text = serde_json::to_string(&request).unwrap();
        let back: PublishRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(Probe::deserialize(&back.data).unwrap(), probe);
        assert!(elapsed_us(probe.sent_ns) < 60_000_000);
    }
}
