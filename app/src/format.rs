//! How numbers are shown to a person: percentages, byte sizes and rates.
//! Pure functions, shared by the server-rendered and the hydrated page so
//! both render the same text.

/// `part` as a percentage of `whole`, 0 when `whole` is 0.
pub fn ratio_percent(part: u64, whole: u64) -> f32 {
    if whole == 0 {
        return 0.0;
    }
    (part as f64 / whole as f64 * 100.0) as f32
}

/// A percentage with one decimal, clamped to 0..=100; `—` when not a number.
pub fn percent(value: f32) -> String {
    if !value.is_finite() {
        return "—".to_string();
    }
    format!("{:.1}%", value.clamp(0.0, 100.0))
}

/// A byte count in binary units (`512 B`, `1.5 KiB`, `3.2 GiB`).
pub fn bytes(value: u64) -> String {
    scaled(
        value as f64,
        1024.0,
        &["B", "KiB", "MiB", "GiB", "TiB", "PiB"],
    )
}

/// A rate in bytes per second (`0 B/s`, `12.3 KiB/s`).
pub fn bytes_per_sec(value: f64) -> String {
    if !value.is_finite() || value < 0.0 {
        return "—".to_string();
    }
    format!(
        "{}/s",
        scaled(value, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"])
    )
}

/// A load average with two decimals.
pub fn load(value: f64) -> String {
    if !value.is_finite() {
        return "—".to_string();
    }
    format!("{value:.2}")
}

fn scaled(mut value: f64, step: f64, units: &[&str]) -> String {
    let mut unit = 0;
    while value >= step && unit + 1 < units.len() {
        value /= step;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", units[0])
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_have_one_decimal_and_stay_in_range() {
        assert_eq!(percent(12.345), "12.3%");
        assert_eq!(percent(-3.0), "0.0%");
        assert_eq!(percent(250.0), "100.0%");
        assert_eq!(percent(f32::NAN), "—");
    }

    #[test]
    fn ratio_of_nothing_is_zero() {
        assert_eq!(ratio_percent(5, 0), 0.0);
        assert_eq!(ratio_percent(1, 4), 25.0);
    }

    #[test]
    fn bytes_use_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(bytes_per_sec(0.0), "0 B/s");
        assert_eq!(bytes_per_sec(2048.0), "2.0 KiB/s");
        assert_eq!(bytes_per_sec(f64::INFINITY), "—");
    }
}
