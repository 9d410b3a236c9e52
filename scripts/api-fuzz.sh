#!/usr/bin/env bash
# Property-based API testing with Schemathesis: both release binaries are started on 127.0.0.1
# and every operation of their /openapi.json documents is called with generated requests, valid
# and invalid, under each role. Fails on any 5xx, any response that does not match the
# document, any status the document does not list, any valid request refused and any invalid
# request accepted.
#
#   scripts/api-fuzz.sh               # 30 examples per operation and phase (about a minute)
#   API_FUZZ_EXAMPLES=300 API_FUZZ_SEED=7 scripts/api-fuzz.sh   # more, and random with a seed
#
# Needs `st` (pip install schemathesis); installs it into target/schemathesis when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

examples="${API_FUZZ_EXAMPLES:-30}"
generation=(--generation-deterministic)
[ -n "${API_FUZZ_SEED:-}" ] && generation=(--seed "$API_FUZZ_SEED")
course_port="${API_FUZZ_COURSE_PORT:-5931}"
order_port="${API_FUZZ_ORDER_PORT:-5932}"
schemathesis_version="4.32.5"

st=$(command -v st || true)
if [ -z "$st" ]; then
  st=target/schemathesis/bin/st
  if [ ! -x "$st" ]; then
    echo "installing schemathesis $schemathesis_version into target/schemathesis"
    if ! python3 -m venv target/schemathesis 2>/dev/null; then
      # Debian keeps venv in its own package.
      rm -rf target/schemathesis
      apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv target/schemathesis
    fi
    target/schemathesis/bin/pip install --quiet "schemathesis==$schemathesis_version"
  fi
fi

[ -x target/release/course-service ] && [ -x target/release/order-service ] \
  || cargo build --release --bins

AUTH_JWT_SECRET="api-fuzz-$(date +%s%N)-0123456789abcdefghijklmnopqrstuvwxyz"
export AUTH_JWT_SECRET STORAGE=memory RATE_LIMIT_RPS=0 LOG_FORMAT=json RUST_LOG=warn
logs=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$logs"; }
trap cleanup EXIT

PORT="$course_port" HOST=127.0.0.1 target/release/course-service >"$logs/course.log" 2>&1 &
pids+=($!)
PORT="$order_port" HOST=127.0.0.1 COURSE_SERVICE_URL="http://127.0.0.1:$course_port" \
  target/release/order-service >"$logs/order.log" 2>&1 &
pids+=($!)

for port in "$course_port" "$order_port"; do
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null && break
    sleep 0.1
  done
  curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null \
    || { echo "service on port $port did not become ready"; cat "$logs"/*.log; exit 1; }
done

token() { target/release/course-service token --role "$1" --sub "fuzz-$1" --ttl-secs 3600; }

failed=0
# Long polls of the event feed may wait up to 30 s (wait_ms), hence the request timeout.
run() {
  local port=$1 role=$2
  echo
  echo "==> schemathesis: port $port as $role, $examples examples per operation"
  "$st" --config-file scripts/schemathesis.toml run "http://127.0.0.1:$port/openapi.json" \
    --header "Authorization: Bearer $(token "$role")" \
    --checks all --max-examples "$examples" "${generation[@]}" \
    --request-timeout 35 --no-color || failed=1
}

run "$course_port" instructor
run "$course_port" service
run "$course_port" student
run "$order_port" student

if [ "$failed" != 0 ]; then
  echo "schemathesis found failures; service logs:"
  tail -n 50 "$logs"/*.log
  exit 1
fi
echo "schemathesis: no failures"
