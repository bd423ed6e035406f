//! What a tab makes of the other tabs' messages: who is there and what
//! they need, who leads, the leader's relays, and what followers ask the
//! leader to do.

use super::{LeaderWord, Peer, Role, Share, TabMessage, MAX_HELD_RELAYS};
use crate::live::machine::{Env, Input};

impl Share {
    pub(super) fn heard(&mut self, env: Env, message: TabMessage) {
        match message {
            TabMessage::Here {
                tab,
                interest,
                hidden,
            } => {
                if tab == self.me {
                    return;
                }
                let new = !self.peers.contains_key(&tab);
                self.peers.insert(
                    tab,
                    Peer {
                        interest,
                        hidden,
                        heard_ms: env.now_ms,
                    },
                );
                self.resubscribe(env);
                if new && self.role == Role::Leader {
                    // Tell the newcomer at once who leads.
                    self.beat_leader(env);
                }
            }
            TabMessage::Bye { tab } => {
                if self.peers.remove(&tab).is_some() {
                    self.resubscribe(env);
                }
                if self.leader.is_some_and(|word| word.tab == tab) {
                    // The lock passes on by itself; wait for the new leader.
                    self.leader = None;
                    self.waiting_since_ms = env.now_ms;
                }
            }
            TabMessage::Leader {
                tab,
                status,
                tabs,
                can_publish,
            } => {
                if tab == self.me || self.role != Role::Follower {
                    // A leader hearing another leader: one of the two lost
                    // the lock and will hear of it.
                    return;
                }
                self.stealing = false;
                self.leader = Some(LeaderWord {
                    tab,
                    status,
                    tabs,
                    can_publish,
                    heard_ms: env.now_ms,
                });
            }
            TabMessage::Relay { tab, delivery } => {
                if let Some(word) = self.leader.as_mut() {
                    if word.tab == tab {
                        word.heard_ms = env.now_ms;
                    }
                }
                if self.role == Role::Solo {
                    return;
                }
                match self.catch_up.as_mut() {
                    Some(catch_up) if catch_up.held.len() < MAX_HELD_RELAYS => {
                        catch_up.held.push(delivery);
                    }
                    Some(_) => {
                        // Too far behind: start over from a snapshot.
                        self.catch_up = None;
                        self.begin_catch_up(None);
                    }
                    // A leader applies only its own connection's
                    // deliveries, but a relay of the leader before it
                    // still counts: its position moves `complete` on.
                    None => self.apply(delivery),
                }
            }
            TabMessage::Publish {
                channel,
                event,
                data,
                ..
            } => {
                if self.machine.is_some() && self.role == Role::Leader {
                    self.drive(
                        env,
                        Input::Publish {
                            channel,
                            event,
                            data,
                        },
                    );
                }
            }
            TabMessage::Pin { pinned, .. } => {
                self.settings.pinned = pinned;
                if self.role == Role::Leader {
                    self.drive(env, Input::Pin(pinned));
                }
            }
            TabMessage::Reconnect { .. } => {
                if self.role == Role::Leader {
                    self.drive(env, Input::Reconnect);
                }
            }
        }
    }
}
