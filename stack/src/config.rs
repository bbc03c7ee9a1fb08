//! Tunables, named after what Linux users know. Defaults follow Linux where it has one.

use crate::tcp::cc::CcKind;
use core::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SynCookiePolicy {
    /// Only when the SYN queue overflows (Linux `tcp_syncookies=1`).
    #[default]
    Auto,
    /// For every SYN (`tcp_syncookies=2`).
    Always,
    /// Never: SYNs beyond the backlog are dropped (`tcp_syncookies=0`).
    Never,
}

impl core::str::FromStr for SynCookiePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            _ => Err(format!(
                "unknown syncookie policy {s:?} (expected auto, always or never)"
            )),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Idle time before the first probe (`tcp_keepalive_time`).
    pub idle: Duration,
    /// Between probes (`tcp_keepalive_intvl`).
    pub interval: Duration,
    /// Unanswered probes before the connection is reset (`tcp_keepalive_probes`).
    pub probes: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TcpConfig {
    /// Maximum segment lifetime; TIME_WAIT lasts 2×MSL.
    pub msl: Duration,
    /// How long an orphaned connection may sit in FIN_WAIT_2 (`tcp_fin_timeout`).
    pub fin_timeout: Duration,
    /// None: keepalive off (the default, as on Linux without SO_KEEPALIVE).
    pub keepalive: Option<Keepalive>,
    pub syncookies: SynCookiePolicy,
    /// Embryonic (SYN_RECV) connections per listener before cookies or drops.
    pub syn_backlog: usize,
    /// Connections of all states except TIME_WAIT, per worker.
    pub max_conns: usize,
    /// TIME_WAIT entries per worker (`tcp_max_tw_buckets`); beyond it, closes skip TIME_WAIT.
    pub max_time_wait: usize,
    /// Orphaned connections (app closed, not yet CLOSED) per worker (`tcp_max_orphans`).
    pub max_orphans: usize,
    pub rto_min: Duration,
    pub rto_max: Duration,
    pub rto_initial: Duration,
    /// Retransmissions of data before giving up (`tcp_retries2`).
    pub retries: u32,
    /// SYN-ACK retransmissions (`tcp_synack_retries`).
    pub synack_retries: u32,
    /// SYN retransmissions on active open (`tcp_syn_retries`).
    pub syn_retries: u32,
    /// Retransmissions (or persist probes) for orphaned connections (`tcp_orphan_retries`).
    pub orphan_retries: u32,
    pub cc: CcKind,
    /// Receive buffer per connection (bytes); sets the advertised window and scale.
    pub rx_buf: usize,
    /// Send buffer per connection (bytes).
    pub tx_buf: usize,
    /// Most disjoint out-of-order ranges held per connection.
    pub max_ooo_ranges: usize,
    pub nagle: bool,
    /// Delayed ACK timeout (RFC 1122 caps it at 500 ms); zero disables delayed ACKs.
    pub delayed_ack: Duration,
    /// Our MSS (derived from the MTU).
    pub mss: u16,
    pub window_scaling: bool,
    pub timestamps: bool,
    pub sack: bool,
    /// Initial congestion window in segments (RFC 6928).
    pub initial_window: u32,
    /// Challenge ACKs per second per worker (RFC 5961 §7), on average: each second's budget
    /// is drawn at random from [limit/2, limit*3/2) as on Linux since 4.7.
    pub challenge_ack_limit: u32,
    /// Per connection, at most one duplicate ACK per this interval in reply to segments that
    /// failed validation: out of window, PAWS, bad ACK, challenge ACKs (Linux
    /// `tcp_invalid_ratelimit`). Zero disables the limit.
    pub invalid_ratelimit: Duration,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            msl: Duration::from_secs(30),
            fin_timeout: Duration::from_secs(60),
            keepalive: None,
            syncookies: SynCookiePolicy::Auto,
            syn_backlog: 4096,
            max_conns: 1 << 20,
            max_time_wait: 1 << 20,
            max_orphans: 1 << 16,
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(120),
            rto_initial: Duration::from_secs(1),
            retries: 15,
            synack_retries: 5,
            syn_retries: 6,
            orphan_retries: 8,
            cc: CcKind::Cubic,
            rx_buf: 256 * 1024,
            tx_buf: 256 * 1024,
            max_ooo_ranges: 32,
            nagle: false,
            delayed_ack: Duration::from_millis(40),
            mss: 1460,
            window_scaling: true,
            timestamps: true,
            sack: true,
            initial_window: 10,
            challenge_ack_limit: 1000,
            invalid_ratelimit: Duration::from_millis(500),
        }
    }
}

impl TcpConfig {
    /// Checks ranges a user can get wrong; the message says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.msl.is_zero() {
            return Err("msl must be greater than zero".into());
        }
        if self.rto_min.is_zero() || self.rto_min > self.rto_max {
            return Err("rto-min must be > 0 and <= rto-max".into());
        }
        if self.rx_buf < 2048 || self.rx_buf > (1 << 30) {
            return Err("rx-buf must be between 2048 and 1 GiB".into());
        }
        if self.tx_buf < 2048 || self.tx_buf > (1 << 30) {
            return Err("tx-buf must be between 2048 and 1 GiB".into());
        }
        if self.mss < 88 {
            return Err("mss must be at least 88 (MTU >= 128)".into());
        }
        if self.delayed_ack > Duration::from_millis(500) {
            return Err("delayed-ack must be at most 500 ms (RFC 1122)".into());
        }
        if self.syn_backlog == 0 || self.max_conns == 0 {
            return Err("syn-backlog and max-conns must be greater than zero".into());
        }
        if let Some(k) = self.keepalive {
            if k.idle.is_zero() || k.interval.is_zero() || k.probes == 0 {
                return Err("keepalive idle, interval and probes must be greater than zero".into());
            }
        }
        Ok(())
    }

    /// The window scale shift needed to advertise `rx_buf` (RFC 7323 §2.3, at most 14).
    pub fn rcv_wscale(&self) -> u8 {
        let mut shift = 0u8;
        while shift < 14 && (self.rx_buf >> shift) > 65535 {
            shift += 1;
        }
        shift
    }
}
