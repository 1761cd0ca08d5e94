#!/usr/bin/env bash
# Installs what testbed/e2e/nodeclient needs: Node.js and npm (Debian's packages, only when
# missing), then the client's pinned packages from package-lock.json with npm ci.
# Used by CI (make nodeclient) before `make e2e`; TestRealNodeClient skips without node or node_modules.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
elif ! command -v npm >/dev/null; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm
fi
node --version
npm --version
npm ci --no-audit --no-fund
