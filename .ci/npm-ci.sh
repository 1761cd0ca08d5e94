#!/usr/bin/env bash
# Installs Node.js and npm (Debian's packages, only when missing), then the packages pinned
# by package-lock.json with npm ci in each directory given: the real Node client of the e2e
# tests (testbed/e2e/nodeclient), the Optimizely JavaScript SDK (internal/jscompat/node) and
# the VWO Node SDK (internal/vwocompat/node). `make nodeclient` runs it; CI does.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
elif ! command -v npm >/dev/null; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm
fi
node --version
npm --version
for dir in "$@"; do
	(cd "$dir" && npm ci --no-audit --no-fund)
done
