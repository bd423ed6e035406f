//! Property tests of the chunk codec: whatever the timestamps and values,
//! a chunk gives back exactly what went in, and a damaged chunk gives an
//! error or a prefix of its samples, never a panic. Cases come from seeds
//! by a small deterministic generator, so a failure names its seed.

use super::*;

use crate::rng::Rng;

/// A timestamp step: mostly regular, sometimes jittered, sometimes wild.
fn step(rng: &mut Rng, interval: i64) -> i64 {
    match rng.below(10) {
        0..=5 => interval,
        6 | 7 => interval + rng.below(200) as i64 - 100,
        8 => rng.next_u64() as i64 >> rng.below(64),
        _ => -(rng.below(100_000) as i64),
    }
}

/// A value of one of the shapes series take, or any bit pattern at all.
fn value(rng: &mut Rng, previous: f64) -> f64 {
    value_of(rng.below(12), rng, previous)
}

/// A gauge or counter value only: what the decimal encoding takes.
fn decimal_value(rng: &mut Rng, previous: f64) -> f64 {
    let shape = 4 + rng.below(8);
    value_of(shape, rng, previous)
}

fn value_of(shape: u64, rng: &mut Rng, previous: f64) -> f64 {
    match shape {
        // Any 64 bits: NaNs with payloads, infinities, subnormals.
        0 | 1 => f64::from_bits(rng.next_u64()),
        2 => f64::from_bits(0x7ff8_0000_0000_0000 | rng.below(1 << 51)),
        3 => [
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            f64::MAX,
        ][rng.below(6) as usize],
        // A gauge with two decimals.
        4..=6 => ((previous + (rng.below(2001) as f64 - 1000.0) / 100.0) * 100.0).round() / 100.0,
        // A counter, which sometimes resets.
        7..=9 => {
            if rng.below(20) == 0 {
                rng.below(10) as f64
            } else {
                previous.floor().max(0.0) + rng.below(50) as f64
            }
        }
        // The same value again.
        _ => previous,
    }
}

fn case(seed: u64) -> Vec<Sample> {
    case_with(seed, value)
}

fn case_with(seed: u64, value: fn(&mut Rng, f64) -> f64) -> Vec<Sample> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let count = 1 + rng.below(300) as usize;
    let interval = [1, 1_000, 15_000, 60_000][rng.below(4) as usize];
    let mut ts = rng.next_u64() as i64 >> rng.below(24);
    let mut previous = 0.0;
    (0..count)
        .map(|_| {
            ts = ts.wrapping_add(step(&mut rng, interval));
            previous = value(&mut rng, previous);
            Sample {
                ts,
                value: previous,
            }
        })
        .collect()
}

fn encode(samples: &[Sample]) -> Vec<u8> {
    let mut encoder = ChunkEncoder::new();
    for &sample in samples {
        encoder
            .push(sample)
            .expect("fewer samples than a chunk holds");
    }
    encoder.to_bytes()
}

#[test]
fn every_sample_comes_back_bit_for_bit() {
    for seed in 0..2_000 {
        let samples = case(seed);
        let bytes = encode(&samples);
        let reader = ChunkReader::new(&bytes).expect("a header");
        assert_eq!(reader.len(), samples.len(), "seed {seed}");
        let decoded: Vec<Sample> = reader
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(decoded, samples, "seed {seed}");
    }
}

#[test]
fn a_cut_or_damaged_chunk_gives_an_error_or_a_prefix_never_a_panic() {
    for seed in 0..300 {
        let samples = case(seed);
        let bytes = encode(&samples);
        let mut rng = Rng(seed | 1);
        for cut in 0..bytes.len() {
            let mut damaged = bytes[..cut].to_vec();
            if !damaged.is_empty() && rng.below(2) == 0 {
                let at = rng.below(damaged.len() as u64) as usize;
                damaged[at] ^= 1 << rng.below(8);
            }
            let Ok(reader) = ChunkReader::new(&damaged) else {
                assert!(
                    cut < 2 || damaged[0] & 0x80 != 0,
                    "seed {seed}: only a missing header or another encoding's mark fails at once"
                );
                continue;
            };
            let mut decoded = Vec::new();
            for sample in reader.take(MAX_SAMPLES) {
                match sample {
                    Ok(sample) => decoded.push(sample),
                    Err(_) => break,
                }
            }
            if damaged == bytes[..cut] {
                assert_eq!(decoded, samples[..decoded.len()], "seed {seed}, cut {cut}");
            }
        }
    }
}

#[test]
fn regular_samples_cost_a_bit_of_timestamp_and_repeated_values_one_bit() {
    let mut encoder = ChunkEncoder::new();
    for i in 0..120 {
        encoder
            .push(Sample {
                ts: 1_795_000_000_000 + i * 15_000,
                value: 42.0,
            })
            .unwrap();
    }
    // 16 bytes for the first sample, 2 for the header, then about two bits
    // per sample.
    assert!(
        encoder.size() <= 2 + 16 + 4 + 120 * 2 / 8 + 1,
        "{} bytes",
        encoder.size()
    );
}

#[test]
fn a_counter_reset_and_special_values_round_trip() {
    let samples: Vec<Sample> = [10.0, 20.0, 3.0, f64::NAN, -0.0, 0.0, f64::INFINITY, 5.5]
        .into_iter()
        .enumerate()
        .map(|(i, value)| Sample {
            ts: i as i64 * 1_000,
            value,
        })
        .collect();
    let bytes = encode(&samples);
    let decoded: Vec<Sample> = ChunkReader::new(&bytes)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(decoded, samples);
    assert_eq!(decoded[4].value.to_bits(), (-0.0f64).to_bits());
}

#[test]
fn a_full_chunk_refuses_more() {
    let mut encoder = ChunkEncoder::new();
    for i in 0..MAX_SAMPLES as i64 {
        encoder.push(Sample { ts: i, value: 1.0 }).unwrap();
    }
    assert_eq!(encoder.push(Sample { ts: 0, value: 1.0 }), Err(ChunkFull));
    assert_eq!(
        ChunkReader::new(&encoder.to_bytes()).unwrap().len(),
        MAX_SAMPLES
    );
}

#[test]
fn an_empty_chunk_reads_as_no_samples_and_a_headless_one_is_an_error() {
    let bytes = ChunkEncoder::new().to_bytes();
    assert_eq!(ChunkReader::new(&bytes).unwrap().count(), 0);
    assert_eq!(ChunkReader::new(&[7]).err(), Some(ChunkError::NoHeader));
}

fn sealed(samples: &[Sample]) -> Vec<u8> {
    let mut encoder = ChunkEncoder::new();
    for &sample in samples {
        encoder
            .push(sample)
            .expect("fewer samples than a chunk holds");
    }
    encoder.seal()
}

#[test]
fn sealed_chunks_come_back_bit_for_bit_in_either_encoding() {
    let mut decimal = 0;
    for seed in 0..2_000 {
        let samples = if seed % 2 == 0 {
            case_with(seed, decimal_value)
        } else {
            case(seed)
        };
        let bytes = sealed(&samples);
        assert!(
            bytes.len() <= encode(&samples).len(),
            "seed {seed}: never larger"
        );
        if bytes[0] == decimal::TAG {
            decimal += 1;
        }
        let reader = ChunkReader::new(&bytes).expect("a sealed chunk");
        assert_eq!(reader.len(), samples.len(), "seed {seed}");
        let decoded: Vec<Sample> = reader
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(decoded, samples, "seed {seed}");
    }
    assert!(
        decimal > 500,
        "the decimal encoding is used: {decimal} of 2,000"
    );
}

#[test]
fn a_damaged_sealed_chunk_is_an_error_never_a_panic() {
    for seed in 0..300 {
        let bytes = sealed(&case_with(seed, decimal_value));
        let mut rng = Rng(seed | 1);
        for cut in 0..bytes.len() {
            let mut damaged = bytes[..cut].to_vec();
            if !damaged.is_empty() && rng.below(2) == 0 {
                let at = rng.below(damaged.len() as u64) as usize;
                damaged[at] ^= 1 << rng.below(8);
            }
            if let Ok(reader) = ChunkReader::new(&damaged) {
                for sample in reader.take(MAX_SAMPLES) {
                    if sample.is_err() {
                        break;
                    }
                }
            }
        }
    }
}
