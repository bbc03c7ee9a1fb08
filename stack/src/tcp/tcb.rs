//! Transmission control block: one connection's state (RFC 9293 §3.3.1) and segment processing
//! in the order of RFC 9293 §3.10.7.
//!
//! The Tcb never calls the app: `input` and the timer handlers record what the app must hear in
//! `Events`, and the engine dispatches them, then calls `output` once so that the app's reply
//! and our ACK leave in one segment.

use crate::app::CloseReason;
use crate::buffer::{RecvBuffer, SendBuffer};
use crate::counters::State;
use crate::engine::{Shared, TimerPayload, Transmit};
use crate::flow::FourTuple;
use crate::seq::SeqNum;
use crate::table::SlotId;
use crate::tcp::cc::bbr::{AckInfo, CaState};
use crate::tcp::cc::rate::{Gather, Sample};
use crate::tcp::cc::Cc;
use crate::tcp::rack::{Prr, Rack, Tx as RackTx};
use crate::tcp::rtt::RttEstimator;
use crate::tcp::scoreboard::Scoreboard;
use crate::time::Instant;
use crate::timer::TimerId;
use crate::wire::tcp::{SackBlocks, TcpFlags, TcpOptions, TcpRepr, HEADER_LEN as TCP_HEADER_LEN};
use crate::wire::MacAddr;
use core::time::Duration;

// Tcb flags (one word keeps the Tcb small).
/// The app knows this connection's handle (so it must get `on_closed`).
pub(crate) const F_APP_OPEN: u32 = 1 << 0;
/// `on_open` was called.
pub(crate) const F_OPENED: u32 = 1 << 1;
/// The app fully closed: no more callbacks but `on_closed`, data arriving is answered by RST.
pub(crate) const F_ORPHAN: u32 = 1 << 2;
/// App requests recorded during a callback, applied by the engine afterwards.
pub(crate) const F_CLOSE_REQ: u32 = 1 << 3;
pub(crate) const F_SHUT_REQ: u32 = 1 << 4;
pub(crate) const F_ABORT_REQ: u32 = 1 << 5;
/// Our FIN goes out after the queued data.
pub(crate) const F_FIN_QUEUED: u32 = 1 << 6;
pub(crate) const F_FIN_SENT: u32 = 1 << 7;
/// Created from LISTEN (a RST in SYN-RECEIVED drops it silently).
pub(crate) const F_PASSIVE: u32 = 1 << 8;
/// Counted in its listener's SYN queue.
pub(crate) const F_IN_SYNQ: u32 = 1 << 9;
pub(crate) const F_TS: u32 = 1 << 10;
pub(crate) const F_SACK: u32 = 1 << 11;
pub(crate) const F_WS: u32 = 1 << 12;
pub(crate) const F_ACK_NOW: u32 = 1 << 13;
pub(crate) const F_WANT_WRITABLE: u32 = 1 << 14;
/// The peer's FIN was processed.
pub(crate) const F_PEER_FIN: u32 = 1 << 15;
/// Counted in `counters.orphans`.
pub(crate) const F_ORPHAN_COUNTED: u32 = 1 << 16;
/// In fast recovery (NewReno or SACK).
pub(crate) const F_RECOVERY: u32 = 1 << 17;
/// After an RTO: everything from `rtx_nxt` to `rtx_end` is presumed lost (go-back-N).
pub(crate) const F_LOSS: u32 = 1 << 18;
/// The next retransmission ignores cwnd (fast retransmit, RFC 5681 §3.2 step 2).
pub(crate) const F_RTX_FORCE: u32 = 1 << 19;
/// A segment is being timed for an RTT sample (Karn: cleared on retransmission).
pub(crate) const F_RTT_TIMING: u32 = 1 << 20;
/// Next hop MAC not yet resolved (active open before ARP answered).
pub(crate) const F_NO_MAC: u32 = 1 << 21;
/// Our SYN has been acknowledged (sndbuf offset 0 is then SND.UNA, not ISS + 1).
pub(crate) const F_SYN_ACKED: u32 = 1 << 22;
/// The persist timer found a usable but small window: send despite SWS avoidance
/// (RFC 9293 §3.8.6.2.1 override timeout).
pub(crate) const F_FORCE_SEND: u32 = 1 << 23;
/// This flight's tail loss probe went out (RFC 8985 §7: one probe per episode).
pub(crate) const F_TLP: u32 = 1 << 25;
/// A D-SACK block (`dsack`) goes first in the next ACK's SACK option (RFC 2883 §4).
pub(crate) const F_DSACK: u32 = 1 << 27;
/// Our SYN or SYN-ACK went out more than once: it gives no timed RTT sample (Karn), and
/// RFC 6298 §5.7 applies when the handshake completes.
pub(crate) const F_SYN_RTX: u32 = 1 << 26;
/// `delack_due` holds when the owed delayed ACK must go out. The delack timer itself is lazy:
/// it is not cancelled when an ACK goes out early, and a firing that finds the due time moved
/// later re-arms instead (one wheel operation per delayed-ACK interval, not per segment pair).
pub(crate) const F_DELACK_DUE: u32 = 1 << 24;
/// The last window we advertised was held down by unread data in the receive buffer, so the
/// app reading it may warrant a window update (not merely the header's 16-bit cap, as in a
/// SYN-ACK: every later ACK carries the scaled window anyway).
pub(crate) const F_RWND_LIMITED: u32 = 1 << 28;
/// The peer's FIN arrived beyond a hole; it is processed at `peer_fin_seq` once the hole fills.
pub(crate) const F_OOO_FIN: u32 = 1 << 29;

// What the single "rtx" timer slot is armed for (like Linux's icsk_pending).
pub(crate) const RTX_NONE: u8 = 0;
pub(crate) const RTX_SYN: u8 = 1;
pub(crate) const RTX_DATA: u8 = 2;
pub(crate) const RTX_PERSIST: u8 = 3;
pub(crate) const RTX_KEEPALIVE: u8 = 4;
pub(crate) const RTX_FIN_WAIT2: u8 = 5;
pub(crate) const RTX_TLP: u8 = 6;
/// RACK's reordering timer (RFC 8985 §6.3): a segment may be declared lost when it fires.
pub(crate) const RTX_REO: u8 = 7;

/// RFC 8985 §7.2 WCDelAckT: the worst-case delayed-ACK time of a peer holding one segment.
const TLP_MAX_ACK_DELAY: Duration = Duration::from_millis(200);
/// Shortest probe timeout (Linux tcp_schedule_loss_probe: 10 ms).
const TLP_MIN_PTO: Duration = Duration::from_millis(10);

/// RFC 6298 §5.7 (Linux TCP_TIMEOUT_FALLBACK): the RTO once data transmission begins when the
/// SYN or SYN-ACK had to be retransmitted and no RTT was measured.
const RTO_AFTER_SYN_LOSS: Duration = Duration::from_secs(3);

/// The minimum MSS a peer may impose (RFC 9293 §3.7.1 default is 536; below 64 is abuse).
const MIN_PEER_MSS: u16 = 64;
/// RFC 1191 §6.3: how long a PMTU estimate lowered by a frag-needed stands (10 minutes, the
/// RFC's suggestion and Linux's `mtu_expires`).
const PMTU_EXPIRES_MS: u32 = 600_000;
/// RFC 9293 §3.7.1: assumed when the peer sends no MSS option.
const DEFAULT_PEER_MSS: u16 = 536;
/// RFC 5681 §3.2 DupThresh.
const DUP_THRESH: u8 = 3;
/// SACKed ranges the sender remembers. Each hole in flight splits one: a large window through
/// 5% loss holds 15-20 of them, and a range forgotten is a run of delivered bytes resent (and
/// D-SACKed). 256 ranges are 2 KiB at most, grown only as holes appear.
const SACK_SCOREBOARD_RANGES: usize = 256;

/// Why we would answer a segment that failed validation; each has its Linux MIB counter for
/// the answers the per-connection limit holds back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OowReply {
    /// Out of window (RFC 9293 §3.10.7.4 first check).
    Seq,
    /// PAWS (RFC 7323 §5.3 R1).
    Paws,
    /// RFC 5961 challenge ACK (RST or SYN in window, ACK out of range).
    Challenge,
    /// SYN-ACK resent in SYN-RECEIVED (retransmitted SYN, out-of-window segment).
    SynRecv,
}

/// What the app must be told after `input` or a timer; the engine dispatches it.
#[derive(Default, Debug)]
pub(crate) struct Events {
    /// Entered ESTABLISHED.
    pub opened: bool,
    /// In-order payload `payload[a..b]` that was not buffered (zero-copy delivery).
    pub direct: Option<(usize, usize)>,
    /// New in-order data went into the receive buffer.
    pub buffered: bool,
    /// The peer's FIN was processed.
    pub peer_fin: bool,
    /// Send space opened after a short `send`.
    pub writable: bool,
    /// Move to TIME_WAIT after flushing output.
    pub time_wait: bool,
    /// Remove the connection now (no further output but what was already sent).
    pub close: Option<CloseReason>,
}

pub struct Tcb {
    pub(crate) tuple: FourTuple,
    pub(crate) peer_mac: MacAddr,
    pub(crate) state: State,
    /// The state the per-state gauge currently counts this connection in.
    pub(crate) gauge_state: State,
    pub(crate) flags: u32,
    // Send sequence space (RFC 9293 §3.3.1). `snd_nxt` is the highest sequence sent plus one
    // (BSD's snd_max); retransmissions use `rtx_nxt` instead of moving it back.
    pub(crate) iss: SeqNum,
    pub(crate) snd_una: SeqNum,
    pub(crate) snd_nxt: SeqNum,
    pub(crate) snd_wl1: SeqNum,
    pub(crate) snd_wl2: SeqNum,
    pub(crate) rtx_nxt: SeqNum,
    pub(crate) rtx_end: SeqNum,
    /// RFC 6582 `recover` / RFC 6675 RecoveryPoint.
    pub(crate) recover: SeqNum,
    /// RFC 6675 HighRxt.
    pub(crate) high_rxt: SeqNum,
    pub(crate) rtt_seq: SeqNum,
    // Receive sequence space.
    pub(crate) irs: SeqNum,
    pub(crate) rcv_nxt: SeqNum,
    /// Right edge of the window last advertised (never moved left, RFC 9293 §3.8.6).
    pub(crate) rcv_adv: SeqNum,
    /// RFC 7323 §4.3 Last.ACK.sent: the ACK field of the last segment we sent.
    pub(crate) last_ack_sent: SeqNum,
    /// Sequence number of an out-of-order FIN (valid with `F_OOO_FIN`).
    pub(crate) peer_fin_seq: SeqNum,
    pub(crate) snd_wnd: u32,
    pub(crate) max_snd_wnd: u32,
    pub(crate) ts_recent: u32,
    pub(crate) ts_offset: u32,
    /// Microseconds (wrapping) when the timed segment was sent.
    pub(crate) rtt_start: u32,
    /// Milliseconds (wrapping) of the last segment received (keepalive idle time).
    pub(crate) last_rx: u32,
    /// Milliseconds (wrapping, never 0 once set) when we last answered a segment that failed
    /// validation; 0: never (Linux `last_oow_ack_time`).
    pub(crate) last_oow_ack: u32,
    /// Negotiated MSS: payload bytes per segment before options.
    pub(crate) mss: u16,
    /// The MSS before path-MTU discovery lowered `mss`: what aging restores.
    pub(crate) mss_negotiated: u16,
    /// Milliseconds (wrapping, never 0 once set) when a frag-needed last lowered `mss`; 0:
    /// the MSS is the negotiated one.
    pub(crate) pmtu_lowered: u32,
    pub(crate) snd_wscale: u8,
    pub(crate) rcv_wscale: u8,
    pub(crate) dupacks: u8,
    pub(crate) delack_segs: u8,
    /// Consecutive timeouts / probes without progress.
    pub(crate) retries: u8,
    pub(crate) rtx_kind: u8,
    pub(crate) rtx_timer: TimerId,
    pub(crate) delack_timer: TimerId,
    pub(crate) delack_due: Instant,
    pub(crate) rtt: RttEstimator,
    pub(crate) cc: Cc,
    pub(crate) sndbuf: SendBuffer,
    pub(crate) rcvbuf: RecvBuffer,
    /// Allocated on the first SACK-carrying ACK only.
    pub(crate) sb: Option<Box<Scoreboard>>,
    /// RACK record, PRR and undo state: only while data is in flight on a SACK connection.
    pub(crate) rack: Option<Box<Rack>>,
    /// The duplicate range to report in a D-SACK block (valid with `F_DSACK`).
    pub(crate) dsack: (SeqNum, SeqNum),
}

#[inline]
fn ms32(now: Instant) -> u32 {
    now.as_millis() as u32
}

#[inline]
fn us32(now: Instant) -> u32 {
    now.as_micros() as u32
}

impl Tcb {
    pub(crate) fn new(
        sh: &Shared,
        tuple: FourTuple,
        peer_mac: MacAddr,
        state: State,
        iss: SeqNum,
        ts_offset: u32,
    ) -> Tcb {
        let cfg = &sh.cfg;
        Tcb {
            tuple,
            peer_mac,
            state,
            gauge_state: state,
            flags: 0,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_wl1: SeqNum(0),
            snd_wl2: iss,
            rtx_nxt: iss,
            rtx_end: iss,
            recover: iss,
            high_rxt: iss,
            rtt_seq: iss,
            irs: SeqNum(0),
            rcv_nxt: SeqNum(0),
            rcv_adv: SeqNum(0),
            last_ack_sent: SeqNum(0),
            peer_fin_seq: SeqNum(0),
            snd_wnd: 0,
            max_snd_wnd: 0,
            ts_recent: 0,
            ts_offset,
            rtt_start: 0,
            last_rx: ms32(sh.now),
            last_oow_ack: 0,
            mss: DEFAULT_PEER_MSS.min(sh.our_mss),
            mss_negotiated: DEFAULT_PEER_MSS.min(sh.our_mss),
            pmtu_lowered: 0,
            snd_wscale: 0,
            rcv_wscale: 0,
            dupacks: 0,
            delack_segs: 0,
            retries: 0,
            rtx_kind: RTX_NONE,
            rtx_timer: TimerId::NONE,
            delack_timer: TimerId::NONE,
            delack_due: Instant::ZERO,
            rtt: RttEstimator::new(cfg.rto_initial, cfg.rto_min, cfg.rto_max),
            cc: Cc::new(cfg.cc, sh.our_mss as u32, cfg.initial_window),
            sndbuf: SendBuffer::new(cfg.tx_buf),
            rcvbuf: RecvBuffer::new(cfg.rx_buf, cfg.max_ooo_ranges),
            sb: None,
            rack: None,
            dsack: (SeqNum(0), SeqNum(0)),
        }
    }

    #[inline]
    pub(crate) fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }
    #[inline]
    pub(crate) fn set(&mut self, f: u32) {
        self.flags |= f;
    }
    #[inline]
    pub(crate) fn clear(&mut self, f: u32) {
        self.flags &= !f;
    }

    /// Applies the peer's SYN options (RFC 9293 §3.7.1 MSS, RFC 7323 WS/TS, RFC 2018 SACK):
    /// an option is used only when both sides sent it.
    pub(crate) fn negotiate(&mut self, sh: &Shared, o: &TcpOptions) {
        let peer_mss = o.mss.unwrap_or(DEFAULT_PEER_MSS).max(MIN_PEER_MSS);
        self.mss = sh.our_mss.min(peer_mss);
        self.mss_negotiated = self.mss;
        self.cc.set_mss(self.mss as u32);
        if sh.cfg.window_scaling {
            if let Some(ws) = o.window_scale {
                self.set(F_WS);
                self.snd_wscale = ws.min(14);
                self.rcv_wscale = sh.rcv_wscale;
            }
        }
        if sh.cfg.sack && o.sack_permitted {
            self.set(F_SACK);
        }
        if sh.cfg.timestamps {
            if let Some((tsval, _)) = o.timestamp {
                self.set(F_TS);
                self.ts_recent = tsval;
            }
        }
    }

    /// Sequence number of the first data byte (the byte at sndbuf offset 0).
    #[inline]
    fn data_start(&self) -> SeqNum {
        if self.has(F_SYN_ACKED) {
            self.snd_una
        } else {
            self.iss + 1u32
        }
    }

    /// One past the last queued data byte.
    #[inline]
    fn data_end(&self) -> SeqNum {
        self.data_start() + self.sndbuf.len()
    }

    /// Payload bytes in a full-sized segment: the MSS less the timestamp option.
    #[inline]
    fn smss(&self) -> u32 {
        let opt_len = if self.has(F_TS) { 12 } else { 0 };
        (self.mss as u32).saturating_sub(opt_len).max(1)
    }

    #[inline]
    fn in_flight(&self) -> u32 {
        if self.has(F_LOSS) {
            self.rtx_nxt - self.snd_una
        } else {
            self.snd_nxt - self.snd_una
        }
    }

    /// Whether `send` may queue data now.
    pub(crate) fn can_send(&self) -> bool {
        matches!(
            self.state,
            State::SynSent | State::SynReceived | State::Established | State::CloseWait
        ) && !self.has(F_FIN_QUEUED | F_CLOSE_REQ | F_SHUT_REQ | F_ABORT_REQ)
    }

    // ---------------------------------------------------------------------------------------
    // Input
    // ---------------------------------------------------------------------------------------

    /// Segment arrival (RFC 9293 §3.10.7.3 for SYN-SENT, §3.10.7.4 otherwise). `eth_src` is
    /// the frame's source MAC: it becomes the next hop for our replies only once the segment
    /// has passed the acceptability, RST, SYN and ACK checks, so a blind off-path frame with
    /// the 4-tuple cannot redirect the connection's traffic.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn input<T: Transmit>(
        &mut self,
        sh: &mut Shared,
        tx: &mut T,
        id: SlotId,
        eth_src: MacAddr,
        seg: &TcpRepr,
        payload: &[u8],
        ev: &mut Events,
    ) {
        self.last_rx = ms32(sh.now);
        if self.has(F_NO_MAC) {
            self.clear(F_NO_MAC);
        }
        if self.state == State::SynSent {
            self.input_syn_sent(sh, tx, id, eth_src, seg, ev);
            return;
        }
        let mut flags = seg.flags;
        let mut seg_seq = seg.seq;
        // The window field of a SYN segment is never scaled (RFC 7323 §2.2).
        let mut wnd_shift = self.snd_wscale;

        // Simultaneous open (RFC 9293 figure 8; Linux tcp_validate_incoming): the peer's
        // SYN-ACK of our SYN completes the open. Its SYN is the one already received, so
        // only its ACK is processed, as if it started at RCV.NXT.
        if self.state == State::SynReceived
            && flags.syn()
            && flags.ack()
            && !flags.rst()
            && !flags.fin()
            && payload.is_empty()
            && seg.seq == self.irs
            && seg.ack == self.snd_nxt
        {
            flags = TcpFlags(flags.0 & !TcpFlags::SYN);
            seg_seq = self.irs + 1u32;
            wnd_shift = 0;
        }

        // SYN-RECEIVED: a retransmitted SYN means our SYN-ACK was lost; answer it again.
        if self.state == State::SynReceived
            && flags.syn()
            && !flags.ack()
            && !flags.rst()
            && seg.seq == self.irs
        {
            // A flood of copies of the SYN gets one SYN-ACK per interval (Linux, too).
            if !self.oow_rate_limited(sh, OowReply::SynRecv) {
                self.send_syn(sh, tx, true);
            }
            return;
        }

        // RFC 7323 §5.3 R1 (PAWS): an older TSval than TS.Recent is a stale duplicate.
        let seg_ts = if self.has(F_TS) {
            seg.options.timestamp
        } else {
            None
        };
        if let Some((tsval, _)) = seg_ts {
            if !flags.rst() && (tsval.wrapping_sub(self.ts_recent) as i32) < 0 {
                sh.counters.mib.paws_estab_rejected += 1;
                sh.counters.drops.tcp_paws += 1;
                self.dup_ack_for_invalid(sh, seg, payload.len(), OowReply::Paws);
                return;
            }
        }

        // First: sequence number check (RFC 9293 §3.10.7.4 acceptability table).
        let mut seq = seg_seq;
        let mut data = payload;
        let mut fin = flags.fin();
        let seg_len = data.len() as u32 + flags.syn() as u32 + fin as u32;
        let wnd = if self.rcv_adv.gt(self.rcv_nxt) {
            self.rcv_adv - self.rcv_nxt
        } else {
            0
        };
        // The right edge itself is acceptable too (as Linux's tcp_sequence has it, where the
        // RFC's table stops one short): once the peer has filled the window behind a hole,
        // every ACK it sends starts exactly there. Refusing them would discard every ACK of
        // our data until the hole is repaired, and only our RTO would end that.
        let right = self.rcv_nxt + wnd;
        let starts_inside = seq.ge(self.rcv_nxt) && seq.le(right);
        let acceptable = match (seg_len, wnd) {
            (0, _) => starts_inside,
            // RFC 9293 §3.10.7.4: with a zero window, still take the ACK (and RST) of a
            // segment at RCV.NXT; its text is trimmed away below.
            (_, 0) => seq == self.rcv_nxt,
            (_, _) => starts_inside || (seq + (seg_len - 1)).in_range(self.rcv_nxt, right),
        };
        if !acceptable {
            // A zero-window probe or a keepalive (seq = RCV.NXT - 1) lands here too: the ACK
            // we send is exactly the answer it wants. Such probes come at least an RTO apart
            // (keepalives minutes apart), so the rate limit, which Linux applies to them as
            // well, still answers them.
            sh.counters.drops.tcp_out_of_window += 1;
            if !data.is_empty() && (seq + data.len()).le(self.rcv_nxt) {
                self.queue_dsack(sh, seq, seq + data.len());
            }
            if !flags.rst() {
                let why = if self.state == State::SynReceived {
                    OowReply::SynRecv
                } else {
                    OowReply::Seq
                };
                self.dup_ack_for_invalid(sh, seg, payload.len(), why);
            }
            return;
        }

        // Second: RST (RFC 9293 §3.10.7.4, RFC 5961 §3.2).
        if flags.rst() {
            if seq != self.rcv_nxt {
                self.challenge_ack(sh);
                return;
            }
            let reason = match self.state {
                State::SynReceived => {
                    sh.counters.mib.attempt_fails += 1;
                    if self.has(F_PASSIVE) {
                        CloseReason::ResetByPeer
                    } else {
                        CloseReason::Refused
                    }
                }
                State::Established | State::CloseWait => {
                    sh.counters.mib.estab_resets += 1;
                    CloseReason::ResetByPeer
                }
                _ => CloseReason::ResetByPeer,
            };
            self.state = State::Closed;
            ev.close = Some(reason);
            return;
        }

        // Third: security/compartment (not applicable). Fourth: SYN in a synchronized state
        // (RFC 5961 §4): never reset on it, send a challenge ACK.
        if flags.syn() {
            sh.counters.mib.syn_challenges += 1;
            self.challenge_ack(sh);
            return;
        }

        // Fifth: ACK.
        if !flags.ack() {
            sh.counters.drops.tcp_bad_flags += 1;
            return;
        }
        let ack = seg.ack;
        // RFC 5961 §5.2: SEG.ACK must lie in [SND.UNA - MAX.SND.WND, SND.NXT].
        if ack.gt(self.snd_nxt) || ack.lt(self.snd_una - self.max_snd_wnd) {
            sh.counters.drops.tcp_bad_ack += 1;
            if self.state == State::SynReceived {
                self.send_rst(sh, tx, ack, None);
            } else {
                self.challenge_ack(sh);
            }
            return;
        }
        if self.state == State::SynReceived && !ack.gt(self.snd_una) {
            sh.counters.drops.tcp_bad_ack += 1;
            self.send_rst(sh, tx, ack, None);
            return;
        }
        // The segment is acceptable: its source is the peer's current next hop.
        self.peer_mac = eth_src;
        if self.state == State::SynReceived {
            self.state = State::Established;
            self.syn_loss_rto();
            ev.opened = true;
            // The window in the handshake's final ACK is scaled (RFC 7323 §2.2).
            self.snd_wnd = (seg.window as u32) << wnd_shift;
            self.max_snd_wnd = self.snd_wnd;
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
        }

        // RFC 7323 §4.3: remember TSval only of a segment that covers Last.ACK.sent, so that
        // a delayed ACK echoes the earliest segment it acknowledges.
        if let Some((tsval, _)) = seg_ts {
            if seq.le(self.last_ack_sent) {
                self.ts_recent = tsval;
            }
        }

        let seg_wnd = (seg.window as u32) << wnd_shift;
        let una_before = self.snd_una;
        let sacked_before = self.sb.as_ref().map_or(0, |sb| sb.sacked_bytes());
        if ack.gt(self.snd_una) {
            self.on_new_ack(sh, ack, seg, ev);
        } else if ack == self.snd_una && self.snd_nxt != self.snd_una {
            // SACK blocks feed the scoreboard on every ACK, in or out of recovery.
            let newly_sacked = self.update_scoreboard(seg);
            // RFC 5681 §2 (a)-(e) for NewReno. For a SACK connection RFC 6675 §2 defines a
            // duplicate ACK as one whose SACK blocks cover new data, whatever its window or
            // payload: a Linux receiver grows its window with each ACK while it holds
            // out-of-order data, and a busy peer's ACKs ride on its own data.
            let classic = data.is_empty() && !fin && seg_wnd == self.snd_wnd;
            let dup = if self.has(F_SACK) && !seg.options.sack.as_slice().is_empty() {
                newly_sacked > 0
            } else {
                classic
            };
            if dup {
                self.on_dupack(sh, newly_sacked);
            }
        }
        if self.rack.is_some() {
            let sacked = self.sb.as_ref().map_or(0, |sb| sb.sacked_bytes());
            let delivered = ((self.snd_una - una_before) as i64 + sacked as i64
                - sacked_before as i64)
                .max(0) as u32;
            let sample = self.rack_on_ack(sh, seg, una_before, delivered);
            let lost = self.rack_detect(sh, id);
            if self.cc.drives_recovery() {
                self.rate_control(sh, sample, delivered, lost);
            }
            let idle = self.snd_una == self.snd_nxt && !self.has(F_RECOVERY);
            if idle && !self.rack.as_ref().is_some_and(|r| r.holds_history()) {
                self.rack = None;
            }
        }
        // RFC 9293 §3.10.7.4: update the send window only from newer segments.
        if self.snd_wl1.lt(seq) || (self.snd_wl1 == seq && self.snd_wl2.le(ack)) {
            let opened = self.snd_wnd == 0 && seg_wnd > 0;
            self.snd_wnd = seg_wnd;
            self.max_snd_wnd = self.max_snd_wnd.max(seg_wnd);
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
            if opened && self.rtx_kind == RTX_PERSIST {
                self.cancel_rtx(sh);
                self.retries = 0;
            }
        }

        let fin_acked = self.has(F_FIN_SENT) && self.snd_una == self.snd_nxt;
        match self.state {
            State::FinWait1 if fin_acked => self.state = State::FinWait2,
            State::Closing if fin_acked => {
                self.state = State::TimeWait;
                ev.time_wait = true;
                return;
            }
            State::LastAck if fin_acked => {
                self.state = State::Closed;
                ev.close = Some(CloseReason::Normal);
                return;
            }
            _ => {}
        }

        // Sixth: URG (ignored). Seventh: segment text.
        // Trim what lies before RCV.NXT (already received) and beyond what we can hold.
        let mut at = 0usize;
        if seq.lt(self.rcv_nxt) {
            let skip = (self.rcv_nxt - seq) as usize;
            if !data.is_empty() {
                let end = if skip < data.len() {
                    self.rcv_nxt
                } else {
                    seq + data.len()
                };
                self.queue_dsack(sh, seq, end);
            }
            if skip >= data.len() {
                if skip > data.len() {
                    fin = false; // the FIN itself is old
                }
                at = data.len();
                data = &[];
            } else {
                at = skip;
                data = &data[skip..];
            }
            seq = self.rcv_nxt;
        }
        let adv = if self.rcv_adv.gt(self.rcv_nxt) {
            self.rcv_adv - self.rcv_nxt
        } else {
            0
        };
        let room = (adv as usize).min(self.rcvbuf.window());
        let off = (seq - self.rcv_nxt) as usize;
        if off + data.len() > room {
            let keep = room.saturating_sub(off);
            sh.counters.drops.tcp_rcv_buffer_full += 1;
            data = &data[..keep.min(data.len())];
            fin = false;
            self.set(F_ACK_NOW);
        }
        let data_start = at;
        if !data.is_empty() {
            match self.state {
                State::Established | State::FinWait1 | State::FinWait2 => {
                    if self.has(F_ORPHAN) {
                        // RFC 9293 §3.10.7.4 / Linux: the app is gone, so new data cannot be
                        // delivered: reset instead of silently discarding (TCPAbortOnData).
                        sh.counters.mib.abort_on_data += 1;
                        sh.counters.drops.tcp_after_close += 1;
                        self.send_rst(sh, tx, self.snd_nxt, Some(seq + data.len()));
                        self.state = State::Closed;
                        ev.close = Some(CloseReason::Aborted);
                        return;
                    }
                    self.receive_data(sh, seq, data, data_start, ev);
                }
                // CLOSE-WAIT, CLOSING, LAST-ACK: the peer already sent FIN; ignore.
                _ => {}
            }
        }

        // Eighth: FIN, once everything before it has arrived. A FIN beyond a hole is kept
        // (like Linux's out-of-order queue) so that filling the hole completes the close
        // without waiting for the peer to retransmit the FIN.
        let fin_end = seq + data.len();
        if fin && !self.has(F_PEER_FIN) && fin_end.gt(self.rcv_nxt) {
            self.set(F_OOO_FIN);
            self.peer_fin_seq = fin_end;
            fin = false;
            // RFC 5681 §4.2: an out-of-order segment gets an immediate duplicate ACK.
            self.set(F_ACK_NOW);
        }
        let fin_now = !self.has(F_PEER_FIN)
            && ((fin && fin_end == self.rcv_nxt)
                || (self.has(F_OOO_FIN) && self.peer_fin_seq == self.rcv_nxt));
        if fin_now {
            self.clear(F_OOO_FIN);
            self.rcv_nxt += 1u32;
            self.set(F_PEER_FIN | F_ACK_NOW);
            ev.peer_fin = true;
            match self.state {
                State::SynReceived | State::Established => self.state = State::CloseWait,
                State::FinWait1 => {
                    if self.has(F_FIN_SENT) && self.snd_una == self.snd_nxt {
                        self.state = State::TimeWait;
                        ev.time_wait = true;
                    } else {
                        self.state = State::Closing;
                    }
                }
                State::FinWait2 => {
                    self.state = State::TimeWait;
                    ev.time_wait = true;
                }
                _ => {}
            }
        } else if fin && self.has(F_PEER_FIN) {
            // A retransmitted FIN: our ACK was lost.
            self.set(F_ACK_NOW);
        }
    }

    /// RFC 9293 §3.10.7.3.
    fn input_syn_sent<T: Transmit>(
        &mut self,
        sh: &mut Shared,
        tx: &mut T,
        id: SlotId,
        eth_src: MacAddr,
        seg: &TcpRepr,
        ev: &mut Events,
    ) {
        let flags = seg.flags;
        if flags.ack() && (seg.ack.le(self.iss) || seg.ack.gt(self.snd_nxt)) {
            sh.counters.drops.tcp_bad_ack += 1;
            if !flags.rst() {
                self.send_rst(sh, tx, seg.ack, None);
            }
            return;
        }
        if flags.rst() {
            if flags.ack() {
                sh.counters.mib.attempt_fails += 1;
                self.state = State::Closed;
                ev.close = Some(CloseReason::Refused);
            } else {
                sh.counters.drops.tcp_bad_flags += 1;
            }
            return;
        }
        if !flags.syn() {
            sh.counters.drops.tcp_bad_flags += 1;
            return;
        }
        // A SYN whose ACK (if any) acknowledges our SYN: acceptable (§3.10.7.3), so its source
        // is the next hop (it may be the first we learn, before ARP answered).
        self.peer_mac = eth_src;
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq + 1u32;
        self.rcv_adv = self.rcv_nxt;
        self.negotiate(sh, &seg.options);
        if flags.ack() {
            // Our SYN is acknowledged: ESTABLISHED. The SYN-ACK's window is never scaled.
            // Karn: only a SYN that was not retransmitted gives a sample.
            if self.has(F_RTT_TIMING) && self.retries == 0 {
                let us = us32(sh.now).wrapping_sub(self.rtt_start);
                self.rtt.sample(Duration::from_micros(us as u64));
            }
            self.clear(F_RTT_TIMING);
            self.set(F_SYN_ACKED);
            self.snd_una = seg.ack;
            self.rtx_nxt = seg.ack;
            self.rtx_end = seg.ack;
            self.snd_wnd = seg.window as u32;
            self.max_snd_wnd = self.snd_wnd;
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = seg.ack;
            self.retries = 0;
            self.rtt.reset_backoff();
            self.syn_loss_rto();
            self.cancel_rtx(sh);
            self.state = State::Established;
            self.set(F_ACK_NOW);
            ev.opened = true;
        } else {
            // Simultaneous open (RFC 9293 §3.5 figure 7): SYN-RECEIVED, SYN-ACK with our ISS.
            self.state = State::SynReceived;
            self.snd_nxt = self.iss;
            self.send_syn(sh, tx, true);
            self.arm_rtx(sh, id, RTX_SYN, self.rtt.rto());
        }
    }

    /// RFC 6298 §5.7 at the end of the handshake: if our SYN or SYN-ACK had to be resent, a
    /// 1 s RTO proved too short for this path, so until an RTT is measured the RTO is 3 s.
    /// Only the unmeasured RTO is raised: a sample (from timestamps, RFC 7323 §4, which
    /// resolve Karn's ambiguity) replaces it, as §5.7's "when data transmission begins" and
    /// Linux (only without an SRTT) read it.
    fn syn_loss_rto(&mut self) {
        if self.has(F_SYN_RTX) {
            self.rtt.raise_initial(RTO_AFTER_SYN_LOSS);
        }
    }

    /// RFC 5961 §7: challenge ACKs, limited first per connection, so that one noisy peer
    /// cannot spend the budget of the others, then by the engine's randomised budget.
    fn challenge_ack(&mut self, sh: &mut Shared) {
        if self.oow_rate_limited(sh, OowReply::Challenge) {
            return;
        }
        if sh.challenge_ack_allowed() {
            sh.counters.mib.challenge_acks += 1;
            self.set(F_ACK_NOW);
        } else {
            sh.counters.mib.challenge_ack_limited += 1;
        }
    }

    /// The duplicate ACK owed to a segment that failed validation (out of window, PAWS),
    /// unless the per-connection limit holds it back. Like Linux `tcp_oow_rate_limited`, only
    /// segments without data (or with SYN) are limited: a data segment (an old duplicate after
    /// our ACK was lost) needs its answer for the sender to stop resending, and it cannot
    /// start a loop, because our ACK carries no data. Two ends whose sequence spaces drifted
    /// apart would otherwise answer each other's pure ACKs forever (an ACK storm).
    fn dup_ack_for_invalid(
        &mut self,
        sh: &mut Shared,
        seg: &TcpRepr,
        data_len: usize,
        why: OowReply,
    ) {
        let has_len = data_len > 0 || seg.flags.fin();
        if (has_len && !seg.flags.syn()) || !self.oow_rate_limited(sh, why) {
            self.set(F_ACK_NOW);
        }
    }

    /// Linux `__tcp_oow_rate_limited`: true (and counted) when we answered a segment that
    /// failed validation less than `invalid_ratelimit` ago; otherwise records now and allows
    /// this answer.
    fn oow_rate_limited(&mut self, sh: &mut Shared, why: OowReply) -> bool {
        let limit = sh.cfg.invalid_ratelimit.as_millis().min(i32::MAX as u128) as i32;
        let now = ms32(sh.now).max(1);
        if self.last_oow_ack != 0 && limit > 0 {
            let elapsed = now.wrapping_sub(self.last_oow_ack) as i32;
            if (0..limit).contains(&elapsed) {
                let m = &mut sh.counters.mib;
                match why {
                    OowReply::Seq => m.ack_skipped_seq += 1,
                    OowReply::Paws => m.ack_skipped_paws += 1,
                    OowReply::Challenge => m.ack_skipped_challenge += 1,
                    OowReply::SynRecv => m.ack_skipped_syn_recv += 1,
                }
                return true;
            }
        }
        self.last_oow_ack = now;
        false
    }

    fn update_scoreboard(&mut self, seg: &TcpRepr) -> u32 {
        let blocks = seg.options.sack.as_slice();
        if blocks.is_empty() || !self.has(F_SACK) {
            return 0;
        }
        let max = SACK_SCOREBOARD_RANGES;
        let sb = self
            .sb
            .get_or_insert_with(|| Box::new(Scoreboard::new(max)));
        sb.on_sack(self.snd_una, self.snd_nxt, blocks)
    }

    fn on_new_ack(&mut self, sh: &mut Shared, ack: SeqNum, seg: &TcpRepr, ev: &mut Events) {
        let flight_before = self.snd_nxt - self.snd_una;
        let mut acked = ack - self.snd_una;
        if !self.has(F_SYN_ACKED) {
            self.set(F_SYN_ACKED);
            acked -= 1; // our SYN
        }
        if self.has(F_FIN_SENT) && ack == self.snd_nxt && acked > 0 {
            acked -= 1; // our FIN
        }
        let data_acked = (acked as usize).min(self.sndbuf.len());
        let was_full = self.sndbuf.free() == 0 || self.has(F_WANT_WRITABLE);
        self.sndbuf.consume_pooled(data_acked, &mut sh.bufs);
        self.snd_una = ack;
        if self.rtx_nxt.lt(ack) {
            self.rtx_nxt = ack;
        }
        if self.rtx_end.lt(ack) {
            self.rtx_end = ack;
        }
        if self.has(F_LOSS) && self.rtx_nxt.ge(self.rtx_end) {
            self.clear(F_LOSS);
        }
        // Keep `recover` just behind SND.UNA outside recovery so the comparison above stays
        // meaningful however far the sequence space wraps.
        if !self.has(F_RECOVERY) && ack.gt(self.recover) {
            self.recover = ack - 1u32;
        }
        // RTT (RFC 6298 §3 with Karn's rule; RFC 7323 §4 from the echoed timestamp).
        let mut sample = None;
        if self.has(F_RTT_TIMING) && ack.gt(self.rtt_seq) {
            self.clear(F_RTT_TIMING);
            let us = us32(sh.now).wrapping_sub(self.rtt_start);
            self.rtt.sample(Duration::from_micros(us as u64));
        } else if self.has(F_TS) {
            if let Some((_, tsecr)) = seg.options.timestamp {
                if tsecr != 0 {
                    let ms = self.ts_val(sh).wrapping_sub(tsecr);
                    if ms < (1 << 30) {
                        sample = Some(Duration::from_millis(ms as u64));
                    }
                }
            }
        }
        if let Some(rtt) = sample {
            self.rtt.sample_coarse(rtt);
        }
        self.retries = 0;
        self.rtt.reset_backoff();
        if let Some(sb) = self.sb.as_mut() {
            sb.on_cumulative_ack(ack);
        }
        if self.has(F_SACK) {
            self.update_scoreboard(seg);
        }
        let mss = self.mss as u32;
        if self.has(F_RECOVERY) {
            if ack.ge(self.recover) {
                // Full ACK (RFC 6582 §3.2 step 3 / RFC 6675 §5): leave recovery.
                self.clear(F_RECOVERY | F_RTX_FORCE);
                let undone = self.rack.as_mut().is_some_and(|r| {
                    r.on_recovery_exit();
                    core::mem::take(&mut r.undone)
                });
                if !undone {
                    self.cc.on_recovery_exit(sh.now);
                }
                self.dupacks = 0;
            } else if !self.has(F_SACK) {
                // Partial ACK (RFC 6582 §3.2 step 4): retransmit the next hole, deflate.
                self.rtx_nxt = ack;
                self.rtx_end = ack + self.smss();
                self.set(F_RTX_FORCE);
                if !self.cc.drives_recovery() {
                    let cwnd = self.cc.cwnd();
                    let deflated = cwnd.saturating_sub(acked).saturating_add(mss).max(mss);
                    self.cc.set_cwnd(deflated);
                }
                sh.counters.mib.fast_retrans += 1;
            }
        } else {
            self.dupacks = 0;
            self.cc
                .on_ack(sh.now, acked, flight_before, self.rtt.srtt());
            // RFC 6675 §5: a cumulative ACK whose SACK blocks make SND.UNA lost starts
            // recovery too (the dupACKs before it may have been lost or carried data).
            if self.has(F_SACK)
                && self.snd_nxt != self.snd_una
                && self
                    .sb
                    .as_ref()
                    .is_some_and(|sb| sb.is_lost(self.snd_una, self.smss()))
            {
                self.enter_recovery(sh);
            }
        }
        // A new episode may probe again (RFC 8985 §7.4: the probe's loss is repaired, or
        // the flight moved on).
        self.clear(F_TLP);
        // Restart the retransmission timer for what remains (RFC 6298 §5.3).
        if matches!(self.rtx_kind, RTX_DATA | RTX_SYN | RTX_TLP | RTX_REO) {
            self.cancel_rtx(sh);
        }
        // Also when the app filled the buffer exactly (no short send, but nothing left).
        if was_full && data_acked > 0 && self.sndbuf.free() > 0 && self.can_send() {
            self.clear(F_WANT_WRITABLE);
            ev.writable = true;
        }
    }

    /// RFC 5681 §3.2 / RFC 6582 / RFC 6675 duplicate-ACK handling.
    fn on_dupack(&mut self, sh: &mut Shared, newly_sacked: u32) {
        let mss = self.mss as u32;
        if self.has(F_RECOVERY) {
            if !self.has(F_SACK) && !self.cc.drives_recovery() {
                // RFC 6582 §3.2 step 3: inflate by one segment per dupack.
                self.cc.set_cwnd(self.cc.cwnd().saturating_add(mss));
            }
            return;
        }
        self.dupacks = self.dupacks.saturating_add(1);
        let lost = self.has(F_SACK)
            && newly_sacked > 0
            && self
                .sb
                .as_ref()
                .is_some_and(|sb| sb.is_lost(self.snd_una, mss));
        if self.dupacks < DUP_THRESH && !lost {
            return;
        }
        self.enter_recovery(sh);
    }

    /// Fast retransmit / start of loss recovery (RFC 5681 §3.2, RFC 6582, RFC 6675 §5).
    fn enter_recovery(&mut self, sh: &mut Shared) {
        let mss = self.mss as u32;
        // RFC 6582 §3.2 step 2: only one recovery per window of data.
        // RFC 6582 §3.2 step 2 / RFC 6675 §5.1: no new recovery until SND.UNA passes the
        // previous recovery point (after an RTO, that is everything then outstanding).
        // With SACK, the duplicates a go-back-N pass provokes SACK nothing new and so are no
        // dupACKs (RFC 6675 §2): once the pass is over, a new loss may start recovery at once
        // instead of waiting for another RTO.
        if !self.snd_una.gt(self.recover) && (!self.has(F_SACK) || self.has(F_LOSS)) {
            return;
        }
        let flight = self.snd_nxt - self.snd_una;
        if let Some(r) = self.rack.as_mut() {
            r.prr = Prr {
                recover_fs: flight,
                ..Prr::default()
            };
            r.undo = Some(self.cc.clone());
            r.undo_retrans = 0;
            r.undo_marker = self.snd_una;
            r.undone = false;
        }
        self.cc.on_congestion_event(sh.now, flight);
        self.recover = self.snd_nxt;
        self.set(F_RECOVERY | F_RTX_FORCE);
        self.clear(F_RTT_TIMING);
        sh.counters.mib.fast_retrans += 1;
        if self.has(F_SACK) {
            sh.counters.mib.sack_recoveries += 1;
            self.high_rxt = self.snd_una;
        } else {
            sh.counters.mib.reno_recoveries += 1;
            // Exactly one segment (one SMSS of payload), not the MSS that includes options.
            self.rtx_nxt = self.snd_una;
            self.rtx_end = self.snd_una + self.smss();
            if !self.cc.drives_recovery() {
                let ss = self.cc.ssthresh();
                self.cc.set_cwnd(ss.saturating_add(3 * mss));
            }
        }
    }

    /// In-order data at `seq == rcv_nxt` (or out-of-order beyond it). `at` is the offset of
    /// `data` inside the segment payload, for zero-copy delivery.
    fn receive_data(
        &mut self,
        sh: &mut Shared,
        seq: SeqNum,
        data: &[u8],
        at: usize,
        ev: &mut Events,
    ) {
        sh.counters.rx_bytes += data.len() as u64;
        if seq == self.rcv_nxt {
            let had_ooo = self.rcvbuf.has_out_of_order();
            if self.rcvbuf.is_empty() && !had_ooo && ev.direct.is_none() {
                ev.direct = Some((at, at + data.len()));
                self.rcv_nxt += data.len();
            } else {
                let w = self.rcvbuf.write_at(0, data);
                self.rcv_nxt += w.in_order;
                if w.dropped > 0 {
                    sh.counters.drops.tcp_rcv_buffer_full += 1;
                }
                ev.buffered = true;
                if had_ooo {
                    // RFC 5681 §4.2: ACK at once when a segment fills a hole.
                    self.set(F_ACK_NOW);
                }
            }
            self.delack_segs = self.delack_segs.saturating_add(1);
            if self.delack_segs >= 2 || sh.cfg.delayed_ack.is_zero() {
                self.set(F_ACK_NOW);
            }
        } else {
            let off = (seq - self.rcv_nxt) as usize;
            let w = self.rcvbuf.write_at(off, data);
            if w.out_of_order {
                sh.counters.mib.ofo_queue += 1;
            }
            if w.dropped > 0 {
                sh.counters.mib.ofo_drop += 1;
                sh.counters.drops.tcp_ofo_limit += 1;
            }
            // RFC 5681 §4.2: an out-of-order segment gets an immediate duplicate ACK.
            sh.counters.mib.dup_acks_sent += 1;
            self.set(F_ACK_NOW);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Timers
    // ---------------------------------------------------------------------------------------

    pub(crate) fn arm_rtx(&mut self, sh: &mut Shared, id: SlotId, kind: u8, after: Duration) {
        if !self.rtx_timer.is_none() {
            sh.timers.cancel(self.rtx_timer);
        }
        self.rtx_kind = kind;
        self.rtx_timer = sh.timers.schedule(sh.now + after, TimerPayload::Rtx(id));
    }

    pub(crate) fn cancel_rtx(&mut self, sh: &mut Shared) {
        if !self.rtx_timer.is_none() {
            sh.timers.cancel(self.rtx_timer);
            self.rtx_timer = TimerId::NONE;
        }
        self.rtx_kind = RTX_NONE;
    }

    pub(crate) fn cancel_timers(&mut self, sh: &mut Shared) {
        self.cancel_rtx(sh);
        if !self.delack_timer.is_none() {
            sh.timers.cancel(self.delack_timer);
            self.delack_timer = TimerId::NONE;
        }
    }

    /// The rtx slot fired (the engine has already cleared `rtx_timer`).
    pub(crate) fn on_rtx_timer<T: Transmit>(
        &mut self,
        sh: &mut Shared,
        tx: &mut T,
        id: SlotId,
        ev: &mut Events,
    ) {
        let kind = self.rtx_kind;
        self.rtx_kind = RTX_NONE;
        match kind {
            RTX_SYN => {
                let (limit, active) = if self.state == State::SynSent {
                    (sh.cfg.syn_retries, true)
                } else {
                    (sh.cfg.synack_retries, false)
                };
                if self.retries as u32 >= limit {
                    sh.counters.mib.attempt_fails += 1;
                    self.state = State::Closed;
                    ev.close = Some(CloseReason::TimedOut);
                    if !active && !self.has(F_PASSIVE) {
                        self.send_rst(sh, tx, self.snd_nxt, None);
                    }
                    return;
                }
                self.retries = self.retries.saturating_add(1);
                self.rtt.backoff();
                self.clear(F_RTT_TIMING);
                sh.counters.mib.syn_retrans += 1;
                self.snd_nxt = self.iss;
                self.send_syn(sh, tx, true);
                self.arm_rtx(sh, id, RTX_SYN, self.rtt.rto());
            }
            RTX_DATA => {
                if self.snd_una == self.snd_nxt {
                    self.output(sh, tx, id);
                    return;
                }
                let limit = if self.has(F_ORPHAN) {
                    sh.cfg.orphan_retries
                } else {
                    sh.cfg.retries
                };
                if self.retries as u32 >= limit {
                    self.give_up(sh, tx, ev);
                    return;
                }
                self.retries = self.retries.saturating_add(1);
                sh.counters.mib.timeouts += 1;
                // Like Linux's dst_negative_advice after tcp_retries1: repeated timeouts may
                // mean the next hop learned from the peer's frames is wrong (a corrupted or
                // stale source MAC), so look it up again (ARP cache, else a request).
                if self.retries >= 3 {
                    self.peer_mac = MacAddr::ZERO;
                }
                // RFC 6298 §5.4-5.6 and RFC 5681 §3.1: back off, collapse cwnd, go back to
                // SND.UNA.
                let flight = self.in_flight();
                self.cc.on_rto(sh.now, flight);
                if let Some(r) = self.rack.as_mut() {
                    r.undo = None;
                    r.undone = false;
                }
                self.rtt.backoff();
                self.clear(F_RECOVERY | F_RTT_TIMING);
                self.recover = self.snd_nxt;
                self.dupacks = 0;
                // The scoreboard survives (RFC 6675 §5.1, as Linux keeps its SACKed marks):
                // the go-back-N pass below skips what the peer already holds.
                self.rtx_nxt = self.snd_una;
                self.rtx_end = self.snd_nxt;
                self.set(F_LOSS | F_RTX_FORCE);
                self.output(sh, tx, id);
            }
            RTX_TLP => {
                if self.snd_una == self.snd_nxt {
                    self.output(sh, tx, id);
                    return;
                }
                self.send_tail_loss_probe(sh, tx, id);
            }
            RTX_REO => {
                self.rack_detect(sh, id);
                self.output(sh, tx, id);
            }
            RTX_PERSIST => {
                if self.snd_wnd > 0 {
                    self.retries = 0;
                    self.set(F_FORCE_SEND);
                    self.output(sh, tx, id);
                    self.clear(F_FORCE_SEND);
                    return;
                }
                if self.has(F_ORPHAN) && self.retries as u32 >= sh.cfg.orphan_retries {
                    // The FIN_WAIT_1 pile-up bound: a peer that never opens its window.
                    self.give_up(sh, tx, ev);
                    return;
                }
                self.retries = self.retries.saturating_add(1);
                sh.counters.mib.persist_probes += 1;
                self.send_probe(sh, tx);
                let backoff = self.persist_interval(sh);
                self.arm_rtx(sh, id, RTX_PERSIST, backoff);
            }
            RTX_KEEPALIVE => {
                let Some(ka) = sh.cfg.keepalive else { return };
                let idle = ms32(sh.now).wrapping_sub(self.last_rx) as u64;
                let idle_ms = ka.idle.as_millis() as u64;
                if self.retries > 0 && idle < ka.interval.as_millis() as u64 * self.retries as u64 {
                    // Something arrived since the first probe: the peer is alive, and the idle
                    // period runs from that segment, not from now (Linux does the same).
                    self.retries = 0;
                }
                if self.retries == 0 && idle < idle_ms {
                    self.arm_rtx(sh, id, RTX_KEEPALIVE, Duration::from_millis(idle_ms - idle));
                    return;
                }
                if self.retries as u32 >= ka.probes {
                    self.give_up(sh, tx, ev);
                    return;
                }
                self.retries = self.retries.saturating_add(1);
                sh.counters.mib.keepalive_probes += 1;
                self.send_probe(sh, tx);
                self.arm_rtx(sh, id, RTX_KEEPALIVE, ka.interval);
            }
            RTX_FIN_WAIT2 => {
                // tcp_fin_timeout for an orphan: give up quietly (Linux sends nothing either).
                self.state = State::Closed;
                ev.close = Some(CloseReason::Normal);
            }
            _ => self.output(sh, tx, id),
        }
    }

    /// Path MTU discovery (RFC 1191 §6.1, §6.5): a router dropped one of our segments because
    /// its next hop takes datagrams of at most `mtu` bytes. The engine has already done the
    /// RFC 5927 checks (the quoted segment is in flight, `mtu` is below `mss + 40` and not below
    /// the minimum).
    ///
    /// Every segment in flight was as large as the one dropped, so all of it is resent at once
    /// at the new size, as Linux's `tcp_simple_retransmit` does: go back to SND.UNA (skipping
    /// what the peer SACKed), within cwnd. This is no congestion signal: cwnd and ssthresh stay
    /// and the RTO is not backed off. The go-back-N pass (`F_LOSS`) ends fast recovery, whose
    /// scoreboard could never find segments that no router forwarded, and `recover` moves to
    /// SND.NXT so that duplicate ACKs for originals that did arrive start no fast retransmit.
    pub(crate) fn on_frag_needed<T: Transmit>(
        &mut self,
        sh: &mut Shared,
        tx: &mut T,
        id: SlotId,
        mtu: u16,
    ) {
        // 20 bytes of IPv4 and 20 of TCP header; `mss` caps payload + TCP options.
        let mss = mtu.saturating_sub(40).max(MIN_PEER_MSS);
        if mss >= self.mss {
            return;
        }
        self.mss = mss;
        self.pmtu_lowered = ms32(sh.now).max(1);
        self.cc.set_mss(mss as u32);
        // A SYN or SYN-ACK is small and has its own timer; only data is resent here.
        if !self.state.is_synchronized() || self.snd_una == self.snd_nxt {
            return;
        }
        if self.has(F_RECOVERY) {
            self.clear(F_RECOVERY);
            self.cc.on_recovery_exit(sh.now);
        }
        self.recover = self.snd_nxt;
        self.dupacks = 0;
        self.rtx_nxt = self.snd_una;
        self.rtx_end = self.snd_nxt;
        // Karn: the timed segment is being resent.
        self.clear(F_RTT_TIMING);
        self.set(F_LOSS | F_RTX_FORCE);
        // The head is resent now, so its RTO runs from now (as Linux rearms it when it
        // retransmits the head), not from the original that was dropped.
        if self.rtx_kind == RTX_DATA || self.rtx_kind == RTX_TLP {
            self.cancel_rtx(sh);
        }
        self.output(sh, tx, id);
    }

    /// RFC 1191 §6.3: a lowered PMTU estimate is raised again after `PMTU_EXPIRES_MS`, since
    /// the route may have changed; if the path is still narrow, the next frag-needed lowers it
    /// once more. Linux expires its PMTU exceptions after the same 10 minutes
    /// (`net.ipv4.route.mtu_expires`).
    fn age_pmtu(&mut self, sh: &Shared) {
        if self.pmtu_lowered == 0 || ms32(sh.now).wrapping_sub(self.pmtu_lowered) < PMTU_EXPIRES_MS
        {
            return;
        }
        self.pmtu_lowered = 0;
        self.mss = self.mss_negotiated;
        self.cc.set_mss(self.mss as u32);
    }

    fn persist_interval(&self, sh: &Shared) -> Duration {
        let base = self.rtt.rto();
        let shift = (self.retries as u32).min(16);
        base.checked_mul(1 << shift)
            .unwrap_or(sh.cfg.rto_max)
            .min(sh.cfg.rto_max)
    }

    pub(crate) fn on_delack_timer<T: Transmit>(&mut self, sh: &mut Shared, tx: &mut T, id: SlotId) {
        self.delack_timer = TimerId::NONE;
        if self.has(F_DELACK_DUE) && sh.now < self.delack_due {
            self.delack_timer = sh
                .timers
                .schedule(self.delack_due, TimerPayload::DelAck(id));
            return;
        }
        if self.delack_segs > 0 || self.has(F_ACK_NOW) {
            sh.counters.mib.delayed_acks += 1;
            self.set(F_ACK_NOW);
            self.output(sh, tx, id);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Output
    // ---------------------------------------------------------------------------------------

    /// The window to advertise, raw (scaled down) for the header. Applies receiver-side SWS
    /// avoidance (RFC 9293 §3.8.6.2.2) and never moves the right edge left.
    fn advertise(&mut self, sh: &Shared) -> u16 {
        let cur = if self.rcv_adv.gt(self.rcv_nxt) {
            self.rcv_adv - self.rcv_nxt
        } else {
            0
        };
        let mut wnd = self.rcvbuf.window() as u32;
        let limit = self.rcvbuf.limit() as u32;
        if wnd > cur && wnd - cur < (limit / 2).min(self.mss as u32) {
            wnd = cur;
        }
        wnd = wnd.max(cur);
        let max = 65535u32 << self.rcv_wscale;
        wnd = wnd.min(max);
        let mut raw = wnd >> self.rcv_wscale;
        if (raw << self.rcv_wscale) < cur {
            raw += 1; // round up rather than shrink (scaling truncates)
        }
        let raw = raw.min(65535);
        let _ = sh;
        if (self.rcvbuf.window() as u32) < limit.min(max) {
            self.set(F_RWND_LIMITED);
        } else {
            self.clear(F_RWND_LIMITED);
        }
        self.rcv_adv = self.rcv_nxt + (raw << self.rcv_wscale);
        raw as u16
    }

    /// Header for a segment from this connection (ACK always set once synchronized).
    /// The options the next segment carries (timestamps, then a pending D-SACK and the
    /// out-of-order ranges as SACK blocks). Pure, so that a sender can size a segment first.
    fn options(&self, sh: &Shared) -> TcpOptions {
        let mut options = TcpOptions::default();
        if self.has(F_TS) {
            options.timestamp = Some((self.ts_val(sh), self.ts_recent));
        }
        let dsack = self.has(F_DSACK);
        if self.has(F_SACK) && (dsack || self.rcvbuf.has_out_of_order()) {
            let max = if self.has(F_TS) { 3 } else { 4 };
            let mut ranges = [(0usize, 0usize); 4];
            let mut blocks = SackBlocks::default();
            if dsack {
                blocks.push(self.dsack.0, self.dsack.1);
            }
            let max = max - dsack as usize;
            let n = self.rcvbuf.sack_ranges(max, &mut ranges).min(max);
            for &(a, b) in &ranges[..n] {
                blocks.push(self.rcv_nxt + a, self.rcv_nxt + b);
            }
            options.sack = blocks;
        }
        options
    }

    /// Payload bytes the next data segment can carry: the send MSS less its options.
    fn payload_room(&self, sh: &Shared) -> usize {
        (self.mss as usize).saturating_sub(self.options(sh).encoded_len())
    }

    fn header(&mut self, sh: &Shared, seq: SeqNum, flags: u8) -> TcpRepr {
        let window = self.advertise(sh);
        let options = self.options(sh);
        self.clear(F_DSACK);
        self.last_ack_sent = self.rcv_nxt;
        TcpRepr {
            src_port: self.tuple.local_port,
            dst_port: self.tuple.remote_port,
            seq,
            ack: self.rcv_nxt,
            flags: TcpFlags(flags | TcpFlags::ACK),
            window,
            urgent: 0,
            options,
        }
    }

    /// Emits one segment carrying up to `len` bytes of queued data from `seq` (plus FIN if `fin`
    /// and all of it fits). Returns the payload bytes sent, or None if no frame went out.
    ///
    /// The payload is cut to the effective send MSS (RFC 9293 §3.7.1, RFC 6691): payload plus
    /// the options this very segment carries (timestamps, SACK blocks) stays within `mss`,
    /// which is at most MTU - 40. Every data segment, new or resent, passes here.
    #[allow(clippy::too_many_arguments)]
    fn send_data<T: Transmit>(
        &mut self,
        sh: &mut Shared,
        tx: &mut T,
        seq: SeqNum,
        len: usize,
        fin: bool,
        psh: bool,
        rtx: bool,
    ) -> Option<usize> {
        let mut repr = self.header(sh, seq, 0);
        let room = (self.mss as usize).saturating_sub(repr.header_len() - TCP_HEADER_LEN);
        let sent = len.min(room.max(1));
        let fin = fin && sent == len;
        let mut fl = TcpFlags::ACK;
        if fin {
            fl |= TcpFlags::FIN;
        }
        if psh && sent > 0 && sent == len {
            fl |= TcpFlags::PSH;
        }
        repr.flags = TcpFlags(fl);
        let off = (seq - self.data_start()) as usize;
        let (a, b) = self.sndbuf.slices(off, sent);
        if !sh.emit_tcp(tx, &mut self.peer_mac, self.tuple.remote_ip, &repr, (a, b)) {
            return None;
        }
        if rtx {
            sh.counters.mib.retrans_segs += 1;
        } else {
            sh.counters.mib.out_segs += 1;
            sh.counters.tx_bytes += sent as u64;
        }
        self.segment_sent();
        self.rack_on_send(sh, seq, sent + fin as usize, rtx);
        Some(sent)
    }

    /// Sends up to `len` new bytes at SND.NXT (with our FIN if `fin` and they all fit) and
    /// moves SND.NXT past what went out. Returns the payload bytes sent.
    fn send_new<T: Transmit>(
        &mut self,
        sh: &mut Shared,
        tx: &mut T,
        len: usize,
        fin: bool,
        psh: bool,
    ) -> Option<usize> {
        let seq = self.snd_nxt;
        let sent = self.send_data(sh, tx, seq, len, fin, psh, false)?;
        self.snd_nxt += sent;
        if fin && sent == len {
            self.snd_nxt += 1u32;
            self.set(F_FIN_SENT);
        }
        self.rtx_nxt = self.snd_nxt;
        self.rtx_end = self.snd_nxt;
        Some(sent)
    }

    /// Retries, persist probes or keepalive probes exhausted: reset and report "timed out".
    fn give_up<T: Transmit>(&mut self, sh: &mut Shared, tx: &mut T, ev: &mut Events) {
        sh.counters.mib.abort_on_timeout += 1;
        self.send_rst(sh, tx, self.snd_nxt, None);
        self.state = State::Closed;
        ev.close = Some(CloseReason::TimedOut);
    }

    /// Bookkeeping common to every segment that carries our ACK.
    fn segment_sent(&mut self) {
        self.clear(F_ACK_NOW);
        self.delack_segs = 0;
    }

    /// A bare ACK (or a challenge ACK, duplicate ACK, window update).
    pub(crate) fn send_ack<T: Transmit>(&mut self, sh: &mut Shared, tx: &mut T) {
        let repr = self.header(sh, self.snd_nxt, 0);
        if sh.emit_tcp(
            tx,
            &mut self.peer_mac,
            self.tuple.remote_ip,
            &repr,
            (&[], &[]),
        ) {
            sh.counters.mib.out_segs += 1;
            self.segment_sent();
        }
    }

    /// Keepalive / zero-window probe: SEG.SEQ = SND.UNA - 1, no data, elicits an ACK.
    fn send_probe<T: Transmit>(&mut self, sh: &mut Shared, tx: &mut T) {
        let repr = self.header(sh, self.snd_una - 1u32, 0);
        if sh.emit_tcp(
            tx,
            &mut self.peer_mac,
            self.tuple.remote_ip,
            &repr,
            (&[], &[]),
        ) {
            sh.counters.mib.out_segs += 1;
            self.segment_sent();
        }
    }

    /// RST for this connection: `seq`, with ACK of `ack` if given (RFC 9293 §3.10.7).
    pub(crate) fn send_rst<T: Transmit>(
        &mut self,
        sh: &mut Shared,
        tx: &mut T,
        seq: SeqNum,
        ack: Option<SeqNum>,
    ) {
        let ack_given = ack.is_some();
        let repr = TcpRepr {
            src_port: self.tuple.local_port,
            dst_port: self.tuple.remote_port,
            seq,
            ack: ack.unwrap_or(SeqNum(0)),
            flags: TcpFlags(TcpFlags::RST | if ack_given { TcpFlags::ACK } else { 0 }),
            window: 0,
            urgent: 0,
            options: TcpOptions::default(),
        };
        if sh.emit_tcp(
            tx,
            &mut self.peer_mac,
            self.tuple.remote_ip,
            &repr,
            (&[], &[]),
        ) {
            sh.counters.mib.out_rsts += 1;
            sh.counters.mib.out_segs += 1;
        }
    }

    /// RST|ACK aborting a synchronized connection (app abort, close with unread data, timeout).
    pub(crate) fn send_abort_rst<T: Transmit>(&mut self, sh: &mut Shared, tx: &mut T) {
        let ack = self.rcv_nxt;
        self.send_rst(sh, tx, self.snd_nxt, Some(ack));
    }

    /// SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED) with our options.
    pub(crate) fn send_syn<T: Transmit>(&mut self, sh: &mut Shared, tx: &mut T, rtx: bool) {
        let active = self.state == State::SynSent;
        let mut options = TcpOptions {
            mss: Some(sh.our_mss),
            ..TcpOptions::default()
        };
        let now_ts = self.ts_val(sh);
        if active {
            // Offer everything configured; `negotiate` keeps what the SYN-ACK confirms.
            if sh.cfg.window_scaling {
                options.window_scale = Some(sh.rcv_wscale);
            }
            options.sack_permitted = sh.cfg.sack;
            if sh.cfg.timestamps {
                options.timestamp = Some((now_ts, 0));
            }
        } else {
            if self.has(F_WS) {
                options.window_scale = Some(self.rcv_wscale);
            }
            options.sack_permitted = self.has(F_SACK);
            if self.has(F_TS) {
                options.timestamp = Some((now_ts, self.ts_recent));
            }
        }
        // Windows in SYN segments are never scaled (RFC 7323 §2.2).
        let window = self.rcvbuf.window().min(65535) as u16;
        let flags = if active {
            TcpFlags::SYN
        } else {
            TcpFlags::SYN | TcpFlags::ACK
        };
        let repr = TcpRepr {
            src_port: self.tuple.local_port,
            dst_port: self.tuple.remote_port,
            seq: self.iss,
            ack: if active { SeqNum(0) } else { self.rcv_nxt },
            flags: TcpFlags(flags),
            window,
            urgent: 0,
            options,
        };
        self.snd_nxt = self.iss + 1u32;
        if !active {
            self.rcv_adv = self.rcv_nxt + window as u32;
            self.last_ack_sent = self.rcv_nxt;
        }
        // Karn's rule (RFC 6298 §3): an ACK of a resent SYN or SYN-ACK cannot tell which copy
        // it acknowledges, so only the first copy is timed. This covers a SYN-ACK resent for
        // a retransmitted SYN (no timeout of ours), not only a timer-driven resend.
        if rtx {
            self.set(F_SYN_RTX);
            self.clear(F_RTT_TIMING);
        } else {
            self.set(F_RTT_TIMING);
            self.rtt_seq = self.iss;
            self.rtt_start = us32(sh.now);
        }
        if sh.emit_tcp(
            tx,
            &mut self.peer_mac,
            self.tuple.remote_ip,
            &repr,
            (&[], &[]),
        ) {
            if self.retries > 0 {
                sh.counters.mib.retrans_segs += 1;
            } else {
                sh.counters.mib.out_segs += 1;
            }
        } else if self.peer_mac == MacAddr::ZERO {
            self.set(F_NO_MAC);
        }
    }

    /// Sends whatever is due: retransmissions, new data within min(SND.WND, cwnd), FIN, and an
    /// ACK if one is owed and nothing else carried it. Then arms the timers.
    pub(crate) fn output<T: Transmit>(&mut self, sh: &mut Shared, tx: &mut T, id: SlotId) {
        match self.state {
            State::Closed | State::Listen => return,
            State::TimeWait => {
                // The ACK of the peer's FIN goes out before the Tcb becomes a TIME_WAIT entry.
                if self.has(F_ACK_NOW) {
                    self.send_ack(sh, tx);
                }
                return;
            }
            State::SynSent | State::SynReceived => {
                if self.has(F_ACK_NOW) {
                    self.clear(F_ACK_NOW);
                    if self.state == State::SynReceived {
                        self.send_syn(sh, tx, true);
                    }
                }
                return;
            }
            _ => {}
        }
        self.age_pmtu(sh);
        let mss = self.mss as usize;
        let smss = self.smss() as usize;

        // 1. Retransmissions.
        if self.has(F_SACK) && self.has(F_RECOVERY) {
            self.sack_recovery_output(sh, tx, smss);
        } else {
            while self.rtx_nxt.lt(self.rtx_end) && self.rtx_nxt.lt(self.snd_nxt) {
                let force = self.has(F_RTX_FORCE);
                let flight = self.rtx_nxt - self.snd_una;
                let cwnd = self.cc.cwnd();
                if !force && flight + smss as u32 > cwnd.max(smss as u32) {
                    break;
                }
                // RFC 6675 §5.1: after an RTO, resend only what the peer has not SACKed.
                let mut max_len = smss;
                if let Some(sb) = self.sb.as_ref().filter(|_| self.has(F_SACK)) {
                    let (from, run) = sb.unsacked_from(self.rtx_nxt);
                    self.rtx_nxt = from;
                    max_len = max_len.min(run as usize);
                    if !(self.rtx_nxt.lt(self.rtx_end) && self.rtx_nxt.lt(self.snd_nxt)) {
                        break;
                    }
                }
                self.clear(F_RTX_FORCE);
                if self.retransmit_one(sh, tx, self.rtx_nxt, max_len).is_none() {
                    break;
                }
            }
            if self.has(F_LOSS) && self.rtx_nxt.ge(self.rtx_end) {
                self.clear(F_LOSS);
            }
        }

        // 2. New data. In SACK recovery cwnd limits pipe, not everything unacknowledged
        // (RFC 6675 §5 step C: NextSeg rule 2 sends new data while cwnd - pipe >= SMSS).
        let mut pipe = match self.sb.as_ref() {
            Some(sb) if self.has(F_SACK) && self.has(F_RECOVERY) => {
                Some(self.pipe(sb, smss as u32))
            }
            _ => None,
        };
        loop {
            let unsent = self.unsent() as usize;
            let fin_due = self.has(F_FIN_QUEUED) && !self.has(F_FIN_SENT);
            if unsent == 0 && !fin_due {
                break;
            }
            if self.has(F_LOSS) {
                break;
            }
            let flight = self.snd_nxt - self.snd_una;
            let usable = match pipe {
                Some(p) => (self.snd_wnd.saturating_sub(flight) as usize)
                    .min(self.cc.cwnd().saturating_sub(p) as usize),
                None => (self.snd_wnd.min(self.cc.cwnd()) as usize).saturating_sub(flight as usize),
            };
            let len = unsent.min(smss).min(usable);
            if unsent > 0 {
                if len == 0 {
                    break;
                }
                let all = len == unsent;
                // Sender SWS avoidance (RFC 9293 §3.8.6.2.1) and Nagle (RFC 896).
                let full = len == smss;
                let ok = full
                    || self.has(F_FORCE_SEND)
                    || (all && (!sh.cfg.nagle || flight == 0))
                    || len >= (self.max_snd_wnd as usize / 2).max(1) && !all;
                if !ok {
                    break;
                }
                let fin = all && fin_due;
                let seq = self.snd_nxt;
                if !self.has(F_RTT_TIMING) && !self.has(F_TS) {
                    self.set(F_RTT_TIMING);
                    self.rtt_seq = seq;
                    self.rtt_start = us32(sh.now);
                }
                let Some(sent) = self.send_new(sh, tx, len, fin, all) else {
                    break;
                };
                if let Some(p) = pipe.as_mut() {
                    *p += sent as u32;
                }
            } else {
                // Bare FIN: needs no window room for data.
                let _ = self.send_new(sh, tx, 0, true, false);
                break;
            }
        }

        self.check_app_limited();

        // 3. Window update worth sending (the app read data out of a window that had closed).
        if self.has(F_RWND_LIMITED) && !self.has(F_ACK_NOW) && self.delack_segs == 0 {
            let cur = if self.rcv_adv.gt(self.rcv_nxt) {
                self.rcv_adv - self.rcv_nxt
            } else {
                0
            };
            let limit = (self.rcvbuf.limit() as u32).min(65535u32 << self.rcv_wscale);
            let wnd = (self.rcvbuf.window() as u32).min(limit);
            if cur < limit / 2 && wnd >= cur + (2 * mss as u32).min(limit / 2) {
                self.set(F_ACK_NOW);
            }
        }

        // 4. An ACK owed and not carried by data.
        if self.has(F_ACK_NOW) {
            self.send_ack(sh, tx);
        }
        if self.delack_segs > 0 {
            if !self.has(F_DELACK_DUE) {
                self.set(F_DELACK_DUE);
                self.delack_due = sh.now + sh.cfg.delayed_ack;
                // A timer still pending from an earlier interval fires no later than this one
                // and re-arms itself then.
                if self.delack_timer.is_none() {
                    self.delack_timer = sh
                        .timers
                        .schedule(self.delack_due, TimerPayload::DelAck(id));
                }
            }
        } else {
            self.clear(F_DELACK_DUE);
        }

        self.arm_timers(sh, id);
    }

    fn retransmit_one<T: Transmit>(
        &mut self,
        sh: &mut Shared,
        tx: &mut T,
        seq: SeqNum,
        smss: usize,
    ) -> Option<usize> {
        debug_assert!(
            seq.ge(self.snd_una),
            "retransmission of {seq:?} below SND.UNA {:?}",
            self.snd_una
        );
        // Never past SND.NXT: a retransmission of a short segment must not carry bytes that
        // were never sent (the peer would ACK beyond SND.NXT, which we must refuse).
        let data_end = self.data_end();
        let sent_end = if self.has(F_FIN_SENT) {
            self.snd_nxt - 1u32
        } else {
            self.snd_nxt
        };
        let end = sent_end.min(data_end);
        let len = if seq.lt(end) {
            ((end - seq) as usize).min(smss)
        } else {
            0
        };
        let fin = self.has(F_FIN_SENT) && seq + len == data_end;
        if len == 0 && !fin {
            self.rtx_nxt = self.rtx_end;
            return None;
        }
        self.clear(F_RTT_TIMING);
        let sent = self.send_data(sh, tx, seq, len, fin, true, true)?;
        let adv = sent as u32 + (fin && sent == len) as u32;
        if seq == self.rtx_nxt {
            self.rtx_nxt = seq + adv;
        }
        if (seq + adv).gt(self.high_rxt) {
            self.high_rxt = seq + adv;
        }
        Some(sent)
    }

    /// RFC 6675 §5 steps (C): while cwnd - pipe >= SMSS, send NextSeg().
    fn sack_recovery_output<T: Transmit>(&mut self, sh: &mut Shared, tx: &mut T, smss: usize) {
        for _ in 0..64 {
            let force = self.has(F_RTX_FORCE);
            let pipe = match self.sb.as_ref() {
                Some(sb) => self.pipe(sb, smss as u32),
                None => self.snd_nxt - self.snd_una,
            };
            if !force && self.cc.cwnd() < pipe.saturating_add(smss as u32) {
                break;
            }
            self.clear(F_RTX_FORCE);
            // RACK's time-based verdict first: it also finds lost retransmissions, which
            // RFC 6675's NextSeg (above HighRxt only) cannot.
            let rack_lost = self
                .rack
                .as_ref()
                .and_then(|r| r.next_lost())
                .filter(|&(seq, _)| seq.ge(self.snd_una));
            if let Some((seq, len)) = rack_lost {
                if !self.retransmit_record(sh, tx, seq, len, smss) {
                    break;
                }
                continue;
            }
            let next = self
                .sb
                .as_ref()
                .and_then(|sb| sb.next_lost(self.snd_una, self.snd_nxt, self.high_rxt, smss as u32))
                .or_else(|| force.then_some((self.snd_una, smss as u32)));
            if let Some((seq, len)) = next {
                if self.retransmit_one(sh, tx, seq, len as usize).is_none() {
                    break;
                }
                continue;
            }
            // Rule 2: new data is sent by the caller's new-data step. Rules 3 (an un-SACKed
            // hole, lost or not) and 4 (a rescue of the tail) are left to RACK, which every
            // SACK connection runs, as Linux does (RFC 8985 §1 replaces DupThresh-style
            // guessing): an un-SACKed segment RACK has not found lost is in flight, only its
            // SACK is late; a window larger than the flight (BBR's, or any while the
            // application has nothing new) resent the whole flight once by rule 3, and rule 4
            // resent the tail on every partial ACK, each copy D-SACKed. A lost tail is found
            // once a retransmission sent after it is delivered (RFC 8985 §6.2).
            break;
        }
    }

    /// Resends every un-SACKed byte of the transmission record `[seq, seq + len)` that RACK
    /// found lost, in as many segments as it takes. A record can be longer than one segment
    /// now holds (it went out before SACK blocks took 20-28 bytes of option space), and RACK
    /// marks the whole record resent: a remainder left unsent would stay a hole until the RTO.
    fn retransmit_record<T: Transmit>(
        &mut self,
        sh: &mut Shared,
        tx: &mut T,
        seq: SeqNum,
        len: u32,
        smss: usize,
    ) -> bool {
        let end = seq + len;
        let mut at = seq;
        let mut any = false;
        while at.lt(end) {
            let (from, run) = match self.sb.as_ref() {
                Some(sb) => sb.unsacked_from(at),
                None => (at, u32::MAX),
            };
            if !from.lt(end) {
                break;
            }
            let n = run.min(end - from) as usize;
            let Some(sent) = self.retransmit_one(sh, tx, from, n.min(smss)) else {
                return any;
            };
            any = true;
            at = from + sent.max(1) as u32;
        }
        any
    }

    /// Our TSval now (RFC 7323 §4: the millisecond clock plus this connection's offset).
    fn ts_val(&self, sh: &Shared) -> u32 {
        ms32(sh.now).wrapping_add(self.ts_offset)
    }

    /// Bytes the application queued that have not been sent yet.
    fn unsent(&self) -> u32 {
        let data_end = self.data_end();
        if self.snd_nxt.lt(data_end) {
            data_end - self.snd_nxt
        } else {
            0
        }
    }

    /// RFC 6675 §4 NextSeg rule 2 applies: unsent data (or our FIN) that the peer's window
    /// admits.
    fn new_data_allowed(&self, smss: u32) -> bool {
        let data_end = self.data_end();
        if self.snd_nxt.lt(data_end) {
            let len = (data_end - self.snd_nxt).min(smss);
            (self.snd_nxt + len).le(self.snd_una + self.snd_wnd)
        } else {
            self.has(F_FIN_QUEUED) && !self.has(F_FIN_SENT)
        }
    }

    /// Where a resent segment ending at `top` starts. Sized by that segment's own options, so
    /// that it still ends at `top` when SACK blocks shorten it: the probe exists to learn
    /// whether the tail arrived (RFC 8985 §7.3).
    fn last_segment_start(&self, sh: &Shared, top: SeqNum, smss: u32) -> SeqNum {
        let room = (self.payload_room(sh) as u32).clamp(1, smss);
        if (top - self.snd_una) > room {
            top - room
        } else {
            self.snd_una
        }
    }

    /// One past the highest outstanding octet not SACKed, if any.
    fn highest_unsacked_end(&self) -> Option<SeqNum> {
        let mut top = self.snd_nxt;
        if let Some(sb) = self.sb.as_ref() {
            for &(s, e) in sb.ranges().iter().rev() {
                if e.ge(top) && s.lt(top) {
                    top = s;
                } else if e.lt(top) {
                    break;
                }
            }
        }
        top.gt(self.snd_una).then_some(top)
    }

    /// Arms the rtx slot for what the connection is waiting for now.
    fn arm_timers(&mut self, sh: &mut Shared, id: SlotId) {
        if self.snd_una != self.snd_nxt {
            if !matches!(self.rtx_kind, RTX_DATA | RTX_TLP | RTX_REO) {
                let rto = self.rtt.rto();
                match self.pto() {
                    Some(pto) if pto < rto => self.arm_rtx(sh, id, RTX_TLP, pto),
                    _ => self.arm_rtx(sh, id, RTX_DATA, rto),
                }
            }
            return;
        }
        let unsent =
            self.data_end().gt(self.snd_nxt) || (self.has(F_FIN_QUEUED) && !self.has(F_FIN_SENT));
        if unsent {
            if self.rtx_kind != RTX_PERSIST {
                self.retries = 0;
                let rto = self.rtt.rto();
                self.arm_rtx(sh, id, RTX_PERSIST, rto);
            }
            return;
        }
        if self.state == State::FinWait2 && self.has(F_ORPHAN) {
            if self.rtx_kind != RTX_FIN_WAIT2 {
                let t = sh.cfg.fin_timeout;
                self.arm_rtx(sh, id, RTX_FIN_WAIT2, t);
            }
            return;
        }
        if let Some(ka) = sh.cfg.keepalive {
            if matches!(
                self.state,
                State::Established | State::CloseWait | State::FinWait2
            ) {
                if self.rtx_kind != RTX_KEEPALIVE {
                    self.retries = 0;
                    self.arm_rtx(sh, id, RTX_KEEPALIVE, ka.idle);
                }
                return;
            }
        }
        if self.rtx_kind != RTX_NONE {
            self.cancel_rtx(sh);
        }
    }

    /// RFC 8985 §7.2 probe timeout, when a tail loss probe is allowed now: 2 * SRTT, plus the
    /// peer's worst-case delayed ACK when only one segment is in flight.
    fn pto(&self) -> Option<Duration> {
        if !self.has(F_SACK) || self.has(F_RECOVERY | F_LOSS | F_TLP) || self.retries > 0 {
            return None;
        }
        let srtt = self.rtt.srtt()?;
        // Linux's floor: a near-zero SRTT must not make the probe fire on the next poll.
        let mut pto = (srtt * 2).max(TLP_MIN_PTO);
        if self.snd_nxt - self.snd_una <= self.smss() {
            pto += TLP_MAX_ACK_DELAY;
        }
        Some(pto)
    }

    /// RFC 8985 §7.3: the probe timer fired. Send one new segment if the peer's window admits
    /// it, else resend the highest un-SACKed segment; then wait for the RTO.
    fn send_tail_loss_probe<T: Transmit>(&mut self, sh: &mut Shared, tx: &mut T, id: SlotId) {
        self.set(F_TLP);
        sh.counters.mib.tlp_probes += 1;
        let smss = self.smss();
        let data_end = self.data_end();
        let mut sent = false;
        if self.snd_nxt.lt(data_end) && self.new_data_allowed(smss) {
            let len = (data_end - self.snd_nxt).min(smss) as usize;
            let all = self.snd_nxt + len == data_end;
            let fin = all && self.has(F_FIN_QUEUED) && !self.has(F_FIN_SENT);
            sent = self.send_new(sh, tx, len, fin, all).is_some();
        }
        if !sent {
            if let Some(top) = self.highest_unsacked_end() {
                let start = self.last_segment_start(sh, top, smss);
                // The probe moves neither HighRxt nor the go-back-N cursor (RFC 8985 §7.3:
                // it is not a repair of a known loss).
                let (high_rxt, rtx_nxt) = (self.high_rxt, self.rtx_nxt);
                self.retransmit_one(sh, tx, start, (top - start) as usize);
                self.high_rxt = high_rxt;
                self.rtx_nxt = rtx_nxt;
            }
        }
        let rto = self.rtt.rto();
        self.arm_rtx(sh, id, RTX_DATA, rto);
        self.output(sh, tx, id);
    }

    /// RFC 6675 SetPipe, less what RACK found lost (see `pipe_with_rack`).
    fn pipe(&self, sb: &Scoreboard, smss: u32) -> u32 {
        let rack = self.rack.as_deref();
        pipe_with_rack(self.snd_una, self.snd_nxt, self.high_rxt, sb, rack, smss)
    }

    /// RFC 2883: report `[start, end)`, data that arrived twice, in the next ACK.
    fn queue_dsack(&mut self, sh: &mut Shared, start: SeqNum, end: SeqNum) {
        if self.has(F_SACK) && start.lt(end) {
            self.dsack = (start, end);
            self.set(F_DSACK | F_ACK_NOW);
            sh.counters.mib.dsack_sent += 1;
        }
    }

    /// Every (re)transmission of data on a SACK connection is recorded for RACK, and counted
    /// for PRR (prr_out) and for undo; with a rate-based controller every transmission is,
    /// SACK or not, stamped for its delivery rate.
    fn rack_on_send(&mut self, sh: &Shared, seq: SeqNum, len: usize, rtx: bool) {
        if (!self.has(F_SACK) && !self.cc.drives_recovery()) || len == 0 {
            return;
        }
        let recovering = self.has(F_RECOVERY);
        let now = us32(sh.now);
        let idle = self.snd_una == self.snd_nxt;
        let stamp = self
            .cc
            .rate_mut()
            .map(|r| r.on_send(now, idle))
            .unwrap_or_default();
        let tsval = if self.has(F_TS) { self.ts_val(sh) } else { 0 };
        let r = self.rack.get_or_insert_with(|| Box::new(Rack::new(seq)));
        let tx = RackTx {
            now_us: now,
            rtx,
            tsval,
        };
        r.on_send(seq, seq + len, tx, stamp);
        if recovering {
            r.prr.out = r.prr.out.saturating_add(len as u32);
        }
        if rtx && r.undo.is_some() {
            r.undo_retrans += 1;
        }
    }

    /// An acceptable ACK on a SACK connection: D-SACK (RFC 2883 §4: widen RACK's reordering
    /// window, undo a reduction all of whose retransmissions proved needless), RACK's record
    /// of what was delivered, and PRR's window for this ACK (RFC 6937 §3.1). Returns the ACK's
    /// delivery rate sample when the congestion control takes one.
    fn rack_on_ack(
        &mut self,
        sh: &mut Shared,
        seg: &TcpRepr,
        una_before: SeqNum,
        delivered: u32,
    ) -> Option<Sample> {
        let now = us32(sh.now);
        let min_rtt = self.rtt.min_rtt_us();
        let blocks = if self.has(F_SACK) {
            seg.options.sack.as_slice()
        } else {
            &[]
        };
        let recovering = self.has(F_RECOVERY);
        let smss = self.smss();
        let tsecr = seg
            .options
            .timestamp
            .filter(|_| self.has(F_TS))
            .map(|(_, ecr)| ecr);
        let r = self.rack.as_mut()?;
        if let Some((_, end)) = Scoreboard::dsack(una_before, blocks) {
            sh.counters.mib.dsack_recv += 1;
            r.on_dsack(self.snd_una, self.snd_nxt);
            let episodes = end.gt(r.undo_marker) && end.le(self.high_rxt.max(self.snd_una));
            if r.undo.is_some() && r.undo_retrans > 0 && episodes {
                r.undo_retrans -= 1;
                if r.undo_retrans == 0 {
                    if let Some(prior) = r.undo.take() {
                        if self.cc.undo(prior) {
                            sh.counters.mib.cwnd_undo += 1;
                            r.undone = recovering;
                        }
                    }
                }
            }
        }
        let sb = self.sb.as_deref();
        let mut gather = Gather::default();
        let rate = self.cc.rate_mut().map(|rate| (rate, &mut gather));
        r.on_ack(self.snd_una, now, min_rtt, tsecr, rate, |a, b| {
            sb.is_some_and(|sb| sb.covers(a, b))
        });
        if let Some(us) = r.last_min_rtt_us {
            self.rtt.note_min_rtt_us(us);
        }
        let sample = self
            .cc
            .rate_mut()
            .and_then(|rate| rate.finish(&gather, min_rtt));
        if recovering && !r.undone && !self.cc.drives_recovery() {
            r.prr.delivered = r.prr.delivered.saturating_add(delivered);
            let pipe = sb.map_or(self.snd_nxt - self.snd_una, |sb| {
                pipe_with_rack(self.snd_una, self.snd_nxt, self.high_rxt, sb, Some(r), smss)
            });
            let cnt = r.prr.sndcnt(pipe, self.cc.ssthresh(), delivered, smss);
            self.cc.set_cwnd(pipe.saturating_add(cnt));
        }
        sample
    }

    /// A rate-based controller's view of one ACK: what it delivered and lost, what is still in
    /// the network (RFC 6675 pipe with SACK), and the loss state (Linux's `icsk_ca_state`:
    /// recovery, or after an RTO until SND.UNA passes what was outstanding at it).
    fn rate_control(&mut self, sh: &Shared, sample: Option<Sample>, acked: u32, lost: u32) {
        let smss = self.smss();
        let in_flight = match self.sb.as_deref() {
            Some(sb) if self.has(F_SACK) => self.pipe(sb, smss),
            _ => self.in_flight(),
        };
        let ca = if self.has(F_RECOVERY) {
            CaState::Recovery
        } else if self.snd_una.lt(self.recover) {
            CaState::Loss
        } else {
            CaState::Open
        };
        let info = AckInfo {
            acked,
            lost: lost.saturating_mul(smss),
            in_flight,
            ca,
        };
        self.cc.on_delivery(sh.now, sample, info);
    }

    /// Linux's `tcp_rate_check_app_limited`: nothing (or less than a segment) left to send,
    /// nothing to resend and room in cwnd, so the next rate samples measure the application.
    fn check_app_limited(&mut self) {
        if !self.cc.drives_recovery() || self.has(F_LOSS | F_RTX_FORCE) {
            return;
        }
        let unsent = self.unsent();
        let flight = self.in_flight();
        if unsent < self.smss() && flight < self.cc.cwnd() {
            if let Some(r) = self.cc.rate_mut() {
                r.mark_app_limited(flight);
            }
        }
    }

    /// RACK loss detection (RFC 8985 §6.2 step 5) after an ACK or when the reordering timer
    /// fires: segments found lost start recovery (or are resent within it), and segments that
    /// may yet be found lost arm the reordering timer.
    /// Returns how many segments were newly found lost.
    fn rack_detect(&mut self, sh: &mut Shared, id: SlotId) -> u32 {
        if !self.has(F_SACK) || self.has(F_LOSS) || self.snd_una == self.snd_nxt {
            return 0;
        }
        let smss = self.smss();
        let recovering = self.has(F_RECOVERY);
        let Some(r) = self.rack.as_mut() else {
            return 0;
        };
        let srtt = self
            .rtt
            .srtt()
            .map_or(u32::MAX, |d| d.as_micros().min(u32::MAX as u128) as u32);
        let min_rtt = self.rtt.min_rtt_us().min(srtt);
        let many = self
            .sb
            .as_ref()
            .is_some_and(|sb| sb.sacked_bytes() >= u32::from(DUP_THRESH) * smss);
        let reo = r.reo_wnd(min_rtt, srtt, recovering, many);
        let (lost, next) = r.detect_loss(us32(sh.now), reo);
        if lost > 0 {
            sh.counters.mib.rack_lost += u64::from(lost);
            if !recovering {
                self.enter_recovery(sh);
            }
            // The first loss, or a lost retransmission: resend it now, as a fast retransmit.
            self.set(F_RTX_FORCE);
        }
        if let Some(wait) = next {
            let wait = Duration::from_micros(u64::from(wait));
            if wait < self.rtt.rto() {
                self.arm_rtx(sh, id, RTX_REO, wait);
            }
        }
        lost
    }

    /// Queues our FIN (app close / shutdown): the state moves at once (RFC 9293 §3.10.4).
    pub(crate) fn queue_fin(&mut self) {
        if self.has(F_FIN_QUEUED) {
            return;
        }
        match self.state {
            State::SynReceived | State::Established => self.state = State::FinWait1,
            State::CloseWait => self.state = State::LastAck,
            _ => return,
        }
        self.set(F_FIN_QUEUED);
    }

    /// Bytes in memory for this connection beyond the Tcb (buffers, scoreboard).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.sndbuf.heap_bytes()
            + self.rcvbuf.heap_bytes()
            + self
                .sb
                .as_ref()
                .map_or(0, |_| core::mem::size_of::<Scoreboard>())
            + self.rack.as_ref().map_or(0, |r| r.heap_bytes())
            + self.cc.heap_bytes()
    }
}

/// RFC 6675 SetPipe, except that an original transmission RACK declared lost is not counted
/// (RFC 8985 §6): otherwise a lost retransmission in a small window keeps pipe at cwnd, nothing
/// new is sent, no later segment is delivered to expose the loss, and only the RTO repairs it.
fn pipe_with_rack(
    una: SeqNum,
    nxt: SeqNum,
    high_rxt: SeqNum,
    sb: &Scoreboard,
    rack: Option<&Rack>,
    smss: u32,
) -> u32 {
    let pipe = sb.pipe(una, nxt, high_rxt, smss);
    let Some(r) = rack else { return pipe };
    let gone = r.lost_bytes(|seq| seq.ge(una) && !sb.is_sacked(seq) && !sb.is_lost(seq, smss));
    pipe.saturating_sub(gone)
}
