#!/usr/bin/env bash
# The rebuild benchmark on a loaded log (crates/projections/benches/rebuild.rs), with the CPU
# the benchmark process and PostgreSQL each used over the run.
#
#   BENCH_DATABASE_URL=postgres://…/xingcun_bench_api bench/rebuild.sh   # or sqlite://…
#   BENCH_ONLY_ALL=1 …                                                    # skip the one-by-one part
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BENCH_DATABASE_URL:?set BENCH_DATABASE_URL to a loaded log}"
cargo bench --quiet -p xingcun-projections --bench rebuild --no-run
BIN=$(ls -t "${CARGO_TARGET_DIR:-target}"/release/deps/rebuild-* | grep -v '\.d$' | head -n 1)
tick=$(getconf CLK_TCK)
# CPU seconds of every PostgreSQL process alive, plus its reaped children's.
pg_cpu() {
  local total=0 pid
  for pid in $(pgrep -x postgres || true); do
    total=$(( total + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat" 2> /dev/null || echo 0) ))
  done
  echo "$total"
}
before=$(pg_cpu)
started=$(date +%s.%N)
/usr/bin/time -f "benchmark process: %U s user, %S s system, peak %M KiB" "$BIN"
sleep 2
after=$(pg_cpu)
wall=$(echo "$(date +%s.%N) - $started" | bc)
echo "wall $wall s; PostgreSQL used $(echo "scale=1; ($after - $before) / $tick" | bc) CPU-seconds over the run ($(nproc) cores)"
