// A Rust slice in the Variables view expands into its elements (issue #13), on the no_std -O2 Rust
// fixture under QEMU: `checksum(xs: &[u32])` stopped at its entry, the argument's children compared
// with what gdb-multiarch prints for `p xs` on its own QEMU at the same breakpoint.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gdbLive } from '../harness/opt';
import { buildRustOpt } from '../harness/rustOpt';
import { Dap } from './support';

void describe('Rust slices expand into their elements', { timeout: 180_000 }, () => {
  const dap = new Dap();
  let elf: string;

  before(async () => {
    elf = buildRustOpt('legacy');
    await dap.start();
  });
  after(async () => {
    await dap.dc.disconnectRequest({ terminateDebuggee: true }).catch(() => undefined);
    await dap.stop();
  });

  void test('checksum(xs): the children of xs are gdb’s elements, in order', async () => {
    const [gdbText, bt, args, locals] = await gdbLive(
      elf,
      'rust_opt::checksum',
      ['p xs', 'bt', 'info args', 'info locals'],
      1,
      {
        machine: 'virt',
        cpu: 'cortex-a57',
        memory: '128M',
      },
    );
    const m = /\[([\d, ]+)\]/.exec(gdbText);
    assert.ok(m, `gdb printed: ${gdbText}`);
    const want = m[1].split(',').map((x) => x.trim());
    await dap.launch(
      {
        program: elf,
        qemu: 'qemu-system-aarch64',
        qemuArgs: [
          '-M',
          'virt',
          '-cpu',
          'cortex-a57',
          '-m',
          '128M',
          '-nic',
          'none',
          '-display',
          'none',
          '-kernel',
          elf,
        ],
        stopOnEntry: false,
      },
      async () => {
        await dap.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'rust_opt::checksum' }] });
      },
    );
    const frame = (await dap.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    const sc = await dap.dc.scopesRequest({ frameId: frame.id });
    const argsScope = sc.body.scopes.find((x) => x.name === 'Arguments');
    assert.ok(argsScope);
    const xs = (
      await dap.dc.variablesRequest({ variablesReference: argsScope.variablesReference })
    ).body.variables.find((v) => v.name === 'xs');
    assert.ok(xs && xs.variablesReference > 0, JSON.stringify(xs));
    assert.equal(xs.indexedVariables, want.length);
    const els = (await dap.dc.variablesRequest({ variablesReference: xs.variablesReference })).body.variables;
    assert.deepEqual(
      els.map((e) => e.value),
      want,
    );
    assert.deepEqual(
      els.map((e) => e.name),
      want.map((_x, i) => `[${i}]`),
    );
    // The stack and the argument's text, as gdb gives them at the same stop.
    const gdbNames = [...bt.matchAll(/^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(/gm)].map((x) => x[1]);
    // gdb names assembly frames by their symbol alone (`_start`); we add the offset there.
    const ours = (await dap.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames.map((f) =>
      f.name.replace(/\+0x[0-9a-f]+$/, ''),
    );
    assert.deepEqual(ours.slice(0, gdbNames.length), gdbNames, `gdb bt:\n${bt}`);
    const gdbXs = /^xs = (.*)$/m.exec(args)?.[1];
    assert.ok(gdbXs, args);
    assert.equal(xs.value, gdbXs);
    // Locals: every one gdb prints, with gdb's text (an optimized-out one as gdb says it).
    const gdbLocals = [...locals.matchAll(/^(\w+) = (.*)$/gm)].map((x) => [x[1], x[2]]);
    const localsScope = sc.body.scopes.find((x) => x.name === 'Locals');
    assert.ok(localsScope);
    const ourLocals = new Map(
      (
        await dap.dc.variablesRequest({ variablesReference: localsScope.variablesReference })
      ).body.variables.map((v) => [v.name, v.value]),
    );
    assert.ok(gdbLocals.length > 0, locals);
    for (const [name, value] of gdbLocals) {
      // Legacy-mangled symbols keep their hash in gdb's text. A synthetic pointer
      // (DW_OP_implicit_pointer) reads `<synthetic pointer>` in both.
      if (!/::h[0-9a-f]{16}>/.test(value))
        assert.equal(ourLocals.get(name), value, `${name}: gdb says ${value}`);
    }
    assert.ok(
      gdbLocals.some(([n, v]) => n === 'acc' && ourLocals.get(n) === v),
      'acc compared',
    );
  });
});
