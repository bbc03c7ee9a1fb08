//! Raw DPDK bindings (filled in by the port-layer work).
