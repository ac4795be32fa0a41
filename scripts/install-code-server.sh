#!/usr/bin/env bash
# Installs what the VS Code test layer and the demo need: Debian's Chromium (driven by playwright-core)
# and code-server 4.100.3 (VS Code 1.100.3 server + web workbench) in a private prefix inside the repo,
# so it never touches a global npm install. Idempotent: a second run only checks.
#
# Why these steps: code-server's native modules (argon2, kerberos, spdlog, node-pty) build from source
# here, offline. kerberos needs gssapi headers (libkrb5-dev); @vscode/ripgrep downloads rg from GitHub
# in its postinstall unless a cache tarball already exists in $TMPDIR, so we make one from Debian's rg.
#
# Usage: bash scripts/install-code-server.sh [PREFIX]   (default .vscode-test/code-server)
# Prints the code-server binary path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.100.3
PREFIX=$(realpath -m "${1:-.vscode-test/code-server}")
BIN="$PREFIX/node_modules/.bin/code-server"
source scripts/lib/packages.sh
source scripts/lib/apt.sh
apt_ensure install-code-server "${CODE_SERVER_PACKAGES[@]}"

installed_version() {
  node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch{}' \
    "$PREFIX/node_modules/code-server/package.json"
}

if [ -x "$BIN" ] && [ "$(installed_version)" = "$VERSION" ]; then
  echo "install-code-server: code-server $VERSION already in $PREFIX" >&2
else
  echo "install-code-server: installing code-server $VERSION into $PREFIX (about a minute)" >&2
  mkdir -p "$PREFIX"
  [ -f "$PREFIX/package.json" ] || echo '{"name":"pvmfw-mmu-code-server","private":true}' >"$PREFIX/package.json"
  rgtmp=$(mktemp -d)
  trap 'rm -rf "$rgtmp"' EXIT
  mkdir -p "$rgtmp/vscode-ripgrep-cache-1.15.11"
  cp /usr/bin/rg "$rgtmp/rg"
  tar czf "$rgtmp/vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$rgtmp" rg
  # unsafe_perm: code-server's postinstall refuses root otherwise; yes: node-pty's postinstall runs
  # `npx node-gyp`; nodedir=/usr: node-gyp uses the local Node headers instead of downloading them.
  (cd "$PREFIX" && TMPDIR="$rgtmp" npm_config_unsafe_perm=true npm_config_yes=true npm_config_nodedir=/usr \
    npm install --no-audit --no-fund --loglevel=error --foreground-scripts "code-server@$VERSION" >"$PREFIX/install.log" 2>&1) || {
    tail -40 "$PREFIX/install.log" >&2
    echo "install-code-server: npm install failed (full log: $PREFIX/install.log)" >&2
    exit 1
  }
fi

# code-server writes a config with a random password under XDG_CONFIG_HOME: keep it inside the prefix.
v=$(XDG_CONFIG_HOME="$PREFIX/.xdg/config" XDG_DATA_HOME="$PREFIX/.xdg/data" "$BIN" --version 2>/dev/null | grep -E '^[0-9]+\.' | head -1)
case "$v" in
  "$VERSION"*) ;;
  *) echo "install-code-server: $BIN --version printed '$v', expected $VERSION" >&2; exit 1 ;;
esac
echo "$BIN"
