// Source breakpoints resolved through a real fixture ELF's line table (binutils as the oracle for
// addresses), with conditions, hit counts and logpoints decided by onHit.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  localSourcePath,
  parseHitCondition,
  renderLogMessage,
  SourceBreakpoints,
  sourceRoots,
  type BreakpointSink,
} from '../../../src/adapter/sourceBreakpoints';
import { ElfImage } from '../../../src/elf';
import { decodedLine, fixture, nmSymbols, ROOT } from '../elf/oracle';

const mainC = join(ROOT, 'test/fixtures/elf/main.c');
const asmS = join(ROOT, 'test/fixtures/elf/asm.S');
const lines = readFileSync(mainC, 'utf8').split('\n');
const lineOf = (text: string) => lines.findIndex((l) => l.includes(text)) + 1;

class RecordingSink implements BreakpointSink {
  addresses = new Set<bigint>();
  calls = 0;
  replace(_owner: 'source', addresses: Iterable<bigint>): Promise<void> {
    this.addresses = new Set(addresses);
    this.calls++;
    return Promise.resolve();
  }
}

void describe('SourceBreakpoints', () => {
  const fx = fixture(5, '-O0');
  const image = ElfImage.parse(fx.bytes);
  const oracle = decodedLine(fx.path);
  const firstStmt = (file: string, line: number) =>
    oracle.find((r) => r.file === file && r.line === line && r.isStmt)?.address;

  void test('verified on a line with code; moved from a blank line; unverified past the end', async () => {
    const sink = new RecordingSink();
    const sb = new SourceBreakpoints(() => image, sink);
    const call = lineOf('sink += helper_add');
    const res = await sb.set({
      source: { path: mainC },
      breakpoints: [{ line: call }, { line: call + 1 }, { line: lines.length + 10 }],
    });
    const [a, b, c] = res.breakpoints;
    assert.equal(a?.verified, true);
    assert.equal(a.line, call);
    assert.equal(a.instructionReference, `0x${firstStmt('main.c', call)!.toString(16)}`);
    assert.equal(b?.verified, true);
    assert.equal(b.line, lineOf('sink += asm_double'));
    assert.match(b.message ?? '', /moved from line/);
    assert.equal(c?.verified, false);
    assert.match(c.message ?? '', /no code at or after line/);
    assert.deepEqual(
      [...sink.addresses].sort(),
      [firstStmt('main.c', call), firstStmt('main.c', lineOf('sink += asm_double'))].sort(),
    );
    assert.deepEqual(sb.idsAt(firstStmt('main.c', call)!), [a.id]);
  });

  void test('assembly source lines resolve too; clearing a file removes its addresses only', async () => {
    const sink = new RecordingSink();
    const sb = new SourceBreakpoints(() => image, sink);
    const hvc =
      readFileSync(asmS, 'utf8')
        .split('\n')
        .findIndex((l) => l.includes('hvc')) + 1;
    const r = await sb.set({ source: { path: asmS }, breakpoints: [{ line: hvc }] });
    const label = nmSymbols(fx.path).find((s) => s.name === 'asm_label_only')!.value;
    assert.equal(r.breakpoints[0]?.instructionReference, `0x${label.toString(16)}`);
    await sb.set({ source: { path: mainC }, breakpoints: [{ line: lineOf('total += square') }] });
    assert.equal(sink.addresses.size, 2);
    await sb.set({ source: { path: mainC }, breakpoints: [] });
    assert.deepEqual([...sink.addresses], [label]);
  });

  void test('unverified with a reason: no program, unknown file, bad hit condition', async () => {
    const none = new SourceBreakpoints(() => undefined, new RecordingSink());
    const r1 = await none.set({ source: { path: mainC }, breakpoints: [{ line: 3 }] });
    assert.match(r1.breakpoints[0]?.message ?? '', /no "program"/);
    const sb = new SourceBreakpoints(() => image, new RecordingSink());
    const r2 = await sb.set({ source: { path: '/src/other.c' }, breakpoints: [{ line: 3 }] });
    assert.equal(r2.breakpoints[0]?.verified, false);
    const r3 = await sb.set({
      source: { path: mainC },
      breakpoints: [{ line: lineOf('total = 0'), hitCondition: 'often' }],
    });
    assert.match(r3.breakpoints[0]?.message ?? '', /hit condition/);
  });

  void test('conditions, hit counts and logpoints at a hit', async () => {
    const sb = new SourceBreakpoints(() => image, new RecordingSink());
    const line = lineOf('total += square');
    const cond = await sb.set({ source: { path: mainC }, breakpoints: [{ line, condition: '$x0 == 3' }] });
    const addr = BigInt(cond.breakpoints[0].instructionReference!);
    let x0 = 0n;
    const evaluate = (e: string) => {
      if (e === '$x0 == 3') return Promise.resolve(x0 === 3n);
      if (e === '$x0') return Promise.resolve(x0);
      return Promise.reject(new Error(`unknown '${e}'`));
    };
    const stops: boolean[] = [];
    for (x0 = 0n; x0 < 5n; x0++) stops.push((await sb.onHit(addr, evaluate)).stop);
    assert.deepEqual(stops, [false, false, false, true, false]);

    await sb.set({ source: { path: mainC }, breakpoints: [{ line, hitCondition: '%2' }] });
    const every2: boolean[] = [];
    for (let i = 0; i < 4; i++) every2.push((await sb.onHit(addr, evaluate)).stop);
    assert.deepEqual(every2, [false, true, false, true]);

    await sb.set({ source: { path: mainC }, breakpoints: [{ line, logMessage: 'i={$x0} {{literal}}' }] });
    x0 = 7n;
    const log = await sb.onHit(addr, evaluate);
    assert.equal(log.stop, false);
    assert.deepEqual(log.logs, ['i=0x7 {literal}']);

    await sb.set({ source: { path: mainC }, breakpoints: [{ line, condition: 'nonsense' }] });
    const bad = await sb.onHit(addr, evaluate);
    assert.equal(bad.stop, true);
    assert.match(bad.errors[0] ?? '', /nonsense/);
  });

  void test('hit condition forms', () => {
    assert.deepEqual(parseHitCondition('3'), { op: '>=', n: 3 });
    assert.deepEqual(parseHitCondition('== 2'), { op: '==', n: 2 });
    assert.throws(() => parseHitCondition('%0'));
  });

  void test('log message rendering keeps going past a failing expression', async () => {
    const text = await renderLogMessage('a={a} b={b}', (e) =>
      e === 'a' ? Promise.resolve(1) : Promise.reject(new Error('no b')),
    );
    assert.equal(text, 'a=1 b=<no b>');
  });
});

void describe('source paths', () => {
  void test('relative DWARF paths resolve under the program directory or its ancestors', () => {
    const files = new Set(['/work/main/guest/src/memory.c', '/home/u/tree/src/x.c']);
    const exists = (p: string) => files.has(p);
    const roots = sourceRoots('/work/main/guest/build/demo.elf');
    assert.deepEqual(roots.slice(0, 3), ['/work/main/guest/build', '/work/main/guest', '/work/main']);
    assert.equal(localSourcePath('guest/src/memory.c', roots, exists), '/work/main/guest/src/memory.c');
    // Built elsewhere: the trailing components still find the local checkout.
    assert.equal(localSourcePath('/build/tree/src/x.c', ['/home/u/tree'], exists), '/home/u/tree/src/x.c');
    assert.equal(localSourcePath('guest/src/none.c', roots, exists), undefined);
  });
});
