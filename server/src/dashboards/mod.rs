//! Dashboards as files: one canonical JSON file per dashboard in a
//! directory (`--dashboards-dir`, default `<data-dir>/dashboards`), the
//! previous versions of each beside it, and a watcher that notices files
//! changed on disk.
//!
//! - `<dir>/<id>.json` holds the dashboard in its canonical text
//!   ([`app::dashboard::Dashboard::to_canonical`]), so `git diff` of the
//!   directory shows exactly what changed.
//! - A save writes a temporary file, syncs it and renames it over the old
//!   one: a crash leaves the old file or the new one, never half of one.
//!   The text it replaced goes first to `<dir>/.versions/<id>/<n>.json`;
//!   the newest [`MAX_VERSIONS`] are kept.
//! - A dashboard's revision is a hash of its text. A save names the
//!   revision it was made from; if the file has changed since, it is
//!   refused ([`SaveError::Conflict`]) with the current text, never
//!   written over.
//! - [`run_watcher`] looks at the files' modification times every
//!   [`WATCH_EVERY`]: a file edited by hand (or by `git pull`) is read,
//!   checked and published like a save from the page. A file that does
//!   not read as a dashboard is logged and left alone; the last good one
//!   stays in use.
//!
//! `api` holds the HTTP endpoints.

pub mod api;
pub mod presence;

use std::{
    collections::BTreeMap,
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use app::dashboard::{merge, valid_id, Dashboard, Merged, ModelError};

use app::protocol::DASHBOARD_CHANNEL_PREFIX;
use serde_json::json;

use crate::{
    hub::{Hub, NewEvent},
    shutdown::Shutdown,
    store::wal::crc32c,
};

pub use app::protocol::{DASHBOARD_EVENT, DASHBOARD_REMOVED_EVENT};

/// Tells viewers of a dashboard that it is now `stored`.
pub fn publish_saved(hub: &Hub, stored: &Stored) {
    let event = NewEvent {
        channel: format!("{DASHBOARD_CHANNEL_PREFIX}{}", stored.dashboard.id),
        event_type: DASHBOARD_EVENT.to_string(),
        key: None,
        data: json!({
            "revision": stored.revision,
            "dashboard": stored.dashboard,
            "text_html": app::ui::cards::text_html(&stored.dashboard),
        }),
    };
    if let Err(error) = hub.publish_batch(&[event]) {
        tracing::warn!(%error, id = %stored.dashboard.id, "a dashboard could not be published");
    }
}

/// Tells viewers of dashboard `id` that it went.
fn publish_removed(hub: &Hub, id: &str) {
    let event = NewEvent {
        channel: format!("{DASHBOARD_CHANNEL_PREFIX}{id}"),
        event_type: DASHBOARD_REMOVED_EVENT.to_string(),
        key: None,
        data: json!({ "id": id }),
    };
    if let Err(error) = hub.publish_batch(&[event]) {
        tracing::warn!(%error, id, "a dashboard's removal could not be published");
    }
}

/// Previous versions kept per dashboard.
pub const MAX_VERSIONS: usize = 50;
/// How often files are looked at for changes made on disk.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);
/// The largest dashboard file read.
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// Why a dashboard could not be saved, read or removed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The document is not a valid dashboard.
    #[error(transparent)]
    Invalid(#[from] ModelError),
    /// The dashboard changed since the revision the save was made from,
    /// and the two edits do not merge.
    #[error("the dashboard changed since revision {base}; it is now at {current}")]
    Conflict {
        /// The revision the save was made from.
        base: String,
        /// The revision on disk.
        current: String,
        /// What is on disk.
        text: String,
        /// What both edits changed differently (`title`, `time`, widget
        /// ids); empty when the revision it was made from is unknown.
        conflicts: Vec<String>,
    },
    /// No such dashboard (or version).
    #[error("there is no dashboard {0:?}")]
    NotFound(String),
    /// The directory or a file failed.
    #[error("dashboard files: {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> SaveError + '_ {
    move |source| SaveError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A dashboard's revision: a hash of its text.
pub fn revision(text: &str) -> String {
    format!("{:08x}{:08x}", crc32c(text.as_bytes()), text.len())
}

/// One dashboard as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// The dashboard.
    pub dashboard: Dashboard,
    /// Its canonical text.
    pub text: String,
    /// Its revision.
    pub revision: String,
}

impl Stored {
    fn of(dashboard: Dashboard) -> Self {
        let text = dashboard.to_canonical();
        let revision = revision(&text);
        Self {
            dashboard,
            text,
            revision,
        }
    }
}

/// A previous version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Its number (higher is newer).
    pub number: u64,
    /// Its revision.
    pub revision: String,
    /// When it was replaced.
    pub replaced: SystemTime,
}

/// The dashboards directory. Cheap to clone; all clones share it.
#[derive(Clone, Debug)]
pub struct Dashboards {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    /// Every valid dashboard, by id, with its file's modification time.
    loaded: BTreeMap<String, (Stored, Option<SystemTime>)>,
}

impl Dashboards {
    /// Opens (creating) the directory and reads every dashboard in it.
    /// Files that do not read as dashboards are logged and skipped.
    pub fn open(dir: &Path) -> Result<Self, SaveError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let mut inner = Inner {
            dir: dir.to_path_buf(),
            loaded: BTreeMap::new(),
        };
        inner.rescan();
        Ok(Self {
            inner: Arc::new(Mutex::new(inner)),
        })
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every change to `loaded` is one insert or remove.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every dashboard, by id.
    pub fn list(&self) -> Vec<Stored> {
        self.inner()
            .loaded
            .values()
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// Whether dashboard `id` exists (without copying it).
    pub fn contains(&self, id: &str) -> bool {
        self.inner().loaded.contains_key(id)
    }

    /// One dashboard.
    pub fn get(&self, id: &str) -> Option<Stored> {
        self.inner().loaded.get(id).map(|(s, _)| s.clone())
    }

    /// Saves `dashboard`, made from revision `base` (`None`: a new
    /// dashboard, refused if one exists). Returns what was stored, or
    /// `None` when nothing changed.
    pub fn save(&self, dashboard: Dashboard, base: Option<&str>) -> Result<Stored, SaveError> {
        let problems = dashboard.check();
        if !problems.is_empty() {
            return Err(ModelError::Invalid(problems).into());
        }
        let mut inner = self.inner();
        let id = dashboard.id.clone();
        let current = inner.loaded.get(&id).map(|(s, _)| s.clone());
        let conflict = |current: &Stored, base: &str, conflicts: Vec<String>| SaveError::Conflict {
            base: base.to_string(),
            current: current.revision.clone(),
            text: current.text.clone(),
            conflicts,
        };
        let mut dashboard = dashboard;
        match (&current, base) {
            (Some(current), Some(base)) if current.revision != base => {
                // Made from an older revision: merged with what was saved
                // since, if the two edits touch different things.
                let Some(made_from) = inner.find_revision(&id, base) else {
                    return Err(conflict(current, base, Vec::new()));
                };
                match merge(&made_from, &dashboard, &current.dashboard) {
                    Merged::Clean(merged) => {
                        let problems = merged.check();
                        if !problems.is_empty() {
                            // Each edit is fine alone; together they
                            // break a rule (two widgets on one cell).
                            let paths = problems.into_iter().map(|p| p.path).collect();
                            return Err(conflict(current, base, paths));
                        }
                        dashboard = merged;
                    }
                    Merged::Conflict(conflicts) => return Err(conflict(current, base, conflicts)),
                }
            }
            (Some(current), None) => return Err(conflict(current, "", Vec::new())),
            _ => {}
        }
        let stored = Stored::of(dashboard);
        if current.as_ref().is_some_and(|c| c.text == stored.text) {
            return Ok(stored);
        }
        if let Some(current) = &current {
            inner.keep_version(&id, &current.text)?;
        }
        let path = inner.file(&id);
        write_atomically(&path, stored.text.as_bytes())?;
        let modified = fs::metadata(&path).and_then(|m| m.modified()).ok();
        inner.loaded.insert(id, (stored.clone(), modified));
        Ok(stored)
    }

    /// The previous versions of `id`, newest first.
    pub fn versions(&self, id: &str) -> Result<Vec<Version>, SaveError> {
        let inner = self.inner();
        if !inner.loaded.contains_key(id) {
            return Err(SaveError::NotFound(id.to_string()));
        }
        Ok(inner.versions(id))
    }

    /// Version `number` of `id`.
    pub fn version(&self, id: &str, number: u64) -> Result<Stored, SaveError> {
        let inner = self.inner();
        let path = inner.versions_dir(id).join(format!("{number}.json"));
        let text = fs::read_to_string(&path)
            .map_err(|_| SaveError::NotFound(format!("{id} version {number}")))?;
        Ok(Stored::of(Dashboard::from_json(&text)?))
    }

    /// Reads files changed on disk since the last look: the dashboards that
    /// changed or appeared (checked), and the ids of those whose file went.
    pub fn rescan(&self) -> (Vec<Stored>, Vec<String>) {
        self.inner().rescan()
    }
}

impl Inner {
    fn file(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn versions_dir(&self, id: &str) -> PathBuf {
        self.dir.join(".versions").join(id)
    }

    /// The dashboard `id` was at `revision`: now, or one of its versions.
    fn find_revision(&self, id: &str, revision: &str) -> Option<Dashboard> {
        if let Some((stored, _)) = self.loaded.get(id).filter(|(s, _)| s.revision == revision) {
            return Some(stored.dashboard.clone());
        }
        self.versions(id)
            .into_iter()
            .find(|v| v.revision == revision)
            .and_then(|v| {
                fs::read_to_string(self.versions_dir(id).join(format!("{}.json", v.number))).ok()
            })
            .and_then(|text| Dashboard::from_json(&text).ok())
    }

    fn versions(&self, id: &str) -> Vec<Version> {
        let mut versions: Vec<Version> = fs::read_dir(self.versions_dir(id))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name();
                let number = name.to_str()?.strip_suffix(".json")?.parse().ok()?;
                let text = fs::read_to_string(entry.path()).ok()?;
                let replaced = entry.metadata().and_then(|m| m.modified()).ok()?;
                Some(Version {
                    number,
                    revision: revision(&text),
                    replaced,
                })
            })
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.number));
        versions
    }

    /// Keeps `text` as the newest previous version of `id`; past
    /// [`MAX_VERSIONS`] the oldest go.
    fn keep_version(&self, id: &str, text: &str) -> Result<(), SaveError> {
        let dir = self.versions_dir(id);
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let versions = self.versions(id);
        let next = versions.first().map_or(1, |v| v.number + 1);
        write_atomically(&dir.join(format!("{next}.json")), text.as_bytes())?;
        for old in versions.iter().skip(MAX_VERSIONS - 1) {
            let path = dir.join(format!("{}.json", old.number));
            fs::remove_file(&path).map_err(io_error(&path))?;
        }
        Ok(())
    }

    fn rescan(&mut self) -> (Vec<Stored>, Vec<String>) {
        let mut changed = Vec::new();
        let mut seen = Vec::new();
        for entry in fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let Some(id) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
                .filter(|id| valid_id(id))
                .map(str::to_string)
            else {
                continue;
            };
            seen.push(id.clone());
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            let modified = metadata.modified().ok();
            if self
                .loaded
                .get(&id)
                .is_some_and(|(_, at)| *at == modified && modified.is_some())
            {
                continue;
            }
            if metadata.len() > MAX_FILE_BYTES {
                tracing::warn!(path = %path.display(), "a dashboard file over 4 MiB is not read");
                continue;
            }
            let read = fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| Dashboard::from_json(&text).map_err(|e| e.to_string()));
            match read {
                Ok(dashboard) if dashboard.id == id => {
                    let stored = Stored::of(dashboard);
                    let same = self
                        .loaded
                        .get(&id)
                        .is_some_and(|(s, _)| s.text == stored.text);
                    self.loaded.insert(id, (stored.clone(), modified));
                    if !same {
                        changed.push(stored);
                    }
                }
                Ok(dashboard) => tracing::warn!(
                    path = %path.display(),
                    id = %dashboard.id,
                    "a dashboard file must be named after its id; not read"
                ),
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "a dashboard file does not read; the last good one stays");
                    // Not looked at again until it changes.
                    if let Some((_, at)) = self.loaded.get_mut(&id) {
                        *at = modified;
                    }
                }
            }
        }
        let gone: Vec<String> = self
            .loaded
            .keys()
            .filter(|id| !seen.contains(id))
            .cloned()
            .collect();
        for id in &gone {
            self.loaded.remove(id);
        }
        (changed, gone)
    }
}

/// Writes `bytes` to `path` so that a crash leaves the old file or the
/// new one: a synced temporary file renamed over it, and the directory
/// synced.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SaveError> {
    let temporary = path.with_extension("json.tmp");
    let mut file = fs::File::create(&temporary).map_err(io_error(&temporary))?;
    file.write_all(bytes).map_err(io_error(&temporary))?;
    file.sync_all().map_err(io_error(&temporary))?;
    fs::rename(&temporary, path).map_err(io_error(path))?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error(dir))?;
    }
    Ok(())
}

/// The business overview `--demo` adds (its series are the demo's).
pub const DEMO: &str = include_str!("demo.json");

impl Dashboards {
    /// Adds the demo's business overview unless a dashboard of its id is
    /// there (a file kept, edited or not, is never replaced).
    pub fn add_demo(&self) -> Result<(), SaveError> {
        let demo = Dashboard::from_json(DEMO)?;
        if self.contains(&demo.id) {
            return Ok(());
        }
        self.save(demo, None).map(|_| ())
    }
}

/// Looks at the directory every [`WATCH_EVERY`] until shutdown, and
/// publishes each dashboard changed or removed on disk.
pub async fn run_watcher(dashboards: Dashboards, hub: Hub, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let wait = shutdown.wait();
    tokio::pin!(wait);
    loop {
        tokio::select! {
            () = &mut wait => return,
            _ = tick.tick() => {}
        }
        let scan = dashboards.clone();
        let Ok((fresh, removed)) = tokio::task::spawn_blocking(move || scan.rescan()).await else {
            continue;
        };
        for stored in &fresh {
            tracing::info!(id = %stored.dashboard.id, revision = %stored.revision, "a dashboard file changed on disk");
            publish_saved(&hub, stored);
        }
        for id in &removed {
            publish_removed(&hub, id);
        }
    }
}

#[cfg(test)]
mod tests;
