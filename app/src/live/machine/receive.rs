//! What the machine makes of what arrives: every event once and in order
//! ([`ResumePoint`](crate::live::resume::ResumePoint)), snapshots and
//! resets as [`Delivery::Snapshot`]s that move the client to their
//! position, and any word from the server as a sign of life.

use serde_json::Value;

use super::{Effect, Env, Machine};
use crate::{
    live::frame::Delivery,
    protocol::{Envelope, ServerMessage, Snapshot, RESET_EVENT, SNAPSHOT_EVENT},
};

impl Machine {
    pub(super) fn message(&mut self, env: Env, message: ServerMessage) {
        match message {
            ServerMessage::Event(envelope) => self.receive(env, envelope),
            ServerMessage::Snapshot(snapshot) | ServerMessage::Reset(snapshot) => {
                self.heard(env);
                self.apply_snapshot(snapshot.envelope);
            }
            ServerMessage::Subscribed { .. } => {
                self.opened(env);
                self.heard(env);
            }
            ServerMessage::Error { code, message, .. } => self.effects.push(Effect::Warn(format!(
                "livedash: the server refused a message: {code}: {message}"
            ))),
            // Replies and heartbeats: the server is there.
            _ => self.heard(env),
        }
    }

    /// An event, snapshot or reset envelope.
    pub(super) fn receive(&mut self, env: Env, envelope: Envelope<Value>) {
        self.heard(env);
        if envelope.event == SNAPSHOT_EVENT || envelope.event == RESET_EVENT {
            let Envelope {
                id,
                channel,
                event,
                key,
                ts,
                data,
            } = envelope;
            match serde_json::from_value::<Snapshot>(data) {
                Ok(data) => self.apply_snapshot(Envelope {
                    id,
                    channel,
                    event,
                    key,
                    ts,
                    data,
                }),
                Err(error) => self.effects.push(Effect::Warn(format!(
                    "livedash: ignoring a malformed snapshot: {error}"
                ))),
            }
        } else if self.resume.accept(envelope.id) {
            self.effects
                .push(Effect::Deliver(Delivery::Event(envelope)));
        }
    }

    /// A snapshot replaces what the page holds of its channels and moves
    /// the client to the position it was taken at.
    pub(super) fn apply_snapshot(&mut self, envelope: Envelope<Snapshot>) {
        self.resume.reset_to(envelope.id);
        let delivery = Delivery::snapshot(&envelope.channel, envelope.id, envelope.data);
        if let Delivery::Snapshot { channels, .. } = &delivery {
            for channel in channels {
                self.fresh.remove(channel);
            }
        }
        self.effects.push(Effect::Deliver(delivery));
    }
}
