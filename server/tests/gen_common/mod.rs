//! The generator on one in-memory engine against a server app on another.

#![allow(dead_code)]

use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use stack::sim::{Impairments, Pair};
use stack::wire::{ChecksumCaps, MacAddr};
use stack::{App, Engine, EngineConfig, Instant, TcpConfig};
use tcpterm::apps::http::HttpConfig;
use tcpterm::apps::{AppKind, BuiltinApp, Listeners};
use tcpterm::gen::driver::Driver;
use tcpterm::gen::ports::{ports_for_queue, PortCycle, Steering};
use tcpterm::gen::report::PhaseDelta;
use tcpterm::gen::{prepare, GenApp, Scenario};

pub const GEN_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const HTTP: u16 = 80;
pub const ECHO: u16 = 7;

pub fn config(ip: Ipv4Addr, mac: u8) -> EngineConfig {
    EngineConfig {
        tcp: TcpConfig {
            msl: Duration::from_secs(1),
            rto_min: Duration::from_millis(20),
            delayed_ack: Duration::from_millis(5),
            ..TcpConfig::default()
        },
        ip,
        prefix_len: 24,
        gateway: None,
        mac: MacAddr([0x02, 0, 0, 0, 0, mac]),
        checksums: ChecksumCaps::default(),
        mtu: 1500,
        seed: u64::from(mac) * 7919,
        arp_timeout: Duration::from_secs(300),
    }
}

pub fn builtin(body_size: usize) -> BuiltinApp {
    BuiltinApp::new(
        Listeners(vec![(HTTP, AppKind::Http), (ECHO, AppKind::Echo)]),
        &HttpConfig {
            body_size,
            ..HttpConfig::default()
        },
    )
}

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
    let a = Engine::new(config(GEN_IP, 2), GenApp::new(phases.clone()), now).unwrap();
    let mut b = Engine::new(config(SERVER_IP, 1), server, now).unwrap();
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
    let mut driver = Driver::new(
        phases,
        target,
        0,
        1,
        vec![ports],
        vec![(GEN_IP, MacAddr([0x02, 0, 0, 0, 0, 2]))],
    );
    // What the DPDK worker learns from the target's ARP reply (syn-flood frames need it).
    driver.target_mac = Some(MacAddr([0x02, 0, 0, 0, 0, 1]));
    let res = tcpterm::gen::sim::run(&mut pair, &mut driver, limit);
    assert!(
        driver.is_done(),
        "the generator did not finish: {:?}",
        driver.stage()
    );
    (res, pair, driver)
}
