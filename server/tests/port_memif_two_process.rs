//! Two processes over `net_memif`: a million frames cross from a client process to a server
//! process and are counted on both sides (application counters and port stats), in order.
//!
//! The test re-runs its own binary as the client (selected by an environment variable), since
//! EAL runs once per process.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tcpterm::port::{Eal, Mempool, Port, PortConfig, BURST};

const FRAMES: u64 = 1_000_000;
const TEST_NAME: &str = "memif_million_frames_cross_counted_on_both_sides";
const CHILD_ENV: &str = "TCPTERM_TEST_MEMIF_CLIENT_SOCKET";

fn memif_vdev(role: &str, socket: &str) -> String {
    format!("net_memif0,role={role},socket={socket},socket-abstract=no")
}

fn open(eal: &Eal, pool: &Mempool) -> Port {
    let id = Port::id_by_name(eal, "net_memif0").expect("net_memif0");
    Port::open(eal, id, &PortConfig::default(), pool).expect("open memif")
}

/// The sending side, in the child process.
fn client(socket: &str) {
    let eal = support::eal::init("memif-c", 1, &[memif_vdev("client", socket)]);
    let pool = Mempool::new(&eal, "memif_c", 8191, 256).unwrap();
    let port = open(&eal, &pool);
    assert!(
        port.wait_link_up(Duration::from_secs(20)).up,
        "client: memif link did not come up"
    );
    let mut txq = port.tx_queue(0).unwrap();
    let mut bufs = Vec::with_capacity(BURST);
    let mut seq = 0u64;
    let mut sent = 0u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while sent < FRAMES {
        assert!(
            Instant::now() < deadline,
            "client: stuck after {sent} frames"
        );
        while bufs.len() < BURST && seq < FRAMES {
            let Some(mut m) = pool.alloc() else { break };
            let d = m.append(64).unwrap();
            d[..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1]);
            d[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
            d[14..22].copy_from_slice(&seq.to_be_bytes());
            bufs.push(m);
            seq += 1;
        }
        // Unsent frames stay in `bufs` and are offered again: memif never drops.
        sent += txq.tx_burst(&mut bufs) as u64;
    }
    let opackets = port.stats().unwrap().opackets;
    println!("\nCLIENT_SENT {sent} {opackets}");
    // Stay connected until the server has taken everything from the shared rings: it closes
    // our stdin when done.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(txq);
    drop(port);
    assert_eq!(pool.available(), pool.capacity());
}

#[test]
fn memif_million_frames_cross_counted_on_both_sides() {
    if let Ok(socket) = std::env::var(CHILD_ENV) {
        client(&socket);
        return;
    }
    let socket = format!("/tmp/tcpterm-test-memif-{}.sock", std::process::id());
    let _ = std::fs::remove_file(&socket);
    let eal = support::eal::init("memif-s", 0, &[memif_vdev("server", &socket)]);
    let pool = Mempool::new(&eal, "memif_s", 8191, 256).unwrap();
    let port = open(&eal, &pool);
    let mut rxq = port.rx_queue(0).unwrap();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, &socket)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn client process");

    let mut received = 0u64;
    let mut next_seq = 0u64;
    let mut bufs = Vec::with_capacity(BURST);
    let deadline = Instant::now() + Duration::from_secs(120);
    while received < FRAMES && Instant::now() < deadline {
        if rxq.rx_burst(&mut bufs) == 0 {
            if let Ok(Some(st)) = child.try_wait() {
                panic!("client exited early ({st}) after {received} frames");
            }
            continue;
        }
        for m in bufs.drain(..) {
            let d = m.data();
            assert_eq!(d.len(), 64);
            let seq = u64::from_be_bytes(d[14..22].try_into().unwrap());
            assert_eq!(seq, next_seq, "frames arrive once each, in order");
            next_seq += 1;
            received += 1;
        }
    }
    // memif forgets its queue counters on disconnect: read them while the client is there.
    let ipackets = port.stats().unwrap().ipackets;
    // Release the client and read its count.
    drop(child.stdin.take());
    let mut client_line = String::new();
    let mut client_out = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        // The harness may have printed "test ... " on the same line first.
        if let Some(i) = line.find("CLIENT_SENT") {
            client_line = line[i..].to_owned();
        }
        client_out.push_str(&line);
        client_out.push('\n');
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "client process failed: {status}");

    let f: Vec<u64> = client_line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(
        f,
        vec![FRAMES, FRAMES],
        "client: frames sent, port opackets; client output:\n{client_out}"
    );
    assert_eq!(received, FRAMES, "server received every frame");
    assert_eq!(ipackets, FRAMES, "server port ipackets");
    println!("memif: {FRAMES} frames sent by the client, {received} received by the server");

    drop(rxq);
    drop(port);
    assert_eq!(pool.available(), pool.capacity(), "no mbuf leaked");
    let _ = std::fs::remove_file(&socket);
}
