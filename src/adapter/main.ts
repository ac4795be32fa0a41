// Standalone debug adapter over stdio: `node dist/debugAdapter.js` (nvim-dap, Emacs dape, Theia...).
// VS Code runs the same session class inline (DebugAdapterInlineImplementation).
import { DebugSession } from '@vscode/debugadapter';
import { PvmfwDebugSession } from './session';

// A client that kills the adapter must not leave its QEMU running: turn the signals into a normal
// exit, whose handler (qemuProcess.ts) kills the QEMUs this process started.
for (const [sig, n] of [
  ['SIGTERM', 15],
  ['SIGINT', 2],
  ['SIGHUP', 1],
] as const) {
  process.once(sig, () => process.exit(128 + n));
}

DebugSession.run(PvmfwDebugSession);
