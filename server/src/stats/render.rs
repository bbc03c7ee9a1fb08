//! `tcpterm stat` as text: what `ss -s` and `netstat -s` would show for a kernel stack.

use super::{Snapshot, WorkerView};
use core::fmt::Write;

/// `1234567.0` → `1.23M`; small values stay exact.
pub fn si(x: f64) -> String {
    let a = x.abs();
    if a >= 1e9 {
        format!("{:.2}G", x / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// `3723000` ms → `1h02m03s`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    let (d, h, m, s) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d{h:02}h{m:02}m")
    } else if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// A table with a label column and one column per worker plus a total (when there are several).
struct Table<'a> {
    out: &'a mut String,
    cols: Vec<&'a WorkerView>,
}

impl<'a> Table<'a> {
    fn new(out: &'a mut String, s: &'a Snapshot, title: &str) -> Self {
        let mut cols: Vec<&WorkerView> = vec![&s.total];
        if s.workers.len() > 1 {
            cols.extend(s.workers.iter());
        }
        let _ = write!(out, "{title:<22}{:>12}", "total");
        for w in &cols[1..] {
            let name = match (w.worker, w.core) {
                (Some(i), Some(c)) => format!("w{i}/core{c}"),
                (Some(i), None) => format!("w{i}"),
                _ => String::new(),
            };
            let _ = write!(out, "{name:>14}");
        }
        out.push('\n');
        Table { out, cols }
    }

    fn row(&mut self, label: &str, f: impl Fn(&WorkerView) -> String) {
        let _ = write!(self.out, "  {label:<20}{:>12}", f(self.cols[0]));
        for w in &self.cols[1..] {
            let _ = write!(self.out, "{:>14}", f(w));
        }
        self.out.push('\n');
    }
}

pub fn text(s: &Snapshot) -> String {
    let mut out = String::new();
    let listeners: Vec<String> = s
        .listeners
        .iter()
        .map(|(p, a)| format!("{p} ({a})"))
        .collect();
    let _ = writeln!(
        out,
        "tcpterm {} pid {}, up {}, {} worker{}{}; listening on {}",
        s.ip,
        s.pid,
        duration(s.uptime_ms),
        s.workers.len(),
        if s.workers.len() == 1 { "" } else { "s" },
        if s.shutting_down {
            ", SHUTTING DOWN"
        } else {
            ""
        },
        if listeners.is_empty() {
            "nothing".to_string()
        } else {
            listeners.join(", ")
        },
    );
    out.push('\n');

    let mut t = Table::new(&mut out, s, "Connections");
    for (i, (name, _)) in s.total.states.0.iter().enumerate() {
        t.row(name, |w| w.states.0.get(i).map_or(0, |x| x.1).to_string());
    }
    t.row("orphans", |w| w.orphans.to_string());
    t.row("total (excl. TW)", |w| w.conns.to_string());
    t.out.push('\n');

    let mut t = Table::new(&mut out, s, "Rates (per second)");
    t.row("new connections", |w| si(w.rates.cps));
    t.row("requests", |w| si(w.rates.rps));
    t.row("rx packets", |w| si(w.rates.rx_pps));
    t.row("tx packets", |w| si(w.rates.tx_pps));
    t.row("rx payload bits", |w| si(w.rates.rx_bps));
    t.row("tx payload bits", |w| si(w.rates.tx_bps));
    t.row("drops", |w| si(w.rates.drops));
    t.out.push('\n');

    let mut t = Table::new(&mut out, s, "Totals");
    t.row("requests", |w| w.app.requests.to_string());
    t.row("error responses", |w| w.app.errors.to_string());
    t.row("rx payload bytes", |w| w.rx_bytes.to_string());
    t.row("tx payload bytes", |w| w.tx_bytes.to_string());
    t.row("queue rx packets", |w| w.queue.rx_packets.to_string());
    t.row("queue tx packets", |w| w.queue.tx_packets.to_string());
    t.row("queue tx dropped", |w| w.queue.tx_dropped.to_string());
    t.row("redirected out/in", |w| {
        format!("{}/{}", w.queue.redirected_out, w.queue.redirected_in)
    });
    t.row("last report (ms)", |w| w.age_ms.to_string());
    t.out.push('\n');

    if let Some(p) = &s.port {
        let _ = writeln!(
            out,
            "Port {}: rx {} pkts {} B, tx {} pkts {} B, missed {}, rx errors {}, tx errors {}, no mbuf {}\n",
            p.name, p.rx_packets, p.rx_bytes, p.tx_packets, p.tx_bytes, p.rx_missed, p.rx_errors,
            p.tx_errors, p.rx_nombuf
        );
    }

    let mut t = Table::new(&mut out, s, "Drops");
    for (i, (name, _)) in s.total.drops.0.iter().enumerate() {
        t.row(name, |w| w.drops.0.get(i).map_or(0, |x| x.1).to_string());
    }
    t.row("(all)", |w| w.total_drops().to_string());
    t.out.push('\n');

    let mut t = Table::new(&mut out, s, "Tcp (netstat -s)");
    for (i, (name, _)) in s.total.mib.0.iter().enumerate() {
        t.row(name, |w| w.mib.0.get(i).map_or(0, |x| x.1).to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::tests::sample;

    fn line<'a>(text: &'a str, label: &str) -> &'a str {
        text.lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in\n{text}"))
    }

    #[test]
    fn si_and_duration_format() {
        assert_eq!(si(0.0), "0");
        assert_eq!(si(999.0), "999");
        assert_eq!(si(12.34), "12.3");
        assert_eq!(si(15_000.0), "15.0k");
        assert_eq!(si(1_234_567.0), "1.23M");
        assert_eq!(si(2.5e9), "2.50G");
        assert_eq!(duration(3_723_000), "1h02m03s");
        assert_eq!(duration(59_999), "59s");
        assert_eq!(duration(90_000), "1m30s");
        assert_eq!(duration(2 * 86_400_000 + 3_600_000), "2d01h00m");
    }

    #[test]
    fn text_shows_states_per_core_rates_drops_and_mib() {
        let t = text(&sample());
        assert!(t.starts_with(
            "tcpterm 198.18.0.1/24 pid 1234, up 1h02m03s, 2 workers; listening on 80 (http), 7 (echo)\n"
        ));
        assert!(
            line(&t, "Connections").contains("w0/core2")
                && line(&t, "Connections").contains("w1/core3")
        );
        let est: Vec<&str> = line(&t, "ESTABLISHED").split_whitespace().collect();
        assert_eq!(est, ["ESTABLISHED", "4", "2", "2"]);
        let tw: Vec<&str> = line(&t, "TIME_WAIT").split_whitespace().collect();
        assert_eq!(tw, ["TIME_WAIT", "2", "1", "1"]);
        assert!(line(&t, "new connections").contains("1500"));
        assert!(line(&t, "requests").contains("250.0k"));
        assert!(line(&t, "rx packets").contains("1.25M"));
        let d: Vec<&str> = line(&t, "tcp_no_listener").split_whitespace().collect();
        assert_eq!(d, ["tcp_no_listener", "14", "7", "7"]);
        let m: Vec<&str> = line(&t, "PassiveOpens").split_whitespace().collect();
        assert_eq!(m, ["PassiveOpens", "84", "42", "42"]);
        assert!(line(&t, "Port net_tap0").contains("rx 10 pkts"));
        // Every drop reason and every MIB counter has a line.
        for (name, _) in stack::Counters::default().drops.entries() {
            line(&t, name);
        }
        for (name, _) in stack::Counters::default().mib.entries() {
            line(&t, name);
        }
    }

    #[test]
    fn a_single_worker_shows_only_the_total_column() {
        let mut s = sample();
        s.workers.truncate(1);
        let t = text(&s);
        assert!(t.contains(", 1 worker;"));
        assert_eq!(line(&t, "ESTABLISHED").split_whitespace().count(), 2);
    }
}
