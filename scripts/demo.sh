#!/usr/bin/env bash
# The demo (called at the end of scripts/setup.sh, or on its own):
#   1. boots the demo firmware in QEMU, lets it run to scenario_done, and prints the CLI's guard report;
#   2. packages the extension (.vsix), installs it into a private code-server, and starts code-server
#      on 127.0.0.1 in the background with the demo workspace (demo/pvmfw-demo.code-workspace: the launch
#      configuration and the firmware sources);
#   3. prints the URL to open. Stop it with: bash scripts/demo.sh --stop
#
# Environment: PVMFW_DEMO_PORT (default 8080, or the next free port), PVMFW_DEMO_SCENARIO (n, a, b, c, d:
# the firmware's injected bug for the CLI report; default n).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
STATE=.vscode-test/demo
PIDFILE=$STATE/code-server.pid
mkdir -p "$STATE"

stop_server() {
  if [ -f "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    # code-server runs in its own session/process group (setsid): stop the whole group by its id.
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      echo "demo: stopped code-server (pid $pid)"
    fi
    rm -f "$PIDFILE"
  fi
}

if [ "${1:-}" = "--stop" ]; then
  stop_server
  exit 0
fi

# ---------------------------------------------------------------- build inputs (setup.sh made them)
[ -f dist/extension.js ] && [ -f dist/cli.js ] && [ -f dist/webview.js ] || npm run -s build
[ -f guest/build/demo.elf ] || npm run -s build:guest
CODE_SERVER=$(bash scripts/install-code-server.sh | tail -1)

free_port() {
  node -e 'const s=require("net").createServer();s.listen(Number(process.argv[1])||0,"127.0.0.1",()=>{console.log(s.address().port);s.close()}).on("error",()=>{const t=require("net").createServer();t.listen(0,"127.0.0.1",()=>{console.log(t.address().port);t.close()})})' "${1:-0}"
}

# ---------------------------------------------------------------- 1. CLI guard report
SCENARIO=${PVMFW_DEMO_SCENARIO:-n}
GDB_PORT=$(free_port)
QEMU_LOG=$STATE/qemu-serial.log
echo "demo: booting guest/build/demo.elf in QEMU (scenario=$SCENARIO, gdbstub 127.0.0.1:$GDB_PORT)"
qemu-system-aarch64 -M virt,virtualization=on -cpu cortex-a57 -m 256M -nic none -display none -monitor none \
  -serial "file:$QEMU_LOG" -append "scenario=$SCENARIO" -kernel guest/build/demo.elf \
  -gdb "tcp:127.0.0.1:$GDB_PORT" 2>"$STATE/qemu-stderr.log" &
QEMU_PID=$!
cleanup_qemu() { kill "$QEMU_PID" 2>/dev/null || true; wait "$QEMU_PID" 2>/dev/null || true; }
trap cleanup_qemu EXIT
for _ in $(seq 1 100); do
  grep -q 'parked at scenario_done\|panic' "$QEMU_LOG" 2>/dev/null && break
  sleep 0.1
done
grep -q 'parked at scenario_done' "$QEMU_LOG" || { echo "demo: the firmware did not reach scenario_done:" >&2; tail -20 "$QEMU_LOG" >&2; }
echo "demo: firmware serial output (last lines):"
tail -4 "$QEMU_LOG" | sed 's/^/  | /'
echo
echo "demo: \$ pvmfw-mmu guard --gdb 127.0.0.1:$GDB_PORT --elf guest/build/demo.elf"
# Exit code 3 means the report found error anomalies (the bug scenarios): still a successful demo.
node dist/cli.js guard --gdb "127.0.0.1:$GDB_PORT" --elf guest/build/demo.elf --no-progress || [ $? -eq 3 ]
cleanup_qemu
trap - EXIT
echo

# ---------------------------------------------------------------- 2. extension in code-server
VSIX=$STATE/pvmfw-mmu.vsix
echo "demo: packaging the extension"
npx --no-install vsce package --no-dependencies -o "$VSIX" >"$STATE/vsce.log" 2>&1 || { cat "$STATE/vsce.log" >&2; exit 1; }
export XDG_CONFIG_HOME="$REPO/$STATE/xdg-config" XDG_DATA_HOME="$REPO/$STATE/xdg-data"
"$CODE_SERVER" --extensions-dir "$STATE/extensions" --user-data-dir "$STATE/user-data" \
  --install-extension "$VSIX" --force >"$STATE/install.log" 2>&1 || { cat "$STATE/install.log" >&2; exit 1; }
mkdir -p "$STATE/user-data/User"
[ -f "$STATE/user-data/User/settings.json" ] || cat >"$STATE/user-data/User/settings.json" <<'JSON'
{
  "workbench.startupEditor": "none",
  "workbench.colorTheme": "Default Dark Modern",
  "git.openRepositoryInParentFolders": "never",
  "telemetry.telemetryLevel": "off"
}
JSON

stop_server
PORT=$(free_port "${PVMFW_DEMO_PORT:-8080}")
setsid "$CODE_SERVER" --bind-addr "127.0.0.1:$PORT" --auth none \
  --user-data-dir "$STATE/user-data" --extensions-dir "$STATE/extensions" \
  --disable-telemetry --disable-update-check --disable-workspace-trust --disable-getting-started-override \
  --ignore-last-opened "$REPO/demo/pvmfw-demo.code-workspace" >"$STATE/code-server.log" 2>&1 </dev/null &
echo $! >"$PIDFILE"
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 || { echo "demo: code-server did not start:" >&2; tail -20 "$STATE/code-server.log" >&2; exit 1; }

URL="http://127.0.0.1:$PORT/?workspace=$REPO/demo/pvmfw-demo.code-workspace"
cat <<EOF
demo: VS Code (code-server) with pvmfw MMU Debugger is running:

    $URL

  Run and Debug -> "Launch demo firmware in QEMU" -> Start; tick "Lazy MMIO fault" in Breakpoints,
  Continue (F5), then "pvmfw MMU: Open MMIO Guard" and step (F10). See demo/README.md.
  Remote machine? ssh -L $PORT:127.0.0.1:$PORT <host>, then open the URL locally.
  Desktop VS Code: code --install-extension $REPO/$VSIX
  Stop the server: bash scripts/demo.sh --stop
EOF
