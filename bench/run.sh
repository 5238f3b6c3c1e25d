#!/usr/bin/env bash
# Load benchmark of the policy API against a release build on loopback, on SQLite and PostgreSQL.
# Seeds 10,000 policies over 1,000 customers, then measures each case with wrk (16 connections by
# default) next to the ceiling: GET /health/, a static response through the same server and stack,
# and GET /ready/, which runs one SELECT 1: what any request that reads the database costs at least.
# Then a set_usage case over 1,000,000 component_usages rows seeded with SQL (see below), next to
# the ceiling measured again, and the server's peak RSS (VmHWM).
# Usage: bench/run.sh [sqlite|postgres|both]; CONNS, DURATION, CUSTOMERS, RESOURCES, MONTHS,
# REPORT_MONTHS override the defaults; CASES="policies set_usage" (the default) picks the groups of cases.
# WARMUP (default 5s) runs each case's load that long before the DURATION that is measured; 0
# measures a fresh server from its first request.
# INSTANCES=N (PostgreSQL only; SQLite always runs one) runs N servers on the one database, the way
# several stateless instances share it in production, and splits every case's load across them:
# one wrk per instance with CONNS/N connections, run at the same time. requests/s is then their
# sum, and p50/p99 the highest of the instances' (wrk reports no merged distribution).
# SEED_CACHE=1 keeps each seeded state (after the policies, then after the usage rows) and starts
# the next run with the same sizes, backend and month from a copy of it instead of seeding again:
# at ten times the data, seeding takes about 8 minutes of a 10-minute run. PostgreSQL keeps them as
# databases mg_seed_*, SQLite as files under SEED_DIR (default /var/tmp/meterguard-bench-seed).
# BENCH_DB_SETUP_SQL (PostgreSQL only): SQL that psql runs against the bench's database each time
# it settles, after each stage is seeded or restored and before its cases (bench/pg_settings.sh
# sets per-table storage parameters with it). A stage seeded in the same run is saved to the seed
# cache after the setup of the stage before it, so its copy keeps what that setup changed.
# SERVER_URL_QUERY (PostgreSQL only): a query string, such as statement-cache-capacity=500, added
# to the servers' database URL (not psql's), to measure a connection option of the driver.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKENDS="${1:-both}"
CONNS="${CONNS:-16}"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-5s}" # each case's load, run first and not measured; 0 measures from the start
CUSTOMERS="${CUSTOMERS:-1000}"
RESOURCES="${RESOURCES:-40000}" # set_usage case: RESOURCES x MONTHS component_usages rows
MONTHS="${MONTHS:-25}"
# One set_usage case per number here: how many of those months, newest first, its reports go to.
# 1 is the current month only, as clusters report; MONTHS is every seeded month, as staff
# backfilling history would (each report then changes a page that is rarely changed).
REPORT_MONTHS="${REPORT_MONTHS:-$(printf '%s\n' 1 "$MONTHS" | sort -nu | paste -sd' ')}"
CASES="${CASES:-policies set_usage}"
PG_URL="${METERGUARD_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
INSTANCES="${INSTANCES:-1}"
SEED_CACHE="${SEED_CACHE:-}"
SEED_DIR="${SEED_DIR:-/var/tmp/meterguard-bench-seed}"
BENCH_DB_SETUP_SQL="${BENCH_DB_SETUP_SQL:-}"
SERVER_URL_QUERY="${SERVER_URL_QUERY:-}"
PORT=18790 # instance i listens on PORT + i

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --locked
BIN="${CARGO_TARGET_DIR:-target}/release/meterguard"
work=$(mktemp -d)
pids=()
stop_servers() { [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; pids=(); }
trap 'stop_servers || true; rm -rf "$work"' EXIT

to_ms() { # wrk prints 812.00us, 1.23ms or 1.02s
  awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
                         else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
                         else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 } }'
}

# Runs wrk against every instance for a duration: the case's load, its output in $work/wrk.N.
load() { # duration, path, token, [lua env...]
  local duration="$1" path="$2" token="$3"; shift 3
  local i wrk_pids=()
  for ((i = 0; i < n; i++)); do
    if [ $# -gt 0 ]; then
      env "$@" TOKEN="$token" PROCESS="$i" wrk -t"$threads" -c"$((CONNS / n))" -d"$duration" --latency \
        -s bench/load.lua "http://127.0.0.1:$((PORT + i))$path" > "$work/wrk.$i" &
    else
      wrk -t"$threads" -c"$((CONNS / n))" -d"$duration" --latency -H "Authorization: Token $token" \
        "http://127.0.0.1:$((PORT + i))$path" > "$work/wrk.$i" &
    fi
    wrk_pids+=($!)
  done
  wait "${wrk_pids[@]}"
}

# The case's load for WARMUP, not measured: a server fresh from a restore has none of the
# database's pages in its buffers and none of its statements planned yet, which a running
# deployment has (bench/RESULTS.md run 25 shows what the first seconds cost).
warm_up() { # path, token, [lua env...]
  [ "$WARMUP" = 0 ] || load "$WARMUP" "$@"
}

measure() { # name, path, token, [lua env...]; WARMUP=0 when the caller warmed the case up itself
  local name="$1" i; shift
  warm_up "$@"
  load "$DURATION" "$@"
  local rps=0 p50=0 p99=0 non2xx=0 out
  for ((i = 0; i < n; i++)); do
    out=$(cat "$work/wrk.$i")
    rps=$(awk -v a="$rps" -v b="$(echo "$out" | awk '/^Requests\/sec:/ { print $2 }')" 'BEGIN { print a + b }')
    p50=$(awk -v a="$p50" -v b="$(to_ms "$(echo "$out" | awk '$1 == "50%" { print $2 }')")" 'BEGIN { print (b > a ? b : a) }')
    p99=$(awk -v a="$p99" -v b="$(to_ms "$(echo "$out" | awk '$1 == "99%" { print $2 }')")" 'BEGIN { print (b > a ? b : a) }')
    non2xx=$((non2xx + $(echo "$out" | awk '/Non-2xx/ { n = $NF } END { print n + 0 }')))
  done
  [ -z "$CEILING" ] && CEILING="$rps"
  printf '| %s | %s | %.0f | %.2f | %.2f | %.0f%% |%s\n' "$label" "$name" "$rps" "$p50" "$p99" \
    "$(awk -v a="$rps" -v b="$CEILING" 'BEGIN { print 100 * a / b }')" "$([ "$non2xx" = 0 ] || echo " non-2xx: $non2xx")"
}

peak_rss() { # the servers' peak RSS in MB, one figure per instance
  local p
  for p in "${pids[@]}"; do printf '%s ' "$(( $(awk '/VmHWM/ { print $2 }' "/proc/$p/status") / 1024 ))"; done
}

# After a bulk load, measure the steady state: without this, PostgreSQL's autovacuum and
# autoanalyze start on the fresh rows in the middle of a case (p99 of 15-28 ms instead of 5-7),
# and so does the timed checkpoint that writes the load's dirty pages out.
settle() {
  [ "$BACKEND" = postgres ] && [ -n "$BENCH_DB_SETUP_SQL" ] \
    && psql "$url" -q -v ON_ERROR_STOP=1 -c "$BENCH_DB_SETUP_SQL" >/dev/null
  [ "$BACKEND" = postgres ] && psql "$url" -qc "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
  return 0
}

# One statement against the bench's database, as the server sees it (SQLite's foreign keys on, so
# that deletes cascade as they do through the server).
sql() {
  if [ "$BACKEND" = postgres ]; then
    psql "$url" -Atc "$1"
  else
    python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA foreign_keys = ON")
for row in c.execute(sys.argv[2]).fetchall(): print(*row)
c.commit()' "$work/bench.db" "$1"
  fi
}

# Tokens that never lapse: a seed cache's tokens may be hours old when a run starts from it.
start_servers() {
  for ((i = 0; i < n; i++)); do
    RUST_LOG=warn METERGUARD_TOKEN_LIFETIME_SECONDS=2147483647 DATABASE_URL="$server_url" $BIN serve --listen "127.0.0.1:$((PORT + i))" >> "$work/$BACKEND.$i.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$((PORT + i))/health/" >/dev/null && break; sleep 0.2; done
  done
}

# The seed cache (SEED_CACHE): a stage's copy is made with the servers stopped, so that it holds
# every committed row and, on PostgreSQL, so that the database can serve as a template.
seed_copy() { # stage: the copy's database name (PostgreSQL) or directory (SQLite)
  if [ "$BACKEND" = postgres ]; then echo "mg_seed_$1_${cache_key//-/_}"; else echo "$SEED_DIR/$cache_key/$1"; fi
}
seed_exists() {
  local copy; copy=$(seed_copy "$1")
  if [ "$BACKEND" = postgres ]; then
    [ "$(psql "$PG_URL" -Atc "SELECT count(*) FROM pg_database WHERE datname = '$copy'")" = 1 ]
  else
    [ -f "$copy/bench.db" ]
  fi
}
save_seed() { # stage
  [ -n "$SEED_CACHE" ] && ! seed_exists "$1" || return 0
  local copy; copy=$(seed_copy "$1")
  stop_servers || true
  if [ "$BACKEND" = postgres ]; then
    psql "$PG_URL" -qc "CREATE DATABASE $copy TEMPLATE $db" >/dev/null
    mkdir -p "$SEED_DIR/$cache_key"
    cp "$work/seed.json" "$work/staff.token" "$SEED_DIR/$cache_key/"
  else
    mkdir -p "$copy"
    cp "$work"/bench.db* "$work/seed.json" "$work/staff.token" "$copy/"
  fi
  echo "(seed cache: saved $1 as $copy)" >&2
  start_servers
}
restore_seed() { # stage; fails when there is no copy to start from
  [ -n "$SEED_CACHE" ] && seed_exists "$1" || return 1
  local copy; copy=$(seed_copy "$1")
  stop_servers || true
  if [ "$BACKEND" = postgres ]; then
    psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db TEMPLATE $copy" >/dev/null
    cp "$SEED_DIR/$cache_key/seed.json" "$SEED_DIR/$cache_key/staff.token" "$work/"
  else
    rm -f "$work"/bench.db*
    cp "$copy"/bench.db* "$copy/seed.json" "$copy/staff.token" "$work/"
  fi
  echo "(seed cache: started from $copy)" >&2
  start_servers
}

echo "| backend | case | requests/s | p50 ms | p99 ms | of ceiling |"
echo "|---|---|---|---|---|---|"
for BACKEND in sqlite postgres; do
  [ "$BACKENDS" = both ] || [ "$BACKENDS" = "$BACKEND" ] || continue
  if [ "$BACKEND" = sqlite ]; then
    url="sqlite://$work/bench.db"
    server_url="$url"
  else
    db="mg_bench_$$"
    psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    url="${PG_URL%/*}/$db"
    server_url="$url${SERVER_URL_QUERY:+?$SERVER_URL_QUERY}"
  fi
  n=1; [ "$BACKEND" = postgres ] && n=$INSTANCES
  threads=$(( n > 1 ? 1 : 2 )) # two wrk threads in all, on the machine's two cores
  label=$BACKEND; [ "$n" -gt 1 ] && label="$BACKEND ×$n"
  cache_key="$BACKEND-${CUSTOMERS}c-${RESOURCES}r-${MONTHS}m-$(date +%Y%m)"
  if restore_seed policies; then
    staff=$(cat "$work/staff.token")
  else
    staff=$(METERGUARD_PASSWORD=bench DATABASE_URL="$url" $BIN create-staff-user --username bench-staff | tail -n1)
    echo "$staff" > "$work/staff.token"
    start_servers
    python3 bench/seed.py --base-url "http://127.0.0.1:$PORT" --staff-token "$staff" --customers "$CUSTOMERS" > "$work/seed.json"
    save_seed policies
  fi
  settle
  owner=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["owner_token"])' "$work/seed.json")
  one=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["policies"][0])' "$work/seed.json")
  python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["policies"]))' "$work/seed.json" > "$work/uuids.txt"
  python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["customer_urls"]))' "$work/seed.json" > "$work/scopes.txt"
  component=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["component"])' "$work/seed.json")
  body=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(json.dumps({"scope": s["customer_url"], "actions": "request_pausing", "component_limits_set": [{"component": s["component"], "limit": 5, "period": 2}]}))' "$work/seed.json")

  seeded_policies=$(sql "SELECT max(id) FROM policies")
  if [[ " $CASES " == *" policies "* ]]; then
    CEILING=""
    measure "ceiling: GET /health/" "/health/" "$staff"
    # The floor under any request that reads the database: one SELECT 1 and nothing else.
    measure "one query: GET /ready/ (SELECT 1)" "/ready/" "$staff"
    measure "list page_size=10, staff" "/api/marketplace-customer-component-usage-policies/?page_size=10" "$staff"
    measure "list page_size=10, owner" "/api/marketplace-customer-component-usage-policies/?page_size=10" "$owner"
    measure "retrieve" "/api/marketplace-customer-component-usage-policies/$one/" "$staff"
    # Every create of this case is for one customer, so each waits for the one before it to
    # commit (a policy write locks its customer: docs/evaluation.md); the next case spreads them.
    measure "create" "/" "$staff" MODE=create BODY="$body"
    measure "create, over 200 customers" "/" "$staff" MODE=create_spread SCOPES="$work/scopes.txt" COMPONENT="$component"
    measure "PATCH" "/" "$staff" MODE=patch UUIDS="$work/uuids.txt"
    echo "| $label | peak RSS of the server after the policy cases | $(peak_rss)MB | | | |"
    # The set_usage cases measure reports against the seeded policies (10 a customer), not against
    # the thousands the create cases piled onto a few customers.
    sql "DELETE FROM policies WHERE id > $seeded_policies" >/dev/null
  fi

  # set_usage against a realistic table: 1,000,000 component_usages rows (40,000 resources x 25
  # months) and their usage_totals. These bulk rows are inserted DIRECTLY with SQL into the
  # server's database (bench/seed_usage.py: recursive CTEs through Python's sqlite3, or
  # generate_series through psql), because 1M API calls would take far too long; only the
  # measured reports go through the API. wrk rotates over every (resource, month) pair of the
  # case's months as staff (staff may backfill past months), replacing amounts of 1-5 units: no
  # policy transitions.
  if [[ " $CASES " == *" set_usage "* ]]; then
    started=$(date +%s)
    if restore_seed usage; then
      :
    elif [ "$BACKEND" = sqlite ]; then
      python3 bench/seed_usage.py --backend sqlite --db "$work/bench.db" --resources "$RESOURCES" --months "$MONTHS"
      save_seed usage
    else
      python3 bench/seed_usage.py --backend postgres --resources "$RESOURCES" --months "$MONTHS" \
        | psql "$url" -q -v ON_ERROR_STOP=1 >/dev/null
      save_seed usage
  fi
  settle
  echo "(seeded $((RESOURCES * MONTHS)) usage rows with SQL in $(( $(date +%s) - started )) s)" >&2
  # PostgreSQL: what the reports write besides their rows. WAL bytes per report and the share of
  # HOT updates (no new index entries) do not depend on how busy the machine is.
  pg_counters() {
    psql "$url" -Atc "SELECT pg_current_wal_lsn() - '0/0', \
      (SELECT sum(n_tup_upd) || ' ' || sum(n_tup_hot_upd) FROM pg_stat_user_tables WHERE relname = 'component_usages')" \
      | tr '|' ' '
  }
  batch_sums() { # reports, batches, seconds in batches: summed over the instances, since they started
    for ((i = 0; i < n; i++)); do curl -s "http://127.0.0.1:$((PORT + i))/metrics"; done | awk '
      $1 == "meterguard_report_batch_size_sum" { r += $2 } $1 == "meterguard_report_batch_size_count" { c += $2 }
      $1 == "meterguard_report_batch_duration_seconds_sum" { t += $2 } END { print r + 0, c + 0, t + 0 }'
  }
  for months in $REPORT_MONTHS; do
    dates=$(python3 bench/report_dates.py "$months")
    code=$(curl -s -o "$work/set_usage.out" -w '%{http_code}' -H "Authorization: Token $staff" -H 'Content-Type: application/json' \
      -d "{\"resource\": \"$(printf '%08x%024x' 48651 1)\", \"date\": \"${dates%%,*}\", \"usages\": [{\"type\": \"cpu_hours\", \"amount\": \"1\"}]}" \
      "http://127.0.0.1:$PORT/api/marketplace-component-usages/set_usage/")
    [ "$code" = 201 ] || { echo "set_usage smoke request: HTTP $code $(cat "$work/set_usage.out")" >&2; exit 1; }
    # The ceiling again, right before: minutes have passed and other work on the machine may differ.
    CEILING=""
    measure "ceiling again: GET /health/" "/health/" "$staff"
    warm_up "/" "$staff" MODE=set_usage RESOURCES="$RESOURCES" DATES="$dates"
    [ "$BACKEND" = postgres ] && read -r wal0 upd0 hot0 <<< "$(pg_counters)"
    read -r r0 c0 t0 <<< "$(batch_sums)"
    what="reports to the current month"; [ "$months" = 1 ] || what="reports to all $months months (backfill)"
    WARMUP=0 measure "set_usage, staff, $((RESOURCES * MONTHS)) usage rows, $what" "/" "$staff" MODE=set_usage RESOURCES="$RESOURCES" DATES="$dates"
    if [ "$BACKEND" = postgres ]; then
      sleep 1 # the statistics collector reports table counters within about a second
      read -r wal1 upd1 hot1 <<< "$(pg_counters)"
      awk -v w="$((wal1 - wal0))" -v u="$((upd1 - upd0))" -v h="$((hot1 - hot0))" -v b="$label" \
        'BEGIN { if (u > 0) printf "| %s | set_usage: %.0f bytes of WAL per updated usage row, %.0f%% of the updates HOT | | | | |\n", b, w / u, 100 * h / u }'
    fi
    read -r r1 c1 t1 <<< "$(batch_sums)"
    awk -v r="$r0 $r1" -v c="$c0 $c1" -v t="$t0 $t1" -v b="$label" 'BEGIN { split(r, R); split(c, C); split(t, T)
      if (C[2] > C[1]) printf "| %s | set_usage write batches: %.1f reports, %.2f ms each on average | | | | |\n", b,
        (R[2] - R[1]) / (C[2] - C[1]), 1000 * (T[2] - T[1]) / (C[2] - C[1]) }'
  done
  echo "| $label | peak RSS of the server after set_usage | $(peak_rss)MB | | | |"
  fi
  stop_servers || true
  [ "$BACKEND" = postgres ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
done
