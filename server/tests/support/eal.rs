//! EAL for a test process. Each test file that brings up EAL is its own binary because
//! `rte_eal_init` runs once per process.

use tcpterm::port::Eal;

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

/// EAL for a test process, and the removal of its runtime directory once EAL is gone.
pub struct TestEal {
    // Fields drop in order: EAL's handle first, then the directory it left.
    eal: Eal,
    _dir: RuntimeDir,
}

impl core::ops::Deref for TestEal {
    type Target = Eal;
    fn deref(&self) -> &Eal {
        &self.eal
    }
}

/// EAL as `name` on `lcore` with `vdevs` (see [`eal_args`]); panics if it cannot start.
pub fn init(name: &str, lcore: usize, vdevs: &[String]) -> TestEal {
    let dir = runtime_dir(name);
    let eal = Eal::init(eal_args(name, lcore, vdevs)).expect("EAL init");
    TestEal { eal, _dir: dir }
}
