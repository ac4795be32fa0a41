// Malformed, oversized and unsafe requests through the real adapter (issue #10), real QEMU + the demo
// firmware stopped at entry: every one is answered with an error in words, and the adapter keeps
// answering normal requests afterwards. Monitor commands and device reads only from the Debug Console.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Dap, demoElf, demoLaunch, repoRoot, useDap } from './support';

const memoryC = join(repoRoot, 'guest/src/memory.c');

async function refused(dap: Dap, command: string, args: unknown, message: string | RegExp): Promise<void> {
  await assert.rejects(dap.dc.send(command, args), (e: Error) => {
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

/** The adapter still answers: threads, a stack, and an evaluate that reads the target. */
async function alive(dap: Dap): Promise<void> {
  const threads = (await dap.dc.threadsRequest()).body.threads;
  assert.ok(threads.length >= 1);
  assert.equal((await dap.topFrame()).name, '_start');
  assert.match(await dap.evaluate('$pc'), /^0x[0-9a-f]{16} <_start>$/);
}

void describe('malformed and oversized requests, unsafe evaluate contexts', () => {
  const dap = useDap();
  before(async () => {
    const stop = await dap.launch(demoLaunch());
    assert.equal(stop.reason, 'entry');
  });

  void test('the two reported requests: stackTrace without arguments, evaluate with a number', async () => {
    await refused(dap, 'stackTrace', undefined, "stackTrace: 'threadId' must be an integer, got undefined");
    await refused(dap, 'evaluate', { expression: 42 }, "evaluate: 'expression' must be a string, got 42");
    await alive(dap);
  });

  void test('every implemented request refuses arguments of the wrong shape, naming the field', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['scopes', {}, /^scopes: 'frameId' must be an integer, got undefined$/],
      ['variables', { variablesReference: 'x' }, /^variables: 'variablesReference' must be an integer/],
      [
        'readMemory',
        { memoryReference: 5, count: 4 },
        /^readMemory: 'memoryReference' must be a string, got 5$/,
      ],
      ['readMemory', { memoryReference: '0x40080000' }, /'count' must be an integer, got undefined/],
      [
        'writeMemory',
        { memoryReference: '0x40080000', data: '!!' },
        /^writeMemory: 'data' must be base64 text/,
      ],
      ['setVariable', { variablesReference: 1, name: 'x0' }, /^setVariable: 'value' must be a string/],
      ['completions', { text: '$x' }, /^completions: 'column' must be an integer/],
      ['continue', {}, /^continue: 'threadId' must be an integer/],
      [
        'next',
        { threadId: 1, granularity: 'page' },
        /'granularity' must be one of 'statement', 'line', 'instruction'/,
      ],
      ['stepIn', { threadId: '1' }, /^stepIn: 'threadId' must be an integer, got "1"$/],
      ['stepOut', { threadId: 1.5 }, /^stepOut: 'threadId' must be an integer, got 1.5$/],
      ['pause', {}, /^pause: 'threadId'/],
      ['setBreakpoints', { breakpoints: [] }, /^setBreakpoints: 'source' must be an object, got undefined$/],
      [
        'setBreakpoints',
        { source: { path: demoElf }, breakpoints: [{ line: 'ten' }] },
        /'breakpoints\[0\]\.line'/,
      ],
      [
        'disassemble',
        { memoryReference: '0x40080000' },
        /^disassemble: 'instructionCount' must be an integer/,
      ],
      ['setFunctionBreakpoints', { breakpoints: [{}] }, /'breakpoints\[0\]\.name' must be a string/],
      ['setInstructionBreakpoints', { breakpoints: 'x' }, /'breakpoints' must be an array/],
      ['setExceptionBreakpoints', { filters: ['all'] }, /'filters\[0\]' must be one of 'lazyMmioFault'/],
      ['dataBreakpointInfo', { name: 3 }, /^dataBreakpointInfo: 'name' must be a string/],
      ['setDataBreakpoints', { breakpoints: [{ dataId: 1 }] }, /'breakpoints\[0\]\.dataId' must be a string/],
      ['exceptionInfo', {}, /^exceptionInfo: 'threadId'/],
      ['terminate', { restart: 1 }, /^terminate: 'restart' must be true or false, got 1$/],
      ['disconnect', { terminateDebuggee: 'yes' }, /^disconnect: 'terminateDebuggee' must be true or false/],
      ['launch', { qemuArgs: '-M virt' }, /^launch: 'qemuArgs' must be an array/],
      ['attach', { gdb: 1234 }, /^attach: 'gdb' must be a string, got 1234$/],
      ['pageTable', {}, /^pageTable: 'regime' must be one of 'TTBR0_EL1'/],
      [
        'pageTable',
        { regime: 'TTBR0_EL1', vaStart: 'zz' },
        /'vaStart' must be a 64-bit 0x… hex or decimal string/,
      ],
      ['translate', { address: 'xyz' }, /^translate: 'address' must be an address/],
      ['guardState', { omitLog: 'yes' }, /^guardState: 'omitLog' must be true or false/],
      ['regimes', [1, 2], /^regimes: 'arguments' must be an object, got an array of 2 items$/],
      ['frobnicate', {}, /^'frobnicate' is not a request this debug adapter implements$/],
    ];
    for (const [command, args, message] of cases) await refused(dap, command, args, message);
    await alive(dap);
  });

  void test('oversized requests are refused at once and the next request is answered', async () => {
    // 50 MB: over the message limit, skipped unread (it used to block the adapter for 26 s).
    const huge = 'a'.repeat(50_000_000);
    await refused(
      dap,
      'evaluate',
      { expression: huge, context: 'repl' },
      /^evaluate: the request is 500000\d\d bytes \(47\.7 MiB\); the debug adapter accepts requests of up to 16 MiB/,
    );
    await alive(dap);
    // Under the message limit but over the argument limits.
    await refused(
      dap,
      'evaluate',
      { expression: 'a'.repeat(100_000), context: 'hover' },
      "evaluate: 'expression' is 100000 characters long; the adapter accepts at most 64 KiB",
    );
    await refused(
      dap,
      'readMemory',
      { memoryReference: 'p:0x40000000', count: 4 << 20 },
      "readMemory: 'count' must be between 0 and 1048576, got 4194304",
    );
    await refused(
      dap,
      'disassemble',
      { memoryReference: '0x40080000', instructionCount: 1_000_000 },
      "disassemble: 'instructionCount' must be between 0 and 10000, got 1000000",
    );
    const many = Array.from({ length: 5000 }, (_, i) => ({ line: i + 1 }));
    await refused(
      dap,
      'setBreakpoints',
      { source: { path: demoElf }, breakpoints: many },
      "setBreakpoints: 'breakpoints' has 5000 items; the adapter accepts at most 1000",
    );
    await refused(
      dap,
      'setFunctionBreakpoints',
      { breakpoints: many.map((b) => ({ name: `f${b.line}` })) },
      "setFunctionBreakpoints: 'breakpoints' has 5000 items; the adapter accepts at most 1000",
    );
    await alive(dap);
  });

  void test('long text within the limits is answered without quadratic parsing', async () => {
    // Each of these took the adapter seconds (regular expressions that backtrack over the text).
    const c = await dap.dc.completionsRequest({ text: `${'a'.repeat(60_000)} `, column: 60_002 });
    assert.ok(Array.isArray(c.body.targets));
    await refused(
      dap,
      'readMemory',
      { memoryReference: `${' '.repeat(200)}x`, count: 4 },
      /^bad memory reference/,
    );
    const bps = await dap.dc.setBreakpointsRequest({
      source: { path: memoryC },
      breakpoints: [{ line: 1, hitCondition: `${' '.repeat(60_000)}x` }],
    });
    assert.equal(bps.body.breakpoints[0].verified, false);
    assert.match(bps.body.breakpoints[0].message ?? '', /is not N, ==N, >=N/);
    await dap.dc.setBreakpointsRequest({ source: { path: memoryC }, breakpoints: [] });
    await alive(dap);
  });

  void test('monitor: refused from hover, watch, clipboard, variables; from the Debug Console echoed, then run', async () => {
    for (const context of ['hover', 'watch', 'clipboard', 'variables']) {
      await refused(
        dap,
        'evaluate',
        { expression: 'monitor info mtree', context },
        `monitor commands run only from the Debug Console; refused from the '${context}' context (QEMU's monitor can run programs on the host)`,
      );
    }
    await refused(
      dap,
      'evaluate',
      { expression: 'monitor info mtree' },
      /refused from an evaluate request without a context/,
    );
    assert.ok(!dap.transcript().includes('QEMU monitor:'), 'nothing refused reached the monitor');
    const m = dap.mark();
    const r = await dap.dc.evaluateRequest({ expression: 'monitor info mtree', context: 'repl' });
    assert.match(r.body.result, /address-space: memory/);
    // The echo came before the answer (same stream, in order): it is already here.
    const echo = dap.events.slice(m).find((e) => e.event === 'output');
    assert.equal((echo?.body as { output?: string } | undefined)?.output, 'QEMU monitor: info mtree\n');
    await alive(dap);
  });

  void test('device registers are read only from the Debug Console (a read has side effects)', async () => {
    // PL011 UARTFR, physical: the same answer whatever the MMU state.
    for (const context of ['hover', 'watch']) {
      await refused(
        dap,
        'evaluate',
        { expression: '*(u32*)p:0x9000018', context },
        `0x09000018 is device memory: reading it has side effects, so it is read only from the Debug Console; refused from the '${context}' context`,
      );
    }
    const r = await dap.dc.evaluateRequest({ expression: '*(u32*)p:0x9000018', context: 'repl' });
    assert.match(r.body.result, /^0x[0-9a-f]{8} \(\d+\)$/);
    assert.deepEqual(r.body.presentationHint?.attributes, ['hasSideEffects']);
    // Reads without side effects still work from anywhere.
    const pc = await dap.dc.evaluateRequest({ expression: '$pc', context: 'hover' });
    assert.match(pc.body.result, /<_start>/);
  });

  void test('a message that is not JSON, or not a request, does not end the adapter', async () => {
    // Under the DebugClient: its own writer only sends well-formed requests.
    const out = (dap.dc as unknown as { outputStream: NodeJS.WritableStream }).outputStream;
    const m = dap.mark();
    const raw = (body: string) => out.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    raw('{"seq": 900, "type": "request", "command": ');
    raw('null');
    await dap.next<{ output: string }>('output', m, (b) => /not JSON/.test(b.output));
    await dap.next<{ output: string }>('output', m, (b) => /not a DAP request/.test(b.output));
    await alive(dap);
  });
});
