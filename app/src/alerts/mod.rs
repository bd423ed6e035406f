//! The alerts panel: what is pending or firing (firing first, critical
//! first), the recent history, acknowledge and silence controls, a live
//! region that announces new critical alerts, and browser notifications
//! once the person allows them (asked from a button, never on load).
//!
//! It is a split of the WASM module (`alerts`), fetched once the page is
//! up, so the page's first download does not carry it; the header's badge
//! (`ui::board`) is in the page and shows the count from the first paint.
//! The header's presence line (`ui::presence`) comes with it: nothing of
//! it shows before the first word from the server anyway.
//!
//! It reads `GET /api/alerts` when it starts and whenever the page may
//! have missed events (a snapshot replaced the `alerts` channel), then
//! follows the channel: each `alert` event carries the alert and, for a
//! move, its transition; a transition not newer than what the panel holds
//! (by sequence number) is one the answer already had. An alert addressed
//! to named viewers notifies only on the pages of those names: those
//! follow their own channel (`notify:<hash>`), where the server sends it.

use std::collections::VecDeque;

use leptos::{prelude::*, task::spawn_local};
use serde_json::Value;
use wasm_bindgen::JsCast;

use crate::{
    editor::http,
    protocol::{notify_channel, ALERTS_CHANNEL, ALERT_EVENT, NOTIFICATION_EVENT, SILENCES_EVENT},
    ui::LiveStore,
};

/// Transitions the panel lists.
const HISTORY_SHOWN: usize = 50;
/// Where the page keeps the viewer's chosen name (`ui::presence`'s).
const NAME_KEY: &str = "livedash-name";

/// Mounts the panel into `#alerts-root` and, for a dashboard's page
/// (`presence`: its id, and whether it is a wall screen), the presence
/// line into `#presence-root`, fetching their code first if the module is
/// split.
pub async fn load(store: LiveStore, presence: Option<(String, bool)>) -> Result<(), String> {
    #[cfg(feature = "split")]
    let mounted = mount(store, presence).await;
    #[cfg(not(feature = "split"))]
    let mounted = mount(store, presence);
    mounted.map_err(|_| "its code could not be fetched".to_string())
}

#[cfg_attr(
    feature = "split",
    leptos::wasm_split::wasm_split(alerts, wasm_split_path = leptos::wasm_split, fallible)
)]
fn mount(
    store: LiveStore,
    presence: Option<(String, bool)>,
) -> Result<(), leptos::wasm_split::SplitLoaderError> {
    let root = |id: &str| {
        document()
            .get_element_by_id(id)
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    };
    // Both live as long as the page.
    if let Some(root) = root("alerts-root") {
        leptos::mount::mount_to(root, move || view! { <AlertsPanel store /> }).forget();
    }
    if let (Some(root), Some((dashboard, kiosk))) = (root("presence-root"), presence) {
        // In place of the stand-in the page rendered.
        root.set_inner_html("");
        leptos::mount::mount_to(root, move || {
            provide_context(store);
            view! { <crate::ui::presence::Presence dashboard kiosk /> }
        })
        .forget();
    }
    Ok(())
}

/// An alert as the panel shows it.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    id: u64,
    rule: String,
    series: String,
    firing: bool,
    critical: bool,
    since: i64,
    message: String,
    ack: Option<String>,
    silenced: bool,
    /// Its series' labels and its rule's: what a silence of this alert
    /// alone matches.
    labels: serde_json::Map<String, Value>,
}

impl Row {
    fn from_value(v: &Value) -> Option<Self> {
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Some(Self {
            id: v.get("id")?.as_u64()?,
            rule: text("rule"),
            series: text("series"),
            firing: v.get("phase")?.as_str()? == "firing",
            critical: v.get("severity")?.as_str()? == "critical",
            since: v
                .get("fired_at")
                .or_else(|| v.get("since"))
                .and_then(Value::as_i64)
                .unwrap_or_default(),
            message: text("message"),
            ack: v.get("ack").and_then(|a| {
                let by = a.get("by")?.as_str()?;
                let comment = a.get("comment").and_then(Value::as_str).unwrap_or_default();
                Some(if comment.is_empty() {
                    format!("Acknowledged by {by}")
                } else {
                    format!("Acknowledged by {by}: {comment}")
                })
            }),
            silenced: v.get("silenced_by").is_some_and(|s| !s.is_null()),
            labels: v
                .get("labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        })
    }

    /// Where it sorts: firing first, critical first, newest first.
    fn order(&self) -> (bool, bool, i64) {
        (!self.firing, !self.critical, -self.since)
    }
}

/// A silence as the panel lists it: its id, and its line.
type Quiet = (String, String);

fn quiet(s: &Value) -> Option<Quiet> {
    let mut what = Vec::new();
    if let Some(rule) = s.get("rule").and_then(Value::as_str) {
        what.push(format!("rule {rule}"));
    }
    for (name, value) in s
        .get("labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        what.push(format!("{name}={}", value.as_str().unwrap_or_default()));
    }
    let by = s.get("by").and_then(Value::as_str).unwrap_or_default();
    let comment = s.get("comment").and_then(Value::as_str).unwrap_or_default();
    let mut line = format!(
        "{} until {}",
        what.join(", "),
        clock(s.get("ends_at")?.as_i64()?)
    );
    if !by.is_empty() {
        line.push_str(&format!(", by {by}"));
    }
    if !comment.is_empty() {
        line.push_str(&format!(": {comment}"));
    }
    Some((s.get("id")?.as_str()?.to_string(), line))
}

/// How long a silence from the panel lasts: the choices, as the API reads
/// them and as a person does.
const SILENCE_FOR: [(&str, &str); 5] = [
    ("15m", "15 minutes"),
    ("1h", "1 hour"),
    ("4h", "4 hours"),
    ("1d", "1 day"),
    ("7d", "1 week"),
];

/// A transition as the history lists it: its number, and its line.
type Past = (u64, String);

fn past(t: &Value) -> Option<Past> {
    let text = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or_default();
    Some((
        t.get("seq")?.as_u64()?,
        format!(
            "{} {} {} → {} ({})",
            clock(t.get("at")?.as_i64()?),
            text("rule"),
            text("series"),
            text("to"),
            text("severity"),
        ),
    ))
}

/// `ms` as this browser's local time of day.
fn clock(ms: i64) -> String {
    js_sys::Date::new(&(ms as f64).into())
        .to_locale_time_string("en-GB")
        .into()
}

/// The viewer's chosen name, if any.
fn viewer_name() -> Option<String> {
    web_sys::window()?
        .local_storage()
        .ok()??
        .get_item(NAME_KEY)
        .ok()?
        .filter(|n| !n.trim().is_empty())
}

/// Shows a browser notification, if the person allowed them.
fn notify(title: &str, body: &str) {
    if web_sys::Notification::permission() != web_sys::NotificationPermission::Granted {
        return;
    }
    let options = web_sys::NotificationOptions::new();
    options.set_body(body);
    let _ = web_sys::Notification::new_with_options(title, &options);
}

/// What the panel holds.
#[derive(Clone, Copy)]
struct Panel {
    store: LiveStore,
    rows: RwSignal<Vec<Row>>,
    history: RwSignal<VecDeque<Past>>,
    /// The silences not yet over.
    silences: RwSignal<Vec<Quiet>>,
    /// The newest transition held.
    seq: StoredValue<u64>,
    /// What the live region says.
    spoken: RwSignal<String>,
    /// How the last action went.
    status: RwSignal<String>,
}

impl Panel {
    /// Sets the header's count from the rows.
    fn count(&self) {
        let firing = self.rows.with(|rows| {
            rows.iter()
                .filter(|r| r.firing)
                .fold((0, 0), |(n, c), r| (n + 1, c + u32::from(r.critical)))
        });
        self.store.alerts_firing.set(firing);
    }

    /// Reads the alerts again, then what arrived meanwhile.
    fn read(self) {
        spawn_local(async move {
            let answer = match http::send("GET", "/api/alerts", None, None).await {
                Ok(answer) if answer.ok() => answer,
                Ok(answer) => return self.status.set(answer.message()),
                Err(error) => return self.status.set(error),
            };
            let Ok(body) = serde_json::from_str::<Value>(&answer.text) else {
                return self.status.set("a malformed answer".into());
            };
            let list = |key: &str| {
                body.get(key)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            };
            let mut rows: Vec<Row> = list("alerts").iter().filter_map(Row::from_value).collect();
            rows.sort_by_key(Row::order);
            let history: VecDeque<Past> = list("history").iter().filter_map(past).collect();
            self.seq
                .set_value(history.front().map_or(0, |(seq, _)| *seq));
            self.rows.set(rows);
            self.history.set(history);
            self.silences
                .set(list("silences").iter().filter_map(quiet).collect());
            self.count();
            self.drain();
        });
    }

    /// Applies the alert events the store holds for the panel.
    fn drain(self) {
        let events: Vec<Value> = self
            .store
            .alert_events
            .try_update_value(std::mem::take)
            .unwrap_or_default();
        for entry in events {
            let (Some(channel), Some(event), Some(data)) = (
                entry.get(0).and_then(Value::as_str),
                entry.get(1).and_then(Value::as_str),
                entry.get(2),
            ) else {
                continue;
            };
            if channel != ALERTS_CHANNEL {
                if event == NOTIFICATION_EVENT {
                    self.announce(data, true);
                }
                continue;
            }
            if event == SILENCES_EVENT {
                let held = data
                    .get("silences")
                    .and_then(Value::as_array)
                    .map(|all| all.iter().filter_map(quiet).collect());
                self.silences.set(held.unwrap_or_default());
                continue;
            }
            if event != ALERT_EVENT {
                continue;
            }
            let Some(row) = data.get("alert").and_then(Row::from_value) else {
                continue;
            };
            match data.get("transition") {
                Some(t) => {
                    let Some(seq) = t.get("seq").and_then(Value::as_u64) else {
                        continue;
                    };
                    if seq <= self.seq.get_value() {
                        continue;
                    }
                    self.seq.set_value(seq);
                    if let Some(line) = past(t) {
                        self.history.update(|h| {
                            h.push_front(line);
                            h.truncate(HISTORY_SHOWN);
                        });
                    }
                    let was = self
                        .rows
                        .with_untracked(|rows| rows.iter().find(|r| r.id == row.id).cloned());
                    let addressed = data
                        .pointer("/alert/notify")
                        .and_then(Value::as_array)
                        .is_some_and(|n| !n.is_empty());
                    let newly_critical = row.firing
                        && row.critical
                        && !was.as_ref().is_some_and(|w| w.firing && w.critical);
                    if newly_critical && !addressed && !row.silenced {
                        self.announce(data, false);
                    }
                    let resolved = t.get("to").and_then(Value::as_str) == Some("resolved");
                    self.rows.update(|rows| {
                        rows.retain(|r| r.id != row.id);
                        if !resolved {
                            rows.push(row);
                            rows.sort_by_key(Row::order);
                        }
                    });
                }
                // An acknowledgement or a silence: the alert, as it is now.
                None => self.rows.update(|rows| {
                    if let Some(held) = rows.iter_mut().find(|r| r.id == row.id) {
                        *held = row;
                    }
                }),
            }
        }
        self.count();
    }

    /// Says an alert out loud (the live region) and, if allowed, shows a
    /// browser notification: a critical one, or any addressed to this
    /// viewer (`addressed`). A resolution is said, not shown.
    fn announce(&self, data: &Value, addressed: bool) {
        let Some(row) = data.get("alert").and_then(Row::from_value) else {
            return;
        };
        if data.pointer("/transition/to").and_then(Value::as_str) == Some("resolved") {
            self.spoken.set(format!("Resolved: {}", row.message));
            return;
        }
        if !addressed && !row.critical {
            return;
        }
        let level = if row.critical { "Critical" } else { "Warning" };
        self.spoken.set(format!("{level} alert: {}", row.message));
        notify(&format!("{level}: {}", row.rule), &row.message);
    }

    /// Sends `body` to `url` (`POST`, or `DELETE` without a body); says
    /// how it went.
    fn act(self, url: String, body: Option<Value>, done: &'static str) {
        spawn_local(async move {
            let method = if body.is_some() { "POST" } else { "DELETE" };
            match http::send(method, &url, body.map(|b| b.to_string()), None).await {
                Ok(answer) if answer.ok() => self.status.set(done.to_string()),
                Ok(answer) => self.status.set(answer.message()),
                Err(error) => self.status.set(error),
            }
        });
    }
}

#[component]
fn AlertsPanel(store: LiveStore) -> impl IntoView {
    let panel = Panel {
        store,
        rows: RwSignal::new(Vec::new()),
        history: RwSignal::new(VecDeque::new()),
        silences: RwSignal::new(Vec::new()),
        seq: StoredValue::new(0),
        spoken: RwSignal::new(String::new()),
        status: RwSignal::new(String::new()),
    };
    store.need(ALERTS_CHANNEL, None);
    if let Some(name) = viewer_name() {
        store.need(&notify_channel(&name), None);
    }
    panel.read();
    let tick = store.alert_tick;
    Effect::new(move |_| {
        tick.track();
        panel.drain();
    });
    let reset = store.alerts_reset;
    Effect::new(move |previous: Option<u32>| {
        let now = reset.get();
        if previous.is_some_and(|p| p != now) {
            panel.read();
        }
        now
    });
    let open = store.alerts_open;
    let kiosk = document()
        .location()
        .and_then(|l| l.search().ok())
        .is_some_and(|s| s.contains("kiosk"));
    // Notifications: offered while undecided, from a button (a browser
    // asks only from a person's action).
    let permission = RwSignal::new(web_sys::Notification::permission());
    let ask = move |_| {
        if let Ok(promise) = web_sys::Notification::request_permission() {
            spawn_local(async move {
                let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
                permission.set(web_sys::Notification::permission());
            });
        }
    };
    let name = RwSignal::new(viewer_name().unwrap_or_default());
    let acking = RwSignal::new(None::<u64>);
    let comment = RwSignal::new(String::new());
    let silencing = RwSignal::new(None::<u64>);
    let silence_for = RwSignal::new("1h".to_string());
    let silence_alert = RwSignal::new(true);
    let silence_comment = RwSignal::new(String::new());
    view! {
        <p class="visually-hidden" role="alert" aria-live="assertive" data-testid="alerts-announce">
            {move || panel.spoken.get()}
        </p>
        <section class="alerts-panel" aria-label="Alerts" data-testid="alerts-panel" hidden=move || !open.get()>
            <header class="alerts-panel__header">
                <h2>"Alerts"</h2>
                <button type="button" on:click=move |_| open.set(false)>"Close"</button>
            </header>
            <p class="alerts-panel__status" role="status">{move || panel.status.get()}</p>
            {(!kiosk).then(|| view! {
                <button type="button" data-testid="alerts-notify"
                    hidden=move || permission.get() != web_sys::NotificationPermission::Default
                    on:click=ask>
                    "Notify me of critical alerts"
                </button>
            })}
            <p hidden=move || !panel.rows.with(Vec::is_empty)>"Nothing is firing."</p>
            <ul class="alerts-panel__list" data-testid="alerts-list">
                <For each=move || panel.rows.get() key=|r| (r.id, r.firing, r.critical, r.ack.clone(), r.silenced) let:row>
                    {
                        let id = row.id;
                        let rule = row.rule.clone();
                        view! {
                            <li class="alert" class:alert--critical=row.critical class:alert--pending=!row.firing
                                data-testid="alert" data-alert-id=id.to_string()>
                                <p class="alert__head">
                                    <strong class="alert__level">{if row.critical { "Critical" } else { "Warning" }}</strong>
                                    " "
                                    <span>{if row.firing { "firing" } else { "pending" }}</span>
                                    " since " {clock(row.since)}
                                    {row.silenced.then_some(" · silenced")}
                                </p>
                                <p class="alert__message">{row.message.clone()}</p>
                                <p class="alert__series"><code>{row.series.clone()}</code>" · rule "<code>{row.rule.clone()}</code></p>
                                {row.ack.clone().map(|ack| view! { <p class="alert__ack" data-testid="alert-ack">{ack}</p> })}
                                {(!kiosk).then(|| view! {
                                    <div class="alert__actions">
                                        <button type="button" data-testid="alert-ack-open" on:click=move |_| acking.set(Some(id))>"Acknowledge"</button>
                                        <button type="button" data-testid="alert-silence" on:click=move |_| silencing.set(Some(id))>"Silence…"</button>
                                    </div>
                                    <form class="alert__ack-form" data-testid="alert-silence-form" hidden=move || silencing.get() != Some(id) on:submit={
                                        let (rule, labels) = (rule.clone(), row.labels.clone());
                                        move |ev| {
                                            ev.prevent_default();
                                            silencing.set(None);
                                            let mut body = serde_json::json!({
                                                "rule": rule,
                                                "for": silence_for.get_untracked(),
                                                "by": name.get_untracked(),
                                                "comment": silence_comment.get_untracked(),
                                            });
                                            if silence_alert.get_untracked() {
                                                body["labels"] = Value::Object(labels.clone());
                                            }
                                            panel.act("/api/alerts/silences".into(), Some(body), "Silenced.");
                                        }
                                    }>
                                        <label>"For "
                                            <select data-testid="alert-silence-for" on:change=move |e| silence_for.set(event_target_value(&e))>
                                                {SILENCE_FOR.map(|(value, text)| view! { <option value=value selected=value == "1h">{text}</option> })}
                                            </select>
                                        </label>
                                        <label>"What "
                                            <select data-testid="alert-silence-scope" on:change=move |e| silence_alert.set(event_target_value(&e) == "alert")>
                                                <option value="alert" selected>"this alert"</option>
                                                <option value="rule">"every alert of its rule"</option>
                                            </select>
                                        </label>
                                        <label>"Comment " <input type="text" data-testid="alert-silence-comment" prop:value=move || silence_comment.get() on:input=move |e| silence_comment.set(event_target_value(&e)) /></label>
                                        <button type="submit" data-testid="alert-silence-send">"Silence"</button>
                                    </form>
                                    <form class="alert__ack-form" hidden=move || acking.get() != Some(id) on:submit=move |ev| {
                                        ev.prevent_default();
                                        let by = name.get_untracked();
                                        if by.trim().is_empty() {
                                            panel.status.set("Give your name to acknowledge.".into());
                                            return;
                                        }
                                        acking.set(None);
                                        panel.act(
                                            format!("/api/alerts/{id}/ack"),
                                            Some(serde_json::json!({"by": by, "comment": comment.get_untracked()})),
                                            "Acknowledged.",
                                        );
                                    }>
                                        <label>"Your name " <input type="text" data-testid="alert-ack-name" prop:value=move || name.get() on:input=move |e| name.set(event_target_value(&e)) /></label>
                                        <label>"Comment " <input type="text" data-testid="alert-ack-comment" prop:value=move || comment.get() on:input=move |e| comment.set(event_target_value(&e)) /></label>
                                        <button type="submit" data-testid="alert-ack-send">"Acknowledge"</button>
                                    </form>
                                })}
                            </li>
                        }
                    }
                </For>
            </ul>
            <h3>"Silences"</h3>
            <p hidden=move || !panel.silences.with(Vec::is_empty)>"No silences."</p>
            <ul class="alerts-panel__silences" data-testid="silences">
                // Re-rendered whole when they change: a handful at most.
                {move || panel.silences.get().into_iter().map(|(id, line)| view! {
                    <li data-testid="silence">
                        {line}
                        {(!kiosk).then(|| view! {
                            " "
                            <button type="button" data-testid="silence-end" on:click=move |_| panel.act(
                                format!("/api/alerts/silences/{id}"),
                                None,
                                "Silence ended.",
                            )>"End"</button>
                        })}
                    </li>
                }).collect_view()}
            </ul>
            <h3>"Recent history"</h3>
            <ol class="alerts-panel__history" data-testid="alerts-history">
                {move || panel.history.with(|h| h.iter().map(|(_, line)| view! { <li>{line.clone()}</li> }).collect_view())}
            </ol>
        </section>
    }
}
