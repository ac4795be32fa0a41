import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeEsr,
  decodeFsc,
  decodeMair,
  decodeMairAttr,
  decodeS2MemAttr,
  decodeSpsr,
  decodeTcrEl1,
  decodeVtcr,
  decodeSctlr,
} from '../../../src/aarch64';

void describe('MAIR', () => {
  void test("vmbase's 0xff04: Attr0 Device-nGnRE, Attr1 Normal WB RA WA", () => {
    const m = decodeMair(0xff04n);
    assert.deepEqual([m[0].name, m[1].name, m[2].name], ['Device-nGnRE', 'Normal WB RA WA', 'Device-nGnRnE']);
  });
  void test('Linux MAIR attributes', () => {
    assert.equal(decodeMairAttr(0x44).name, 'Normal NC');
    assert.equal(decodeMairAttr(0xbb).name, 'Normal WT RA WA');
    assert.equal(decodeMairAttr(0xf0).name, 'Normal Tagged WB RA WA');
    assert.equal(decodeMairAttr(0x4f).name, 'Normal Inner WB RA WA, Outer NC');
    assert.equal(decodeMairAttr(0x0c).name, 'Device-GRE');
    assert.equal(decodeMairAttr(0x30).kind, 'reserved');
  });
  void test('every byte decodes to a kind consistent with its high nibble', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), (a) => {
        const t = decodeMairAttr(a);
        if (a >> 4 === 0) assert.notEqual(t.kind, 'normal');
        else assert.notEqual(t.kind, 'device');
      }),
    );
  });
  void test('stage-2 MemAttr with and without FWB', () => {
    assert.equal(decodeS2MemAttr(0b0001, false).name, 'Device-nGnRE');
    assert.equal(decodeS2MemAttr(0b1111, false).name, 'Normal WB');
    assert.equal(decodeS2MemAttr(0b0101, false).name, 'Normal NC');
    assert.equal(decodeS2MemAttr(0b0110, true).name, 'Normal WB (FWB)');
    assert.equal(decodeS2MemAttr(0b0001, true).name, 'Device-nGnRE');
  });
});

void describe('TCR / VTCR / SCTLR', () => {
  void test('TCR_EL1 of vmbase', () => {
    const t = decodeTcrEl1(25n | (1n << 23n) | (2n << 32n));
    assert.deepEqual([t.t0.inputBits, t.t0.granule, t.t0.epd, t.t1?.epd, t.paBits], [39, 4, false, true, 40]);
  });
  void test('TG1 encodings differ from TG0', () => {
    assert.equal(decodeTcrEl1(1n << 30n).t1?.granule, 16);
    assert.equal(decodeTcrEl1(3n << 30n).t1?.granule, 64);
    assert.equal(decodeTcrEl1(1n << 14n).t0.granule, 64);
  });
  void test('VTCR_EL2 SL0 to start level per granule', () => {
    assert.equal(decodeVtcr(24n | (1n << 6n)).startLevel, 1);
    assert.equal(decodeVtcr(24n | (0n << 6n)).startLevel, 2);
    assert.equal(decodeVtcr(24n | (2n << 6n) | (2n << 14n)).startLevel, 1);
    assert.equal(decodeVtcr(24n | (3n << 6n) | (1n << 14n)).startLevel, undefined);
  });
  void test('SCTLR M/C/I/WXN', () => {
    const s = decodeSctlr(0x30d8_1805n | (1n << 19n));
    assert.deepEqual([s.m, s.c, s.i, s.wxn], [true, true, true, true]);
  });
});

void describe('ESR', () => {
  void test("pvmfw's lazy MMIO fault: data abort same EL, translation fault level 3", () => {
    const e = decodeEsr(0x9600_0007n);
    assert.equal(e.ecName, 'Data Abort, same EL');
    assert.deepEqual(
      [e.abort?.fsc.type, e.abort?.fsc.level, e.abort?.wnr, e.abort?.isv],
      ['translation', 3, false, false],
    );
    const w = decodeEsr(0x9600_0046n);
    assert.equal(w.abort?.fsc.name, 'Translation fault, level 2');
    assert.equal(w.abort?.wnr, true);
  });
  void test('external abort and ISV syndrome', () => {
    assert.equal(decodeEsr(0x9600_0010n).abort?.fsc.type, 'externalAbort');
    const e = decodeEsr(0x9380_0047n); // ISV, 32-bit, x0, write, translation L3, EC 0x24
    assert.equal(e.ecName, 'Data Abort, lower EL');
    assert.deepEqual([e.abort?.isv, e.abort?.accessSize, e.abort?.srt, e.abort?.wnr], [true, 4, 0, true]);
  });
  void test('HVC immediate; every FSC has a name', () => {
    assert.equal(decodeEsr(0x5a00_0000n).ecName, 'HVC (AArch64)');
    for (let c = 0; c < 64; c++) assert.ok(decodeFsc(c).name.length > 0);
    assert.equal(decodeFsc(0b101011).level, -1);
  });
});

void describe('SPSR/CPSR', () => {
  void test('EL1h with DAIF masked, EL0t', () => {
    const s = decodeSpsr(0x3c5n);
    assert.deepEqual([s.mode, s.el, s.daif], ['EL1h', 1, 'DAIF']);
    assert.equal(decodeSpsr(0x6000_0000n).mode, 'EL0t');
    assert.equal(decodeSpsr(0x6000_0000n).z, true);
    assert.equal(decodeSpsr(0x13n).mode, 'AArch32 svc');
  });
});
