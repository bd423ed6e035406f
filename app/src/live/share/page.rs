//! What a tab does with what happens to its own page: visibility, what
//! its widgets need, the user's actions and the tick. A tab that runs the
//! connection hands them to its machine; a follower posts them to the
//! leader.

use super::{Share, TabMessage};
use crate::live::machine::{Env, Input};

impl Share {
    pub(super) fn page(&mut self, env: Env, input: Input) {
        match input {
            Input::Tick => self.tick(env),
            Input::VisibilityChanged { hidden } => {
                self.hidden = hidden;
                self.announce(env);
                self.resubscribe(env);
            }
            Input::SetInterest(interest) => {
                self.interest = interest;
                self.announce(env);
                self.resubscribe(env);
            }
            Input::Publish {
                channel,
                event,
                data,
            } => {
                if self.machine.is_some() {
                    self.drive(
                        env,
                        Input::Publish {
                            channel,
                            event,
                            data,
                        },
                    );
                } else {
                    self.post(TabMessage::Publish {
                        tab: self.me,
                        channel,
                        event,
                        data,
                    });
                }
            }
            Input::Pin(pinned) => {
                self.settings.pinned = pinned;
                if self.machine.is_some() {
                    self.drive(env, Input::Pin(pinned));
                } else {
                    self.post(TabMessage::Pin {
                        tab: self.me,
                        pinned,
                    });
                }
            }
            Input::Reconnect => {
                if self.machine.is_some() {
                    self.drive(env, Input::Reconnect);
                } else {
                    self.post(TabMessage::Reconnect { tab: self.me });
                }
            }
            Input::Resync => {
                if self.machine.is_some() {
                    self.drive(env, Input::Resync);
                } else {
                    // This tab dropped events it could not hold: it starts
                    // over from a snapshot of its own channels.
                    self.catch_up = None;
                    self.begin_catch_up(None);
                }
            }
            // Online and offline: the connection's business.
            input => self.drive(env, input),
        }
    }
}
