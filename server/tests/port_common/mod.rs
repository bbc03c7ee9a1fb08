//! Shared helpers for the port-layer integration tests. Each test file is its own binary
//! because `rte_eal_init` runs once per process.
#![allow(dead_code)]

use std::process::Command;

/// EAL arguments for a test process: no hugepages, no PCI, one lcore, a file prefix of its own
/// (memif needs EAL's multi-process channel, so no --no-shconf/--in-memory).
pub fn eal_args(name: &str, lcore: usize, vdevs: &[String]) -> Vec<String> {
    let mut a: Vec<String> = [
        "-l",
        &lcore.to_string(),
        "--no-huge",
        "--no-pci",
        "-m",
        "256",
        "--file-prefix",
        &file_prefix(name),
        "--log-level",
        "notice",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for v in vdevs {
        a.push("--vdev".into());
        a.push(v.clone());
    }
    a
}

fn file_prefix(name: &str) -> String {
    format!("tcpterm-{name}-{}", std::process::id())
}

/// Removes EAL's runtime directory for this process's prefix when dropped (DPDK 22.11 leaves it
/// behind). Create it before `Eal::init` so that it drops after the EAL handle.
pub struct RuntimeDir(Vec<std::path::PathBuf>);

pub fn runtime_dir(name: &str) -> RuntimeDir {
    let prefix = file_prefix(name);
    let mut dirs = vec![std::path::Path::new("/var/run/dpdk").join(&prefix)];
    if let Ok(x) = std::env::var("XDG_RUNTIME_DIR") {
        dirs.push(std::path::Path::new(&x).join("dpdk").join(&prefix));
    }
    dirs.push(std::path::Path::new("/tmp/dpdk").join(&prefix));
    RuntimeDir(dirs)
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Whether we run as root (needed for namespaces and veth), read without libc.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Whether this runs under CI: `CI` set to `true` (any case) or `1`, as `.ci/run` exports it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// True when the test may run (we are root). Otherwise it prints why the test is skipped and
/// returns false; under CI ([`in_ci`]) it panics instead, so that a test that could not run
/// fails there rather than counting as passed.
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    let why = "needs root to create network namespaces, veth and tap interfaces";
    assert!(
        !in_ci(),
        "{test}: {why}; CI is set, so this is a failure, not a skip (run the tests as root)"
    );
    println!("SKIPPED {test}: {why} (CI=true makes this a failure)");
    false
}

/// Runs a command, panicking with its output if it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace holding one end of a veth pair whose other end stays in the root
/// namespace (for DPDK's af_packet PMD). Addresses are in 198.18.0.0/15 only. Deleted on drop.
pub struct VethNs {
    pub ns: String,
    /// The root-namespace end, opened by DPDK.
    pub host_if: String,
    /// The end inside the namespace.
    pub ns_if: String,
}

impl VethNs {
    /// `tag` keeps names unique per test (interface names are at most 15 bytes).
    pub fn new(tag: &str, ns_addr: &str) -> VethNs {
        let id = std::process::id() % 100_000;
        let v = VethNs {
            ns: format!("tt-{tag}-{id}"),
            host_if: format!("tt{tag}h{id}"),
            ns_if: format!("tt{tag}n{id}"),
        };
        assert!(
            v.host_if.len() <= 15 && v.ns_if.len() <= 15,
            "interface name too long"
        );
        // Leftovers of an earlier crashed run with the same pid.
        let _ = Command::new("ip").args(["netns", "del", &v.ns]).output();
        let _ = Command::new("ip")
            .args(["link", "del", &v.host_if])
            .output();
        sh(&["ip", "netns", "add", &v.ns]);
        sh(&[
            "ip", "link", "add", &v.host_if, "type", "veth", "peer", "name", &v.ns_if,
        ]);
        sh(&["ip", "link", "set", &v.ns_if, "netns", &v.ns]);
        sh(&["ip", "link", "set", &v.host_if, "up"]);
        v.ns_exec(&["ip", "link", "set", "lo", "up"]);
        v.ns_exec(&["ip", "addr", "add", ns_addr, "dev", &v.ns_if]);
        v.ns_exec(&["ip", "link", "set", &v.ns_if, "up"]);
        // Without this the packet socket sees partial checksums and GSO super-frames.
        let off = [
            "tx", "off", "rx", "off", "tso", "off", "gso", "off", "gro", "off",
        ];
        let mut a = vec!["ethtool", "-K", v.host_if.as_str()];
        a.extend(off);
        sh(&a);
        let mut a = vec![
            "ip",
            "netns",
            "exec",
            v.ns.as_str(),
            "ethtool",
            "-K",
            v.ns_if.as_str(),
        ];
        a.extend(off);
        sh(&a);
        v
    }

    pub fn ns_exec(&self, args: &[&str]) -> String {
        let mut a = vec!["ip", "netns", "exec", self.ns.as_str()];
        a.extend_from_slice(args);
        sh(&a)
    }

    /// Runs a bash snippet inside the namespace (bash's /dev/udp makes the kernel send UDP).
    pub fn ns_bash(&self, script: &str) -> String {
        self.ns_exec(&["bash", "-c", script])
    }
}

impl Drop for VethNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// A minimal Ethernet frame: dst, src, ethertype, payload, padded to 60 bytes.
pub fn eth_frame(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(60.max(14 + payload.len()));
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}
