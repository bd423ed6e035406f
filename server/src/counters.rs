//! Operational counters, exported at `GET /metrics` in the Prometheus text
//! format: connections by transport, events delivered, refusals, slow
//! clients dropped, and what the hub reports of itself ([`HubReport`]).

use crate::hub::HubReport;

use std::{
    fmt::Write as _,
    sync::{
        atomic::{AtomicI64, AtomicU64, Ordering::Relaxed},
        Arc,
    },
};

/// The transports, as counter labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Server-Sent Events.
    Sse,
    /// WebSocket.
    Ws,
    /// Long polling.
    Poll,
}

impl Transport {
    const ALL: [Transport; 3] = [Transport::Sse, Transport::Ws, Transport::Poll];

    fn index(self) -> usize {
        self as usize
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Sse => "sse",
            Transport::Ws => "ws",
            Transport::Poll => "poll",
        }
    }
}

/// The counters; shared by the hub and the transports.
#[derive(Debug, Default)]
pub struct Counters {
    connections: [AtomicI64; 3],
    delivered: [AtomicU64; 3],
    /// Streaming requests refused because `--max-connections` were open.
    pub over_capacity: AtomicU64,
    /// Clients disconnected because they did not read what was sent to them.
    pub slow_disconnects: AtomicU64,
    /// Requests refused as invalid (bad parameters, bodies or messages).
    pub rejected: AtomicU64,
}

/// Counts one open connection for as long as it lives.
#[derive(Debug)]
pub struct ConnectionGuard {
    counters: Arc<Counters>,
    transport: Transport,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.counters.connections[self.transport.index()].fetch_sub(1, Relaxed);
    }
}

impl Counters {
    /// Counts `result` as a refused request when it is an error; passes it on.
    pub fn refused<T, E>(&self, result: Result<T, E>) -> Result<T, E> {
        if result.is_err() {
            self.rejected.fetch_add(1, Relaxed);
        }
        result
    }

    /// Counts a new connection on `transport` until the guard is dropped.
    pub fn connection(self: &Arc<Self>, transport: Transport) -> ConnectionGuard {
        self.connections[transport.index()].fetch_add(1, Relaxed);
        ConnectionGuard {
            counters: self.clone(),
            transport,
        }
    }

    /// Counts `n` events delivered over `transport`.
    pub fn delivered(&self, transport: Transport, n: usize) {
        self.delivered[transport.index()].fetch_add(n as u64, Relaxed);
    }

    /// Open connections on `transport`.
    pub fn open_connections(&self, transport: Transport) -> i64 {
        self.connections[transport.index()].load(Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self, hub: HubReport) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let per_transport = |values: &dyn Fn(Transport) -> String| {
            Transport::ALL
                .iter()
                .map(|t| (format!("{{transport=\"{}\"}}", t.as_str()), values(*t)))
                .collect::<Vec<_>>()
        };
        let plain = |v: u64| vec![(String::new(), v.to_string())];
        family(
            "livedash_connections",
            "gauge",
            "Open client connections.",
            &per_transport(&|t| self.connections[t.index()].load(Relaxed).to_string()),
        );
        family(
            "livedash_events_delivered_total",
            "counter",
            "Events sent to clients.",
            &per_transport(&|t| self.delivered[t.index()].load(Relaxed).to_string()),
        );
        family(
            "livedash_events_published_total",
            "counter",
            "Events appended to the log.",
            &plain(hub.published),
        );
        family(
            "livedash_publish_refused_total",
            "counter",
            "Events refused for breaking a bound (channel cap, size).",
            &plain(hub.refused),
        );
        family(
            "livedash_events_coalesced_total",
            "counter",
            "Latest-value events dropped in favour of a newer value of the same key.",
            &plain(hub.coalesced),
        );
        family(
            "livedash_resets_total",
            "counter",
            "Reset snapshots sent to clients.",
            &plain(hub.resets),
        );
        family(
            "livedash_snapshots_total",
            "counter",
            "Snapshots built (initial, requested and resets).",
            &plain(hub.snapshots),
        );
        family(
            "livedash_subscriber_lag_total",
            "counter",
            "Times a subscriber fell behind the retained history and was reset.",
            &plain(hub.lagged),
        );
        family(
            "livedash_history_evicted_total",
            "counter",
            "Events evicted from history by its count, byte and age bounds.",
            &plain(hub.evicted),
        );
        family(
            "livedash_channels_expired_total",
            "counter",
            "Idle channels removed.",
            &plain(hub.channels_expired),
        );
        family(
            "livedash_slow_disconnects_total",
            "counter",
            "Clients disconnected for not reading.",
            &plain(self.slow_disconnects.load(Relaxed)),
        );
        family(
            "livedash_over_capacity_total",
            "counter",
            "Streaming requests refused because the connection cap was reached.",
            &plain(self.over_capacity.load(Relaxed)),
        );
        family(
            "livedash_rejected_total",
            "counter",
            "Invalid requests and messages refused.",
            &plain(self.rejected.load(Relaxed)),
        );
        family(
            "livedash_history_events",
            "gauge",
            "Events retained for resuming clients.",
            &plain(hub.history_events as u64),
        );
        family(
            "livedash_history_bytes",
            "gauge",
            "Bytes of events retained for resuming clients.",
            &plain(hub.history_bytes as u64),
        );
        family(
            "livedash_history_budget_bytes",
            "gauge",
            "The byte budget of all retained events.",
            &plain(hub.history_budget as u64),
        );
        family(
            "livedash_channels",
            "gauge",
            "Channels with retained events.",
            &plain(hub.channels as u64),
        );
        family(
            "livedash_subscribers",
            "gauge",
            "Live subscriptions.",
            &plain(hub.subscribers as u64),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_gauge_follows_guards() {
        let counters = Arc::new(Counters::default());
        let a = counters.connection(Transport::Ws);
        let b = counters.connection(Transport::Ws);
        assert_eq!(counters.open_connections(Transport::Ws), 2);
        drop(a);
        drop(b);
        assert_eq!(counters.open_connections(Transport::Ws), 0);
    }

    #[test]
    fn exposition_names_every_family_with_labels() {
        let counters = Counters::default();
        counters.delivered(Transport::Sse, 3);
        let text = counters.render(HubReport::default());
        assert!(text.contains("# TYPE livedash_connections gauge"));
        assert!(text.contains("livedash_events_delivered_total{transport=\"sse\"} 3"));
        assert!(text.contains("livedash_events_published_total 0"));
    }
}
