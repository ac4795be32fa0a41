// Standalone debug adapter over stdio: `node dist/debugAdapter.js` (nvim-dap, Emacs dape, Theia...).
// VS Code runs the same session class inline (DebugAdapterInlineImplementation).
import { OutputEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { PassThrough } from 'node:stream';
import { identify, MessageReader, type Frame } from './framing';
import { errorResponse } from './requestArgs';
import { PvmfwDebugSession } from './session';

/**
 * Largest DAP message read. Far above any real request (the argument limits in requestArgs.ts are
 * 1 MiB at most); a bigger one is skipped unread and answered with an error.
 */
const MAX_MESSAGE_BYTES = 16 << 20;

// A client that kills the adapter must not leave its QEMU running: turn the signals into a normal
// exit, whose handler (qemuProcess.ts) kills the QEMUs this process started.
for (const [sig, n] of [
  ['SIGTERM', 15],
  ['SIGINT', 2],
  ['SIGHUP', 1],
] as const) {
  process.once(sig, () => process.exit(128 + n));
}

const session = new PvmfwDebugSession();

function report(text: string): void {
  session.sendEvent(new OutputEvent(`${text}\n`, 'stderr'));
}

// Last resort: a failure nobody awaited is reported in the Debug Console instead of ending the
// adapter (Node's default for an unhandled rejection), which would leave the client hanging.
process.on('unhandledRejection', (e) => report(`debug adapter: unexpected failure: ${String(e)}`));
process.on('uncaughtException', (e) => report(`debug adapter: unexpected failure: ${e.stack ?? e.message}`));

function deliver(frame: Frame): void {
  if (frame.kind === 'message') {
    const m = frame.message as Partial<DebugProtocol.ProtocolMessage> | null;
    if (typeof m === 'object' && m !== null && !Array.isArray(m) && typeof m.type === 'string') {
      session.handleMessage(m as DebugProtocol.ProtocolMessage);
      return;
    }
    const who = typeof m === 'object' && m !== null ? (m as Partial<DebugProtocol.Request>) : undefined;
    if (typeof who?.seq === 'number')
      session.sendResponse(
        errorResponse(who, `a DAP message needs a 'type' ("request"), got ${typeof who.type}`),
      );
    else
      report(
        `debug adapter: ignored a message that is not a DAP request: ${JSON.stringify(m).slice(0, 200)}`,
      );
    return;
  }
  const id = identify(frame.head, frame.kind === 'oversized' ? frame.tail : '');
  const why =
    frame.kind === 'oversized'
      ? `the request is ${frame.length} bytes (${(frame.length / (1 << 20)).toFixed(1)} MiB); the debug adapter accepts requests of up to ${MAX_MESSAGE_BYTES >> 20} MiB and did not read it`
      : `the request could not be read: ${frame.reason}`;
  if (id) session.sendResponse(errorResponse(id, `${id.command}: ${why}`));
  else report(`debug adapter: ignored a message: ${why}`);
}

// The library writes responses and events to stdout; reading is ours (framing.ts), so it gets an
// input stream that never delivers anything.
session.start(new PassThrough(), process.stdout);
const reader = new MessageReader(MAX_MESSAGE_BYTES);
process.stdin.on('data', (chunk: Buffer) => {
  for (const frame of reader.push(chunk)) {
    try {
      deliver(frame);
    } catch (e) {
      report(`debug adapter: failed to handle a message: ${(e as Error).stack ?? String(e)}`);
    }
  }
});
// The client went away: end like the library does (shutdown exits; the exit hook reaps QEMU).
process.stdin.on('close', () => session.shutdown());
process.stdin.resume();
