//! The generator on one in-memory engine against a server app on another.

pub use super::engines::*;
use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use stack::sim::{Impairments, Pair};
use stack::{App, Engine, Instant};
use tcpterm::gen::driver::Driver;
use tcpterm::gen::ports::{ports_for_queue, PortCycle, Steering};
use tcpterm::gen::report::PhaseDelta;
use tcpterm::gen::{prepare, GenApp, Scenario};

/// The generator's address.
pub const GEN_IP: Ipv4Addr = CLIENT_IP;

/// Runs `scenario` (TOML text) against `server` listening on `listen`, targeting `port`, one
/// wire delay of `delay` each way. Returns each phase's results and the pair.
pub fn run<B: App>(
    scenario: &str,
    server: B,
    listen: &[u16],
    port: u16,
    delay: Duration,
) -> (Vec<PhaseDelta>, Pair<GenApp, B>, Driver) {
    let sc = Scenario::parse(scenario, "test").unwrap();
    let limit = sc.total_duration() + Duration::from_secs(30);
    let phases = prepare(&sc);
    let now = Instant::from_secs(100);
    let a = Engine::new(config(GEN_IP, 2, tcp()), GenApp::new(phases.clone()), now).unwrap();
    let mut b = Engine::new(config(SERVER_IP, 1, tcp()), server, now).unwrap();
    for &p in listen {
        b.listen(p).unwrap();
    }
    let imp = Impairments {
        delay,
        ..Impairments::default()
    };
    let mut pair = Pair::new(a, b, imp, imp, 7, now);
    let target = SocketAddrV4::new(SERVER_IP, port);
    let ports = PortCycle::new(ports_for_queue(GEN_IP, target, Steering::Single, 0));
    let mut driver = Driver::new(phases, target, 0, 1, vec![ports], vec![(GEN_IP, mac(2))]);
    // What the DPDK worker learns from the target's ARP reply (syn-flood frames need it).
    driver.target_mac = Some(mac(1));
    let res = tcpterm::gen::sim::run(&mut pair, &mut driver, limit);
    assert!(
        driver.is_done(),
        "the generator did not finish: {:?}",
        driver.stage()
    );
    (res, pair, driver)
}
