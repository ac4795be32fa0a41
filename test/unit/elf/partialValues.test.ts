// Partly-known values (#13): a value assembled from DWARF pieces some of which are unknown (an empty
// piece, a synthetic pointer, a register the frame cannot recover). gdb prints the known members and
// elements and `<optimized out>` for the rest, and a scalar with any unknown bit as `<optimized out>`;
// so must we, and never a number made of the known half. Locations are DWARF expressions evaluated by
// src/elf/location.ts (the same bytes GCC emits: DW_OP_regN / DW_OP_stack_value / DW_OP_piece); the
// live comparison with gdb is in test/dap/sourceOpt.test.ts (span_pair in the -O2 fixture).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CExpression } from '../../../src/adapter/expr';
import { evaluateLocation } from '../../../src/elf/location';
import { DW_ATE, type CType } from '../../../src/elf/types';
import { formatValue, readValue, scalar, type FormatContext, type Value } from '../../../src/elf/values';

const U64: CType = { kind: 'base', name: 'u64', size: 8, encoding: DW_ATE.unsigned };
const U32: CType = { kind: 'base', name: 'u32', size: 4, encoding: DW_ATE.unsigned };
const SPAN: CType = {
  kind: 'struct',
  name: 'span',
  size: 16,
  members: [
    { name: 'start', offset: 0, type: U64 },
    { name: 'end', offset: 8, type: U64 },
  ],
};
const FLAGS: CType = {
  kind: 'struct',
  name: 'flags',
  size: 8,
  members: [
    { name: 'lo', offset: 0, type: U32, bitSize: 4, bitOffset: 0 },
    { name: 'hi', offset: 4, type: U32, bitSize: 4, bitOffset: 0 },
  ],
};
const FLAGS_PLAIN: CType = {
  kind: 'struct',
  name: 'halves',
  size: 8,
  members: [
    { name: 'lo', offset: 0, type: U32 },
    { name: 'hi', offset: 4, type: U32 },
  ],
};
const PAIR: CType = { kind: 'array', element: U64, count: 2 };
const RUST_SPAN: CType = { ...SPAN, name: 'rust_opt::Span', rust: true };

const regs = new Map<number, bigint>([
  [0, 0x1111n],
  [20, 10n],
]);
const fmt: FormatContext = {
  read: () => Promise.reject(new Error('no memory here')),
  symbolFor: () => undefined,
};
const ctx = {
  register: (n: number) => regs.get(n),
  read: () => Promise.reject(new Error('no memory here')),
};

/** A location expression from DWARF operation bytes, then the value of `type` there. */
async function valueOf(type: CType, ops: number[]): Promise<Value> {
  const loc = await evaluateLocation(new Uint8Array(ops), ctx);
  return readValue(type, loc, { read: () => Promise.reject(new Error('no memory')) }, (n) => regs.get(n));
}

const PIECE8 = [0x93, 8];
const PIECE4 = [0x93, 4];
const REG20 = 0x50 + 20;
/** DW_OP_reg22: a register this frame did not recover. */
const LOST = 0x50 + 22;

void describe('partly-known values (DWARF pieces with unknown parts)', () => {
  void test('a struct with an empty piece shows its known member, as gdb prints span_pair’s s', async () => {
    // GCC's own expression: DW_OP_piece 8 (empty); DW_OP_reg20; DW_OP_piece 8.
    const v = await valueOf(SPAN, [...PIECE8, REG20, ...PIECE8]);
    assert.equal(v.bytes, undefined, 'never a whole value');
    assert.equal(await formatValue(v, fmt), '{start = <optimized out>, end = 10}');
  });

  void test('an array with a piece in a register the frame lost shows the known element', async () => {
    const v = await valueOf(PAIR, [0x30 + 9, 0x9f, ...PIECE8, LOST, ...PIECE8]);
    assert.equal(await formatValue(v, fmt), '{9, <optimized out>}');
  });

  void test('a scalar only partly known is <optimized out> whole (gdb’s rule), never a number', async () => {
    const v = await valueOf(U64, [0x50, ...PIECE4, ...PIECE4]);
    assert.equal(await formatValue(v, fmt), '<optimized out>');
    assert.equal(scalar(v), undefined);
    await assert.rejects(
      CExpression.evaluate('v + 1', {
        variable: (n) => Promise.resolve(n === 'v' ? v : undefined),
        register: () => Promise.resolve(undefined),
        type: () => undefined,
        read: () => Promise.reject(new Error('no memory')),
      }),
      /optimized out/,
    );
  });

  void test('a synthetic pointer piece leaves that member unknown, the others known', async () => {
    // DW_OP_implicit_pointer <ref4> <sleb 0>; DW_OP_piece 8; DW_OP_reg20; DW_OP_piece 8.
    const v = await valueOf(SPAN, [0xa0, 0, 0, 0, 0, 0, ...PIECE8, REG20, ...PIECE8]);
    assert.equal(await formatValue(v, fmt), '{start = <optimized out>, end = 10}');
  });

  void test('a pointer member that is a synthetic pointer reads <synthetic pointer>, as gdb prints it', async () => {
    const PTRS: CType = {
      kind: 'struct',
      name: 'ends',
      size: 16,
      members: [
        { name: 'ptr', offset: 0, type: { kind: 'pointer', size: 8, target: U64 } },
        { name: 'end', offset: 8, type: { kind: 'pointer', size: 8, target: U64 } },
      ],
    };
    const v = await valueOf(PTRS, [0x50, ...PIECE8, 0xa0, 0, 0, 0, 0, 0, ...PIECE8]);
    assert.equal(await formatValue(v, fmt), '{ptr = 0x1111, end = <synthetic pointer>}');
    const whole = await valueOf({ kind: 'pointer', size: 8, target: U64 }, [0xa0, 0, 0, 0, 0, 0]);
    assert.equal(await formatValue(whole, fmt, false), '<synthetic pointer>');
  });

  void test('a bit-field whose storage is unknown is <optimized out>; one whose storage is known has its bits', async () => {
    const v = await valueOf(FLAGS, [...PIECE4, 0x30 + 0x1f, 0x9f, ...PIECE4]);
    assert.equal(await formatValue(v, fmt), '{lo = <optimized out>, hi = 15}');
  });

  void test('pieces that stop short leave the whole value unknown (gdb gives up on it too)', async () => {
    // DW_OP_reg20; DW_OP_piece 8; then DW_OP_entry_value that cannot be resolved here.
    const v = await valueOf(SPAN, [REG20, ...PIECE8, 0xa3, 1, 0x50, 0x9f, ...PIECE8]);
    assert.equal(await formatValue(v, fmt), '<optimized out>');
  });

  void test('pieces that describe only part of the value (a complete expression) leave the rest unknown', async () => {
    // rustc's slice iterator: DW_OP_reg20; DW_OP_piece 8 for a 16-byte struct.
    const v = await valueOf(SPAN, [REG20, ...PIECE8]);
    assert.equal(await formatValue(v, fmt), '{start = 10, end = <optimized out>}');
  });

  void test('every piece unknown is <optimized out> whole; every piece known is a plain value', async () => {
    assert.equal(
      await formatValue(await valueOf(SPAN, [...PIECE8, LOST, ...PIECE8]), fmt),
      '<optimized out>',
    );
    const whole = await valueOf(SPAN, [0x50, ...PIECE8, REG20, ...PIECE8]);
    assert.ok(whole.bytes);
    assert.equal(await formatValue(whole, fmt), '{start = 4369, end = 10}');
  });

  void test('members and elements of a partial value through C expressions: known ones read, others refused', async () => {
    const s = await valueOf(SPAN, [...PIECE8, REG20, ...PIECE8]);
    const w = await valueOf(PAIR, [0x30 + 9, 0x9f, ...PIECE8, LOST, ...PIECE8]);
    const scope = {
      variable: (n: string) => Promise.resolve(n === 's' ? s : n === 'w' ? w : undefined),
      register: () => Promise.resolve(undefined),
      type: () => undefined,
      read: () => Promise.reject(new Error('no memory')),
    };
    const show = async (e: string) => formatValue(await CExpression.evaluate(e, scope), fmt);
    assert.equal(await show('s.end'), '10');
    assert.equal(await show('s.start'), '<optimized out>');
    assert.equal(await show('w[0] * 2'), '18');
    assert.equal(await show('w[1]'), '<optimized out>');
    await assert.rejects(CExpression.evaluate('s.start + 1', scope), /optimized out/);
  });

  void test('Rust text for a partly-known struct', async () => {
    const v = await valueOf(RUST_SPAN, [...PIECE8, REG20, ...PIECE8]);
    assert.equal(await formatValue(v, fmt), 'rust_opt::Span {start: <optimized out>, end: 10}');
  });

  void test('members know where they live: bytes of one register, a register piece, memory, or computed', async () => {
    const { children } = await import('../../../src/elf/values');
    const inReg = await valueOf(FLAGS_PLAIN, [0x50]);
    const [lo, hi] = children(inReg).map((c) => c.value);
    assert.deepEqual([lo.register, lo.registerByte, hi.register, hi.registerByte], [0, 0, 0, 4]);
    const pieces = await valueOf(SPAN, [0x30 + 9, 0x9f, ...PIECE8, REG20, ...PIECE8]);
    const [start, end] = children(pieces).map((c) => c.value);
    assert.equal(start.computed, true);
    assert.equal(start.register, undefined);
    assert.deepEqual([end.register, end.registerByte], [20, 0]);
    const mem = await valueOf(SPAN, [0x30 + 9, 0x9f, ...PIECE8, 0x0c, 0x00, 0x10, 0, 0, ...PIECE8]);
    assert.equal(mem.bytes, undefined, 'memory there is unreadable: that piece is unknown');
    assert.equal(children(mem)[1].value.address, 0x1000n);
  });
});
