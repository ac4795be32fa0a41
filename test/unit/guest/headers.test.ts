// The demo firmware's C headers are the contract the debugger reads the guest by: the guard-log
// layout and function ids must match src/pvmfw, the encodings must match DESIGN.md's table.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  GUARD_LOG_HEADER,
  GUARD_LOG_MAGIC,
  MMIO_GUARD_ENROLL,
  MMIO_GUARD_INFO,
  MMIO_GUARD_MAP,
  MMIO_GUARD_UNMAP,
  guardLogSize,
  parseGuardLog,
} from '../../../src/pvmfw/guardlog';

const include = resolve(__dirname, '../../../../guest/include');

/** `#define NAME <integer literal>` values of a header (u/ul suffixes dropped). */
function literalDefines(file: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const m of readFileSync(resolve(include, file), 'utf8').matchAll(
    /^#define\s+(\w+)\s+\(?(-?(?:0x[0-9a-f]+|\d+))u?l?\)?\s*(?:\/\*.*)?$/gim,
  )) {
    out.set(m[1], BigInt(m[2]));
  }
  return out;
}

function get(defs: Map<string, bigint>, name: string): bigint {
  const v = defs.get(name);
  assert.notEqual(v, undefined, `${name} is defined`);
  return v as bigint;
}

void describe('guest/include/guard_log.h', () => {
  const defs = literalDefines('guard_log.h');

  void test('magic and function ids agree with src/pvmfw/guardlog.ts', () => {
    assert.equal(get(defs, 'GUARD_LOG_MAGIC'), BigInt(GUARD_LOG_MAGIC));
    assert.equal(get(defs, 'MMIO_GUARD_INFO'), BigInt(MMIO_GUARD_INFO));
    assert.equal(get(defs, 'MMIO_GUARD_ENROLL'), BigInt(MMIO_GUARD_ENROLL));
    assert.equal(get(defs, 'MMIO_GUARD_MAP'), BigInt(MMIO_GUARD_MAP));
    assert.equal(get(defs, 'MMIO_GUARD_UNMAP'), BigInt(MMIO_GUARD_UNMAP));
    assert.equal(Buffer.from('GLOG', 'latin1').readUInt32LE(0), Number(get(defs, 'GUARD_LOG_MAGIC')));
  });

  void test('a log laid out as the header documents decodes with the debugger parser', () => {
    const capacity = Number(get(defs, 'GUARD_LOG_CAPACITY'));
    const bytes = Buffer.alloc(guardLogSize(capacity));
    bytes.writeUInt32LE(Number(get(defs, 'GUARD_LOG_MAGIC')), 0);
    bytes.writeUInt32LE(Number(get(defs, 'GUARD_LOG_VERSION')), 4);
    bytes.writeUInt32LE(capacity, 8);
    bytes.writeUInt32LE(32, 12);
    // Wrap the ring once: capacity + 2 entries written, the first two overwritten.
    const total = capacity + 2;
    bytes.writeBigUInt64LE(BigInt(total), 16);
    for (let k = 0; k < total; k++) {
      const off = GUARD_LOG_HEADER + (k % capacity) * 32;
      bytes.writeBigUInt64LE(BigInt(k + 1), off);
      bytes.writeBigUInt64LE(get(defs, 'MMIO_GUARD_MAP'), off + 8);
      bytes.writeBigUInt64LE(0x0900_0000n + BigInt(k) * 0x1000n, off + 16);
      bytes.writeBigInt64LE(k === total - 1 ? get(defs, 'SMCCC_INVALID_PARAMETER') : 0n, off + 24);
    }
    const log = parseGuardLog(bytes);
    assert.equal(log.count, total);
    assert.equal(log.entries.length, capacity);
    assert.equal(log.entries[0].seq, 3);
    assert.equal(log.entries[0].ipa, 0x0900_2000n);
    assert.equal(log.entries[capacity - 1].result, -3n);
  });
});

void describe('guest/include/pte.h and stage2.h', () => {
  void test('stage-1 encodings are the ones of DESIGN.md', () => {
    const defs = literalDefines('pte.h');
    assert.equal(get(defs, 'ENC_LAZY_PAGE'), 0x00e0_0000_0000_0402n);
    assert.equal(get(defs, 'ENC_LAZY_BLOCK'), 0x00e0_0000_0000_0400n);
    assert.equal(get(defs, 'ENC_DEVICE_PAGE'), 0x00e0_0000_0000_0403n);
    assert.equal(get(defs, 'ENC_DATA_PAGE'), 0x0060_0000_0000_0f07n);
    assert.equal(get(defs, 'ENC_CODE_PAGE'), 0x0000_0000_0000_0f87n);
    assert.equal(get(defs, 'ENC_RODATA_PAGE'), 0x0060_0000_0000_0f87n);
  });

  void test('the header asserts the attribute sets against those encodings at compile time', () => {
    const text = readFileSync(resolve(include, 'pte.h'), 'utf8');
    for (const enc of ['LAZY_BLOCK', 'LAZY_PAGE', 'DEVICE_PAGE', 'DATA_PAGE', 'CODE_PAGE', 'RODATA_PAGE'])
      assert.match(text, new RegExp(`_Static_assert\\(\\([^;]*== ENC_${enc},`));
    const s2 = readFileSync(resolve(include, 'stage2.h'), 'utf8');
    assert.match(s2, /_Static_assert\(S2_DEVICE_PAGE == 0x00400000000004c7ul/);
  });
});
