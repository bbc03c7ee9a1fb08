//! The generator's side of the worker loop: the phase timeline, opening connections at the
//! paced rate from RSS-matching source ports, think and rate timers, timeouts, and the final
//! drain. It owns no I/O: the loop (DPDK worker or in-memory test) calls [`Driver::tick`] once per
//! iteration with its engines, its timestamp and its transmit queue.

use super::app::{GenApp, PhaseRt};
use super::pacing::Pacer;
use super::ports::PortCycle;
use super::scenario::Mode;
use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use stack::wire::arp::{ArpOp, ArpRepr};
use stack::wire::frame::{build_arp_frame, build_tcp_frame, tcp_frame_len, ARP_FRAME_LEN};
use stack::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
use stack::wire::{ChecksumCaps, MacAddr};
use stack::{ConnHandle, Engine, EngineError, Instant, SeqNum, Transmit, TxMeta};
use std::sync::Arc;

/// Most connections opened in one iteration, so one iteration never stalls the receive path.
const MAX_OPENS_PER_TICK: u64 = 256;
/// Most spoofed SYNs built in one iteration (a few TX bursts).
const MAX_SYNS_PER_TICK: u64 = 512;
/// A full timeout sweep over every connection (spread over iterations) takes a tenth of the
/// shortest phase timeout, so a timeout fires at most ~10% late, within these bounds. A fixed
/// 20 ms period scanned 400 million slots a second at 8 million connections, which took the
/// whole core and starved the receive path.
const SWEEP_PERIOD_MIN: Duration = Duration::from_millis(20);
const SWEEP_PERIOD_MAX: Duration = Duration::from_secs(1);
/// Before the first phase: ARP for the target from every local address, then wait this long
/// (or until the worker has seen every reply), so the first SYNs are not lost to ARP.
const ARP_WAIT: Duration = Duration::from_millis(100);
/// After the last phase, connections get their timeout plus this to finish.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// Where the driver is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Arp { until: Instant },
    Phase(usize),
    Drain { until: Instant },
    Done,
}

pub struct Driver {
    phases: Arc<Vec<PhaseRt>>,
    target: SocketAddrV4,
    /// This worker's part of rates and concurrency.
    share: f64,
    /// This worker's concurrency per phase.
    concurrency: Vec<u32>,
    ports: Vec<PortCycle>,
    /// The engines' (address, MAC), for ARP.
    locals: Vec<(core::net::Ipv4Addr, MacAddr)>,
    /// Set by the worker when an ARP reply for engine i arrived.
    pub arp_resolved: Vec<bool>,
    stage: Stage,
    phase_start: Instant,
    pacer: Pacer,
    rr: usize,
    next_sweep_step: Instant,
    sweep_period: Duration,
    scratch: Vec<(ConnHandle, u32)>,
    /// When each phase started and ended on this worker.
    pub phase_times: Vec<(Instant, Instant)>,
    /// Rate tokens dropped because the worker fell behind, per phase.
    pub lagged: Vec<u64>,
    /// The target's MAC, learnt by the worker from its ARP reply: syn-flood frames are built
    /// here, not by an engine, so they need it.
    pub target_mac: Option<MacAddr>,
    /// xorshift64* state for spoofed addresses, ports and sequence numbers.
    rng: u64,
}

impl Driver {
    /// `worker`/`workers` split rates and concurrency; `ports[i]` and `locals[i]` belong to
    /// engine i.
    pub fn new(
        phases: Arc<Vec<PhaseRt>>,
        target: SocketAddrV4,
        worker: usize,
        workers: usize,
        ports: Vec<PortCycle>,
        locals: Vec<(core::net::Ipv4Addr, MacAddr)>,
    ) -> Self {
        let workers = workers.max(1);
        let concurrency = phases
            .iter()
            .map(|p| {
                let c = p.phase.concurrency as usize;
                (c / workers + usize::from(worker < c % workers)) as u32
            })
            .collect();
        let n = phases.len();
        let engines = locals.len();
        let sweep_period = sweep_period(&phases);
        Driver {
            phases,
            target,
            share: 1.0 / workers as f64,
            concurrency,
            ports,
            locals,
            arp_resolved: vec![false; engines],
            stage: Stage::Arp {
                until: Instant::ZERO,
            },
            phase_start: Instant::ZERO,
            pacer: Pacer::new(None, Duration::ZERO, Instant::ZERO, 1.0),
            rr: 0,
            next_sweep_step: Instant::ZERO,
            sweep_period,
            scratch: Vec::new(),
            phase_times: vec![(Instant::ZERO, Instant::ZERO); n],
            lagged: vec![0; n],
            target_mac: None,
            rng: 0x9e37_79b9_7f4a_7c15 ^ ((worker as u64 + 1) << 40) ^ u64::from(target.port()),
        }
    }

    /// Seeds the syn-flood generator (the DPDK worker passes its engine seed).
    pub fn seed(&mut self, seed: u64) {
        self.rng = (seed ^ 0x2545_f491_4f6c_dd1d).max(1);
    }

    fn next_rand(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn stage(&self) -> Stage {
        self.stage
    }

    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// The phase running now, if any.
    pub fn current_phase(&self) -> Option<usize> {
        match self.stage {
            Stage::Phase(p) => Some(p),
            _ => None,
        }
    }

    /// Stop early (Ctrl-C): end the current phase now and drain.
    pub fn stop<A: Transmit>(&mut self, engines: &mut [Engine<GenApp>], now: Instant, tx: &mut A) {
        match self.stage {
            Stage::Phase(p) => {
                self.end_phase(engines, p, now, tx);
                self.start_drain(now);
            }
            Stage::Arp { .. } => self.start_drain(now),
            _ => {}
        }
    }

    fn start_drain(&mut self, now: Instant) {
        let longest = self
            .phases
            .iter()
            .map(|p| p.phase.timeout)
            .max()
            .unwrap_or_default();
        self.stage = Stage::Drain {
            until: now + longest + DRAIN_GRACE,
        };
    }

    fn start_phase(&mut self, p: usize, at: Instant) {
        let ph = &self.phases[p].phase;
        self.stage = Stage::Phase(p);
        self.phase_start = at;
        self.pacer = Pacer::new(ph.rate, ph.ramp_up, at, self.share);
        self.phase_times[p].0 = at;
    }

    fn end_phase<T: Transmit>(
        &mut self,
        engines: &mut [Engine<GenApp>],
        p: usize,
        now: Instant,
        tx: &mut T,
    ) {
        self.phase_times[p].1 = now;
        self.lagged[p] = self.pacer.lagged;
        for e in engines.iter_mut() {
            e.app_mut().set_phase_over(p);
            let mut out = core::mem::take(&mut self.scratch);
            out.clear();
            let n = e.app().tracked_slots();
            e.app_mut().collect(None, Some(p), n, &mut out);
            for &(h, serial) in &out {
                e.with_conn(h, now, tx, |app, sock| app.end_phase_conn(sock, serial));
            }
            self.scratch = out;
        }
    }

    fn send_arp<T: Transmit>(&self, tx: &mut T) {
        for &(ip, mac) in &self.locals {
            let req = ArpRepr {
                op: ArpOp::Request,
                sender_mac: mac,
                sender_ip: ip,
                target_mac: MacAddr::ZERO,
                target_ip: *self.target.ip(),
            };
            let meta = TxMeta {
                l2_len: 14,
                ..TxMeta::default()
            };
            tx.frame(ARP_FRAME_LEN, meta, |buf| {
                build_arp_frame(buf, mac, MacAddr::BROADCAST, &req)
            });
        }
    }

    /// When the driver next has timed work (for loops that sleep, e.g. the in-memory one).
    pub fn next_wake(&self, engines: &[Engine<GenApp>]) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |x: Instant| t = Some(t.map_or(x, |t| t.min(x)));
        match self.stage {
            Stage::Arp { until } | Stage::Drain { until } => at(until),
            Stage::Phase(p) => {
                at(self.phase_start + self.phases[p].phase.duration);
                if let Some(n) = self.pacer.next_at() {
                    at(n);
                }
            }
            Stage::Done => return None,
        }
        for e in engines {
            if let Some(n) = e.app().next_think() {
                at(n);
            }
            if e.app().live() > 0 {
                at(self.next_sweep_step);
            }
        }
        t
    }

    /// One iteration's work. Call after the engines have received and polled.
    pub fn tick<T: Transmit>(&mut self, engines: &mut [Engine<GenApp>], now: Instant, tx: &mut T) {
        for e in engines.iter_mut() {
            e.app_mut().now = now;
        }
        // The timeline.
        loop {
            match self.stage {
                Stage::Arp { until } if until == Instant::ZERO => {
                    self.send_arp(tx);
                    self.stage = Stage::Arp {
                        until: now + ARP_WAIT,
                    };
                    break;
                }
                Stage::Arp { until } => {
                    if now >= until || self.arp_resolved.iter().all(|r| *r) {
                        self.start_phase(0, now);
                        continue;
                    }
                    break;
                }
                Stage::Phase(p) => {
                    let end = self.phase_start + self.phases[p].phase.duration;
                    if now < end {
                        break;
                    }
                    self.end_phase(engines, p, now, tx);
                    if p + 1 < self.phases.len() {
                        // The next phase starts where this one should have ended, so the
                        // scenario's timeline does not stretch with loop latency.
                        self.start_phase(p + 1, end);
                    } else {
                        self.start_drain(now);
                    }
                }
                Stage::Drain { until } => {
                    if engines.iter().all(|e| e.app().live() == 0) {
                        self.stage = Stage::Done;
                    } else if now >= until {
                        self.abort_all(engines, now, tx);
                        self.stage = Stage::Done;
                    }
                    break;
                }
                Stage::Done => break,
            }
        }

        // Think timers.
        for e in engines.iter_mut() {
            while let Some((h, serial)) = e.app_mut().pop_think(now) {
                e.with_conn(h, now, tx, |app, sock| app.wake(sock, serial));
            }
        }

        if let Stage::Phase(p) = self.stage {
            let ph = &self.phases[p].phase;
            let mode = ph.mode;
            if ph.rate_is_requests() && ph.rate.is_some() {
                self.release_requests(engines, now, tx);
            }
            if let Mode::SynFlood { net, prefix_len } = mode {
                self.flood(engines, p, net, prefix_len, now, tx);
            } else {
                self.open(engines, p, now, tx);
            }
        }
        self.sweep(engines, now, tx);
    }

    /// Persistent mode with a request rate: ready connections get their tokens.
    fn release_requests<T: Transmit>(
        &mut self,
        engines: &mut [Engine<GenApp>],
        now: Instant,
        tx: &mut T,
    ) {
        let due = self.pacer.due(now);
        let mut released = 0;
        let n = engines.len();
        let mut idle_rounds = 0;
        while released < due && idle_rounds < n {
            let e = &mut engines[self.rr % n];
            self.rr = self.rr.wrapping_add(1);
            match e.app_mut().pop_ready() {
                Some((h, serial)) => {
                    idle_rounds = 0;
                    if e.with_conn(h, now, tx, |app, sock| app.release(sock, serial)) == Some(true)
                    {
                        released += 1;
                    }
                }
                None => idle_rounds += 1,
            }
        }
        self.pacer.take(released);
    }

    fn open<T: Transmit>(
        &mut self,
        engines: &mut [Engine<GenApp>],
        p: usize,
        now: Instant,
        tx: &mut T,
    ) {
        let ph = &self.phases[p].phase;
        let limit = u64::from(self.pacer.ramped_limit(self.concurrency[p], now));
        let open: u64 = engines.iter().map(|e| e.app().open_in(p)).sum();
        let mut want = limit.saturating_sub(open).min(MAX_OPENS_PER_TICK);
        let paced_opens = !ph.rate_is_requests();
        if paced_opens {
            want = want.min(self.pacer.due(now));
        }
        let n = engines.len();
        let mut opened = 0;
        'outer: while opened < want {
            let i = self.rr % n;
            self.rr = self.rr.wrapping_add(1);
            let e = &mut engines[i];
            // A port still in use by a live connection is skipped; give up on this engine for
            // this iteration after a few.
            for _ in 0..8 {
                let Some(port) = self.ports[i].next_port() else {
                    e.app_mut().count_local_error(p);
                    break 'outer;
                };
                match e.connect(now, self.target, port, tx) {
                    Ok(h) => {
                        e.with_conn(h, now, tx, |app, sock| app.register(sock, p));
                        opened += 1;
                        continue 'outer;
                    }
                    Err(EngineError::AddressInUse) => continue,
                    Err(_) => {
                        e.app_mut().count_local_error(p);
                        break 'outer;
                    }
                }
            }
            e.app_mut().count_local_error(p);
            break;
        }
        if paced_opens {
            self.pacer.take(opened);
        }
    }

    /// syn-flood: the SYNs due now, each from a random address in `net/prefix_len`, a random
    /// port (1024-65535) and a random ISN, with the options a Linux client sends (MSS, SACK
    /// permitted, timestamps, window scale), so that the server's cookie path does its full
    /// work. The frames are built straight into the port's buffers; no engine keeps any state
    /// for them, and the SYN-ACKs that come back are not for any local address (engine 0 counts
    /// them as `ip_not_for_us`).
    fn flood<T: Transmit>(
        &mut self,
        engines: &mut [Engine<GenApp>],
        p: usize,
        net: Ipv4Addr,
        prefix_len: u8,
        now: Instant,
        tx: &mut T,
    ) {
        let due = self.pacer.due(now).min(MAX_SYNS_PER_TICK);
        if due == 0 {
            return;
        }
        let Some(dst_mac) = self.target_mac else {
            // No ARP reply yet: nothing can be addressed. Counted, and the tokens are spent.
            self.pacer.take(due);
            if let Some(e) = engines.first_mut() {
                e.app_mut().count_syns(p, 0, due);
            }
            return;
        };
        let src_mac = self.locals.first().map_or(MacAddr::ZERO, |l| l.1);
        let host_mask = if prefix_len >= 32 {
            0
        } else {
            u32::MAX >> prefix_len
        };
        let dst_ip = *self.target.ip();
        let dst_port = self.target.port();
        let ts = now.as_millis() as u32;
        let meta = TxMeta {
            l2_len: 14,
            ..TxMeta::default()
        };
        let (mut sent, mut unsent) = (0, 0);
        for _ in 0..due {
            let r = self.next_rand();
            let src_ip = Ipv4Addr::from(u32::from(net) | (r as u32 & host_mask));
            let src_port = 1024 + ((r >> 32) as u16 % (65535 - 1024 + 1));
            let seq = (r >> 24) as u32;
            let repr = TcpRepr {
                src_port,
                dst_port,
                seq: SeqNum(seq),
                ack: SeqNum(0),
                flags: TcpFlags(TcpFlags::SYN),
                window: 64240,
                urgent: 0,
                options: TcpOptions {
                    mss: Some(1460),
                    window_scale: Some(7),
                    sack_permitted: true,
                    timestamp: Some((ts ^ (r >> 48) as u32, 0)),
                    ..TcpOptions::default()
                },
            };
            let len = tcp_frame_len(&repr, 0);
            // Checksums always computed here: the flood does not depend on offloads.
            let ok = tx.frame(len, meta, |buf| {
                build_tcp_frame(
                    buf,
                    src_mac,
                    dst_mac,
                    src_ip,
                    dst_ip,
                    &repr,
                    (&[], &[]),
                    ChecksumCaps::default(),
                )
            });
            if ok {
                sent += 1;
            } else {
                unsent += 1;
            }
        }
        self.pacer.take(due);
        if let Some(e) = engines.first_mut() {
            e.app_mut().count_syns(p, sent, unsent);
        }
    }

    /// Times out connections past their deadline: a slice of the table per iteration.
    fn sweep<T: Transmit>(&mut self, engines: &mut [Engine<GenApp>], now: Instant, tx: &mut T) {
        // Twenty slices per period: each engine's table is fully covered every period.
        let step = self.sweep_period / 20;
        if now < self.next_sweep_step {
            return;
        }
        self.next_sweep_step = now + step;
        for e in engines.iter_mut() {
            let slots = e.app().tracked_slots();
            if slots == 0 {
                continue;
            }
            let budget = slots.div_ceil(20);
            let mut out = core::mem::take(&mut self.scratch);
            out.clear();
            e.app_mut().collect(Some(now), None, budget, &mut out);
            for &(h, serial) in &out {
                e.with_conn(h, now, tx, |app, sock| app.timed_out(sock, serial));
            }
            self.scratch = out;
        }
    }

    /// The drain deadline passed: whatever is left is reset and counted as timed out.
    fn abort_all<T: Transmit>(&mut self, engines: &mut [Engine<GenApp>], now: Instant, tx: &mut T) {
        for e in engines.iter_mut() {
            let mut out = core::mem::take(&mut self.scratch);
            out.clear();
            let n = e.app().tracked_slots();
            e.app_mut().collect(None, None, n, &mut out);
            for &(h, serial) in &out {
                e.with_conn(h, now, tx, |app, sock| app.timed_out(sock, serial));
            }
            self.scratch = out;
        }
    }
}

fn sweep_period(phases: &[PhaseRt]) -> Duration {
    phases
        .iter()
        .map(|p| p.phase.timeout / 10)
        .min()
        .unwrap_or(SWEEP_PERIOD_MIN)
        .clamp(SWEEP_PERIOD_MIN, SWEEP_PERIOD_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::scenario::Scenario;

    fn phases(timeouts: &[&str]) -> Vec<PhaseRt> {
        let text: String = timeouts
            .iter()
            .map(|t| format!("[[phase]]\nduration = \"1s\"\nmode = \"idle\"\ntimeout = \"{t}\"\n"))
            .collect();
        Scenario::parse(&text, "t")
            .unwrap()
            .phases
            .into_iter()
            .map(PhaseRt::new)
            .collect()
    }

    #[test]
    fn timeout_sweep_period_is_a_tenth_of_the_shortest_timeout_within_bounds() {
        let ms = Duration::from_millis;
        assert_eq!(sweep_period(&phases(&["5s", "2s"])), ms(200));
        assert_eq!(sweep_period(&phases(&["100ms"])), ms(20));
        assert_eq!(sweep_period(&phases(&["60s"])), ms(1000));
        assert_eq!(sweep_period(&[]), ms(20));
    }
}
