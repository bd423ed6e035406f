//! The chunk codec on series shaped like real ones: bytes per sample and
//! samples encoded and decoded per second on one thread.
//!
//! `cargo bench --bench codec -- [series] [samples per series]` (defaults
//! 1,000 and 7,200: two hours at one sample a second). Chunks hold 120
//! samples, as Prometheus' do. Figures go to BENCHMARKS.md.

use std::{hint::black_box, time::Instant};

use server::store::chunk::{ChunkEncoder, ChunkReader, Sample};

const CHUNK_SAMPLES: usize = 120;

use server::rng::Rng;

#[derive(Clone, Copy)]
enum Shape {
    /// A gauge that wanders with noise, rounded to two decimals (CPU
    /// percent, latency in ms).
    NoisyGauge,
    /// An integer counter that grows by a varying amount each second.
    Counter,
    /// A value that rarely changes (a status, a capacity).
    Steady,
}

fn series(rng: &mut Rng, shape: Shape, samples: usize) -> Vec<Sample> {
    let start = 1_795_000_000_000i64;
    let mut level = 50.0 + rng.unit() * 100.0;
    (0..samples)
        .map(|i| {
            let value = match shape {
                Shape::NoisyGauge => {
                    level += (rng.unit() - 0.5) * 2.0;
                    ((level + (rng.unit() - 0.5) * 5.0) * 100.0).round() / 100.0
                }
                Shape::Counter => {
                    level += (rng.unit() * 40.0).floor();
                    level.floor()
                }
                Shape::Steady => {
                    if rng.unit() < 0.01 {
                        level = (rng.unit() * 10.0).floor();
                    }
                    level
                }
            };
            // Scrapes land within a few milliseconds of the second.
            let jitter = if rng.unit() < 0.1 {
                (rng.unit() * 6.0) as i64 - 3
            } else {
                0
            };
            Sample {
                ts: start + i as i64 * 1_000 + jitter,
                value,
            }
        })
        .collect()
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let series_count = args.first().copied().unwrap_or(1_000);
    let samples = args.get(1).copied().unwrap_or(7_200);
    println!("{series_count} series x {samples} samples, chunks of {CHUNK_SAMPLES}");
    for (name, shapes) in [
        ("noisy two-decimal gauges", vec![Shape::NoisyGauge]),
        ("integer counters", vec![Shape::Counter]),
        ("steady values", vec![Shape::Steady]),
        (
            "mix: 4/5 gauges, 1/5 counters",
            vec![
                Shape::NoisyGauge,
                Shape::NoisyGauge,
                Shape::NoisyGauge,
                Shape::NoisyGauge,
                Shape::Counter,
            ],
        ),
    ] {
        let mut rng = Rng(0x5eed);
        let data: Vec<Vec<Sample>> = (0..series_count)
            .map(|i| series(&mut rng, shapes[i % shapes.len()], samples))
            .collect();
        for sealed in [false, true] {
            let started = Instant::now();
            let mut chunks = Vec::new();
            for series in &data {
                for run in series.chunks(CHUNK_SAMPLES) {
                    let mut encoder = ChunkEncoder::new();
                    for &sample in run {
                        encoder.push(sample).expect("a chunk holds 120 samples");
                    }
                    chunks.push(if sealed {
                        encoder.seal()
                    } else {
                        encoder.to_bytes()
                    });
                }
            }
            let encoding = started.elapsed();
            let started = Instant::now();
            let mut decoded = 0usize;
            for chunk in &chunks {
                for sample in ChunkReader::new(chunk).expect("a header") {
                    black_box(sample.expect("a whole chunk"));
                    decoded += 1;
                }
            }
            let decoding = started.elapsed();
            let total = series_count * samples;
            assert_eq!(decoded, total);
            let bytes: usize = chunks.iter().map(Vec::len).sum();
            println!(
                "{name}, {}: {:.2} bytes/sample; encode {:.1} M samples/s, decode {:.1} M samples/s",
                if sealed { "sealed (smaller of XOR and decimal)" } else { "XOR (open chunks)" },
                bytes as f64 / total as f64,
                total as f64 / encoding.as_secs_f64() / 1e6,
                total as f64 / decoding.as_secs_f64() / 1e6,
            );
        }
    }
}
