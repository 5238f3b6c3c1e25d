#!/usr/bin/env bash
# Checks a running meterguard from outside, once on SQLite and once on PostgreSQL: the real Python
# client (waldur-api-client from PyPI) drives it, then schemathesis (PyPI) fuzzes every operation of
# its /api/schema/ and must find no server error. Uses the debug binary the test run built.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL="$1"
BIN=target/debug/meterguard
[ -x "$BIN" ] || cargo build --locked

VENV=target/client-venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "waldur-api-client==8.1.3"
fi
FUZZ_VENV=target/fuzz-venv
if [ ! -x "$FUZZ_VENV/bin/st" ]; then
  python3 -m venv "$FUZZ_VENV"
  "$FUZZ_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi

run_against() {
  local name="$1" url="$2" port="$3"
  local pid
  METERGUARD_PASSWORD=ci-pass DATABASE_URL="$url" "$BIN" create-staff-user --username ci-staff \
    > "target/$name-staff.txt"
  local token
  token=$(tail -n1 "target/$name-staff.txt")
  DATABASE_URL="$url" "$BIN" serve --listen "127.0.0.1:$port" > "target/$name-server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/health/" >/dev/null && break; sleep 0.2; done
  local status=0
  echo "-- real client on $name"
  "$VENV/bin/python" ci/real_client_test.py --base-url "http://127.0.0.1:$port" --staff-token "$token" || status=$?
  echo "-- schemathesis on $name"
  "$FUZZ_VENV/bin/python" ci/schema_fuzz.py --base-url "http://127.0.0.1:$port" --staff-token "$token" \
    --report-dir "target/fuzz/$name" > "target/$name-fuzz.log" 2>&1 || { status=1; cat "target/$name-fuzz.log"; }
  grep -E '^ *[0-9]+ generated' "target/$name-fuzz.log" || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  return $status
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
client_db="mg_client_$$"
psql "$PG_URL" -qc "CREATE DATABASE $client_db" >/dev/null
failed=0
run_against sqlite "sqlite://$tmp/client.db" 18731 || failed=1
run_against postgres "${PG_URL%/*}/$client_db" 18732 || failed=1
psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $client_db WITH (FORCE)" >/dev/null
exit $failed
