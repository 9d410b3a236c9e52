#!/usr/bin/env bash
# Makes sure a PostgreSQL server is running on 127.0.0.1:5432 (installing Debian's package and
# starting a cluster when the machine has none), creates an empty database for the tests, and
# prints its URL. With TEST_DATABASE_URL already set, prints that and does nothing else.
#
#   export TEST_DATABASE_URL=$(scripts/ensure-postgres.sh)
set -euo pipefail

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  echo "$TEST_DATABASE_URL"
  exit 0
fi

database="${TEST_DATABASE_NAME:-course_platform_test}"
log() { echo "ensure-postgres: $*" >&2; }

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  log "installing PostgreSQL"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi

ready() { pg_isready -h 127.0.0.1 -p 5432 -q; }
if ! ready; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  log "starting the PostgreSQL $version cluster"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
  for _ in $(seq 60); do ready && break; sleep 0.5; done
  ready || { log "PostgreSQL did not start"; exit 1; }
fi

# Trust authentication (common on CI machines), else a password set over the local socket.
url="postgres://postgres@127.0.0.1:5432"
if ! psql "$url/postgres" -Atqc 'SELECT 1' >/dev/null 2>&1; then
  runuser -u postgres -- psql -qc "ALTER USER postgres PASSWORD 'postgres'" >&2
  url="postgres://postgres:postgres@127.0.0.1:5432"
fi
export PGOPTIONS="--client-min-messages=warning"
psql "$url/postgres" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >&2
psql "$url/postgres" -qc "CREATE DATABASE $database" >&2
echo "$url/$database"
