#!/usr/bin/env bash
# Makes sure Debian's chromium is installed (the storefront's browser tests drive it headless)
# and prints its path.
#
#   export CHROMIUM=$(scripts/ensure-chromium.sh)
set -euo pipefail

log() { echo "ensure-chromium: $*" >&2; }

if [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ]; then
  echo "$CHROMIUM"
  exit 0
fi
if ! command -v chromium >/dev/null 2>&1; then
  log "installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
fi
path=$(command -v chromium)
log "$("$path" --version 2>/dev/null || echo chromium) at $path"
echo "$path"
