#!/usr/bin/env bash
# Runs every test of tcpterm. Installs what it needs first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace --release 2>&1
