#!/usr/bin/env bash
# The scale benchmark: a simulated multi-year history of Shaoxing, moved between backends,
# verified, and used as the starting point of the store benchmark.
#
#   bench/scale.sh [PRESET] [YEARS] [SIMULATE FLAGS…]   # default: city 3
#   bench/scale.sh city 10 --daily-progress
#
# Needs PostgreSQL at $XINGCUN_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
# Prints wall time, events/s and peak memory (max RSS) of every command, the size on disk per
# million events on both backends, then the store benchmark's table on the loaded databases.
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET="${1:-city}"
YEARS="${2:-3}"
shift $(( $# < 2 ? $# : 2 ))
PG="${XINGCUN_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
WORK="${BENCH_DIR:-$(mktemp -d /var/tmp/xingcun-scale.XXXXXX)}"
mkdir -p "$WORK"
cargo build --release --quiet
BIN=target/release/xingcun

pg_base="${PG%/*}"
pgdb="xingcun_scale_$(date +%s)"
psql "$PG" -qc "create database $pgdb"
PGURL="$pg_base/$pgdb"

calc() { awk "BEGIN { printf \"%.0f\", $1 }"; }
measure() { # label, then the command
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" > "$WORK/out" 2> "$WORK/err" || { cat "$WORK/err"; exit 1; }
  read -r secs rss < "$WORK/time"
  printf '%-34s %8.1f s   peak RSS %7.1f MiB\n' "$label" "$secs" "$(awk "BEGIN { print $rss/1024 }")"
  echo "$secs" > "$WORK/secs"
}

echo "# xingcun scale benchmark: preset $PRESET, $YEARS years, $(nproc) cores, $(date -u +%F)"
measure "simulate -> SQLite" $BIN --database-url "sqlite://$WORK/sim.db" simulate --preset "$PRESET" --years "$YEARS" --seed 1 "$@"
tail -n 20 "$WORK/out"
sim_secs=$(cat "$WORK/secs")
measure "export (JSON Lines)" $BIN --database-url "sqlite://$WORK/sim.db" export "$WORK/city.jsonl"
events=$(( $(wc -l < "$WORK/city.jsonl") - 1 ))
echo "events: $events   simulate: $(calc "$events/$sim_secs") events/s"
measure "verify (SQLite)" $BIN --database-url "sqlite://$WORK/sim.db" verify
measure "import -> SQLite" $BIN --database-url "sqlite://$WORK/imported.db" import "$WORK/city.jsonl"
echo "  import SQLite: $(calc "$events/$(cat "$WORK/secs")") events/s"
measure "import -> PostgreSQL" $BIN --database-url "$PGURL" import "$WORK/city.jsonl"
echo "  import PostgreSQL: $(calc "$events/$(cat "$WORK/secs")") events/s"
measure "verify (PostgreSQL)" $BIN --database-url "$PGURL" verify
cat "$WORK/out"
measure "export again (PostgreSQL)" $BIN --database-url "$PGURL" export "$WORK/again.jsonl"
cmp -s "$WORK/city.jsonl" "$WORK/again.jsonl" && echo "  re-export from PostgreSQL is byte-identical" || echo "  RE-EXPORT DIFFERS"

sqlite_bytes=$(( $(stat -c %s "$WORK/imported.db") + $(stat -c %s "$WORK/imported.db-wal" 2>/dev/null || echo 0) ))
pg_bytes=$(psql "$PGURL" -Atc "select pg_total_relation_size('events')")
echo "size on disk per million events: SQLite $(calc "$sqlite_bytes*1000000/$events/1048576") MiB, PostgreSQL $(calc "$pg_bytes*1000000/$events/1048576") MiB (table + indexes)"
echo "export file: $(calc "$(stat -c %s "$WORK/city.jsonl")*1000000/$events/1048576") MiB per million events"

echo
echo "## store benchmark on the loaded databases"
BENCH_IMPORT_FILE="$WORK/city.jsonl" BENCH_EVENTS="${BENCH_EVENTS:-0}" XINGCUN_BENCH_PG_URL="$PG" \
  cargo bench --quiet -p xingcun-store --bench store 2> "$WORK/bench.err"
psql "$PG" -qc "drop database if exists $pgdb with (force)" || true
echo "work files in $WORK"
