//! `tcpterm gen` command line.

use super::run::GenConfig;
use super::scenario::Scenario;
use crate::cli::{parse_size, IpPrefix, TcpArgs, WorkerArgs};
use clap::Args;
use core::net::{Ipv4Addr, SocketAddrV4};
use stack::TcpConfig;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(
    after_help = "Everything after `--` is passed to DPDK's EAL unchanged, e.g.\n  \
    tcpterm gen --scenario scripts/scenarios/short-http.toml --ip 198.18.0.2/24 \\\n    \
    --target 198.18.0.1:80 -- --no-huge --no-pci --vdev net_memif0,role=client"
)]
pub struct GenArgs {
    /// Scenario file (TOML; see docs/gen.md).
    #[arg(long, value_name = "FILE")]
    pub scenario: PathBuf,
    /// Our addresses and prefix: `198.18.0.2/24`, a range `198.18.0.2-198.18.0.9/24`, or a
    /// list `198.18.0.2,198.18.0.7/24`.
    #[arg(long, value_name = "ADDRS/PREFIX", help_heading = "Network")]
    pub ip: String,
    /// The server: ADDR:PORT.
    #[arg(long, value_name = "ADDR:PORT", help_heading = "Network")]
    pub target: SocketAddrV4,
    /// Next hop for a target outside the prefix.
    #[arg(long, value_name = "ADDR", help_heading = "Network")]
    pub gateway: Option<Ipv4Addr>,
    /// IP MTU.
    #[arg(long, default_value_t = 1500, help_heading = "Network")]
    pub mtu: u16,
    /// Write the final report as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub workers: WorkerArgs,
    #[command(flatten)]
    pub tcp: TcpArgs,
    /// Receive buffer per connection.
    #[arg(long, value_parser = parse_size, default_value = "64k", help_heading = "TCP")]
    pub rx_buf: usize,
    /// Send buffer per connection.
    #[arg(long, value_parser = parse_size, default_value = "64k", help_heading = "TCP")]
    pub tx_buf: usize,
    /// Arguments for DPDK's EAL (after `--`).
    #[arg(last = true, value_name = "EAL ARGS")]
    pub eal: Vec<String>,
}

/// Parses `--ip`: addresses (single, `A-B` ranges, comma lists) sharing one `/PREFIX`.
pub fn parse_ips(s: &str) -> Result<(Vec<Ipv4Addr>, u8), String> {
    let hint = "expected e.g. 198.18.0.2/24, 198.18.0.2-198.18.0.9/24 or 198.18.0.2,198.18.0.5/24";
    let (list, len) = s
        .rsplit_once('/')
        .ok_or_else(|| format!("--ip {s:?}: missing /PREFIX ({hint})"))?;
    let prefix: u8 = len
        .parse()
        .ok()
        .filter(|l| (1..=32).contains(l))
        .ok_or_else(|| format!("--ip {s:?}: prefix length {len:?} must be 1..=32"))?;
    let addr = |a: &str| -> Result<Ipv4Addr, String> {
        a.trim()
            .parse()
            .map_err(|_| format!("--ip {s:?}: {a:?} is not an IPv4 address ({hint})"))
    };
    let mut ips = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (u32::from(addr(a)?), u32::from(addr(b)?));
                if a > b || b - a >= 4096 {
                    return Err(format!(
                        "--ip {s:?}: range {part:?} must go upwards and hold at most 4096 addresses"
                    ));
                }
                ips.extend((a..=b).map(Ipv4Addr::from));
            }
            None => ips.push(addr(part)?),
        }
    }
    let first = IpPrefix {
        addr: ips[0],
        prefix_len: prefix,
    };
    for (i, ip) in ips.iter().enumerate() {
        if !first.contains(*ip) {
            return Err(format!(
                "--ip {s:?}: {ip} is not in the same /{prefix} as {}",
                ips[0]
            ));
        }
        let host = IpPrefix {
            addr: *ip,
            prefix_len: prefix,
        };
        if !host.is_usable_host() {
            return Err(format!("--ip {s:?}: {ip} is not a usable host address"));
        }
        if ips[..i].contains(ip) {
            return Err(format!("--ip {s:?}: {ip} is given twice"));
        }
    }
    Ok((ips, prefix))
}

impl GenArgs {
    /// The checked configuration; errors are one line naming the option or scenario field.
    pub fn config(&self) -> Result<GenConfig, String> {
        let scenario = Scenario::from_file(&self.scenario)?;
        let (ips, prefix_len) = parse_ips(&self.ip)?;
        let t = *self.target.ip();
        if ips.contains(&t) {
            return Err(format!("--target {t} is one of our own --ip addresses"));
        }
        if self.target.port() == 0 {
            return Err("--target needs a port (ADDR:PORT, e.g. 198.18.0.1:80)".into());
        }
        let on_link = IpPrefix {
            addr: ips[0],
            prefix_len,
        }
        .contains(t);
        if !on_link && self.gateway.is_none() {
            return Err(format!(
                "--target {t} is outside {}/{prefix_len}; give --gateway",
                ips[0]
            ));
        }
        if !(576..=9000).contains(&self.mtu) {
            return Err(format!(
                "--mtu {} is out of range: use 576 to 9000",
                self.mtu
            ));
        }
        let cores = self.workers.checked_cores().map_err(|e| e.to_string())?;
        let rest = TcpConfig {
            rx_buf: self.rx_buf,
            tx_buf: self.tx_buf,
            ..TcpConfig::default()
        };
        let tcp = self.tcp.apply(rest, self.mtu);
        tcp.validate()
            .map_err(|e| format!("invalid TCP settings: {e}"))?;
        Ok(GenConfig {
            scenario,
            ips,
            prefix_len,
            gateway: self.gateway,
            target: self.target,
            json: self.json.clone(),
            cores,
            port: self.workers.port.clone(),
            tcp,
            mtu: self.mtu,
            seed: self.tcp.seed().map_err(|e| e.to_string())?,
            rx_desc: self.workers.rx_desc,
            tx_desc: self.workers.tx_desc,
            eal_args: self.eal.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_single_range_and_list() {
        assert_eq!(
            parse_ips("198.18.0.2/24").unwrap(),
            (vec![Ipv4Addr::new(198, 18, 0, 2)], 24)
        );
        let (r, _) = parse_ips("198.18.0.2-198.18.0.9/24").unwrap();
        assert_eq!(r.len(), 8);
        assert_eq!(r[7], Ipv4Addr::new(198, 18, 0, 9));
        let (l, p) = parse_ips("10.0.0.5,10.0.0.7-10.0.0.8/16").unwrap();
        assert_eq!(
            l,
            vec![
                Ipv4Addr::new(10, 0, 0, 5),
                Ipv4Addr::new(10, 0, 0, 7),
                Ipv4Addr::new(10, 0, 0, 8)
            ]
        );
        assert_eq!(p, 16);
    }

    #[test]
    fn ip_errors_are_one_line_and_name_the_problem() {
        let cases = [
            ("198.18.0.2", "missing /PREFIX (expected e.g. 198.18.0.2/24, 198.18.0.2-198.18.0.9/24 or 198.18.0.2,198.18.0.5/24)"),
            ("198.18.0.9-198.18.0.2/24", "range \"198.18.0.9-198.18.0.2\" must go upwards and hold at most 4096 addresses"),
            ("198.18.0.2,198.18.1.2/24", "198.18.1.2 is not in the same /24 as 198.18.0.2"),
            ("198.18.0.0/24", "198.18.0.0 is not a usable host address"),
            ("198.18.0.2,198.18.0.2/24", "198.18.0.2 is given twice"),
        ];
        for (arg, why) in cases {
            assert_eq!(parse_ips(arg).unwrap_err(), format!("--ip {arg:?}: {why}"));
        }
    }
}
