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
    match merge_deciding(base, mine, theirs, &|_| None) {
        Ok(merged) => Merged::Clean(merged),
        Err(conflicts) => Merged::Conflict(conflicts),
    }
}

/// Three-way, with each conflict settled: the fields and widgets named in
/// `keep_mine` as `mine` has them, every other as `theirs` has it.
pub fn resolve(
    base: &Dashboard,
    mine: &Dashboard,
    theirs: &Dashboard,
    keep_mine: &[String],
) -> Dashboard {
    let decide = |key: &str| Some(keep_mine.iter().any(|k| k == key));
    merge_deciding(base, mine, theirs, &decide).unwrap_or_else(|_| theirs.clone())
}

/// The merge; `decide` settles a conflict (`Some(true)`: mine), or
/// leaves it one (`None`).
fn merge_deciding(
    base: &Dashboard,
    mine: &Dashboard,
    theirs: &Dashboard,
    decide: &dyn Fn(&str) -> Option<bool>,
) -> Result<Dashboard, Vec<String>> {
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
    // A conflict settled, or recorded: `Some(mine?)`.
    let mut settle = |key: &str| {
        let decision = decide(key);
        if decision.is_none() {
            conflicts.push(key.to_string());
        }
        decision
    };
    match pick(&base.title, &mine.title, &theirs.title) {
        Some(title) => merged.title = title,
        None => {
            if settle("title") == Some(true) {
                merged.title = mine.title.clone();
            }
        }
    }
    match pick(&base.time, &mine.time, &theirs.time) {
        Some(time) => merged.time = time,
        None => {
            if settle("time") == Some(true) {
                merged.time = mine.time.clone();
            }
        }
    }
    let find = |d: &Dashboard, id: &str| d.widgets.iter().find(|w| w.id == id).cloned();
    let mut widgets: Vec<Widget> = Vec::new();
    // Theirs' order first, each widget as both edits leave it.
    for theirs_widget in &theirs.widgets {
        let id = theirs_widget.id.as_str();
        match (find(base, id), find(mine, id)) {
            (Some(b), Some(m)) => match pick(&b, &m, theirs_widget) {
                Some(w) => widgets.push(w),
                None => match settle(id) {
                    Some(true) => widgets.push(m),
                    Some(false) => widgets.push(theirs_widget.clone()),
                    None => {}
                },
            },
            // I removed it: gone, unless they changed it meanwhile.
            (Some(b), None) => {
                if &b != theirs_widget && settle(id) == Some(false) {
                    widgets.push(theirs_widget.clone());
                }
            }
            // They added it; I may have added one with the same id.
            (None, Some(m)) => {
                if &m == theirs_widget {
                    widgets.push(m);
                } else {
                    match settle(id) {
                        Some(true) => widgets.push(m),
                        Some(false) => widgets.push(theirs_widget.clone()),
                        None => {}
                    }
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
                if &b != mine_widget && settle(id) == Some(true) {
                    widgets.push(mine_widget.clone());
                }
            }
            None => widgets.push(mine_widget.clone()),
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    merged.widgets = widgets;
    Ok(merged)
}
