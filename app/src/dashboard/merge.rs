//! Concurrent edits: two people changed the same dashboard from the same
//! revision. Changes to different widgets (and to different top-level
//! fields) merge; a widget both changed differently is a conflict, never
//! settled by taking one side.

use super::{Dashboard, Widget};

/// What merging two edits gives.
#[derive(Clone, Debug, PartialEq)]
pub enum Merged {
    /// Both edits, together.
    Clean(Dashboard),
    /// What both changed differently: top-level fields (`title`, `time`)
    /// and widget ids.
    Conflict(Vec<String>),
}

/// Three-way: `mine` and `theirs` were both made from `base`.
pub fn merge(base: &Dashboard, mine: &Dashboard, theirs: &Dashboard) -> Merged {
    let mut conflicts = Vec::new();
    let mut merged = theirs.clone();
    fn pick<T: PartialEq + Clone>(base: &T, mine: &T, theirs: &T) -> Option<T> {
        if mine == base || mine == theirs {
            Some(theirs.clone())
        } else if theirs == base {
            Some(mine.clone())
        } else {
            None
        }
    }
    match pick(&base.title, &mine.title, &theirs.title) {
        Some(title) => merged.title = title,
        None => conflicts.push("title".to_string()),
    }
    match pick(&base.time, &mine.time, &theirs.time) {
        Some(time) => merged.time = time,
        None => conflicts.push("time".to_string()),
    }
    let find = |d: &Dashboard, id: &str| d.widgets.iter().find(|w| w.id == id).cloned();
    let mut widgets: Vec<Widget> = Vec::new();
    // Theirs' order first, each widget as both edits leave it.
    for theirs_widget in &theirs.widgets {
        let id = theirs_widget.id.as_str();
        match (find(base, id), find(mine, id)) {
            (Some(b), Some(m)) => match pick(&b, &m, theirs_widget) {
                Some(w) => widgets.push(w),
                None => conflicts.push(id.to_string()),
            },
            // I removed it: gone, unless they changed it meanwhile.
            (Some(b), None) => {
                if &b != theirs_widget {
                    conflicts.push(id.to_string());
                }
            }
            // They added it; I may have added one with the same id.
            (None, Some(m)) => {
                if &m == theirs_widget {
                    widgets.push(m);
                } else {
                    conflicts.push(id.to_string());
                }
            }
            (None, None) => widgets.push(theirs_widget.clone()),
        }
    }
    // Then what only I have: my additions, and what they removed.
    for mine_widget in &mine.widgets {
        let id = mine_widget.id.as_str();
        if find(theirs, id).is_some() {
            continue;
        }
        match find(base, id) {
            // They removed it: gone, unless I changed it meanwhile.
            Some(b) => {
                if &b != mine_widget {
                    conflicts.push(id.to_string());
                }
            }
            None => widgets.push(mine_widget.clone()),
        }
    }
    if !conflicts.is_empty() {
        return Merged::Conflict(conflicts);
    }
    merged.widgets = widgets;
    Merged::Clean(merged)
}
