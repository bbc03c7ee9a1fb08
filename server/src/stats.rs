//! Statistics: what workers publish, how the stats thread keeps the latest of it, and the
//! snapshot `tcpterm stat` receives (JSON) and prints.
//!
//! Workers never lock and never wait: every ~100 ms each sends a plain-data [`WorkerReport`]
//! (its `stack::Counters` copied, no allocation) with `try_send` on a bounded channel. The stats
//! thread ([`Hub`]) keeps the latest report per worker plus a one-second history for rates.

pub mod hub;
pub mod render;

pub use hub::Hub;

use crate::apps::AppStats;
use serde::{Deserialize, Serialize};
use stack::Counters;

/// Packets a worker moved through its queue pair (as seen by the worker).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    /// Frames the TX queue did not take (ring full) and were freed.
    pub tx_dropped: u64,
    /// Frames handed to another worker (software RSS), and received from others.
    pub redirected_out: u64,
    pub redirected_in: u64,
    /// Frames for another worker dropped because its ring was full (or no mbuf for a copy).
    #[serde(default)]
    pub redirect_dropped: u64,
}

/// One worker's state at one moment, sent to the stats thread.
#[derive(Clone, Copy, Debug)]
pub struct WorkerReport {
    pub worker: usize,
    pub at: std::time::Instant,
    pub counters: Counters,
    pub app: AppStats,
    pub queue: QueueStats,
    /// Live connections (TIME_WAIT excluded) and TIME_WAIT entries.
    pub conns: u64,
    pub time_wait: u64,
}

/// Port (device) counters, as DPDK's `rte_eth_stats` gives them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortStats {
    pub name: String,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Dropped by the NIC because the RX queue was full (the workers fell behind).
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// RX failed for lack of mbufs.
    pub rx_nombuf: u64,
}

/// Per-second rates over the last second or so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// New connections (passive + active opens).
    pub cps: f64,
    /// Requests answered by the apps.
    pub rps: f64,
    pub rx_pps: f64,
    pub tx_pps: f64,
    /// Payload bits per second.
    pub rx_bps: f64,
    pub tx_bps: f64,
    /// Frames dropped (all reasons).
    pub drops: f64,
}

/// `(name, value)` pairs that keep their order and serialise as a JSON object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Named(pub Vec<(String, u64)>);

impl Named {
    pub fn get(&self, name: &str) -> Option<u64> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
    fn from_iter<'a>(it: impl Iterator<Item = (&'a str, u64)>) -> Self {
        Named(it.map(|(n, v)| (n.to_string(), v)).collect())
    }
}

impl Serialize for Named {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Named {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Named;
            fn expecting(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
                f.write_str("a map of counter names to numbers")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Named, A::Error> {
                let mut v = Vec::new();
                while let Some((k, n)) = a.next_entry::<String, u64>()? {
                    v.push((k, n));
                }
                Ok(Named(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// One worker (or the total over all of them) as `tcpterm stat` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerView {
    /// `None` for the total.
    pub worker: Option<usize>,
    pub core: Option<usize>,
    /// Connections per TCP state, netstat names.
    pub states: Named,
    pub conns: u64,
    pub time_wait: u64,
    pub orphans: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub app: AppStats,
    pub queue: QueueStats,
    pub rates: Rates,
    /// Linux MIB counters (`netstat -s` names).
    pub mib: Named,
    /// Every drop reason.
    pub drops: Named,
    /// Milliseconds since this worker last reported (a stuck worker shows here).
    pub age_ms: u64,
}

impl WorkerView {
    pub fn new(
        worker: Option<usize>,
        core: Option<usize>,
        c: &Counters,
        app: AppStats,
        queue: QueueStats,
        rates: Rates,
    ) -> Self {
        WorkerView {
            worker,
            core,
            states: Named(
                c.states
                    .entries()
                    .filter(|(s, _)| !matches!(s, stack::State::Closed | stack::State::Listen))
                    .map(|(s, v)| (s.netstat_name().to_string(), v))
                    .collect(),
            ),
            conns: 0,
            time_wait: 0,
            orphans: c.orphans,
            rx_bytes: c.rx_bytes,
            tx_bytes: c.tx_bytes,
            app,
            queue,
            rates,
            mib: Named::from_iter(c.mib.entries()),
            drops: Named::from_iter(c.drops.entries()),
            age_ms: 0,
        }
    }

    pub fn total_drops(&self) -> u64 {
        self.drops.0.iter().map(|(_, v)| v).sum()
    }
}

/// What the control socket answers to `snapshot`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Bumped when the format changes incompatibly.
    pub version: u32,
    pub pid: u32,
    pub uptime_ms: u64,
    /// `ADDR/PREFIX`.
    pub ip: String,
    /// `(port, app name)`.
    pub listeners: Vec<(u16, String)>,
    pub workers: Vec<WorkerView>,
    pub total: WorkerView,
    pub port: Option<PortStats>,
    /// Set while the server is shutting down.
    pub shutting_down: bool,
}

pub const SNAPSHOT_VERSION: u32 = 1;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A snapshot with recognisable values, for rendering and protocol tests.
    pub fn sample() -> Snapshot {
        let mut c = Counters::default();
        c.states.enter(stack::State::Established);
        c.states.enter(stack::State::Established);
        c.states.enter(stack::State::TimeWait);
        c.mib.passive_opens = 42;
        c.drops.tcp_no_listener = 7;
        c.rx_bytes = 1000;
        let rates = Rates {
            cps: 1500.0,
            rps: 250_000.0,
            rx_pps: 1_250_000.0,
            ..Rates::default()
        };
        let app = AppStats {
            requests: 9,
            ..AppStats::default()
        };
        let mut w0 = WorkerView::new(Some(0), Some(2), &c, app, QueueStats::default(), rates);
        w0.conns = 2;
        w0.time_wait = 1;
        let mut w1 = w0.clone();
        w1.worker = Some(1);
        w1.core = Some(3);
        let mut total_c = c;
        total_c.add(&c);
        let mut total = WorkerView::new(None, None, &total_c, app, QueueStats::default(), rates);
        total.conns = 4;
        total.time_wait = 2;
        Snapshot {
            version: SNAPSHOT_VERSION,
            pid: 1234,
            uptime_ms: 3_723_000,
            ip: "198.18.0.1/24".into(),
            listeners: vec![(80, "http".into()), (7, "echo".into())],
            workers: vec![w0, w1],
            total,
            port: Some(PortStats {
                name: "net_tap0".into(),
                rx_packets: 10,
                ..PortStats::default()
            }),
            shutting_down: false,
        }
    }

    #[test]
    fn snapshot_round_trips_through_json_keeping_counter_order() {
        let s = sample();
        let json = serde_json::to_string(&s).unwrap();
        let back: Snapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.total.mib.0[0].0, "ActiveOpens");
        assert_eq!(back.total.mib.get("PassiveOpens"), Some(84));
        assert_eq!(back.total.drops.get("tcp_no_listener"), Some(14));
    }

    #[test]
    fn json_is_script_friendly_objects_keyed_by_name() {
        let v: serde_json::Value = serde_json::to_value(sample()).unwrap();
        assert_eq!(v["total"]["states"]["ESTABLISHED"], 4);
        assert_eq!(v["total"]["states"]["TIME_WAIT"], 2);
        assert_eq!(v["workers"][1]["core"], 3);
        assert_eq!(v["total"]["mib"]["PassiveOpens"], 84);
        assert_eq!(v["total"]["drops"]["tcp_no_listener"], 14);
        assert_eq!(v["workers"][0]["rates"]["cps"], 1500.0);
        assert!(v["total"]["states"].get("LISTEN").is_none());
    }

    #[test]
    fn every_counter_and_drop_reason_is_in_the_view() {
        let c = Counters::default();
        let w = WorkerView::new(
            None,
            None,
            &c,
            AppStats::default(),
            QueueStats::default(),
            Rates::default(),
        );
        assert_eq!(w.mib.0.len(), c.mib.entries().count());
        assert_eq!(w.drops.0.len(), c.drops.entries().count());
        assert_eq!(w.states.0.len(), 9);
    }
}
