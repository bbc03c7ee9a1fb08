//! `tcpterm serve`: brings up EAL and the port, starts one pinned worker per core, the stats
//! thread and the control socket, and shuts down gracefully on SIGINT/SIGTERM.
//!
//! [`run`] serves any [`ServeApp`]; [`run_builtin`] serves the built-in apps by port. A user's
//! binary calls [`run`] with its own app (see `examples/hello_app.rs`).

use crate::apps::BuiltinApp;
use crate::cli::ServeConfig;
use crate::control::{self, ControlServer};
use crate::port::{Mempool, Port, RssStatus, Workers};
use crate::redirect::{self, Redirect, Rings, Steering, TxRelay};
use crate::runtime::{self, Device, DeviceRequest, PortPlan, RuntimeError, Signals};
use crate::stats::{self, Hub, PortStats, WorkerReport};
use crate::worker::{
    self, LiveToken, Phase, ServeApp, WorkerFailure, WorkerOutcome, WorkerSpec, WorkerTx,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why `serve` could not run, in one line with what to do.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{0}")]
    Control(#[from] control::ControlError),
    #[error("{0}")]
    Worker(String),
}

/// Serves the built-in apps on the ports given by `--listen`.
pub fn run_builtin(cfg: ServeConfig) -> Result<(), ServeError> {
    let listeners = cfg.listeners.clone();
    let http = cfg.http.clone();
    let ports: Vec<u16> = listeners.ports().collect();
    run(cfg, ports, move |_| {
        BuiltinApp::new(listeners.clone(), &http)
    })
}

/// The port, opened, and how its workers share it.
struct Opened {
    dev: Device,
    pool: Mempool,
    port: Port,
    /// Queue pairs; workers from this index on own none.
    queues: usize,
    /// Software RSS (see `redirect`), when the device cannot keep each flow on one queue.
    steering: Option<(Arc<Steering>, Arc<Rings>)>,
}

fn open(cfg: &ServeConfig) -> Result<Opened, ServeError> {
    let dev = Device::bring_up(&DeviceRequest {
        eal_args: &cfg.eal_args,
        port: cfg.port.as_deref(),
        cores: cfg.cores.as_deref(),
        vdev_hint: "net_tap0",
    })?;
    let workers = dev.workers();
    // Workers beyond the device's queue pairs own none: they receive and transmit through
    // their queue owner (see `redirect`).
    let queues = workers.min(dev.queue_pairs());
    let may_steer = workers > 1 && (queues < workers || dev.info.flow_type_rss_offloads == 0);
    let (pool, port) = dev.open(&PortPlan {
        pool_name: "tcpterm",
        queues,
        rx_desc: cfg.rx_desc,
        tx_desc: cfg.tx_desc,
        mtu: cfg.engine.mtu,
        ring_frames: if may_steer {
            Rings::capacity_frames(workers, queues, redirect::RING_SIZE)
        } else {
            0
        },
    })?;
    // Without symmetric RSS the device may deliver a flow's frames to any queue (af_packet's
    // fanout rolls over when a socket is full; others do not hash at all): the workers then
    // steer frames to their owners in software (see `redirect`).
    let steering = (workers > 1
        && (queues < workers || !matches!(port.rss(), RssStatus::Symmetric { .. })))
    .then(|| {
        let rings = Rings::new(workers, queues, redirect::RING_SIZE);
        (Arc::new(Steering::new(workers)), rings)
    });
    Ok(Opened {
        dev,
        pool,
        port,
        queues,
        steering,
    })
}

fn announce(cfg: &ServeConfig, o: &Opened) {
    let workers = o.dev.workers();
    let link = o.port.wait_link_up(Duration::from_secs(3));
    eprintln!(
        "tcpterm: {} on port {} ({}, {}, link {}), {} worker(s) on core(s) {:?}{}, listening on {}",
        ip_text(cfg),
        o.dev.info.name,
        o.dev.info.driver,
        o.port.mac(),
        if link.up {
            format!("up {} Mb/s", link.speed_mbps)
        } else {
            "down".into()
        },
        workers,
        o.dev.cores,
        match (o.steering.is_some(), o.queues < workers) {
            (true, true) => format!(
                " (software RSS: {} queue pair(s); workers {}.. relay through them)",
                o.queues, o.queues
            ),
            (true, false) => " (software RSS: no symmetric RSS on this port)".to_string(),
            _ => String::new(),
        },
        cfg.listeners
            .0
            .iter()
            .map(|(p, a)| format!("{p}={a}"))
            .collect::<Vec<_>>()
            .join(" "),
    );
}

/// The hub behind a mutex that only the stats and control threads touch.
fn stats_hub(cfg: &ServeConfig, cores: &[usize]) -> Arc<Mutex<Hub>> {
    Arc::new(Mutex::new(Hub::new(
        ip_text(cfg),
        cfg.listeners
            .0
            .iter()
            .map(|(p, a)| (*p, a.to_string()))
            .collect(),
        &cores.iter().map(|&c| Some(c)).collect::<Vec<_>>(),
    )))
}

fn control_server(cfg: &ServeConfig, hub: &Arc<Mutex<Hub>>) -> Result<ControlServer, ServeError> {
    let hub = hub.clone();
    Ok(ControlServer::start(
        &cfg.control_socket,
        Box::new(move |req| match req {
            "snapshot" => {
                let snap = lock(&hub).snapshot(Instant::now());
                serde_json::to_string(&snap)
                    .unwrap_or_else(|e| control::unknown_request(&e.to_string()))
            }
            other => control::unknown_request(other),
        }),
    )?)
}

fn lock(hub: &Mutex<Hub>) -> std::sync::MutexGuard<'_, Hub> {
    hub.lock().unwrap_or_else(|e| e.into_inner())
}

type Outcome = Result<WorkerOutcome, WorkerFailure>;

/// One pinned worker per core, each with its queue pair or, past the last queue, a relay.
fn spawn_workers<A: ServeApp>(
    o: &Opened,
    cfg: &ServeConfig,
    listen: &[u16],
    make_app: impl Fn(usize) -> A,
    reports: &crossbeam_channel::Sender<WorkerReport>,
    phase: &Arc<Phase>,
) -> Result<Workers<Outcome>, ServeError> {
    let mut engine = cfg.engine.clone();
    engine.mac = o.port.mac();
    engine.checksums = o.port.checksum_caps();
    let clock = crate::port::TscClock::new(&o.dev.eal);
    let mut pool_workers = Workers::new(&o.dev.eal);
    for (id, &core) in o.dev.cores.iter().enumerate() {
        let (rxq, tx) = match &o.steering {
            Some((_, r)) if id >= o.queues => (
                None,
                WorkerTx::Relay(TxRelay::new(id, r.clone(), o.pool.clone())),
            ),
            _ => {
                let (rxq, tx) = runtime::queue_pair(&o.port, &o.pool, id as u16)
                    .map_err(|e| o.dev.port_error(e))?;
                (Some(rxq), WorkerTx::Queue(tx))
            }
        };
        let spec = WorkerSpec {
            id,
            engine: engine.clone(),
            listen: listen.to_vec(),
            app: make_app(id),
            rxq,
            tx,
            clock,
            reports: reports.clone(),
            phase: phase.clone(),
            redirect: o
                .steering
                .as_ref()
                .map(|(s, r)| Redirect::new(id, s.clone(), r.clone(), o.pool.clone())),
        };
        let live = LiveToken::new(phase);
        pool_workers
            .spawn(core, move |ctx| worker::run(ctx, spec, live))
            .map_err(|e| ServeError::Worker(e.to_string()))?;
    }
    Ok(pool_workers)
}

/// Waits for a signal or a failed worker; then drains within the shutdown deadline.
fn wait_for_stop(
    cfg: &ServeConfig,
    signals: &Signals,
    workers: &Workers<Outcome>,
    phase: &Phase,
    hub: &Mutex<Hub>,
) {
    let stop = workers.stop_flag();
    let mut deadline: Option<Instant> = None;
    loop {
        std::thread::sleep(Duration::from_millis(20));
        if stop.is_set() || phase.live_workers() == 0 {
            break;
        }
        if signals.received() && deadline.is_none() {
            eprintln!(
                "tcpterm: shutting down: closing connections (up to {} ms; signal again to quit now)",
                cfg.shutdown_timeout.as_millis()
            );
            lock(hub).set_shutting_down();
            phase.drain();
            deadline = Some(Instant::now() + cfg.shutdown_timeout);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
    }
}

/// Serves `make_app(worker)` on `listen`: one engine and one app instance per worker.
pub fn run<A: ServeApp>(
    cfg: ServeConfig,
    listen: Vec<u16>,
    make_app: impl Fn(usize) -> A,
) -> Result<(), ServeError> {
    let o = open(&cfg)?;
    announce(&cfg, &o);
    let hub = stats_hub(&cfg, &o.dev.cores);
    let (report_tx, report_rx) = crossbeam_channel::bounded::<WorkerReport>(o.dev.workers() * 64);
    let control = control_server(&cfg, &hub)?;
    let signals = Signals::install()?;

    let phase = Phase::new();
    let pool_workers = spawn_workers(&o, &cfg, &listen, make_app, &report_tx, &phase)?;
    drop(report_tx);

    let stats_stop = Arc::new(AtomicBool::new(false));
    let stats_thread = {
        let (hub, stop, port) = (hub.clone(), stats_stop.clone(), o.port.clone());
        let interval = cfg.summary_interval;
        let name = o.dev.info.name.clone();
        std::thread::Builder::new()
            .name("tcpterm-stats".into())
            .spawn(move || stats_loop(&hub, &report_rx, &stop, &port, &name, interval))
            .map_err(|e| ServeError::Worker(format!("stats thread: {e}")))?
    };

    wait_for_stop(&cfg, &signals, &pool_workers, &phase, &hub);
    pool_workers.stop();
    let outcomes = pool_workers.join();
    stats_stop.store(true, Ordering::Relaxed);
    let _ = stats_thread.join();
    drop(control);

    let outcomes = outcomes.map_err(|e| ServeError::Worker(e.to_string()))?;
    final_report(&hub, outcomes, &o)
}

/// Prints the final counters. They go into the same hub, so uptime and the last rates carry
/// over.
fn final_report(hub: &Mutex<Hub>, outcomes: Vec<Outcome>, o: &Opened) -> Result<(), ServeError> {
    let mut final_hub = lock(hub);
    let mut left_open = 0;
    for o in outcomes {
        let o = o.map_err(|e| ServeError::Worker(e.to_string()))?;
        left_open += o.left_open;
        final_hub.ingest(WorkerReport {
            worker: o.id,
            at: Instant::now(),
            counters: o.counters,
            app: o.app,
            queue: o.queue,
            conns: o.left_open as u64,
            time_wait: o.time_wait as u64,
        });
    }
    if let Ok(s) = o.port.stats() {
        final_hub.set_port(port_stats(&o.dev.info.name, s));
    }
    print!(
        "{}",
        stats::render::text(&final_hub.snapshot(Instant::now()))
    );
    if left_open > 0 {
        eprintln!("tcpterm: {left_open} connection(s) were still open at the shutdown deadline");
    }
    Ok(())
}

fn ip_text(cfg: &ServeConfig) -> String {
    format!("{}/{}", cfg.engine.ip, cfg.engine.prefix_len)
}

fn port_stats(name: &str, s: crate::port::PortStats) -> PortStats {
    PortStats {
        name: name.into(),
        rx_packets: s.ipackets,
        tx_packets: s.opackets,
        rx_bytes: s.ibytes,
        tx_bytes: s.obytes,
        rx_missed: s.imissed,
        rx_errors: s.ierrors,
        tx_errors: s.oerrors,
        rx_nombuf: s.rx_nombuf,
    }
}

/// The stats thread: folds worker reports into the hub, reads port counters, prints the summary.
fn stats_loop(
    hub: &Mutex<Hub>,
    reports: &crossbeam_channel::Receiver<WorkerReport>,
    stop: &AtomicBool,
    port: &Port,
    port_name: &str,
    summary: Option<Duration>,
) {
    let mut next_summary = Instant::now() + summary.unwrap_or(Duration::ZERO);
    let mut next_port = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        match reports.recv_timeout(Duration::from_millis(50)) {
            Ok(r) => lock(hub).ingest(r),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(50))
            }
        }
        let now = Instant::now();
        if now >= next_port {
            next_port = now + Duration::from_secs(1);
            if let Ok(s) = port.stats() {
                lock(hub).set_port(port_stats(port_name, s));
            }
        }
        if let Some(every) = summary {
            if now >= next_summary {
                next_summary = now + every;
                let snap = lock(hub).snapshot(now);
                eprintln!("{}", crate::summary::line(&snap));
            }
        }
    }
}
