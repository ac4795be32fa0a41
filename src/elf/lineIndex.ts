// Address and source-line queries over the parsed line tables of every compile unit.
import type { LineRow, LineTable } from './dwarfLine';
import { suffixScore } from './paths';

export interface SourceLocation {
  file: string;
  line: number;
  column: number;
  /** Address of the row that starts this location's code. */
  address: bigint;
  isStmt: boolean;
}

export interface LineRange {
  /** Inclusive. */
  start: bigint;
  /** Exclusive. */
  end: bigint;
  file: string;
  line: number;
}

interface Span {
  low: bigint;
  high: bigint;
  table: LineTable;
  /** Index of the row that covers [low, high). */
  row: number;
}

export const cmpBig = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

/** A sequence of rows (addresses non-decreasing, DWARF 5 section 6.2.5) ending at `high`. */
interface Sequence {
  low: bigint;
  high: bigint;
  table: LineTable;
  /** Index of its first row, and of its end_sequence row. */
  first: number;
  end: number;
}

export class LineIndex {
  /**
   * Sequences of mapped code sorted by address: a lookup finds the sequence, then the row inside it
   * by binary search over the table's own rows (no per-row index to build: a 5 MB program's line
   * table has hundreds of thousands of rows, and the first stop needs a handful).
   */
  private readonly sequences: Sequence[] = [];

  /**
   * `isMapped` filters out sequences of code the linker discarded: their addresses are left at 0
   * (GNU ld) or -1 (lld) and would otherwise shadow real code linked at low addresses.
   */
  constructor(
    readonly tables: LineTable[],
    isMapped: (addr: bigint) => boolean = () => true,
  ) {
    for (const table of tables) {
      const rows = table.rows;
      for (let first = 0; first < rows.length;) {
        let end = first;
        while (end < rows.length && !rows[end].endSequence) end++;
        if (end >= rows.length) break; // no end_sequence: not a sequence
        const low = rows[first].address;
        const high = rows[end].address;
        if (high > low && isMapped(low)) this.sequences.push({ low, high, table, first, end });
        first = end + 1;
      }
    }
    this.sequences.sort((a, b) => cmpBig(a.low, b.low));
  }

  /** The row whose code covers `addr`: the last row at or below it in the sequence holding it. */
  private spanAt(addr: bigint): Span | undefined {
    const seqs = this.sequences;
    let lo = 0;
    let hi = seqs.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (seqs[mid].low <= addr) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    // Overlapping sequences (rare): the covering row with the highest address wins.
    let best: Span | undefined;
    for (let k = at; k >= 0 && k > at - 64; k--) {
      const q = seqs[k];
      if (addr >= q.high) continue;
      const rows = q.table.rows;
      let l = q.first;
      let h = q.end - 1;
      let i = -1;
      while (l <= h) {
        const mid = (l + h) >> 1;
        if (rows[mid].address <= addr) {
          i = mid;
          l = mid + 1;
        } else h = mid - 1;
      }
      if (i >= 0 && (!best || rows[i].address > best.low))
        best = { low: rows[i].address, high: rows[i + 1].address, table: q.table, row: i };
    }
    return best;
  }

  /**
   * The row covering `addr`; when several rows share its address and the last is not a statement,
   * the last one that is (as gdb picks: `x = f();` inlined at -O2 stacks rows on one address).
   */
  lineForAddress(addr: bigint): SourceLocation | undefined {
    const s = this.spanAt(addr);
    if (!s) return undefined;
    const rows = s.table.rows;
    let i = s.row;
    if (!rows[i].isStmt)
      for (let j = i - 1; j >= 0 && rows[j].address === rows[i].address && !rows[j].endSequence; j--)
        if (rows[j].isStmt && rows[j].line !== 0) {
          i = j;
          break;
        }
    const row = rows[i];
    return {
      file: pathOf(s.table, row),
      line: row.line,
      column: row.column,
      address: row.address,
      isStmt: row.isStmt,
    };
  }

  /** True when a line-table row marked is_stmt starts exactly at `addr`. */
  isStatement(addr: bigint): boolean {
    const s = this.spanAt(addr);
    if (!s) return false;
    const rows = s.table.rows;
    // Several rows may share the address (zero-length ones precede the covering row).
    for (let i = s.row; i >= 0 && rows[i].address === addr; i--)
      if (rows[i].isStmt && !rows[i].endSequence) return true;
    return false;
  }

  /**
   * The address range of the source line at `addr`: contiguous rows of the same file and line
   * around it, within one sequence. Line stepping runs until the PC leaves this range.
   */
  lineRangeAt(addr: bigint): LineRange | undefined {
    const s = this.spanAt(addr);
    if (!s) return undefined;
    const rows = s.table.rows;
    const row = rows[s.row];
    const same = (r: LineRow) => !r.endSequence && r.line === row.line && r.file === row.file;
    let first = s.row;
    while (first > 0 && same(rows[first - 1]) && !rows[first - 1].endSequence) first--;
    let last = s.row + 1;
    while (last < rows.length && same(rows[last])) last++;
    // rows[last] is the first row of another line (or the end of the sequence): its address ends us.
    const end = rows[last]?.address ?? s.high;
    return { start: rows[first].address, end, file: pathOf(s.table, row), line: row.line };
  }

  /** Every distinct source path named by the line tables. */
  sourceFiles(): string[] {
    const set = new Set<string>();
    for (const t of this.tables) for (const f of t.files) if (f.path) set.add(f.path);
    return [...set].sort();
  }

  /**
   * Rows for `line` of `file` (or, if that line has no code, of the nearest following line that
   * has): every is_stmt row of that line, one per address. At -O2 a line's statement may follow a
   * non-statement row of the same line, and a line may have code in several places (loop copies,
   * inlined instances): the caller decides which of them are distinct locations. The file matches
   * by the longest common path suffix, so the client and build directories may differ.
   */
  rowsForLine(
    file: string,
    line: number,
  ): { line: number; rows: { address: bigint; table: LineTable }[] } | undefined {
    let best = 0;
    const matches: { table: LineTable; files: Set<number> }[] = [];
    for (const table of this.tables) {
      const files = new Set<number>();
      table.files.forEach((f, i) => {
        const score = f.path ? suffixScore(file, f.path) : 0;
        if (score === 0 || score < best) return;
        if (score > best) {
          best = score;
          matches.length = 0;
          files.clear();
        }
        files.add(i);
      });
      if (files.size > 0) matches.push({ table, files });
    }
    if (best === 0) return undefined;
    let target = Infinity;
    for (const { table, files } of matches) {
      for (const r of table.rows) {
        if (!r.endSequence && r.isStmt && files.has(r.file) && r.line >= line && r.line < target)
          target = r.line;
      }
    }
    if (target === Infinity) return undefined;
    const rows: { address: bigint; table: LineTable }[] = [];
    const seen = new Set<bigint>();
    for (const { table, files } of matches) {
      for (const r of table.rows) {
        if (r.endSequence || !r.isStmt || r.line !== target || !files.has(r.file) || seen.has(r.address))
          continue;
        seen.add(r.address);
        rows.push({ address: r.address, table });
      }
    }
    rows.sort((a, b) => cmpBig(a.address, b.address));
    return { line: target, rows };
  }

  /**
   * Where a function's body starts (what a debugger skips to on entering it): the row marked
   * prologue_end (DWARF 5) when the producer gave one, else the second row of the function (GCC
   * always emits a row before the prologue and one after it, even at the same address). The line is
   * the last statement row at that address. Undefined when the function has fewer than two rows.
   */
  prologueEnd(low: bigint, high: bigint): { address: bigint; line: number } | undefined {
    const s = this.spanAt(low);
    if (!s) return undefined;
    const rows = s.table.rows;
    let first = s.row;
    while (first > 0 && rows[first - 1].address === low && !rows[first - 1].endSequence) first--;
    let end: number | undefined;
    for (let i = first; i < rows.length && !rows[i].endSequence && rows[i].address < high; i++)
      if (rows[i].prologueEnd) {
        end = i;
        break;
      }
    if (end === undefined && first + 1 < rows.length && !rows[first + 1].endSequence) end = first + 1;
    if (end === undefined || rows[end].address >= high) return undefined;
    const address = rows[end].address;
    const loc = this.lineForAddress(address);
    return loc ? { address, line: loc.line } : undefined;
  }
}

function pathOf(table: LineTable, row: LineRow): string {
  return table.files[row.file]?.path ?? '';
}
