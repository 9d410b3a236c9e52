#!/usr/bin/env bash
# Runs every benchmark scenario three times against the release binaries and prints the median of
# each figure. Results (JSON) go to target/bench/. Loopback only; every run is bounded in time.
#
#   scripts/bench.sh            # all scenarios
#   scripts/bench.sh reserve    # the scenarios whose name starts with "reserve"
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins -q
out=target/bench
mkdir -p "$out"
only="${1:-}"

run() {
  local name=$1; shift
  [[ -n "$only" && "$name" != "$only"* ]] && return 0
  for i in 1 2 3; do
    echo "== $name (run $i)"
    ./target/release/loadgen --json "$out/$name-$i.json" "$@" | grep -v '^reproduce:' || true
  done
}

run reserve-hot-64       reserve -c 64 -d 10 --storage memory
run reserve-hot-hold-64  reserve -c 64 -d 10 --hold-only --storage memory
run reserve-many-64      reserve -c 64 -d 10 --courses 100 --storage memory
run orders-64            orders -c 64 -d 10 --storage memory
run orders-1             orders -c 1 -d 10 --storage memory
run checkout-64          checkout -c 64 -d 10 --storage memory
run checkout-1           checkout -c 1 -d 10 --storage memory
run flash-sale           flash-sale --seats 100 --students 1000 -c 64 --storage memory
run durable-reserve-hot-hold-64  reserve -c 64 -d 10 --hold-only --storage embedded
run durable-orders-64            orders -c 64 -d 10 --storage embedded
run durable-orders-1             orders -c 1 -d 10 --storage embedded
run durable-checkout-64          checkout -c 64 -d 10 --storage embedded
run durable-checkout-1           checkout -c 1 -d 10 --storage embedded
run expiry-storm         expiry-storm --holds 1000000 -c 64 -d 5
# The event feed on the hot path: raw holds with no reader (the reference), one and four readers
# following the feed; each reader's events/s, and a reader catching up on the whole feed after.
#   scripts/bench.sh feed
run feed-0-hold-64           reserve -c 64 -d 10 --hold-only --storage memory
run feed-1-hold-64           reserve -c 64 -d 10 --hold-only --storage memory --feed-readers 1
run feed-4-hold-64           reserve -c 64 -d 10 --hold-only --storage memory --feed-readers 4
run feed-durable-0-hold-64   reserve -c 64 -d 10 --hold-only --storage embedded
run feed-durable-1-hold-64   reserve -c 64 -d 10 --hold-only --storage embedded --feed-readers 1
# Promotion: 100,000 holds lapse with 100,000 students waiting; time until every seat is offered.
run feed-waitlist-storm      expiry-storm --holds 100000 --waiting 100000 -c 64 -d 5
# PostgreSQL, one replica of each service and two (a fresh schema per run):
#   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/bench.sh pg
if [[ -n "${BENCH_DATABASE_URL:-}" ]]; then
  pg=(--database-url "$BENCH_DATABASE_URL")
  run pg-reserve-hot-hold-64   reserve -c 64 -d 10 --hold-only "${pg[@]}"
  run pg-reserve-hot-64        reserve -c 64 -d 10 "${pg[@]}"
  run pg-reserve-many-64       reserve -c 64 -d 10 --courses 100 "${pg[@]}"
  run pg-orders-64             orders -c 64 -d 10 "${pg[@]}"
  run pg-orders-1              orders -c 1 -d 10 "${pg[@]}"
  run pg-checkout-64           checkout -c 64 -d 10 "${pg[@]}"
  run pg-checkout-1            checkout -c 1 -d 10 "${pg[@]}"
  run pg-flash-sale            flash-sale --seats 100 --students 1000 -c 64 "${pg[@]}"
  run pg-feed-0-hold-64        reserve -c 64 -d 10 --hold-only "${pg[@]}"
  run pg-feed-1-hold-64        reserve -c 64 -d 10 --hold-only --feed-readers 1 "${pg[@]}"
  run pg2-reserve-hot-hold-64  reserve -c 64 -d 10 --hold-only --replicas 2 "${pg[@]}"
  run pg2-reserve-many-64      reserve -c 64 -d 10 --courses 100 --replicas 2 "${pg[@]}"
  run pg2-orders-64            orders -c 64 -d 10 --replicas 2 "${pg[@]}"
else
  echo "== PostgreSQL scenarios skipped: set BENCH_DATABASE_URL to run them"
fi
python3 scripts/bench_summary.py "$out"
