#!/usr/bin/env bash
# Alternated pairs: bench/run.sh from two checkouts of meterguard (say the previous main and a
# branch), one backend at a time, in the order base, branch, base, branch..., so that what the
# machine does meanwhile falls on both sides alike. Each checkout builds its own release binary
# in its own target directory. Results land in OUT (default /tmp/pairs) as
# <round>-<backend>-<base|branch>.md; compare the branch's figures with the base of its round.
# Usage: bench/pairs.sh BASE_CHECKOUT BRANCH_CHECKOUT; ROUNDS (default "1 2"), BACKENDS (default
# "sqlite postgres"), DURATION and the other settings of bench/run.sh pass through.
set -euo pipefail
base="$(cd "$1" && pwd)"; branch="$(cd "$2" && pwd)"
out="${OUT:-/tmp/pairs}"; mkdir -p "$out"
for round in ${ROUNDS:-1 2}; do
  for backend in ${BACKENDS:-sqlite postgres}; do
    for side in base branch; do
      dir=$base; [ "$side" = branch ] && dir=$branch
      (cd "$dir" && CARGO_TARGET_DIR="$dir/target" bench/run.sh "$backend" \
        > "$out/$round-$backend-$side.md" 2> "$out/$round-$backend-$side.err")
      echo "done: round $round, $backend, $side, $(date +%T)"
    done
  done
done
