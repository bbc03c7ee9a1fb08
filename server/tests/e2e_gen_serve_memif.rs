//! End to end over DPDK: the `tcpterm` binary serves (HTTP on 80, echo on 7) on one end of a
//! `net_memif` wire, and the same binary's load generator (`tcpterm gen`) runs two short
//! scenarios against it from the other end, as two more processes. No root, NIC or hugepages.
//!
//! What must hold:
//! - Both sides start: `serve`'s control socket answers, each `gen` exits 0 (3 would mean it
//!   counted errors), and `serve` exits 0 on SIGTERM. Any of these failing fails the test with
//!   that process's output.
//! - Every phase ran, with transactions (> 0), every request answered, every connection that
//!   was opened established and closed, echo bytes all returned, and every error kind zero.
//! - The server saw exactly what the generator did: HTTP requests answered = the generator's
//!   HTTP responses, payload bytes in and out = the generator's bytes out and in, passive opens
//!   = the generator's established connections, no error responses, no connection left.
//! - No drops on either side: transmit and redirect drops, port misses and errors, failed
//!   opens, resets, listen overflows, aborts, and every engine drop reason, with one accounted
//!   exception. memif loses nothing, but on a busy machine a stalled process makes its peer
//!   resend (a tail loss probe fires after 10 ms). The late copy is dropped as a duplicate
//!   (out of window, for no connection once the receiver has closed, in TIME_WAIT, by PAWS),
//!   and may be answered (an ACK, or a RST for no connection) with a segment the first side
//!   drops in turn, and so on once more at most: so the duplicate drops of both sides together
//!   may be at most three per segment either side resent (`RetransSegs` + `TCPLossProbes`).
//!   Every RST sent must answer a segment for no connection, and no side may receive more RSTs
//!   than the other sent. On a run without resends (the usual case) every drop must be zero.
//!
//! The scenarios are time-bound (one second per phase), so counts are compared between the two
//! sides rather than with a fixed number.
//!
//! The server's memif takes a moment to see a client go; the second generator starts once the
//! server's port counters have dropped to zero (memif clears them on disconnect). If its memif
//! still cannot connect (DPDK reports `memif_connect_client(): Failed to connect socket`, seen
//! once in many runs on a loaded machine), it is started again, at most twice, saying so.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use support::eal::{eal_args, runtime_dir};
use tcpterm::stats::Snapshot;

const SERVER_IP: &str = "198.18.0.1";
const GEN_IP: &str = "198.18.0.2/24";
const HTTP_PORT: u16 = 80;
const ECHO_PORT: u16 = 7;
const BODY: u64 = 128;

/// Short transactions, then keep-alive requests (Content-Length checked).
const HTTP_SCENARIO: &str = r#"
name = "e2e-http"

[[phase]]
name = "http-short"
duration = "1s"
mode = "short"
protocol = "http"
concurrency = 32
response_size = 128
timeout = "3s"

[[phase]]
name = "http-keepalive"
duration = "1s"
mode = "persistent"
protocol = "http"
concurrency = 16
requests_per_conn = 50
response_size = 128
timeout = "3s"
"#;

/// Persistent echo with every byte checked, then bulk transfers (both directions at once).
const ECHO_SCENARIO: &str = r#"
name = "e2e-echo"

[[phase]]
name = "echo-persistent"
duration = "1s"
mode = "persistent"
protocol = "echo"
concurrency = 16
request_size = 128
requests_per_conn = 100
timeout = "3s"

[[phase]]
name = "echo-bulk"
duration = "1s"
mode = "bulk"
protocol = "echo"
concurrency = 2
bytes = "128k"
timeout = "3s"
"#;

/// Error kinds in a `gen` phase report; each must be zero.
const GEN_ERROR_KINDS: [&str; 10] = [
    "refused",
    "connect_timeouts",
    "response_timeouts",
    "resets",
    "wrong_data",
    "http_errors",
    "early_closes",
    "tcp_timeouts",
    "aborted",
    "local_errors",
];

/// MIB counters that only count failures; each must be zero on both sides.
const FAILURE_MIBS: [&str; 11] = [
    "AttemptFails",
    "EstabResets",
    "InErrs",
    "InCsumErrors",
    "ListenOverflows",
    "ListenDrops",
    "TCPAbortOnData",
    "TCPAbortOnClose",
    "TCPAbortOnTimeout",
    "TCPAbortOnMemory",
    "TCPAbortOnLinger",
];

/// Drop reasons a late duplicate of a retransmitted segment (or a RST answering one) meets.
const DUPLICATE_DROPS: [&str; 5] = [
    "tcp_out_of_window",
    "tcp_no_connection",
    "tcp_time_wait_discard",
    "tcp_paws_rejected",
    "tcp_rst_for_no_connection",
];

type Counters = std::collections::BTreeMap<String, u64>;

fn tcpterm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tcpterm"))
}

/// A scratch directory for sockets, scenarios, reports and logs; removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let d = std::env::temp_dir().join(format!("tcpterm-e2e-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create scratch dir");
        Scratch(d)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("e2e: scratch files kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A child process that is killed (if still running) when the test unwinds.
struct Proc {
    name: &'static str,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command, dir: &Scratch) -> Proc {
        let stdout = dir.path(&format!("{name}.out"));
        let stderr = dir.path(&format!("{name}.err"));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("e2e: cannot start tcpterm {name}: {e}"));
        Proc {
            name,
            child,
            stdout,
            stderr,
        }
    }

    fn output(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- {} stdout:\n{}--- {} stderr:\n{}",
            self.name,
            read(&self.stdout),
            self.name,
            read(&self.stderr)
        )
    }

    /// Waits up to `limit` for the process to exit; panics with its output if it does not.
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "e2e: tcpterm {} still running after {limit:?}; killed\n{}",
                    self.name,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The server's and the generator's cores: two different ones where this process may use two.
fn cores() -> (usize, usize) {
    let ids: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    match ids.as_slice() {
        [] => (0, 0),
        [only] => (*only, *only),
        [first, .., last] => (*first, *last),
    }
}

fn memif_vdev(role: &str, socket: &Path) -> String {
    format!(
        "net_memif0,role={role},socket={},socket-abstract=no",
        socket.display()
    )
}

/// `tcpterm stat --json` against the server: its snapshot, or why there is none.
fn try_stat(ctl: &Path) -> Result<Snapshot, String> {
    let out = tcpterm()
        .args(["stat", "--json", "--control-socket"])
        .arg(ctl)
        .output()
        .map_err(|e| format!("cannot run tcpterm stat: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "tcpterm stat exited {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "tcpterm stat printed no snapshot ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The server's snapshot; panics with the reason and the server's output if there is none.
fn stat(ctl: &Path, srv: &Proc) -> Snapshot {
    try_stat(ctl).unwrap_or_else(|e| panic!("e2e: {e}\n{}", srv.output()))
}

/// Starts `tcpterm serve` on `core` and waits until its control socket answers.
fn start_server(dir: &Scratch, memif: &Path, ctl: &Path, core: usize) -> Proc {
    let mut cmd = tcpterm();
    cmd.args(["serve", "--ip", &format!("{SERVER_IP}/24")])
        .args(["--listen", &format!("{HTTP_PORT}=http")])
        .args(["--listen", &format!("{ECHO_PORT}=echo")])
        .args(["--http-body-size", &BODY.to_string()])
        .args(["--cores", &core.to_string()])
        .args(["--shutdown-timeout-ms", "2000"])
        .arg("--control-socket")
        .arg(ctl)
        .arg("--")
        .args(eal_args("e2e-srv", core, &[memif_vdev("server", memif)]));
    let mut srv = Proc::spawn("serve", &mut cmd, dir);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(st) = srv.child.try_wait().unwrap() {
            panic!(
                "e2e: tcpterm serve exited ({st}) before its control socket answered\n{}",
                srv.output()
            );
        }
        if try_stat(ctl).is_ok() {
            return srv;
        }
        assert!(
            Instant::now() < deadline,
            "e2e: tcpterm serve's control socket did not answer within 20 s\n{}",
            srv.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `tcpterm gen` with `scenario` against `port` and returns its JSON report. Panics with
/// the generator's output unless it exits 0 (a clean run).
fn run_gen(
    dir: &Scratch,
    name: &'static str,
    scenario: &str,
    port: u16,
    memif: &Path,
    core: usize,
) -> Value {
    let sc = dir.path(&format!("{name}.toml"));
    let json = dir.path(&format!("{name}.json"));
    std::fs::write(&sc, scenario).unwrap();
    let _rt = runtime_dir(name);
    let mut cmd = tcpterm();
    cmd.arg("gen")
        .arg("--scenario")
        .arg(&sc)
        .args(["--ip", GEN_IP, "--target", &format!("{SERVER_IP}:{port}")])
        .args(["--cores", &core.to_string()])
        .arg("--json")
        .arg(&json)
        .arg("--")
        .args(eal_args(name, core, &[memif_vdev("client", memif)]));
    let t0 = Instant::now();
    let mut attempt = 0;
    let gen = loop {
        let mut gen = Proc::spawn(name, &mut cmd, dir);
        let st = gen.wait(Duration::from_secs(30));
        let memif_refused = st.code() == Some(1)
            && std::fs::read_to_string(&gen.stderr)
                .unwrap_or_default()
                .contains("memif_connect_client(): Failed to connect socket");
        if memif_refused && attempt < 2 {
            attempt += 1;
            println!("e2e: {name}: memif could not connect to the server yet; starting it again ({attempt}/2)");
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        assert!(
            st.success(),
            "e2e: tcpterm gen ({name}) exited {st} (3: errors were counted; 1: it failed to run)\n{}",
            gen.output()
        );
        break gen;
    };
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(&json)
            .unwrap_or_else(|e| panic!("e2e: no JSON report from {name}: {e}\n{}", gen.output())),
    )
    .unwrap();
    println!(
        "e2e: {name}: {} responses in {:.1} s\n{}",
        report["phases"].as_array().map_or(0, |p| p
            .iter()
            .map(|p| n(&p["counts"], "responses"))
            .sum::<u64>()),
        t0.elapsed().as_secs_f64(),
        std::fs::read_to_string(&gen.stdout).unwrap_or_default()
    );
    report
}

fn n(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("e2e: no number {key:?} in {v}"))
}

/// What gen runs did, summed over their phases, with their engines' counters.
#[derive(Default, Debug)]
struct Totals {
    connected: u64,
    responses: u64,
    bytes_sent: u64,
    bytes_received: u64,
    mib: Counters,
    drops: Counters,
    tx_dropped: u64,
    tx_no_buffer: u64,
}

impl Totals {
    fn add(&mut self, o: &Totals) {
        self.connected += o.connected;
        self.responses += o.responses;
        self.bytes_sent += o.bytes_sent;
        self.bytes_received += o.bytes_received;
        for (k, v) in &o.mib {
            *self.mib.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.drops {
            *self.drops.entry(k.clone()).or_default() += v;
        }
        self.tx_dropped += o.tx_dropped;
        self.tx_no_buffer += o.tx_no_buffer;
    }
}

fn counters(v: &Value) -> Counters {
    v.as_object()
        .unwrap_or_else(|| panic!("e2e: not a counter map: {v}"))
        .iter()
        .map(|(k, x)| (k.clone(), x.as_u64().expect("counter")))
        .collect()
}

fn named(n: &tcpterm::stats::Named) -> Counters {
    n.0.iter().cloned().collect()
}

/// Checks every phase of a gen report (names in order, activity, no errors) and sums it.
fn check_gen(report: &Value, phases: &[(&str, &str)]) -> Totals {
    let got: Vec<&Value> = report["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .collect();
    let names: Vec<&str> = got.iter().map(|p| p["name"].as_str().unwrap()).collect();
    let want: Vec<&str> = phases.iter().map(|p| p.0).collect();
    assert_eq!(names, want, "e2e: every phase ran, in order");
    let mut t = Totals::default();
    for (p, (name, protocol)) in got.iter().zip(phases) {
        let c = &p["counts"];
        assert_eq!(p["protocol"].as_str(), Some(*protocol), "{name}: protocol");
        for kind in GEN_ERROR_KINDS {
            assert_eq!(n(c, kind), 0, "{name}: gen counted {kind}: {c}");
        }
        assert_eq!(n(p, "errors"), 0, "{name}: gen errors: {c}");
        assert!(
            n(c, "responses") > 0,
            "{name}: no transaction completed: {c}"
        );
        assert_eq!(
            n(c, "requests"),
            n(c, "responses"),
            "{name}: every request answered: {c}"
        );
        assert!(n(c, "connected") > 0, "{name}: no connection: {c}");
        assert_eq!(
            n(c, "conn_attempts"),
            n(c, "connected"),
            "{name}: every connect succeeded: {c}"
        );
        assert_eq!(
            n(c, "closed"),
            n(c, "connected"),
            "{name}: every connection closed: {c}"
        );
        if *protocol == "echo" {
            assert_eq!(
                n(c, "bytes_received"),
                n(c, "bytes_sent"),
                "{name}: every byte echoed: {c}"
            );
        }
        t.connected += n(c, "connected");
        t.responses += n(c, "responses");
        t.bytes_sent += n(c, "bytes_sent");
        t.bytes_received += n(c, "bytes_received");
    }
    assert_eq!(
        n(&report["total_counts"], "responses"),
        t.responses,
        "report total"
    );
    assert_eq!(n(report, "total_errors"), 0, "report total errors");
    let e = &report["engine"];
    t.mib = counters(&e["mib"]);
    t.drops = counters(&e["drops"]);
    t.tx_dropped = n(e, "tx_dropped");
    t.tx_no_buffer = n(e, "tx_no_buffer");
    t
}

/// One side's failure and drop counters (see the module docs): failures zero, every RST sent
/// an answer to a segment for no connection, no more RSTs received than the peer sent, every
/// drop but a duplicate's zero. Returns the duplicate drops and the segments this side resent.
fn check_side(side: &str, mib: &Counters, drops: &Counters, peer: &Counters) -> (u64, u64) {
    let get = |m: &Counters, k: &str| {
        *m.get(k)
            .unwrap_or_else(|| panic!("e2e: no counter {k} in {m:?}"))
    };
    for k in FAILURE_MIBS {
        assert_eq!(get(mib, k), 0, "e2e: {side} {k}");
    }
    assert!(
        get(mib, "OutRsts") <= get(drops, "tcp_no_connection"),
        "e2e: {side} sent {} RSTs, more than the {} segments for no connection it answered",
        get(mib, "OutRsts"),
        get(drops, "tcp_no_connection")
    );
    assert!(
        get(mib, "InRsts") <= get(peer, "OutRsts"),
        "e2e: {side} received {} RSTs, its peer sent {}",
        get(mib, "InRsts"),
        get(peer, "OutRsts")
    );
    for (k, v) in drops {
        if !DUPLICATE_DROPS.contains(&k.as_str()) {
            assert_eq!(*v, 0, "e2e: {side} drop counter {k}");
        }
    }
    let dup = DUPLICATE_DROPS.iter().map(|k| get(drops, k)).sum();
    (dup, get(mib, "RetransSegs") + get(mib, "TCPLossProbes"))
}

/// The server's own counters outside the engine: queues, redirect rings, the port, the apps.
fn check_server_queues(s: &Snapshot) {
    let t = &s.total;
    assert_eq!(t.queue.tx_dropped, 0, "e2e: server queue tx dropped");
    assert_eq!(t.queue.redirect_dropped, 0, "e2e: server redirect dropped");
    assert_eq!(t.app.errors, 0, "e2e: server HTTP error responses");
    let p = s.port.as_ref().expect("e2e: server reports port counters");
    assert_eq!(
        (p.rx_missed, p.rx_errors, p.tx_errors, p.rx_nombuf),
        (0, 0, 0, 0),
        "e2e: server port missed/rx errors/tx errors/no mbuf"
    );
}

/// Waits until the server's memif has seen the generator go (memif clears its counters on
/// disconnect, and the stats thread reads them every second) and no connection is left.
fn wait_disconnected(ctl: &Path, srv: &Proc) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = stat(ctl, srv);
        if s.total.conns == 0 && s.port.as_ref().is_some_and(|p| p.rx_packets == 0) {
            return;
        }
        if Instant::now() >= deadline {
            println!("e2e: the server's port still counts the first generator after 5 s; starting the next one anyway");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The number in the `label` row of the exit summary's `section` table (total column).
fn summary_row(text: &str, section: &str, label: &str) -> u64 {
    let mut lines = text.lines().skip_while(|l| !l.starts_with(section));
    lines
        .next()
        .unwrap_or_else(|| panic!("e2e: no {section} table in:\n{text}"));
    let row = lines
        .take_while(|l| !l.trim().is_empty())
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("e2e: no {label} row under {section} in:\n{text}"));
    row[row.find(label).unwrap() + label.len()..]
        .split_whitespace()
        .next()
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("e2e: bad row {row:?}"))
}

#[test]
fn gen_against_serve_over_memif_counts_agree_and_nothing_fails() {
    let t0 = Instant::now();
    let dir = Scratch::new();
    let memif = dir.path("memif.sock");
    let ctl = dir.path("control.sock");
    let (srv_core, gen_core) = cores();
    let _rt = runtime_dir("e2e-srv");
    let mut srv = start_server(&dir, &memif, &ctl, srv_core);

    let http = run_gen(
        &dir,
        "e2e-gen-http",
        HTTP_SCENARIO,
        HTTP_PORT,
        &memif,
        gen_core,
    );
    let http = check_gen(&http, &[("http-short", "http"), ("http-keepalive", "http")]);
    wait_disconnected(&ctl, &srv);
    let echo = run_gen(
        &dir,
        "e2e-gen-echo",
        ECHO_SCENARIO,
        ECHO_PORT,
        &memif,
        gen_core,
    );
    let echo = check_gen(&echo, &[("echo-persistent", "echo"), ("echo-bulk", "echo")]);
    let mut gen = Totals::default();
    gen.add(&http);
    gen.add(&echo);

    // The server's counters reach the stats thread within a report interval or two: wait until
    // they account for every connection, then compare everything.
    let opens = http.connected + echo.connected;
    let deadline = Instant::now() + Duration::from_secs(5);
    let snap = loop {
        let s = stat(&ctl, &srv);
        let done = s.total.mib.get("PassiveOpens") == Some(opens)
            && s.total.app.requests == http.responses
            && s.total.conns == 0;
        if done || Instant::now() >= deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let t = &snap.total;
    assert_eq!(
        t.mib.get("PassiveOpens"),
        Some(opens),
        "e2e: server passive opens = gen's established connections"
    );
    assert_eq!(
        t.app.requests, http.responses,
        "e2e: server HTTP requests answered = gen's responses"
    );
    assert_eq!(
        t.rx_bytes,
        http.bytes_sent + echo.bytes_sent,
        "e2e: server payload in = gen's out"
    );
    assert_eq!(
        t.tx_bytes,
        http.bytes_received + echo.bytes_received,
        "e2e: server payload out = gen's in"
    );
    assert_eq!(t.conns, 0, "e2e: server connections left: {:?}", t.states);
    assert_eq!(
        t.time_wait, 0,
        "e2e: the generator closes first, so no TIME_WAIT on the server"
    );
    let (srv_mib, srv_drops) = (named(&t.mib), named(&t.drops));
    let (srv_dup, srv_resent) = check_side("server", &srv_mib, &srv_drops, &gen.mib);
    let (gen_dup, gen_resent) = check_side("generator", &gen.mib, &gen.drops, &srv_mib);
    assert!(
        srv_dup + gen_dup <= 3 * (srv_resent + gen_resent),
        "e2e: duplicate drops (server {srv_dup}: {srv_drops:?}; generator {gen_dup}: {:?}) \
         exceed three per resent segment (server resent {srv_resent}, generator {gen_resent})",
        gen.drops
    );
    check_server_queues(&snap);
    assert_eq!(
        (gen.tx_dropped, gen.tx_no_buffer),
        (0, 0),
        "e2e: generator tx dropped / no buffer"
    );

    // A graceful stop, and the exit summary tells the same story.
    let kill = Command::new("kill")
        .args(["-TERM", &srv.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success(), "e2e: could not signal tcpterm serve");
    let st = srv.wait(Duration::from_secs(10));
    let summary = std::fs::read_to_string(&srv.stdout).unwrap();
    assert!(
        st.success(),
        "e2e: tcpterm serve exited {st}\n{}",
        srv.output()
    );
    assert_eq!(
        summary_row(&summary, "Totals", "requests"),
        http.responses,
        "exit summary: requests"
    );
    assert_eq!(
        summary_row(&summary, "Totals", "error responses"),
        0,
        "exit summary: error responses"
    );
    assert_eq!(
        summary_row(&summary, "Totals", "queue tx dropped"),
        0,
        "exit summary: tx dropped"
    );
    assert_eq!(
        summary_row(&summary, "Drops", "(all)"),
        t.total_drops(),
        "exit summary: drops (only explained ones, as checked above)"
    );
    assert_eq!(
        summary_row(&summary, "Tcp (netstat -s)", "PassiveOpens"),
        opens,
        "exit summary"
    );
    println!(
        "e2e: server answered {} HTTP requests, echoed {} B, {} connections; server: {srv_resent} resent, {} dropped, {} RSTs; generator: {gen_resent} resent, {} dropped; {:.1} s in all",
        t.app.requests,
        echo.bytes_received,
        opens,
        t.total_drops(),
        srv_mib["OutRsts"],
        gen.drops.values().sum::<u64>(),
        t0.elapsed().as_secs_f64()
    );
}
