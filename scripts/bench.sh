#!/usr/bin/env bash
# Runs every benchmark scenario three times against the release binaries and prints the median of
# each figure. Results (JSON) go to target/bench/. Loopback only; every run is bounded in time.
#
#   scripts/bench.sh            # all scenarios
#   scripts/bench.sh reserve    # the scenarios whose name starts with "reserve"
#   scripts/bench.sh ratio      # the product against the bare benchmark reference
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins -q
out=target/bench
mkdir -p "$out"
only="${1:-}"

# One run: the name (of the JSON file, with the run number), the run number, loadgen's arguments.
run_once() {
  local name=$1 i=$2; shift 2
  echo "== $name (run $i)"
  ./target/release/loadgen --json "$out/$name-$i.json" "$@" | grep -v '^reproduce:' || true
}

run() {
  local name=$1; shift
  [[ -n "$only" && "$name" != "$only"* ]] && return 0
  for i in 1 2 3; do
    run_once "$name" "$i" "$@"
  done
}

# The same scenario against the bare benchmark reference (`loadgen reference-server`, with
# --reference: not the product) and against the product in memory, interleaved (reference 1,
# product 1, reference 2, ...) so that both see the same machine; `ratio-ref-NAME-i.json` and
# `ratio-NAME-i.json`. The summary prints the median of the three ratios product / reference.
ratio() {
  local name=$1; shift
  [[ -n "$only" && "ratio-$name" != "$only"* ]] && return 0
  for i in 1 2 3; do
    run_once "ratio-ref-$name" "$i" "$@" --reference
    run_once "ratio-$name" "$i" "$@" --storage memory
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
# The product against a bare handler doing the same work: raw holds on one hot course, and
# end-to-end orders (three hops: loadgen -> orders handler -> course handler).
#   scripts/bench.sh ratio
ratio hold-64    reserve -c 64 -d 10 --hold-only
ratio orders-64  orders -c 64 -d 10
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
# The ratio group: for each pair of interleaved runs (ratio-NAME-i, ratio-ref-NAME-i) the ratio
# product / reference of ok/s and of p99, and the median of those ratios over the pairs.
python3 - "$out" <<'PY'
import json, os, statistics, sys
from collections import defaultdict
folder = sys.argv[1]
files = {}
for name in os.listdir(folder):
    if name.startswith("ratio-") and name.endswith(".json"):
        stem, run = name[:-len(".json")].rsplit("-", 1)
        files[(stem, run)] = json.load(open(os.path.join(folder, name)))
pairs = defaultdict(list)
for (stem, run), ref in sorted(files.items()):
    product = files.get(("ratio-" + stem[len("ratio-ref-"):], run)) if stem.startswith("ratio-ref-") else None
    for r in ref["ops"] if product else []:
        pairs[(stem[len("ratio-ref-"):], r["op"])] += [(r, p) for p in product["ops"] if p["op"] == r["op"]]
if pairs:
    div = lambda a, b: a / b if b else float("nan")
    print("\n| product / bare reference | op | reference ok/s | product ok/s | ok/s ratio | reference p99 ms | product p99 ms | p99 ratio | pairs |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (pair, op), runs in sorted(pairs.items()):
        med = lambda side, k: statistics.median(r[side][k] for r in runs)
        rate = statistics.median(div(p["ok_rate_per_sec"], r["ok_rate_per_sec"]) for r, p in runs)
        p99 = statistics.median(div(p["p99_ms"], r["p99_ms"]) for r, p in runs)
        print(f"| {pair} | {op} | {med(0, 'ok_rate_per_sec'):,.0f} | {med(1, 'ok_rate_per_sec'):,.0f} | {rate:.2f} | "
              f"{med(0, 'p99_ms'):.3f} | {med(1, 'p99_ms'):.3f} | {p99:.2f} | {len(runs)} |")
PY
