//! The host source: samples the machine livedash runs on (CPU, memory and
//! swap, load, network per interface, disk space per mount and I/O per
//! device (`disks`), process count) every sample interval, publishes a
//! [`HostSample`](app::protocol::HostSample) on the `metrics` channel and
//! writes it into the metrics store as series like any other source's
//! ([`series_points`]: `livedash_host_cpu_percent{host, core}` and the rest),
//! so history outlives the event log and restarts.
//!
//! sysinfo reports CPU use as a percentage over the time since the last
//! refresh, and network traffic as ever-growing byte counters; this module
//! turns the counters into rates itself ([`counter_rate`]), per interface, so
//! an interface that appears, disappears or resets its counters never shows
//! as a spike.

mod disks;

use std::{
    collections::HashMap,
    ffi::OsString,
    time::{Duration, Instant},
};

use app::protocol::{HostSample, LoadAverage, SeriesKey, METRICS_CHANNEL, METRICS_EVENT};
use sysinfo::{Disks, Networks, System};
use tokio::task::JoinHandle;

use crate::{
    hub::{now_ms, Hub},
    shutdown::Shutdown,
    store::{chunk::Sample, Mode, Point, Store},
};

/// The store's name for the host's total CPU use (per core with a `core`
/// label).
pub const CPU_SERIES: &str = "livedash_host_cpu_percent";

/// Why the host cannot be sampled.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// sysinfo cannot read this platform's statistics.
    #[error("cannot read host statistics: {0}")]
    Unavailable(#[from] sysinfo::Error),
}

/// The per-second rate of a counter that went from `previous` to `current`
/// in `elapsed`. A counter that went down was reset (or wrapped): it
/// restarted from zero, so `current` is what it counted since.
pub fn counter_rate(previous: u64, current: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds <= 0.0 {
        return 0.0;
    }
    let delta = if current >= previous {
        current - previous
    } else {
        current
    };
    delta as f64 / seconds
}

/// A percentage from sysinfo made safe to show: finite and within 0..=100.
pub fn clamp_percent(value: f32) -> f32 {
    if value.is_finite() {
        value.clamp(0.0, 100.0)
    } else {
        0.0
    }
}

/// The name the host's series are labelled with (`host`).
pub fn host_name() -> String {
    System::host_name().unwrap_or_else(|_| "unknown host".to_string())
}

/// What a sample holds beyond the [`HostSample`] the `metrics` channel
/// carries: series only.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostExtras {
    /// Swap used and in all, bytes.
    pub swap: (u64, u64),
    /// Processes running.
    pub processes: Option<u64>,
    /// Bytes received and sent per second, per interface.
    pub interfaces: Vec<(String, f64, f64)>,
    /// Space per mount.
    pub mounts: Vec<disks::Mount>,
    /// I/O per device.
    pub io: Vec<disks::DeviceIo>,
}

/// Turns successive reads of the host into samples.
pub struct HostSampler {
    system: System,
    networks: Networks,
    /// `None` where sysinfo cannot list disks.
    disks: Option<Disks>,
    host: String,
    counters: HashMap<OsString, (u64, u64)>,
    io_counters: HashMap<String, (u64, u64)>,
    last_read: Instant,
    /// What the last sample found beyond the [`HostSample`].
    pub extras: HostExtras,
}

impl HostSampler {
    /// Reads the host once, to have a baseline for the first sample.
    pub fn new() -> Result<Self, HostError> {
        let mut system = System::new()?;
        system.refresh_cpu_usage();
        system.refresh_memory();
        let networks = Networks::new_with_refreshed_list()?;
        let counters = interface_counters(&networks);
        let host = host_name();
        Ok(Self {
            system,
            networks,
            disks: Disks::new_with_refreshed_list().ok(),
            host,
            counters,
            io_counters: disks::read_counters(),
            last_read: Instant::now(),
            extras: HostExtras::default(),
        })
    }

    /// Reads the host and returns what changed since the previous read.
    pub fn sample(&mut self) -> HostSample {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        self.networks.refresh(true);
        let now = Instant::now();
        let elapsed = now.duration_since(self.last_read);
        self.last_read = now;

        let current = interface_counters(&self.networks);
        let (mut rx, mut tx) = (0.0, 0.0);
        let mut interfaces = Vec::new();
        for (name, &(rx_now, tx_now)) in &current {
            // An interface seen for the first time has no baseline yet.
            if let Some(&(rx_before, tx_before)) = self.counters.get(name) {
                let (r, t) = (
                    counter_rate(rx_before, rx_now, elapsed),
                    counter_rate(tx_before, tx_now, elapsed),
                );
                rx += r;
                tx += t;
                interfaces.push((name.to_string_lossy().into_owned(), r, t));
            }
        }
        interfaces.sort_by(|a, b| a.0.cmp(&b.0));
        self.counters = current;
        // The list of mounts is refreshed too: a disk mounted later shows.
        if let Some(disks) = &mut self.disks {
            disks.refresh(true);
        }
        let io_now = disks::read_counters();
        self.extras = HostExtras {
            swap: (self.system.used_swap(), self.system.total_swap()),
            processes: disks::process_count(),
            interfaces,
            mounts: self.disks.as_ref().map(disks::mounts).unwrap_or_default(),
            io: disks::rates(&self.io_counters, &io_now, elapsed),
        };
        self.io_counters = io_now;

        let load = System::load_average().unwrap_or(sysinfo::LoadAvg {
            one: 0.0,
            five: 0.0,
            fifteen: 0.0,
        });
        HostSample {
            ts: now_ms(),
            host: self.host.clone(),
            cpu_percent: clamp_percent(self.system.global_cpu_usage()),
            cores_percent: self
                .system
                .cpus()
                .iter()
                .map(|cpu| clamp_percent(cpu.usage()))
                .collect(),
            memory_used_bytes: self.system.used_memory(),
            memory_total_bytes: self.system.total_memory(),
            load_average: LoadAverage {
                one: load.one,
                five: load.five,
                fifteen: load.fifteen,
            },
            net_rx_bytes_per_sec: rx,
            net_tx_bytes_per_sec: tx,
        }
    }
}

/// Received and sent byte counters of every interface but loopback.
fn interface_counters(networks: &Networks) -> HashMap<OsString, (u64, u64)> {
    networks
        .iter()
        .filter(|(name, _)| name.as_os_str() != "lo")
        .map(|(name, data)| {
            (
                name.clone(),
                (data.total_received(), data.total_transmitted()),
            )
        })
        .collect()
}

/// Publishes a first sample (after sysinfo's minimum CPU interval, a
/// fraction of a second), then starts sampling every `interval` until
/// `shutdown` fires. Returning only after the first sample means the first
/// page a new server renders already has data.
pub async fn start(
    hub: Hub,
    store: Store,
    interval: Duration,
    shutdown: Shutdown,
) -> Result<JoinHandle<()>, HostError> {
    let mut sampler = HostSampler::new()?;
    tokio::time::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL).await;
    let sample = sampler.sample();
    publish(&hub, &store, sample, &sampler.extras);
    Ok(tokio::spawn(async move {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stop = shutdown.wait();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                // Reading /proc takes well under a millisecond: no need for
                // a blocking thread.
                // Writing the store is one small append to its log.
                _ = ticker.tick() => {
                    let sample = sampler.sample();
                    publish(&hub, &store, sample, &sampler.extras);
                }
            }
        }
        tracing::debug!("host sampler stopped");
    }))
}

fn publish(hub: &Hub, store: &Store, sample: HostSample, extras: &HostExtras) {
    let mut points = series_points(&sample);
    points.extend(extra_points(&sample.host, sample.ts, extras));
    match store.ingest(&points, Mode::Partial, now_ms()) {
        Ok(result) => {
            if let Some(first) = result.refused.first() {
                tracing::warn!(
                    refused = result.refused.len(),
                    reason = %first.reason,
                    "the store refused host samples"
                );
            }
            // What was stored goes live, even when a point beside it was
            // refused: the page must not miss a sample that a reload shows.
            super::live::publish_stored(hub, &points, &result);
        }
        Err(error) => tracing::error!(%error, "cannot store a host sample"),
    }
    if let Err(error) = hub.publish(METRICS_CHANNEL, METRICS_EVENT, Some(&sample.host), &sample) {
        tracing::error!(%error, channel = METRICS_CHANNEL, "cannot publish a host sample");
    }
}

/// A host sample as points of the store's series, all labelled with the
/// host's name.
pub fn series_points(sample: &HostSample) -> Vec<Point> {
    let point = |name: &str, extra: Option<(&str, String)>, value: f64| {
        let labels = std::iter::once(("host".to_string(), sample.host.clone()))
            .chain(extra.map(|(label, value)| (label.to_string(), value)));
        SeriesKey::new(name, labels).ok().map(|key| Point {
            key,
            sample: Sample {
                ts: sample.ts,
                value,
            },
        })
    };
    let load = sample.load_average;
    [
        point(CPU_SERIES, None, f64::from(sample.cpu_percent)),
        point(
            "livedash_host_memory_used_bytes",
            None,
            sample.memory_used_bytes as f64,
        ),
        point(
            "livedash_host_memory_total_bytes",
            None,
            sample.memory_total_bytes as f64,
        ),
        point("livedash_host_load1", None, load.one),
        point("livedash_host_load5", None, load.five),
        point("livedash_host_load15", None, load.fifteen),
        point(
            "livedash_host_network_receive_bytes_per_second",
            None,
            sample.net_rx_bytes_per_sec,
        ),
        point(
            "livedash_host_network_transmit_bytes_per_second",
            None,
            sample.net_tx_bytes_per_sec,
        ),
    ]
    .into_iter()
    .chain(
        sample
            .cores_percent
            .iter()
            .enumerate()
            .map(|(core, &percent)| {
                point(
                    CPU_SERIES,
                    Some(("core", core.to_string())),
                    f64::from(percent),
                )
            }),
    )
    .flatten()
    .collect()
}

/// The series of what a sample found beyond the [`HostSample`], all
/// labelled with the host's name.
pub fn extra_points(host: &str, ts: i64, extras: &HostExtras) -> Vec<Point> {
    let point = |name: &str, extra: Option<(&str, &str)>, value: f64| {
        let labels = std::iter::once(("host".to_string(), host.to_string()))
            .chain(extra.map(|(label, value)| (label.to_string(), value.to_string())));
        SeriesKey::new(name, labels).ok().map(|key| Point {
            key,
            sample: Sample { ts, value },
        })
    };
    let mut out = vec![
        point("livedash_host_swap_used_bytes", None, extras.swap.0 as f64),
        point("livedash_host_swap_total_bytes", None, extras.swap.1 as f64),
    ];
    if let Some(processes) = extras.processes {
        out.push(point("livedash_host_processes", None, processes as f64));
    }
    for (interface, rx, tx) in &extras.interfaces {
        let label = Some(("interface", interface.as_str()));
        out.push(point(
            "livedash_host_network_receive_bytes_per_second",
            label,
            *rx,
        ));
        out.push(point(
            "livedash_host_network_transmit_bytes_per_second",
            label,
            *tx,
        ));
    }
    for m in &extras.mounts {
        let label = Some(("mount", m.mount.as_str()));
        out.push(point("livedash_host_disk_used_bytes", label, m.used as f64));
        out.push(point(
            "livedash_host_disk_total_bytes",
            label,
            m.total as f64,
        ));
        out.push(point("livedash_host_disk_free_bytes", label, m.free as f64));
    }
    for io in &extras.io {
        let label = Some(("device", io.device.as_str()));
        out.push(point(
            "livedash_host_disk_read_bytes_per_second",
            label,
            io.read,
        ));
        out.push(point(
            "livedash_host_disk_write_bytes_per_second",
            label,
            io.write,
        ));
    }
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extras_become_series_labelled_by_what_they_measure() {
        let extras = HostExtras {
            swap: (1, 2),
            processes: Some(321),
            interfaces: vec![("eth0".into(), 10.0, 20.0)],
            mounts: vec![disks::Mount {
                mount: "/".into(),
                used: 5,
                total: 9,
                free: 4,
            }],
            io: vec![disks::DeviceIo {
                device: "sda".into(),
                read: 512.0,
                write: 0.0,
            }],
        };
        let points = extra_points("web-1", 7, &extras);
        let names: Vec<String> = points.iter().map(|p| p.key.to_string()).collect();
        assert_eq!(points.len(), 10, "{names:?}");
        assert!(
            names
                .contains(&"livedash_host_disk_used_bytes{host=\"web-1\",mount=\"/\"}".to_string()),
            "{names:?}"
        );
        assert!(names.contains(&"livedash_host_network_receive_bytes_per_second{host=\"web-1\",interface=\"eth0\"}".to_string()), "{names:?}");
        assert!(points
            .iter()
            .all(|p| p.sample.ts == 7 && p.key.labels["host"] == "web-1"));
    }

    #[test]
    fn rate_is_the_counter_delta_per_second() {
        assert_eq!(counter_rate(1_000, 3_000, Duration::from_secs(2)), 1_000.0);
        assert_eq!(
            counter_rate(1_000, 1_500, Duration::from_millis(500)),
            1_000.0
        );
        assert_eq!(counter_rate(5, 5, Duration::from_secs(1)), 0.0);
    }

    /// A sample of a two-core host `web-1` taken at `ts`.
    fn web_1_sample(ts: i64) -> HostSample {
        HostSample {
            ts,
            host: "web-1".into(),
            cpu_percent: 42.5,
            cores_percent: vec![40.0, 45.0],
            memory_used_bytes: 1 << 30,
            memory_total_bytes: 4 << 30,
            load_average: LoadAverage {
                one: 0.5,
                five: 0.25,
                fifteen: 0.125,
            },
            net_rx_bytes_per_sec: 10.0,
            net_tx_bytes_per_sec: 20.0,
        }
    }

    #[test]
    fn a_sample_becomes_one_point_per_series_labelled_with_its_host() {
        let sample = web_1_sample(1_795_000_000_000);
        let points = series_points(&sample);
        let names: Vec<String> = points.iter().map(|p| p.key.to_string()).collect();
        assert_eq!(names.len(), 10);
        assert_eq!(names[0], r#"livedash_host_cpu_percent{host="web-1"}"#);
        assert!(names.contains(&r#"livedash_host_cpu_percent{core="1",host="web-1"}"#.to_string()));
        assert!(points.iter().all(|p| p.sample.ts == sample.ts));
        assert_eq!(points[0].sample.value, 42.5);
    }

    /// A sample one of whose points the store refuses (here: older than
    /// what its series already holds) still goes live with every point
    /// that was stored; before, the whole sample stayed off the page,
    /// which then missed a sample that a reload showed.
    #[test]
    fn what_a_sample_stored_goes_live_even_when_a_point_beside_it_is_refused() {
        use crate::store::{head::Limits, StoreConfig};
        use app::protocol::SERIES_CHANNEL;
        let dir = std::env::temp_dir().join(format!(
            "livedash-host-publish-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let config = StoreConfig {
            dir: dir.clone(),
            limits: Limits::default(),
            retention_ms: 24 * 3_600_000,
            rollup_retention_ms: [
                crate::store::MINUTE_RETENTION_MS,
                crate::store::HOUR_RETENTION_MS,
            ],
            rewrite_floor_bytes: crate::store::REWRITE_FLOOR_BYTES,
        };
        let (store, _) = Store::open(&config).expect("a store in a fresh directory");
        let hub = Hub::new(crate::hub::HubConfig::default());
        let before = hub.open(SERIES_CHANNEL).expect("the series channel opens");
        let now = now_ms();
        let sample = web_1_sample(now);
        // The load series already holds a newer point: the sample's is refused.
        let load = series_points(&sample)
            .into_iter()
            .find(|p| p.key.name == "livedash_host_load1")
            .expect("a load series");
        let newer = Point {
            key: load.key.clone(),
            sample: Sample {
                ts: now + 1_000,
                value: 1.0,
            },
        };
        store
            .ingest(&[newer], Mode::Partial, now)
            .expect("the newer point is stored");

        publish(&hub, &store, sample.clone(), &HostExtras::default());

        let (_, events) = hub.history(SERIES_CHANNEL);
        let published: Vec<String> = events
            .iter()
            .filter(|e| e.position > before)
            .filter_map(|e| e.key.as_deref().map(str::to_string))
            .collect();
        let total = r#"livedash_host_cpu_percent{host="web-1"}"#;
        assert!(
            published.iter().any(|k| k == total),
            "the stored total goes live: {published:?}"
        );
        assert!(
            !published.iter().any(|k| *k == load.key.to_string()),
            "the refused point does not: {published:?}"
        );
        let all = series_points(&sample).len()
            + extra_points(&sample.host, sample.ts, &HostExtras::default()).len();
        assert_eq!(published.len(), all - 1, "every other point goes live");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_counter_that_went_down_restarted_from_zero() {
        assert_eq!(counter_rate(10_000, 400, Duration::from_secs(2)), 200.0);
    }

    #[test]
    fn no_elapsed_time_means_no_rate() {
        assert_eq!(counter_rate(0, 1_000, Duration::ZERO), 0.0);
    }

    #[test]
    fn percentages_are_finite_and_in_range() {
        assert_eq!(clamp_percent(42.5), 42.5);
        assert_eq!(clamp_percent(-1.0), 0.0);
        assert_eq!(clamp_percent(100.5), 100.0);
        assert_eq!(clamp_percent(f32::NAN), 0.0);
        assert_eq!(clamp_percent(f32::INFINITY), 0.0);
    }

    #[test]
    fn a_real_sample_of_this_host_is_plausible() {
        let mut sampler = HostSampler::new().expect("this test runs on a supported platform");
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        let sample = sampler.sample();
        assert!(!sample.cores_percent.is_empty());
        assert!((0.0..=100.0).contains(&sample.cpu_percent));
        assert!(
            sample.memory_total_bytes > 0 && sample.memory_used_bytes <= sample.memory_total_bytes
        );
        assert!(sample.net_rx_bytes_per_sec >= 0.0 && sample.net_tx_bytes_per_sec >= 0.0);
    }
}
