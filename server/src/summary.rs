//! The one-line summary printed to stderr while serving, e.g.
//! `[  12s] conn 1.2k (est 1.1k syn 12 tw 40.0k fin 3 cw 0) | cps 10.1k rps 250.3k | pps rx 1.20M tx 1.10M | drops 0 (12/s)`.

use crate::stats::render::{duration, si};
use crate::stats::Snapshot;

pub fn line(s: &Snapshot) -> String {
    let t = &s.total;
    let st = |name: &str| t.states.get(name).unwrap_or(0) as f64;
    let fin = st("FIN_WAIT1") + st("FIN_WAIT2") + st("CLOSING") + st("LAST_ACK");
    format!(
        "[{:>5}] conn {} (est {} syn {} tw {} fin {} cw {}) | cps {} rps {} | pps rx {} tx {} | drops {} ({}/s){}",
        duration(s.uptime_ms),
        si(t.conns as f64),
        si(st("ESTABLISHED")),
        si(st("SYN_RECV") + st("SYN_SENT")),
        si(t.time_wait as f64),
        si(fin),
        si(st("CLOSE_WAIT")),
        si(t.rates.cps),
        si(t.rates.rps),
        si(t.rates.rx_pps),
        si(t.rates.tx_pps),
        t.total_drops(),
        si(t.rates.drops),
        if s.shutting_down { " | shutting down" } else { "" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::tests::sample;

    #[test]
    fn summary_is_one_line_with_states_rates_and_drops() {
        let l = line(&sample());
        assert_eq!(
            l,
            "[1h02m03s] conn 4 (est 4 syn 0 tw 2 fin 0 cw 0) | cps 1500 rps 250.0k | pps rx 1.25M tx 0 | drops 14 (0/s)"
        );
        assert!(!l.contains('\n'));
    }
}
