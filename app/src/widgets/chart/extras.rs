//! The chart's rarely used views: its table ("View as table") and the
//! form that writes a note (an annotation). They are a split of the WASM
//! module (`chart_extras`), fetched the first time someone opens one, so
//! the page's first download does not carry them (7 KB brotli); each is
//! mounted into its empty slot in the chart, and unmounted with the chart.

use std::any::Any;

use leptos::{prelude::*, task::spawn_local};
use wasm_bindgen::JsCast;

use crate::{
    chart::{format_value, sort_rows, LegendOrder, LegendRow, LegendSort, SeriesStats, Unit},
    ui::LiveStore,
};

/// A legend entry: the series, its label, its colour, its figures.
pub type LegendEntry = (String, String, usize, Option<SeriesStats>);

/// What the table and the form read and write of their chart.
#[derive(Clone, Copy)]
pub struct Extras {
    pub store: LiveStore,
    pub id: StoredValue<String>,
    pub unit: Unit,
    pub table: RwSignal<bool>,
    pub order: RwSignal<Option<LegendOrder>>,
    pub legend: Signal<Vec<LegendEntry>>,
    pub note_at: RwSignal<Option<(i64, Option<i64>)>>,
    pub note_text: RwSignal<String>,
    pub note_here: RwSignal<bool>,
    pub table_slot: NodeRef<leptos::html::Div>,
    pub note_slot: NodeRef<leptos::html::Div>,
}

/// What a load of the table or the form brings: its mounted view (kept
/// alive while the chart lives), or nothing when it could not come.
pub type Loading = std::pin::Pin<Box<dyn std::future::Future<Output = Option<Box<dyn Any>>>>>;

/// Mounts what `load` brings the first time `wanted` holds, and keeps it
/// until the chart goes (a load that fails is tried again next time).
/// Boxed: one copy in the WASM bundle for the table and the form.
pub fn mount_when(wanted: Box<dyn Fn() -> bool>, load: Box<dyn Fn() -> Loading>) {
    let mounted = StoredValue::new_local(None::<Box<dyn Any>>);
    let asked = StoredValue::new(false);
    Effect::new(move |_| {
        if wanted() && !asked.get_value() {
            asked.set_value(true);
            let loading = load();
            spawn_local(async move {
                match loading.await {
                    // Gone meanwhile: the view is dropped, so unmounted.
                    Some(view) => drop(mounted.try_set_value(Some(view))),
                    None => drop(asked.try_set_value(false)),
                }
            });
        }
    });
}

/// The table, fetched and mounted.
pub async fn load_table(extras: Extras) -> Option<Box<dyn Any>> {
    #[cfg(feature = "split")]
    let view = table(extras).await;
    #[cfg(not(feature = "split"))]
    let view = table(extras);
    view.ok()
}

/// The note form, fetched and mounted.
pub async fn load_note_form(extras: Extras) -> Option<Box<dyn Any>> {
    #[cfg(feature = "split")]
    let view = note_form(extras).await;
    #[cfg(not(feature = "split"))]
    let view = note_form(extras);
    view.ok()
}

fn slot(node: NodeRef<leptos::html::Div>) -> Option<web_sys::HtmlElement> {
    node.get_untracked().map(|div| div.unchecked_into())
}

#[cfg_attr(
    feature = "split",
    leptos::wasm_split::wasm_split(chart_extras, wasm_split_path = leptos::wasm_split, fallible)
)]
fn table(extras: Extras) -> Result<Box<dyn Any>, leptos::wasm_split::SplitLoaderError> {
    let Some(slot) = slot(extras.table_slot) else {
        return Ok(Box::new(()));
    };
    let Extras {
        id,
        unit,
        table,
        order,
        legend,
        ..
    } = extras;
    let handle = leptos::mount::mount_to(slot, move || {
        view! {
            <table class="chart-card__table" hidden=move || !table.get() data-testid=format!("{}-table", id.get_value())>
                <thead><tr>
                    {[(LegendSort::Name, "Series"), (LegendSort::Min, "Min"), (LegendSort::Max, "Max"), (LegendSort::Mean, "Mean"), (LegendSort::Last, "Last")]
                        .into_iter()
                        .map(|(column, title)| view! {
                            <th scope="col" aria-sort=move || order.with(|o| match o.map(|o| (o.by == column, o.descending)) {
                                Some((true, false)) => "ascending",
                                Some((true, true)) => "descending",
                                _ => "none",
                            })>
                                <button class="chart-card__sort" title="Sort by this column; again to reverse" on:click=move |_| order.update(|o| *o = Some(o.map_or(LegendOrder::first(column), |o| o.clicked(column))))>{title}</button>
                            </th>
                        })
                        .collect_view()}
                </tr></thead>
                <tbody>
                    {move || {
                        let mut rows: Vec<LegendRow> = legend
                            .get()
                            .into_iter()
                            .map(|(key, label, _, stats)| LegendRow { key, label, stats })
                            .collect();
                        if let Some(LegendOrder { by, descending }) = order.get() {
                            sort_rows(&mut rows, by, descending);
                        }
                        rows.into_iter().map(|LegendRow { label, stats, .. }| {
                            let cell = |v: Option<f64>| v.map(|v| format_value(unit, v, 2)).unwrap_or_else(|| "—".into());
                            view! {
                                <tr>
                                    <th scope="row">{label}</th>
                                    <td>{cell(stats.map(|s| s.min))}</td>
                                    <td>{cell(stats.map(|s| s.max))}</td>
                                    <td>{cell(stats.map(|s| s.mean))}</td>
                                    <td>{cell(stats.map(|s| s.last))}</td>
                                </tr>
                            }
                        }).collect_view()
                    }}
                </tbody>
            </table>
        }
    });
    Ok(Box::new(handle))
}

#[cfg_attr(
    feature = "split",
    leptos::wasm_split::wasm_split(chart_extras, wasm_split_path = leptos::wasm_split, fallible)
)]
fn note_form(extras: Extras) -> Result<Box<dyn Any>, leptos::wasm_split::SplitLoaderError> {
    let Some(slot) = slot(extras.note_slot) else {
        return Ok(Box::new(()));
    };
    let Extras {
        store,
        id,
        note_at,
        note_text,
        note_here,
        ..
    } = extras;
    let handle = leptos::mount::mount_to(slot, move || {
        let input = NodeRef::<leptos::html::Input>::new();
        // The text field takes the focus whenever a note is begun (the
        // next frame: the form's `hidden` is lifted by its own effect).
        Effect::new(move |_| {
            if note_at.get().is_some() {
                request_animation_frame(move || {
                    if let Some(input) = input.get_untracked() {
                        let _ = input.focus();
                    }
                });
            }
        });
        let id = id.get_value();
        view! {
            <form
                class="chart-card__annotate"
                data-testid=format!("{id}-annotate")
                hidden=move || note_at.with(Option::is_none)
                on:submit=move |event: leptos::ev::SubmitEvent| {
                    event.prevent_default();
                    let text = note_text.get_untracked().trim().to_string();
                    let Some((at, end)) = note_at.get_untracked() else { return };
                    if text.is_empty() {
                        return;
                    }
                    let mut note = serde_json::Map::new();
                    note.insert("text".into(), text.into());
                    note.insert("time".into(), at.into());
                    if let Some(end) = end {
                        note.insert("end".into(), end.into());
                    }
                    if note_here.get_untracked() {
                        note.insert("widget".into(), extras.id.get_value().into());
                    }
                    if store.annotate(note.into()) {
                        note_text.set(String::new());
                        note_at.set(None);
                    }
                }
                on:keydown=move |ev| if ev.key() == "Escape" { note_at.set(None) }
            >
                <label class="chart-card__annotate-label">
                    {move || note_at.get().map(|(at, end)| format!("Note at {}", when(at, end)))}
                    <input
                        class="feed-card__input"
                        data-testid=format!("{id}-annotate-text")
                        type="text"
                        placeholder="What happened?"
                        maxlength=crate::protocol::MAX_ANNOTATION_CHARS
                        node_ref=input
                        prop:value=note_text
                        on:input=move |ev| note_text.set(event_target_value(&ev))
                    />
                </label>
                <label class="chart-card__control">
                    <input
                        type="checkbox"
                        data-testid=format!("{id}-annotate-here")
                        prop:checked=note_here
                        on:change=move |ev| note_here.set(event_target_checked(&ev))
                    />
                    " Only this chart"
                </label>
                <button class="chart-card__toggle" type="submit">"Add note"</button>
                <button class="chart-card__toggle" type="button" on:click=move |_| note_at.set(None)>"Cancel"</button>
            </form>
        }
    });
    Ok(Box::new(handle))
}

/// A note's time as the viewer's clock reads it: `10:42:05`, or a span
/// `10:42:05 – 10:43:30`.
fn when(at: i64, end: Option<i64>) -> String {
    let clock = |ms: i64| {
        String::from(
            js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64))
                .to_locale_time_string("default"),
        )
    };
    match end {
        Some(end) => format!("{} – {}", clock(at), clock(end)),
        None => clock(at),
    }
}
