#!/usr/bin/env bash
# The API benchmark: the 3-year city on PostgreSQL on this machine, `xingcun serve
# --release` with every read model built, and `benches/api.rs` on loopback (64 connections):
# the village board, a leaderboard, the report-progress mutation and the mutation-to-
# subscription latency, each beside the ceiling of GET /healthz measured in the same run.
#
#   bench/api.sh            # reuses the database xingcun_bench_api when it is already loaded
#
# Needs PostgreSQL at $XINGCUN_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
PG="${XINGCUN_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="${PG%/*}/xingcun_bench_api"
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet
BIN="$TARGET/release/xingcun"
if ! psql "$PG" -tAc "select 1 from pg_database where datname = 'xingcun_bench_api'" | grep -q 1; then
  psql "$PG" -qc "create database xingcun_bench_api"
  /usr/bin/time -f "simulate: %e s, peak RSS %M KiB" "$BIN" --database-url "$DB" simulate --preset city --years 3 --seed 1 > /dev/null
fi
# Build every read model before serving (skipped when they already serve; BENCH_REBUILD=1 forces it).
if [ "${BENCH_REBUILD:-0}" = 1 ] || ! psql "$DB" -tAc "select 1 from xingcun_read.village_board limit 1" 2> /dev/null | grep -q 1; then
  /usr/bin/time -f "rebuild of the read models: %e s, peak RSS %M KiB" "$BIN" --database-url "$DB" rebuild --all 2>&1 | tail -n 3
fi
# The secretary of the village with the most work in hand (for the mutation phase).
person=$(psql "$DB" -tAc "select p.person || ' ' || p.scope from xingcun_read.directory_people p join (select village, count(*) as open from xingcun_read.village_board where status in ('signed', 'assigned', 'in_progress', 'returned') group by village) b on b.village = p.scope where p.role = 'village_secretary' and p.active = 1 order by b.open desc, p.scope limit 1")
read -r PERSON VILLAGE <<< "$person"
TOKEN=$("$BIN" --database-url "$DB" token create --person "$PERSON" --expires 1 --label bench 2> /dev/null)
PORT="${BENCH_PORT:-18181}"
RUST_LOG=warn "$BIN" --database-url "$DB" serve --listen "127.0.0.1:$PORT" 2> /dev/null &
SERVER=$!
trap 'kill $SERVER 2> /dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null; do sleep 0.5; done
# The dispatch fan-out re-checks every dispatch of the simulated history on a first start:
# wait until it has (its checkpoint at the log's last task event), so it does not load the run.
started=$(date +%s)
task_head=$(psql "$DB" -tAc "select coalesce(max(position), 0) from events where category = 'task'")
until [ "$(psql "$DB" -tAc "select coalesce(max(position), 0) from xingcun_read.fanout_checkpoint" 2> /dev/null || echo 0)" -ge "$task_head" ]; do sleep 2; done
echo "fan-out caught up with the simulated history in $(( $(date +%s) - started )) s"
echo "# xingcun API benchmark: 3-year city on PostgreSQL, $(nproc) cores, $(date -u +%F)"
BENCH_ADDR="127.0.0.1:$PORT" BENCH_PID="$SERVER" BENCH_TOKEN="$TOKEN" BENCH_VILLAGE="$VILLAGE" BENCH_BIN="$BIN" BENCH_DB="$DB" \
  BENCH_TOWN="${VILLAGE:0:9}000" BENCH_PERIOD=2025 \
  cargo bench --quiet --bench api
# The cockpit's first paint on the same city (web/tests/paint.mjs), when Chromium and
# playwright-core are there.
if command -v chromium > /dev/null && [ -d web/node_modules/playwright-core ]; then
  leader=$(psql "$DB" -tAc "select person from xingcun_read.directory_people where role = 'town_leader' and active = 1 and scope = '${VILLAGE:0:9}000' order by person limit 1")
  LEADER_TOKEN=$("$BIN" --database-url "$DB" token create --person "$leader" --expires 1 --label bench 2> /dev/null)
  COCKPIT_URL="http://127.0.0.1:$PORT/" CHROMIUM="$(command -v chromium)" LEADER_TOKEN="$LEADER_TOKEN" \
    SECRETARY_TOKEN="$TOKEN" node web/tests/paint.mjs
fi
