//! One run, from the first connection to the report.
//!
//! 1. Sample the server's memory (with --server-pid).
//! 2. Open every subscriber (at most --connect-concurrency at once) and wait
//!    until each is established or has failed; sample the memory again.
//! 3. Idle run: hold, then tell the subscribers to stop.
//!    Otherwise: start the publishers; when all are done, tell the
//!    subscribers what was acknowledged (`Phase::Drain`) and wait until each
//!    has everything or the drain deadline passed.
//! 4. Sum up every task's own report.
//!
//! The run owns every task: subscribers and publishers live in `JoinSet`s
//! that are joined before the report is made (and aborted if the run is
//! dropped), and they all listen to the one `Phase` watch. Ctrl-C moves the
//! run to `Phase::Stop` at once: each task ends after what it is doing and
//! the report is partial.

use std::sync::Arc;

use tokio::{
    sync::{mpsc, watch, Semaphore},
    task::{JoinError, JoinSet},
    time::Instant,
};

use crate::{
    config::{Config, Transport},
    http::Target,
    limits, poll,
    probe::now_ns,
    publisher::{self, Assignment, PublisherReport, PublisherSettings},
    report::{Memory, Outcome, Report, Setup},
    rss, sse,
    subscriber::{Drain, Phase, Shared, Subscriber, SubscriberReport},
    ws,
};

/// Ctrl-C, as a value the run can wait on at any step without missing it.
struct Interrupt {
    receiver: watch::Receiver<bool>,
    listener: tokio::task::JoinHandle<()>,
}

impl Interrupt {
    fn listen() -> Self {
        let (sender, receiver) = watch::channel(false);
        let listener = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                sender.send_replace(true);
            }
            // Without a handler (or after the signal) nothing more comes:
            // keep the sender so waiters are not woken by its drop.
            std::future::pending::<()>().await;
        });
        Self { receiver, listener }
    }

    fn happened(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Completes when Ctrl-C is pressed (at once if it was).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only waits on a watch.
    async fn wait(&mut self) {
        let _ = self.receiver.wait_for(|pressed| *pressed).await;
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Runs the load described by `config`; `Err` only when the run cannot
/// start.
pub async fn run(config: &Config) -> Result<Report, String> {
    let target = Target::resolve(&config.url)
        .await
        .map_err(|e| format!("cannot reach {}: {e}", config.url))?;
    let needed = (config.subscribers + config.publishers) as u64 + limits::SPARE_FILES;
    if let Some(limit) = limits::open_files_soft_limit().filter(|l| *l < needed) {
        eprintln!(
            "livedash-load: warning: the open-files limit is {limit}, this run needs about {needed}: run `ulimit -n 65536` first (in the server's shell too)"
        );
    }
    let mut interrupt = Interrupt::listen();
    let (phase, phase_receiver) = watch::channel(Phase::Run);
    let run = (now_ns() / 1_000) ^ u64::from(std::process::id());
    let rss_before = config.server_pid.map(rss::vm_rss_kib);

    // Step 2: every subscriber, each reporting once on `connected`.
    let shared = Arc::new(Shared {
        target: target.clone(),
        channel: config.channel.clone(),
        run,
        publishers: if config.idle { 0 } else { config.publishers },
        connect_timeout: config.connect_timeout,
        poll_timeout: config.poll_timeout,
        connect_gate: Arc::new(Semaphore::new(config.connect_concurrency as usize)),
    });
    let (connected, mut answers) = mpsc::channel(config.subscribers.max(1));
    let mut subscribers = JoinSet::new();
    let connect_started = Instant::now();
    eprintln!(
        "livedash-load: connecting {} subscribers to {}",
        config.subscribers, config.url
    );
    for _ in 0..config.subscribers {
        let subscriber = Subscriber::new(shared.clone(), phase_receiver.clone(), connected.clone());
        match config.transport {
            Transport::Sse => subscribers.spawn(sse::run(subscriber)),
            Transport::Ws => subscribers.spawn(ws::run(subscriber)),
            Transport::Poll => subscribers.spawn(poll::run(subscriber)),
        };
    }
    drop(connected);
    let mut answered = 0;
    let mut established = 0;
    while answered < config.subscribers {
        tokio::select! {
            answer = answers.recv() => match answer {
                Some(answer) => {
                    answered += 1;
                    established += usize::from(answer.is_ok());
                }
                // Every subscriber has ended.
                None => break,
            },
            () = interrupt.wait() => break,
        }
    }
    let connect_seconds = connect_started.elapsed().as_secs_f64();
    eprintln!(
        "livedash-load: {established} of {} established in {connect_seconds:.2} s",
        config.subscribers
    );
    let server_rss = config.server_pid.map(|pid| {
        let before = rss_before
            .expect("sampled before connecting when there is a pid")
            .map_err(|e| format!("cannot read the memory of process {pid}: {e}"))?;
        let after = rss::vm_rss_kib(pid)
            .map_err(|e| format!("cannot read the memory of process {pid}: {e}"))?;
        Ok(Memory {
            before_kib: before,
            established_kib: after,
            per_connection_kib: (after as f64 - before as f64) / established.max(1) as f64,
        })
    });

    // Step 3.
    let mut publishers = Vec::new();
    let mut publish_started = None;
    if config.idle {
        if !interrupt.happened() {
            tokio::select! {
                () = tokio::time::sleep(config.hold) => {}
                () = interrupt.wait() => {}
            }
        }
        phase.send_replace(Phase::Stop);
    } else if !interrupt.happened() {
        let started = Instant::now();
        publish_started = Some(started);
        publishers = publish(config, target, run, started, &phase, &mut interrupt).await;
        if interrupt.happened() {
            phase.send_replace(Phase::Stop);
        } else {
            eprintln!(
                "livedash-load: publishing done; waiting for subscribers to receive the rest"
            );
            phase.send_replace(Phase::Drain(Arc::new(Drain {
                published: publishers.iter().map(|p| p.published).collect(),
                deadline: Instant::now() + config.drain_timeout,
            })));
        }
    } else {
        phase.send_replace(Phase::Stop);
    }
    let subscribers = join_all(subscribers, &phase, &mut interrupt, |error| {
        SubscriberReport {
            error: Some(format!("the subscriber task failed: {error}")),
            ..SubscriberReport::default()
        }
    })
    .await;

    Ok(Report::new(
        Setup::of(config),
        Outcome {
            interrupted: interrupt.happened(),
            connect_seconds,
            subscribers,
            publishers,
            publish_started,
            server_rss,
        },
    ))
}

/// Runs the publishers to the end of their assignments (or Ctrl-C).
async fn publish(
    config: &Config,
    target: Target,
    run: u64,
    started: Instant,
    phase: &watch::Sender<Phase>,
    interrupt: &mut Interrupt,
) -> Vec<PublisherReport> {
    let settings = Arc::new(PublisherSettings {
        target,
        channel: config.channel.clone(),
        run,
        batch: usize::from(config.batch),
        pad: "x".repeat(config.payload_bytes),
        request_timeout: config.request_timeout,
        connect_timeout: config.connect_timeout,
    });
    let count = config.publishers;
    let until = config.publish_for().map(|duration| started + duration);
    eprintln!(
        "livedash-load: {count} publishers publishing{}{}",
        config
            .events
            .map_or(String::new(), |events| format!(" {events} events")),
        config.publish_for().map_or(String::new(), |d| format!(
            " for {}",
            humantime::format_duration(d)
        ))
    );
    let mut tasks = JoinSet::new();
    let mut order = Vec::with_capacity(count);
    for index in 0..count {
        let share =
            |total: u64| total / count as u64 + u64::from((index as u64) < total % count as u64);
        let assignment = Assignment {
            index,
            rate: (config.rate > 0.0).then(|| config.rate / count as f64),
            events: config.events.map(share),
            until,
        };
        let handle = tasks.spawn(publisher::run(
            settings.clone(),
            assignment,
            phase.subscribe(),
        ));
        order.push(handle.id());
    }
    // Reports come back in completion order; the subscribers need them by
    // publisher index.
    let mut reports = vec![PublisherReport::default(); count];
    let mut pending = count;
    while pending > 0 {
        tokio::select! {
            joined = tasks.join_next_with_id() => {
                let Some(joined) = joined else { break };
                pending -= 1;
                let (id, report) = match joined {
                    Ok((id, report)) => (id, report),
                    Err(error) => (error.id(), PublisherReport {
                        error: Some(format!("the publisher task failed: {error}")),
                        gave_up: true,
                        ..PublisherReport::default()
                    }),
                };
                if let Some(index) = order.iter().position(|o| *o == id) {
                    reports[index] = report;
                }
            }
            () = interrupt.wait(), if !interrupt.happened() => {
                // Publishers end after the request in flight.
                phase.send_replace(Phase::Stop);
            }
        }
    }
    reports
}

/// Joins every task of `set`; Ctrl-C on the way stops the run.
async fn join_all<T: 'static>(
    mut set: JoinSet<T>,
    phase: &watch::Sender<Phase>,
    interrupt: &mut Interrupt,
    failed: impl Fn(JoinError) -> T,
) -> Vec<T> {
    let mut results = Vec::with_capacity(set.len());
    loop {
        tokio::select! {
            joined = set.join_next() => match joined {
                Some(Ok(result)) => results.push(result),
                Some(Err(error)) => results.push(failed(error)),
                None => return results,
            },
            () = interrupt.wait(), if !interrupt.happened() => {
                phase.send_replace(Phase::Stop);
            }
        }
    }
}
