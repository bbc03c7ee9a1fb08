//! Counters a worker keeps: Linux-style MIB counters, every drop reason, and per-state gauges.
//! Plain `u64`s owned by the worker; the server publishes snapshots to other threads.

macro_rules! counter_struct {
    ($(#[$meta:meta])* $name:ident { $($(#[doc = $doc:literal])* $field:ident => $label:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $($(#[doc = $doc])* pub $field: u64,)*
        }

        impl $name {
            /// (name as shown to users, value) for every counter, in declaration order.
            pub fn entries(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                [$(($label, self.$field)),*].into_iter()
            }
            /// Adds every counter of `other` into `self` (summing workers).
            pub fn add(&mut self, other: &Self) {
                $(self.$field += other.$field;)*
            }
        }
    };
}

counter_struct! {
    /// Linux `netstat -s` names where one exists.
    Mib {
        /// Connections that entered SYN-SENT.
        active_opens => "ActiveOpens",
        /// Connections that entered SYN-RECEIVED from LISTEN (and cookie-validated ones).
        passive_opens => "PassiveOpens",
        /// SYN-SENT/SYN-RECEIVED connections that went to CLOSED (or back to LISTEN).
        attempt_fails => "AttemptFails",
        /// ESTABLISHED/CLOSE-WAIT connections that were reset.
        estab_resets => "EstabResets",
        /// Segments received (all, including errors).
        in_segs => "InSegs",
        /// Segments sent, excluding retransmissions.
        out_segs => "OutSegs",
        retrans_segs => "RetransSegs",
        /// Segments received with errors (checksum, malformed).
        in_errs => "InErrs",
        in_csum_errors => "InCsumErrors",
        out_rsts => "OutRsts",
        in_rsts => "InRsts",
        listen_overflows => "ListenOverflows",
        listen_drops => "ListenDrops",
        syncookies_sent => "SyncookiesSent",
        syncookies_recv => "SyncookiesRecv",
        syncookies_failed => "SyncookiesFailed",
        challenge_acks => "TCPChallengeACK",
        syn_challenges => "TCPSYNChallenge",
        /// Challenge ACKs not sent because the engine-wide per-second budget was spent.
        challenge_ack_limited => "TCPChallengeACKLimited",
        /// Duplicate ACKs for out-of-window segments held back by the per-connection limit.
        ack_skipped_seq => "TCPACKSkippedSeq",
        /// Duplicate ACKs for PAWS failures held back by the per-connection limit.
        ack_skipped_paws => "TCPACKSkippedPAWS",
        /// Challenge ACKs held back by the per-connection limit.
        ack_skipped_challenge => "TCPACKSkippedChallenge",
        /// SYN-ACK resends in SYN-RECEIVED held back by the per-connection limit.
        ack_skipped_syn_recv => "TCPACKSkippedSynRecv",
        paws_estab_rejected => "PAWSEstab",
        fast_retrans => "TCPFastRetrans",
        sack_recoveries => "TCPSackRecovery",
        reno_recoveries => "TCPRenoRecovery",
        timeouts => "TCPTimeouts",
        /// Tail loss probes sent (RFC 8985 §7).
        tlp_probes => "TCPLossProbes",
        /// Losses RACK found by time: a segment sent later was delivered (RFC 8985 §6.2).
        rack_lost => "TCPRackLost",
        /// DSACK blocks sent (RFC 2883) and received.
        dsack_sent => "TCPDSACKOldSent",
        dsack_recv => "TCPDSACKRecv",
        /// Congestion-window reductions undone because every retransmission of the episode
        /// proved spurious (RFC 3708 / Linux TCPDSACKUndo, TCPLossUndo).
        cwnd_undo => "TCPDSACKUndo",
        syn_retrans => "TCPSynRetrans",
        delayed_acks => "DelayedACKs",
        ofo_queue => "TCPOFOQueue",
        ofo_drop => "TCPOFODrop",
        dup_acks_sent => "TCPDupAckSent",
        persist_probes => "TCPWinProbe",
        keepalive_probes => "TCPKeepAlive",
        abort_on_data => "TCPAbortOnData",
        abort_on_close => "TCPAbortOnClose",
        abort_on_timeout => "TCPAbortOnTimeout",
        abort_on_memory => "TCPAbortOnMemory",
        abort_on_linger => "TCPAbortOnLinger",
        tw_recycled => "TWRecycled",
        tw_killed => "TCPTimeWaitOverflow",
        tw_expired => "TW",
        rcv_pruned => "RcvPruned",
        arp_requests_sent => "ArpRequestsSent",
        arp_replies_sent => "ArpRepliesSent",
        icmp_echo_replies => "IcmpOutEchoReps",
        /// Valid ICMP "fragmentation needed" messages quoting a TCP segment of ours (RFC 1191).
        icmp_frag_needed => "IcmpInFragNeeded",
        /// Connections whose segment size a frag-needed lowered (RFC 1191 §6.5).
        pmtu_updates => "TCPPMTUUpdates",
        in_frames => "InFrames",
        out_frames => "OutFrames",
    }
}

counter_struct! {
    /// Why a received frame was dropped or answered with a reset. Every drop has a reason.
    Drops {
        eth_truncated => "eth_truncated",
        eth_not_for_us => "eth_not_for_us",
        eth_unsupported => "eth_unsupported_ethertype",
        arp_malformed => "arp_malformed",
        arp_not_for_us => "arp_not_for_us",
        ip_truncated => "ip_truncated",
        ip_malformed => "ip_malformed",
        ip_checksum => "ip_bad_checksum",
        ip_fragment => "ip_fragment",
        ip_not_for_us => "ip_not_for_us",
        ip_unsupported_proto => "ip_unsupported_protocol",
        icmp_malformed => "icmp_malformed",
        icmp_unsupported => "icmp_unsupported_type",
        /// An ICMP error quoting a datagram we cannot have sent (not TCP, not our address).
        icmp_quote_not_ours => "icmp_quote_not_ours",
        /// A frag-needed quoting a 4-tuple with no connection.
        icmp_no_connection => "icmp_no_connection",
        /// A frag-needed whose quoted sequence number is not in flight (RFC 5927 §5.1 / Linux
        /// OutOfWindowIcmps): stale or forged.
        icmp_out_of_window => "icmp_out_of_window",
        /// A frag-needed whose MTU would not make the connection's segments smaller.
        icmp_mtu_not_lower => "icmp_mtu_not_lower",
        tcp_truncated => "tcp_truncated",
        tcp_malformed => "tcp_malformed",
        tcp_checksum => "tcp_bad_checksum",
        tcp_bad_flags => "tcp_bad_flags",
        tcp_no_listener => "tcp_no_listener",
        tcp_no_connection => "tcp_no_connection",
        tcp_rst_no_connection => "tcp_rst_for_no_connection",
        tcp_out_of_window => "tcp_out_of_window",
        tcp_bad_ack => "tcp_unacceptable_ack",
        tcp_paws => "tcp_paws_rejected",
        tcp_syn_queue_full => "tcp_syn_queue_full",
        tcp_conn_table_full => "tcp_conn_table_full",
        tcp_bad_cookie => "tcp_bad_syncookie",
        tcp_rcv_buffer_full => "tcp_rcv_buffer_full",
        tcp_ofo_limit => "tcp_ofo_limit",
        tcp_time_wait => "tcp_time_wait_discard",
        tcp_after_close => "tcp_data_after_close",
        no_route => "no_route",
        arp_unresolved => "arp_unresolved",
        tx_no_buffer => "tx_no_buffer",
        /// A frame longer than the MTU + 14 was about to be sent (an engine bug; never sent).
        tx_oversize => "tx_oversize",
    }
}

/// RFC 9293 states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl State {
    pub const ALL: [State; 11] = [
        State::Closed,
        State::Listen,
        State::SynSent,
        State::SynReceived,
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
        State::Closing,
        State::LastAck,
        State::TimeWait,
    ];
    /// The name `netstat` prints.
    pub fn netstat_name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN_SENT",
            State::SynReceived => "SYN_RECV",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN_WAIT1",
            State::FinWait2 => "FIN_WAIT2",
            State::CloseWait => "CLOSE_WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST_ACK",
            State::TimeWait => "TIME_WAIT",
        }
    }
    /// Synchronized states (RFC 9293 §3.5).
    pub fn is_synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynReceived
        )
    }
}

/// Live connections per state (a gauge per state: incremented on entry, decremented on exit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateGauges {
    pub counts: [u64; 11],
}

impl StateGauges {
    #[inline]
    pub fn get(&self, s: State) -> u64 {
        self.counts[s as usize]
    }
    #[inline]
    pub fn enter(&mut self, s: State) {
        self.counts[s as usize] += 1;
    }
    #[inline]
    pub fn leave(&mut self, s: State) {
        self.counts[s as usize] = self.counts[s as usize].saturating_sub(1);
    }
    #[inline]
    pub fn transition(&mut self, from: State, to: State) {
        self.leave(from);
        self.enter(to);
    }
    pub fn add(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
    }
    pub fn entries(&self) -> impl Iterator<Item = (State, u64)> + '_ {
        State::ALL.iter().map(|s| (*s, self.get(*s)))
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub mib: Mib,
    pub drops: Drops,
    pub states: StateGauges,
    /// Connections whose app has closed but that are not yet CLOSED.
    pub orphans: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

impl Counters {
    pub fn add(&mut self, other: &Self) {
        self.mib.add(&other.mib);
        self.drops.add(&other.drops);
        self.states.add(&other.states);
        self.orphans += other.orphans;
        self.rx_bytes += other.rx_bytes;
        self.tx_bytes += other.tx_bytes;
    }
    pub fn total_drops(&self) -> u64 {
        self.drops.entries().map(|(_, v)| v).sum()
    }
}
