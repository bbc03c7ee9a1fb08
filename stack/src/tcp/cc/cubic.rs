//! CUBIC (RFC 9438) with the Reno-friendly region and fast convergence.

pub struct Cubic {}
