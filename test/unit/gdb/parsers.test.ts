import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bigIntToLeBytes, bytesToHex, hexInto, hexToBytes, leBytesToBigInt } from '../../../src/gdb/hex';
import { formatThreadId, parseStopReply, parseThreadId } from '../../../src/gdb/stop-reply';
import { parseTargetDescription } from '../../../src/gdb/target-xml';

void describe('stop replies', () => {
  void test('T with thread, watchpoint and expedited registers', () => {
    const e = parseStopReply('T05thread:p01.02;watch:40083000;20:1001084000000000;swbreak:;');
    assert.equal(e.kind, 'signal');
    if (e.kind !== 'signal') return;
    assert.equal(e.signal, 5);
    assert.deepEqual(e.thread, { pid: 1, tid: 2 });
    assert.deepEqual(e.watchpoint, { type: 'watch', address: 0x40083000n });
    assert.equal(e.swbreak, true);
    assert.equal(leBytesToBigInt(e.registers.get(0x20) ?? new Uint8Array()), 0x40080110n);
  });
  void test('rwatch / awatch and S, W, X', () => {
    const r = parseStopReply('T05rwatch:10;');
    assert.equal(r.kind === 'signal' && r.watchpoint?.type, 'rwatch');
    const s = parseStopReply('S02');
    assert.equal(s.kind === 'signal' && s.signal, 2);
    assert.deepEqual(parseStopReply('W00'), { kind: 'exited', code: 0, raw: 'W00' });
    assert.deepEqual(parseStopReply('X09;process:a'), {
      kind: 'terminated',
      signal: 9,
      pid: 10,
      raw: 'X09;process:a',
    });
    assert.throws(() => parseStopReply('OK'));
  });
  void test('thread ids in both forms round-trip', () => {
    assert.deepEqual(parseThreadId('p01.0a'), { pid: 1, tid: 10 });
    assert.deepEqual(parseThreadId('3'), { tid: 3 });
    assert.deepEqual(parseThreadId('p1.-1'), { pid: 1, tid: -1 });
    assert.equal(formatThreadId({ pid: 1, tid: 10 }, true), 'p1.a');
    assert.equal(formatThreadId({ pid: 1, tid: 10 }, false), 'a');
  });
});

void describe('target description', () => {
  void test('numbers follow document order across includes and reset at regnum', () => {
    const docs = new Map([
      ['target.xml', '<target><xi:include href="a.xml"/><xi:include href="b.xml"/></target>'],
      [
        'a.xml',
        '<feature name="f.a"><reg name="x0" bitsize="64"/><reg name="x1" bitsize="64" group="general"/></feature>',
      ],
      [
        'b.xml',
        '<feature name="f.b"><reg name="TTBR0_EL1" bitsize="64" regnum="100" group="cp_regs"/><reg name="SCTLR" bitsize="64"/></feature>',
      ],
    ]);
    const m = parseTargetDescription(docs);
    assert.deepEqual(
      m.all.map((r) => [r.name, r.regnum, r.feature]),
      [
        ['x0', 0, 'f.a'],
        ['x1', 1, 'f.a'],
        ['TTBR0_EL1', 100, 'f.b'],
        ['SCTLR', 101, 'f.b'],
      ],
    );
    assert.equal(m.get('ttbr0_el1')?.regnum, 100, 'case-insensitive fallback');
    assert.equal(m.get(101)?.name, 'SCTLR');
    assert.equal(m.get('x1')?.group, 'general');
  });
  void test('a missing include is an error, not a silent gap in numbering', () => {
    assert.throws(() => parseTargetDescription(new Map([['target.xml', '<xi:include href="gone.xml"/>']])));
  });
});

void describe('hex', () => {
  void test('bytes and little-endian values round-trip; invalid hex is rejected', () => {
    assert.equal(bytesToHex(new Uint8Array([0, 0xab, 0x7f])), '00ab7f');
    assert.deepEqual([...(hexToBytes(Buffer.from('00AbfF')) ?? [])], [0, 0xab, 0xff]);
    assert.equal(hexToBytes(Buffer.from('0')), undefined);
    assert.equal(hexToBytes(Buffer.from('xx')), undefined);
    assert.equal(leBytesToBigInt(bigIntToLeBytes(0x00e0_0000_0900_0402n, 8)), 0x00e0_0000_0900_0402n);
    assert.deepEqual([...bigIntToLeBytes(-1n, 2)], [0xff, 0xff]);
    const long = 'c0ffee'.repeat(40);
    assert.deepEqual([...(hexToBytes(Buffer.from(long)) ?? [])], [...Buffer.from(long, 'hex')]);
    assert.equal(hexToBytes(Buffer.from(`${long.slice(0, 100)}zz${long.slice(102)}`)), undefined);
    const dest = new Uint8Array(8);
    assert.equal(hexInto(Buffer.from('a1b2'), dest, 3), true);
    assert.deepEqual([...dest], [0, 0, 0, 0xa1, 0xb2, 0, 0, 0]);
    assert.equal(hexInto(Buffer.from('a1g2'), dest, 0), false);
    assert.equal(hexInto(Buffer.from('a1b2'), dest, 7), false, 'does not write past the end');
  });
});
