//! Source ports whose replies come back to the worker that opened the connection.
//!
//! With symmetric RSS the NIC hashes the reply's (target, us) tuple with the same Toeplitz key
//! the server side uses; a connection is only usable if that hash selects the opening worker's
//! queue, so each worker keeps the list of source ports that do and cycles through it.

use core::net::{Ipv4Addr, SocketAddrV4};
use stack::wire::toeplitz::{queue_for, Toeplitz, SYMMETRIC_KEY};

/// How the port spreads received frames over queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Steering {
    /// One queue (or no RSS): every port works.
    Single,
    /// Symmetric Toeplitz RSS over `queues` queues with a `reta_size`-entry table.
    Rss { reta_size: u32, queues: u16 },
}

/// The lowest source port used; below are the well-known and registered-but-common ports.
pub const FIRST_PORT: u16 = 1024;

/// Every source port from `local` to `target` whose replies land on `queue`, ascending.
pub fn ports_for_queue(
    local: Ipv4Addr,
    target: SocketAddrV4,
    steering: Steering,
    queue: u16,
) -> Vec<u16> {
    match steering {
        Steering::Single => (FIRST_PORT..=u16::MAX).collect(),
        Steering::Rss { reta_size, queues } => {
            let t = Toeplitz::new(&SYMMETRIC_KEY);
            (FIRST_PORT..=u16::MAX)
                .filter(|&p| {
                    // The reply: from the target to us.
                    let h = t.hash_ipv4_tcp(*target.ip(), local, target.port(), p);
                    queue_for(h, reta_size.max(1), queues.max(1)) == queue
                })
                .collect()
        }
    }
}

/// Round-robin over a worker's usable source ports for one local address.
#[derive(Clone, Debug)]
pub struct PortCycle {
    ports: Vec<u16>,
    next: usize,
}

impl PortCycle {
    pub fn new(ports: Vec<u16>) -> Self {
        PortCycle { ports, next: 0 }
    }
    pub fn len(&self) -> usize {
        self.ports.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }
    /// The next port in the cycle (None if there are none).
    pub fn next_port(&mut self) -> Option<u16> {
        let p = *self.ports.get(self.next)?;
        self.next += 1;
        if self.next == self.ports.len() {
            self.next = 0;
        }
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_port_is_on_exactly_one_queue_and_the_split_is_even() {
        let local = Ipv4Addr::new(198, 18, 0, 2);
        let target = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 80);
        let st = Steering::Rss {
            reta_size: 128,
            queues: 4,
        };
        let per_q: Vec<Vec<u16>> = (0..4)
            .map(|q| ports_for_queue(local, target, st, q))
            .collect();
        let total: usize = per_q.iter().map(Vec::len).sum();
        assert_eq!(total, (u16::MAX - FIRST_PORT) as usize + 1);
        for q in &per_q {
            // Within 2.5% of a quarter each.
            assert!(
                (q.len() as f64 - total as f64 / 4.0).abs() < total as f64 * 0.025,
                "{}",
                q.len()
            );
        }
        // And the hash of the reply really selects the queue (checked with the reference hash).
        let p = per_q[2][17];
        let mut input = Vec::new();
        input.extend_from_slice(&target.ip().octets());
        input.extend_from_slice(&local.octets());
        input.extend_from_slice(&80u16.to_be_bytes());
        input.extend_from_slice(&p.to_be_bytes());
        let h = stack::wire::toeplitz::hash(&SYMMETRIC_KEY, &input);
        assert_eq!(queue_for(h, 128, 4), 2);
    }

    #[test]
    fn single_queue_uses_every_port_and_cycles() {
        let v = ports_for_queue(
            Ipv4Addr::new(10, 0, 0, 1),
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 7),
            Steering::Single,
            0,
        );
        assert_eq!(v.len(), 64512);
        let mut c = PortCycle::new(vec![5, 6]);
        assert_eq!(
            [c.next_port(), c.next_port(), c.next_port()],
            [Some(5), Some(6), Some(5)]
        );
        assert_eq!(PortCycle::new(vec![]).next_port(), None);
    }
}
