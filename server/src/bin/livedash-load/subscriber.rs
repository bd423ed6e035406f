//! What every subscriber does, whatever its transport: it connects under a
//! shared limit on connections being opened at once, says when it is
//! established, checks each delivery (exactly-once, see `verify`) and
//! records its latency, and knows when to stop.
//!
//! The run tells its subscribers where it is through one [`Phase`] watch:
//! `Run` while events are published; `Drain` once the publishers are done,
//! with what each had acknowledged and a deadline (a subscriber stops as
//! soon as it has everything it is owed, or at the deadline); `Stop` to end
//! at once (Ctrl-C, or the end of an idle run). The transports (`sse`, `ws`,
//! `poll`) each own one connection and loop until [`Subscriber::is_finished`].

use std::{sync::Arc, time::Duration};

use app::protocol::{Envelope, Position};
use tokio::{
    sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore},
    time::Instant,
};

use crate::{
    histogram::Histogram,
    http::Target,
    probe::{elapsed_us, Probe},
    verify::{Published, Tally, Verifier},
};

/// Where the run is.
#[derive(Debug, Clone)]
pub enum Phase {
    /// Publishers are running.
    Run,
    /// Publishing is over: receive what is owed until the deadline.
    Drain(Arc<Drain>),
    /// End now.
    Stop,
}

/// The end of publishing, as subscribers are told.
#[derive(Debug)]
pub struct Drain {
    /// What each publisher had acknowledged, by publisher index.
    pub published: Vec<Published>,
    /// The latest a subscriber waits for what it is owed.
    pub deadline: Instant,
}

/// What all subscribers share.
#[derive(Debug)]
pub struct Shared {
    /// The server.
    pub target: Target,
    /// The channel subscribed to.
    pub channel: String,
    /// This run's id (see `probe`).
    pub run: u64,
    /// How many publishers the run has.
    pub publishers: usize,
    /// The longest connecting and getting the first answer may take.
    pub connect_timeout: Duration,
    /// How long a long poll waits for events.
    pub poll_timeout: Duration,
    /// Limits the connections being opened at once, so a burst of ten
    /// thousand does not overflow the server's accept queue.
    pub connect_gate: Arc<Semaphore>,
}

/// A subscriber's word to the run that it is established (or never will be).
pub type Connected = Result<(), String>;

/// One subscriber's results.
#[derive(Debug, Clone, Default)]
pub struct SubscriberReport {
    /// It got its first answer.
    pub established: bool,
    /// Why it could not connect.
    pub connect_error: Option<String>,
    /// Errors after it was established (at most one per subscriber: it stops).
    pub error: Option<String>,
    /// The exactly-once check, finished if the run drained.
    pub tally: Tally,
    /// Publish-to-receive latency of each of this run's events, microseconds.
    pub latency: Histogram,
    /// When the last of this run's events arrived.
    pub last_receive: Option<Instant>,
}

/// A subscriber's state, whatever its transport.
#[derive(Debug)]
pub struct Subscriber {
    /// Shared settings.
    pub shared: Arc<Shared>,
    phase: watch::Receiver<Phase>,
    /// Taken when the subscriber reports it is established or failed.
    connected: Option<mpsc::Sender<Connected>>,
    permit: Option<OwnedSemaphorePermit>,
    verifier: Verifier,
    report: SubscriberReport,
}

impl Subscriber {
    /// A subscriber that reports its connection on `connected`.
    pub fn new(
        shared: Arc<Shared>,
        phase: watch::Receiver<Phase>,
        connected: mpsc::Sender<Connected>,
    ) -> Self {
        let verifier = Verifier::new(shared.publishers);
        Self {
            shared,
            phase,
            connected: Some(connected),
            permit: None,
            verifier,
            report: SubscriberReport::default(),
        }
    }

    /// Waits for a turn to connect; false if the run stopped first.
    pub async fn wait_turn(&mut self) -> bool {
        let gate = self.shared.connect_gate.clone();
        loop {
            if self.is_finished() {
                return false;
            }
            tokio::select! {
                // Cancel-safe: a permit not taken is not lost (only the
                // place in the queue is, and the loop asks again).
                permit = gate.clone().acquire_owned() => {
                    // The gate is never closed.
                    self.permit = permit.ok();
                    return true;
                }
                () = self.phase_moved() => {}
            }
        }
    }

    /// The connection is established: the next subscriber may connect.
    pub fn established(&mut self) {
        self.permit = None;
        self.report.established = true;
        if let Some(connected) = self.connected.take() {
            // The run holds the receiver until every subscriber answered,
            // and its capacity is one message per subscriber.
            let _ = connected.try_send(Ok(()));
        }
    }

    /// The connection could not be established.
    pub fn connect_failed(&mut self, error: impl ToString) {
        self.permit = None;
        let error = error.to_string();
        if let Some(connected) = self.connected.take() {
            let _ = connected.try_send(Err(error.clone()));
        }
        self.report.connect_error = Some(error);
    }

    /// The established connection failed or ended early.
    pub fn failed(&mut self, error: impl ToString) {
        if !self.is_finished() {
            self.report.error.get_or_insert_with(|| error.to_string());
        }
    }

    /// A `snapshot` at `head`.
    pub fn on_snapshot(&mut self, head: Position) {
        self.verifier.snapshot(head);
    }

    /// A `reset` at `head`.
    pub fn on_reset(&mut self, head: Position) {
        self.verifier.reset(head);
    }

    /// An event that carries a probe.
    pub fn on_event(&mut self, envelope: &Envelope<Probe>) {
        let probe = envelope.data;
        if probe.run != self.shared.run {
            return self.verifier.foreign(envelope.id);
        }
        self.verifier.event(envelope.id, probe.publisher, probe.seq);
        self.report.latency.record(elapsed_us(probe.sent_ns));
        self.report.last_receive = Some(Instant::now());
    }

    /// An event on the channel that carries no probe.
    pub fn on_foreign(&mut self, position: Position) {
        self.verifier.foreign(position);
    }

    /// True when the subscriber should end: the run stopped, or it drains
    /// and either has everything or ran out of time.
    pub fn is_finished(&self) -> bool {
        match &*self.phase.borrow() {
            Phase::Run => false,
            Phase::Stop => true,
            Phase::Drain(drain) => {
                Instant::now() >= drain.deadline || self.verifier.has_all(&drain.published)
            }
        }
    }

    /// Completes when the phase changes or the drain deadline passes; check
    /// [`Subscriber::is_finished`] after it.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only waits (`watch::Receiver::changed` and a sleep).
    pub async fn phase_moved(&mut self) {
        let deadline = match &*self.phase.borrow() {
            Phase::Drain(drain) => Some(drain.deadline),
            _ => None,
        };
        let deadline = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = self.phase.changed() => {
                if changed.is_err() {
                    // The run is gone: nothing will move again.
                    std::future::pending::<()>().await;
                }
            }
            () = deadline => {}
        }
    }

    /// The subscriber's results. The exactly-once check counts what is still
    /// owed as lost only if the run drained while the subscriber's
    /// connection was sound: a run stopped early, a connection that failed or
    /// never opened make an incomplete run, not a loss.
    pub fn into_report(mut self) -> SubscriberReport {
        if self.connected.is_some() {
            self.connect_failed("stopped before the connection was established");
        }
        let sound = self.report.established && self.report.error.is_none();
        self.report.tally = match &*self.phase.borrow() {
            Phase::Drain(drain) if sound => self.verifier.finish(&drain.published),
            _ => self.verifier.tally(),
        };
        self.report
    }
}
