//! What the machine makes of what arrives: every event once and in order
//! ([`ResumePoint`](crate::live::resume::ResumePoint)), snapshots and
//! resets as [`Delivery::Snapshot`]s that move the client to their
//! position, and any word from the server as a sign of life.

use serde_json::Value;

use super::{Effect, Env, Machine};
use crate::{
    live::frame::Delivery,
    protocol::{Envelope, ServerMessage},
};

impl Machine {
    pub(super) fn message(&mut self, env: Env, message: ServerMessage) {
        match message {
            ServerMessage::Event(envelope) => self.receive(env, envelope),
            ServerMessage::Snapshot(snapshot) | ServerMessage::Reset(snapshot) => {
                self.heard(env);
                let envelope = snapshot.envelope;
                self.apply_snapshot(Delivery::snapshot(
                    &envelope.channel,
                    envelope.id,
                    envelope.data,
                ));
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
        match Delivery::from_envelope(envelope) {
            Ok(Delivery::Event(envelope)) => {
                if self.resume.accept(envelope.id) {
                    self.effects
                        .push(Effect::Deliver(Delivery::Event(envelope)));
                }
            }
            Ok(snapshot) => self.apply_snapshot(snapshot),
            Err(warning) => self.effects.push(Effect::Warn(warning)),
        }
    }

    /// A snapshot replaces what the page holds of its channels and moves
    /// the client to the position it was taken at.
    pub(super) fn apply_snapshot(&mut self, delivery: Delivery) {
        self.resume.reset_to(delivery.position());
        if let Delivery::Snapshot { channels, .. } = &delivery {
            for channel in channels {
                self.fresh.remove(channel);
            }
        }
        self.effects.push(Effect::Deliver(delivery));
    }
}
