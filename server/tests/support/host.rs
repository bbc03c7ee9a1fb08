//! The host side of tests with real peers: root, commands, and namespaces, veth and tap
//! interfaces that the test creates and deletes itself.

use std::process::Command;

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

/// Deletes a network interface when dropped (a tap the PMD created, for one).
pub struct DelLink(pub String);

impl Drop for DelLink {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).output();
    }
}
