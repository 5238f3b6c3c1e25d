#!/usr/bin/env bash
# Checks a running meterguard from outside, once on SQLite and once on PostgreSQL: the real Python
# client (waldur-api-client from PyPI) drives it; ci/upstream_conformance.py checks an answer of every
# operation against upstream Waldur's own OpenAPI schema (UPSTREAM_OPENAPI, by default the copy in
# ci/upstream/); then schemathesis (PyPI) fuzzes every operation of its
# /api/schema/ and must find no server error, no answer its schema does not document (status, body,
# content type). Each step prints how long it took. Uses the debug binary the test run built.
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
# The real Waldur Site Agent, driven by ci/site_agent_test.py with its own mock backend.
AGENT_VENV=target/agent-venv
if ! "$AGENT_VENV/bin/python" -c 'import importlib.metadata as m; assert m.version("waldur-site-agent") == "1.0.7"' 2>/dev/null; then
  python3 -m venv "$AGENT_VENV"
  "$AGENT_VENV/bin/pip" install --quiet --disable-pip-version-check "waldur-site-agent==1.0.7"
fi
FUZZ_VENV=target/fuzz-venv
if [ ! -x "$FUZZ_VENV/bin/st" ]; then
  python3 -m venv "$FUZZ_VENV"
  "$FUZZ_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi
if ! "$FUZZ_VENV/bin/python" -c 'import importlib.metadata as m; assert m.version("jsonschema") == "4.26.0"' 2>/dev/null; then
  "$FUZZ_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "jsonschema==4.26.0"
fi
CHECKS=not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance

# Runs a step and prints how long it took. With a log name its output goes to target/<log>, shown
# whole when the step fails and otherwise only its lines matching <summary>; with "-" it is shown
# as it comes.
timed() {
  local title="$1" log="$2" summary="$3" started=$SECONDS status=0
  shift 3
  if [ "$log" = - ]; then
    echo "-- $title"
    "$@" || status=$?
  else
    "$@" > "target/$log" 2>&1 || status=$?
  fi
  echo "-- $title: $((SECONDS - started)) s$([ $status -eq 0 ] || echo ", FAILED")"
  if [ "$log" != - ]; then
    if [ $status -eq 0 ]; then grep -E "$summary" "target/$log" || true; else cat "target/$log"; fi
  fi
  return $status
}

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
  timed "real client on $name" - "" \
    "$VENV/bin/python" ci/real_client_test.py --base-url "http://127.0.0.1:$port" --staff-token "$token" || status=1
  timed "site agent on $name" "$name-site-agent.log" '(PASS|FAIL) |passed' \
    "$AGENT_VENV/bin/python" ci/site_agent_test.py --base-url "http://127.0.0.1:$port" --staff-token "$token" || status=1
  timed "upstream's schema on $name" "$name-conformance.log" 'operations exercised' \
    "$FUZZ_VENV/bin/python" ci/upstream_conformance.py --base-url "http://127.0.0.1:$port" --staff-token "$token" \
    || status=1
  # One worker: Python 3.11's ast.parse is not thread-safe ("AST constructor recursion depth
  # mismatch" inside Hypothesis), which failed one run in a few with two.
  timed "schemathesis on $name" "$name-fuzz.log" '^ *[0-9]+ generated' \
    "$FUZZ_VENV/bin/python" ci/schema_fuzz.py --base-url "http://127.0.0.1:$port" --staff-token "$token" \
    --report-dir "target/fuzz/$name" --checks "$CHECKS" -- --continue-on-failure --workers 1 || status=1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  return $status
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
client_db="mg_client_$$"
psql "$PG_URL" -qc "CREATE DATABASE $client_db" >/dev/null
failed=0
# LIVE_CHECK_PORTS="<sqlite port> <postgres port>" when the default ones are taken.
read -r sqlite_port postgres_port <<< "${LIVE_CHECK_PORTS:-18731 18732}"
run_against sqlite "sqlite://$tmp/client.db" "$sqlite_port" || failed=1
run_against postgres "${PG_URL%/*}/$client_db" "$postgres_port" || failed=1
psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $client_db WITH (FORCE)" >/dev/null
exit $failed
