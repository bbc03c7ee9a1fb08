//! tcpterm runtime library.
pub mod port;
