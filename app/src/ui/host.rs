//! The host's series as the page shows them: which series of the metrics
//! store each card and the CPU chart read, and the newest value of each.
//!
//! The host source stores every sample as series, like any other source's
//! (`livedash_host_cpu_percent{host}`, one more per core with a `core`
//! label, memory, load, network). The page shows the server's own host from
//! those series and nothing else: the server renders it with their points
//! read from the store (the chart's last minute, each card's newest value),
//! and the page then follows exactly those series on the `series` channel
//! (filtered by their keys). One model, so history and live agree point for
//! point, and a point is recognised as already shown by its time.
//!
//! Plain Rust, tested natively; the server uses [`SHOWN`] and
//! [`Reading::of`] to choose what it reads from the store.

use std::collections::BTreeMap;

use crate::protocol::SeriesKey;

/// Total CPU use in percent; per core with a `core` label.
pub const CPU_PERCENT: &str = "livedash_host_cpu_percent";
/// Memory in use, in bytes.
pub const MEMORY_USED_BYTES: &str = "livedash_host_memory_used_bytes";
/// Installed memory, in bytes.
pub const MEMORY_TOTAL_BYTES: &str = "livedash_host_memory_total_bytes";
/// Load average over one minute.
pub const LOAD1: &str = "livedash_host_load1";
/// Load average over five minutes.
pub const LOAD5: &str = "livedash_host_load5";
/// Load average over fifteen minutes.
pub const LOAD15: &str = "livedash_host_load15";
/// Bytes received per second, all interfaces but loopback.
pub const NETWORK_RECEIVE: &str = "livedash_host_network_receive_bytes_per_second";
/// Bytes sent per second, all interfaces but loopback.
pub const NETWORK_TRANSMIT: &str = "livedash_host_network_transmit_bytes_per_second";

/// How much of the host's total CPU use the chart shows.
pub const CPU_CHART_SPAN_MS: i64 = 60_000;

/// The metric names the page shows (each labelled `host`).
pub const SHOWN: [&str; 8] = [
    CPU_PERCENT,
    MEMORY_USED_BYTES,
    MEMORY_TOTAL_BYTES,
    LOAD1,
    LOAD5,
    LOAD15,
    NETWORK_RECEIVE,
    NETWORK_TRANSMIT,
];

/// One series the page shows, of its host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reading {
    /// Total CPU use: the CPU card's value and the chart's line.
    Cpu,
    /// One core's CPU use (the CPU card's bars), by index.
    Core(u32),
    /// Memory in use.
    MemoryUsed,
    /// Installed memory.
    MemoryTotal,
    /// Load average, one minute.
    Load1,
    /// Load average, five minutes.
    Load5,
    /// Load average, fifteen minutes.
    Load15,
    /// Bytes received per second.
    NetworkReceive,
    /// Bytes sent per second.
    NetworkTransmit,
}

impl Reading {
    /// Which reading `key` is, when it is one of `host`'s series that the
    /// page shows (exactly its labels: `host`, and `core` for a core).
    pub fn of(key: &SeriesKey, host: &str) -> Option<Self> {
        if key.labels.get("host").map(String::as_str) != Some(host) {
            return None;
        }
        let core = key.labels.get("core");
        if key.labels.len() != 1 + usize::from(core.is_some()) {
            return None;
        }
        let reading = match (key.name.as_str(), core) {
            (CPU_PERCENT, None) => Reading::Cpu,
            (CPU_PERCENT, Some(core)) => Reading::Core(core.parse().ok()?),
            (_, Some(_)) => return None,
            (MEMORY_USED_BYTES, None) => Reading::MemoryUsed,
            (MEMORY_TOTAL_BYTES, None) => Reading::MemoryTotal,
            (LOAD1, None) => Reading::Load1,
            (LOAD5, None) => Reading::Load5,
            (LOAD15, None) => Reading::Load15,
            (NETWORK_RECEIVE, None) => Reading::NetworkReceive,
            (NETWORK_TRANSMIT, None) => Reading::NetworkTransmit,
            _ => return None,
        };
        Some(reading)
    }

    /// Whether the CPU card shows it.
    pub fn is_cpu(&self) -> bool {
        matches!(self, Reading::Cpu | Reading::Core(_))
    }

    /// Whether the memory card shows it.
    pub fn is_memory(&self) -> bool {
        matches!(self, Reading::MemoryUsed | Reading::MemoryTotal)
    }

    /// Whether the load card shows it.
    pub fn is_load(&self) -> bool {
        matches!(self, Reading::Load1 | Reading::Load5 | Reading::Load15)
    }

    /// Whether the network card shows it.
    pub fn is_network(&self) -> bool {
        matches!(self, Reading::NetworkReceive | Reading::NetworkTransmit)
    }
}

/// The newest point of each series the cards show.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostValues {
    newest: BTreeMap<Reading, (i64, f64)>,
}

impl HostValues {
    /// Takes a point when it is newer than the one held (a series only
    /// moves forward: a point seen twice, or an older one, changes
    /// nothing). Returns whether it did.
    pub fn update(&mut self, reading: Reading, ts: i64, value: f64) -> bool {
        if !value.is_finite() {
            return false;
        }
        match self.newest.get(&reading) {
            Some(&(held, _)) if held >= ts => false,
            _ => {
                self.newest.insert(reading, (ts, value));
                true
            }
        }
    }

    /// The newest value of a reading.
    pub fn get(&self, reading: Reading) -> Option<f64> {
        self.newest.get(&reading).map(|&(_, value)| value)
    }

    /// The time of a reading's newest point.
    pub fn time_of(&self, reading: Reading) -> Option<i64> {
        self.newest.get(&reading).map(|&(ts, _)| ts)
    }

    /// Each core's newest CPU use, by core index.
    pub fn cores(&self) -> Vec<f64> {
        self.newest
            .range(Reading::Core(0)..=Reading::Core(u32::MAX))
            .map(|(_, &(_, value))| value)
            .collect()
    }

    /// Memory in use as a percentage of installed memory (when both are
    /// known and installed memory is not zero).
    pub fn memory_percent(&self) -> Option<f64> {
        let used = self.get(Reading::MemoryUsed)?;
        let total = self.get(Reading::MemoryTotal)?;
        (total > 0.0).then(|| used / total * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, labels: &[(&str, &str)]) -> SeriesKey {
        SeriesKey::new(
            name,
            labels.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap()
    }

    #[test]
    fn only_the_hosts_own_series_with_exactly_their_labels_are_readings() {
        let host = "web-1";
        assert_eq!(
            Reading::of(&key(CPU_PERCENT, &[("host", host)]), host),
            Some(Reading::Cpu)
        );
        assert_eq!(
            Reading::of(&key(CPU_PERCENT, &[("host", host), ("core", "12")]), host),
            Some(Reading::Core(12))
        );
        assert_eq!(
            Reading::of(&key(LOAD15, &[("host", host)]), host),
            Some(Reading::Load15)
        );
        for other in [
            key(CPU_PERCENT, &[("host", "db-1")]),
            key(CPU_PERCENT, &[]),
            key(CPU_PERCENT, &[("host", host), ("core", "x")]),
            key(CPU_PERCENT, &[("host", host), ("mode", "user")]),
            key(LOAD1, &[("host", host), ("core", "1")]),
            key("livedash_host_swap_used_bytes", &[("host", host)]),
        ] {
            assert_eq!(Reading::of(&other, host), None, "{other}");
        }
    }

    #[test]
    fn every_shown_name_is_a_reading() {
        for name in SHOWN {
            assert!(Reading::of(&key(name, &[("host", "h")]), "h").is_some());
        }
    }

    #[test]
    fn a_value_changes_only_for_a_newer_point() {
        let mut values = HostValues::default();
        assert!(values.update(Reading::Cpu, 1_000, 10.0));
        assert!(!values.update(Reading::Cpu, 1_000, 99.0), "the same point");
        assert!(!values.update(Reading::Cpu, 500, 99.0), "an older point");
        assert!(!values.update(Reading::Cpu, 2_000, f64::NAN));
        assert_eq!(values.get(Reading::Cpu), Some(10.0));
        assert!(values.update(Reading::Cpu, 2_000, 20.0));
        assert_eq!(values.get(Reading::Cpu), Some(20.0));
        assert_eq!(values.time_of(Reading::Cpu), Some(2_000));
    }

    #[test]
    fn cores_come_in_index_order_and_memory_is_a_share_of_the_total() {
        let mut values = HostValues::default();
        values.update(Reading::Core(10), 1, 100.0);
        values.update(Reading::Core(2), 1, 20.0);
        values.update(Reading::Cpu, 1, 50.0);
        assert_eq!(values.cores(), [20.0, 100.0]);
        assert_eq!(values.memory_percent(), None);
        values.update(Reading::MemoryUsed, 1, 1.0);
        values.update(Reading::MemoryTotal, 1, 0.0);
        assert_eq!(values.memory_percent(), None, "no installed memory");
        values.update(Reading::MemoryTotal, 2, 4.0);
        assert_eq!(values.memory_percent(), Some(25.0));
    }
}
