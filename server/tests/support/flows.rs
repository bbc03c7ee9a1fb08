//! Many UDP flows from the kernel into a two-queue port, and how the port spread them.

use std::collections::HashMap;
use std::time::{Duration, Instant};
use tcpterm::port::{Mbuf, RxQueue, BURST};

/// A bash script sending `per_flow` one-byte datagrams on each of `flows` flows to `dst`, one
/// destination port per flow (each bash fd is one UDP socket, so one source port).
pub fn udp_flows_script(dst: &str, flows: u16, per_flow: u16) -> String {
    format!(
        "for p in $(seq 20000 {}); do exec 3>/dev/udp/{dst}/$p; \
         for i in $(seq 1 {per_flow}); do echo -n x >&3; done; exec 3>&-; done",
        20000 + flows - 1
    )
}

/// Datagrams received per queue, and per flow (destination port) per queue.
#[derive(Debug, Default)]
pub struct Spread {
    pub per_queue: [usize; 2],
    pub flows: HashMap<u16, [usize; 2]>,
}

/// Receives on both queues until `total` IPv4/UDP datagrams to `dst` arrived (anything else,
/// IPv6 noise for one, is ignored) or 5 s passed. `check` sees each datagram counted.
pub fn receive(
    rxq: &mut [RxQueue; 2],
    dst: [u8; 4],
    total: usize,
    mut check: impl FnMut(&Mbuf),
) -> Spread {
    let mut s = Spread::default();
    let mut bufs = Vec::with_capacity(BURST);
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.received() < total && Instant::now() < deadline {
        for (q, rx) in rxq.iter_mut().enumerate() {
            rx.rx_burst(&mut bufs);
            for m in bufs.drain(..) {
                let f = m.data();
                if f.len() >= 42 && f[12..14] == [8, 0] && f[23] == 17 && f[30..34] == dst {
                    check(&m);
                    let dport = u16::from_be_bytes([f[36], f[37]]);
                    s.flows.entry(dport).or_default()[q] += 1;
                    s.per_queue[q] += 1;
                }
            }
        }
    }
    s
}

impl Spread {
    pub fn received(&self) -> usize {
        self.per_queue.iter().sum()
    }

    /// Every datagram arrived, each flow on one queue, and both queues got some.
    pub fn assert_spread_and_kept_together(&self, total: usize) {
        assert_eq!(self.received(), total, "every datagram arrived");
        for (dport, counts) in &self.flows {
            assert!(
                counts[0] == 0 || counts[1] == 0,
                "flow to port {dport} split over queues: {counts:?}"
            );
        }
        assert!(
            self.per_queue[0] > 0 && self.per_queue[1] > 0,
            "flows spread over both queues: {:?}",
            self.per_queue
        );
    }
}
