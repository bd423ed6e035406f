//! Who is viewing a dashboard now.
//!
//! Each open page of a dashboard says it is there every
//! [`app::protocol::PRESENCE_EVERY_MS`] (`POST /api/dashboards/<id>/presence`
//! with a viewer id of its own and, if the person chose one, a name), and
//! that it left when it is closed (the same with `"leave": true`, sent as
//! a beacon). A viewer not heard from for [`FORGET_AFTER`] is gone: a
//! page killed without a word leaves within seconds. Each change (someone
//! came, left or took another name) is published on the dashboard's own
//! channel as a `presence` event `{"names": [...], "anonymous": n}`, so
//! every page of it shows who is there, over whichever transport it uses.
//!
//! Bounded: at most [`MAX_VIEWERS`] viewers per dashboard are counted (a
//! flood of ids is refused, 429), ids and names are short, and the map
//! holds only dashboards that exist and have viewers.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use super::{Dashboards, DASHBOARD_CHANNEL_PREFIX};
use crate::{hub::Hub, shutdown::Shutdown};

pub use app::protocol::PRESENCE_EVENT;

/// A viewer not heard from for this long is gone.
pub const FORGET_AFTER: Duration = Duration::from_millis(3 * app::protocol::PRESENCE_EVERY_MS);
/// How often the forgotten are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// The most viewers counted on one dashboard.
pub const MAX_VIEWERS: usize = 10_000;
/// The longest viewer id.
pub const MAX_VIEWER_ID: usize = 64;
/// The longest name.
pub const MAX_NAME_CHARS: usize = 40;

/// Why a beat was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PresenceError {
    /// The viewer id is empty, too long or not of `A-Z a-z 0-9 - _`.
    #[error("a viewer id is 1 to {MAX_VIEWER_ID} of A-Z a-z 0-9 - _")]
    BadViewer,
    /// The name is too long or holds control characters.
    #[error("a name is at most {MAX_NAME_CHARS} characters, none of them control characters")]
    BadName,
    /// The dashboard has as many viewers as are counted.
    #[error("this dashboard has {MAX_VIEWERS} viewers already")]
    Full,
}

/// The viewers of every dashboard. Cheap to clone; all clones share it.
#[derive(Clone, Debug, Default)]
pub struct Presence {
    inner: Arc<Mutex<HashMap<String, BTreeMap<String, Viewer>>>>,
}

#[derive(Clone, Debug)]
struct Viewer {
    name: Option<String>,
    seen: Instant,
}

/// A dashboard's viewers as its pages show them: the names (sorted, each
/// once) and how many chose none.
fn summary(viewers: &BTreeMap<String, Viewer>) -> Value {
    let mut names: Vec<&str> = viewers.values().filter_map(|v| v.name.as_deref()).collect();
    names.sort_unstable();
    names.dedup();
    let anonymous = viewers.values().filter(|v| v.name.is_none()).count();
    json!({ "names": names, "anonymous": anonymous })
}

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeMap<String, Viewer>>> {
        // Every change is one insert or remove.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `viewer` is on `dashboard` now, called `name`. Returns the summary
    /// when what the pages show changed, or when the viewer is new (a
    /// second tab of a named viewer changes nothing, but must be told who
    /// is there).
    pub fn beat(
        &self,
        dashboard: &str,
        viewer: &str,
        name: Option<&str>,
        now: Instant,
    ) -> Result<Option<Value>, PresenceError> {
        if viewer.is_empty()
            || viewer.len() > MAX_VIEWER_ID
            || !viewer
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(PresenceError::BadViewer);
        }
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        if name
            .is_some_and(|n| n.chars().count() > MAX_NAME_CHARS || n.chars().any(char::is_control))
        {
            return Err(PresenceError::BadName);
        }
        let mut all = self.lock();
        let viewers = all.entry(dashboard.to_string()).or_default();
        let before = summary(viewers);
        let full = viewers.len() >= MAX_VIEWERS;
        let new = !viewers.contains_key(viewer);
        match viewers.get_mut(viewer) {
            Some(known) => {
                known.seen = now;
                known.name = name.map(str::to_string);
            }
            None if full => return Err(PresenceError::Full),
            None => {
                viewers.insert(
                    viewer.to_string(),
                    Viewer {
                        name: name.map(str::to_string),
                        seen: now,
                    },
                );
            }
        }
        let after = summary(viewers);
        Ok((new || after != before).then_some(after))
    }

    /// `viewer` left `dashboard`: the new summary when it changed.
    pub fn leave(&self, dashboard: &str, viewer: &str) -> Option<Value> {
        let mut all = self.lock();
        let viewers = all.get_mut(dashboard)?;
        let before = summary(viewers);
        viewers.remove(viewer)?;
        let after = summary(viewers);
        if viewers.is_empty() {
            all.remove(dashboard);
        }
        (after != before).then_some(after)
    }

    /// Forgets viewers not heard from since `now - FORGET_AFTER` (and the
    /// dashboards `exists` no longer knows): each dashboard whose summary
    /// changed, with it.
    pub fn sweep(&self, now: Instant, exists: impl Fn(&str) -> bool) -> Vec<(String, Value)> {
        let mut changed = Vec::new();
        let mut all = self.lock();
        all.retain(|dashboard, viewers| {
            if !exists(dashboard) {
                return false;
            }
            let before = summary(viewers);
            viewers.retain(|_, v| now.saturating_duration_since(v.seen) < FORGET_AFTER);
            let after = summary(viewers);
            if after != before {
                changed.push((dashboard.clone(), after));
            }
            !viewers.is_empty()
        });
        changed
    }

    /// The summary of `dashboard` now.
    #[cfg(test)]
    fn of(&self, dashboard: &str) -> Value {
        self.lock()
            .get(dashboard)
            .map_or_else(|| summary(&BTreeMap::new()), summary)
    }
}

/// Tells the viewers of `dashboard` who is there.
pub fn publish(hub: &Hub, dashboard: &str, summary: Value) {
    let channel = format!("{DASHBOARD_CHANNEL_PREFIX}{dashboard}");
    if let Err(error) = hub.publish(&channel, PRESENCE_EVENT, None, &summary) {
        tracing::warn!(dashboard, %error, "cannot publish who is viewing");
    }
}

/// Forgets silent viewers every [`SWEEP_EVERY`] until shutdown, and
/// publishes each dashboard whose viewers changed.
pub async fn run_sweeper(presence: Presence, dashboards: Dashboards, hub: Hub, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let wait = shutdown.wait();
    tokio::pin!(wait);
    loop {
        tokio::select! {
            () = &mut wait => return,
            _ = tick.tick() => {}
        }
        for (dashboard, summary) in presence.sweep(Instant::now(), |id| dashboards.contains(id)) {
            publish(&hub, &dashboard, summary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_come_are_named_and_go_and_each_change_is_said_once() {
        let presence = Presence::default();
        let t0 = Instant::now();
        let first = presence.beat("shop", "tab-1", None, t0).unwrap();
        assert_eq!(first, Some(json!({"names": [], "anonymous": 1})));
        // The same again: nothing to say.
        assert_eq!(presence.beat("shop", "tab-1", None, t0).unwrap(), None);
        let named = presence.beat("shop", "tab-1", Some(" Ana "), t0).unwrap();
        assert_eq!(named, Some(json!({"names": ["Ana"], "anonymous": 0})));
        // Ana's second tab: nothing changes, but it is told who is there.
        assert_eq!(
            presence.beat("shop", "tab-2", Some("Ana"), t0).unwrap(),
            Some(json!({"names": ["Ana"], "anonymous": 0}))
        );
        presence.beat("shop", "tab-3", Some("Ben"), t0).unwrap();
        assert_eq!(
            presence.of("shop"),
            json!({"names": ["Ana", "Ben"], "anonymous": 0})
        );
        assert_eq!(presence.of("other"), json!({"names": [], "anonymous": 0}));
        // Ana's second tab leaves: she is still there.
        assert_eq!(presence.leave("shop", "tab-2"), None);
        assert_eq!(
            presence.leave("shop", "tab-3"),
            Some(json!({"names": ["Ana"], "anonymous": 0}))
        );
        assert_eq!(presence.leave("shop", "nobody"), None);
    }

    #[test]
    fn a_silent_viewer_is_forgotten_and_a_removed_dashboard_with_it() {
        let presence = Presence::default();
        let t0 = Instant::now();
        presence.beat("shop", "quiet", Some("Ana"), t0).unwrap();
        presence.beat("shop", "chatty", None, t0).unwrap();
        presence.beat("gone", "x", None, t0).unwrap();
        let later = t0 + FORGET_AFTER - Duration::from_millis(1);
        presence.beat("shop", "chatty", None, later).unwrap();
        assert!(presence.sweep(later, |_| true).is_empty());
        let changed = presence.sweep(t0 + FORGET_AFTER, |id| id != "gone");
        assert_eq!(
            changed,
            [("shop".to_string(), json!({"names": [], "anonymous": 1}))]
        );
        assert_eq!(presence.of("gone"), json!({"names": [], "anonymous": 0}));
    }

    #[test]
    fn bad_ids_and_names_are_refused_and_the_count_is_bounded() {
        let presence = Presence::default();
        let t0 = Instant::now();
        for bad in ["", "a b", "<script>", &"x".repeat(MAX_VIEWER_ID + 1)] {
            assert_eq!(
                presence.beat("shop", bad, None, t0),
                Err(PresenceError::BadViewer)
            );
        }
        let long = "n".repeat(MAX_NAME_CHARS + 1);
        for bad in [long.as_str(), "Ana\u{7}", "a\nb"] {
            assert_eq!(
                presence.beat("shop", "v", Some(bad), t0),
                Err(PresenceError::BadName)
            );
        }
        assert_eq!(presence.of("shop"), json!({"names": [], "anonymous": 0}));
        for i in 0..MAX_VIEWERS {
            presence.beat("shop", &format!("v{i}"), None, t0).unwrap();
        }
        assert_eq!(
            presence.beat("shop", "one-more", None, t0),
            Err(PresenceError::Full)
        );
        // One already counted still beats.
        assert_eq!(presence.beat("shop", "v7", None, t0), Ok(None));
    }
}
