// The Memory view's pure parts (#14 item 9): every message from the webview validated (addresses within
// their space, reads bounded), the address box, the row model (groups, `??` with reasons, changes since
// the previous stop, virtual scrolling over a whole address space) and the targets of a PTE.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isHostToMemoryView,
  MAX_READ_BYTES,
  parseGotoText,
  parseMemoryReferenceText,
  parseMemoryViewToHost,
  parseOpenMemoryEvent,
  SPACE_END,
} from '../../../src/shared/memoryViewMessages';
import {
  buildRows,
  changedCount,
  clampTop,
  LineStore,
  MAX_LINES,
  nextStores,
  storeKey,
  scrollKey,
  thumbFraction,
  topAtFraction,
  topShowing,
  unreadableRuns,
} from '../../../media/memoryModel';
import { entryTableTarget, mappedPageTarget } from '../../../src/ui/memoryViewTargets';
import { rtcPte } from './pteFixture';
import { formatAddress } from '../../../src/shared/format';

const hex = (bytes: number[]): string => bytes.map((b) => b.toString(16).padStart(2, '0')).join('');

void describe('Memory view messages', () => {
  void test('a read is accepted only within its space and at most MAX_READ_BYTES', () => {
    assert.deepEqual(
      parseMemoryViewToHost({ type: 'read', id: 3, space: 'physical', address: '0x40224000', length: 256 }),
      { type: 'read', id: 3, space: 'physical', address: '0x40224000', length: 256 },
    );
    const bad: unknown[] = [
      { type: 'read', id: 1, space: 'virtual', address: '0x1000', length: MAX_READ_BYTES + 1 },
      { type: 'read', id: 1, space: 'virtual', address: '0x1000', length: 0 },
      { type: 'read', id: 1, space: 'virtual', address: '0x1000', length: 1.5 },
      { type: 'read', id: -1, space: 'virtual', address: '0x1000', length: 16 },
      { type: 'read', id: 1, space: 'kernel', address: '0x1000', length: 16 },
      { type: 'read', id: 1, space: 'virtual', address: 4096, length: 16 },
      { type: 'read', id: 1, space: 'virtual', address: '4096', length: 16 },
      { type: 'read', id: 1, space: 'virtual', address: '0x10000000000000000', length: 16 },
      // Physical addresses stop at 52 bits; a read may not run past the end of its space.
      { type: 'read', id: 1, space: 'physical', address: '0x10000000000000', length: 16 },
      { type: 'read', id: 1, space: 'physical', address: '0xffffffffffff8', length: 16 },
      { type: 'read', id: 1, space: 'virtual', address: '0xfffffffffffffff8', length: 16 },
      { type: 'write', address: '0x1000', data: 'AA==' },
      { type: 'goto', text: 'a\u0000b', space: 'virtual' },
      { type: 'goto', text: 'x'.repeat(257), space: 'virtual' },
      null,
      'ready',
      [],
    ];
    for (const m of bad) assert.equal(parseMemoryViewToHost(m), undefined, JSON.stringify(m));
    assert.deepEqual(
      parseMemoryViewToHost({
        type: 'read',
        id: 1,
        space: 'virtual',
        address: '0xfffffffffffffff0',
        length: 16,
      }),
      { type: 'read', id: 1, space: 'virtual', address: '0xfffffffffffffff0', length: 16 },
    );
    // Extra fields do not pass through.
    assert.deepEqual(parseMemoryViewToHost({ type: 'ready', html: '<script>' }), { type: 'ready' });
  });

  void test('the address box: hex, p:/v:, decimal, underscores, or an expression; bounded', () => {
    assert.deepEqual(parseGotoText('0x4020_0000', 'virtual'), { space: 'virtual', address: 0x40200000n });
    assert.deepEqual(parseGotoText(' p:0x9000000 ', 'virtual'), { space: 'physical', address: 0x9000000n });
    assert.deepEqual(parseGotoText('v:4096', 'physical'), { space: 'virtual', address: 4096n });
    assert.deepEqual(parseGotoText('el1_entry + 0x10', 'virtual'), {
      space: 'virtual',
      expression: 'el1_entry + 0x10',
    });
    assert.deepEqual(parseGotoText('p:pt_root', 'virtual'), { space: 'physical', expression: 'pt_root' });
    assert.match(
      (parseGotoText('p:0x10000000000000', 'virtual') as { error: string }).error,
      /outside the physical/,
    );
    assert.match((parseGotoText('   ', 'virtual') as { error: string }).error, /type an address/);
    // Values only: console commands and other syntax never reach the adapter's evaluate.
    for (const t of ['monitor info registers', 'pte 0x9010000', 'guard', 'x/4gx 0x1000', '*(u64*)$sp', 'a;b'])
      assert.match(
        (parseGotoText(t, 'virtual') as { error: string }).error,
        /takes an address, a symbol or a register/,
        t,
      );
    assert.deepEqual(parseGotoText('$sp - 0x40', 'virtual'), { space: 'virtual', expression: '$sp - 0x40' });
    assert.match(
      (parseGotoText('1'.repeat(30), 'virtual') as { error: string }).error,
      /not a virtual address/,
    );
  });

  void test('memory references and the console event are parsed, not trusted', () => {
    assert.deepEqual(parseMemoryReferenceText('p:0x40224000'), { space: 'physical', address: 0x40224000n });
    assert.deepEqual(parseMemoryReferenceText('0x9010000'), { space: 'virtual', address: 0x9010000n });
    for (const r of ['', 'p:', '0x', 'q:0x10', '0x1_0000', 12, undefined, 'p:0xfffffffffffff000'])
      assert.equal(parseMemoryReferenceText(r), undefined, String(r));
    assert.deepEqual(parseOpenMemoryEvent({ memoryReference: 'p:0x1000', origin: 'mem p:0x1000' }), {
      space: 'physical',
      address: 0x1000n,
      origin: 'mem p:0x1000',
    });
    assert.equal(parseOpenMemoryEvent({ memoryReference: 'javascript:1' }), undefined);
    assert.equal(parseOpenMemoryEvent('p:0x1000'), undefined);
  });

  void test('the webview checks what the host sends', () => {
    const target = (vaBits: unknown) => ({ type: 'target', state: 'stopped', message: 'stop 3', vaBits });
    assert.ok(isHostToMemoryView(target(39)));
    assert.ok(isHostToMemoryView(target(undefined)));
    for (const bad of [0, 65, 48.5, '48', null]) assert.ok(!isHostToMemoryView(target(bad)), String(bad));
    assert.ok(isHostToMemoryView({ type: 'navigate', space: 'virtual', address: '0x10', origin: 'x' }));
    assert.ok(!isHostToMemoryView({ type: 'navigate', space: 'physical', address: '0xffffffffffffffff' }));
    assert.ok(
      isHostToMemoryView({
        type: 'bytes',
        id: 1,
        space: 'virtual',
        address: '0x0',
        run: 'a#0',
        stop: 2,
        segments: [
          { length: 2, data: '00ff' },
          { length: 4, unreadable: 'translation fault' },
        ],
      }),
    );
    assert.ok(
      !isHostToMemoryView({
        type: 'bytes',
        id: 1,
        space: 'virtual',
        address: '0x0',
        run: 'a#0',
        stop: 2,
        segments: [{ length: 2, data: '<img>' }],
      }),
    );
  });
});

void describe('Memory view rows', () => {
  void test('bytes, ASCII, `??` with the reason, `··` while unread; groups read little-endian', () => {
    const store = new LineStore('virtual', 'r#0', 1);
    store.put(0x1000n, [
      { length: 8, data: hex([0x41, 0x42, 0x00, 0x7f, 0x01, 0x02, 0x03, 0x04]) },
      { length: 8, unreadable: 'translation fault at level 3' },
    ]);
    const [row, next] = buildRows({
      space: 'virtual',
      top: 0x1000n,
      rows: 2,
      group: 1,
      current: store,
      previous: undefined,
    });
    assert.equal(row.addressText, '0x000000001000');
    assert.deepEqual(
      row.cells.map((c) => c.text),
      ['41', '42', '00', '7f', '01', '02', '03', '04', '??', '??', '??', '??', '??', '??', '??', '??'],
    );
    assert.equal(row.ascii.map((c) => c.text).join(''), 'AB......????????');
    assert.equal(row.cells[8].reason, 'translation fault at level 3');
    assert.ok(next.cells.every((c) => c.kind === 'pending' && c.text === '··'));
    const [g8] = buildRows({
      space: 'virtual',
      top: 0x1000n,
      rows: 1,
      group: 8,
      current: store,
      previous: undefined,
    });
    assert.deepEqual(
      g8.cells.map((c) => c.text),
      ['040302017f004241', '????????????????'],
    );
    assert.deepEqual(unreadableRuns([row]), [
      { start: 0x1008n, last: 0x100fn, reason: 'translation fault at level 3' },
    ]);
  });

  void test('changed since the previous stop: values, and readable <-> unreadable; never against nothing', () => {
    const prev = new LineStore('physical', 'r#0', 4);
    const cur = new LineStore('physical', 'r#0', 5);
    prev.put(0x40224080n, [{ length: 8, data: hex([0x02, 0x04, 0x01, 0x09, 0, 0, 0xe0, 0]) }]);
    prev.put(0x40224090n, [{ length: 8, unreadable: 'outside the snapshot' }]);
    cur.put(0x40224080n, [{ length: 8, data: hex([0x03, 0x04, 0x01, 0x09, 0, 0, 0xe0, 0]) }]);
    cur.put(0x40224090n, [{ length: 8, data: hex([1, 2, 3, 4, 5, 6, 7, 8]) }]);
    const rows = buildRows({
      space: 'physical',
      top: 0x40224080n,
      rows: 3,
      group: 1,
      current: cur,
      previous: prev,
      highlight: { address: 0x40224080n, length: 8 },
    });
    assert.deepEqual(
      rows[0].cells.map((c) => c.changed),
      [true, false, false, false, false, false, false, false, ...Array<boolean>(8).fill(false)],
    );
    assert.deepEqual(
      rows[0].cells.map((c) => c.highlight),
      [...Array<boolean>(8).fill(true), ...Array<boolean>(8).fill(false)],
    );
    assert.ok(rows[1].cells.slice(0, 8).every((c) => c.changed));
    // Bytes read only now (row 1's second half, row 2) have nothing to differ from.
    assert.ok(rows[1].cells.slice(8).every((c) => !c.changed));
    assert.equal(changedCount(rows), 9);
    const [g4] = buildRows({
      space: 'physical',
      top: 0x40224080n,
      rows: 1,
      group: 4,
      current: cur,
      previous: prev,
    });
    assert.deepEqual(
      g4.cells.map((c) => [c.text, c.changed]),
      [
        ['09010403', true],
        ['00e00000', false],
        ['········', false],
        ['········', false],
      ],
    );
  });

  void test('a new stop keeps the one before as previous; another vCPU or a restart compares with nothing', () => {
    const none = { virtual: undefined, physical: undefined };
    const s1 = nextStores(none, none, undefined, { run: 'r#0', stop: 1, thread: 1 });
    assert.equal(s1.current.virtual?.run, 'r#0/vcpu1');
    assert.equal(s1.current.physical?.run, 'r#0');
    assert.deepEqual(s1.previous, none);
    // Stop 2 on the same vCPU: stop 1's stores become previous.
    const s2 = nextStores(
      s1.current,
      s1.previous,
      { run: 'r#0', stop: 1, thread: 1 },
      { run: 'r#0', stop: 2, thread: 1 },
    );
    assert.equal(s2.previous.virtual, s1.current.virtual);
    assert.equal(s2.previous.physical, s1.current.physical);
    assert.equal(s2.current.virtual?.stop, 2);
    // The same stop again (a second message): nothing changes.
    const again = nextStores(
      s2.current,
      s2.previous,
      { run: 'r#0', stop: 2, thread: 1 },
      { run: 'r#0', stop: 2, thread: 1 },
    );
    assert.equal(again.current.virtual, s2.current.virtual);
    assert.equal(again.previous.virtual, s1.current.virtual);
    // Another vCPU selected at stop 2: virtual memory is another view (nothing to compare), physical stays.
    const cpu2 = nextStores(
      s2.current,
      s2.previous,
      { run: 'r#0', stop: 2, thread: 1 },
      { run: 'r#0', stop: 2, thread: 2 },
    );
    assert.equal(cpu2.current.virtual?.run, storeKey('virtual', 'r#0', 2));
    assert.equal(cpu2.previous.virtual, undefined);
    assert.equal(cpu2.current.physical, s2.current.physical);
    assert.equal(cpu2.previous.physical, s1.current.physical);
    // A restart (a new run): stop 1 of it compares with nothing.
    const restart = nextStores(
      s2.current,
      s2.previous,
      { run: 'r#0', stop: 2, thread: 1 },
      { run: 'r#1', stop: 1, thread: 1 },
    );
    assert.deepEqual(restart.previous, none);
    // A stop skipped (not read by the view): not "the stop before", so nothing is compared.
    const skip = nextStores(
      s1.current,
      s1.previous,
      { run: 'r#0', stop: 2, thread: 1 },
      { run: 'r#0', stop: 3, thread: 1 },
    );
    assert.deepEqual(skip.previous, none);
  });

  void test('what is missing is read as one line-aligned stretch; known lines are not read again', () => {
    const s = new LineStore('virtual', 'r#0', 1);
    assert.deepEqual(s.missing(0x1000n, 64), { address: 0x1000n, length: 64 });
    s.put(0x1000n, [{ length: 32, data: '00'.repeat(32) }]);
    assert.deepEqual(s.missing(0x1000n, 64), { address: 0x1020n, length: 32 });
    s.put(0x1020n, [{ length: 32, unreadable: 'translation fault' }]);
    assert.equal(s.missing(0x1000n, 64), undefined);
    // At the very top of the space the read stops at its end.
    assert.deepEqual(s.missing(0xffffffffffffffe0n, 64), { address: 0xffffffffffffffe0n, length: 32 });
    const p = new LineStore('physical', 'r#0', 1);
    assert.deepEqual(p.missing(SPACE_END.physical - 16n, 64), {
      address: SPACE_END.physical - 16n,
      length: 16,
    });
  });

  void test('a long scroll keeps at most MAX_LINES lines', () => {
    const s = new LineStore('virtual', 'r#0', 1, 8);
    for (let i = 0n; i < 20n; i++) s.put(i * 16n, [{ length: 16, data: '11'.repeat(16) }]);
    assert.equal(s.size, 8);
    assert.equal(s.byte(0n), undefined);
    assert.deepEqual(s.byte(19n * 16n), { value: 0x11 });
    assert.ok(MAX_LINES * 16 <= 64 * 1024);
  });

  void test('scrolling covers the whole space without allocating it; keys, thumb, highlight in sight', () => {
    const rows = 32;
    const last = SPACE_END.virtual - BigInt(rows * 16);
    assert.equal(clampTop(SPACE_END.virtual, 'virtual', rows), last);
    assert.equal(clampTop(-5n, 'virtual', rows), 0n);
    assert.equal(clampTop(0x1007n, 'virtual', rows), 0x1000n);
    assert.equal(scrollKey(0x1000n, 'ArrowDown', 'virtual', rows), 0x1010n);
    assert.equal(scrollKey(0x1000n, 'ArrowUp', 'virtual', rows), 0xff0n);
    assert.equal(scrollKey(0x1000n, 'PageDown', 'virtual', rows), 0x1000n + 31n * 16n);
    assert.equal(scrollKey(0n, 'PageUp', 'virtual', rows), 0n);
    assert.equal(scrollKey(0x1230n, 'Home', 'virtual', rows), 0x1000n);
    assert.equal(scrollKey(0x1230n, 'End', 'virtual', rows), 0x2000n - 512n);
    assert.equal(scrollKey(last, 'PageDown', 'virtual', rows), last);
    assert.equal(thumbFraction(0n, 'virtual', rows), 0);
    assert.equal(thumbFraction(last, 'virtual', rows), 1);
    assert.equal(topAtFraction(1, 'physical', rows), SPACE_END.physical - 512n);
    assert.equal(topAtFraction(0.5, 'physical', rows) % 16n, 0n);
    // A descriptor at entry 300 of its table is brought into sight two rows from the top.
    const table = 0x40224000n;
    assert.equal(topShowing(table, { address: table + 0x960n, length: 8 }, 'physical', 16), table + 0x940n);
    assert.equal(topShowing(table, { address: table + 0x80n, length: 8 }, 'physical', 16), table);
    // Addresses past 48 bits get all their digits.
    const [hi] = buildRows({
      space: 'virtual',
      top: 0xffff800000001000n,
      rows: 1,
      group: 1,
      current: undefined,
      previous: undefined,
    });
    assert.equal(hi.addressText, '0xffff800000001000');
  });

  void test('row addresses follow src/shared/format: the regime VA width, physical as formatAddress', () => {
    const first = (space: 'virtual' | 'physical', top: bigint, vaBits?: number) =>
      buildRows({
        space,
        top,
        rows: 2,
        group: 1,
        current: undefined,
        previous: undefined,
        ...(vaBits !== undefined ? { vaBits } : {}),
      })[0].addressText;
    // pvmfw's 39-bit TTBR0 regime, the kernel's (TTBR1 in use: 64), and no stop yet (48).
    assert.equal(first('virtual', 0x9010000n, 39), formatAddress(0x9010000n, 39));
    assert.equal(first('virtual', 0x9010000n, 39), '0x0009010000');
    assert.equal(first('virtual', 0x40200000n, 64), '0x0000000040200000');
    assert.equal(first('virtual', 0x1000n), '0x000000001000');
    // A window beyond the regime's width (a mistyped address) still shows every digit.
    assert.equal(first('virtual', 0x80_0000_0000n, 39), '0x0000008000000000');
    // Physical: 8 digits, more as the window's addresses need them (as formatAddress writes a PA).
    assert.equal(first('physical', 0x40224000n), '0x40224000');
    assert.equal(first('physical', 0x100102000n), '0x100102000');
    assert.equal(first('physical', 0x1000n), '0x00001000');
  });
});

void describe('Memory view targets of a PTE', () => {
  const entry = rtcPte;

  void test('the table it lives in: the table base, the descriptor outlined', () => {
    const t = entryTableTarget(entry({}));
    assert.ok(!('error' in t), 'a target');
    assert.equal(t.space, 'physical');
    assert.equal(t.address, 0x40224000n);
    assert.deepEqual(t.highlight, { address: 0x40224080n, length: 8 });
    assert.match(
      t.origin,
      /TTBR0_EL1 L3\[16\]: the table it lives in \(descriptor 0x00e0000009010402 outlined\)/,
    );
  });

  void test('the table it lives in under stage 2: at the PA stage 2 maps its IPA to, never the IPA', () => {
    // The walk read the table at IPA 0x80102000; stage 2 maps it to PA 0x100102000.
    const under = {
      outputIsIpa: true,
      outputAddress: '0x9001000',
      descriptorAddress: '0x80102008',
      index: 1,
    };
    const t = entryTableTarget(entry({ ...under, descriptorPa: '0x100102008' }));
    assert.ok(!('error' in t), 'a target');
    assert.equal(t.space, 'physical');
    assert.equal(t.address, 0x1_0010_2000n);
    assert.deepEqual(t.highlight, { address: 0x1_0010_2008n, length: 8 });
    assert.deepEqual(entryTableTarget(entry(under)), {
      error: "TTBR0_EL1 L3[1]: stage 2 maps no PA for its table's IPA 0x80102008",
    });
  });

  void test('the page it maps: its output PA, the final PA under stage 2, else its VA; never an IPA as a PA', () => {
    assert.deepEqual(
      mappedPageTarget(entry({ kind: 'page', outputAddress: '0x40218000', descriptor: '0x40218003' })),
      { space: 'physical', address: 0x40218000n, origin: 'TTBR0_EL1 L3[16]: the page it maps' },
    );
    const viaS2 = mappedPageTarget(
      entry({ kind: 'page', outputAddress: '0x80000000', outputIsIpa: true, finalAddress: '0x120000000' }),
    );
    assert.ok('address' in viaS2 && viaS2.address === 0x120000000n && viaS2.space === 'physical');
    const invalid = mappedPageTarget(entry({ kind: 'invalid', descriptor: '0x0' }));
    assert.ok('address' in invalid && invalid.space === 'virtual' && invalid.address === 0x9010000n);
    const noFinal = mappedPageTarget(entry({ kind: 'page', outputAddress: '0x80000000', outputIsIpa: true }));
    assert.ok('address' in noFinal && noFinal.space === 'virtual');
    const s2 = mappedPageTarget(entry({ regime: 'VTTBR_EL2', kind: 'invalid' }));
    assert.ok('error' in s2 && /not a virtual address of the stopped vCPU/.test(s2.error));
  });
});
