//! TCP: the per-connection state machine and its parts.

pub mod cc;
pub mod cookie;
pub mod isn;
pub mod rack;
pub mod rtt;
pub mod scoreboard;
pub mod tcb;
pub mod timewait;
