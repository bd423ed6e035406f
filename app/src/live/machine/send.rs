//! What the page says over a WebSocket: the subscriptions a new socket
//! opens with, messages that wait in the [`Outbox`](crate::live::outbox::Outbox)
//! while no socket is open, publishing (which moves an automatic page to a
//! WebSocket) and changes of interest.

use serde_json::Value;

use super::{Effect, Env, Machine};
use crate::{
    live::{interest::Interest, state::Transport, subscription::change_messages},
    protocol::ClientMessage,
};

impl Machine {
    pub(super) fn socket_opened(&mut self) {
        let Some(link) = &mut self.link else {
            return;
        };
        link.socket_open = true;
        let since = link.since;
        for message in self.subscription(since).opening_messages() {
            self.effects.push(Effect::TrySend(message));
        }
        if self.hidden {
            self.effects
                .push(Effect::TrySend(ClientMessage::SetVisibility {
                    hidden: true,
                    request_id: None,
                }));
        }
    }

    /// Sends now if a socket is open and nothing waits before the message;
    /// otherwise queues it.
    pub(super) fn send(&mut self, message: ClientMessage) {
        if self.outbox.is_empty() && self.socket_open() {
            self.effects.push(Effect::Send(message));
        } else {
            self.outbox.push(message);
        }
    }

    /// The page only needs a WebSocket once it sends, so the first publish
    /// moves an automatic client to WebSocket (resuming from its position:
    /// nothing is missed or repeated); until the socket is open the message
    /// waits in the outbox.
    pub(super) fn publish(&mut self, env: Env, channel: String, event: String, data: Value) {
        let upgrade = match self.settings.pinned {
            Some(pinned) if pinned != Transport::Ws => return,
            Some(_) => false,
            None if self.settings.preferred == Transport::Ws => false,
            None => {
                self.settings.preferred = Transport::Ws;
                self.policy = self.policy_for(Transport::Ws);
                true
            }
        };
        self.send(ClientMessage::Publish {
            channel,
            event: Some(event),
            key: None,
            data,
            request_id: None,
        });
        if upgrade {
            self.restart(env);
        }
    }

    /// Over an open WebSocket the connection stays and messages carry the
    /// change; other transports reconnect, resuming from the last
    /// position, with the new channels (and widened filters) starting from
    /// a snapshot.
    pub(super) fn set_interest(&mut self, env: Env, next: Interest) {
        let changes = self.settings.interest.changes_to(&next);
        if changes.is_empty() {
            return;
        }
        self.settings.interest = next;
        // Until their snapshot arrives: should this connection break
        // first, the next one starts them from a snapshot too.
        self.fresh.extend(changes.added.iter().cloned());
        self.fresh.extend(changes.widened.iter().cloned());
        if !self.socket_open() {
            self.restart(env);
            return;
        }
        for message in change_messages(&changes, &self.settings.interest) {
            self.send(message);
        }
    }
}
