//! `tcpterm serve`: brings up EAL and the port, starts one pinned worker per core, the stats
//! thread and the control socket, and shuts down gracefully on SIGINT/SIGTERM.
//!
//! [`run`] serves any [`ServeApp`]; [`run_builtin`] serves the built-in apps by port. A user's
//! binary calls [`run`] with its own app (see `examples/hello_app.rs`).

use crate::apps::BuiltinApp;
use crate::cli::ServeConfig;
use crate::control::{self, ControlServer};
use crate::port::{
    Eal, Mempool, Port, PortConfig, PortInfo, RssStatus, TscClock, TxBatch, Workers,
};
use crate::redirect::{self, Redirect, Rings, Steering, TxRelay};
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
    #[error("DPDK EAL initialisation failed: {0} (check the EAL arguments after `--`)")]
    Eal(String),
    #[error(
        "no DPDK ports: pass --vdev (e.g. `-- --vdev net_tap0`) or bind a NIC to a DPDK driver"
    )]
    NoPorts,
    #[error("{0} DPDK ports are available ({1}); choose one with --port NAME|ID")]
    ManyPorts(usize, String),
    #[error("no DPDK port {0:?} (available: {1})")]
    NoSuchPort(String, String),
    #[error("--mtu {mtu} is outside what port {name} allows ({min}..={max})")]
    Mtu {
        mtu: u16,
        name: String,
        min: u16,
        max: u16,
    },
    #[error("could not set up port {0}: {1}")]
    Port(String, String),
    #[error("{0}")]
    Control(#[from] control::ControlError),
    #[error("could not install the signal handlers: {0}")]
    Signals(std::io::Error),
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

fn port_list(eal: &Eal, ids: &[u16]) -> String {
    ids.iter()
        .map(|&id| match Port::query(eal, id) {
            Ok(i) => format!("{} ({id})", i.name),
            Err(_) => id.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn pick_port(eal: &Eal, want: Option<&str>) -> Result<PortInfo, ServeError> {
    let ids = Port::ids(eal);
    let id = match want {
        Some(w) => {
            let by_id = w.parse::<u16>().ok().filter(|id| ids.contains(id));
            match by_id.or_else(|| Port::id_by_name(eal, w).ok()) {
                Some(id) => id,
                None => return Err(ServeError::NoSuchPort(w.into(), port_list(eal, &ids))),
            }
        }
        None => match ids.as_slice() {
            [] => return Err(ServeError::NoPorts),
            [id] => *id,
            _ => return Err(ServeError::ManyPorts(ids.len(), port_list(eal, &ids))),
        },
    };
    Port::query(eal, id).map_err(|e| ServeError::Port(id.to_string(), e.to_string()))
}

/// Mbufs for every descriptor of every queue, plus bursts in flight and per-core caches.
/// With software RSS, the rings between workers may hold frames too.
fn pool_size(workers: usize, rx_desc: u16, tx_desc: u16, queues: usize, software_rss: bool) -> u32 {
    let rings = if software_rss {
        Rings::capacity_frames(workers, queues, redirect::RING_SIZE)
    } else {
        0
    };
    let per_queue = rx_desc as usize + tx_desc as usize;
    let per_worker = 4 * crate::port::BURST + 512;
    let n = (queues * per_queue + workers * per_worker + rings).max(8192);
    // Mempools are most memory-efficient at 2^k - 1 elements.
    (n.next_power_of_two() - 1) as u32
}

/// The cores workers run on: `--cores`, or else one core the main thread was not confined to
/// by EAL (the last one this process may use).
fn worker_cores(cfg: &ServeConfig, allowed_before_eal: &[usize]) -> Vec<usize> {
    match &cfg.cores {
        Some(c) => c.clone(),
        None => vec![*allowed_before_eal.last().unwrap_or(&0)],
    }
}

/// Serves `make_app(worker)` on `listen`: one engine and one app instance per worker.
pub fn run<A: ServeApp>(
    cfg: ServeConfig,
    listen: Vec<u16>,
    make_app: impl Fn(usize) -> A,
) -> Result<(), ServeError> {
    let allowed: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let eal = Eal::init(&cfg.eal_args).map_err(|e| ServeError::Eal(e.to_string()))?;
    let info = pick_port(&eal, cfg.port.as_deref())?;
    let cores = worker_cores(&cfg, &allowed);
    let workers = cores.len();
    // Workers beyond the device's queue pairs own none: they receive and transmit through
    // their queue owner (see `redirect`).
    let max_q = info.max_rx_queues.min(info.max_tx_queues).max(1);
    let queues = workers.min(max_q as usize);
    let mtu = cfg.engine.mtu;
    if mtu != 1500 && !(info.min_mtu..=info.max_mtu).contains(&mtu) {
        return Err(ServeError::Mtu {
            mtu,
            name: info.name,
            min: info.min_mtu,
            max: info.max_mtu,
        });
    }
    let port_err = |e: crate::port::PortError| ServeError::Port(info.name.clone(), e.to_string());
    // Frames up to the MTU plus Ethernet header and the mbuf headroom fit in one segment.
    let data_room = (mtu as usize + 14 + 4 + 128).max(Mempool::DEFAULT_DATA_ROOM as usize) as u16;
    let pool = Mempool::with_data_room(
        &eal,
        "tcpterm",
        pool_size(
            workers,
            cfg.rx_desc,
            cfg.tx_desc,
            queues,
            workers > 1 && (queues < workers || info.flow_type_rss_offloads == 0),
        ),
        256,
        data_room,
    )
    .map_err(port_err)?;
    let port = Port::open(
        &eal,
        info.id,
        &PortConfig {
            queues: queues as u16,
            rx_desc: cfg.rx_desc,
            tx_desc: cfg.tx_desc,
            mtu: (mtu != 1500).then_some(mtu),
            ..PortConfig::default()
        },
        &pool,
    )
    .map_err(port_err)?;
    // Without symmetric RSS the device may deliver a flow's frames to any queue (af_packet's
    // fanout rolls over when a socket is full; others do not hash at all): the workers then
    // steer frames to their owners in software (see `redirect`).
    let steering = (workers > 1
        && (queues < workers || !matches!(port.rss(), RssStatus::Symmetric { .. })))
    .then(|| Arc::new(Steering::new(workers)));
    let rings = steering
        .as_ref()
        .map(|_| Rings::new(workers, queues, redirect::RING_SIZE));
    let mut engine_cfg = cfg.engine.clone();
    engine_cfg.mac = port.mac();
    engine_cfg.checksums = port.checksum_caps();
    let link = port.wait_link_up(Duration::from_secs(3));
    eprintln!(
        "tcpterm: {} on port {} ({}, {}, link {}), {} worker(s) on core(s) {:?}{}, listening on {}",
        ip_text(&cfg),
        info.name,
        info.driver,
        engine_cfg.mac,
        if link.up {
            format!("up {} Mb/s", link.speed_mbps)
        } else {
            "down".into()
        },
        workers,
        cores,
        match (steering.is_some(), queues < workers) {
            (true, true) => format!(
                " (software RSS: {queues} queue pair(s); workers {queues}.. relay through them)"
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

    // Stats: the hub behind a mutex that only the stats and control threads touch.
    let hub = Arc::new(Mutex::new(Hub::new(
        ip_text(&cfg),
        cfg.listeners
            .0
            .iter()
            .map(|(p, a)| (*p, a.to_string()))
            .collect(),
        &cores.iter().map(|&c| Some(c)).collect::<Vec<_>>(),
    )));
    let (report_tx, report_rx) = crossbeam_channel::bounded::<WorkerReport>(workers * 64);
    let control = ControlServer::start(&cfg.control_socket, {
        let hub = hub.clone();
        Box::new(move |req| match req {
            "snapshot" => {
                let snap = hub
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .snapshot(Instant::now());
                serde_json::to_string(&snap)
                    .unwrap_or_else(|e| control::unknown_request(&e.to_string()))
            }
            other => control::unknown_request(other),
        })
    })?;

    // First signal: drain gracefully. A second one while draining exits at once (status 1).
    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, signalled.clone())
            .and_then(|_| signal_hook::flag::register(sig, signalled.clone()))
            .map_err(ServeError::Signals)?;
    }

    let phase = Phase::new();
    let clock = TscClock::new(&eal);
    let mut pool_workers: Workers<Result<WorkerOutcome, WorkerFailure>> = Workers::new(&eal);
    for (id, &core) in cores.iter().enumerate() {
        let q = id as u16;
        let (rxq, tx) = match &rings {
            Some(r) if id >= queues => (
                None,
                WorkerTx::Relay(TxRelay::new(id, r.clone(), pool.clone())),
            ),
            _ => (
                Some(port.rx_queue(q).map_err(port_err)?),
                WorkerTx::Queue(TxBatch::new(
                    port.tx_queue(q).map_err(port_err)?,
                    pool.clone(),
                )),
            ),
        };
        let spec = WorkerSpec {
            id,
            engine: engine_cfg.clone(),
            listen: listen.clone(),
            app: make_app(id),
            rxq,
            tx,
            clock,
            reports: report_tx.clone(),
            phase: phase.clone(),
            redirect: steering
                .as_ref()
                .zip(rings.as_ref())
                .map(|(s, r)| Redirect::new(id, s.clone(), r.clone(), pool.clone())),
        };
        let live = LiveToken::new(&phase);
        pool_workers
            .spawn(core, move |ctx| worker::run(ctx, spec, live))
            .map_err(|e| ServeError::Worker(e.to_string()))?;
    }
    drop(report_tx);

    let stats_stop = Arc::new(AtomicBool::new(false));
    let stats_thread = {
        let (hub, stop, port) = (hub.clone(), stats_stop.clone(), port.clone());
        let interval = cfg.summary_interval;
        let name = info.name.clone();
        std::thread::Builder::new()
            .name("tcpterm-stats".into())
            .spawn(move || stats_loop(&hub, &report_rx, &stop, &port, &name, interval))
            .map_err(|e| ServeError::Worker(format!("stats thread: {e}")))?
    };

    // Wait for a signal or a failed worker; then drain within the deadline.
    let stop = pool_workers.stop_flag();
    let mut deadline: Option<Instant> = None;
    loop {
        std::thread::sleep(Duration::from_millis(20));
        if stop.is_set() || phase.live_workers() == 0 {
            break;
        }
        if signalled.load(Ordering::Relaxed) && deadline.is_none() {
            eprintln!(
                "tcpterm: shutting down: closing connections (up to {} ms; signal again to quit now)",
                cfg.shutdown_timeout.as_millis()
            );
            hub.lock()
                .unwrap_or_else(|e| e.into_inner())
                .set_shutting_down();
            phase.drain();
            deadline = Some(Instant::now() + cfg.shutdown_timeout);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
    }
    pool_workers.stop();
    let outcomes = pool_workers.join();
    stats_stop.store(true, Ordering::Relaxed);
    let _ = stats_thread.join();
    drop(control);

    let outcomes = outcomes.map_err(|e| ServeError::Worker(e.to_string()))?;
    // The final counters go into the same hub, so uptime and the last rates carry over.
    let mut final_hub = hub.lock().unwrap_or_else(|e| e.into_inner());
    let mut left_open = 0;
    for o in outcomes {
        match o {
            Ok(o) => {
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
            Err(e) => return Err(ServeError::Worker(e.to_string())),
        }
    }
    if let Ok(s) = port.stats() {
        final_hub.set_port(port_stats(&info.name, s));
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
            Ok(r) => hub.lock().unwrap_or_else(|e| e.into_inner()).ingest(r),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(50))
            }
        }
        let now = Instant::now();
        if now >= next_port {
            next_port = now + Duration::from_secs(1);
            if let Ok(s) = port.stats() {
                hub.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .set_port(port_stats(port_name, s));
            }
        }
        if let Some(every) = summary {
            if now >= next_summary {
                next_summary = now + every;
                let snap = hub.lock().unwrap_or_else(|e| e.into_inner()).snapshot(now);
                eprintln!("{}", crate::summary::line(&snap));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_covers_every_descriptor_and_is_two_to_the_k_minus_one() {
        let n = pool_size(4, 1024, 1024, 4, false);
        assert!(n as usize >= 4 * 2048);
        assert!((n + 1).is_power_of_two());
        assert_eq!(pool_size(1, 64, 64, 1, false), 8191);
        // Software RSS: every worker-to-worker ring can be full at once.
        let soft = pool_size(4, 1024, 1024, 4, true);
        assert!(soft as usize >= 4 * 2048 + 4 * 3 * redirect::RING_SIZE);
        // One queue pair, three relaying workers: their relay rings count too.
        let relay = pool_size(4, 1024, 1024, 1, true);
        assert!(relay as usize >= 2048 + (4 * 3 + 3) * redirect::RING_SIZE);
    }

    #[test]
    fn errors_say_what_to_do() {
        assert_eq!(
            ServeError::NoPorts.to_string(),
            "no DPDK ports: pass --vdev (e.g. `-- --vdev net_tap0`) or bind a NIC to a DPDK driver"
        );
    }
}
