//! The Linux kernel doing the short-transaction work of `short_txn` over loopback on one thread:
//! connect, accept, 64 B request, 64 B response, client closes first (so the client side holds
//! TIME_WAIT, as in the engine bench), server closes on EOF. SO_LINGER is left unset.
//!
//! Every iteration leaves a TIME_WAIT entry on a loopback port. Linux's default
//! `tcp_tw_reuse=2` lets loopback connects reuse them, so the ephemeral range does not run out;
//! if it does on another host (EADDRNOTAVAIL), shorten `--measurement-time`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;
use tcpterm_benches::timed_iters;

fn one_txn(listener: &TcpListener, addr: std::net::SocketAddr, req: &[u8; 64], buf: &mut [u8; 64]) {
    let mut client = TcpStream::connect(addr).expect("connect over loopback");
    let (mut server, _) = listener.accept().expect("accept");
    client.write_all(req).expect("client write");
    server.read_exact(buf).expect("server read");
    server.write_all(buf).expect("server write");
    client.read_exact(buf).expect("client read");
    // The client closes first and so takes TIME_WAIT, like the engine bench's client engine.
    drop(client);
    // Server closes on FIN: wait for EOF so the kernel has seen it, then close (LAST_ACK).
    let n = server.read(buf).expect("server read EOF");
    debug_assert_eq!(n, 0);
    let _ = server.shutdown(Shutdown::Both);
    drop(server);
}

fn kernel_txn(c: &mut Criterion) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    let req = [0x5au8; 64];
    let mut buf = [0u8; 64];

    let mut g = c.benchmark_group("kernel_txn");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("loopback_64B_req_resp_client_close", |b| {
        // Thread CPU time (TCPTERM_BENCH_CLOCK=cpu) includes the system time of the syscalls;
        // loopback's softirq work runs in them.
        b.iter_custom(|iters| timed_iters(iters, || one_txn(&listener, addr, &req, &mut buf)))
    });
    g.finish();
}

criterion_group!(benches, kernel_txn);
criterion_main!(benches);
