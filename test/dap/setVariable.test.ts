// setVariable on source variables (issue #13): at -O2 (test/fixtures/opt) an argument lives in a
// register and a global in memory; a struct's members and an array's elements live in register
// pieces (span_pair), a global's nested members in memory. The user's explicit setVariable writes
// them; the values are read back through the gdbstub (the register, and the memory at the
// variable's address), not through the Variables view that wrote them. Anything that is not a scalar of this stop is refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { buildOpt, optLine, optQemuArgs, optSource } from '../harness/opt';
import { Dap } from './support';

void describe('setVariable on locals, arguments and globals (-O2)', { timeout: 120_000 }, () => {
  const dap = new Dap();
  const elf = buildOpt(5);

  before(() => dap.start());
  after(async () => {
    await dap.dc.disconnectRequest({ terminateDebuggee: true }).catch(() => undefined);
    await dap.stop();
  });

  const scope = async (name: string, frameId: number) => {
    const sc = await dap.dc.scopesRequest({ frameId });
    const s = sc.body.scopes.find((x) => x.name === name);
    assert.ok(s, `no scope ${name}`);
    const vars = (await dap.dc.variablesRequest({ variablesReference: s.variablesReference })).body.variables;
    return { ref: s.variablesReference, vars };
  };

  void test('an argument in a register and a global in memory are written, and read back from the target', async () => {
    const line = optLine('leaf: body');
    await dap.launch(
      { program: elf, qemu: 'qemu-system-aarch64', qemuArgs: optQemuArgs(elf), stopOnEntry: false },
      async () => {
        await dap.dc.setBreakpointsRequest({ source: { path: optSource }, breakpoints: [{ line }] });
      },
    );
    const frame = (await dap.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    assert.match(frame.name, /leaf/);
    const args = await scope('Arguments', frame.id);
    const v = args.vars.find((x) => x.name === 'v');
    assert.ok(v, JSON.stringify(args.vars));
    const set = await dap.dc.setVariableRequest({ variablesReference: args.ref, name: 'v', value: '100' });
    assert.equal(set.body.value, '100');
    // `v` is in x0 at leaf's entry (AAPCS64): the register now holds 100 in its low 32 bits.
    const x0 = (await dap.dc.evaluateRequest({ expression: '$x0', context: 'watch' })).body.result;
    assert.equal(BigInt(x0) & 0xffff_ffffn, 100n, x0);

    const globals = await scope('Globals', frame.id);
    const count = globals.vars.find((x) => x.name === 'handled_count');
    assert.ok(count?.memoryReference, JSON.stringify(count));
    await dap.dc.setVariableRequest({
      variablesReference: globals.ref,
      name: 'handled_count',
      value: '6 + 1',
    });
    const r = await dap.dc.customRequest('readMemory', { memoryReference: count.memoryReference, count: 4 });
    const body = r.body as DebugProtocol.ReadMemoryResponse['body'];
    assert.equal(Buffer.from(body?.data ?? '', 'base64').readUInt32LE(0), 7);
  });

  void test('a struct is refused as a whole (its members are set one by one)', async () => {
    const frame = (await dap.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    const globals = await scope('Globals', frame.id);
    const regions = globals.vars.find((x) => x.name === 'regions');
    assert.ok(regions);
    await assert.rejects(
      dap.dc.setVariableRequest({ variablesReference: globals.ref, name: 'regions', value: '0' }),
      /cannot be set as a whole/,
    );
  });

  const children = async (v: DebugProtocol.Variable | undefined) => {
    assert.ok(v && v.variablesReference > 0, JSON.stringify(v));
    const vars = (await dap.dc.variablesRequest({ variablesReference: v.variablesReference })).body.variables;
    return { ref: v.variablesReference, vars, get: (n: string) => vars.find((x) => x.name === n) };
  };
  const reg = async (name: string) =>
    BigInt((await dap.dc.evaluateRequest({ expression: `$${name}`, context: 'watch' })).body.result);
  const setIn = (ref: number, name: string, value: string) =>
    dap.dc.setVariableRequest({ variablesReference: ref, name, value });

  void test('members and elements: register pieces and memory are written and read back; computed and optimized-out ones refused', async () => {
    await dap.dc.setBreakpointsRequest({
      source: { path: optSource },
      breakpoints: [{ line: optLine('span_pair: use') }, { line: optLine('span_pair: end') }],
    });
    let m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    await dap.nextStop(m);
    let frame = (await dap.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    assert.match(frame.name, /span_pair/);
    // Here s is {x0, x20} and w is {b * 7 (computed), x1} (GCC's pieces; gdb's `info scope`).
    let locals = await scope('Locals', frame.id);
    const s = await children(locals.vars.find((x) => x.name === 's'));
    const w = await children(locals.vars.find((x) => x.name === 'w'));
    assert.equal(s.get('start')?.evaluateName, '(s).start');
    assert.equal(w.get('[1]')?.evaluateName, 'w[1]');
    assert.equal((await setIn(s.ref, 'start', '100')).body.value, '100');
    assert.equal((await setIn(s.ref, 'end', '0x5000 + 5')).body.value, String(0x5005));
    assert.equal((await setIn(w.ref, '[1]', '23')).body.value, '23');
    await assert.rejects(setIn(w.ref, '[0]', '1'), /computed/);
    // Read back from the registers the pieces name, through the gdbstub.
    assert.equal(await reg('x0'), 100n);
    assert.equal(await reg('x20'), 0x5005n);
    assert.equal(await reg('x1'), 23n);
    // The program computes with what was written: sink = s.start + w[1].
    m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    await dap.nextStop(m);
    frame = (await dap.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    assert.equal(frame.line, optLine('span_pair: end'));
    const sink = await dap.dc.evaluateRequest({ expression: 'sink', frameId: frame.id, context: 'watch' });
    assert.equal(sink.body.result, '123');
    // Now s.start is optimized out (an empty piece): refused, never written somewhere made up.
    locals = await scope('Locals', frame.id);
    const s2 = await children(locals.vars.find((x) => x.name === 's'));
    assert.equal(s2.get('start')?.value, '<optimized out>');
    assert.equal(s2.get('end')?.value, String(0x5005));
    await assert.rejects(setIn(s2.ref, 'start', '1'), /optimized out/);

    // A global's nested member and an array element in memory, read back with readMemory.
    const globals = await scope('Globals', frame.id);
    const regions = await children(globals.vars.find((x) => x.name === 'regions'));
    const corner = await children((await children(regions.get('[1]'))).get('corner'));
    const y = corner.get('y');
    assert.ok(y?.memoryReference, JSON.stringify(y));
    assert.equal(y.evaluateName, '((regions[1]).corner).y');
    assert.equal((await setIn(corner.ref, 'y', '-40')).body.value, '-40');
    const table = await children(globals.vars.find((x) => x.name === 'table'));
    await setIn(table.ref, '[3]', '77');
    const read = async (ref: string, n: number) => {
      const r = await dap.dc.customRequest('readMemory', { memoryReference: ref, count: n });
      return Buffer.from((r.body as DebugProtocol.ReadMemoryResponse['body'])?.data ?? '', 'base64');
    };
    assert.equal((await read(y.memoryReference, 4)).readInt32LE(0), -40);
    assert.equal((await read(table.get('[3]')!.memoryReference!, 4)).readUInt32LE(0), 77);
    // The same through C expressions in the frame, as the watch view evaluates them.
    const ev = async (e: string) =>
      (await dap.dc.evaluateRequest({ expression: e, frameId: frame.id, context: 'watch' })).body.result;
    assert.equal(await ev(y.evaluateName ?? ''), '-40');
    assert.equal(await ev('table[3]'), '77');
  });
});
