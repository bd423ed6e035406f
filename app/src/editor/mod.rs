//! The dashboard editor: a panel beside the dashboard that changes it in
//! place (the page is the live preview), checks it as it goes, and saves
//! it through the dashboards API.
//!
//! It is a split point of the WASM module: the page carries only the
//! **Edit** button; the editor's code is fetched the first time someone
//! presses it (`cargo leptos build --split`), so viewers never download
//! it. Without the `split` feature (the browser tests) it is linked in.
//!
//! - A draft is the dashboard as the editor has it. Every change goes
//!   through [`Editor::edit`]: onto the undo stack (typing into one field
//!   is one step), checked by [`Dashboard::check`], and shown: the draft
//!   is written into the page's [`LiveStore::dashboard`], where the grid
//!   re-renders exactly the widgets that changed.
//! - The base is the dashboard as last saved, with its revision. A save
//!   sends the draft with `If-Match: <revision>`; the server merges it
//!   with what was saved since, or refuses with both versions.
//! - A save from elsewhere arrives on the dashboard's channel and replaces
//!   the page's dashboard. The editor notices, reads the new revision and
//!   merges it into the draft ([`crate::dashboard::merge`]); what both
//!   changed differently is shown side by side, for the person to choose,
//!   and never taken silently.

mod form;
pub(crate) mod http;
mod versions;

use leptos::{ev, prelude::*, task::spawn_local};
use wasm_bindgen::JsCast;

use crate::{
    dashboard::{edit, merge, resolve, Dashboard, Merged, Problem, WidgetKind},
    ui::{EditorState, LiveStore},
};

/// The most steps undo goes back.
const UNDO_STEPS: usize = 100;

/// Opens the editor for the page's dashboard, fetching its code first if
/// the module is split. `state` follows it: open, then closed again.
pub async fn load(store: LiveStore, state: RwSignal<EditorState>) -> Result<(), String> {
    #[cfg(feature = "split")]
    {
        open(store, state)
            .await
            .map_err(|_| "the editor could not be loaded".to_string())
    }
    #[cfg(not(feature = "split"))]
    {
        open(store, state).map_err(|_| "the editor could not be loaded".to_string())
    }
}

/// Mounts the editor into `#editor-root`.
#[cfg_attr(
    feature = "split",
    leptos::wasm_split::wasm_split(editor, wasm_split_path = leptos::wasm_split, fallible)
)]
fn open(
    store: LiveStore,
    state: RwSignal<EditorState>,
) -> Result<(), leptos::wasm_split::SplitLoaderError> {
    let root = document()
        .get_element_by_id("editor-root")
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    match root {
        Some(root) => {
            let handle =
                leptos::mount::mount_to(root, move || view! { <EditorPanel store state /> });
            MOUNTED.with(|m| *m.borrow_mut() = Some(Box::new(handle)));
            state.set(EditorState::Open);
        }
        // Not a page with a dashboard: Edit says it did not open.
        None => state.set(EditorState::Failed),
    }
    Ok(())
}

thread_local! {
    /// The mounted editor; dropping it unmounts it.
    static MOUNTED: std::cell::RefCell<Option<Box<dyn std::any::Any>>> = const { std::cell::RefCell::new(None) };
}

/// A save that met another: the other version, and what both changed.
#[derive(Clone, Debug, PartialEq)]
struct Conflict {
    theirs: Dashboard,
    revision: String,
    keys: Vec<String>,
    keep_mine: Vec<String>,
}

/// The editor's state; every part a signal, so it is `Copy`.
#[derive(Clone, Copy)]
struct Editor {
    store: LiveStore,
    id: StoredValue<String>,
    /// The dashboard as last saved.
    base: RwSignal<Option<Dashboard>>,
    revision: RwSignal<String>,
    draft: RwSignal<Option<Dashboard>>,
    undo: RwSignal<Vec<Dashboard>>,
    redo: RwSignal<Vec<Dashboard>>,
    /// The field the last edit was to (typing into it is one step).
    last_field: StoredValue<Option<String>>,
    /// What the editor last wrote into the page.
    written: StoredValue<Option<Dashboard>>,
    selected: RwSignal<Option<String>>,
    message: RwSignal<String>,
    busy: RwSignal<bool>,
    conflict: RwSignal<Option<Conflict>>,
    problems: Memo<Vec<Problem>>,
    /// The fields whose input does not read (a number that is not one):
    /// nothing is saved while there are any.
    unread: RwSignal<std::collections::BTreeSet<String>>,
}

impl Editor {
    fn new(store: LiveStore) -> Self {
        let draft = RwSignal::new(None::<Dashboard>);
        Editor {
            store,
            id: StoredValue::new(store.channel().trim_start_matches("dashboard:").to_string()),
            base: RwSignal::new(None),
            revision: RwSignal::new(String::new()),
            draft,
            undo: RwSignal::new(Vec::new()),
            redo: RwSignal::new(Vec::new()),
            last_field: StoredValue::new(None),
            written: StoredValue::new(None),
            selected: RwSignal::new(None),
            message: RwSignal::new("Loading the dashboard…".to_string()),
            busy: RwSignal::new(true),
            conflict: RwSignal::new(None),
            problems: Memo::new(move |_| {
                draft.with(|d| d.as_ref().map(Dashboard::check).unwrap_or_default())
            }),
            unread: RwSignal::new(Default::default()),
        }
    }

    fn url(&self) -> String {
        format!("/api/dashboards/{}", self.id.get_value())
    }

    /// Changes the draft. `field` names the field typed into: edits to
    /// the same field in a row are one step of undo.
    fn edit(self, field: Option<String>, change: impl FnOnce(&mut Dashboard)) {
        let Some(before) = self.draft.get_untracked() else {
            return;
        };
        let mut after = before.clone();
        change(&mut after);
        if after == before {
            return;
        }
        let same_field = field.is_some() && self.last_field.get_value() == field;
        if !same_field {
            self.undo.update(|undo| {
                undo.push(before);
                if undo.len() > UNDO_STEPS {
                    undo.remove(0);
                }
            });
        }
        self.last_field.set_value(field);
        self.redo.update(Vec::clear);
        self.show(after);
    }

    /// Makes `dashboard` the draft and shows it in the page.
    fn show(self, dashboard: Dashboard) {
        self.store
            .text_html
            .set_value(crate::ui::cards::text_html(&dashboard));
        self.written.set_value(Some(dashboard.clone()));
        self.draft.set(Some(dashboard.clone()));
        self.store.dashboard.set(Some(dashboard));
    }

    fn step(self, back: bool) {
        let (from, to) = if back {
            (self.undo, self.redo)
        } else {
            (self.redo, self.undo)
        };
        let Some(target) = from.try_update(Vec::pop).flatten() else {
            return;
        };
        if let Some(current) = self.draft.get_untracked() {
            to.update(|stack| stack.push(current));
        }
        self.last_field.set_value(None);
        self.show(target);
    }

    fn dirty(self) -> bool {
        self.draft.with(|d| d.is_some() && *d != self.base.get())
    }

    /// Reads the saved dashboard and its revision.
    async fn fetch(self) -> Result<(Dashboard, String), String> {
        let answer = http::send("GET", &self.url(), None, None).await?;
        if !answer.ok() {
            return Err(answer.message());
        }
        let dashboard = serde_json::from_str::<serde_json::Value>(&answer.text)
            .ok()
            .and_then(|v| Dashboard::from_value(&v))
            .ok_or("the server's dashboard does not read")?;
        Ok((dashboard, answer.etag))
    }

    /// Starts from the saved dashboard.
    async fn start(self) {
        match self.fetch().await {
            Ok((dashboard, revision)) => {
                self.base.set(Some(dashboard.clone()));
                self.revision.set(revision);
                self.show(dashboard);
                self.message.set(String::new());
            }
            Err(error) => self.message.set(format!("Cannot edit: {error}")),
        }
        self.busy.set(false);
    }

    /// Takes in a save made elsewhere: merged into the draft, or shown as
    /// a conflict to settle.
    async fn rebase(self) {
        let Ok((theirs, revision)) = self.fetch().await else {
            return;
        };
        let (Some(base), Some(mine)) = (self.base.get_untracked(), self.draft.get_untracked())
        else {
            return;
        };
        if revision == self.revision.get_untracked() {
            // Nothing new (our own save, come back): the page shows the draft.
            self.show(mine);
            return;
        }
        match merge(&base, &mine, &theirs) {
            Merged::Clean(merged) => {
                self.adopt(&base, &theirs, revision);
                // (A save that holds all of the draft is our own, come back.)
                if mine != base && merged != theirs {
                    self.message.set(
                        "Someone else saved meanwhile: their changes are merged into yours.".into(),
                    );
                }
                self.show(merged);
            }
            Merged::Conflict(keys) => {
                self.show(mine);
                self.conflict.set(Some(Conflict {
                    theirs,
                    revision,
                    keys,
                    keep_mine: Vec::new(),
                }));
            }
        }
    }

    /// Makes `theirs` the base, and carries the undo and redo steps over
    /// to it (a step that would undo their change is dropped: undo never
    /// reverts someone else's save).
    fn adopt(self, old_base: &Dashboard, theirs: &Dashboard, revision: String) {
        let carry = |stack: &mut Vec<Dashboard>| {
            *stack = stack
                .iter()
                .filter_map(|step| match merge(old_base, step, theirs) {
                    Merged::Clean(merged) => Some(merged),
                    Merged::Conflict(_) => None,
                })
                .collect();
        };
        self.undo.update(carry);
        self.redo.update(carry);
        self.base.set(Some(theirs.clone()));
        self.revision.set(revision);
    }

    async fn save(self) {
        let Some(draft) = self.draft.get_untracked() else {
            return;
        };
        if !self.problems.get_untracked().is_empty()
            || !self.unread.with_untracked(|u| u.is_empty())
        {
            self.message
                .set("Not saved: fix the problems marked first.".into());
            return;
        }
        self.busy.set(true);
        self.message.set("Saving…".into());
        let revision = self.revision.get_untracked();
        let answer = http::send(
            "PUT",
            &self.url(),
            Some(draft.to_canonical()),
            (!revision.is_empty()).then_some(revision.as_str()),
        )
        .await;
        match answer {
            Ok(answer) if answer.ok() => match self.fetch().await {
                Ok((saved, revision)) => {
                    self.base.set(Some(saved.clone()));
                    self.revision.set(revision);
                    self.show(saved);
                    self.message.set("Saved.".into());
                }
                Err(error) => self
                    .message
                    .set(format!("Saved, but not read back: {error}")),
            },
            Ok(answer) if answer.status == 409 => {
                let body =
                    serde_json::from_str::<serde_json::Value>(&answer.text).unwrap_or_default();
                let theirs = body.get("current").and_then(Dashboard::from_value);
                let keys: Vec<String> = body
                    .get("conflicts")
                    .and_then(|c| c.as_array())
                    .map(|c| {
                        c.iter()
                            .filter_map(|k| k.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                match theirs {
                    Some(theirs) => {
                        self.message
                            .set("Not saved: someone else changed the same things.".into());
                        self.conflict.set(Some(Conflict {
                            theirs,
                            revision: body
                                .get("revision")
                                .and_then(|r| r.as_str())
                                .unwrap_or_default()
                                .to_string(),
                            keys,
                            keep_mine: Vec::new(),
                        }));
                    }
                    None => self.message.set(format!("Not saved: {}", answer.message())),
                }
            }
            Ok(answer) => self.message.set(format!("Not saved: {}", answer.message())),
            Err(error) => self
                .message
                .set(format!("Not saved: {error}. Your changes are still here.")),
        }
        self.busy.set(false);
    }

    /// Settles the conflict with the sides chosen.
    fn settle(self) {
        let (Some(conflict), Some(base), Some(mine)) = (
            self.conflict.get_untracked(),
            self.base.get_untracked(),
            self.draft.get_untracked(),
        ) else {
            return;
        };
        let resolved = resolve(&base, &mine, &conflict.theirs, &conflict.keep_mine);
        self.undo.update(|undo| undo.push(mine));
        self.adopt(&base, &conflict.theirs, conflict.revision);
        self.conflict.set(None);
        self.show(resolved);
        self.message
            .set("Both versions are merged as you chose: save to keep it.".into());
    }

    /// Closes the editor; unsaved changes go only when the person agrees.
    fn close(self, state: RwSignal<EditorState>) {
        if self.dirty()
            && !window()
                .confirm_with_message("Close the editor and lose the changes you have not saved?")
                .unwrap_or(false)
        {
            return;
        }
        if let Some(base) = self.base.get_untracked() {
            self.show(base);
        }
        state.set(EditorState::Closed);
        // Unmounted once this click's handler has returned.
        queue_microtask(|| MOUNTED.with(|m| drop(m.borrow_mut().take())));
    }

    /// The problems at `path` or inside it, as one message.
    fn problem_at(self, path: String) -> Option<String> {
        self.problems.with(|problems| {
            let messages: Vec<&str> = problems
                .iter()
                .filter(|p| {
                    p.path == path
                        || p.path
                            .strip_prefix(path.as_str())
                            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
                })
                .map(|p| p.message.as_str())
                .collect();
            (!messages.is_empty()).then(|| messages.join("; "))
        })
    }
}

#[component]
fn EditorPanel(store: LiveStore, state: RwSignal<EditorState>) -> impl IntoView {
    let editor = Editor::new(store);
    spawn_local(editor.start());
    // A save from elsewhere replaces the page's dashboard: take it in.
    Effect::new(move |_| {
        let now = store.dashboard.get();
        if now.is_some()
            && editor.draft.get_untracked().is_some()
            && now != editor.written.get_value()
        {
            spawn_local(editor.rebase());
        }
    });
    let leaving = window_event_listener(ev::beforeunload, move |event| {
        if editor.dirty() {
            event.prevent_default();
        }
    });
    on_cleanup(move || leaving.remove());
    let keys = move |event: ev::KeyboardEvent| {
        if !(event.ctrl_key() || event.meta_key()) {
            return;
        }
        match (event.key().as_str(), event.shift_key()) {
            ("z", false) => editor.step(true),
            ("z" | "Z", true) | ("y", false) => editor.step(false),
            ("s", _) => spawn_local(editor.save()),
            _ => return,
        }
        event.prevent_default();
    };
    let undo_empty = move || editor.undo.with(Vec::is_empty);
    let redo_empty = move || editor.redo.with(Vec::is_empty);
    let problem_count = move || editor.problems.with(Vec::len) + editor.unread.with(|u| u.len());
    let cannot_save = move || editor.busy.get() || !editor.dirty() || problem_count() != 0;
    let show_versions = RwSignal::new(false);
    let id = editor.id.get_value();
    view! {
        <aside class="editor" aria-label="Edit dashboard" data-testid="editor" on:keydown=keys>
            <div class="editor__bar">
                <h2 class="editor__heading">"Edit dashboard"</h2>
                <button type="button" on:click=move |_| editor.step(true) disabled=undo_empty title="Undo (Ctrl+Z)">"Undo"</button>
                <button type="button" on:click=move |_| editor.step(false) disabled=redo_empty title="Redo (Ctrl+Shift+Z)">"Redo"</button>
                <button
                    type="button"
                    class="editor__save"
                    data-testid="editor-save"
                    on:click=move |_| spawn_local(editor.save())
                    disabled=cannot_save
                    title="Save (Ctrl+S)"
                >
                    "Save"
                </button>
                <button type="button" on:click=move |_| editor.close(state) data-testid="editor-close">"Close"</button>
            </div>
            <p class="editor__message" role="status" data-testid="editor-message">
                {move || editor.message.get()}
                {move || (problem_count() > 0).then(|| format!(" {} problem(s) to fix before saving.", problem_count()))}
            </p>
            <ConflictView editor />
            <div class="editor__tools">
                <button type="button" aria-expanded=move || show_versions.get().to_string() on:click=move |_| show_versions.update(|v| *v = !*v)>
                    "Versions"
                </button>
                <a href=format!("/api/dashboards/{id}") download=format!("{id}.json")>"Export"</a>
                <label class="editor__import">
                    "Import"
                    <input type="file" accept=".json,application/json" data-testid="editor-import" on:change=move |event| form::import(editor, event) />
                </label>
            </div>
            {move || show_versions.get().then(|| view! { <versions::Versions editor /> })}
            <form::DashboardFields editor />
            <form::WidgetList editor />
            {move || editor.selected.get().map(|id| view! { <form::WidgetForm editor id /> })}
        </aside>
    }
}

/// Both versions of what two people changed, and a choice for each.
#[component]
fn ConflictView(editor: Editor) -> impl IntoView {
    // Re-rendered when another conflict comes, not at each choice (the
    // radio buttons keep their state and focus).
    let shown = Memo::new(move |_| {
        editor
            .conflict
            .with(|c| c.as_ref().map(|c| (c.theirs.clone(), c.keys.clone())))
    });
    move || {
        shown.get().map(|(their_dashboard, keys)| {
            let mine = editor.draft.get_untracked().unwrap_or_else(|| their_dashboard.clone());
            let rows = keys
                .iter()
                .map(|key| {
                    let (label, yours, theirs) = sides(key, &mine, &their_dashboard);
                    let key_mine = key.clone();
                    let key_theirs = key.clone();
                    let name = format!("conflict-{key}");
                    view! {
                        <fieldset class="editor__conflict-item">
                            <legend>{label}</legend>
                            <div class="editor__sides">
                                <div><h4>"Yours"</h4><pre>{yours}</pre></div>
                                <div><h4>"Saved meanwhile"</h4><pre>{theirs}</pre></div>
                            </div>
                            <label>
                                <input type="radio" name=name.clone() checked=true on:change=move |_| choose(editor, &key_theirs, false) />
                                " Keep the saved one"
                            </label>
                            <label>
                                <input type="radio" name=name on:change=move |_| choose(editor, &key_mine, true) />
                                " Keep yours"
                            </label>
                        </fieldset>
                    }
                })
                .collect_view();
            view! {
                <section class="editor__conflict" role="alert" data-testid="editor-conflict">
                    <h3>"Someone else saved this dashboard meanwhile"</h3>
                    <p>"You both changed what is below. Nothing is overwritten: choose which to keep, then save."</p>
                    {rows}
                    <button type="button" on:click=move |_| editor.settle() data-testid="editor-settle">"Use these"</button>
                </section>
            }
        })
    }
}

fn choose(editor: Editor, key: &str, mine: bool) {
    editor.conflict.update(|conflict| {
        if let Some(conflict) = conflict {
            conflict.keep_mine.retain(|k| k != key);
            if mine {
                conflict.keep_mine.push(key.to_string());
            }
        }
    });
}

/// A conflict's name for a person, and both sides as text.
fn sides(key: &str, mine: &Dashboard, theirs: &Dashboard) -> (String, String, String) {
    let pretty = |v: Option<serde_json::Value>| {
        v.map_or_else(
            || "(removed)".to_string(),
            |v| serde_json::to_string_pretty(&v).unwrap_or_default(),
        )
    };
    match key {
        "title" => ("The title".into(), mine.title.clone(), theirs.title.clone()),
        "time" => (
            "The default range".into(),
            pretty(serde_json::to_value(&mine.time).ok()),
            pretty(serde_json::to_value(&theirs.time).ok()),
        ),
        id => {
            let find = |d: &Dashboard| d.widgets.iter().find(|w| w.id == id).cloned();
            let title = find(theirs)
                .or_else(|| find(mine))
                .map_or_else(|| id.to_string(), |w| w.title);
            (
                format!("Widget {title:?}"),
                pretty(find(mine).and_then(|w| serde_json::to_value(w).ok())),
                pretty(find(theirs).and_then(|w| serde_json::to_value(w).ok())),
            )
        }
    }
}

/// The kind named in a `<select>`, or a stat.
fn kind_of(name: &str) -> WidgetKind {
    edit::kind_named(name).unwrap_or(WidgetKind::Stat)
}
