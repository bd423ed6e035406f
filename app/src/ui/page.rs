//! The HTML shell the server renders, and the [`App`] component both sides
//! render (the server to HTML, the browser by hydrating it).
//!
//! The server puts a [`Bootstrap`] (the host's series from the metrics
//! store, and the log position they are as of) into the page twice:
//! rendered into the widgets, and as JSON in a
//! `<script id="livedash-bootstrap">` element. The browser reads that JSON
//! before hydrating, so both sides build the same [`LiveStore`] and the
//! page shows real values before any script has run. The live client then
//! resumes from the bootstrap's position: nothing missed, nothing twice.

use leptos::prelude::*;

use crate::{
    chart::{ChartStyle, Level, Stacking, Threshold, Unit},
    protocol::Bootstrap,
    protocol::SeriesKey,
    ui::{
        host::{Reading, CPU_PERCENT, MEMORY_USED_BYTES},
        time::DEFAULT_RANGE,
        LiveStore, TimeControl, DASHBOARD_CHANNEL,
    },
    widgets::{
        ActivityFeed, ChartSpec, ConnectionStatus, CpuCard, LoadCard, MemoryCard, NetworkCard,
        PanelRow, StatusBoard, TimePicker, TimeSeriesChart,
    },
};

/// The id of the element that carries the bootstrap JSON.
pub const BOOTSTRAP_ELEMENT_ID: &str = "livedash-bootstrap";

/// The URLs of the built front-end files, known to the server at compile
/// time (their names carry content hashes). `None` when the server was
/// built without the front end (then the page is server-rendered only).
#[derive(Clone, Debug, Default)]
pub struct PageAssets {
    /// The stylesheet.
    pub stylesheet: Option<String>,
    /// The JS glue that loads the WASM module.
    pub script: Option<String>,
    /// The WASM module.
    pub wasm: Option<String>,
}

/// The whole HTML document. `bootstrap` must also be provided as context
/// (the [`App`] reads it from there while rendering on the server).
pub fn shell(assets: PageAssets, bootstrap: &Bootstrap) -> impl IntoView {
    let bootstrap_json = bootstrap_script(bootstrap);
    let hydration = match (&assets.script, &assets.wasm) {
        (Some(js), Some(wasm)) => Some((
            js.clone(),
            wasm.clone(),
            format!(
                "import init, {{ hydrate }} from {js:?};\ninit({{ module_or_path: {wasm:?} }}).then(() => hydrate());"
            ),
        )),
        _ => None,
    };
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <title>"livedash"</title>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                {assets.stylesheet.map(|href| view! { <link rel="stylesheet" href=href /> })}
                {hydration.map(|(js, wasm, script)| view! {
                    <link rel="modulepreload" href=js />
                    <link rel="preload" href=wasm r#as="fetch" r#type="application/wasm" crossorigin="" />
                    <script type="module" inner_html=script></script>
                })}
                <script type="application/json" id=BOOTSTRAP_ELEMENT_ID inner_html=bootstrap_json></script>
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The bootstrap as JSON that is safe inside a `<script>` element.
fn bootstrap_script(bootstrap: &Bootstrap) -> String {
    serde_json::to_string(bootstrap)
        .unwrap_or_else(|_| "{}".to_string())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The dashboard.
#[component]
pub fn App() -> impl IntoView {
    let bootstrap = load_bootstrap();
    let store = LiveStore::new(&bootstrap);
    provide_context(store);
    // The server renders the default range; the browser then takes the
    // URL's, so hydration sees the same page the server sent.
    let time = TimeControl::new(DEFAULT_RANGE, bootstrap.now_ms);
    provide_context(time);

    #[cfg(feature = "hydrate")]
    {
        // Read before anything writes the URL; applied after hydration
        // (effects run once it is done), so the page's text follows the
        // range as it changes, not only its signals.
        let from_url = crate::ui::time::url_range();
        crate::ui::time::install(time);
        Effect::new(move |_| {
            if let Some(range) = from_url {
                time.range.set(range);
            }
        });
        store.connect(&bootstrap);
        crate::widgets::install_annotations(store, time.view());
    }

    let kiosk = bootstrap.kiosk;
    let host = bootstrap.host.clone();
    let cpu = ChartSpec {
        id: "cpu".into(),
        title: "CPU".into(),
        selector: SeriesKey {
            name: CPU_PERCENT.into(),
            labels: [("host".to_string(), host.clone())].into(),
        }
        .to_string(),
        label_by: Some("core".into()),
        unlabelled: "total".into(),
        unit: Unit::Percent,
        soft_min: Some(0.0),
        soft_max: Some(100.0),
        style: ChartStyle::default(),
        thresholds: vec![
            Threshold {
                label: Level::Warning.name().into(),
                value: 80.0,
                to: None,
                level: Level::Warning,
            },
            Threshold {
                label: Level::Critical.name().into(),
                value: 95.0,
                to: None,
                level: Level::Critical,
            },
        ],
    };
    // Memory is drawn filled against what is installed: the axis reaches
    // the total, with a warning at nine tenths of it.
    // Each core's share, stacked: the top is the sum over the cores.
    let host_key = SeriesKey {
        name: CPU_PERCENT.into(),
        labels: [("host".to_string(), host.clone())].into(),
    }
    .to_string();
    let cores = ChartSpec {
        id: "cores".into(),
        title: "CPU by core".into(),
        selector: host_key.replacen('{', r#"{core!="","#, 1),
        label_by: Some("core".into()),
        unlabelled: "total".into(),
        unit: Unit::Percent,
        soft_min: Some(0.0),
        soft_max: None,
        style: ChartStyle {
            stacking: Stacking::Normal,
            ..ChartStyle::default()
        },
        thresholds: Vec::new(),
    };
    let memory_total = store
        .values
        .with_untracked(|values| values.get(Reading::MemoryTotal))
        .filter(|total| *total > 0.0);
    let memory = ChartSpec {
        id: "memory".into(),
        title: "Memory in use".into(),
        selector: SeriesKey {
            name: MEMORY_USED_BYTES.into(),
            labels: [("host".to_string(), host.clone())].into(),
        }
        .to_string(),
        label_by: None,
        unlabelled: "used".into(),
        unit: Unit::Bytes,
        soft_min: Some(0.0),
        soft_max: memory_total,
        style: ChartStyle {
            fill: 0.2,
            ..ChartStyle::default()
        },
        thresholds: memory_total
            .map(|total| Threshold {
                label: Level::Warning.name().into(),
                value: total * 0.9,
                to: None,
                level: Level::Warning,
            })
            .into_iter()
            .collect(),
    };
    let cpu_history: Vec<_> = bootstrap
        .series
        .iter()
        .filter(|s| s.key.name == CPU_PERCENT && s.key.labels.get("host") == Some(&host))
        .cloned()
        .collect();
    let core_history: Vec<_> = cpu_history
        .iter()
        .filter(|s| s.key.labels.get("core").is_some_and(|c| !c.is_empty()))
        .cloned()
        .collect();

    view! {
        <div class="dashboard" class:dashboard--kiosk=kiosk>
            <header class="dashboard__header">
                <h1 class="dashboard__title">
                    "livedash" <span class="dashboard__host">{move || store.host()}</span>
                </h1>
                <TimePicker />
                <ConnectionStatus />
            </header>
            <main class="dashboard__grid">
                <CpuCard />
                <MemoryCard />
                <LoadCard />
                <NetworkCard />
                <TimeSeriesChart spec=cpu initial=cpu_history />
                <TimeSeriesChart spec=memory />
                <TimeSeriesChart spec=cores initial=core_history />
                <PanelRow title=DASHBOARD_CHANNEL testid="dashboard-row">
                    <StatusBoard />
                    <ActivityFeed />
                </PanelRow>
            </main>
        </div>
    }
}

#[cfg(feature = "ssr")]
fn load_bootstrap() -> Bootstrap {
    use_context::<Bootstrap>().unwrap_or_default()
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn load_bootstrap() -> Bootstrap {
    web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.get_element_by_id(BOOTSTRAP_ELEMENT_ID))
        .and_then(|element| element.text_content())
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}
