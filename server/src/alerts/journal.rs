//! The alerts' journal: every transition, acknowledgement and silence, one
//! JSON line each, appended to `<data-dir>/alerts/journal.jsonl` and
//! synced before it is published. Replaying it gives the alerts that are
//! pending or firing, their history and the silences, so a restart loses
//! none of them. A line cut short by a crash is the last one, and is
//! skipped. When the file holds many more lines than the state it
//! describes, it is rewritten (to a temporary file, synced, renamed) with
//! only what is still needed.

use std::{
    collections::{BTreeMap, VecDeque},
    fs::{File, OpenOptions},
    io::{self, BufRead, BufReader, Write},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use super::{Ack, Alert, Silence, Transition, HISTORY_KEPT};

/// One line of the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// An alert moved; `alert` is its state after the move.
    Transition {
        /// The move.
        transition: Transition,
        /// The alert after it.
        alert: Alert,
    },
    /// An alert as it is now (a rewritten journal's state, after its
    /// history): no transition of its own.
    Active {
        /// It.
        alert: Alert,
    },
    /// Someone acknowledged an alert.
    Ack {
        /// The alert's id.
        alert: u64,
        /// Who, when, why.
        ack: Ack,
    },
    /// A silence was made.
    Silence {
        /// It.
        silence: Silence,
    },
    /// A silence was removed before its end.
    Unsilence {
        /// Its id.
        id: String,
    },
}

/// What replaying the journal gives.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Alerts pending or firing, by (rule, series).
    pub active: BTreeMap<(String, String), Alert>,
    /// The newest transitions, oldest first.
    pub history: VecDeque<Transition>,
    /// Silences, by id.
    pub silences: BTreeMap<String, Silence>,
    /// The highest sequence number used.
    pub seq: u64,
    /// Lines read.
    pub lines: usize,
    /// Lines that did not read (a torn last write).
    pub skipped: usize,
}

impl Replayed {
    /// Applies one entry.
    pub fn apply(&mut self, entry: Entry) {
        match entry {
            Entry::Transition { transition, alert } => {
                self.seq = self.seq.max(transition.seq).max(alert.id);
                let key = (alert.rule.clone(), alert.series.clone());
                if alert.phase == super::Phase::Resolved {
                    self.active.remove(&key);
                } else {
                    self.active.insert(key, alert);
                }
                self.history.push_back(transition);
                while self.history.len() > HISTORY_KEPT {
                    self.history.pop_front();
                }
            }
            Entry::Active { alert } => {
                self.seq = self.seq.max(alert.id);
                self.active
                    .insert((alert.rule.clone(), alert.series.clone()), alert);
            }
            Entry::Ack { alert, ack } => {
                if let Some(a) = self.active.values_mut().find(|a| a.id == alert) {
                    a.ack = Some(ack);
                }
            }
            Entry::Silence { silence } => {
                self.silences.insert(silence.id.clone(), silence);
            }
            Entry::Unsilence { id } => {
                self.silences.remove(&id);
            }
        }
    }
}

/// The open journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    lines: usize,
}

impl Journal {
    /// Opens (or creates) the journal in `dir` and replays it.
    pub fn open(dir: &Path) -> io::Result<(Self, Replayed)> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("journal.jsonl");
        let mut replayed = Replayed::default();
        if let Ok(file) = File::open(&path) {
            for line in BufReader::new(file).split(b'\n') {
                let line = line?;
                if line.is_empty() {
                    continue;
                }
                replayed.lines += 1;
                match serde_json::from_slice::<Entry>(&line) {
                    Ok(entry) => replayed.apply(entry),
                    Err(error) => {
                        replayed.skipped += 1;
                        tracing::warn!(%error, path = %path.display(), "skipping a journal line that does not read");
                    }
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let mut journal = Self {
            path,
            file,
            lines: replayed.lines,
        };
        let needed = replayed.active.len() + replayed.history.len() + replayed.silences.len();
        if replayed.lines > 4 * needed.max(1_000) || replayed.skipped > 0 {
            journal.rewrite(&replayed)?;
        }
        Ok((journal, replayed))
    }

    /// Appends `entries` and syncs them to disk.
    pub fn append(&mut self, entries: &[Entry]) -> io::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::new();
        for entry in entries {
            serde_json::to_writer(&mut bytes, entry)?;
            bytes.push(b'\n');
        }
        self.file.write_all(&bytes)?;
        self.file.sync_data()?;
        self.lines += entries.len();
        Ok(())
    }

    /// Lines in the file.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Rewrites the file with only what `state` needs: its history (each
    /// transition with the alert it left), the alerts still active, the
    /// silences.
    pub fn rewrite(&mut self, state: &Replayed) -> io::Result<()> {
        let temporary = self.path.with_extension("jsonl.new");
        let mut out = io::BufWriter::new(File::create(&temporary)?);
        let mut write = |entry: &Entry| -> io::Result<()> {
            serde_json::to_writer(&mut out, entry)?;
            out.write_all(b"\n")
        };
        let mut lines = 0;
        for transition in &state.history {
            // The alert as the transition left it; those still active
            // are written whole after the history.
            write(&Entry::Transition {
                transition: transition.clone(),
                alert: Alert::from_transition(transition),
            })?;
            lines += 1;
        }
        for alert in state.active.values() {
            write(&Entry::Active {
                alert: alert.clone(),
            })?;
            lines += 1;
        }
        for silence in state.silences.values() {
            write(&Entry::Silence {
                silence: silence.clone(),
            })?;
            lines += 1;
        }
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, &self.path)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(dir) = File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.lines = lines;
        Ok(())
    }
}
