//! Metric cards: a title, one big value and a line of detail, each read
//! from the newest points of the host's series it shows.

use leptos::prelude::*;

use crate::{
    format,
    ui::{host::Reading, LiveStore},
    widgets::render_count,
};

/// A card showing one value, with `extra` below it. `name` is used for
/// `data-testid` (`<name>-card`, `<name>-value`); `data-renders` counts how
/// often its value was rendered. A function with a typed `extra` rather
/// than a component with boxed children: a boxed view brings the whole
/// type-erased rendering machinery into the bundle.
pub fn stat_card(
    (name, title): (&'static str, &'static str),
    value: Signal<String>,
    detail: Signal<String>,
    extra: impl IntoView + 'static,
) -> impl IntoView {
    view! {
        <section class="stat-card" data-testid=format!("{name}-card") data-renders=render_count(value)>
            <h2 class="stat-card__title">{title}</h2>
            <p class="stat-card__value" data-testid=format!("{name}-value")>
                {move || value.get()}
            </p>
            <p class="stat-card__detail">{move || detail.get()}</p>
            {extra}
        </section>
    }
}

/// The store, with the series the card shows (those `shows` picks)
/// declared as needed.
fn store(shows: fn(&Reading) -> bool) -> LiveStore {
    let store = expect_context::<LiveStore>();
    store.need_readings(shows);
    store
}

const MISSING: &str = "—";

fn text(memo: Memo<Option<String>>) -> Signal<String> {
    Signal::derive(move || memo.get().unwrap_or_else(|| MISSING.to_string()))
}

/// Total CPU use, with a bar per core.
#[component]
pub fn CpuCard() -> impl IntoView {
    let store = store(Reading::is_cpu);
    let value = store.derive(|v| v.get(Reading::Cpu).map(|c| format::percent(c as f32)));
    let cores = store.derive(|v| {
        let cores = v.cores();
        (!cores.is_empty()).then(|| {
            cores
                .iter()
                .map(|c| ((c.clamp(0.0, 100.0) * 10.0).round() / 10.0) as f32)
                .collect::<Vec<f32>>()
        })
    });
    let detail = Signal::derive(move || match cores.with(|c| c.as_ref().map(Vec::len)) {
        Some(1) => "1 core".to_string(),
        Some(n) => format!("{n} cores"),
        None => MISSING.to_string(),
    });
    view! {
        {stat_card(("cpu", "CPU"), text(value), detail, view! {
            <div class="core-bars" aria-label="CPU use per core">
                {move || {
                    cores
                        .get()
                        .unwrap_or_default()
                        .into_iter()
                        .enumerate()
                        .map(|(index, percent)| {
                            view! {
                                <span
                                    class="core-bars__bar"
                                    title=format!("core {index}: {}", format::percent(percent))
                                    style=format!("--fill: {percent:.1}%")
                                ></span>
                            }
                        })
                        .collect_view()
                }}
            </div>
        })}
    }
}

/// Memory in use.
#[component]
pub fn MemoryCard() -> impl IntoView {
    let store = store(Reading::is_memory);
    let value = store.derive(|v| v.memory_percent().map(|p| format::percent(p as f32)));
    let detail = store.derive(|v| {
        Some(format!(
            "{} of {}",
            format::bytes(v.get(Reading::MemoryUsed)? as u64),
            format::bytes(v.get(Reading::MemoryTotal)? as u64)
        ))
    });
    stat_card(("memory", "Memory"), text(value), text(detail), ())
}

/// The load average.
#[component]
pub fn LoadCard() -> impl IntoView {
    let store = store(Reading::is_load);
    let value = store.derive(|v| v.get(Reading::Load1).map(format::load));
    let detail = store.derive(|v| {
        Some(format!(
            "5 min {} · 15 min {}",
            format::load(v.get(Reading::Load5)?),
            format::load(v.get(Reading::Load15)?)
        ))
    });
    stat_card(("load", "Load (1 min)"), text(value), text(detail), ())
}

/// Network throughput.
#[component]
pub fn NetworkCard() -> impl IntoView {
    let store = store(Reading::is_network);
    let value = store.derive(|v| {
        v.get(Reading::NetworkReceive)
            .map(|rx| format!("↓ {}", format::bytes_per_sec(rx)))
    });
    let detail = store.derive(|v| {
        v.get(Reading::NetworkTransmit)
            .map(|tx| format!("↑ {}", format::bytes_per_sec(tx)))
    });
    stat_card(("network", "Network"), text(value), text(detail), ())
}
