// Combining the stage-1 and stage-2 memory types and permissions (src/aarch64/combine.ts), rule by
// rule: FWB = 0 (the more restrictive type, the weaker cacheability, stage-1 hints) and FWB = 1
// (stage 2 overrides per the FWB encoding).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPerms, P_R1, P_W1, P_X0, P_X1 } from '../../../src/aarch64';
import { combineMemAttrs, combinePerms, s2MemAttrToMair } from '../../../src/aarch64/combine';

const name = (s1: number, s2: number, fwb = false): string => combineMemAttrs(s1, s2, fwb).type.name;

// MAIR bytes (stage 1) and stage-2 MemAttr values (FWB = 0: [3:2] outer, [1:0] inner).
const NORMAL_WB = 0xff;
const NORMAL_NC = 0x44;
const NORMAL_WT = 0xaa; // WT non-transient, read-allocate
const DEV_nGnRnE = 0x00;
const DEV_nGnRE = 0x04;
const DEV_GRE = 0x0c;
const S2_DEV_nGnRE = 0b0001;
const S2_DEV_nGRE = 0b0010;
const S2_DEV_GRE = 0b0011;
const S2_NC = 0b0101;
const S2_WT = 0b1010;
const S2_WB = 0b1111;

void describe('memory type, HCR_EL2.FWB = 0', () => {
  void test('Normal WB + Device-nGnRE -> Device-nGnRE (Device over Normal, either stage)', () => {
    assert.equal(name(NORMAL_WB, S2_DEV_nGnRE), 'Device-nGnRE');
    assert.equal(name(DEV_nGnRE, S2_WB), 'Device-nGnRE');
  });
  void test('Normal WB + Normal NC -> Normal NC (the weaker cacheability)', () => {
    assert.equal(name(NORMAL_WB, S2_NC), 'Normal NC');
    assert.equal(name(NORMAL_NC, S2_WB), 'Normal NC');
    assert.equal(combineMemAttrs(NORMAL_WB, S2_NC, false).attr, 0x44);
  });
  void test('of two Device types the stronger one wins', () => {
    assert.equal(name(DEV_nGnRnE, S2_DEV_GRE), 'Device-nGnRnE');
    assert.equal(name(DEV_GRE, S2_DEV_nGRE), 'Device-nGRE');
    assert.equal(name(DEV_nGnRE, S2_DEV_GRE), 'Device-nGnRE');
    // The XS = 0 form of a stage-1 Device type combines as that type.
    assert.equal(name(0x05, S2_DEV_GRE), 'Device-nGnRE');
  });
  void test('Write-Through over Write-Back; the allocation hints come from stage 1', () => {
    assert.equal(name(NORMAL_WB, S2_WT), 'Normal WT RA WA');
    assert.equal(name(NORMAL_WT, S2_WB), 'Normal WT RA');
    assert.equal(name(0xee, S2_WB), 'Normal WB RA', 'stage 2 WB does not add write-allocate');
  });
  void test('inner and outer combine on their own', () => {
    // Stage 1 outer WB, inner NC; stage 2 outer NC, inner WB: NC both.
    assert.equal(name(0xf4, 0b0111), 'Normal NC');
    // Stage 1 outer WB RA WA, inner WT RA; stage 2 outer WT, inner WB.
    assert.equal(name(0xfa, 0b1011), 'Normal Inner WT RA, Outer WT RA WA');
  });
  void test('stage-1 transient hints survive; Tagged stays Tagged only as Write-Back', () => {
    assert.equal(name(0x77, S2_WB), 'Normal WB transient RA WA');
    assert.equal(name(0xf0, S2_WB), 'Normal Tagged WB RA WA');
    assert.equal(name(0xf0, S2_NC), 'Normal NC');
  });
  void test('reserved encodings give a reserved type, not a guess', () => {
    assert.equal(combineMemAttrs(NORMAL_WB, 0b0100, false).type.kind, 'reserved');
    assert.equal(combineMemAttrs(0x02, S2_WB, false).type.kind, 'reserved');
    assert.equal(s2MemAttrToMair(0b1000), undefined);
    assert.equal(s2MemAttrToMair(S2_WB), 0xff);
    assert.equal(s2MemAttrToMair(S2_WT), 0xbb);
  });
});

void describe('memory type, HCR_EL2.FWB = 1', () => {
  void test('MemAttr[2] = 0: Device of MemAttr[1:0], combined with a stage-1 Device type (stronger wins)', () => {
    assert.equal(name(NORMAL_WB, 0b001, true), 'Device-nGnRE');
    assert.equal(name(DEV_GRE, 0b001, true), 'Device-nGnRE');
    assert.equal(name(DEV_nGnRnE, 0b011, true), 'Device-nGnRnE');
  });
  void test('0b111: stage 1 decides; 0b110: Normal Write-Back; 0b101: NC unless stage 1 is Device', () => {
    assert.equal(name(NORMAL_NC, 0b111, true), 'Normal NC');
    assert.equal(name(DEV_nGnRE, 0b111, true), 'Device-nGnRE');
    assert.equal(name(NORMAL_NC, 0b110, true), 'Normal WB RA WA');
    assert.equal(name(NORMAL_WT, 0b110, true), 'Normal WB RA', 'stage-1 hints kept');
    assert.equal(name(DEV_nGnRE, 0b110, true), 'Normal WB RA WA');
    assert.equal(name(NORMAL_WB, 0b101, true), 'Normal NC');
    assert.equal(name(DEV_nGnRE, 0b101, true), 'Device-nGnRE');
  });
  void test('MemAttr[3] is RES0 (0b1111 reads as 0b111); 0b100 is reserved', () => {
    assert.equal(name(NORMAL_WT, 0b1111, true), 'Normal WT RA');
    assert.equal(combineMemAttrs(NORMAL_WB, 0b100, true).type.kind, 'reserved');
  });
  void test('the same descriptor reads differently with and without FWB', () => {
    // MemAttr 0b0110: FWB = 0 is Normal Inner WT, Outer NC; FWB = 1 forces Write-Back.
    assert.equal(name(NORMAL_WB, 0b0110, false), 'Normal Inner WT RA WA, Outer NC');
    assert.equal(name(NORMAL_WB, 0b0110, true), 'Normal WB RA WA');
  });
});

void describe('permissions: the intersection of both stages', () => {
  const el10 = (p: number): string => formatPerms('el1&0', p);
  // Stage 1 in P_* bits as effectivePerms gives them.
  const RW_NONE = 0b000011; // RW-/---
  const RX_X = 0b100101; // R-X/--X
  const RW_RW = 0b011011; // RW-/RW-
  void test('S2AP read-only takes write away at both ELs', () => {
    assert.equal(el10(combinePerms(RW_RW, P_R1 | P_X1 | P_X0)), 'R--/R--');
  });
  void test('S2AP none takes everything', () => {
    assert.equal(el10(combinePerms(RW_RW, 0)), '---/---');
  });
  void test('stage-2 XN[1:0] per EL (FEAT_XNX): 0b01 keeps EL0 execution, 0b11 EL1', () => {
    assert.equal(el10(combinePerms(RX_X, P_R1 | P_W1)), 'R--/---');
    assert.equal(el10(combinePerms(RX_X, P_R1 | P_W1 | P_X0)), 'R--/--X');
    assert.equal(el10(combinePerms(RX_X, P_R1 | P_W1 | P_X1)), 'R-X/---');
  });
  void test('stage 2 never adds what stage 1 refused', () => {
    assert.equal(el10(combinePerms(RW_NONE, P_R1 | P_W1 | P_X1 | P_X0)), 'RW-/---');
  });
});
