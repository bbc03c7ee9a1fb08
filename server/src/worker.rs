//! One worker: a pinned thread that owns an RX/TX queue pair and an engine, and runs to
//! completion: rx burst → `engine.receive` per frame → `engine.poll` → TX flush, with one TSC
//! timestamp per loop. No locks and no allocation in the loop; every ~100 ms it copies its
//! counters into a report for the stats thread (`try_send`, never blocking).

use crate::apps::{AppStats, BuiltinApp};
use crate::port::{Mbuf, RxQueue, TscClock, TxBatch, TxStats, WorkerCtx, BURST};
use crate::redirect::{Redirect, TxRelay};
use crate::stats::{QueueStats, WorkerReport};
use crossbeam_channel::Sender;
use stack::{App, Counters, Engine, EngineConfig, Transmit, TxMeta};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the runtime needs from an app beyond [`stack::App`]: it moves to its worker's thread,
/// and may report request counts for the stats (`rps`).
pub trait ServeApp: App + Send + 'static {
    fn app_stats(&self) -> AppStats {
        AppStats::default()
    }
}

impl ServeApp for BuiltinApp {
    fn app_stats(&self) -> AppStats {
        self.stats()
    }
}

/// How often a worker publishes its counters.
pub const REPORT_INTERVAL: Duration = Duration::from_millis(100);

/// Server-wide phase, set by the main thread, read by workers once per loop.
#[derive(Debug, Default)]
pub struct Phase {
    state: AtomicU8,
    /// Workers still running their loop.
    live: AtomicUsize,
    /// Workers that have closed all their connections since draining began.
    drained: AtomicUsize,
}

/// `state` values: 0 running (the default), 1 draining.
const DRAINING: u8 = 1;

impl Phase {
    pub fn new() -> Arc<Self> {
        Arc::new(Phase::default())
    }
    /// Stop accepting and close every connection gracefully; workers leave once theirs are gone.
    pub fn drain(&self) {
        self.state.store(DRAINING, Ordering::Relaxed);
    }
    pub fn is_draining(&self) -> bool {
        self.state.load(Ordering::Relaxed) == DRAINING
    }
    pub fn live_workers(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }
    fn mark_drained(&self) {
        self.drained.fetch_add(1, Ordering::AcqRel);
    }
    fn drained_workers(&self) -> usize {
        self.drained.load(Ordering::Acquire)
    }
}

/// A worker's transmit side: its own TX queue, or (more workers than queue pairs) a relay
/// ring that the queue's owner sends from.
pub enum WorkerTx {
    Queue(TxBatch),
    Relay(TxRelay),
}

impl WorkerTx {
    #[inline]
    fn flush(&mut self) {
        if let WorkerTx::Queue(t) = self {
            t.flush();
        }
    }
    fn stats(&self) -> TxStats {
        match self {
            WorkerTx::Queue(t) => t.stats(),
            WorkerTx::Relay(r) => r.stats(),
        }
    }
}

impl Transmit for WorkerTx {
    #[inline]
    fn frame<F: FnOnce(&mut [u8])>(&mut self, len: usize, meta: TxMeta, fill: F) -> bool {
        match self {
            WorkerTx::Queue(t) => t.frame(len, meta, fill),
            WorkerTx::Relay(r) => r.frame(len, meta, fill),
        }
    }
}

/// Everything one worker owns.
pub struct WorkerSpec<A> {
    pub id: usize,
    pub engine: EngineConfig,
    pub listen: Vec<u16>,
    pub app: A,
    /// `None` for a worker beyond the port's queue pairs (it receives through `redirect`).
    pub rxq: Option<RxQueue>,
    pub tx: WorkerTx,
    pub clock: TscClock,
    pub reports: Sender<WorkerReport>,
    pub phase: Arc<Phase>,
    /// Software RSS, when the port cannot keep each flow on one queue by itself.
    pub redirect: Option<Redirect>,
}

/// What a worker hands back when it stops.
#[derive(Debug)]
pub struct WorkerOutcome {
    pub id: usize,
    pub counters: Counters,
    pub app: AppStats,
    pub queue: QueueStats,
    /// Connections still open when the worker stopped (the shutdown deadline passed).
    pub left_open: usize,
    pub time_wait: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerFailure {
    #[error("worker {id}: {msg}")]
    Setup { id: usize, msg: String },
}

/// Counts a worker as live for as long as it exists (also when its thread unwinds). Take it on
/// the spawning thread, so the main thread never sees zero live workers before they start.
pub struct LiveToken(Arc<Phase>);

impl LiveToken {
    pub fn new(phase: &Arc<Phase>) -> Self {
        phase.live.fetch_add(1, Ordering::AcqRel);
        LiveToken(phase.clone())
    }
}

impl Drop for LiveToken {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::AcqRel);
    }
}

fn report<A: ServeApp>(id: usize, engine: &Engine<A>, queue: QueueStats) -> WorkerReport {
    WorkerReport {
        worker: id,
        at: std::time::Instant::now(),
        counters: *engine.counters(),
        app: engine.app().app_stats(),
        queue,
        conns: engine.conn_count() as u64,
        time_wait: engine.time_wait_count() as u64,
    }
}

/// The poll loop. Returns when told to stop, or when draining and no connection is left.
pub fn run<A: ServeApp>(
    ctx: &WorkerCtx,
    spec: WorkerSpec<A>,
    live: LiveToken,
) -> Result<WorkerOutcome, WorkerFailure> {
    let _live = live;
    let WorkerSpec {
        id,
        engine: cfg,
        listen,
        app,
        mut rxq,
        mut tx,
        clock,
        reports,
        phase,
        mut redirect,
    } = spec;
    let setup = |msg: String| WorkerFailure::Setup { id, msg };
    let mut engine = Engine::new(cfg, app, clock.now()).map_err(|e| setup(e.to_string()))?;
    for port in listen {
        engine.listen(port).map_err(|e| setup(e.to_string()))?;
    }
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(BURST);
    let mut handed: Vec<Mbuf> = Vec::with_capacity(BURST);
    let mut queue = QueueStats::default();
    let report_every = REPORT_INTERVAL.as_micros() as u64;
    let mut next_report = clock.now().as_micros() + report_every;
    let mut draining = false;
    let mut marked_drained = false;

    while !ctx.should_stop() {
        let now = clock.now();
        let n = match rxq.as_mut() {
            Some(q) => q.rx_burst(&mut bufs),
            None => 0,
        };
        if n > 0 {
            queue.rx_packets += n as u64;
            for m in bufs.drain(..) {
                let m = match redirect.as_mut() {
                    Some(r) => match r.steer(m) {
                        Some(m) => m,
                        None => continue,
                    },
                    None => m,
                };
                engine.receive(now, m.data(), m.rx_meta(), &mut tx);
            }
        }
        if let Some(r) = redirect.as_mut() {
            if r.collect(&mut handed, BURST) > 0 {
                for m in handed.drain(..) {
                    engine.receive(now, m.data(), m.rx_meta(), &mut tx);
                }
            }
            queue.redirected_out = r.stats.out;
            queue.redirected_in = r.stats.inn;
            queue.redirect_dropped = r.stats.dropped;
        }
        engine.poll(now, &mut tx);
        if let (Some(r), WorkerTx::Queue(t)) = (redirect.as_mut(), &mut tx) {
            r.drain_relays(t, 4 * BURST);
        }
        tx.flush();

        if now.as_micros() >= next_report {
            next_report = now.as_micros() + report_every;
            let ts = tx.stats();
            queue.tx_packets = ts.sent;
            queue.tx_dropped = ts.dropped;
            // A full channel means the stats thread is behind; the next report supersedes this.
            let _ = reports.try_send(report(id, &engine, queue));
        }
        if !draining && phase.is_draining() {
            draining = true;
            engine.close_all(now, &mut tx);
            tx.flush();
        }
        if draining && engine.conn_count() == 0 {
            // With software RSS the others depend on this worker to receive (and maybe send)
            // for them: leave only once every worker has closed its connections.
            match redirect.as_ref() {
                None => break,
                Some(r) => {
                    if !marked_drained {
                        marked_drained = true;
                        phase.mark_drained();
                    }
                    if phase.drained_workers() >= r.workers() {
                        break;
                    }
                }
            }
        }
    }
    tx.flush();
    let ts = tx.stats();
    queue.tx_packets = ts.sent;
    queue.tx_dropped = ts.dropped;
    let _ = reports.try_send(report(id, &engine, queue));
    Ok(WorkerOutcome {
        id,
        counters: *engine.counters(),
        app: engine.app().app_stats(),
        queue,
        left_open: engine.conn_count(),
        time_wait: engine.time_wait_count(),
    })
}
