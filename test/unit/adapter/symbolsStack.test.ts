// Symbol lookup and the frame-pointer unwinder over a fake memory (pure).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SymbolTable } from '../../../src/elf/symbolTable';
import { vectorAt } from '../../../src/aarch64/vectors';
import { unwind } from '../../../src/adapter/stack';
import { isCall, isExceptionGenerating, isHvc } from '../../../src/target/insn';

const symbols = new SymbolTable([
  { name: '_start', address: 0x1000n, size: 0n, isFunction: false },
  { name: '__image_start', address: 0x1000n, size: 0n, isFunction: false },
  { name: 'main', address: 0x2000n, size: 0x100n, isFunction: true },
  { name: 'leaf', address: 0x2100n, size: 0x40n, isFunction: true },
  { name: 'vectors', address: 0x3000n, size: 0n, isFunction: false },
  { name: '$x', address: 0x2000n, size: 0n, isFunction: false },
]);

function memory(words: Record<string, bigint>) {
  return (a: bigint): Promise<[bigint, bigint] | undefined> => {
    const lo = words[`0x${a.toString(16)}`];
    const hi = words[`0x${(a + 8n).toString(16)}`];
    return Promise.resolve(lo === undefined || hi === undefined ? undefined : [lo, hi]);
  };
}

void describe('symbols', () => {
  void test('lookup prefers functions and non-marker names; sized symbols bound the range', () => {
    assert.equal(symbols.describe(0x1000n), '_start');
    assert.equal(symbols.describe(0x1004n), '_start+0x4');
    assert.equal(symbols.describe(0x2010n), 'main+0x10');
    assert.equal(symbols.describe(0x2120n), 'leaf+0x20');
    assert.equal(symbols.describe(0x2140n), undefined, 'past the end of a sized symbol');
    assert.equal(symbols.lookup('main')?.address, 0x2000n);
    assert.equal(symbols.lookup('$x'), undefined);
    assert.equal(symbols.describe(0x10n), undefined);
    assert.deepEqual(symbols.complete('ma'), ['main']);
  });
});

void describe('unwind', () => {
  void test('leaf without a frame record: pc, x30, then the chain', async () => {
    // leaf called from main (x30 = 0x2044); main's record at 0x8000 returns to _start+0x20.
    const frames = await unwind({
      pc: 0x2104n,
      x29: 0x8000n,
      x30: 0x2044n,
      vectors: [],
      readU64Pair: memory({ '0x8000': 0x8100n, '0x8008': 0x1024n, '0x8100': 0n, '0x8108': 0n }),
      symbols,
    });
    assert.deepEqual(
      frames.map((f) => symbols.describe(f.pc)),
      ['leaf+0x4', 'main+0x40', '_start+0x20'],
    );
  });

  void test('x30 pointing into the same function is ignored; a looping chain stops', async () => {
    const frames = await unwind({
      pc: 0x2080n,
      x29: 0x8000n,
      x30: 0x2060n,
      vectors: [],
      readU64Pair: memory({ '0x8000': 0x8000n, '0x8008': 0x1024n }),
      symbols,
    });
    assert.deepEqual(
      frames.map((f) => symbols.describe(f.pc)),
      ['main+0x80', '_start+0x20'],
    );
  });

  void test('in a vector: a labelled frame for the interrupted context at ELR', async () => {
    assert.equal(vectorAt(0x3200n, 0x3000n), 'Synchronous, current EL with SPx');
    assert.equal(vectorAt(0x3800n, 0x3000n), undefined);
    assert.equal(vectorAt(0x10n, 0n), undefined);
    const frames = await unwind({
      pc: 0x3000n,
      x29: 0x8000n,
      x30: 0x2044n,
      vectors: [{ el: 1, vbar: 0x3000n, elr: 0x2108n }],
      readU64Pair: memory({ '0x8000': 0n, '0x8008': 0x1024n }),
      symbols,
    });
    assert.equal(frames[1].pc, 0x2108n);
    assert.equal(frames[1].label, 'Synchronous, current EL with SP0 (EL1)');
    assert.deepEqual(
      frames.map((f) => symbols.describe(f.pc)),
      ['vectors', 'leaf+0x8', 'main+0x40', '_start+0x20'],
    );
  });
});

void describe('A64 encodings', () => {
  void test('calls and exception-generating instructions', () => {
    assert.equal(isCall(0x94000010), true); // bl
    assert.equal(isCall(0xd63f0100), true); // blr x8
    assert.equal(isCall(0x14000010), false); // b
    assert.equal(isCall(0xd65f03c0), false); // ret
    assert.equal(isHvc(0xd4000002), true); // hvc #0
    assert.equal(isExceptionGenerating(0xd4000001), true); // svc #0
    assert.equal(isExceptionGenerating(0xd4000003), true); // smc #0
    assert.equal(isHvc(0xd4000001), false);
  });
});
