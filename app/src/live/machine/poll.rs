//! Polling, one request at a time: the first asks for an immediate
//! answer, the next ones may wait on the server up to the heartbeat
//! interval; a hidden page pauses [`HIDDEN_POLL_DELAY_MS`] between polls,
//! and while the [`CircuitBreaker`](crate::live::breaker::CircuitBreaker)
//! is open requests wait for its cool-down.

use super::{Effect, Env, Machine, TimerKind};
use crate::{live::state::Transport, protocol::PollReply};

/// How long a hidden page waits between polls.
pub const HIDDEN_POLL_DELAY_MS: u64 = 2_000;
/// The shortest wait before asking a circuit breaker again.
const BREAKER_RECHECK_MS: u64 = 100;

impl Machine {
    /// Makes the next poll request of a polling connection, unless the
    /// circuit breaker holds it back.
    pub(super) fn poll(&mut self, env: Env) {
        let Some(link) = &self.link else {
            return;
        };
        if link.transport != Transport::Poll {
            return;
        }
        if self.breaker.allow(env.now_ms) {
            let timeout_s = if link.answered {
                (self.settings.heartbeat_ms as f64 / 1000.0).clamp(0.5, 25.0)
            } else {
                0.0
            };
            self.effects.push(Effect::Poll {
                generation: self.generation,
                request: self.subscription(self.resume.last()),
                timeout_s,
            });
        } else {
            let wait = self.breaker.wait_ms(env.now_ms).max(BREAKER_RECHECK_MS);
            self.poll_timer = Some(self.schedule(TimerKind::Poll, wait));
        }
    }

    pub(super) fn poll_answered(&mut self, env: Env, reply: PollReply) {
        let Some(link) = &mut self.link else {
            return;
        };
        let first = !std::mem::replace(&mut link.answered, true);
        if first {
            self.opened(env);
        }
        self.heard(env);
        for envelope in reply.events {
            self.receive(env, envelope);
        }
        // Polls continue from where the server says, even when nothing of
        // ours arrived (other channels moved the log on).
        if self
            .resume
            .last()
            .is_some_and(|last| reply.next.is_after(&last))
        {
            self.resume.reset_to(reply.next);
        }
        if self.hidden {
            self.poll_timer = Some(self.schedule(TimerKind::Poll, HIDDEN_POLL_DELAY_MS));
        } else {
            self.poll(env);
        }
    }
}
