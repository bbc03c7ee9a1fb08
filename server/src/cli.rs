//! Command line: `tcpterm serve ...`, `tcpterm stat ...`, and their conversion into checked
//! configuration. Every mistake a user can make gets a one-line message that says what to do.

use crate::apps::http::{HttpConfig, DEFAULT_BODY_SIZE, DEFAULT_MAX_HEAD};
use crate::apps::{AppKind, Listeners};
use clap::{Args, Parser, Subcommand};
use core::net::Ipv4Addr;
use core::time::Duration;
use stack::tcp::cc::CcKind;
use stack::wire::{ChecksumCaps, MacAddr};
use stack::{EngineConfig, Keepalive, SynCookiePolicy, TcpConfig};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tcpterm",
    version,
    about = "DPDK-backed TCP termination server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Terminate TCP on a DPDK port and serve the given apps.
    Serve(Box<ServeArgs>),
    /// Show a running server's connections, rates, drops and counters (like `ss -s` and
    /// `netstat -s`).
    Stat(StatArgs),
    /// Generate load against a TCP server from a scenario file (see docs/gen.md).
    Gen(Box<crate::gen::args::GenArgs>),
}

/// `ADDR/PREFIX`, e.g. `198.18.0.1/24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpPrefix {
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
}

impl IpPrefix {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = prefix_mask(self.prefix_len);
        u32::from(ip) & mask == u32::from(self.addr) & mask
    }
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & prefix_mask(self.prefix_len))
    }
    fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !prefix_mask(self.prefix_len))
    }
    /// Whether the address can be a host's: unicast, not loopback, and (below /31, where
    /// RFC 3021 lets both addresses be hosts) neither the network nor the broadcast address.
    pub fn is_usable_host(&self) -> bool {
        let a = self.addr;
        let is_net_or_bcast =
            self.prefix_len < 31 && (a == self.network() || a == self.broadcast());
        !(a.is_unspecified()
            || a.is_multicast()
            || a.is_broadcast()
            || a.is_loopback()
            || is_net_or_bcast)
    }
}

pub(crate) fn prefix_mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

impl core::str::FromStr for IpPrefix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let hint = "expected ADDR/PREFIX, e.g. 198.18.0.1/24";
        let (addr, len) = s
            .split_once('/')
            .ok_or_else(|| format!("missing /PREFIX ({hint})"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IPv4 address ({hint})"))?;
        let prefix_len: u8 = len
            .parse()
            .ok()
            .filter(|l| *l <= 32)
            .ok_or_else(|| format!("prefix length {len:?} must be 0..=32 ({hint})"))?;
        Ok(IpPrefix { addr, prefix_len })
    }
}

impl core::fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// `PORT=APP`, e.g. `80=http`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenSpec {
    pub port: u16,
    pub app: AppKind,
}

impl core::str::FromStr for ListenSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (port, app) = s
            .split_once('=')
            .ok_or_else(|| format!("expected PORT=APP, e.g. 80=http (got {s:?})"))?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("port {port:?} must be a number from 1 to 65535"))?;
        Ok(ListenSpec {
            port,
            app: app.parse()?,
        })
    }
}

/// A byte size with an optional binary suffix: `262144`, `256k`, `256KiB`, `4m`, `1g`.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: usize = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 262144, 256k, 4m)"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => {
            return Err(format!(
                "unknown size unit {unit:?} in {s:?} (use k, m or g)"
            ))
        }
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// A core list as given to `--cores` (a newtype: clap reads a bare `Vec` as repeated values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreList(pub Vec<usize>);

/// A core list: `1,2,3`, `2-5`, `0,4-6`.
pub fn parse_core_list(s: &str) -> Result<CoreList, String> {
    parse_cores(s).map(CoreList)
}

/// A core list: `1,2,3`, `2-5`, `0,4-6`.
pub fn parse_cores(s: &str) -> Result<Vec<usize>, String> {
    let mut cores = Vec::new();
    for part in s.split(',').map(str::trim) {
        let bad =
            || format!("{part:?} in --cores is not a core number or range (e.g. 1,2,3 or 1-3)");
        if let Some((a, b)) = part.split_once('-') {
            let a: usize = a.trim().parse().map_err(|_| bad())?;
            let b: usize = b.trim().parse().map_err(|_| bad())?;
            if a > b || b - a > 4096 {
                return Err(bad());
            }
            cores.extend(a..=b);
        } else {
            cores.push(part.parse().map_err(|_| bad())?);
        }
    }
    Ok(cores)
}

/// Where the control socket lives unless `--control-socket` says otherwise: /run for root,
/// `$XDG_RUNTIME_DIR` for a user session, /tmp as a last resort. `serve` and `stat` agree on it.
pub fn default_control_socket() -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    if root {
        return PathBuf::from("/run/tcpterm.sock");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("tcpterm.sock"),
        _ => PathBuf::from("/tmp/tcpterm.sock"),
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Everything after `--` is passed to DPDK's EAL unchanged, e.g.\n  \
    tcpterm serve --ip 198.18.0.1/24 --listen 80=http -- --no-huge --no-pci --vdev net_tap0"
)]
pub struct ServeArgs {
    /// Our IPv4 address and on-link prefix.
    #[arg(long, value_name = "ADDR/PREFIX", help_heading = "Network")]
    pub ip: IpPrefix,
    /// Next hop for destinations outside the prefix.
    #[arg(long, value_name = "ADDR", help_heading = "Network")]
    pub gateway: Option<Ipv4Addr>,
    /// IP MTU; our MSS is MTU - 40.
    #[arg(long, default_value_t = 1500, help_heading = "Network")]
    pub mtu: u16,
    /// Serve APP on PORT (repeatable). Apps: echo, discard, http.
    #[arg(long = "listen", value_name = "PORT=APP", help_heading = "Apps")]
    pub listen: Vec<ListenSpec>,
    /// Body size of the http app's 200 responses (bytes; k/m suffixes allowed).
    #[arg(long, value_parser = parse_size, default_value_t = DEFAULT_BODY_SIZE, help_heading = "Apps")]
    pub http_body_size: usize,
    /// Largest request line + headers the http app accepts (bigger gets 431).
    #[arg(long, value_parser = parse_size, default_value_t = DEFAULT_MAX_HEAD as usize, help_heading = "Apps")]
    pub http_max_header: usize,

    #[command(flatten)]
    pub workers: WorkerArgs,

    #[command(flatten)]
    pub tcp: TcpArgs,

    /// How long an orphaned connection may stay in FIN_WAIT_2 (tcp_fin_timeout).
    #[arg(
        long,
        default_value_t = 60_000,
        value_name = "MS",
        help_heading = "TCP"
    )]
    pub fin_timeout_ms: u64,
    /// Idle time before keepalive probes (tcp_keepalive_time); off unless given.
    #[arg(long, value_name = "MS", help_heading = "TCP")]
    pub keepalive_ms: Option<u64>,
    /// Between keepalive probes (tcp_keepalive_intvl).
    #[arg(
        long,
        default_value_t = 75_000,
        value_name = "MS",
        help_heading = "TCP"
    )]
    pub keepalive_intvl_ms: u64,
    /// Unanswered keepalive probes before reset (tcp_keepalive_probes).
    #[arg(long, default_value_t = 9, help_heading = "TCP")]
    pub keepalive_probes: u32,
    /// SYN cookies: auto (on SYN queue overflow), always, never (tcp_syncookies 1/2/0).
    #[arg(
        long,
        default_value = "auto",
        value_name = "auto|always|never",
        help_heading = "TCP"
    )]
    pub syncookies: SynCookiePolicy,
    /// SYN_RECV connections per listener before cookies or drops (tcp_max_syn_backlog).
    #[arg(long, default_value_t = 4096, help_heading = "TCP")]
    pub syn_backlog: usize,
    /// TIME_WAIT entries per worker (tcp_max_tw_buckets).
    #[arg(long, default_value_t = 1 << 20, help_heading = "TCP")]
    pub max_time_wait: usize,
    /// Orphaned connections per worker (tcp_max_orphans).
    #[arg(long, default_value_t = 1 << 16, help_heading = "TCP")]
    pub max_orphans: usize,
    /// Data retransmissions before giving up (tcp_retries2).
    #[arg(long, default_value_t = 15, help_heading = "TCP")]
    pub retries: u32,
    /// SYN-ACK retransmissions (tcp_synack_retries).
    #[arg(long, default_value_t = 5, help_heading = "TCP")]
    pub synack_retries: u32,
    /// Congestion control: cubic (Linux's default), newreno, or bbr (BBR v1's model setting
    /// cwnd, without pacing; keeps its rate through random loss).
    #[arg(
        long,
        default_value = "cubic",
        value_name = "newreno|cubic|bbr",
        help_heading = "TCP"
    )]
    pub cc: CcKind,
    /// Receive buffer per connection (sets the window; k/m suffixes allowed).
    #[arg(long, value_parser = parse_size, default_value = "256k", help_heading = "TCP")]
    pub rx_buf: usize,
    /// Send buffer per connection.
    #[arg(long, value_parser = parse_size, default_value = "256k", help_heading = "TCP")]
    pub tx_buf: usize,
    /// Enable Nagle's algorithm (off by default, like TCP_NODELAY servers).
    #[arg(long, help_heading = "TCP")]
    pub nagle: bool,

    /// Unix socket `tcpterm stat` connects to.
    #[arg(long, default_value_os_t = default_control_socket(), help_heading = "Observability")]
    pub control_socket: PathBuf,
    /// Period of the one-line summary on stderr; 0 turns it off.
    #[arg(
        long,
        default_value_t = 1000,
        value_name = "MS",
        help_heading = "Observability"
    )]
    pub summary_interval_ms: u64,
    /// On SIGINT/SIGTERM, how long connections get to close gracefully.
    #[arg(
        long,
        default_value_t = 5000,
        value_name = "MS",
        help_heading = "Observability"
    )]
    pub shutdown_timeout_ms: u64,

    /// Arguments for DPDK's EAL (after `--`).
    #[arg(last = true, value_name = "EAL ARGS")]
    pub eal: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatArgs {
    /// The running server's control socket.
    #[arg(long, default_value_os_t = default_control_socket())]
    pub control_socket: PathBuf,
    /// Print the raw JSON snapshot (for scripts).
    #[arg(long)]
    pub json: bool,
    /// Refresh every SECS seconds (default 1) until interrupted.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "1")]
    pub watch: Option<f64>,
}

/// A configuration mistake, with what to do about it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("nothing to serve: add --listen PORT=APP (e.g. --listen 80=http)")]
    NoListeners,
    #[error("port {0} is given twice in --listen; each port serves one app")]
    DuplicatePort(u16),
    #[error("--ip {0} is not a usable host address (pick a unicast address inside the prefix)")]
    BadAddress(IpPrefix),
    #[error(
        "--gateway {gateway} is not inside {net} (from --ip); pick a next hop on the local network"
    )]
    GatewayOffLink { gateway: Ipv4Addr, net: String },
    #[error("--gateway {0} is our own address; give the router's address")]
    GatewayIsUs(Ipv4Addr),
    #[error("--mtu {0} is out of range: use 576 to 9000")]
    BadMtu(u16),
    #[error("core {0} is given twice in --cores")]
    DuplicateCore(usize),
    #[error("--cores is empty; give at least one core or leave it out for one worker")]
    NoCores,
    #[error("--http-body-size {0} is too large (at most 16 MiB)")]
    BodyTooLarge(usize),
    #[error("--http-max-header {0} must be between 256 bytes and 1 MiB")]
    BadMaxHeader(usize),
    #[error("--{0} must be a power of two from 64 to 32768")]
    BadDescriptors(&'static str),
    #[error("invalid TCP settings: {0}")]
    Tcp(String),
    #[error("{0}")]
    Seed(#[from] crate::runtime::SeedError),
}

/// Everything `serve` needs, checked.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// MAC and checksum offloads are filled in from the port at start-up.
    pub engine: EngineConfig,
    pub listeners: Listeners,
    /// One worker per entry, pinned to that core; `None`: one unpinned worker.
    pub cores: Option<Vec<usize>>,
    /// `--port`: a device name or id.
    pub port: Option<String>,
    pub rx_desc: u16,
    pub tx_desc: u16,
    pub http: HttpConfig,
    pub control_socket: PathBuf,
    pub summary_interval: Option<Duration>,
    pub shutdown_timeout: Duration,
    pub eal_args: Vec<String>,
}

impl ServeConfig {
    pub fn workers(&self) -> usize {
        self.cores.as_ref().map_or(1, Vec::len)
    }
}

impl ServeArgs {
    pub fn tcp_config(&self) -> Result<TcpConfig, ConfigError> {
        let ms = Duration::from_millis;
        let rest = TcpConfig {
            fin_timeout: ms(self.fin_timeout_ms),
            keepalive: self.keepalive_ms.map(|idle| Keepalive {
                idle: ms(idle),
                interval: ms(self.keepalive_intvl_ms),
                probes: self.keepalive_probes,
            }),
            syncookies: self.syncookies,
            syn_backlog: self.syn_backlog,
            max_time_wait: self.max_time_wait,
            max_orphans: self.max_orphans,
            retries: self.retries,
            synack_retries: self.synack_retries,
            cc: self.cc,
            rx_buf: self.rx_buf,
            tx_buf: self.tx_buf,
            nagle: self.nagle,
            ..TcpConfig::default()
        };
        let tcp = self.tcp.apply(rest, self.mtu);
        tcp.validate().map_err(ConfigError::Tcp)?;
        Ok(tcp)
    }

    /// The configuration for the built-in apps (`--listen` is required).
    pub fn config(&self) -> Result<ServeConfig, ConfigError> {
        self.checked(true)
    }

    /// The configuration for a binary that brings its own app and listening ports
    /// (`--listen` may be empty).
    pub fn config_for_custom_app(&self) -> Result<ServeConfig, ConfigError> {
        self.checked(false)
    }

    fn checked(&self, need_listeners: bool) -> Result<ServeConfig, ConfigError> {
        let ip = self.ip;
        let a = ip.addr;
        if !ip.is_usable_host() {
            return Err(ConfigError::BadAddress(ip));
        }
        if let Some(gw) = self.gateway {
            if gw == a {
                return Err(ConfigError::GatewayIsUs(gw));
            }
            if !ip.contains(gw) {
                return Err(ConfigError::GatewayOffLink {
                    gateway: gw,
                    net: format!("{}/{}", ip.network(), ip.prefix_len),
                });
            }
        }
        if !(576..=9000).contains(&self.mtu) {
            return Err(ConfigError::BadMtu(self.mtu));
        }
        if need_listeners && self.listen.is_empty() {
            return Err(ConfigError::NoListeners);
        }
        let mut listeners = Vec::new();
        for l in &self.listen {
            if listeners.iter().any(|(p, _)| *p == l.port) {
                return Err(ConfigError::DuplicatePort(l.port));
            }
            listeners.push((l.port, l.app));
        }
        let cores = self.workers.checked_cores()?;
        if self.http_body_size > 16 << 20 {
            return Err(ConfigError::BodyTooLarge(self.http_body_size));
        }
        if !(256..=1 << 20).contains(&self.http_max_header) {
            return Err(ConfigError::BadMaxHeader(self.http_max_header));
        }
        let tcp = self.tcp_config()?;
        Ok(ServeConfig {
            engine: EngineConfig {
                tcp,
                ip: a,
                prefix_len: ip.prefix_len,
                gateway: self.gateway,
                mac: MacAddr::ZERO,
                checksums: ChecksumCaps::default(),
                mtu: self.mtu,
                seed: self.tcp.seed()?,
                arp_timeout: Duration::from_secs(60),
            },
            listeners: Listeners(listeners),
            cores,
            port: self.workers.port.clone(),
            rx_desc: self.workers.rx_desc,
            tx_desc: self.workers.tx_desc,
            http: HttpConfig {
                body_size: self.http_body_size,
                max_head: self.http_max_header as u32,
            },
            control_socket: self.control_socket.clone(),
            summary_interval: (self.summary_interval_ms > 0)
                .then(|| Duration::from_millis(self.summary_interval_ms)),
            shutdown_timeout: Duration::from_millis(self.shutdown_timeout_ms),
            eal_args: self.eal.clone(),
        })
    }
}

mod tcp;
mod workers;
pub use tcp::TcpArgs;
pub use workers::WorkerArgs;

#[cfg(test)]
mod tests;
