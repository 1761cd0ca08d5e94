#!/usr/bin/env bash
# Installs what internal/vwocompat's Node comparison needs: Node.js and npm (Debian's packages,
# only when missing), then vwo-node-sdk pinned by package-lock.json with npm ci.
# Used by CI (make nodeclient) before `make sdkcompat`; TestCompareWithNodeSDK skips without
# node or node_modules.
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
