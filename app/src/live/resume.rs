//! Which events a client applies: each position once, in order.
//!
//! The client remembers the last position it applied. An event at or before
//! it (in the same epoch) is a duplicate, delivered again after a reconnect,
//! and is dropped. A snapshot moves the client to the head position it was
//! taken at.

use crate::protocol::Position;

/// The last position a client applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResumePoint {
    last: Option<Position>,
}

impl ResumePoint {
    /// A client that starts at `last` (`None`: from nothing).
    pub fn new(last: Option<Position>) -> Self {
        Self { last }
    }

    /// The position to resume from.
    pub fn last(&self) -> Option<Position> {
        self.last
    }

    /// Whether the event at `id` is new; if so, the client has now applied it.
    /// An event of another epoch than the last one is new: the server only
    /// sends one after a snapshot that moved the client there.
    pub fn accept(&mut self, id: Position) -> bool {
        let new = match self.last {
            None => true,
            Some(last) => id.epoch != last.epoch || id.seq > last.seq,
        };
        if new {
            self.last = Some(id);
        }
        new
    }

    /// The client replaced its state with a snapshot taken at `head`.
    pub fn reset_to(&mut self, head: Position) {
        self.last = Some(head);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redelivered_events_are_applied_once() {
        let mut point = ResumePoint::new(Some(Position::new(1, 3)));
        let applied: Vec<u64> = [2, 3, 4, 4, 5, 3, 6]
            .into_iter()
            .filter(|&seq| point.accept(Position::new(1, seq)))
            .collect();
        assert_eq!(applied, [4, 5, 6]);
        assert_eq!(point.last(), Some(Position::new(1, 6)));
    }

    #[test]
    fn a_snapshot_moves_the_client_to_its_head() {
        let mut point = ResumePoint::new(Some(Position::new(1, 9)));
        point.reset_to(Position::new(2, 4));
        assert!(!point.accept(Position::new(2, 4)));
        assert!(point.accept(Position::new(2, 5)));
    }
}
