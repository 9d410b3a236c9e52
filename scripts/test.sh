#!/usr/bin/env bash
# Every test: the whole workspace on the embedded store (the storefront's browser tests among
# them), then the authorization matrix and the
# end-to-end order tests with every user token issued by a real OpenID Connect provider, then the
# same API tests (and the multi-replica tests) against PostgreSQL, which
# scripts/ensure-postgres.sh provides.
#
#   scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# The OpenID Connect provider of the identity tests runs on Node.js (>= 20) from the npm registry.
scripts/ensure-node.sh
echo "==> npm ci (tests/oidc-provider, tests/browser)"
(cd tests/oidc-provider && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
# The storefront's browser tests drive Debian's chromium headless.
CHROMIUM=$(scripts/ensure-chromium.sh)
export CHROMIUM

echo "==> cargo test --workspace (embedded store)"
cargo test --workspace

# TEST_IDENTITY=oidc: each test cluster starts the provider, both services accept its tokens,
# and every student and instructor token comes from its authorization-code flow with PKCE.
echo "==> authorization matrix, orders and waitlist with tokens from the OpenID Connect provider"
TEST_IDENTITY=oidc cargo test -p e2e-tests --test e2e -- security:: orders:: waitlist::

TEST_DATABASE_URL=$(scripts/ensure-postgres.sh)
export TEST_DATABASE_URL
echo "==> PostgreSQL store: $TEST_DATABASE_URL"
# TEST_BACKEND=postgres makes every test app keep its state in a fresh schema of that database;
# without TEST_DATABASE_URL those tests fail rather than skip.
TEST_BACKEND=postgres cargo test -p course-service --test api
# order-service's saga tests (a scripted course-service) with the orders in PostgreSQL.
TEST_BACKEND=postgres cargo test -p order-service --test api
# The end-to-end order, load, fault and payment tests, both services on PostgreSQL (the other e2e tests run
# service processes on the embedded store and were run above).
TEST_BACKEND=postgres cargo test -p e2e-tests --test e2e -- orders:: load:: faults:: payments:: payments_crash::
# Two replicas of each service on one database: the flash sale, a replica killed mid-sale, and a
# schema newer than the binary.
cargo test -p e2e-tests --features postgres --test replicas
