//! tcpterm runtime library.
