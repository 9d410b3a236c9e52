#!/usr/bin/env bash
# Makes sure Node.js (20 or newer) and npm are installed, installing Debian's packages when they
# are missing. The identity tests run their OpenID Connect provider on it.
#
#   scripts/ensure-node.sh
set -euo pipefail

log() { echo "ensure-node: $*" >&2; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "installing Node.js and npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq nodejs npm >&2
fi

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  log "Node.js $(node --version) is too old: the tests' OpenID Connect provider needs 20 or newer"
  exit 1
fi
log "Node.js $(node --version), npm $(npm --version)"
