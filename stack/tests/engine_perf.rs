//! Rough short-transaction throughput probe (prints; asserts nothing about speed).
//! `cargo test --release -p stack --test engine_perf -- --ignored --nocapture`

use core::time::Duration;
use stack::sim::{Impairments, Pair};
use stack::testing::*;
use stack::{App, CloseReason, ConnHandle, Engine, Instant, Socket, TcpConfig};

#[derive(Default)]
struct Client {
    done: u64,
}

impl App for Client {
    type State = u32;
    fn on_open(&mut self, sock: &mut Socket<'_, u32>) {
        sock.send(&[0x55; 64]);
    }
    fn on_data(&mut self, sock: &mut Socket<'_, u32>, data: &[u8]) -> usize {
        *sock.state() += data.len() as u32;
        if *sock.state() >= 64 {
            sock.close();
        }
        data.len()
    }
    fn on_closed(&mut self, _s: &mut u32, _h: ConnHandle, r: CloseReason) {
        assert_eq!(r, CloseReason::Normal);
        self.done += 1;
    }
}

#[test]
#[ignore]
fn short_transactions_per_second() {
    let tcp = TcpConfig {
        msl: Duration::from_millis(10),
        ..TcpConfig::default()
    };
    let now = Instant::from_secs(1);
    let server = Engine::new(
        engine_config(LOCAL_IP, LOCAL_MAC, tcp.clone()),
        Echo::default(),
        now,
    )
    .unwrap();
    let client = Engine::new(
        engine_config(PEER_IP, PEER_MAC, tcp),
        Client::default(),
        now,
    )
    .unwrap();
    let mut p = Pair::new(
        server,
        client,
        Impairments::perfect(),
        Impairments::perfect(),
        1,
        now,
    );
    p.a.listen(80).unwrap();
    // Warm-up resolves ARP.
    p.with_b(|e, now, out| e.connect(now, core::net::SocketAddrV4::new(LOCAL_IP, 80), 0, out))
        .unwrap();
    p.run_until(Instant::from_secs(10), |p| p.b.app().done == 1);
    let total = 200_000u64;
    let batch = 256u64;
    let t0 = std::time::Instant::now();
    let mut started = 1u64;
    while p.b.app().done < total + 1 {
        while started - p.b.app().done < batch && started < total + 1 {
            p.with_b(|e, now, out| {
                e.connect(now, core::net::SocketAddrV4::new(LOCAL_IP, 80), 0, out)
            })
            .unwrap();
            started += 1;
        }
        // 1 ms of simulated time per round lets TIME_WAIT (20 ms) expire and free ports.
        p.advance(Duration::from_millis(1));
    }
    let el = t0.elapsed();
    println!(
        "{total} transactions in {el:?}: {:.0}/s (both ends on one core, sim wire included); \
         server conns {} tw {}; client tw {}",
        total as f64 / el.as_secs_f64(),
        p.a.conn_count(),
        p.a.time_wait_count(),
        p.b.time_wait_count()
    );
}
