//! `tcpterm gen` on DPDK: EAL, the port, one pinned worker per core (its own RX/TX queue pair
//! and one engine per local address), the live line, Ctrl-C, and the final report.
//!
//! Several local addresses: the engine has one address, so each worker runs one engine per
//! address on its queue and hands each received frame to the engine it is addressed to (IPv4
//! destination, or ARP target).

use super::app::GenApp;
use super::driver::Driver;
use super::ports::{ports_for_queue, PortCycle, Steering};
use super::report::{self, take_report, Collector, Report, WorkerReport};
use super::scenario::Scenario;
use super::{prepare, PhaseRt};
use crate::port::{Mbuf, Mempool, Port, RssStatus, StopFlag, TscClock, TxBatch, Workers, BURST};
use crate::runtime::{self, Device, DeviceRequest, PortPlan, Signals};
use core::net::{Ipv4Addr, SocketAddrV4};
use stack::wire::MacAddr;
use stack::{Engine, EngineConfig, TcpConfig};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything `gen` needs, checked.
#[derive(Clone, Debug)]
pub struct GenConfig {
    pub scenario: Scenario,
    pub ips: Vec<Ipv4Addr>,
    pub prefix_len: u8,
    pub gateway: Option<Ipv4Addr>,
    pub target: SocketAddrV4,
    pub json: Option<PathBuf>,
    pub cores: Option<Vec<usize>>,
    pub port: Option<String>,
    pub tcp: TcpConfig,
    pub mtu: u16,
    pub seed: u64,
    pub rx_desc: u16,
    pub tx_desc: u16,
    pub eal_args: Vec<String>,
}

/// How long a worker keeps receiving after its last connection ended.
const LINGER: Duration = Duration::from_millis(300);

/// How often workers report (the live line is built from these).
const REPORT_EVERY: Duration = Duration::from_millis(200);

/// Which engine a received frame is for: the one owning its IPv4 destination or ARP target.
/// Anything else goes to engine 0, which counts and drops it.
pub fn demux(frame: &[u8], ips: &[Ipv4Addr]) -> usize {
    if ips.len() < 2 || frame.len() < 14 {
        return 0;
    }
    let at = match u16::from_be_bytes([frame[12], frame[13]]) {
        0x0800 => 30,
        0x0806 => 38,
        _ => return 0,
    };
    let Some(b) = frame.get(at..at + 4) else {
        return 0;
    };
    let dst = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
    ips.iter().position(|ip| *ip == dst).unwrap_or(0)
}

/// An ARP reply from `target` to engine i: the driver may start before its wait is over.
fn arp_reply_from(frame: &[u8], target: Ipv4Addr) -> bool {
    frame.len() >= 42
        && frame[12..14] == [0x08, 0x06]
        && frame[20..22] == [0, 2]
        && frame[28..32] == target.octets()
}

struct WorkerSetup {
    id: usize,
    workers: usize,
    engines: Vec<EngineConfig>,
    steering: Steering,
    phases: Arc<Vec<PhaseRt>>,
    target: SocketAddrV4,
    rxq: crate::port::RxQueue,
    tx: TxBatch,
    clock: TscClock,
    reports: crossbeam_channel::Sender<WorkerReport>,
    stop_asked: Arc<AtomicBool>,
}

fn worker(ctx: &crate::port::WorkerCtx, s: WorkerSetup) -> Result<(), String> {
    let WorkerSetup {
        id,
        workers,
        engines: cfgs,
        steering,
        phases,
        target,
        mut rxq,
        mut tx,
        clock,
        reports,
        stop_asked,
    } = s;
    let ips: Vec<Ipv4Addr> = cfgs.iter().map(|c| c.ip).collect();
    let flood_seed = cfgs.first().map_or(id as u64, |c| c.seed);
    let locals: Vec<(Ipv4Addr, MacAddr)> = cfgs.iter().map(|c| (c.ip, c.mac)).collect();
    let ports: Vec<PortCycle> = ips
        .iter()
        .map(|ip| PortCycle::new(ports_for_queue(*ip, target, steering, id as u16)))
        .collect();
    let mut engines = Vec::with_capacity(cfgs.len());
    for c in cfgs {
        engines.push(
            Engine::new(c, GenApp::new(phases.clone()), clock.now())
                .map_err(|e| format!("worker {id}: {e}"))?,
        );
    }
    let mut driver = Driver::new(phases, target, id, workers, ports, locals);
    driver.seed(flood_seed);
    let mut bufs: Vec<Mbuf> = Vec::with_capacity(BURST);
    let every = REPORT_EVERY.as_micros() as u64;
    let mut next_report = clock.now().as_micros() + every;
    let mut stopped = false;
    let mut linger_until: Option<stack::Instant> = None;
    let send = |engines: &mut [Engine<GenApp>],
                driver: &Driver,
                tx: &TxBatch,
                now: stack::Instant,
                done: bool| {
        let ran = driver
            .phase_times
            .iter()
            .enumerate()
            .map(|(p, (s, e))| {
                if *s == stack::Instant::ZERO {
                    Duration::ZERO
                } else if *e == stack::Instant::ZERO || driver.current_phase() == Some(p) {
                    now.saturating_since(*s)
                } else {
                    e.saturating_since(*s)
                }
            })
            .collect();
        WorkerReport {
            worker: id,
            phases: take_report(id, engines),
            phase: driver.current_phase(),
            ran,
            lagged: driver.lagged.clone(),
            tcp: engines.iter().fold(stack::Counters::default(), |mut c, e| {
                c.add(e.counters());
                c
            }),
            tx: tx.stats(),
            done,
        }
    };

    while !ctx.should_stop() {
        let now = clock.now();
        for e in engines.iter_mut() {
            e.app_mut().now = now;
        }
        if rxq.rx_burst(&mut bufs) > 0 {
            for m in bufs.drain(..) {
                let f = m.data();
                let i = demux(f, &ips);
                if arp_reply_from(f, *target.ip()) {
                    driver.arp_resolved[i] = true;
                    if let Ok(mac) = <[u8; 6]>::try_from(&f[22..28]) {
                        driver.target_mac = Some(MacAddr(mac));
                    }
                }
                engines[i].receive(now, f, m.rx_meta(), &mut tx);
            }
        }
        for e in engines.iter_mut() {
            e.poll(now, &mut tx);
        }
        if !stopped && stop_asked.load(Ordering::Relaxed) {
            stopped = true;
            driver.stop(&mut engines, now, &mut tx);
        }
        if linger_until.is_none() {
            driver.tick(&mut engines, now, &mut tx);
        }
        tx.flush();
        match linger_until {
            Some(t) if now >= t => break,
            None if driver.is_done() => {
                // Keep answering for a moment: the last ACKs must reach the server, and its
                // retransmitted FINs get an answer from TIME_WAIT, before the port goes away.
                linger_until = Some(now + LINGER);
            }
            _ => {}
        }
        if now.as_micros() >= next_report {
            next_report = now.as_micros() + every;
            // Counts are cumulative but a dropped report's histograms would be lost, so wait
            // briefly for room when the main thread is behind.
            let r = send(&mut engines, &driver, &tx, now, false);
            let _ = reports.send_timeout(r, Duration::from_millis(10));
        }
    }
    tx.flush();
    let now = clock.now();
    let r = send(&mut engines, &driver, &tx, now, true);
    reports
        .send(r)
        .map_err(|_| format!("worker {id}: the main thread is gone"))?;
    Ok(())
}

/// Every worker needs its own queue pair, and replies must come back to the queue of the worker
/// that opened the connection: symmetric RSS, or a single queue.
fn steering(dev: &Device, port: &Port, workers: usize) -> Result<Steering, String> {
    match port.rss() {
        RssStatus::Off => Ok(Steering::Single),
        RssStatus::Symmetric { reta_size } => Ok(Steering::Rss {
            reta_size: u32::from(reta_size),
            queues: workers as u16,
        }),
        RssStatus::Unsupported => Err(format!(
            "port {} ({}) cannot spread flows by RSS, so replies would reach the wrong worker; run one worker (one core in --cores)",
            dev.info.name, dev.info.driver
        )),
    }
}

fn open(cfg: &GenConfig) -> Result<(Device, Mempool, Port), String> {
    let dev = Device::bring_up(&DeviceRequest {
        eal_args: &cfg.eal_args,
        port: cfg.port.as_deref(),
        cores: cfg.cores.as_deref(),
        vdev_hint: "net_memif0,role=client",
    })
    .map_err(|e| e.to_string())?;
    let workers = dev.workers();
    if workers > dev.queue_pairs() {
        return Err(format!(
            "port {} has {} queue pair(s) but {workers} workers were asked for",
            dev.info.name,
            dev.queue_pairs()
        ));
    }
    let (pool, port) = dev
        .open(&PortPlan {
            pool_name: "tcpterm-gen",
            queues: workers,
            rx_desc: cfg.rx_desc,
            tx_desc: cfg.tx_desc,
            mtu: cfg.mtu,
            ring_frames: 0,
        })
        .map_err(|e| e.to_string())?;
    Ok((dev, pool, port))
}

fn announce(cfg: &GenConfig, dev: &Device, port: &Port, ip_list: &[String]) {
    let link = port.wait_link_up(Duration::from_secs(3));
    eprintln!(
        "tcpterm gen: {} -> {} on port {} ({}, {}, link {}), {} worker(s) on core(s) {:?}, scenario {} ({} phase(s), {:.1}s)",
        ip_list.join(","),
        cfg.target,
        dev.info.name,
        dev.info.driver,
        port.mac(),
        if link.up { "up" } else { "down" },
        dev.workers(),
        dev.cores,
        cfg.scenario.name,
        cfg.scenario.phases.len(),
        cfg.scenario.total_duration().as_secs_f64(),
    );
}

/// One engine per local address, all on worker `id`'s queue pair.
fn engine_configs(cfg: &GenConfig, port: &Port, id: usize) -> Vec<EngineConfig> {
    cfg.ips
        .iter()
        .enumerate()
        .map(|(i, ip)| EngineConfig {
            tcp: cfg.tcp.clone(),
            ip: *ip,
            prefix_len: cfg.prefix_len,
            gateway: cfg.gateway,
            mac: port.mac(),
            checksums: port.checksum_caps(),
            mtu: cfg.mtu,
            seed: cfg.seed ^ ((id as u64) << 32) ^ i as u64,
            arp_timeout: Duration::from_secs(600),
        })
        .collect()
}

/// What every worker gets alike.
struct Shared<'a> {
    cfg: &'a GenConfig,
    dev: &'a Device,
    pool: &'a Mempool,
    port: &'a Port,
    steering: Steering,
    reports: crossbeam_channel::Sender<WorkerReport>,
    stop_asked: Arc<AtomicBool>,
}

/// One pinned worker per core, each on its own queue pair.
fn spawn_workers(sh: Shared<'_>) -> Result<Workers<Result<(), String>>, String> {
    let phases = prepare(&sh.cfg.scenario);
    let clock = TscClock::new(&sh.dev.eal);
    let mut pool_workers = Workers::new(&sh.dev.eal);
    for (id, &core) in sh.dev.cores.iter().enumerate() {
        let (rxq, tx) = runtime::queue_pair(sh.port, sh.pool, id as u16)
            .map_err(|e| sh.dev.port_error(e).to_string())?;
        let setup = WorkerSetup {
            id,
            workers: sh.dev.workers(),
            engines: engine_configs(sh.cfg, sh.port, id),
            steering: sh.steering,
            phases: phases.clone(),
            target: sh.cfg.target,
            rxq,
            tx,
            clock,
            reports: sh.reports.clone(),
            stop_asked: sh.stop_asked.clone(),
        };
        pool_workers
            .spawn(core, move |ctx| worker(ctx, setup))
            .map_err(|e| e.to_string())?;
    }
    Ok(pool_workers)
}

/// Folds worker reports until every worker is done or one failed, with a live line every
/// second; the first signal asks the workers to stop.
fn follow(
    reports: &crossbeam_channel::Receiver<WorkerReport>,
    col: &mut Collector,
    failed: &StopFlag,
    signals: &Signals,
    stop_asked: &AtomicBool,
    started: Instant,
) {
    let mut next_line = started + Duration::from_secs(1);
    loop {
        match reports.recv_timeout(Duration::from_millis(50)) {
            Ok(r) => col.ingest(r),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
        if col.all_done() || failed.is_set() {
            break;
        }
        if signals.received() && !stop_asked.load(Ordering::Relaxed) {
            eprintln!("tcpterm gen: stopping: closing connections (signal again to quit now)");
            stop_asked.store(true, Ordering::Relaxed);
        }
        let now = Instant::now();
        if now >= next_line {
            next_line += Duration::from_secs(1);
            eprintln!("{}", col.live_line(now, now - started));
        }
    }
}

/// Runs the scenario; prints the live line to stderr and returns the final report.
pub fn run(cfg: GenConfig) -> Result<Report, String> {
    let (dev, pool, port) = open(&cfg)?;
    let workers = dev.workers();
    let steering = steering(&dev, &port, workers)?;
    let ip_list: Vec<String> = cfg.ips.iter().map(|i| i.to_string()).collect();
    announce(&cfg, &dev, &port, &ip_list);

    let stop_asked = Arc::new(AtomicBool::new(false));
    let signals = Signals::install().map_err(|e| e.to_string())?;
    let (report_tx, report_rx) = crossbeam_channel::bounded::<WorkerReport>(workers * 64);
    let pool_workers = spawn_workers(Shared {
        cfg: &cfg,
        dev: &dev,
        pool: &pool,
        port: &port,
        steering,
        reports: report_tx,
        stop_asked: stop_asked.clone(),
    })?;

    let started = Instant::now();
    let mut col = Collector::new(cfg.scenario.clone(), workers);
    follow(
        &report_rx,
        &mut col,
        &pool_workers.stop_flag(),
        &signals,
        &stop_asked,
        started,
    );
    let outcomes = pool_workers.join().map_err(|e| e.to_string())?;
    for o in outcomes {
        o?;
    }
    while let Ok(r) = report_rx.try_recv() {
        col.ingest(r);
    }
    let rep = col.report(cfg.target.to_string(), ip_list, started.elapsed());
    if let Some(path) = &cfg.json {
        let text = serde_json::to_string_pretty(&rep).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    print!("{}", report::render(&rep));
    drop(port);
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_frame(dst: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0u8; 54];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[30..34].copy_from_slice(&dst);
        f
    }

    #[test]
    fn frames_go_to_the_engine_of_their_destination() {
        let ips = [Ipv4Addr::new(198, 18, 0, 2), Ipv4Addr::new(198, 18, 0, 3)];
        assert_eq!(demux(&ipv4_frame([198, 18, 0, 3]), &ips), 1);
        assert_eq!(demux(&ipv4_frame([198, 18, 0, 2]), &ips), 0);
        // Unknown destination, short frame, other ethertype: engine 0 (which drops it).
        assert_eq!(demux(&ipv4_frame([198, 18, 0, 9]), &ips), 0);
        assert_eq!(demux(&[0u8; 10], &ips), 0);
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        arp[20..22].copy_from_slice(&[0, 2]);
        arp[28..32].copy_from_slice(&[198, 18, 0, 1]);
        arp[38..42].copy_from_slice(&[198, 18, 0, 3]);
        assert_eq!(demux(&arp, &ips), 1);
        assert!(arp_reply_from(&arp, Ipv4Addr::new(198, 18, 0, 1)));
        assert!(!arp_reply_from(&arp, Ipv4Addr::new(198, 18, 0, 2)));
    }
}
