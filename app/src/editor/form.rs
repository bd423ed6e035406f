//! The editor's fields: the dashboard's title and range, the list of
//! widgets (add, remove, reorder by drag or keyboard), and the selected
//! widget's type, title, size, series (picked from the names API) and
//! options. Each field shows the check's problems for its path beside it.

use std::sync::atomic::{AtomicU32, Ordering};

use leptos::{either::EitherOf5, ev, prelude::*, task::spawn_local};
use serde_json::{json, Value};
use wasm_bindgen::JsCast;

use super::{http, kind_of, Editor};
use crate::{
    chart::Unit,
    dashboard::{edit, Dashboard, DefaultRange, SeriesQuery, Widget, WidgetKind},
};

/// A fresh element id.
fn next_id(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A labelled input with the problems at its path (`path` gives `None`
/// while the widget is not there) and its own input's error (`local`).
fn field<V: IntoView + 'static>(
    editor: Editor,
    label: &'static str,
    path: impl Fn() -> Option<String> + Send + Sync + 'static,
    input: impl FnOnce(String, RwSignal<Option<String>>) -> V,
) -> impl IntoView {
    let error_id = next_id("editor-error");
    let local = RwSignal::new(None::<String>);
    // Input that does not read holds the save back until it is fixed (or
    // the field goes).
    let key = error_id.clone();
    Effect::new(move |_| {
        let unread = local.with(Option::is_some);
        editor.unread.update(|u| {
            if unread {
                u.insert(key.clone());
            } else {
                u.remove(&key);
            }
        });
    });
    let key = error_id.clone();
    on_cleanup(move || {
        editor.unread.try_update(|u| u.remove(&key));
    });
    let error = Memo::new(move |_| {
        local
            .get()
            .or_else(|| path().and_then(|p| editor.problem_at(p)))
    });
    view! {
        <div class="editor__field" class:editor__field--invalid=move || error.with(Option::is_some)>
            <label>
                <span class="editor__label">{label}</span>
                {input(error_id.clone(), local)}
            </label>
            <p class="editor__error" id=error_id hidden=move || error.with(Option::is_none)>
                {move || error.get()}
            </p>
        </div>
    }
}

/// The dashboard's own fields.
#[component]
pub fn DashboardFields(editor: Editor) -> impl IntoView {
    let read = move |f: fn(&Dashboard) -> String| {
        move || editor.draft.with(|d| d.as_ref().map(f).unwrap_or_default())
    };
    let title = read(|d| d.title.clone());
    let range = read(|d| {
        d.time.range.clone().unwrap_or_else(|| {
            format!(
                "{}..{}",
                d.time.from.clone().unwrap_or_default(),
                d.time.to.clone().unwrap_or_default()
            )
        })
    });
    view! {
        <section class="editor__section">
            {field(editor, "Title", || Some("title".to_string()), move |error, _| view! {
                <input type="text" data-testid="editor-title" prop:value=title aria-describedby=error
                    on:input=move |e| {
                        let text = event_target_value(&e);
                        editor.edit(Some("title".into()), |d| d.title = text);
                    } />
            })}
            {field(editor, "Opens on the last", || Some("time".to_string()), move |error, _| view! {
                <input type="text" list="editor-ranges" prop:value=range aria-describedby=error
                    on:input=move |e| {
                        let text = event_target_value(&e);
                        editor.edit(Some("time".into()), |d| {
                            d.time = match text.split_once("..") {
                                Some((from, to)) => DefaultRange { range: None, from: Some(from.trim().into()), to: Some(to.trim().into()) },
                                None => DefaultRange { range: Some(text.trim().into()), from: None, to: None },
                            };
                        });
                    } />
                <datalist id="editor-ranges">
                    {["5m", "15m", "1h", "6h", "24h", "7d"].map(|r| view! { <option value=r></option> })}
                </datalist>
            })}
        </section>
    }
}

/// The widgets in reading order: select, reorder, remove, add.
#[component]
pub fn WidgetList(editor: Editor) -> impl IntoView {
    let dragging = StoredValue::new(None::<usize>);
    let new_kind = RwSignal::new(WidgetKind::Timeseries);
    let items = Memo::new(move |_| {
        editor.draft.with(|d| {
            d.as_ref()
                .map(|d| {
                    d.widgets
                        .iter()
                        .map(|w| (w.id.clone(), w.title.clone(), w.kind))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    });
    let add = move |_| {
        let mut id = String::new();
        editor.edit(None, |d| id = edit::add_widget(d, new_kind.get_untracked()));
        editor.selected.set(Some(id));
        focus_later("[data-testid=editor-widget-title]");
    };
    view! {
        <section class="editor__section">
            <h3 class="editor__subheading">"Widgets"</h3>
            <p class="editor__hint">"Drag a widget to move it, or focus it and press Alt+↑ or Alt+↓."</p>
            <ol class="editor__widgets" data-testid="editor-widgets">
                {move || {
                    let count = items.with(Vec::len);
                    items
                        .get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, (id, title, kind))| list_item(editor, dragging, i, count, id, title, kind))
                        .collect_view()
                }}
            </ol>
            <div class="editor__add">
                <label>
                    <span class="editor__label">"New widget"</span>
                    <select data-testid="editor-new-kind" on:change=move |e| new_kind.set(kind_of(&event_target_value(&e)))>
                        {edit::KINDS.map(|k| view! { <option value=k.name() selected=k == WidgetKind::Timeseries>{k.name()}</option> })}
                    </select>
                </label>
                <button type="button" data-testid="editor-add" on:click=add>"Add widget"</button>
            </div>
        </section>
    }
}

fn list_item(
    editor: Editor,
    dragging: StoredValue<Option<usize>>,
    i: usize,
    count: usize,
    id: String,
    title: String,
    kind: WidgetKind,
) -> impl IntoView {
    let move_to = move |to: usize| {
        editor.edit(None, |d| edit::move_widget(d, i, to));
        focus_later(&format!(".editor__widget[data-index=\"{to}\"]"));
    };
    let selected = {
        let id = id.clone();
        move || editor.selected.with(|s| s.as_deref() == Some(id.as_str()))
    };
    let select = {
        let id = id.clone();
        move || editor.selected.set(Some(id.clone()))
    };
    let is_last = i + 1 == count;
    let up = move |e: ev::MouseEvent| {
        e.stop_propagation();
        move_to(i.saturating_sub(1));
    };
    let down = move |e: ev::MouseEvent| {
        e.stop_propagation();
        move_to(i + 1);
    };
    let remove = {
        let id = id.clone();
        move |e: ev::MouseEvent| {
            e.stop_propagation();
            editor.edit(None, |d| {
                d.widgets.retain(|w| w.id != id);
                edit::pack(&mut d.widgets);
            });
            if editor.selected.get_untracked().as_deref() == Some(id.as_str()) {
                editor.selected.set(None);
            }
        }
    };
    let needs_fixing = move || editor.problem_at(format!("widgets[{i}]")).is_some();
    view! {
        <li
            class="editor__widget"
            class:editor__widget--selected=selected.clone()
            data-index=i
            data-widget-id=id
            tabindex="0"
            draggable="true"
            aria-current=move || selected().then_some("true")
            on:dragstart=move |e: ev::DragEvent| {
                dragging.set_value(Some(i));
                if let Some(data) = e.data_transfer() {
                    let _ = data.set_data("text/plain", &i.to_string());
                }
            }
            on:dragover=move |e: ev::DragEvent| e.prevent_default()
            on:drop=move |e: ev::DragEvent| {
                e.prevent_default();
                if let Some(from) = dragging.get_value() {
                    dragging.set_value(None);
                    editor.edit(None, |d| edit::move_widget(d, from, i));
                }
            }
            on:keydown=move |e: ev::KeyboardEvent| {
                let to = match e.key().as_str() {
                    "ArrowUp" if e.alt_key() && i > 0 => i - 1,
                    "ArrowDown" if e.alt_key() && i + 1 < count => i + 1,
                    _ => return,
                };
                e.prevent_default();
                move_to(to);
            }
        >
            <button type="button" class="editor__widget-title" on:click={
                let select = select.clone();
                move |_| select()
            }>{title.clone()}</button>
            " "
            <span class="editor__widget-kind">{kind.name()}</span>
            <span class="editor__widget-problem" hidden=move || !needs_fixing()>" needs fixing"</span>
            <span class="editor__widget-actions">
                <button type="button" aria-label=format!("Move {title} up") disabled=i == 0
                    on:click=up>"↑"</button>
                <button type="button" aria-label=format!("Move {title} down") disabled=is_last
                    on:click=down>"↓"</button>
                <button type="button" aria-label=format!("Remove {title}") data-testid="editor-remove" on:click=remove>"Remove"</button>
            </span>
        </li>
    }
}

/// Focuses what `selector` finds once the page has been redrawn.
fn focus_later(selector: &str) {
    let selector = selector.to_string();
    request_animation_frame(move || {
        if let Some(element) = document()
            .query_selector(&selector)
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = element.focus();
        }
    });
}

/// Reads the draft's widget `id` (tracked; `None` while it is not there).
fn of_widget<T>(
    editor: Editor,
    id: StoredValue<String>,
    f: impl FnOnce(&Widget) -> T,
) -> Option<T> {
    editor.draft.with(|d| {
        d.as_ref()?
            .widgets
            .iter()
            .find(|w| w.id == id.get_value())
            .map(f)
    })
}

/// The path of `field` of the draft's widget `id`, as the check names it.
fn widget_path(editor: Editor, id: StoredValue<String>, field: &str) -> Option<String> {
    editor
        .draft
        .with(|d| {
            d.as_ref()?
                .widgets
                .iter()
                .position(|w| w.id == id.get_value())
        })
        .map(|i| format!("widgets[{i}].{field}"))
}

/// The selected widget's fields.
#[component]
pub fn WidgetForm(editor: Editor, id: String) -> impl IntoView {
    let id = StoredValue::new(id);
    let with = move |f: &dyn Fn(&Widget) -> String| of_widget(editor, id, f).unwrap_or_default();
    let path = move |field: &'static str| move || widget_path(editor, id, field);
    let kind = Memo::new(move |_| kind_of(&with(&|w| w.kind.name().to_string())));
    view! {
        <section class="editor__section editor__widget-form" data-testid="editor-widget-form">
            <h3 class="editor__subheading">"Widget " <code>{id.get_value()}</code></h3>
            {field(editor, "Title", path("title"), move |error, _| view! {
                <input type="text" data-testid="editor-widget-title" aria-describedby=error prop:value=move || with(&|w| w.title.clone())
                    on:input=move |e| {
                        let text = event_target_value(&e);
                        change(editor, id.get_value(), "title", |w| w.title = text);
                    } />
            })}
            {field(editor, "Type", path("type"), move |error, _| view! {
                <select data-testid="editor-widget-type" aria-describedby=error
                    on:change=move |e| {
                        let kind = kind_of(&event_target_value(&e));
                        change(editor, id.get_value(), "", |w| edit::set_kind(w, kind));
                    }>
                    {edit::KINDS.map(|k| view! { <option value=k.name() selected=move || kind.get() == k>{k.name()}</option> })}
                </select>
            })}
            <div class="editor__row">
                {field(editor, "Width (of 12)", path("grid"), move |error, local| size_input(editor, id, true, error, local))}
                {field(editor, "Height", path("grid.h"), move |error, local| size_input(editor, id, false, error, local))}
            </div>
            {move || kind.get().reads_series().then(|| view! {
                {field(editor, "Unit", path("unit"), move |error, _| view! {
                    <select aria-describedby=error data-testid="editor-widget-unit"
                        on:change=move |e| {
                            let name = event_target_value(&e);
                            let unit = serde_json::from_value::<Unit>(Value::String(name)).ok();
                            change(editor, id.get_value(), "", |w| w.unit = unit);
                        }>
                        {[("", "none"), ("count", "count"), ("percent", "percent"), ("bytes", "bytes"), ("bytes_per_sec", "bytes/s"), ("currency", "currency ($)"), ("seconds", "seconds"), ("ms", "milliseconds")]
                            .map(|(value, label)| view! {
                                <option value=value selected=move || with(&|w| w.unit.and_then(|u| serde_json::to_value(u).ok()).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()) == value>{label}</option>
                            })}
                    </select>
                })}
                <SeriesFields editor id path=path("series") />
            })}
            {move || {
                let kind = kind.get();
                edit::option_keys(kind).iter().map(|key| option_field(editor, id, key)).collect_view()
            }}
        </section>
    }
}

/// Changes the widget `id`; `field` (after the id) names what was typed
/// into, for undo.
fn change(editor: Editor, id: String, field: &str, f: impl FnOnce(&mut Widget)) {
    let key = (!field.is_empty()).then(|| format!("{id}.{field}"));
    editor.edit(key, |d| {
        if let Some(widget) = d.widgets.iter_mut().find(|w| w.id == id) {
            f(widget);
        }
    });
}

fn size_input(
    editor: Editor,
    id: StoredValue<String>,
    width: bool,
    error: String,
    local: RwSignal<Option<String>>,
) -> impl IntoView {
    let value = move || {
        of_widget(editor, id, |w| if width { w.grid.w } else { w.grid.h })
            .unwrap_or(1)
            .to_string()
    };
    let (max, testid) = if width {
        (12, "editor-widget-width")
    } else {
        (24, "editor-widget-height")
    };
    view! {
        <input type="number" min="1" max=max data-testid=testid aria-describedby=error prop:value=value
            on:change=move |e| {
                match event_target_value(&e).trim().parse::<u32>() {
                    Ok(n) if (1..=max).contains(&n) => {
                        local.set(None);
                        editor.edit(None, |d| {
                            if let Some(i) = d.widgets.iter().position(|w| w.id == id.get_value()) {
                                let grid = d.widgets[i].grid;
                                let (w, h) = if width { (n, grid.h) } else { (grid.w, n) };
                                edit::resize_widget(d, i, w, h);
                            }
                        });
                    }
                    _ => local.set(Some(format!("a whole number from 1 to {max}"))),
                }
            } />
    }
}

/// The widget's series: a selector each (names offered as you type,
/// label filters from the labels API), the label that names them, and
/// whether to read rates.
#[component]
fn SeriesFields<P>(editor: Editor, id: StoredValue<String>, path: P) -> impl IntoView
where
    P: Fn() -> Option<String> + Copy + Send + Sync + 'static,
{
    let count = Memo::new(move |_| of_widget(editor, id, |w| w.series.len()).unwrap_or(0));
    let add = move |_| {
        change(editor, id.get_value(), "", |w| {
            w.series.push(SeriesQuery {
                selector: String::new(),
                label_by: None,
                rate: false,
            })
        })
    };
    view! {
        <fieldset class="editor__series">
            <legend>"Series"</legend>
            {move || (0..count.get()).map(|j| series_row(editor, id, j, path)).collect_view()}
            <button type="button" on:click=add data-testid="editor-add-series"
                hidden=move || { count.get() >= crate::dashboard::MAX_SERIES }>
                "Add series"
            </button>
        </fieldset>
    }
}

fn series_row(
    editor: Editor,
    id: StoredValue<String>,
    j: usize,
    path: impl Fn() -> Option<String> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let read = move |f: &dyn Fn(&SeriesQuery) -> String| {
        of_widget(editor, id, |w| w.series.get(j).map(f))
            .flatten()
            .unwrap_or_default()
    };
    fn set(
        editor: Editor,
        id: StoredValue<String>,
        j: usize,
        field: &str,
        f: impl FnOnce(&mut SeriesQuery),
    ) {
        change(editor, id.get_value(), &format!("series{j}.{field}"), |w| {
            if let Some(query) = w.series.get_mut(j) {
                f(query);
            }
        })
    }
    let names = RwSignal::new(Vec::<String>::new());
    let labels = RwSignal::new(Vec::<String>::new());
    let values = RwSignal::new(Vec::<String>::new());
    let label = RwSignal::new(String::new());
    let list_id = next_id("editor-names");
    let metric = move || {
        read(&|q| q.selector.clone())
            .split('{')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    // The prefix last asked about: an answer to an earlier one (the one
    // asked on focus, arriving after the one asked as the person typed)
    // is dropped.
    let asked = StoredValue::new(String::new());
    let offer_names = move |prefix: String| {
        asked.set_value(prefix.clone());
        spawn_local(async move {
            let offered = http::names(&format!(
                "/api/series/names?prefix={}",
                http::encode(&prefix)
            ))
            .await;
            if asked.try_with_value(|latest| *latest == prefix) == Some(true) {
                names.set(offered);
            }
        })
    };
    let load_labels = move || {
        let name = metric();
        if name.is_empty() {
            return;
        }
        spawn_local(async move {
            labels.set(
                http::names(&format!("/api/series/labels?name={}", http::encode(&name))).await,
            );
        });
    };
    let load_values = move |chosen: String| {
        label.set(chosen.clone());
        values.set(Vec::new());
        let name = metric();
        if chosen.is_empty() {
            return;
        }
        spawn_local(async move {
            values.set(
                http::names(&format!(
                    "/api/series/labels/{}/values?name={}",
                    http::encode(&chosen),
                    http::encode(&name)
                ))
                .await,
            );
        });
    };
    let selector_path = move || path().map(|p| format!("{p}[{j}].selector"));
    view! {
        <div class="editor__series-row" data-testid="editor-series-row">
            {field(editor, "Selector", selector_path, move |error, _| view! {
                <input type="text" list=list_id.clone() data-testid="editor-selector" aria-describedby=error
                    placeholder="metric_name{label=\"value\"}" autocomplete="off"
                    prop:value=move || read(&|q| q.selector.clone())
                    on:focus=move |_| offer_names(metric())
                    on:input=move |e| {
                        let text = event_target_value(&e);
                        offer_names(text.split('{').next().unwrap_or_default().trim().to_string());
                        set(editor, id, j, "selector", move |q| q.selector = text);
                    } />
                <datalist id=list_id>
                    {move || names.get().into_iter().map(|n| view! { <option value=n></option> }).collect_view()}
                </datalist>
            })}
            <div class="editor__row">
                <label class="editor__filter">
                    <span class="editor__label">"Filter by label"</span>
                    <select on:focus=move |_| load_labels() on:change=move |e| load_values(event_target_value(&e)) data-testid="editor-filter-label">
                        <option value="">"label…"</option>
                        {move || labels.get().into_iter().map(|l| view! { <option value=l.clone()>{l.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label class="editor__filter">
                    <span class="editor__label">"is"</span>
                    <select data-testid="editor-filter-value" on:change=move |e| {
                        let value = event_target_value(&e);
                        let chosen = label.get_untracked();
                        if !value.is_empty() && !chosen.is_empty() {
                            set(editor, id, j, "", move |q| q.selector = edit::with_matcher(&q.selector, &chosen, &value));
                        }
                    }>
                        <option value="">"value…"</option>
                        {move || values.get().into_iter().map(|v| view! { <option value=v.clone()>{v.clone()}</option> }).collect_view()}
                    </select>
                </label>
            </div>
            <div class="editor__row">
                <label>
                    <span class="editor__label">"Name each series by label"</span>
                    <input type="text" placeholder="(none)" prop:value=move || read(&|q| q.label_by.clone().unwrap_or_default())
                        on:input=move |e| {
                            let text = event_target_value(&e);
                            set(editor, id, j, "label_by", move |q| q.label_by = (!text.trim().is_empty()).then(|| text.trim().to_string()));
                        } />
                </label>
                <label class="editor__check">
                    <input type="checkbox" prop:checked=move || read(&|q| q.rate.to_string()) == "true"
                        on:change=move |e| {
                            let on = event_target_checked(&e);
                            set(editor, id, j, "", move |q| q.rate = on);
                        } />
                    " Per second (a counter's rate)"
                </label>
                <button type="button" aria-label="Remove this series" hidden=move || of_widget(editor, id, |w| w.series.len() < 2).unwrap_or(true) on:click=move |_| {
                    change(editor, id.get_value(), "", |w| {
                        if w.series.len() > 1 && j < w.series.len() {
                            w.series.remove(j);
                        }
                    })
                }>"Remove series"</button>
            </div>
        </div>
    }
}

/// One of the type's options.
fn option_field(editor: Editor, id: StoredValue<String>, key: &'static str) -> impl IntoView {
    let label = match key {
        "thresholds" => "Thresholds (80 warning, 95..100 critical Overload)",
        "stacking" => "Stacking",
        "soft_min" => "Axis reaches at least down to",
        "soft_max" => "Axis reaches at least up to",
        "min" => "Min",
        "max" => "Max",
        "decimals" => "Decimals",
        "limit" => "Most series shown",
        "channel" => "Channel",
        _ => "Text (Markdown)",
    };
    let current = move || of_widget(editor, id, |w| w.options.get(key).cloned()).flatten();
    let path = move || widget_path(editor, id, &format!("options.{key}"));
    let set = move |value: Option<Value>| {
        change(
            editor,
            id.get_value(),
            &format!("options.{key}"),
            |w| match value {
                Some(value) => {
                    w.options.insert(key.to_string(), value);
                }
                None => {
                    w.options.remove(key);
                }
            },
        )
    };
    let testid = format!("editor-option-{key}");
    field(editor, label, path, move |error, local| match key {
        "stacking" => EitherOf5::A(view! {
            <select aria-describedby=error data-testid=testid on:change=move |e| {
                let value = event_target_value(&e);
                set((!value.is_empty()).then_some(Value::String(value)));
            }>
                {["", "off", "normal", "percent"].map(|s| view! {
                    <option value=s selected=move || current().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default() == s>
                        {if s.is_empty() { "(default: off)" } else { s }}
                    </option>
                })}
            </select>
        }),
        "markdown" => EitherOf5::B(view! {
            <textarea rows="6" aria-describedby=error data-testid=testid
                prop:value=move || current().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
                on:input=move |e| set(Some(Value::String(event_target_value(&e))))></textarea>
        }),
        "channel" => EitherOf5::C(view! {
            <input type="text" aria-describedby=error data-testid=testid
                prop:value=move || current().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
                on:input=move |e| set(Some(Value::String(event_target_value(&e)))) />
        }),
        "thresholds" => EitherOf5::D(view! {
            <input type="text" aria-describedby=error data-testid=testid
                prop:value=move || current().map(|v| edit::thresholds_to_text(&v)).unwrap_or_default()
                on:change=move |e| match edit::thresholds_from_text(&event_target_value(&e)) {
                    Ok(list) => {
                        local.set(None);
                        set((!list.is_empty()).then_some(Value::Array(list)));
                    }
                    Err(message) => local.set(Some(message)),
                } />
        }),
        _ => EitherOf5::E(view! {
            <input type="number" step="any" aria-describedby=error data-testid=testid
                prop:value=move || current().map(|v| v.to_string()).unwrap_or_default()
                on:input=move |e| {
                    let text = event_target_value(&e);
                    let whole = matches!(key, "limit" | "decimals");
                    if text.trim().is_empty() {
                        local.set(None);
                        set(None);
                    } else if let Some(n) = text.trim().parse::<f64>().ok().filter(|n| n.is_finite()) {
                        if whole && (n.fract() != 0.0 || n < 0.0) {
                            local.set(Some("a whole number".into()));
                        } else {
                            local.set(None);
                            set(Some(if whole { json!(n as u64) } else { json!(n) }));
                        }
                    } else {
                        local.set(Some("a number".into()));
                    }
                } />
        }),
    })
}

/// Reads a dashboard file chosen in the page into the draft (it keeps
/// this dashboard's id); it is checked like any edit and saved only when
/// the person saves.
pub fn import(editor: Editor, event: ev::Event) {
    let Some(input) = event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
    else {
        return;
    };
    let file = input.files().and_then(|files| files.get(0));
    // Emptied, so choosing the same file again (edited meanwhile) reads it.
    input.set_value("");
    let Some(file) = file else {
        return;
    };
    spawn_local(async move {
        let text = wasm_bindgen_futures::JsFuture::from(file.text())
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default();
        match serde_json::from_str::<Dashboard>(&text) {
            Ok(mut imported) => {
                let id = editor.id.get_value();
                let renamed = imported.id != id;
                imported.id = id;
                editor.edit(None, |d| *d = imported);
                editor.message.set(if renamed {
                    "Imported (under this dashboard's id). Save to keep it.".into()
                } else {
                    "Imported. Save to keep it.".into()
                });
            }
            Err(error) => editor
                .message
                .set(format!("Not imported: not a dashboard file ({error}).")),
        }
    });
}
