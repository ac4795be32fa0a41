#!/usr/bin/env bash
# Installs everything pvmfw-mmu needs on Debian 12 + Node 20 (Debian and npm packages), builds the
# extension and the demo firmware, checks the result (scripts/selfcheck.mjs), then runs the demo
# (unless --no-demo).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib/packages.sh
source scripts/lib/apt.sh
apt_ensure setup "${APT_PACKAGES[@]}"

echo "setup: installing npm packages"
npm ci --no-audit --no-fund --loglevel=error
echo "setup: building"
npm run -s build
npm run -s build:guest
bash scripts/install-code-server.sh >/dev/null  # code-server + Chromium for the VS Code tests and the demo
echo "setup: fetching Debian's arm64 kernel (the kernel tests and benchmarks walk its tables)"
bash scripts/fetch-kernel.sh >/dev/null

# Proves the install before anything relies on it: boots the demo with the exact command lines the
# tests and the extension use, and names the missing piece when one is missing.
node scripts/selfcheck.mjs

if [ "${1:-}" != "--no-demo" ]; then
  bash scripts/demo.sh
fi
