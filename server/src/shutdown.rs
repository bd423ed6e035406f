//! Shutdown as a value: every long-running task holds a [`Shutdown`] and
//! stops when it fires. The server's owner holds the one [`ShutdownTrigger`].

use tokio::sync::watch;

/// Fires shutdown for every [`Shutdown`] made from it.
#[derive(Debug)]
pub struct ShutdownTrigger {
    sender: watch::Sender<bool>,
}

/// A task's view of shutdown: cheap to clone, waits until shutdown fires.
#[derive(Clone, Debug)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

/// A trigger and the first listener of a new shutdown signal.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (sender, receiver) = watch::channel(false);
    (ShutdownTrigger { sender }, Shutdown { receiver })
}

impl ShutdownTrigger {
    /// Starts shutting down. Idempotent.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }
}

impl Shutdown {
    /// True once shutdown has fired.
    pub fn is_triggered(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Completes when shutdown fires (at once if it already has, or if the
    /// trigger was dropped, which can only happen when the server is gone).
    pub async fn wait(mut self) {
        let _ = self.receiver.wait_for(|fired| *fired).await;
    }
}
