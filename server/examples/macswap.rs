//! A macswap reflector on the port layer: every received frame goes back out of the same port
//! with its Ethernet source and destination swapped (what `dpdk-testpmd --forward-mode=macswap`
//! does), so the layer's overhead can be measured against raw DPDK.
//!
//! ```text
//! macswap [EAL args] [-- --seconds N] [--port ID] [--queues Q]
//! macswap -l 0 --no-huge --no-pci -m 512 --file-prefix refl \
//!     --vdev net_memif0,role=client,socket=/tmp/bench.sock,socket-abstract=no -- --seconds 5
//! ```
//!
//! Polls on the EAL main lcore; prints the packets forwarded per second and a final summary
//! line (`macswap: ... pps`).

use std::time::{Duration, Instant};
use tcpterm::port::{Eal, Mempool, Port, PortConfig, TscClock, BURST};

struct Opts {
    seconds: f64,
    port: Option<u16>,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        seconds: 5.0,
        port: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--seconds" => o.seconds = val()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--port" => o.port = Some(val()?.parse().map_err(|e| format!("--port: {e}"))?),
            _ => return Err(format!("unknown option {a}")),
        }
    }
    Ok(o)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (eal_args, app_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (&args[..], &[][..]),
    };
    let opts = parse(app_args).unwrap_or_else(|e| {
        eprintln!("macswap: {e}\nusage: macswap [EAL args] [-- --seconds N] [--port ID]");
        std::process::exit(2);
    });
    let eal = Eal::init(eal_args).unwrap_or_else(|e| {
        eprintln!("macswap: {e}");
        std::process::exit(1);
    });
    let pool = Mempool::new(&eal, "macswap", 16383, 256).expect("mempool");
    let id = match opts.port {
        Some(id) => id,
        None => *Port::ids(&eal).first().expect("no DPDK port; pass --vdev"),
    };
    let cfg = PortConfig {
        rss: false,
        checksum_offload: false,
        ..PortConfig::default()
    };
    let port = Port::open(&eal, id, &cfg, &pool).expect("open port");
    eprintln!("macswap: {:?}, waiting for link", port);
    let link = port.wait_link_up(Duration::from_secs(30));
    if !link.up {
        eprintln!("macswap: link down after 30 s");
        std::process::exit(1);
    }
    let mut rxq = port.rx_queue(0).unwrap();
    let mut txq = port.tx_queue(0).unwrap();
    let clock = TscClock::new(&eal);
    let hz = clock.hz();
    let end = TscClock::rdtsc() + (opts.seconds * hz as f64) as u64;
    let mut next_report = TscClock::rdtsc() + hz;

    let mut bufs = Vec::with_capacity(BURST);
    let (mut rx, mut tx, mut dropped) = (0u64, 0u64, 0u64);
    let mut last_tx = 0u64;
    let start = Instant::now();
    let mut polls = 0u32;
    // Where the time goes: polls that found nothing (waiting on the wire) against cycles spent
    // on bursts that carried packets (the layer's and the PMD's per-packet cost).
    let (mut empty_polls, mut total_polls, mut busy_cycles) = (0u64, 0u64, 0u64);
    loop {
        let t0 = TscClock::rdtsc();
        let n = rxq.rx_burst(&mut bufs);
        total_polls += 1;
        if n == 0 {
            empty_polls += 1;
        } else {
            rx += n as u64;
            for m in bufs.iter_mut() {
                let d = m.data_mut();
                if d.len() >= 12 {
                    let (dst, rest) = d.split_at_mut(6);
                    dst.swap_with_slice(&mut rest[..6]);
                }
            }
            tx += txq.tx_burst(&mut bufs) as u64;
            // As testpmd without --tx-retry: what the wire refuses is dropped (freed here).
            dropped += bufs.len() as u64;
            bufs.clear();
            busy_cycles += TscClock::rdtsc() - t0;
        }
        polls = polls.wrapping_add(1);
        if polls & 1023 == 0 {
            let now = TscClock::rdtsc();
            if now >= next_report {
                eprintln!("macswap: {} pps", tx - last_tx);
                last_tx = tx;
                next_report += hz;
            }
            if now >= end {
                break;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "macswap: rx {rx} tx {tx} dropped {dropped} in {secs:.2} s = {:.0} pps; \
         {:.1}% of polls empty, {:.1} packets per non-empty burst, {:.0} cycles per packet \
         (rx+swap+tx, non-empty bursts; TSC {:.2} GHz)",
        tx as f64 / secs,
        100.0 * empty_polls as f64 / total_polls.max(1) as f64,
        rx as f64 / (total_polls - empty_polls).max(1) as f64,
        busy_cycles as f64 / rx.max(1) as f64,
        hz as f64 / 1e9,
    );
    drop((rxq, txq, port));
}
