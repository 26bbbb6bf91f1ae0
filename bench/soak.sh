#!/usr/bin/env bash
# The ten-minute soak (RELIABILITY.md): tests/api/faults.rs's `soak_at_a_fixed_rate`
# against a release build: 100 requests/s of mixed queries and mutations, four
# subscriptions, a WebSocket opened and closed every second; it prints the request count,
# errors, p50/p99, and the server's RSS, descriptors and threads at start and end.
#
#   bench/soak.sh                      # 600 s on PostgreSQL at $XINGCUN_TEST_PG_URL
#   XINGCUN_SOAK_SECONDS=120 bench/soak.sh
#
# Without XINGCUN_TEST_PG_URL it soaks an SQLite file instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export XINGCUN_TEST_PG_URL="${XINGCUN_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
XINGCUN_SOAK_SECONDS="${XINGCUN_SOAK_SECONDS:-600}" \
  cargo test --release --quiet --test api faults::soak_at_a_fixed_rate -- --nocapture 2>&1 |
  grep -E "^soak:|test result|panicked"
