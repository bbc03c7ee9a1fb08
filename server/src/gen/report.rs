//! Results: what workers send while running, the live line, and the final report (text and
//! JSON).

use super::app::{new_histogram, Counts, GenApp, PhaseStats};
use super::scenario::Scenario;
use crate::port::TxStats;
use crate::stats::Named;
use hdrhistogram::Histogram;
use stack::{Counters, Engine};
use std::time::Duration;

/// One phase's results from one worker since its last report: cumulative counts, the open
/// gauge, and the latencies recorded since the last report.
#[derive(Clone, Debug)]
pub struct PhaseDelta {
    pub counts: Counts,
    pub open: u64,
    pub latency: Option<Histogram<u64>>,
    pub connect: Option<Histogram<u64>>,
}

/// What a worker sends every ~200 ms, and once more when it is done.
#[derive(Clone, Debug)]
pub struct WorkerReport {
    pub worker: usize,
    pub phases: Vec<PhaseDelta>,
    /// The phase the worker is in (None: arping or draining).
    pub phase: Option<usize>,
    /// Per phase, how long it really ran on this worker (zero if it never started).
    pub ran: Vec<Duration>,
    pub lagged: Vec<u64>,
    /// The worker's engines' counters (summed) and its transmit queue's, cumulative.
    pub tcp: Counters,
    pub tx: TxStats,
    pub done: bool,
}

/// The generator's own TCP counters and transmit drops over the whole run, summed over
/// workers: what `tcpterm stat` shows for the server, for this side (retransmissions, drops).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct EngineReport {
    /// Linux MIB counters (`netstat -s` names), e.g. `RetransSegs`, `TCPLossProbes`.
    pub mib: Named,
    /// Every drop reason of the engines.
    pub drops: Named,
    /// Frames the port did not take, and frames not built for want of a buffer.
    pub tx_dropped: u64,
    pub tx_no_buffer: u64,
}

impl EngineReport {
    fn of(tcp: &Counters, tx: &TxStats) -> Self {
        let named = |it: &mut dyn Iterator<Item = (&'static str, u64)>| {
            Named(it.map(|(k, v)| (k.to_string(), v)).collect())
        };
        EngineReport {
            mib: named(&mut tcp.mib.entries()),
            drops: named(&mut tcp.drops.entries()),
            tx_dropped: tx.dropped,
            tx_no_buffer: tx.alloc_failed,
        }
    }
}

/// Takes a report from a worker's engines: the histograms move into it and restart empty.
pub fn take_report(worker: usize, engines: &mut [Engine<GenApp>]) -> Vec<PhaseDelta> {
    let n = engines.first().map_or(0, |e| e.app().stats.len());
    (0..n)
        .map(|p| {
            let mut d = PhaseDelta {
                counts: Counts::default(),
                open: 0,
                latency: None,
                connect: None,
            };
            for e in engines.iter_mut() {
                let s: &mut PhaseStats = &mut e.app_mut().stats[p];
                d.counts.add(&s.counts);
                d.open += s.open;
                for (src, dst) in [
                    (&mut s.latency, &mut d.latency),
                    (&mut s.connect, &mut d.connect),
                ] {
                    if src.is_empty() {
                        continue;
                    }
                    match dst {
                        Some(h) => {
                            let _ = h.add(&*src);
                        }
                        None => *dst = Some(src.clone()),
                    }
                    src.reset();
                }
            }
            let _ = worker;
            d
        })
        .collect()
}

/// Latency summary in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            min: h.min(),
            mean: (h.mean() * 10.0).round() / 10.0,
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct PhaseReport {
    pub name: String,
    pub mode: &'static str,
    pub protocol: &'static str,
    /// How long the phase ran (the longest of the workers).
    pub duration_s: f64,
    pub counts: Counts,
    pub errors: u64,
    pub conns_per_s: f64,
    pub requests_per_s: f64,
    pub responses_per_s: f64,
    pub tx_mbit_per_s: f64,
    pub rx_mbit_per_s: f64,
    /// syn-flood: spoofed SYNs sent per second.
    pub syns_per_s: f64,
    pub latency_us: Percentiles,
    pub connect_us: Percentiles,
    /// Paced actions skipped because the generator fell behind its target rate.
    pub lagged: u64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub scenario: String,
    pub target: String,
    pub local_ips: Vec<String>,
    pub workers: usize,
    pub elapsed_s: f64,
    pub phases: Vec<PhaseReport>,
    pub total_counts: Counts,
    pub total_errors: u64,
    pub total_latency_us: Percentiles,
    pub engine: EngineReport,
}

/// Folds worker reports; renders the live line and the final report.
pub struct Collector {
    scenario: Scenario,
    workers: usize,
    /// Latest cumulative counts and open gauge, per worker and phase.
    latest: Vec<Vec<(Counts, u64)>>,
    worker_phase: Vec<Option<usize>>,
    ran: Vec<Vec<Duration>>,
    lagged: Vec<Vec<u64>>,
    /// Latest engine and transmit counters per worker.
    tcp: Vec<(Counters, TxStats)>,
    latency: Vec<Histogram<u64>>,
    connect: Vec<Histogram<u64>>,
    /// Latencies since the last live line.
    window: Histogram<u64>,
    last_line: Option<(std::time::Instant, Counts)>,
    pub done: Vec<bool>,
}

/// As `tcpterm stat` writes numbers, but whole below 10k: a live rate's fraction is noise.
fn si(x: f64) -> String {
    if x < 1e4 {
        format!("{x:.0}")
    } else {
        crate::stats::render::si(x)
    }
}

fn us(v: u64) -> String {
    if v >= 1_000_000 {
        format!("{:.2}s", v as f64 / 1e6)
    } else if v >= 1000 {
        format!("{:.2}ms", v as f64 / 1e3)
    } else {
        format!("{v}us")
    }
}

impl Collector {
    pub fn new(scenario: Scenario, workers: usize) -> Self {
        let n = scenario.phases.len();
        Collector {
            scenario,
            workers,
            latest: vec![vec![(Counts::default(), 0); n]; workers],
            worker_phase: vec![None; workers],
            ran: vec![vec![Duration::ZERO; n]; workers],
            lagged: vec![vec![0; n]; workers],
            tcp: vec![Default::default(); workers],
            latency: (0..n).map(|_| new_histogram()).collect(),
            connect: (0..n).map(|_| new_histogram()).collect(),
            window: new_histogram(),
            last_line: None,
            done: vec![false; workers],
        }
    }

    pub fn ingest(&mut self, r: WorkerReport) {
        let w = r.worker;
        if w >= self.workers {
            return;
        }
        for (p, d) in r.phases.into_iter().enumerate() {
            if p >= self.latency.len() {
                break;
            }
            self.latest[w][p] = (d.counts, d.open);
            if let Some(h) = d.latency {
                let _ = self.latency[p].add(&h);
                let _ = self.window.add(&h);
            }
            if let Some(h) = d.connect {
                let _ = self.connect[p].add(&h);
            }
        }
        self.worker_phase[w] = r.phase;
        self.ran[w] = r.ran;
        self.lagged[w] = r.lagged;
        self.tcp[w] = (r.tcp, r.tx);
        self.done[w] = r.done;
    }

    pub fn all_done(&self) -> bool {
        self.done.iter().all(|d| *d)
    }

    fn totals(&self) -> (Counts, u64) {
        let mut c = Counts::default();
        let mut open = 0;
        for w in &self.latest {
            for (pc, o) in w {
                c.add(pc);
                open += o;
            }
        }
        (c, open)
    }

    /// One line for the last interval: rates, open connections, errors, p99.
    pub fn live_line(&mut self, now: std::time::Instant, elapsed: Duration) -> String {
        let (c, open) = self.totals();
        let (dt, prev) = match self.last_line {
            Some((t, p)) => (now.duration_since(t).as_secs_f64().max(1e-3), p),
            None => (elapsed.as_secs_f64().max(1e-3), Counts::default()),
        };
        self.last_line = Some((now, c));
        let phase = self
            .worker_phase
            .iter()
            .flatten()
            .max()
            .map_or("-", |p| self.scenario.phases[*p].name.as_str());
        let rate = |a: u64, b: u64| si(a.saturating_sub(b) as f64 / dt);
        let p99 = if self.window.is_empty() {
            "-".to_string()
        } else {
            us(self.window.value_at_quantile(0.99))
        };
        self.window.reset();
        let syns = if c.syns_sent > 0 {
            format!(" | syn/s {}", rate(c.syns_sent, prev.syns_sent))
        } else {
            String::new()
        };
        format!(
            "[{:>6.1}s] {phase}: conn/s {} req/s {} open {} | rx {}b/s tx {}b/s | errors {} (+{}) | p99 {p99}{syns}",
            elapsed.as_secs_f64(),
            rate(c.connected, prev.connected),
            rate(c.responses, prev.responses),
            open,
            si(c.bytes_received.saturating_sub(prev.bytes_received) as f64 * 8.0 / dt),
            si(c.bytes_sent.saturating_sub(prev.bytes_sent) as f64 * 8.0 / dt),
            c.errors(),
            c.errors().saturating_sub(prev.errors()),
        )
    }

    pub fn report(&self, target: String, local_ips: Vec<String>, elapsed: Duration) -> Report {
        let mut phases = Vec::new();
        let mut total = Counts::default();
        let mut all_lat = new_histogram();
        for (p, ph) in self.scenario.phases.iter().enumerate() {
            let mut c = Counts::default();
            for w in &self.latest {
                c.add(&w[p].0);
            }
            total.add(&c);
            let _ = all_lat.add(&self.latency[p]);
            let ran = self.ran.iter().map(|r| r[p]).max().unwrap_or_default();
            let secs = ran.as_secs_f64();
            let per_s = |x: u64| {
                if secs > 0.0 {
                    (x as f64 / secs * 10.0).round() / 10.0
                } else {
                    0.0
                }
            };
            let mbit = |x: u64| {
                if secs > 0.0 {
                    (x as f64 * 8.0 / secs / 1e6 * 1000.0).round() / 1000.0
                } else {
                    0.0
                }
            };
            phases.push(PhaseReport {
                name: ph.name.clone(),
                mode: ph.mode.name(),
                protocol: ph.protocol.name(),
                duration_s: (secs * 1000.0).round() / 1000.0,
                counts: c,
                errors: c.errors(),
                conns_per_s: per_s(c.connected),
                requests_per_s: per_s(c.requests),
                responses_per_s: per_s(c.responses),
                tx_mbit_per_s: mbit(c.bytes_sent),
                rx_mbit_per_s: mbit(c.bytes_received),
                syns_per_s: per_s(c.syns_sent),
                latency_us: Percentiles::of(&self.latency[p]),
                connect_us: Percentiles::of(&self.connect[p]),
                lagged: self.lagged.iter().map(|l| l[p]).sum(),
            });
        }
        Report {
            scenario: self.scenario.name.clone(),
            target,
            local_ips,
            workers: self.workers,
            elapsed_s: (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            phases,
            total_errors: total.errors(),
            total_counts: total,
            total_latency_us: Percentiles::of(&all_lat),
            engine: {
                let (mut tcp, mut tx) = (Counters::default(), TxStats::default());
                for (c, t) in &self.tcp {
                    tcp.add(c);
                    tx.dropped += t.dropped;
                    tx.alloc_failed += t.alloc_failed;
                    tx.sent += t.sent;
                }
                EngineReport::of(&tcp, &tx)
            },
        }
    }
}

/// The final report as text.
pub fn render(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "tcpterm gen: scenario {} against {} from {} ({} worker(s)), {:.1}s",
        r.scenario,
        r.target,
        r.local_ips.join(" "),
        r.workers,
        r.elapsed_s
    );
    for p in &r.phases {
        let c = &p.counts;
        let _ = writeln!(
            s,
            "\nphase {} ({} {}, {:.1}s)\n  conns    {} opened, {} established, {} closed: {}/s\n  requests {} sent, {} answered: {}/s\n  bytes    tx {} ({} Mbit/s)  rx {} ({} Mbit/s)",
            p.name, p.mode, p.protocol, p.duration_s,
            c.conn_attempts, c.connected, c.closed, p.conns_per_s,
            c.requests, c.responses, p.responses_per_s,
            c.bytes_sent, p.tx_mbit_per_s, c.bytes_received, p.rx_mbit_per_s,
        );
        if c.syns_sent + c.syns_unsent > 0 || p.mode == "syn-flood" {
            let _ = writeln!(
                s,
                "  syns     {} spoofed SYNs sent: {}/s ({} found no buffer or no target MAC)",
                c.syns_sent, p.syns_per_s, c.syns_unsent
            );
        }
        for (name, l) in [("latency", &p.latency_us), ("connect", &p.connect_us)] {
            if l.count > 0 {
                let _ = writeln!(
                    s,
                    "  {name:<8} p50 {} p90 {} p99 {} p99.9 {} max {} (n={})",
                    us(l.p50),
                    us(l.p90),
                    us(l.p99),
                    us(l.p999),
                    us(l.max),
                    l.count
                );
            }
        }
        let _ = writeln!(s, "  errors   {}{}", p.errors, error_detail(c));
        if p.lagged > 0 {
            let _ = writeln!(
                s,
                "  lagged   {} paced actions skipped (the generator fell behind its rate)",
                p.lagged
            );
        }
    }
    let _ = writeln!(
        s,
        "\ntotal: {} responses, {} errors{}",
        r.total_counts.responses,
        r.total_errors,
        error_detail(&r.total_counts)
    );
    let e = &r.engine;
    let mib = |k: &str| e.mib.get(k).unwrap_or(0);
    let drops: Vec<String> = e
        .drops
        .0
        .iter()
        .filter(|(_, v)| *v > 0)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(
        s,
        "tcp: {} segments retransmitted ({} loss probes, {} timeouts), {} dropped{}, tx dropped {}, no buffer {}",
        mib("RetransSegs"),
        mib("TCPLossProbes"),
        mib("TCPTimeouts"),
        e.drops.0.iter().map(|(_, v)| v).sum::<u64>(),
        if drops.is_empty() {
            String::new()
        } else {
            format!(" ({})", drops.join(", "))
        },
        e.tx_dropped,
        e.tx_no_buffer
    );
    s
}

fn error_detail(c: &Counts) -> String {
    let kinds = [
        ("refused", c.refused),
        ("connect timeouts", c.connect_timeouts),
        ("response timeouts", c.response_timeouts),
        ("resets", c.resets),
        ("wrong data", c.wrong_data),
        ("http errors", c.http_errors),
        ("early closes", c.early_closes),
        ("tcp timeouts", c.tcp_timeouts),
        ("aborted", c.aborted),
        ("local", c.local_errors),
    ];
    let v: Vec<String> = kinds
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if v.is_empty() {
        String::new()
    } else {
        format!(" ({})", v.join(", "))
    }
}
