// The request gate (pure) and the session's catch-all (inline, no target): every implemented request
// has a validator that accepts what real clients send, envelopes and limits are refused in words, and
// an exception escaping a handler becomes an error response while the session keeps answering.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import {
  checkRequest,
  errorResponse,
  failureMessage,
  LIMITS,
  REQUEST_ARGS,
  type RequestCommand,
  showUserFor,
} from '../../../src/adapter/requestArgs';
import { PvmfwDebugSession } from '../../../src/adapter/session';
import { CUSTOM_REQUESTS } from '../../../src/shared/protocol';

/** Arguments as VS Code or the UI send them; a Record so that a new request needs a sample here. */
const SAMPLES: Record<RequestCommand, unknown> = {
  initialize: { adapterID: 'pvmfw-mmu', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' },
  launch: {
    type: 'pvmfw-mmu',
    request: 'launch',
    name: 'x',
    qemuArgs: ['-M', 'virt'],
    env: { A: '1' },
    __sessionId: 'id',
  },
  attach: { gdb: '127.0.0.1:1234', onDisconnect: 'pause', lazyFlagBit: 55 },
  configurationDone: undefined,
  threads: undefined,
  stackTrace: { threadId: 1, startFrame: 0, levels: 20, format: {} },
  scopes: { frameId: 1001 },
  variables: { variablesReference: 3 },
  evaluate: { expression: '$x0', frameId: 1001, context: 'hover' },
  readMemory: { memoryReference: 'p:0x40000000', offset: 0, count: 4096 },
  writeMemory: { memoryReference: '0x40080000', data: 'AAAA', allowPartial: false },
  setVariable: { variablesReference: 1, name: 'x0', value: '0x10' },
  completions: { text: '$TT', column: 4, frameId: 1 },
  continue: { threadId: 1 },
  next: { threadId: 1, granularity: 'instruction' },
  stepIn: { threadId: 1, singleThread: false },
  stepOut: { threadId: 1, granularity: 'line' },
  pause: { threadId: 1 },
  setBreakpoints: {
    source: { name: 'demo.c', path: '/src/demo.c', adapterData: { any: 1 } },
    breakpoints: [{ line: 10, condition: 'x0 == 1', hitCondition: '>=2', logMessage: 'x0={$x0}' }],
    lines: [10],
    sourceModified: false,
  },
  disassemble: {
    memoryReference: '0x40080000',
    offset: 0,
    instructionOffset: -200,
    instructionCount: 400,
    resolveSymbols: true,
  },
  setFunctionBreakpoints: { breakpoints: [{ name: 'handle_mmio_fault' }] },
  setInstructionBreakpoints: { breakpoints: [{ instructionReference: '0x40080000', offset: 4 }] },
  setExceptionBreakpoints: { filters: ['lazyMmioFault', 'guardHypercall'], filterOptions: [] },
  dataBreakpointInfo: { name: 'guard_log', variablesReference: 0 },
  setDataBreakpoints: { breakpoints: [{ dataId: '0x40100000/8', accessType: 'write' }] },
  exceptionInfo: { threadId: 1 },
  restart: { arguments: { qemuArgs: [] } },
  terminate: { restart: false },
  disconnect: { restart: false, terminateDebuggee: true },
  pageTable: {
    regime: 'TTBR0_EL1',
    table: { table: '0x40201000', level: 2, vaBase: '0x0' },
    vaStart: '0x9000000',
    vaEnd: '0x9ffffff',
    start: 0,
    count: 512,
  },
  translate: { address: '0x9010000', regime: 'TTBR0_EL1' },
  guardState: { omitLog: true },
  regimes: {},
  snapshot: {},
  ownership: {},
  selectThread: { threadId: 2 },
};

function refusal(command: string, args: unknown): string {
  const r = checkRequest({ seq: 1, type: 'request', command, arguments: args });
  assert.equal(r.ok, false, `${command} ${JSON.stringify(args)?.slice(0, 80)} was accepted`);
  return r.ok ? '' : r.message;
}

void describe('checkRequest', () => {
  void test('every implemented request accepts what clients send', () => {
    assert.deepEqual(Object.keys(SAMPLES).sort(), Object.keys(REQUEST_ARGS).sort());
    for (const c of CUSTOM_REQUESTS) assert.ok(c in REQUEST_ARGS, `no validator for the custom request ${c}`);
    for (const [command, args] of Object.entries(SAMPLES)) {
      const r = checkRequest({ seq: 1, type: 'request', command, arguments: args });
      assert.ok(r.ok, `${command}: ${r.ok ? '' : r.message}`);
    }
    // Translate takes a plain number too (the UI's own addresses are strings).
    assert.ok(checkRequest({ command: 'translate', arguments: { address: 0x9010000 } }).ok);
  });

  void test('refusals name the request and the field', () => {
    assert.equal(
      refusal('stackTrace', undefined),
      "stackTrace: 'threadId' must be an integer, got undefined",
    );
    assert.equal(refusal('evaluate', { expression: 42 }), "evaluate: 'expression' must be a string, got 42");
    assert.equal(
      refusal('regimes', [1, 2]),
      "regimes: 'arguments' must be an object, got an array of 2 items",
    );
    assert.equal(refusal('frobnicate', {}), "'frobnicate' is not a request this debug adapter implements");
    assert.equal(refusal('toString', {}), "'toString' is not a request this debug adapter implements");
    assert.match(refusal(42 as unknown as string, {}), /a request needs a 'command' name, got 42/);
    assert.equal(
      refusal('setExceptionBreakpoints', { filters: ['all'] }),
      "setExceptionBreakpoints: 'filters[0]' must be one of 'lazyMmioFault', 'syncException', 'guardHypercall', got \"all\"",
    );
    assert.match(
      refusal('pageTable', { regime: 'TTBR0_EL1', vaStart: '0x1ffffffffffffffff' }),
      /must be a 64-bit/,
    );
    assert.match(
      refusal('pageTable', { regime: 'TTBR0_EL1', vaEnd: '99999999999999999999' }),
      /not fit in 64 bits/,
    );
    assert.match(refusal('translate', { address: -1 }), /^translate: 'address' must be an address/);
    assert.match(
      refusal('writeMemory', { memoryReference: '0x0', data: 'not base64!' }),
      /'data' must be base64 text/,
    );
    assert.match(
      refusal('launch', { qemuArgs: ['-M', 7] }),
      /^launch: 'qemuArgs\[1\]' must be a string, got 7$/,
    );
  });

  void test('sizes over the limits are refused before anything parses them', () => {
    assert.equal(
      refusal('evaluate', { expression: 'a'.repeat(LIMITS.text + 1) }),
      `evaluate: 'expression' is ${LIMITS.text + 1} characters long; the adapter accepts at most 64 KiB`,
    );
    assert.equal(
      refusal('readMemory', { memoryReference: '0x0', count: 4 << 20 }),
      "readMemory: 'count' must be between 0 and 1048576, got 4194304",
    );
    assert.match(
      refusal('disassemble', { memoryReference: '0x0', instructionCount: 1e6 }),
      /between 0 and 10000/,
    );
    const many = Array.from({ length: LIMITS.breakpoints + 1 }, (_, i) => ({ line: i + 1 }));
    assert.equal(
      refusal('setBreakpoints', { source: { path: '/a.c' }, breakpoints: many }),
      "setBreakpoints: 'breakpoints' has 1001 items; the adapter accepts at most 1000",
    );
    assert.match(refusal('readMemory', { memoryReference: ' '.repeat(100_000), count: 1 }), /at most 256/);
    assert.match(
      refusal('pageTable', { regime: 'TTBR0_EL1', count: 1e6 }),
      /'count' must be between 0 and 8192/,
    );
  });

  void test('error responses: short, answerable whatever the request looked like', () => {
    const r = errorResponse({ seq: 7, command: 'evaluate' }, `x{y}${'z'.repeat(5000)}`);
    assert.equal(r.request_seq, 7);
    assert.equal(r.command, 'evaluate');
    assert.equal(r.success, false);
    assert.ok((r.message ?? '').length <= 2001);
    assert.ok(!r.body.error?.format.includes('{'));
    assert.equal(errorResponse(null, 'm').request_seq, 0);
  });

  void test('failureMessage: JavaScript errors are called internal errors, deliberate ones pass as they are', () => {
    assert.match(
      failureMessage('stackTrace', new TypeError("Cannot read properties of undefined (reading 'pid')")),
      /^stackTrace: internal error in the debug adapter \(TypeError: Cannot read/,
    );
    assert.equal(failureMessage('pause', new Error('the target is running')), 'the target is running');
    assert.equal(failureMessage('pause', 'boom'), 'pause failed: boom');
  });
});

void describe('PvmfwDebugSession dispatch (inline, no target)', () => {
  function inline() {
    const session = new PvmfwDebugSession();
    const sent: DebugProtocol.ProtocolMessage[] = [];
    // Listening makes the session "inline": responses come here and shutdown never exits.
    session.onDidSendMessage((m) => sent.push(m as DebugProtocol.ProtocolMessage));
    const response = async (seq: number): Promise<DebugProtocol.Response> => {
      for (let i = 0; i < 100; i++) {
        const r = sent.find(
          (m): m is DebugProtocol.Response =>
            m.type === 'response' && 'request_seq' in m && m.request_seq === seq,
        );
        if (r) return r;
        await new Promise((res) => setTimeout(res, 5));
      }
      throw new Error(`no response to request ${seq}`);
    };
    return { session, response };
  }

  void test('a handler that throws gets an error response in words, and the next request is answered', async () => {
    const { session, response } = inline();
    const handlers = (session as unknown as { handlers: Record<string, () => Promise<unknown>> }).handlers;
    handlers.threads = () =>
      Promise.reject(new TypeError("Cannot read properties of undefined (reading 'pid')"));
    handlers.regimes = () => {
      // What a careless library might throw: the catch-all must still word it.
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      throw 'not an Error';
    };
    session.handleMessage({ seq: 1, type: 'request', command: 'threads' } as DebugProtocol.Request);
    session.handleMessage({ seq: 2, type: 'request', command: 'regimes' } as DebugProtocol.Request);
    session.handleMessage({ seq: 3, type: 'request', command: 'stackTrace' } as DebugProtocol.Request);
    session.handleMessage({
      seq: 4,
      type: 'request',
      command: 'exceptionInfo',
      arguments: { threadId: 1 },
    } as DebugProtocol.Request);
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(response));
    assert.equal(a.success, false);
    assert.match(
      a.message ?? '',
      /^threads: internal error in the debug adapter \(TypeError: .*\); the session keeps running$/,
    );
    assert.equal(b.message, 'regimes failed: not an Error');
    assert.equal(c.message, "stackTrace: 'threadId' must be an integer, got undefined");
    assert.equal(d.success, true);
  });

  void test('errors the client shows in place never also pop a notification (#14 item 2)', async () => {
    const { session, response } = inline();
    const send = (seq: number, command: string, args: object) =>
      session.handleMessage({ seq, type: 'request', command, arguments: args } as DebugProtocol.Request);
    send(1, 'evaluate', { expression: 'banana', context: 'repl' });
    send(2, 'evaluate', { expression: 'pte', context: 'repl' });
    send(3, 'next', { threadId: 1 });
    send(4, 'launch', { snapshot: '/nonexistent/file.pvmfw-snapshot' });
    const [banana, pte, next, launch] = await Promise.all([1, 2, 3, 4].map(response));
    const showUser = (r: DebugProtocol.Response) =>
      (r.body as { error?: { showUser?: boolean } } | undefined)?.error?.showUser;
    for (const r of [banana, pte]) {
      assert.equal(r.success, false);
      assert.equal(showUser(r), false, `${r.command}: ${r.message ?? ''}`);
    }
    assert.equal(next.success, false);
    assert.equal(showUser(next), true, 'an explicit action that failed for another reason still notifies');
    assert.equal(launch.success, false);
    assert.equal(showUser(launch), true);
    assert.match(launch.message ?? '', /cannot open the snapshot/);
  });

  void test('a step that raced a resume is answered quietly', () => {
    assert.equal(showUserFor('next', 'the target is running: pause it first'), false);
    assert.equal(showUserFor('stepIn', 'the target is running: pause it first'), false);
    assert.equal(showUserFor('continue', 'not connected to a target'), true);
    assert.equal(showUserFor('evaluate', 'anything'), false);
  });

  void test('monitor from a hover is refused before anything else is looked at', async () => {
    const { session, response } = inline();
    session.handleMessage({
      seq: 1,
      type: 'request',
      command: 'evaluate',
      arguments: { expression: 'monitor migrate "exec:touch /tmp/x"', context: 'hover' },
    } as DebugProtocol.Request);
    const r = await response(1);
    assert.equal(r.success, false);
    assert.match(
      r.message ?? '',
      /^monitor commands run only from the Debug Console; refused from the 'hover' context/,
    );
  });
});
