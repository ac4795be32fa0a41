// Rust expressions in evaluate (issue #13) on the no_std -O2 Rust fixture under QEMU, stopped in
// `rust_opt::find` where `tracker: &mut Tracker` holds a slice of regions, then in a method on &self: every expression gdb's
// Rust parser also accepts is compared with gdb-multiarch's `print` on its own QEMU at the same
// breakpoint (paths, `.` through references, slice and &str indexing, `&x`, `*p`, `as`, comparisons);
// the forms gdb does not evaluate without running code (`.len()`, `crate::`) are compared with the
// gdb expression that reads the same thing (`.length`, the full path).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gdbLive } from '../harness/opt';
import { buildRustOpt, rustLine, rustSource } from '../harness/rustOpt';
import { Dap } from './support';

const MACHINE = { machine: 'virt', cpu: 'cortex-a57', memory: '128M' };
const QEMU_ARGS = ['-M', 'virt', '-cpu', 'cortex-a57', '-m', '128M', '-nic', 'none', '-display', 'none'];
/** gdb names v0 symbols with their crate's disambiguator (`rust_opt[313f…]::REGIONS`); nm -C does not. */
const plain = (s: string) => s.replace(/\[[0-9a-f]+\]::/g, '::');

void describe('Rust expressions in evaluate, against gdb print', { timeout: 180_000 }, () => {
  const dap = new Dap();
  let elf: string;

  before(async () => {
    elf = buildRustOpt('v0');
    await dap.start();
  });
  after(async () => {
    await dap.dc.disconnectRequest({ terminateDebuggee: true }).catch(() => undefined);
    await dap.stop();
  });

  void test('in rust_opt::find: paths, fields through &mut, slices, &str, len(), as, comparisons', async () => {
    const line = rustLine('find: hit');
    const same = [
      'tracker',
      'tracker.regions',
      'tracker.count',
      '*tracker',
      'tracker.regions[1]',
      'tracker.regions[1].name',
      '&tracker.count',
      'tracker.regions.length',
      'tracker.regions[0].name[1]',
      'tracker.regions.data_ptr',
      'TABLE',
      'self::TABLE',
      'rust_opt::TABLE',
      'rust_opt::TABLE[2] + 1',
      'rust_opt::REGIONS[1].mode',
      'rust_opt::GREETING',
      'rust_opt::GREETING[1]',
      'r',
      '*r',
      'r.base',
      'r.name.length',
      'addr',
      'addr >= r.base',
      'addr < r.base',
      'tracker.regions[1].base as u32',
      '3u8 + 4',
      'rust_opt::Mode::Run',
      'rust_opt::Mode::Done',
      'r.mode == rust_opt::Mode::Idle',
      'r.mode == rust_opt::Mode::Run',
    ];
    // Ours (left) read the same thing as gdb's (right).
    const pairs: [string, string][] = [
      ['tracker.regions.len()', 'tracker.regions.length'],
      ['tracker->regions.len()', 'tracker.regions.length'],
      ['r.name.len()', 'r.name.length'],
      ['rust_opt::GREETING.len()', 'rust_opt::GREETING.length'],
      ['crate::TABLE', 'rust_opt::TABLE'],
      ['crate::REGIONS[0].name', 'rust_opt::REGIONS[0].name'],
      ['TABLE.len()', 'sizeof(rust_opt::TABLE) / 4'],
      ['tracker.regions.is_empty()', 'tracker.regions.length == 0'],
    ];
    const [locals, ...printed] = await gdbLive(
      elf,
      `rust_opt.rs:${line}`,
      ['info locals', ...[...same, ...pairs.map((p) => p[1])].map((e) => `print ${e}`)],
      1,
      MACHINE,
    );
    const want = printed.map((p) => plain(p.replace(/^\$\d+ = /, '')));
    await dap.launch(
      {
        program: elf,
        qemu: 'qemu-system-aarch64',
        qemuArgs: [...QEMU_ARGS, '-kernel', elf],
        stopOnEntry: false,
      },
      async () => {
        await dap.dc.setBreakpointsRequest({ source: { path: rustSource }, breakpoints: [{ line }] });
      },
    );
    const frame = (await dap.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    assert.match(frame.name, /rust_opt::find/);
    const ev = async (e: string) =>
      plain(
        (await dap.dc.evaluateRequest({ expression: e, frameId: frame.id, context: 'watch' })).body.result,
      );
    for (const [i, e] of same.entries()) assert.equal(await ev(e), want[i], e);
    // The Locals scope as gdb's info locals. rustc describes `iter` (a 16-byte slice iterator) by
    // one 8-byte piece: its `ptr` is known, its `end` is not. gdb prints such an uncovered pointer
    // `<synthetic pointer>` (its test for one is vacuously true where no piece covers the bits); we
    // say `<optimized out>`, so the two words are read as one here.
    const sc = await dap.dc.scopesRequest({ frameId: frame.id });
    const ref = sc.body.scopes.find((x) => x.name === 'Locals')?.variablesReference ?? 0;
    const ours = new Map(
      (await dap.dc.variablesRequest({ variablesReference: ref })).body.variables.map((v) => [
        v.name,
        plain(v.value),
      ]),
    );
    const theirs = [...locals.matchAll(/^(\w+) = (.*)$/gm)];
    assert.ok(theirs.length >= 2, locals);
    const unknown = (x: string | undefined) => x?.replace(/<synthetic pointer>/g, '<optimized out>');
    for (const [, name, value] of theirs)
      assert.equal(unknown(ours.get(name)), unknown(plain(value)), `${name}: gdb says ${value}`);
    assert.match(ours.get('iter') ?? '', /\{ptr: .*pointer: 0x[0-9a-f]+\}, end: <optimized out>, /);
    for (const [i, [ours, theirs]] of pairs.entries())
      assert.equal(await ev(ours), want[same.length + i], `${ours} (gdb: ${theirs})`);
    // gdb's own words for it (on stderr, which gdbLive does not keep).
    await assert.rejects(
      dap.dc.evaluateRequest({ expression: 'tracker.regions[5]', frameId: frame.id, context: 'watch' }),
      /Index greater than length/,
    );
    await assert.rejects(
      dap.dc.evaluateRequest({ expression: 'tracker.regions.iter()', frameId: frame.id, context: 'watch' }),
      /only len\(\) and is_empty\(\)/,
    );
  });

  void test('in a method: self, its fields through &self, self.regions.len()', async () => {
    const line = rustLine('tracker: first_base');
    const same = ['self', 'self.count', 'self.regions[0].base', '*self', 'self.regions.length', 'self.last'];
    const printed = await gdbLive(
      elf,
      `rust_opt.rs:${line}`,
      [...same, 'self.regions.length', 'rust_opt::TABLE'].map((e) => `print ${e}`),
      1,
      MACHINE,
    );
    const want = printed.map((p) => plain(p.replace(/^\$\d+ = /, '')));
    await dap.dc.setBreakpointsRequest({ source: { path: rustSource }, breakpoints: [{ line }] });
    const m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    await dap.nextStop(m);
    const frame = (await dap.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    assert.match(frame.name, /first_base/);
    const ev = async (e: string) =>
      plain(
        (await dap.dc.evaluateRequest({ expression: e, frameId: frame.id, context: 'watch' })).body.result,
      );
    for (const [i, e] of same.entries()) assert.equal(await ev(e), want[i], e);
    assert.equal(await ev('self.regions.len()'), want[same.length]);
    // In a method, module-relative names reach the module past the type in the path.
    assert.equal(await ev('TABLE'), want[same.length + 1]);
    assert.equal(await ev('self::TABLE'), want[same.length + 1]);
  });
});
