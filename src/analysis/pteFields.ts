// Which fields of a descriptor changed between two values, named as the Arm ARM names them (VALID,
// AttrIndx, AP[2:1], AF, OA, PXN, ...) with pvmfw's MMIO_LAZY_MAP_FLAG carved out of the software
// bits: "VALID 0->1, LAZY 1->0" is what pvmfw's fault handler does to a lazy page.
import type { DescriptorFormat } from '../aarch64/granule';
import { pageShift } from '../aarch64/granule';
import type { Hex } from '../shared/protocol';
import { hex } from './pte';
import { formatChange } from '../shared/format';

export interface FieldChange {
  /** `VALID`, `AttrIndx`, `AP[2:1]`, `OA`, `LAZY`, `bits[49:48]` (bits with no name here). */
  name: string;
  /** Highest and lowest descriptor bit of the field (OA: of its in-place part). */
  msb: number;
  lsb: number;
  /** The field's value before and after: OA and next-level table addresses as addresses. */
  before: Hex;
  after: Hex;
}

interface Field {
  name: string;
  msb: number;
  lsb: number;
  /** The output (or next-level table) address: reported as an address, not a bit field. */
  address?: boolean;
}

const f = (name: string, msb: number, lsb = msb): Field => ({ name, msb, lsb });

/** The address bits in place: [47:n], [49:n] with LPA2. */
function addressField(fmt: DescriptorFormat, name: string): Field {
  return { name, msb: fmt.oa === 'lpa2' ? 49 : 47, lsb: pageShift(fmt.granule), address: true };
}

/** The fields of a block, page or invalid (decoded as the leaf it would be) descriptor. */
function leafFields(fmt: DescriptorFormat): Field[] {
  const common = [f('VALID', 0), f('TYPE', 1), addressField(fmt, 'OA'), f('AF', 10)];
  const sh = fmt.oa === 'lpa2' ? [] : [f('SH', 9, 8)];
  if (fmt.stage === 2)
    return [
      ...common,
      ...sh,
      f('MemAttr', 5, 2),
      f('S2AP', 7, 6),
      f('DBM', 51),
      f('Contiguous', 52),
      f('XN', 54, 53),
      f('SW[58:55]', 58, 55),
      f('PBHA', 62, 59),
    ];
  return [
    ...common,
    ...sh,
    f('AttrIndx', 4, 2),
    f('NS', 5),
    f('AP[2:1]', 7, 6),
    f('nG', 11),
    f('GP', 50),
    f('DBM', 51),
    f('Contiguous', 52),
    f('PXN', 53),
    f('UXN', 54),
    f('SW[58:55]', 58, 55),
    f('PBHA', 62, 59),
  ];
}

function tableFields(fmt: DescriptorFormat): Field[] {
  const common = [f('VALID', 0), f('TYPE', 1), addressField(fmt, 'next-level table')];
  if (fmt.stage === 2) return common;
  return [...common, f('PXNTable', 59), f('UXNTable', 60), f('APTable', 62, 61), f('NSTable', 63)];
}

const isTable = (raw: bigint, level: number) => level < 3 && (raw & 3n) === 3n;

/** The address a descriptor holds, with the bits LPA and LPA2 keep outside [47:n]. */
function addressOf(raw: bigint, fmt: DescriptorFormat, field: Field): bigint {
  let a = raw & (((1n << BigInt(field.msb + 1)) - 1n) & ~((1n << BigInt(field.lsb)) - 1n));
  if (fmt.oa === 'lpa2') a |= ((raw >> 8n) & 3n) << 50n;
  else if (fmt.oa === 'lpa') a |= ((raw >> 12n) & 15n) << 48n;
  return a;
}

/**
 * The fields that differ between two values of one descriptor. Both table descriptors: named as a
 * table's; otherwise as a leaf's (a split or merge also changes TYPE, and its address field is
 * named `OA/next-level table` or the reverse). The stage-1
 * software bit `lazyBit` is its own field, LAZY; bits no field names are reported as `bits[m:l]`.
 */
export function changedFields(
  before: bigint,
  after: bigint,
  level: number,
  fmt: DescriptorFormat,
  lazyBit: number,
): FieldChange[] {
  const diff = before ^ after;
  if (diff === 0n) return [];
  const owner = layout(isTable(before, level), isTable(after, level), fmt, lazyBit);
  // The changed bits, lowest first, without a BigInt per bit: a kernel diff has thousands of entries.
  const out: FieldChange[] = [];
  let last: Field | undefined;
  for (const [word, base] of [
    [Number(diff & 0xffff_ffffn), 0],
    [Number(diff >> 32n), 32],
  ] as const) {
    for (let w = word; w !== 0; w &= w - 1) {
      const x = owner[base + 31 - Math.clz32(w & -w)];
      // Fields own contiguous bits, except OA's LPA/LPA2 bits below it: seen already or not.
      if (x === last || out.some((c) => c.name === x.name)) continue;
      last = x;
      out.push(fieldChange(x, before, after, fmt));
    }
  }
  return out;
}

const layouts = new Map<string, readonly Field[]>();

/**
 * Every bit's field for one kind of change (table to table, leaf to leaf, a split or a merge) in
 * one format: built once and kept. LPA/LPA2 keep OA bits in [15:12] / [9:8]; bits no field names
 * are grouped into runs (`bits[49:48]`), so one change reads as one field.
 */
function layout(
  wasTable: boolean,
  isNowTable: boolean,
  fmt: DescriptorFormat,
  lazyBit: number,
): readonly Field[] {
  const key = `${Number(wasTable)}${Number(isNowTable)}/${fmt.granule}/${fmt.stage}/${fmt.oa}/${lazyBit}`;
  const cached = layouts.get(key);
  if (cached) return cached;
  const table = wasTable && isNowTable;
  let fields = table ? tableFields(fmt) : leafFields(fmt);
  // A split or a merge: the address changes role, and says so.
  if (wasTable !== isNowTable) {
    const role = wasTable ? 'next-level table/OA' : 'OA/next-level table';
    fields = fields.map((x) => (x.address ? { ...x, name: role } : x));
  }
  if (fmt.stage === 1 && !table && lazyBit >= 0 && lazyBit < 64) fields = carveLazy(fields, lazyBit);
  const owner = new Array<Field | undefined>(64);
  for (const x of fields) for (let b = x.lsb; b <= x.msb; b++) owner[b] = x;
  const address = fields.find((x) => x.address);
  if (address && fmt.oa === 'lpa2') owner[8] = owner[9] = address;
  if (address && fmt.oa === 'lpa') for (let b = 12; b <= 15; b++) owner[b] = address;
  for (let b = 0; b < 64; b++) {
    if (owner[b]) continue;
    let hi = b;
    while (hi < 63 && !owner[hi + 1]) hi++;
    const x = f(b === hi ? `bit ${b}` : `bits[${hi}:${b}]`, hi, b);
    for (let k = b; k <= hi; k++) owner[k] = x;
  }
  const done = owner as Field[];
  layouts.set(key, done);
  return done;
}

/**
 * pvmfw's lazy flag as its own field, LAZY, cut out of the field holding its bit (SW[58:55] at
 * bit 55, leaving SW[58:56]); the pieces left are named by their bit ranges.
 */
function carveLazy(fields: Field[], lazyBit: number): Field[] {
  const out: Field[] = [];
  for (const x of fields) {
    if (x.address || lazyBit < x.lsb || lazyBit > x.msb) {
      out.push(x);
      continue;
    }
    const base = x.name.replace(/\[.*\]$/, '');
    const part = (msb: number, lsb: number) =>
      out.push(f(msb === lsb ? `${base}[${msb}]` : `${base}[${msb}:${lsb}]`, msb, lsb));
    if (lazyBit < x.msb) part(x.msb, lazyBit + 1);
    if (lazyBit > x.lsb) part(lazyBit - 1, x.lsb);
  }
  out.push(f('LAZY', lazyBit));
  return out;
}

function fieldChange(x: Field, before: bigint, after: bigint, fmt: DescriptorFormat): FieldChange {
  const value = (raw: bigint) =>
    x.address ? addressOf(raw, fmt, x) : (raw >> BigInt(x.lsb)) & ((1n << BigInt(x.msb - x.lsb + 1)) - 1n);
  return { name: x.name, msb: x.msb, lsb: x.lsb, before: hex(value(before)), after: hex(value(after)) };
}

/** `VALID 0->1`, `AP[2:1] 0b10->0b00`, `OA 0x9010000->0x9011000`: one field change as text. */
export function fieldChangeText(c: FieldChange): string {
  const width = c.msb - c.lsb + 1;
  if (width === 1) return `${c.name} ${formatChange(String(Number(c.before)), String(Number(c.after)))}`;
  if (width <= 4) {
    const bin = (h: string) => `0b${BigInt(h).toString(2).padStart(width, '0')}`;
    return `${c.name} ${formatChange(bin(c.before), bin(c.after))}`;
  }
  return `${c.name} ${formatChange(c.before, c.after)}`;
}
