//! The stats thread's state: the latest report per worker and a short history for rates.

use super::{PortStats, Rates, Snapshot, WorkerReport, WorkerView, SNAPSHOT_VERSION};
use crate::apps::AppStats;
use stack::Counters;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Rates are averaged over about this long.
pub const RATE_WINDOW: Duration = Duration::from_secs(1);

/// The few totals rates are computed from.
#[derive(Clone, Copy, Debug)]
struct Sample {
    at: Instant,
    opens: u64,
    requests: u64,
    rx_frames: u64,
    tx_frames: u64,
    rx_bytes: u64,
    tx_bytes: u64,
    drops: u64,
}

impl Sample {
    fn of(r: &WorkerReport) -> Self {
        let c = &r.counters;
        Sample {
            at: r.at,
            opens: c.mib.passive_opens + c.mib.active_opens,
            requests: r.app.requests,
            rx_frames: c.mib.in_frames,
            tx_frames: c.mib.out_frames,
            rx_bytes: c.rx_bytes,
            tx_bytes: c.tx_bytes,
            drops: c.total_drops(),
        }
    }
}

fn rates(h: &VecDeque<Sample>) -> Rates {
    let (Some(a), Some(b)) = (h.front(), h.back()) else {
        return Rates::default();
    };
    let dt = b.at.saturating_duration_since(a.at).as_secs_f64();
    if dt <= 0.0 {
        return Rates::default();
    }
    let per = |x: u64, y: u64| y.saturating_sub(x) as f64 / dt;
    Rates {
        cps: per(a.opens, b.opens),
        rps: per(a.requests, b.requests),
        rx_pps: per(a.rx_frames, b.rx_frames),
        tx_pps: per(a.tx_frames, b.tx_frames),
        rx_bps: 8.0 * per(a.rx_bytes, b.rx_bytes),
        tx_bps: 8.0 * per(a.tx_bytes, b.tx_bytes),
        drops: per(a.drops, b.drops),
    }
}

struct Slot {
    core: Option<usize>,
    latest: Option<WorkerReport>,
    history: VecDeque<Sample>,
}

pub struct Hub {
    started: Instant,
    ip: String,
    listeners: Vec<(u16, String)>,
    workers: Vec<Slot>,
    port: Option<PortStats>,
    shutting_down: bool,
}

impl Hub {
    /// `cores[i]` is worker i's core (`None` when unpinned).
    pub fn new(ip: String, listeners: Vec<(u16, String)>, cores: &[Option<usize>]) -> Self {
        Hub {
            started: Instant::now(),
            ip,
            listeners,
            workers: cores
                .iter()
                .map(|&core| Slot {
                    core,
                    latest: None,
                    history: VecDeque::new(),
                })
                .collect(),
            port: None,
            shutting_down: false,
        }
    }

    pub fn ingest(&mut self, r: WorkerReport) {
        let Some(slot) = self.workers.get_mut(r.worker) else {
            return;
        };
        slot.latest = Some(r);
        let h = &mut slot.history;
        h.push_back(Sample::of(&r));
        // Keep the newest sample at least a window older than the latest, and nothing before it.
        while h.len() > 2 && r.at.saturating_duration_since(h[1].at) >= RATE_WINDOW {
            h.pop_front();
        }
    }

    pub fn set_port(&mut self, p: PortStats) {
        self.port = Some(p);
    }

    pub fn set_shutting_down(&mut self) {
        self.shutting_down = true;
    }

    /// The latest report of every worker that has reported.
    pub fn latest(&self) -> impl Iterator<Item = &WorkerReport> {
        self.workers.iter().filter_map(|w| w.latest.as_ref())
    }

    pub fn snapshot(&self, now: Instant) -> Snapshot {
        let mut total_c = Counters::default();
        let mut total_app = AppStats::default();
        let mut total_q = super::QueueStats::default();
        let mut total_rates = Rates::default();
        let (mut conns, mut tw) = (0, 0);
        let mut workers = Vec::with_capacity(self.workers.len());
        for (i, slot) in self.workers.iter().enumerate() {
            let r = slot.latest.unwrap_or(WorkerReport {
                worker: i,
                at: now,
                counters: Counters::default(),
                app: AppStats::default(),
                queue: super::QueueStats::default(),
                conns: 0,
                time_wait: 0,
            });
            let rt = rates(&slot.history);
            let mut v = WorkerView::new(Some(i), slot.core, &r.counters, r.app, r.queue, rt);
            v.conns = r.conns;
            v.time_wait = r.time_wait;
            v.age_ms = now.saturating_duration_since(r.at).as_millis() as u64;
            total_c.add(&r.counters);
            total_app.add(&r.app);
            total_q.rx_packets += r.queue.rx_packets;
            total_q.tx_packets += r.queue.tx_packets;
            total_q.tx_dropped += r.queue.tx_dropped;
            total_q.redirected_in += r.queue.redirected_in;
            total_q.redirected_out += r.queue.redirected_out;
            total_q.redirect_dropped += r.queue.redirect_dropped;
            total_rates.cps += rt.cps;
            total_rates.rps += rt.rps;
            total_rates.rx_pps += rt.rx_pps;
            total_rates.tx_pps += rt.tx_pps;
            total_rates.rx_bps += rt.rx_bps;
            total_rates.tx_bps += rt.tx_bps;
            total_rates.drops += rt.drops;
            conns += r.conns;
            tw += r.time_wait;
            workers.push(v);
        }
        let mut total = WorkerView::new(None, None, &total_c, total_app, total_q, total_rates);
        total.conns = conns;
        total.time_wait = tw;
        total.age_ms = workers.iter().map(|w| w.age_ms).max().unwrap_or(0);
        Snapshot {
            version: SNAPSHOT_VERSION,
            pid: std::process::id(),
            uptime_ms: now.saturating_duration_since(self.started).as_millis() as u64,
            ip: self.ip.clone(),
            listeners: self.listeners.clone(),
            workers,
            total,
            port: self.port.clone(),
            shutting_down: self.shutting_down,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(worker: usize, at: Instant, opens: u64, requests: u64) -> WorkerReport {
        let mut counters = Counters::default();
        counters.mib.passive_opens = opens;
        counters.mib.in_frames = opens * 3;
        counters.drops.tcp_checksum = opens / 10;
        counters.states.enter(stack::State::Established);
        WorkerReport {
            worker,
            at,
            counters,
            app: AppStats {
                requests,
                ..AppStats::default()
            },
            queue: Default::default(),
            conns: 1,
            time_wait: 0,
        }
    }

    #[test]
    fn rates_are_deltas_over_the_last_second_and_totals_sum_workers() {
        let t0 = Instant::now();
        let mut hub = Hub::new(
            "198.18.0.1/24".into(),
            vec![(80, "http".into())],
            &[Some(1), Some(2)],
        );
        // Worker 0: 1000 opens/s and 5000 requests/s, reporting every 100 ms for 3 s.
        for i in 0..=30u64 {
            let at = t0 + Duration::from_millis(100 * i);
            hub.ingest(report(0, at, 100 * i, 500 * i));
            hub.ingest(report(1, at, 10 * i, 0));
        }
        let now = t0 + Duration::from_millis(3000);
        let s = hub.snapshot(now);
        let w0 = &s.workers[0].rates;
        assert!((w0.cps - 1000.0).abs() < 1e-6, "{w0:?}");
        assert!((w0.rps - 5000.0).abs() < 1e-6);
        assert!((w0.rx_pps - 3000.0).abs() < 1e-6);
        assert!((w0.drops - 100.0).abs() < 1e-6);
        assert!((s.workers[1].rates.cps - 100.0).abs() < 1e-6);
        assert!((s.total.rates.cps - 1100.0).abs() < 1e-6);
        assert_eq!(s.total.mib.get("PassiveOpens"), Some(3300));
        assert_eq!(s.total.states.get("ESTABLISHED"), Some(2));
        assert_eq!(s.total.conns, 2);
        assert_eq!(s.workers[1].core, Some(2));
        assert!((2900..=3000).contains(&s.uptime_ms), "{}", s.uptime_ms);
        // History stays bounded to about one window.
        assert!(hub.workers[0].history.len() <= 12);
    }

    #[test]
    fn a_worker_that_has_not_reported_shows_zeros() {
        let hub = Hub::new(String::new(), vec![], &[None]);
        let s = hub.snapshot(Instant::now());
        assert_eq!(s.workers.len(), 1);
        assert_eq!(s.total.rates, Rates::default());
        assert_eq!(s.total.mib.get("InSegs"), Some(0));
    }

    #[test]
    fn reports_for_unknown_workers_are_ignored() {
        let mut hub = Hub::new(String::new(), vec![], &[None]);
        hub.ingest(report(5, Instant::now(), 1, 1));
        assert_eq!(hub.latest().count(), 0);
    }
}
