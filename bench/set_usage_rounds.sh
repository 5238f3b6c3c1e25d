#!/usr/bin/env bash
# The set_usage case of bench/run.sh on PostgreSQL, several rounds in a row on one fresh copy of
# the seeded usage database: the first round shows what a server fresh from a restore costs, the
# next ones the steady state. For pairs, run it for two binaries in turn (base, branch, base...).
# Each round (10 s) prints reports/s, p50/p99 (of each instance), the write batches and how many took
# over 10, 25 and 100 ms (from /metrics), multixact SLRU page accesses, MB of WAL, and the
# buffers a report hit and read (pg_stat_database; what a change saves shows there through noise
# that moves reports/s).
# Needs the seed cache of a run like `SEED_CACHE=1 CUSTOMERS=10000 RESOURCES=400000 MONTHS=25
# CASES=set_usage bench/run.sh postgres` (this month's).
# Usage: bench/set_usage_rounds.sh BINARY [LABEL]; ROUNDS (3), INSTANCES (1), CUSTOMERS,
# RESOURCES, MONTHS (the seed's sizes, 10x by default), REPORT_MONTHS (1: the current month),
# SERVER_URL_QUERY (a query string added to the servers' database URL, as in bench/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "$1")"; label="${2:-$(basename "$1")}"
ROUNDS="${ROUNDS:-3}"; n="${INSTANCES:-1}"; months="${REPORT_MONTHS:-1}"
seconds=10 # a round
CUSTOMERS="${CUSTOMERS:-10000}"; RESOURCES="${RESOURCES:-400000}"; MONTHS="${MONTHS:-25}"
PG_URL="${METERGUARD_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
key="postgres-${CUSTOMERS}c-${RESOURCES}r-${MONTHS}m-$(date +%Y%m)"
seed="mg_seed_usage_${key//-/_}"; token=$(cat "${SEED_DIR:-/var/tmp/meterguard-bench-seed}/$key/staff.token")
db="mg_rounds_$$"; url="${PG_URL%/*}/$db"; port=18890
pids=()
finish() { [ ${#pids[@]} -eq 0 ] || { kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; }
  psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; }
trap finish EXIT
psql "$PG_URL" -qc "CREATE DATABASE $db TEMPLATE $seed" >/dev/null
psql "$url" -qc "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
for ((i = 0; i < n; i++)); do
  RUST_LOG=warn METERGUARD_TOKEN_LIFETIME_SECONDS=2147483647 DATABASE_URL="$url${SERVER_URL_QUERY:+?$SERVER_URL_QUERY}" "$bin" serve \
    --listen "127.0.0.1:$((port + i))" > "/tmp/$db.$i.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$((port + i))/health/" >/dev/null && break; sleep 0.2; done
done
sleep 8 # the sweep every instance runs when it starts
dates=$(python3 bench/report_dates.py "$months")
counters() { # batches, batches over 10/25/100 ms, multixact SLRU accesses, WAL bytes
  local i
  for ((i = 0; i < n; i++)); do curl -s "http://127.0.0.1:$((port + i))/metrics"; done | awk '
    /^meterguard_report_batch_duration_seconds_bucket/ { split($1, a, "le=\""); sub(/".*/, "", a[2]); c[a[2]] += $2 }
    END { printf "%d %d %d %d ", c["+Inf"], c["+Inf"] - c["0.01"], c["+Inf"] - c["0.025"], c["+Inf"] - c["0.1"] }'
  psql "$url" -Atc "SELECT (SELECT sum(blks_hit + blks_read + blks_zeroed) FROM pg_stat_slru WHERE name LIKE 'MultiXact%'), \
    pg_current_wal_lsn() - '0/0', blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()" | tr '|' ' '
}
for ((round = 1; round <= ROUNDS; round++)); do
  read -r b0 s10 s25 s100 mx0 wal0 hit0 rd0 <<< "$(counters)"
  wrks=()
  for ((i = 0; i < n; i++)); do
    env MODE=set_usage RESOURCES="$RESOURCES" DATES="$dates" TOKEN="$token" PROCESS="$i" \
      wrk -t"$(( n > 1 ? 1 : 2 ))" -c"$((16 / n))" -d"${seconds}s" --latency -s bench/load.lua \
      "http://127.0.0.1:$((port + i))/" > "/tmp/$db.wrk.$i" &
    wrks+=($!)
  done
  wait "${wrks[@]}"
  read -r b1 t10 t25 t100 mx1 wal1 hit1 rd1 <<< "$(counters)"
  line="$label round $round:"
  rps=0
  for ((i = 0; i < n; i++)); do
    rps=$(awk -v a="$rps" -v b="$(awk '/^Requests\/sec:/ { print $2 }' "/tmp/$db.wrk.$i")" 'BEGIN { print a + b }')
    line="$line p50 $(awk '$1 == "50%" { print $2 }' "/tmp/$db.wrk.$i") p99 $(awk '$1 == "99%" { print $2 }' "/tmp/$db.wrk.$i"),"
  done
  echo "$line $rps reports/s; $((b1 - b0)) batches, over 10/25/100 ms: $((t10 - s10))/$((t25 - s25))/$((t100 - s100));" \
    "multixact SLRU $((mx1 - mx0)); WAL $(( (${wal1%.*} - ${wal0%.*}) / 1000000 )) MB;" \
    "$(awk -v r="$rps" -v s="$seconds" -v h="$((hit1 - hit0))" -v d="$((rd1 - rd0))" 'BEGIN { printf "buffers a report: %.1f hit, %.2f read", h / (r * s), d / (r * s) }')"
done
rm -f "/tmp/$db".*
