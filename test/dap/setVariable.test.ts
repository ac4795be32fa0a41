// setVariable on source variables (issue #13): at -O2 (test/fixtures/opt) an argument lives in a
// register and a global in memory. The user's explicit setVariable writes them; the values are read
// back through the gdbstub (the register, and the memory at the variable's address), not through the
// Variables view that wrote them. Anything that is not a scalar of this stop is refused.
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
      /read-only|cannot be set/,
    );
  });
});
