//! Messages waiting for a WebSocket to carry them.
//!
//! A page may send (publish an annotation, change what it subscribes to)
//! while no socket is open: it is on SSE and switching, reconnecting, or
//! offline. The messages wait here, in order, and go out when a socket is
//! open. The outbox is bounded: when it is full the oldest message gives
//! way to the newest, since a page that has been cut off that long cares
//! more about what it did last.

use std::collections::VecDeque;

use crate::protocol::ClientMessage;

/// Most messages held.
pub const OUTBOX_LIMIT: usize = 256;

/// The bounded queue of unsent messages.
#[derive(Clone, Debug, Default)]
pub struct Outbox {
    messages: VecDeque<ClientMessage>,
}

impl Outbox {
    /// Queues a message, dropping the oldest one when full.
    pub fn push(&mut self, message: ClientMessage) {
        if self.messages.len() >= OUTBOX_LIMIT {
            self.messages.pop_front();
        }
        self.messages.push_back(message);
    }

    /// Takes every message, oldest first.
    pub fn take_all(&mut self) -> Vec<ClientMessage> {
        self.messages.drain(..).collect()
    }

    /// How many messages wait.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping(n: u64) -> ClientMessage {
        ClientMessage::Ping {
            request_id: Some(n.into()),
        }
    }

    #[test]
    fn a_full_outbox_drops_the_oldest_and_keeps_the_order() {
        let mut outbox = Outbox::default();
        for n in 0..OUTBOX_LIMIT as u64 + 2 {
            outbox.push(ping(n));
        }
        assert_eq!(outbox.len(), OUTBOX_LIMIT);
        let messages = outbox.take_all();
        assert_eq!(messages.first(), Some(&ping(2)));
        assert_eq!(messages.last(), Some(&ping(OUTBOX_LIMIT as u64 + 1)));
        assert!(outbox.is_empty());
    }
}
