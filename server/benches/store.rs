//! Criterion micro-benchmarks of the store itself, without HTTP: a batch
//! of 10,000 points ingested (checked, logged, appended to the head, full
//! chunks sealed to segments), and a day of one series read back raw, as
//! minute rollups and as hour rollups.
//!
//! `cargo bench --bench store` (criterion's own options after `--`).
//! Figures go to BENCHMARKS.md.

use std::hint::black_box;

use app::protocol::SeriesKey;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use server::store::{chunk::Sample, rollup::Tier, Matcher, Mode, Point, Store, StoreConfig};

/// A store in a fresh temporary directory (removed when dropped).
struct Fixture {
    store: Store,
    dir: std::path::PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fixture(name: &str) -> Fixture {
    let dir =
        std::env::temp_dir().join(format!("livedash-criterion-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = StoreConfig::new(dir.clone());
    config.limits.max_series = 1_000_000;
    let (store, _) = Store::open(&config).expect("a store");
    Fixture { store, dir }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A noisy two-decimal gauge, deterministic.
fn value(i: i64, s: usize) -> f64 {
    ((50.0 + (s % 50) as f64 + ((i * 7_919 + s as i64) % 1_000) as f64 / 100.0) * 100.0).round()
        / 100.0
}

fn ingest(c: &mut Criterion) {
    let f = fixture("ingest");
    let keys: Vec<SeriesKey> = (0..10_000)
        .map(|s| {
            SeriesKey::new("bench", [("series".to_string(), s.to_string())]).expect("a valid key")
        })
        .collect();
    let start = now_ms() - 12 * 3_600_000;
    let mut round = 0i64;
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(keys.len() as u64));
    group.bench_function("ingest 10,000 points (one per series)", |b| {
        b.iter(|| {
            let ts = start + round * 1_000;
            let points: Vec<Point> = keys
                .iter()
                .enumerate()
                .map(|(s, key)| Point {
                    key: key.clone(),
                    sample: Sample {
                        ts,
                        value: value(round, s),
                    },
                })
                .collect();
            round += 1;
            let stored = f
                .store
                .ingest(&points, Mode::All, now_ms())
                .expect("stored");
            black_box(stored);
        })
    });
    group.finish();
}

fn reads(c: &mut Criterion) {
    let f = fixture("reads");
    let now = now_ms();
    let start = now - 86_000_000;
    // A day of one sample a second for one series, in batches of an hour.
    for hour in 0..24 {
        let points: Vec<Point> = (hour * 3_583..(hour + 1) * 3_583)
            .map(|i| Point {
                key: SeriesKey::new("day", []).expect("a valid key"),
                sample: Sample {
                    ts: start + i * 1_000,
                    value: value(i, 0),
                },
            })
            .collect();
        f.store.ingest(&points, Mode::All, now).expect("stored");
    }
    f.store.maintain(now).expect("maintained");
    let none: [Matcher; 0] = [];
    let mut group = c.benchmark_group("store");
    group.bench_function("read a day of one series, raw (86,000 samples)", |b| {
        b.iter(|| black_box(f.store.select("day", &none, start, now, 10).expect("read")))
    });
    for tier in [Tier::Minute, Tier::Hour] {
        group.bench_function(
            format!("read a day of one series, {} rollups", tier.name()),
            |b| {
                b.iter(|| {
                    black_box(
                        f.store
                            .select_rollups(tier, "day", &none, start, now, 10)
                            .expect("read"),
                    )
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, ingest, reads);
criterion_main!(benches);
