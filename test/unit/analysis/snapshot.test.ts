// Snapshot loading (issue #10): every field validated with its path in the message, memory stored
// in proportion to its bytes, absurd sizes refused before allocating.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PhysImage } from '../../../src/aarch64';
import { loadSnapshot, makeSnapshot, SnapshotError } from '../../../src/analysis/snapshot';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const EIGHT = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]).toString('base64');

function snap(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 'pvmfw-mmu-snapshot',
    version: 1,
    created: '2024-01-01T00:00:00.000Z',
    registers: { TCR_EL1: '0x1f' },
    memory: [{ address: '0x40000000', data: EIGHT }],
    ...over,
  };
}

function rejects(json: unknown, message: string, maxBytes?: number): void {
  assert.throws(
    () => loadSnapshot(json, maxBytes),
    (e: unknown) => {
      assert.ok(e instanceof SnapshotError, `not a SnapshotError: ${String(e)}`);
      assert.equal(e.message, message);
      return true;
    },
  );
}

void describe('snapshot validation', () => {
  void test('each field is checked, the message names it and what was there', () => {
    rejects(null, 'snapshot: expected a JSON object, got null');
    rejects([1], 'snapshot: expected a JSON object, got an array');
    rejects(snap({ format: 'x' }), 'snapshot format: expected "pvmfw-mmu-snapshot", got the string "x"');
    rejects(snap({ version: '1' }), 'snapshot version: expected a number, got the string "1"');
    rejects(snap({ version: 1.5 }), 'snapshot version: expected a positive integer, got the number 1.5');
    rejects(
      snap({ version: 3 }),
      'snapshot version: 3 is newer than this tool reads (up to 2): a newer pvmfw-mmu wrote it',
    );
    rejects(snap({ created: undefined }), 'snapshot created: expected an ISO time string, got nothing');
    rejects(snap({ source: 5 }), 'snapshot source: expected a string, got the number 5');
    rejects(
      snap({ registers: undefined }),
      'snapshot registers: expected an object of hex strings, got nothing',
    );
    rejects(
      snap({ registers: { TCR_EL1: 31 } }),
      'snapshot registers.TCR_EL1: expected a hex string like "0x1f", got the number 31',
    );
    rejects(
      snap({ registers: { 'odd name': '0x1_0' } }),
      'snapshot registers["odd name"]: expected a hex string like "0x1f", got the string "0x1_0"',
    );
    rejects(
      snap({ symbols: { s: '0x10000000000000000' } }),
      'snapshot symbols.s: 0x10000000000000000 is wider than 64 bits',
    );
    rejects(snap({ memory: {} }), 'snapshot memory: expected an array, got an object');
  });

  void test('memory runs: null, bad address, bad base64, overlaps, beyond 52 bits', () => {
    rejects(
      snap({ memory: [null] }),
      'snapshot memory[0]: expected an object with address and data, got null',
    );
    const run = (address: unknown, data: unknown) => ({ address, data });
    const four = (m: unknown) =>
      snap({ memory: [0, 1, 2].map((k) => run(`0x${k}000`, EIGHT)).concat([m as never]) });
    rejects(
      four(run(4096, EIGHT)),
      'snapshot memory[3].address: expected a hex string like "0x40000000", got the number 4096',
    );
    rejects(four(run('0x9000', 5)), 'snapshot memory[3].data: expected a base64 string, got the number 5');
    rejects(
      four(run('0x9000', 'AQID!A==')),
      'snapshot memory[3].data: not valid base64 (character "!" at offset 4)',
    );
    rejects(
      four(run('0x9000', 'AQIDB')),
      'snapshot memory[3].data: not valid base64 (length 5 is not a multiple of 4)',
    );
    rejects(
      four(run('0x9000', 'AQ=D')),
      'snapshot memory[3].data: not valid base64 (character "=" at offset 2)',
    );
    rejects(four(run('0x1004', EIGHT)), 'snapshot memory[3]: its bytes overlap memory[1] (at 0x1004)');
    rejects(
      four(run('0xffffffffffffc', EIGHT)),
      'snapshot memory[3]: 0xffffffffffffc + 8 bytes runs past the 52-bit physical address space',
    );
  });

  void test('absurd sizes are refused before anything is allocated', () => {
    const big = Buffer.alloc(3000).toString('base64');
    rejects(
      snap({
        memory: [
          { address: '0x0', data: big },
          { address: '0x10000', data: big },
        ],
      }),
      'snapshot memory: memory[0..1] hold 6,000 bytes, more than the 4,096 bytes this tool loads',
      4096,
    );
  });

  void test('runs load in any order; reads span adjacent runs and fail at holes', async () => {
    const bytes = (from: number, n: number) => Buffer.from(Array.from({ length: n }, (_, k) => from + k));
    const s = loadSnapshot(
      snap({
        memory: [
          { address: '0x1008', data: bytes(8, 8).toString('base64') },
          { address: '0x1000', data: bytes(0, 8).toString('base64') },
          { address: '0x2000', data: '' },
          { address: '0x1010', data: bytes(16, 4).toString('base64') },
        ],
      }),
    );
    assert.equal(s.image.size, 20);
    const [whole, past, hole] = await s.image.read([
      { address: 0x1000n, length: 20 },
      { address: 0x1004n, length: 20 },
      { address: 0x2000n, length: 1 },
    ]);
    assert.deepEqual(whole, new Uint8Array(bytes(0, 20)));
    assert.match(String(past), /no memory at 0x1014/);
    assert.match(String(hole), /no memory at 0x2000/);
  });

  void test('a snapshot round-trips through makeSnapshot', async () => {
    const img = new PhysImage();
    img.write64(0x4000_0008n, 0x1234n);
    img.write(0x4000_1ff8n, new Uint8Array(16).fill(7)); // two pages, adjacent to the first
    const json = JSON.parse(JSON.stringify(makeSnapshot({ TCR_EL1: 0x1fn }, img))) as Record<string, unknown>;
    assert.deepEqual(json.memory, [
      {
        address: '0x40000000',
        data: Buffer.concat([img.readSync(0x4000_0000n, 12288) as Uint8Array]).toString('base64'),
      },
    ]);
    const back = loadSnapshot(json);
    assert.deepEqual(back.registers, { TCR_EL1: 0x1fn });
    assert.deepEqual(back.image.readSync(0x4000_0000n, 12288), img.readSync(0x4000_0000n, 12288));
    const [v] = await back.image.read([{ address: 0x4000_0008n, length: 8 }]);
    assert.equal(new DataView((v as Uint8Array).slice().buffer).getBigUint64(0, true), 0x1234n);
  });
});

void describe('snapshot memory is stored compactly', () => {
  void test('200k runs of 8 bytes take tens of bytes each, not a 4 KiB block each', () => {
    const n = 200_000;
    const memory = Array.from({ length: n }, (_, k) => ({
      address: `0x${(0x1_0000_0000 + k * 8192).toString(16)}`,
      data: EIGHT,
    }));
    const json = snap({ memory });
    gc();
    const m0 = process.memoryUsage();
    const s = loadSnapshot(json);
    gc();
    const m1 = process.memoryUsage();
    const used = m1.heapUsed + m1.arrayBuffers - (m0.heapUsed + m0.arrayBuffers);
    // Before: 200k zeroed 4 KiB blocks, 800 MiB. Now: the bytes plus a few numbers per run.
    assert.ok(used < 100 * n, `${(used / n).toFixed(0)} bytes per run`);
    assert.equal(s.image.size, 8 * n);
    assert.deepEqual(
      s.image.readSync(0x1_0000_0000n + 8192n * 123n, 8),
      new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
    );
    assert.match(String(s.image.readSync(0x1_0000_0000n + 8n, 8)), /no memory/);
  });

  void test('written pages stay copy-on-write for views handed out', () => {
    const img = new PhysImage();
    img.write64(0x1000n, 1n);
    const view = img.readSync(0x1000n, 4096) as Uint8Array;
    img.write64(0x1000n, 2n);
    assert.equal(view[0], 1, 'the view keeps the bytes it was read with');
    assert.equal((img.readSync(0x1000n, 8) as Uint8Array)[0], 2);
    assert.equal(img.size, 4096, 'a write makes its whole 4 KiB page readable');
    img.write(0x2ff0n, new Uint8Array(32).fill(9)); // straddles 0x3000: two more pages
    assert.equal(img.size, 3 * 4096);
    assert.equal((img.readSync(0x1000n, 3 * 4096) as Uint8Array)[0x2000], 9);
  });
});
