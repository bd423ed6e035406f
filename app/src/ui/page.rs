//! The HTML shell the server renders, and the [`App`] component both sides
//! render (the server to HTML, the browser by hydrating it).
//!
//! Every page shows one dashboard (`/`: the host overview, or the
//! directory's `main`, with the list of dashboards below it; `/d/<id>`:
//! that one). The server puts a [`Bootstrap`] (the dashboard, its
//! widgets' series from the metrics store, and the log position they are
//! as of) into the page twice:
//! rendered into the widgets, and as JSON in a
//! `<script id="livedash-bootstrap">` element. The browser reads that JSON
//! before hydrating, so both sides build the same [`LiveStore`] and the
//! page shows real values before any script has run. The live client then
//! resumes from the bootstrap's position: nothing missed, nothing twice.

use leptos::prelude::*;

use crate::{
    protocol::Bootstrap,
    ui::{board::DashboardPage, time::DEFAULT_RANGE, LiveStore, TimeControl},
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
    let kiosk = bootstrap.kiosk;
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
                // The chosen theme, before the first paint (no flash).
                <script inner_html=THEME_EARLY></script>
            </head>
            <body>
                <App />
                {(!kiosk).then(|| view! {
                    <button class="theme-switch" type="button" id="theme-switch" data-testid="theme-switch">
                        "Theme: system"
                    </button>
                    <script inner_html=THEME_SWITCH></script>
                })}
            </body>
        </html>
    }
}

/// Applies the theme chosen in this browser (`light`, `dark`; none:
/// the system's) before the page is drawn.
const THEME_EARLY: &str = "try{var t=localStorage.getItem('livedash-theme');if(t==='light'||t==='dark')document.documentElement.dataset.theme=t}catch(e){}";

/// The theme switch: system, light, dark, in turn; kept in this browser.
/// Plain script in the server's HTML, outside the app: it costs the WASM
/// bundle nothing, and works before (and without) hydration.
const THEME_SWITCH: &str = "(function(){var b=document.getElementById('theme-switch'),r=document.documentElement,order=['system','light','dark'];\
function show(){var t=r.dataset.theme||'system';b.textContent='Theme: '+t;b.setAttribute('aria-label','Theme: '+t+'. Change the theme')}\
b.addEventListener('click',function(){var t=order[(order.indexOf(r.dataset.theme||'system')+1)%3];\
if(t==='system'){delete r.dataset.theme}else{r.dataset.theme=t}try{if(t==='system')localStorage.removeItem('livedash-theme');else localStorage.setItem('livedash-theme',t)}catch(e){}show()});show()})();";

/// The bootstrap as JSON that is safe inside a `<script>` element.
fn bootstrap_script(bootstrap: &Bootstrap) -> String {
    serde_json::to_string(bootstrap)
        .unwrap_or_else(|_| "{}".to_string())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The page: a dashboard, with the list of dashboards on the home page.
#[component]
pub fn App() -> impl IntoView {
    let bootstrap = load_bootstrap();
    let store = LiveStore::new(&bootstrap);
    provide_context(store);
    // The server renders the dashboard's own range (the overview's
    // default); the browser then takes the URL's, so hydration sees the
    // same page the server sent.
    let opening = bootstrap
        .dashboard
        .as_ref()
        .and_then(|d| d.time.resolve(bootstrap.now_ms))
        .unwrap_or(DEFAULT_RANGE);
    let time = TimeControl::new(opening, bootstrap.now_ms);
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
    let initial = bootstrap.widget_series;
    // The home page's list of dashboards, as the server rendered it.
    let list = (!bootstrap.dashboard_list.is_empty())
        .then(|| view! { <div class="dashboards-slot" inner_html=bootstrap.dashboard_list></div> });
    let built_in = bootstrap.built_in;
    view! { <DashboardPage initial kiosk built_in>{list}</DashboardPage> }
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
        .and_then(|json| crate::protocol::from_json(&json).ok())
        .unwrap_or_default()
}
