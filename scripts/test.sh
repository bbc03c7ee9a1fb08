#!/usr/bin/env bash
# Runs every test of tcpterm. Installs what it needs first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Lints first: they fail in a minute where the tests take fifteen.
cargo fmt --all --check
cargo clippy --workspace --all-targets --release -- -D warnings 2>&1
cargo test --workspace --release 2>&1
# The benchmark plotter is its own crate (its label rounding must never turn a miss into a hit).
cargo test --release --manifest-path scripts/bench/plot/Cargo.toml 2>&1
# Integration: tcpterm on a veth against the Linux kernel's TCP in a network namespace.
cargo build --release -p tcpterm --bin tcpterm 2>&1
bash scripts/itest/run.sh
