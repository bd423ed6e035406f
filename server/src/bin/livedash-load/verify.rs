//! The exactly-once check of one subscriber's stream, done while it runs.
//!
//! Every published event carries its publisher's index and a sequence number
//! that publisher counts from 0 (see `probe`), and each publisher sends one
//! request at a time, so its events take increasing positions in the log. A
//! subscriber that opened before the first publish must therefore see:
//!
//! - positions that strictly increase (else *out of order*);
//! - from each publisher, sequence numbers 0, 1, 2, ... with none skipped
//!   (else *lost*, by the number skipped) and none repeated or going back
//!   (else *duplicated*);
//! - at the end, every event each publisher had acknowledged (the tail it
//!   did not see is *lost*).
//!
//! A `reset` (or a `snapshot` after the opening one) is the server saying
//! "I could not give you what you missed; start again from here". It is
//! counted, and each publisher's sequence re-synchronises: the next number
//! seen from it is accepted if it does not go back. An event dropped right
//! at a reset is indistinguishable from one the reset skipped on purpose;
//! that is the contract a reset has.
//!
//! Events the server acknowledged nothing for (a publisher whose request
//! failed after it was sent stops there) may or may not arrive; either way
//! is accepted.

use app::protocol::Position;
use serde::Serialize;

/// What one or more subscribers saw, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Events from this run's publishers that arrived.
    pub events: u64,
    /// Events skipped without a reset.
    pub lost: u64,
    /// Events that arrived again, or after a later one of their publisher.
    pub duplicated: u64,
    /// Events whose position was not after the previous one.
    pub out_of_order: u64,
    /// Resets (and snapshots after the opening one).
    pub resets: u64,
    /// Events on the channel not published by this run.
    pub foreign: u64,
}

impl Tally {
    /// True when nothing was lost, duplicated or reordered.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.out_of_order == 0
    }

    /// Adds another tally.
    pub fn add(&mut self, other: &Tally) {
        self.events += other.events;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.out_of_order += other.out_of_order;
        self.resets += other.resets;
        self.foreign += other.foreign;
    }
}

/// What one publisher got acknowledged, as the subscribers are told at the
/// end of publishing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    /// Events acknowledged: sequence numbers `0..count`.
    pub count: u64,
    /// The position of the last acknowledged event.
    pub last: Option<Position>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Track {
    /// The sequence number expected next.
    next: u64,
    /// After a reset: the next number seen restarts the count.
    resync: bool,
}

/// One subscriber's exactly-once check.
#[derive(Debug, Clone)]
pub struct Verifier {
    opened: bool,
    last: Option<Position>,
    reset_at: Option<Position>,
    tracks: Vec<Track>,
    tally: Tally,
}

impl Verifier {
    /// A check for a run with `publishers` publishers.
    pub fn new(publishers: usize) -> Self {
        Self {
            opened: false,
            last: None,
            reset_at: None,
            tracks: vec![Track::default(); publishers],
            tally: Tally::default(),
        }
    }

    /// What was seen so far.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// A `snapshot` whose envelope id is `head`: the stream's opening one, or
    /// else a reset.
    pub fn snapshot(&mut self, head: Position) {
        if self.opened {
            self.reset(head);
        } else {
            self.opened = true;
            self.last = Some(head);
        }
    }

    /// A `reset` whose envelope id is `head`.
    pub fn reset(&mut self, head: Position) {
        self.opened = true;
        self.tally.resets += 1;
        self.last = Some(head);
        self.reset_at = Some(head);
        for track in &mut self.tracks {
            track.resync = true;
        }
    }

    /// An event on the channel that this run did not publish.
    pub fn foreign(&mut self, position: Position) {
        self.tally.foreign += 1;
        self.advance(position);
    }

    /// An event at `position`, published by `publisher` as number `seq`.
    pub fn event(&mut self, position: Position, publisher: usize, seq: u64) {
        let Some(track) = self.tracks.get_mut(publisher) else {
            return self.foreign(position);
        };
        self.tally.events += 1;
        if seq < track.next {
            self.tally.duplicated += 1;
        } else if track.resync {
            track.resync = false;
            track.next = seq + 1;
        } else {
            self.tally.lost += seq - track.next;
            track.next = seq + 1;
        }
        self.advance(position);
    }

    fn advance(&mut self, position: Position) {
        match self.last {
            Some(last) if !position.is_after(&last) => {
                self.tally.out_of_order += 1;
                // A position from another epoch without a reset is wrong
                // too; a step back within the epoch keeps the furthest.
                if position.epoch != last.epoch {
                    self.last = Some(position);
                }
            }
            _ => self.last = Some(position),
        }
    }

    /// True when every event the publishers had acknowledged has arrived
    /// (or, after a reset, when nothing more is owed).
    pub fn has_all(&self, published: &[Published]) -> bool {
        self.tracks
            .iter()
            .zip(published)
            .all(|(track, published)| self.owed(track, published) == 0)
    }

    /// The events of `published` still owed to this subscriber; for a
    /// publisher re-synchronising after a reset, 1 if anything it published
    /// after the reset has yet to arrive (how many cannot be known).
    fn owed(&self, track: &Track, published: &Published) -> u64 {
        if !track.resync {
            return published.count.saturating_sub(track.next);
        }
        match (published.last, self.reset_at) {
            (Some(last), Some(reset)) if last.is_after(&reset) => 1,
            _ => 0,
        }
    }

    /// Ends the check: what is still owed is lost.
    pub fn finish(&mut self, published: &[Published]) -> Tally {
        let owed: u64 = self
            .tracks
            .iter()
            .zip(published)
            .map(|(track, published)| self.owed(track, published))
            .sum();
        self.tally.lost += owed;
        self.tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seq: u64) -> Position {
        Position::new(7, seq)
    }

    fn published(counts: &[(u64, u64)]) -> Vec<Published> {
        counts
            .iter()
            .map(|&(count, last)| Published {
                count,
                last: Some(at(last)),
            })
            .collect()
    }

    #[test]
    fn every_event_once_and_in_order_is_clean() {
        let mut verifier = Verifier::new(2);
        verifier.snapshot(at(10));
        for (position, publisher, seq) in [(11, 0, 0), (12, 1, 0), (13, 0, 1), (14, 1, 1)] {
            verifier.event(at(position), publisher, seq);
        }
        let all = published(&[(2, 13), (2, 14)]);
        assert!(verifier.has_all(&all));
        let tally = verifier.finish(&all);
        assert!(tally.is_clean(), "{tally:?}");
        assert_eq!(tally.events, 4);
        assert_eq!(tally.resets, 0);
    }

    #[test]
    fn a_skipped_sequence_number_is_lost() {
        let mut verifier = Verifier::new(1);
        verifier.snapshot(at(1));
        verifier.event(at(2), 0, 0);
        verifier.event(at(5), 0, 3);
        let tally = verifier.finish(&published(&[(4, 5)]));
        assert_eq!(tally.lost, 2);
        assert_eq!(tally.duplicated, 0);
    }

    #[test]
    fn a_missing_tail_is_lost_and_keeps_the_subscriber_waiting() {
        let mut verifier = Verifier::new(1);
        verifier.snapshot(at(1));
        verifier.event(at(2), 0, 0);
        let all = published(&[(3, 4)]);
        assert!(!verifier.has_all(&all));
        assert_eq!(verifier.finish(&all).lost, 2);
    }

    #[test]
    fn the_same_event_twice_is_a_duplicate() {
        let mut verifier = Verifier::new(1);
        verifier.snapshot(at(1));
        verifier.event(at(2), 0, 0);
        verifier.event(at(3), 0, 1);
        verifier.event(at(3), 0, 1);
        let tally = verifier.finish(&published(&[(2, 3)]));
        assert_eq!(tally.duplicated, 1);
        assert_eq!(tally.out_of_order, 1, "its position did not increase");
        assert_eq!(tally.lost, 0);
        assert!(!tally.is_clean());
    }

    #[test]
    fn a_position_that_goes_back_is_out_of_order() {
        let mut verifier = Verifier::new(2);
        verifier.snapshot(at(1));
        verifier.event(at(5), 0, 0);
        verifier.event(at(4), 1, 0);
        verifier.event(at(6), 0, 1);
        let tally = verifier.finish(&published(&[(2, 6), (1, 4)]));
        assert_eq!(tally.out_of_order, 1);
        assert_eq!(tally.lost + tally.duplicated, 0);
    }

    #[test]
    fn an_event_from_another_epoch_without_a_reset_is_out_of_order() {
        let mut verifier = Verifier::new(1);
        verifier.snapshot(at(1));
        verifier.event(Position::new(8, 1), 0, 0);
        assert_eq!(verifier.tally().out_of_order, 1);
    }

    #[test]
    fn a_reset_resynchronises_instead_of_counting_loss() {
        let mut verifier = Verifier::new(2);
        verifier.snapshot(at(1));
        verifier.event(at(2), 0, 0);
        verifier.event(at(3), 1, 0);
        // Positions 4..=99 were skipped on purpose.
        verifier.reset(at(99));
        verifier.event(at(100), 0, 40);
        verifier.event(at(101), 0, 41);
        verifier.event(at(102), 1, 50);
        let all = published(&[(42, 101), (51, 102)]);
        assert!(verifier.has_all(&all));
        let tally = verifier.finish(&all);
        assert!(tally.is_clean(), "{tally:?}");
        assert_eq!(tally.resets, 1);
    }

    #[test]
    fn a_later_snapshot_counts_as_a_reset() {
        let mut verifier = Verifier::new(1);
        verifier.snapshot(at(1));
        verifier.event(at(2), 0, 0);
        verifier.snapshot(at(50));
        verifier.event(at(51), 0, 30);
        let tally = verifier.finish(&published(&[(31, 51)]));
        assert_eq!(tally.resets, 1);
        assert!(tally.is_clean());
    }

    #[test]
    fn after_a_reset_going_back_is_still_a_duplicate() {
        let mut verifier = Verifier::new(1);
        verifier.snapshot(at(1));
        verifier.event(at(2), 0, 0);
        verifier.event(at(3), 0, 1);
        verifier.reset(at(3));
        verifier.event(at(4), 0, 1);
        assert_eq!(verifier.tally().duplicated, 1);
    }

    #[test]
    fn after_a_reset_a_publisher_that_published_later_is_owed_an_event() {
        let mut verifier = Verifier::new(2);
        verifier.snapshot(at(1));
        verifier.event(at(2), 0, 0);
        verifier.event(at(3), 1, 0);
        verifier.reset(at(10));
        verifier.event(at(11), 0, 5);
        // Publisher 1's last event (12) came after the reset and never arrived;
        // publisher 0 published nothing after 11.
        let all = published(&[(6, 11), (3, 12)]);
        assert!(!verifier.has_all(&all));
        assert_eq!(verifier.finish(&all).lost, 1);

        let mut quiet = Verifier::new(1);
        quiet.snapshot(at(1));
        quiet.reset(at(10));
        let before_reset = published(&[(3, 9)]);
        assert!(quiet.has_all(&before_reset));
        assert!(quiet.finish(&before_reset).is_clean());
    }

    #[test]
    fn unknown_publishers_and_unacknowledged_extras_are_not_violations() {
        let mut verifier = Verifier::new(1);
        verifier.snapshot(at(1));
        verifier.event(at(2), 3, 0);
        verifier.event(at(3), 0, 0);
        // Sent but never acknowledged (the request failed): it may arrive.
        verifier.event(at(4), 0, 1);
        let tally = verifier.finish(&published(&[(1, 3)]));
        assert!(tally.is_clean());
        assert_eq!(tally.foreign, 1);
        assert_eq!(tally.events, 2);
    }
}
