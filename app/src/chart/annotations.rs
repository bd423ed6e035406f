//! The annotations a page holds, and how a chart shows them: as marks on
//! its time axis, grouped when they crowd, and listed in its tooltip.
//!
//! The page reads the annotations of its window from the server and adds
//! those published live (see `ui::store`); both arrive as the stored
//! [`Annotation`], so the same note is never held twice.

use crate::protocol::Annotation;

/// The most annotations a page holds; past it the oldest (by time) go.
pub const MAX_HELD: usize = 1_000;

/// The annotations a page holds, by time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnnotationSet {
    notes: Vec<Annotation>,
}

impl AnnotationSet {
    /// Adds `note`, or replaces the one with its id. False when it held
    /// exactly that already (nothing to redraw).
    pub fn upsert(&mut self, note: Annotation) -> bool {
        if let Some(at) = self.notes.iter().position(|n| n.id == note.id) {
            if self.notes[at] == note {
                return false;
            }
            self.notes.remove(at);
        }
        let at = self
            .notes
            .partition_point(|n| (n.time, n.id) < (note.time, note.id));
        self.notes.insert(at, note);
        if self.notes.len() > MAX_HELD {
            self.notes.remove(0);
        }
        true
    }

    /// Removes annotation `id`; false when it held none.
    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.notes.len();
        self.notes.retain(|n| n.id != id);
        self.notes.len() != before
    }

    /// Those that show on `widget` and overlap `from..=to`, by time.
    pub fn visible<'a>(
        &'a self,
        widget: &'a str,
        from: i64,
        to: i64,
    ) -> impl Iterator<Item = &'a Annotation> + 'a {
        self.notes
            .iter()
            .filter(move |n| n.shows_on(widget) && n.overlaps(from, to))
    }

    /// How many it holds.
    pub fn len(&self) -> usize {
        self.notes.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.notes.is_empty()
    }
}

/// What a chart draws for one annotation, or for several that crowd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    /// Where it starts, Unix ms.
    pub from: i64,
    /// Where it ends (`from` for a moment).
    pub to: i64,
    /// How many annotations it stands for.
    pub count: usize,
    /// It is one annotation's span (drawn as a band), not moments.
    pub span: bool,
    /// An alert's firing period, at this severity (drawn in its colour).
    pub level: Option<crate::chart::Level>,
}

/// The marks for `notes` (by time): a span keeps its own mark; moments
/// closer than `min_ms` to the one before join its mark, which then
/// covers them all and counts them.
pub fn marks<'a>(notes: impl IntoIterator<Item = &'a Annotation>, min_ms: i64) -> Vec<Mark> {
    let mut marks: Vec<Mark> = Vec::new();
    let mut spans = Vec::new();
    for note in notes {
        if let Some(end) = note.end {
            spans.push(Mark {
                from: note.time,
                to: end,
                count: 1,
                span: true,
                level: note.level.as_deref().map(|level| match level {
                    "critical" => crate::chart::Level::Critical,
                    _ => crate::chart::Level::Warning,
                }),
            });
            continue;
        }
        match marks.last_mut() {
            Some(last) if note.time - last.to < min_ms => {
                last.to = note.time;
                last.count += 1;
            }
            _ => marks.push(Mark {
                from: note.time,
                to: note.time,
                count: 1,
                span: false,
                level: None,
            }),
        }
    }
    spans.extend(marks);
    spans
}

/// The annotations the tooltip lists at `ts`: moments within `reach` of
/// it and spans that cover it.
pub fn near<'a>(
    notes: impl IntoIterator<Item = &'a Annotation>,
    ts: i64,
    reach: i64,
) -> Vec<&'a Annotation> {
    notes
        .into_iter()
        .filter(|n| match n.end {
            Some(end) => (n.time..=end).contains(&ts),
            None => (n.time - ts).abs() <= reach,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(id: u64, time: i64, end: Option<i64>, widget: Option<&str>) -> Annotation {
        Annotation {
            id,
            dashboard: "main".into(),
            widget: widget.map(str::to_string),
            time,
            end,
            text: format!("note {id}"),
            created: time,
            level: None,
        }
    }

    #[test]
    fn the_same_note_from_history_and_live_is_held_once_in_time_order() {
        let mut set = AnnotationSet::default();
        assert!(set.upsert(note(2, 20, None, None)));
        assert!(set.upsert(note(1, 10, None, None)));
        assert!(!set.upsert(note(2, 20, None, None)), "already held");
        let mut moved = note(2, 5, None, None);
        moved.text = "edited".into();
        assert!(set.upsert(moved));
        let ids: Vec<u64> = set.visible("cpu", 0, 100).map(|n| n.id).collect();
        assert_eq!(ids, [2, 1]);
        assert!(set.remove(2));
        assert!(!set.remove(2));
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn a_page_holds_a_bounded_number_and_drops_the_oldest() {
        let mut set = AnnotationSet::default();
        for id in 0..(MAX_HELD as u64 + 10) {
            set.upsert(note(id, 1_000 + id as i64, None, None));
        }
        assert_eq!(set.len(), MAX_HELD);
        assert_eq!(set.visible("cpu", 0, 1_009).count(), 0);
    }

    #[test]
    fn a_chart_sees_the_dashboards_notes_and_its_own_in_its_window() {
        let mut set = AnnotationSet::default();
        set.upsert(note(1, 10, None, None));
        set.upsert(note(2, 11, None, Some("cpu")));
        set.upsert(note(3, 12, None, Some("memory")));
        set.upsert(note(4, 0, Some(10), None));
        set.upsert(note(5, 50, None, None));
        let ids: Vec<u64> = set.visible("cpu", 10, 20).map(|n| n.id).collect();
        assert_eq!(ids, [4, 1, 2]);
    }

    #[test]
    fn crowded_moments_share_a_mark_that_counts_them_and_spans_keep_theirs() {
        let notes = [
            note(1, 100, None, None),
            note(2, 105, None, None),
            note(3, 109, None, None),
            note(4, 120, Some(200), None),
            note(5, 130, None, None),
            Annotation {
                level: Some("critical".into()),
                ..note(6, 140, Some(150), None)
            },
        ];
        let marks = marks(&notes, 10);
        assert_eq!(
            marks,
            [
                Mark {
                    from: 120,
                    to: 200,
                    count: 1,
                    span: true,
                    level: None
                },
                // An alert's firing period: in its severity's colour.
                Mark {
                    from: 140,
                    to: 150,
                    count: 1,
                    span: true,
                    level: Some(crate::chart::Level::Critical)
                },
                Mark {
                    from: 100,
                    to: 109,
                    count: 3,
                    span: false,
                    level: None
                },
                Mark {
                    from: 130,
                    to: 130,
                    count: 1,
                    span: false,
                    level: None
                },
            ]
        );
    }

    #[test]
    fn the_tooltip_lists_moments_in_reach_and_spans_that_cover_the_time() {
        let notes = [
            note(1, 100, None, None),
            note(2, 150, None, None),
            note(3, 0, Some(120), None),
        ];
        let ids: Vec<u64> = near(&notes, 110, 10).into_iter().map(|n| n.id).collect();
        assert_eq!(ids, [1, 3]);
        assert!(near(&notes, 130, 10).is_empty());
    }
}
