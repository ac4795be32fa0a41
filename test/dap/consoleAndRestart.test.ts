// Issue #14 through the adapter, real QEMU + the demo firmware: the Debug Console's `x` dump and
// `translate --write/--exec`, its completions and help; the console page (guard-mapped at boot,
// outside every tracked region) named as such; a Restart that starts clean (a `continued` event,
// stops numbered from 1 again, no change carried over); and a Stop whose QEMU goodbye is not stderr.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { GuardStateResponseBody, MmuChangedEventBody } from '../../src/shared/protocol';
import { demoLaunch, useDap } from './support';

const CONSOLE_PAGE = 0x9000000n;

void describe('Debug Console commands, the untracked console page, Restart and Stop', () => {
  const dap = useDap();
  let firstStop: MmuChangedEventBody | undefined;
  let faultStop: MmuChangedEventBody | undefined;

  const evaluateIn = async (
    expression: string,
    context: string,
  ): Promise<DebugProtocol.EvaluateResponse['body']> =>
    (await dap.dc.evaluateRequest({ expression, context })).body;
  const complete = async (text: string): Promise<string[]> =>
    (await dap.dc.completionsRequest({ text, column: text.length + 1 })).body.targets.map((t) => t.label);

  void test('launch, then stop at handle_mmio_fault for the RTC page', async () => {
    const m0 = dap.mark();
    await dap.launch(demoLaunch());
    firstStop = await dap.nextMmu(m0);
    assert.equal(firstStop.stopId, 1);
    await dap.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'handle_mmio_fault' }] });
    const m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    faultStop = (await dap.nextStopWithMmu(m)).mmu;
    assert.equal(faultStop.stopId, 2);
  });

  void test('x/16gx, x/32bx, x/8wx and p: dump the same bytes as *(u64*) reads', async () => {
    const q0 = BigInt((await dap.evaluate('*(u64*)el1_entry')).split(' ')[0]);
    const q1 = BigInt((await dap.evaluate('*(u64*)(el1_entry + 8)')).split(' ')[0]);
    const hex16 = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;

    const giant = (await dap.evaluate('x/16gx el1_entry')).split('\n');
    assert.equal(giant.length, 8, giant.join('\n'));
    assert.equal(giant[0], `0x40218000 <el1_entry>: ${hex16(q0)} ${hex16(q1)}`);
    for (const line of giant) assert.match(line, /^0x[0-9a-f]{8}( <[^>]+>)?: (0x[0-9a-f]{16} ?){2}$/);

    const bytes = (await dap.evaluate('x/32bx el1_entry')).split('\n');
    assert.equal(bytes.length, 2);
    const first8 = bytes[0]
      .split(': ')[1]
      .split(' ')
      .slice(0, 8)
      .map((b) => BigInt(b));
    assert.equal(
      first8.reduceRight((v, b) => (v << 8n) | b, 0n),
      q0,
      bytes[0],
    );

    const words = (await dap.evaluate('x/8wx p:0x40218000')).split('\n');
    assert.equal(words.length, 2);
    assert.equal(
      words[0],
      `p:0x40218000: 0x${(q0 & 0xffffffffn).toString(16).padStart(8, '0')} ` +
        `0x${(q0 >> 32n).toString(16).padStart(8, '0')} 0x${(q1 & 0xffffffffn).toString(16).padStart(8, '0')} ` +
        `0x${(q1 >> 32n).toString(16).padStart(8, '0')}`,
    );

    assert.equal((await dap.evaluate('x/1gu el1_entry')).split(': ')[1], q0.toString());
    const r = await evaluateIn('x/2gx el1_entry', 'repl');
    assert.equal(r.memoryReference, '0x40218000');
  });

  void test('x on a lazy MMIO page says why it cannot be read; device pages are read only from the console', async () => {
    await assert.rejects(dap.evaluate('x/2gx 0x9010000'), /lazy MMIO page.*handle_mmio_fault/s);
    await assert.rejects(
      evaluateIn(`x/1wx 0x${CONSOLE_PAGE.toString(16)}`, 'watch'),
      /device memory.*refused from the 'watch' context/,
    );
    await assert.rejects(dap.evaluate('x/8192bx el1_entry'), /at most 4096 bytes/);
    await assert.rejects(dap.evaluate('x/16q el1_entry'), /usage: x\/NFU ADDRESS/);
  });

  void test('translate --write and --exec check the access, as the CLI does', async () => {
    const code = await dap.evaluate('translate el1_entry');
    assert.match(code.split('\n')[0], /^0x0040218000 \(TTBR0_EL1\) → IPA 0x40218000 → PA 0x40218000$/);
    const write = await dap.evaluate('translate el1_entry --write');
    assert.match(
      write.split('\n')[0],
      /^0x0040218000 \(TTBR0_EL1, write\) → fault: Permission fault, level 3/,
    );
    const exec = await dap.evaluate('translate --exec el1_entry');
    assert.match(exec.split('\n')[0], /^0x0040218000 \(TTBR0_EL1, instruction fetch\) → IPA 0x40218000/);
    const data = await dap.evaluate('translate demo_stats --exec');
    assert.match(data.split('\n')[0], /\(TTBR0_EL1, instruction fetch\) → fault: Permission fault/);
    assert.match((await dap.evaluate('translate demo_stats --write')).split('\n')[0], /, write\) → IPA /);
    // A write to the lazy page: pvmfw's verdict for the write (WnR) is the lazy-MMIO one.
    const lazy = await dap.evaluate('translate 0x9010000 --write');
    assert.match(lazy, /verdict: lazy MMIO: handle_mmio_fault will MMIO_GUARD_MAP/);
    await assert.rejects(dap.evaluate('translate el1_entry --write --exec'), /pick one/);
    await assert.rejects(dap.evaluate('translate el1_entry --rw'), /unknown option '--rw'/);
  });

  void test('completions: commands, translate options, x forms, registers, symbols after p:', async () => {
    assert.deepEqual(await complete('trans'), ['translate']);
    assert.ok((await complete('')).includes('x'));
    assert.deepEqual(await complete('translate el1_entry --w'), ['--write']);
    assert.deepEqual(await complete('translate el1_entry --write --'), ['--exec']);
    assert.ok((await complete('x/')).includes('x/16gx'));
    assert.ok((await complete('x/16gx handle_mm')).includes('handle_mmio_fault'));
    assert.ok((await complete('$TTBR')).includes('$TTBR0_EL1'));
    const afterP = (await dap.dc.completionsRequest({ text: 'x/8wx p:_sta', column: 13 })).body.targets;
    const start = afterP.find((t) => t.label === '_start');
    assert.ok(start, JSON.stringify(afterP));
    assert.equal(start.start, 8);
    assert.ok((await complete('monitor info m')).includes('info mtree -f'));
    const help = await dap.evaluate('help');
    for (const c of [
      'pte ',
      'translate ADDRESS [--write|--exec]',
      'x/NFU ADDRESS',
      'guard',
      'monitor ',
      'help',
    ])
      assert.ok(help.includes(c), `help lacks ${c}`);
  });

  void test('the console page is guard-mapped outside every tracked region: in mmuChanged and in pte', async () => {
    const guard = await dap.custom<GuardStateResponseBody>('guardState', { omitLog: true });
    assert.ok(
      guard.untracked.some((r) => BigInt(r.start) === CONSOLE_PAGE),
      JSON.stringify(guard.untracked),
    );
    assert.deepEqual(faultStop?.untracked, guard.untracked);
    const pte = await dap.evaluate(`pte 0x${CONSOLE_PAGE.toString(16)}`);
    assert.match(pte, /\n {2}guard: guard-mapped, untracked \(outside every tracked MMIO region/);
    // A tracked page names its state in the views' words.
    assert.match(await dap.evaluate('pte 0x9010000'), /\n {2}guard: untouched \(lazy\)\n/);
  });

  void test('Restart: a continued event, then stop 1 again with nothing carried over', async () => {
    const m = dap.mark();
    await dap.dc.customRequest('restart', {});
    const { stop, mmu } = await dap.nextStopWithMmu(m);
    const names = dap.events.slice(m).map((e) => e.event);
    const cont = names.indexOf('continued');
    assert.ok(cont >= 0 && cont < names.indexOf('stopped'), names.join(', '));
    const body = dap.events[m + cont].body as DebugProtocol.ContinuedEvent['body'];
    assert.equal(body.allThreadsContinued, true);
    assert.equal(stop.reason, 'entry');
    assert.equal(stop.description, 'Restarted');
    assert.equal(mmu.stopId, 1);
    assert.equal(mmu.reason, 'entry');
    assert.deepEqual(mmu.changes, []);
    assert.equal(mmu.fault, undefined);
    const guard = await dap.custom<GuardStateResponseBody>('guardState', { omitLog: true });
    assert.equal(guard.stopId, 1);
    assert.equal((await dap.topFrame()).name, '_start');
    // The next stop is 2, and compares with the restarted machine's first stop only.
    const m2 = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    const again = await dap.nextStopWithMmu(m2);
    assert.equal(again.mmu.stopId, 2);
  });

  void test('Stop: QEMU\'s "terminating on signal 15" is not reported as stderr', async () => {
    const m = dap.mark();
    await dap.dc.disconnectRequest({ terminateDebuggee: true });
    const goodbye = await dap.next<DebugProtocol.OutputEvent['body']>(
      'output',
      m,
      (b) => b.output.includes('terminating on signal 15'),
      10_000,
    );
    assert.equal(goodbye.category, 'console');
    const stderr = dap.events
      .slice(m)
      .filter(
        (e) => e.event === 'output' && (e.body as DebugProtocol.OutputEvent['body']).category === 'stderr',
      );
    assert.deepEqual(stderr, []);
  });
});
