// .debug_line: the line-number program (DWARF 2–5, section 6.2), run into a table of rows.
import { DW_FORM, readForm, type FormContext, type FormValue } from './forms';
import { joinPath } from './paths';
import { ElfFormatError, Reader, stringAt } from './reader';

export interface LineRow {
  address: bigint;
  /** Index into LineTable.files. */
  file: number;
  line: number;
  column: number;
  isStmt: boolean;
  prologueEnd: boolean;
  /** The first address after a sequence: this row covers no code. */
  endSequence: boolean;
}

export interface LineFile {
  /** Full path: directory and comp_dir joined in. */
  path: string;
  md5?: Uint8Array;
}

export interface LineTable {
  offset: number;
  /** Offset of the next line program in .debug_line. */
  nextOffset: number;
  version: number;
  files: LineFile[];
  directories: string[];
  rows: LineRow[];
}

export interface LineSections {
  debugStr?: Uint8Array;
  debugLineStr?: Uint8Array;
}

const DW_LNCT_path = 1;
const DW_LNCT_directory_index = 2;
const DW_LNCT_MD5 = 5;

const DW_LNS_copy = 1;
const DW_LNS_advance_pc = 2;
const DW_LNS_advance_line = 3;
const DW_LNS_set_file = 4;
const DW_LNS_set_column = 5;
const DW_LNS_negate_stmt = 6;
const DW_LNS_set_basic_block = 7;
const DW_LNS_const_add_pc = 8;
const DW_LNS_fixed_advance_pc = 9;
const DW_LNS_set_prologue_end = 10;
const DW_LNS_set_epilogue_begin = 11;
const DW_LNS_set_isa = 12;

const DW_LNE_end_sequence = 1;
const DW_LNE_set_address = 2;
const DW_LNE_define_file = 3;
const DW_LNE_set_discriminator = 4;

/**
 * Parses the line-number program at `offset` of .debug_line. `compDir` (the CU's DW_AT_comp_dir)
 * anchors relative directories; in DWARF 2–4 it is also directory 0.
 */
export function parseLineTable(
  debugLine: Uint8Array,
  offset: number,
  strings: LineSections,
  compDir = '',
  addressSizeHint = 8,
): LineTable {
  const whole = new Reader(debugLine, offset);
  const { length, offsetSize } = whole.initialLength();
  const end = whole.pos + length;
  const r = whole.window(whole.pos, end);
  const version = r.u16();
  if (version < 2 || version > 5) throw new ElfFormatError(`.debug_line version ${version} at ${offset}`);
  let addressSize = addressSizeHint;
  if (version >= 5) {
    addressSize = r.u8();
    r.u8(); // segment_selector_size
  }
  const headerLength = r.offset(offsetSize);
  const programStart = r.pos + headerLength;
  const minInstLength = r.u8();
  const maxOps = version >= 4 ? r.u8() || 1 : 1;
  const defaultIsStmt = r.u8() !== 0;
  const lineBase = r.i8();
  const lineRange = r.u8();
  const opcodeBase = r.u8();
  if (lineRange === 0) throw new ElfFormatError(`.debug_line at ${offset}: line_range 0`);
  const opcodeLengths = [0];
  for (let i = 1; i < opcodeBase; i++) opcodeLengths.push(r.u8());

  const ctx: FormContext = { version, addressSize, offsetSize, unitOffset: 0 };
  const directories: string[] = [];
  const files: LineFile[] = [];
  if (version >= 5) {
    for (const e of readEntryTable(r, ctx, strings)) directories.push(joinPath(compDir, e.path));
    for (const e of readEntryTable(r, ctx, strings)) {
      files.push({ path: joinPath(directories[e.dir] ?? compDir, e.path), ...(e.md5 ? { md5: e.md5 } : {}) });
    }
  } else {
    directories.push(compDir);
    for (let d = r.cstr(); d !== ''; d = r.cstr()) directories.push(joinPath(compDir, d));
    // DWARF 2–4 files are numbered from 1: keep index 0 as the CU's primary file placeholder.
    files.push({ path: '' });
    for (let name = r.cstr(); name !== ''; name = r.cstr()) {
      const dir = r.ulebn();
      r.uleb(); // mtime
      r.uleb(); // length
      files.push({ path: joinPath(directories[dir] ?? compDir, name) });
    }
  }

  const rows: LineRow[] = [];
  const p = r.window(programStart, end);
  let address = 0n;
  let opIndex = 0;
  let file = 1;
  let line = 1;
  let column = 0;
  let isStmt = defaultIsStmt;
  let prologueEnd = false;
  const reset = () => {
    address = 0n;
    opIndex = 0;
    file = 1;
    line = 1;
    column = 0;
    isStmt = defaultIsStmt;
    prologueEnd = false;
  };
  const emit = (endSequence: boolean) => {
    rows.push({ address, file, line, column, isStmt, prologueEnd, endSequence });
    prologueEnd = false;
  };
  // Operation advance in units of (instruction, op_index) for VLIW; maxOps is 1 on AArch64.
  const advance = (operationAdvance: number) => {
    if (maxOps === 1) {
      address += BigInt(minInstLength * operationAdvance);
    } else {
      const total = opIndex + operationAdvance;
      address += BigInt(minInstLength * Math.floor(total / maxOps));
      opIndex = total % maxOps;
    }
  };

  while (!p.atEnd) {
    const op = p.u8();
    if (op >= opcodeBase) {
      const adjusted = op - opcodeBase;
      advance(Math.floor(adjusted / lineRange));
      line += lineBase + (adjusted % lineRange);
      emit(false);
      continue;
    }
    switch (op) {
      case 0: {
        const len = p.ulebn();
        const next = p.pos + len;
        const sub = len > 0 ? p.u8() : 0;
        if (sub === DW_LNE_end_sequence) {
          emit(true);
          reset();
        } else if (sub === DW_LNE_set_address) {
          address = p.uN(len - 1);
          opIndex = 0;
        } else if (sub === DW_LNE_define_file) {
          const name = p.cstr();
          const dir = p.ulebn();
          files.push({ path: joinPath(directories[dir] ?? compDir, name) });
        } else if (sub !== DW_LNE_set_discriminator) {
          // Unknown extended opcodes (e.g. vendor ones) are skipped by their length.
        }
        p.pos = next;
        break;
      }
      case DW_LNS_copy:
        emit(false);
        break;
      case DW_LNS_advance_pc:
        advance(p.ulebn());
        break;
      case DW_LNS_advance_line:
        line += p.slebn();
        break;
      case DW_LNS_set_file:
        file = p.ulebn();
        break;
      case DW_LNS_set_column:
        column = p.ulebn();
        break;
      case DW_LNS_negate_stmt:
        isStmt = !isStmt;
        break;
      case DW_LNS_set_basic_block:
      case DW_LNS_set_epilogue_begin:
        break;
      case DW_LNS_const_add_pc:
        advance(Math.floor((255 - opcodeBase) / lineRange));
        break;
      case DW_LNS_fixed_advance_pc:
        address += BigInt(p.u16());
        opIndex = 0;
        break;
      case DW_LNS_set_prologue_end:
        prologueEnd = true;
        break;
      case DW_LNS_set_isa:
        p.uleb();
        break;
      default:
        // A standard opcode this reader does not know: skip its ULEB128 operands.
        for (let i = 0; i < (opcodeLengths[op] ?? 0); i++) p.uleb();
    }
  }
  if (version < 5 && files.length > 1) files[0] = files[1] ?? { path: '' };
  return { offset, nextOffset: end, version, files, directories, rows };
}

interface Entry {
  path: string;
  dir: number;
  md5?: Uint8Array;
}

/** A DWARF 5 directory or file-name table: a format description, then the entries. */
function readEntryTable(r: Reader, ctx: FormContext, strings: LineSections): Entry[] {
  const formatCount = r.u8();
  const format: { type: number; form: number }[] = [];
  for (let i = 0; i < formatCount; i++) format.push({ type: r.ulebn(), form: r.ulebn() });
  const count = r.ulebn();
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const e: Entry = { path: '', dir: 0 };
    for (const f of format) {
      const v = readForm(r, f.form, ctx);
      if (f.type === DW_LNCT_path) e.path = formString(v, strings);
      else if (f.type === DW_LNCT_directory_index && v.kind === 'const') e.dir = Number(v.value);
      else if (f.type === DW_LNCT_MD5 && v.kind === 'block' && f.form === DW_FORM.data16) e.md5 = v.bytes;
    }
    entries.push(e);
  }
  return entries;
}

function formString(v: FormValue, strings: LineSections): string {
  if (v.kind === 'str') return v.value;
  if (v.kind === 'strp')
    return stringAt(v.section === '.debug_str' ? strings.debugStr : strings.debugLineStr, v.offset);
  throw new ElfFormatError(`unsupported string form ${v.kind} in a .debug_line entry table`);
}
