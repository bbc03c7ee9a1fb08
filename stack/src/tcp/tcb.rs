//! Transmission control block: one connection's state (RFC 9293 §3.3.1) and segment processing
//! in the order of RFC 9293 §3.10.7.

pub struct Tcb {}
