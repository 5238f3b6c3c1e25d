#!/usr/bin/env bash
# Which PostgreSQL settings matter for meterguard: bench/run.sh postgres once per variant of the
# settings, on a PostgreSQL 15 cluster of this script's own (Debian's initdb and pg_ctl, data under
# PGSET_DIR, default /var/tmp/meterguard-pg-settings, on 127.0.0.1:PGSET_PORT, default 5499, trust
# auth, run as the postgres OS user when started as root). The machine's shared cluster on port
# 5432 is never stopped or reconfigured: only its settings are read (SHOW), for the record.
# Usage: bench/pg_settings.sh; VARIANTS (default "stock shared_buffers=1GB shared_buffers=4GB
# work_mem=64MB autovacuum_hot wal_compression=on") lists the variants, each a comma-separated list
# of items: `stock` (initdb's defaults, nothing added), `name=value` (a server setting, written to
# postgresql.auto.conf before the restart), `autovacuum_hot` (per-table storage parameters
# AUTOVACUUM_HOT, default "autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor =
# 0.02", on the hot tables of the bench's database, set through bench/run.sh's BENCH_DB_SETUP_SQL
# after each stage is seeded or restored), e.g. VARIANTS="stock autovacuum=off
# shared_buffers=1GB,work_mem=64MB". ROUNDS (default "1 2") runs every variant once a round, in
# turn, so that what the machine does meanwhile falls on all alike. Results land in OUT (default
# /tmp/pg-settings) as <round>-<variant>.md, their first line the settings the variant ran with,
# and the clusters' settings side by side in clusters.md. CUSTOMERS, RESOURCES, MONTHS, CASES,
# DURATION, INSTANCES, CONNS and the rest of bench/run.sh's settings pass through.
# The cluster's seeded databases (bench/run.sh's SEED_CACHE, always on here: the mg_seed_* template
# databases, their files under PGSET_DIR/seed, apart from those bench/run.sh keeps for the shared
# cluster) survive between invocations, since at ten times the data seeding takes minutes a
# variant; PGSET_FRESH=1 wipes them and the cluster first. The cluster is stopped on exit.
# Why a cluster of its own: settings such as shared_buffers need a restart, and the shared cluster
# serves other work on the machine. Its settings differ from initdb's, which `stock` keeps: on the
# bench machine autovacuum is off there (conf.d/90-ci.conf) and ssl on; clusters.md lists them.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${PGSET_DIR:-/var/tmp/meterguard-pg-settings}"
DATA="$DIR/data"
PGSET_PORT="${PGSET_PORT:-5499}"
VARIANTS="${VARIANTS:-stock shared_buffers=1GB shared_buffers=4GB work_mem=64MB autovacuum_hot wal_compression=on}"
ROUNDS="${ROUNDS:-1 2}"
OUT="${OUT:-/tmp/pg-settings}"
AUTOVACUUM_HOT="${AUTOVACUUM_HOT:-autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02}"
HOT_TABLES="component_usages usage_totals usage_report_log policies"
SHARED_URL="postgres://postgres@127.0.0.1:5432/postgres" # read only: its settings, for the record
URL="postgres://postgres@127.0.0.1:$PGSET_PORT/postgres"
PGBIN=/usr/lib/postgresql/15/bin
# Printed for every variant, with the variant's own settings.
SHOWN="shared_buffers work_mem max_wal_size checkpoint_timeout synchronous_commit autovacuum wal_compression"

[ "$PGSET_PORT" != 5432 ] || { echo "PGSET_PORT 5432 is the shared cluster's" >&2; exit 1; }
case "$(realpath -m "$DIR")" in
  /var/lib/postgresql* | /etc/postgresql* | / | *" "*) echo "PGSET_DIR $DIR: pick a directory of its own" >&2; exit 1 ;;
esac

# initdb and the server refuse to run as root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then (cd "$DIR" && runuser -u postgres -- "$@"); else (cd "$DIR" && "$@"); fi
}
running() { as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }
start_cluster() {
  as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$DIR/postgresql.log" -w -t 600 \
    -o "-p $PGSET_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DIR" start >/dev/null \
    || { echo "the cluster did not start; the end of $DIR/postgresql.log:" >&2; tail -n 15 "$DIR/postgresql.log" >&2; return 1; }
}
stop_cluster() { ! running || as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 600 stop >/dev/null; }
psql_own() { psql "$URL" -X -q -v ON_ERROR_STOP=1 "$@"; }

# A variant's items: server settings (name=value lines for postgresql.auto.conf) and the SQL that
# bench/run.sh runs against its database after each stage is seeded or restored.
parse_variant() { # variant; sets gucs (array) and setup_sql
  local item items t
  gucs=(); setup_sql=""
  IFS=, read -ra items <<< "$1"
  for item in "${items[@]}"; do
    case "$item" in
      stock) ;;
      autovacuum_hot) for t in $HOT_TABLES; do setup_sql+="ALTER TABLE $t SET ($AUTOVACUUM_HOT); "; done ;;
      [a-z]*=?*) [[ "${item%%=*}" =~ ^[a-z_.]+$ ]] || { echo "variant $1: bad setting $item" >&2; exit 1; }
        gucs+=("$item") ;;
      *) echo "variant $1: unknown item $item (stock, autovacuum_hot or name=value)" >&2; exit 1 ;;
    esac
  done
}
for variant in $VARIANTS; do parse_variant "$variant"; done # fail before anything starts

write_auto_conf() { # name=value...: what ALTER SYSTEM would write, read at the next start
  local g v
  { echo "# Do not edit this file manually!"
    echo "# It will be overwritten by the ALTER SYSTEM command."
    echo "# (Written by bench/pg_settings.sh.)"
    for g in "$@"; do v="${g#*=}"; echo "${g%%=*} = '${v//\'/\'\'}'"; done
  } | as_pg tee "$DATA/postgresql.auto.conf" >/dev/null
}

# The seed templates are copied as they are, storage parameters included: a stage that
# bench/run.sh seeded during an autovacuum_hot run was saved after the parameters were set on the
# stage before it. Reset them before every variant, so that none starts with another's.
clean_cluster() {
  local db
  psql_own <<< "SELECT format('DROP DATABASE %I WITH (FORCE)', datname) FROM pg_database WHERE datname LIKE 'mg\_bench\_%' \gexec"
  for db in $(psql_own -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'mg\_seed\_%'"); do
    psql "${URL%/*}/$db" -X -q -v ON_ERROR_STOP=1 <<< "SELECT format('ALTER TABLE %I RESET (%s)', c.relname,
        string_agg(split_part(o, '=', 1), ', ')) FROM pg_class c, unnest(c.reloptions) o
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND o LIKE 'autovacuum%' GROUP BY c.relname \gexec"
  done
}

settings_of() { # url: name|value|set (not built in) of every setting, by name; nothing when unreachable
  psql "$1" -X -AtF'|' -c "SELECT name, current_setting(name), source NOT IN ('default', 'override', 'client', 'session')
    FROM pg_settings ORDER BY name" 2>/dev/null || true
}

mkdir -p "$DIR" "$OUT"
[ "$(id -u)" != 0 ] || chown postgres:postgres "$DIR"
trap 'exit 130' INT; trap 'exit 143' TERM
trap 'stop_cluster || true' EXIT
if [ -n "${PGSET_FRESH:-}" ]; then
  stop_cluster
  rm -rf "$DATA" "$DIR/seed"
fi
stop_cluster # a cluster left running by an earlier invocation that was killed
if [ ! -f "$DATA/PG_VERSION" ]; then
  # C.UTF-8 as the shared cluster; initdb would pick SQL_ASCII from an empty locale.
  as_pg "$PGBIN/initdb" -D "$DATA" --auth=trust --username=postgres --encoding=UTF8 --locale=C.UTF-8 >/dev/null
fi

# For the record: the shared cluster's settings beside initdb's, every one that either sets.
write_auto_conf
start_cluster
clean_cluster
for variant in $VARIANTS; do # a misspelt setting's name fails now, not hours later
  parse_variant "$variant"
  for g in ${gucs[@]+"${gucs[@]}"}; do
    [ "$(psql_own -Atc "SELECT count(*) FROM pg_settings WHERE name = '${g%%=*}'")" = 1 ] \
      || { echo "variant $variant: PostgreSQL has no setting ${g%%=*}" >&2; exit 1; }
  done
done
{
  echo "Settings of the shared cluster (127.0.0.1:5432) and of this script's cluster at stock"
  echo "(initdb's defaults; 127.0.0.1:$PGSET_PORT, $(psql_own -Atc 'SHOW server_version')): the ones either sets, and those"
  echo "printed for every variant. Paths are left out."
  echo
  echo "| setting | 5432 (shared) | $PGSET_PORT (own, stock) | |"
  echo "|---|---|---|---|"
  awk -F'|' -v shown=" $SHOWN " '
    /^(config_file|data_directory|hba_file|ident_file|external_pid_file|unix_socket_directories|ssl_cert_file|ssl_key_file)\|/ { next }
    FILENAME == ARGV[1] { shared[$1] = $2; if ($3 == "t") pick[$1] = 1; next }
    { own[$1] = $2; if ($3 == "t" || index(shown, " " $1 " ")) pick[$1] = 1 }
    END { if (length(shared) == 0) print "| (the shared cluster did not answer) | | | |"
      for (n in pick) printf "| %s | %s | %s | %s |\n", n, (n in shared ? shared[n] : "?"), own[n],
        (n in shared && shared[n] != own[n] ? "differs" : "") }' <(settings_of "$SHARED_URL") <(settings_of "$URL") | sort
} | tee "$OUT/clusters.md"
echo

for round in $ROUNDS; do
  for variant in $VARIANTS; do
    parse_variant "$variant"
    stop_cluster
    write_auto_conf ${gucs[@]+"${gucs[@]}"}
    start_cluster
    # A setting the server could not apply is logged, not fatal; pg_file_settings has it.
    bad=$(psql_own -Atc "SELECT name || ' = ' || setting || ': ' || coalesce(error, 'not applied') FROM pg_file_settings
      WHERE sourcefile LIKE '%postgresql.auto.conf' AND (NOT applied OR error IS NOT NULL)")
    [ -z "$bad" ] || { echo "variant $variant: $bad" >&2; exit 1; }
    clean_cluster
    names=$SHOWN; for g in ${gucs[@]+"${gucs[@]}"}; do [[ " $names " == *" ${g%%=*} "* ]] || names+=" ${g%%=*}"; done
    applied=""; for name in $names; do applied+=" $name=$(psql_own -Atc "SHOW $name")"; done
    note="Variant $variant, round $round, PostgreSQL $(psql_own -Atc 'SHOW server_version') on 127.0.0.1:$PGSET_PORT (initdb's defaults plus the variant):${applied}"
    [ -z "$setup_sql" ] || note+="; per table on ${HOT_TABLES// /, }: $AUTOVACUUM_HOT"
    echo "== $(date +%T) $note"
    file="$OUT/$round-${variant//\//_}"
    { echo "$note"; echo; } > "$file.md"
    METERGUARD_TEST_PG_URL="$URL" SEED_CACHE=1 SEED_DIR="$DIR/seed" BENCH_DB_SETUP_SQL="$setup_sql" \
      bench/run.sh postgres >> "$file.md" 2> "$file.err" \
      || { echo "bench/run.sh failed for $variant; the end of $file.err:" >&2; tail -n 15 "$file.err" >&2; exit 1; }
    tail -n +3 "$file.md"
    echo "done: round $round, $variant, $(date +%T) ($file.md)"
    echo
  done
done
clean_cluster
