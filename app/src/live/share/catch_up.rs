//! A follower's catch-up: a tab joins with the state its page was rendered
//! with, at some position, while the leader's relays are already past it.
//! It reads what it missed with immediate polls (which hold no connection),
//! keeps the relays that arrive meanwhile, then applies both in order, each
//! position once.

use super::{CatchUp, Role, Share, ShareEffect, MAX_CATCH_UP_POLLS};
use crate::{
    live::{frame::Delivery, resume::ResumePoint, subscription::Subscription},
    protocol::{PollReply, Position},
};

impl Share {
    /// Starts catching up from `since` (`None`: from a snapshot of this
    /// tab's channels).
    pub(super) fn begin_catch_up(&mut self, since: Option<Position>) {
        if self.role != Role::Follower || self.interest.channels.is_empty() {
            return;
        }
        if since.is_none() {
            self.complete = ResumePoint::new(None);
        }
        self.catch_up = Some(CatchUp {
            in_flight: None,
            polls: 0,
            held: Vec::new(),
        });
        self.poll_catch_up();
    }

    /// Asks for what follows `complete` (one immediate poll).
    pub(super) fn poll_catch_up(&mut self) {
        let Some(catch_up) = self.catch_up.as_mut() else {
            return;
        };
        if catch_up.polls >= MAX_CATCH_UP_POLLS {
            // Too far behind to read it all: start over from a snapshot.
            self.catch_up = None;
            self.begin_catch_up(None);
            return;
        }
        self.next_catch_up += 1;
        catch_up.in_flight = Some(self.next_catch_up);
        catch_up.polls += 1;
        self.effects.push(ShareEffect::CatchUp {
            id: self.next_catch_up,
            request: Subscription::new(&self.interest, self.complete.last(), &Default::default()),
        });
    }

    pub(super) fn caught_up(&mut self, id: u64, reply: PollReply) {
        let Some(catch_up) = self.catch_up.take_if(|c| c.in_flight == Some(id)) else {
            return;
        };
        let full = reply.events.len() >= 1_000;
        for envelope in reply.events {
            match Delivery::from_envelope(envelope) {
                Ok(delivery) => self.apply(delivery),
                Err(warning) => self.effects.push(ShareEffect::Warn(warning)),
            }
        }
        if self
            .complete
            .last()
            .is_none_or(|last| reply.next.is_after(&last))
        {
            self.complete.reset_to(reply.next);
        }
        if full {
            // More to read: the relays wait on.
            self.catch_up = Some(catch_up);
            self.poll_catch_up();
            return;
        }
        for delivery in catch_up.held {
            self.apply(delivery);
        }
    }
}
