//! A dashboard's page (`/d/<id>`): its widgets on a 12-column grid, each
//! built from the dashboard model's widget (`crate::dashboard`).
//!
//! The page follows the dashboard's own channel (`dashboard:<id>`). A save
//! (in the page, through the API, or of the file on disk) arrives there as
//! the whole model; [`LiveStore::dashboard`] takes it and the grid
//! re-renders exactly the widgets that changed: each widget is keyed by
//! its id and a generation that moves only when its definition does, so
//! an unchanged widget keeps its data, its canvas and its state. The
//! page's time range is not the dashboard's to change: a viewer keeps the
//! range they chose while the dashboard is edited under them.

use leptos::{
    either::{Either, EitherOf3},
    prelude::*,
};

use crate::{
    dashboard::{Widget, WidgetKind},
    protocol::SeriesPoints,
    ui::LiveStore,
    widgets::{
        spec_of, ActivityFeed, ConnectionStatus, PanelRow, StatusBoard, TimePicker,
        TimeSeriesChart, ValueCard,
    },
};

/// A widget as the grid holds it: its id, its generation, and itself.
type Placed = (String, u32, Widget);

/// The dashboard's page. `initial` holds each widget's series as the
/// server rendered them.
#[component]
pub fn DashboardPage<C>(
    initial: Vec<crate::protocol::WidgetSeries>,
    kiosk: bool,
    /// The dashboard is built in: nothing saves it.
    built_in: bool,
    /// What shows below the grid (the home page's list of dashboards).
    children: TypedChildren<C>,
) -> impl IntoView
where
    C: IntoView + 'static,
{
    let below = children.into_inner()();
    let store = expect_context::<LiveStore>();
    // Its saves come on its own channel (a built-in one has none: only
    // its widgets that show the channel follow it).
    if !built_in {
        store.need(&store.channel(), None);
    }
    let dashboard = store.dashboard;
    let initial = StoredValue::new(initial);
    let title = Memo::new(move |_| {
        dashboard.with(|d| d.as_ref().map(|d| d.title.clone()).unwrap_or_default())
    });
    // Each widget's generation moves when its definition changes.
    let placed = Memo::new(move |previous: Option<&Vec<Placed>>| {
        let widgets = dashboard.with(|d| d.as_ref().map(|d| d.widgets.clone()).unwrap_or_default());
        widgets
            .into_iter()
            .map(|widget| {
                let generation = previous
                    .and_then(|p| p.iter().find(|(id, _, _)| *id == widget.id))
                    .map_or(0, |(_, generation, before)| {
                        if *before == widget {
                            *generation
                        } else {
                            generation + 1
                        }
                    });
                (widget.id.clone(), generation, widget)
            })
            .collect::<Vec<_>>()
    });
    let removed = store.dashboard_removed;
    let editor = RwSignal::new(EditorState::Closed);
    // `?edit` in the address opens the editor (a new dashboard's first view).
    #[cfg(feature = "hydrate")]
    if !built_in && !kiosk {
        Effect::new(move |_| {
            let search = web_sys::window().and_then(|w| w.location().search().ok());
            if search.is_some_and(|s| {
                s.split(['?', '&'])
                    .any(|p| p == "edit" || p.starts_with("edit="))
            }) {
                open_editor(store, editor);
            }
        });
    }
    view! {
        <div class="dashboard" class:dashboard--kiosk=kiosk>
            <header class="dashboard__header">
                <h1 class="dashboard__title">
                    <a class="dashboard__home" href="/">"livedash"</a>
                    " "
                    <span class="dashboard__host" data-testid="dashboard-title">{move || title.get()}</span>
                </h1>
                // Who is viewing: mounted with the alerts panel (below), in
                // place of a stand-in of the same size (no layout shift).
                {(!built_in).then(|| view! {
                    <div id="presence-root" class="presence-root"
                        inner_html=if kiosk { PRESENCE_STAND_IN_KIOSK } else { PRESENCE_STAND_IN }></div>
                })}
                <TimePicker />
                <AlertsBadge built_in kiosk />
                {(!built_in && !kiosk).then(|| view! {
                    <button
                        type="button"
                        class="dashboard__edit"
                        data-testid="edit"
                        hidden=move || editor.get() == EditorState::Open
                        on:click=move |_| open_editor(store, editor)
                    >
                        {move || match editor.get() {
                            EditorState::Loading => "Loading the editor…",
                            EditorState::Failed => "Edit (the editor did not load: try again)",
                            _ => "Edit",
                        }}
                    </button>
                })}
                <ConnectionStatus />
            </header>
            <p class="dashboard__notice" role="status" hidden=move || !removed.get()>
                "This dashboard was removed. " <a href="/">"All dashboards"</a>
            </p>
            // The alerts panel mounts here (its code comes after the page's).
            <div id="alerts-root"></div>
            // The editor mounts here when it opens.
            <div id="editor-root"></div>
            <main class="board" data-testid="board">
                <For each=move || placed.get() key=|(id, generation, _)| (id.clone(), *generation) let:placed>
                    {
                        let (id, _, widget) = placed;
                        // The server's series serve a widget's first render
                        // only: one re-rendered after a save (its selector may
                        // have changed) reads its own.
                        let series = initial
                            .try_update_value(|all| {
                                let at = all.iter().position(|(w, _)| *w == id)?;
                                Some(all.swap_remove(at).1)
                            })
                            .flatten()
                            .unwrap_or_default();
                        let grid = widget.grid;
                        view! {
                            <div
                                class="board__cell"
                                data-widget=id
                                style=format!(
                                    "--x: {}; --y: {}; --w: {}; --h: {}",
                                    grid.x + 1,
                                    grid.y + 1,
                                    grid.w,
                                    grid.h,
                                )
                            >
                                {widget_view(widget, series, store.channel())}
                            </div>
                        }
                    }
                </For>
            </main>
            {below}
        </div>
    }
}

/// What the presence line looks like before its code has come: the same
/// elements, empty, and the name button not yet working.
const PRESENCE_STAND_IN: &str = "<p class=\"presence\"><span class=\"presence__line\"></span> <button type=\"button\" class=\"presence__name\" disabled>Set your name</button></p>";
/// ...on a wall screen (no button).
const PRESENCE_STAND_IN_KIOSK: &str =
    "<p class=\"presence\"><span class=\"presence__line\"></span> </p>";

/// The header's count of firing alerts; a press opens the alerts panel.
/// The panel and the presence line are a split of the WASM module
/// (`crate::alerts`), fetched once the page has hydrated.
#[component]
fn AlertsBadge(built_in: bool, kiosk: bool) -> impl IntoView {
    let store = expect_context::<LiveStore>();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let presence = (!built_in).then(|| {
            (
                store
                    .channel()
                    .trim_start_matches(crate::protocol::DASHBOARD_CHANNEL_PREFIX)
                    .to_string(),
                kiosk,
            )
        });
        leptos::task::spawn_local(async move {
            if let Err(error) = crate::alerts::load(store, presence).await {
                leptos::logging::warn!("livedash: the alerts panel did not load: {error}");
            }
        })
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (built_in, kiosk);
    let firing = store.alerts_firing;
    let open = store.alerts_open;
    let class = move || match firing.get() {
        (0, _) => "alerts-badge",
        (_, 0) => "alerts-badge alerts-badge--warning",
        _ => "alerts-badge alerts-badge--critical",
    };
    let text = move || match firing.get().0 {
        0 => "No alerts".to_string(),
        n => format!("{n} firing"),
    };
    // A wall screen shows the count, with nothing to press.
    if kiosk {
        return Either::Left(view! { <span class=class data-testid="alerts-badge">{text}</span> });
    }
    Either::Right(view! {
        <button
            type="button"
            class=class
            data-testid="alerts-badge"
            aria-expanded=move || open.get().to_string()
            aria-controls="alerts-root"
            on:click=move |_| open.update(|o| *o = !*o)
        >
            {text}
        </button>
    })
}

/// Where the page's editor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditorState {
    /// Not open.
    Closed,
    /// Its code is on its way.
    Loading,
    /// Open beside the dashboard.
    Open,
    /// Its code did not load; pressing Edit tries again.
    Failed,
}

/// Opens the editor, fetching its code the first time (a split of the
/// WASM module: `crate::editor`).
fn open_editor(store: LiveStore, state: RwSignal<EditorState>) {
    #[cfg(feature = "hydrate")]
    {
        state.set(EditorState::Loading);
        leptos::task::spawn_local(async move {
            if crate::editor::load(store, state).await.is_err() {
                state.set(EditorState::Failed);
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (store, state);
}

/// The view of one widget.
fn widget_view(widget: Widget, series: Vec<Vec<SeriesPoints>>, channel: String) -> impl IntoView {
    match widget.kind {
        WidgetKind::Timeseries => {
            let mut spec = spec_of(&widget);
            // The lines of the alert rules that read its series.
            let store = expect_context::<LiveStore>();
            store.rule_lines.with_value(|lines| {
                for (id, json) in lines {
                    if *id == widget.id {
                        spec.thresholds
                            .extend(crate::dashboard::options::thresholds_from_json(json));
                    }
                }
            });
            EitherOf3::A(view! { <TimeSeriesChart spec initial=series /> })
        }
        // The page follows its own channel only: the server sends a note
        // in its place (`ui::cards::text_html`).
        WidgetKind::Status | WidgetKind::Feed
            if !crate::ui::cards::shows_own_channel(&widget, &channel) =>
        {
            EitherOf3::B(view! { <ValueCard widget initial=series /> })
        }
        // Each can be hidden, which drops the channel once neither shows.
        WidgetKind::Status | WidgetKind::Feed => {
            let status = widget.kind == WidgetKind::Status;
            let title = widget.title;
            EitherOf3::C(view! {
                <PanelRow title=channel testid=format!("{}-row", widget.id)>
                    {if status {
                        Either::Left(view! { <StatusBoard title=title.clone() /> })
                    } else {
                        Either::Right(view! { <ActivityFeed title=title.clone() /> })
                    }}
                </PanelRow>
            })
        }
        _ => EitherOf3::B(view! { <ValueCard widget initial=series /> }),
    }
}
