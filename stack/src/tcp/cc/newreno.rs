//! NewReno window arithmetic (RFC 5681 §3.1, RFC 6582).

pub struct NewReno {}
