#!/usr/bin/env bash
# Runs every check meterguard has, on a fresh machine: formatting, lints, unit tests, the API
# tests on SQLite and PostgreSQL, and against a running server on both backends the real Waldur
# Python client and schemathesis. Installs what it needs (PostgreSQL must be reachable, see PG_URL).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="${METERGUARD_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export METERGUARD_TEST_PG_URL="$PG_URL"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n== %s\n' "$*"; }

step "toolchain"
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first"; exit 1; }
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy
cargo --version

step "PostgreSQL at $PG_URL"
if ! pg_isready -d "$PG_URL" -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -d "$PG_URL" -q 2>/dev/null && break; sleep 1; done
fi
pg_isready -d "$PG_URL"
# Databases left by earlier runs (each API test makes its own). One that has a connection belongs
# to a run still going (another checkout's tests on the same PostgreSQL) and is left alone.
psql "$PG_URL" -Atc "SELECT d.datname FROM pg_database d WHERE (d.datname LIKE 'mg_test_%' OR d.datname LIKE 'mg_client_%')
    AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)" \
  | while read -r db; do psql "$PG_URL" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true; done

step "format and lints"
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings

step "Chromium and chromedriver for the dashboard's browser tests"
# Debian's packages; apt runs only when one is missing. tests/browser.rs fails when they cannot
# be found, it never skips.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium chromium-driver
fi
chromium --version && chromedriver --version

step "unit, API and browser tests (SQLite and PostgreSQL)"
cargo test --locked --no-fail-fast

step "from outside: the real client (waldur-api-client) and schemathesis"
scripts/live-checks.sh "$PG_URL"
