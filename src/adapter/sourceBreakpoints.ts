// DAP `setBreakpoints` on source files (C, assembly, Rust: whatever the DWARF line table names):
// lines resolve to addresses through the ELF's line table, moved to the next line with code, or stay
// unverified with the reason. Conditions, hit conditions and logpoints are decided at each hit.
// Independent of the session class: it talks to a line resolver, a breakpoint sink and, at a hit,
// an expression evaluator that the session supplies.
import { normalizePath } from '../elf/paths';
import type { DebugProtocol } from '@vscode/debugprotocol';

/** What src/elf's ElfImage offers (structural, so tests may pass any line source). */
export interface LineResolver {
  readonly hasDebugLines: boolean;
  addressesForLine(file: string, line: number): { address: bigint; line: number }[];
}

/** Where code breakpoints go: the session's BreakpointStore (owner 'source'). */
export interface BreakpointSink {
  replace(owner: 'source', addresses: Iterable<bigint>): Promise<void>;
}

/** Evaluates a condition or a logpoint `{expression}` at the stop. Throws on a bad expression. */
export type Evaluator = (expression: string) => Promise<bigint | boolean | number | string>;

export interface HitDecision {
  /** True when at least one breakpoint at the address wants the stop (condition and hit count met). */
  stop: boolean;
  /** Ids of the breakpoints that stop (for StoppedEvent.hitBreakpointIds). */
  ids: number[];
  /** Logpoint messages to print (each ends without a newline). */
  logs: string[];
  /** A condition that could not be evaluated stops, and says why (as VS Code expects). */
  errors: string[];
}

interface SourceBreakpoint {
  id: number;
  file: string;
  requestedLine: number;
  line: number;
  addresses: bigint[];
  condition?: string;
  hitCondition?: HitCondition;
  logMessage?: string;
  hits: number;
}

type HitCondition = { op: '==' | '>=' | '>' | '<' | '<=' | '%'; n: number };

export class HitConditionError extends Error {}

/**
 * Hit conditions: `N` (stop from the Nth hit on, as gdb's ignore count), `==N`, `>=N`, `>N`, `<N`,
 * `<=N`, `%N` (every Nth hit).
 */
export function parseHitCondition(text: string): HitCondition {
  // Trimmed first: `^\s*(op)?\s*` backtracks quadratically over a run of spaces.
  const m = /^(==|>=|<=|>|<|%)?\s*(\d+)$/.exec(text.trim());
  if (!m) throw new HitConditionError(`hit condition '${text}' is not N, ==N, >=N, >N, <N, <=N or %N`);
  const n = Number(m[2]);
  const op = (m[1] ?? '>=') as HitCondition['op'];
  if (op === '%' && n === 0) throw new HitConditionError('hit condition %0 never matches');
  return { op, n };
}

function hitMatches(c: HitCondition, hits: number): boolean {
  switch (c.op) {
    case '==':
      return hits === c.n;
    case '>=':
      return hits >= c.n;
    case '>':
      return hits > c.n;
    case '<':
      return hits < c.n;
    case '<=':
      return hits <= c.n;
    case '%':
      return hits % c.n === 0;
  }
}

export function truthy(v: bigint | boolean | number | string): boolean {
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'boolean') return v;
  const s = v.trim().toLowerCase();
  return s !== '' && s !== '0' && s !== 'false' && s !== '0x0';
}

const hex = (a: bigint) => `0x${a.toString(16)}`;

export class SourceBreakpoints {
  private readonly byFile = new Map<string, SourceBreakpoint[]>();
  private nextId: number;

  constructor(
    private readonly lines: () => LineResolver | undefined,
    private readonly sink: BreakpointSink,
    /** First id to hand out; pick a range apart from the session's other breakpoint ids. */
    firstId = 100_000,
  ) {
    this.nextId = firstId;
  }

  async set(
    args: DebugProtocol.SetBreakpointsArguments,
  ): Promise<DebugProtocol.SetBreakpointsResponse['body']> {
    const given = args.source.path ?? args.source.name ?? '';
    // One key per file whatever its spelling (`a/../b/x.S` and `b/x.S`).
    const path = given.startsWith('/') ? normalizePath(given) : given;
    const requested: DebugProtocol.SourceBreakpoint[] =
      args.breakpoints ?? (args.lines ?? []).map((line) => ({ line }));
    const previous = this.byFile.get(path) ?? [];
    const lines = this.lines();
    const next: SourceBreakpoint[] = [];
    const out: DebugProtocol.Breakpoint[] = [];
    for (const b of requested) {
      const unverified = (message: string) =>
        out.push({ verified: false, line: b.line, source: args.source, message });
      if (!lines) {
        unverified('no "program" ELF in the configuration: source lines cannot be mapped to addresses');
        continue;
      }
      if (!lines.hasDebugLines) {
        unverified('the program has no line table (.debug_line): rebuild it with -g');
        continue;
      }
      let hitCondition: HitCondition | undefined;
      try {
        if (b.hitCondition?.trim()) hitCondition = parseHitCondition(b.hitCondition);
      } catch (e) {
        unverified((e as Error).message);
        continue;
      }
      const at = lines.addressesForLine(path, b.line);
      if (at.length === 0) {
        unverified(`no code at or after line ${b.line} of ${baseName(path)} in the program's line table`);
        continue;
      }
      const line = at[0].line;
      // Keep the hit count of a breakpoint that survives an edit of its file's breakpoints.
      const same = previous.find(
        (p) => p.requestedLine === b.line && p.condition === b.condition && p.logMessage === b.logMessage,
      );
      const bp: SourceBreakpoint = {
        id: same?.id ?? this.nextId++,
        file: path,
        requestedLine: b.line,
        line,
        addresses: at.map((a) => a.address),
        hits: same && sameHit(same.hitCondition, hitCondition) ? same.hits : 0,
      };
      if (b.condition?.trim()) bp.condition = b.condition;
      if (hitCondition) bp.hitCondition = hitCondition;
      if (b.logMessage !== undefined && b.logMessage !== '') bp.logMessage = b.logMessage;
      next.push(bp);
      const verified: DebugProtocol.Breakpoint = {
        id: bp.id,
        verified: true,
        line,
        source: args.source,
        instructionReference: hex(bp.addresses[0]),
      };
      if (line !== b.line) verified.message = `moved from line ${b.line} (no code there) to line ${line}`;
      else if (bp.addresses.length > 1)
        verified.message = `${bp.addresses.length} locations: ${bp.addresses.map(hex).join(', ')}`;
      out.push(verified);
    }
    if (next.length) this.byFile.set(path, next);
    else this.byFile.delete(path);
    await this.sink.replace('source', this.allAddresses());
    return { breakpoints: out };
  }

  /** Re-resolves every file's breakpoints (after the program changed, e.g. on restart). */
  async reresolve(): Promise<void> {
    const lines = this.lines();
    for (const [file, bps] of this.byFile) {
      for (const bp of bps)
        bp.addresses = lines?.addressesForLine(file, bp.requestedLine).map((a) => a.address) ?? [];
    }
    await this.sink.replace('source', this.allAddresses());
  }

  /** Every breakpoint id at `address`, regardless of conditions. */
  idsAt(address: bigint): number[] {
    return this.at(address).map((b) => b.id);
  }

  has(address: bigint): boolean {
    return this.at(address).length > 0;
  }

  /**
   * Decides a stop at `address`: counts the hit of each breakpoint there whose condition holds,
   * checks its hit condition, and renders logpoints. Logpoints never stop by themselves.
   */
  async onHit(address: bigint, evaluate: Evaluator): Promise<HitDecision> {
    const d: HitDecision = { stop: false, ids: [], logs: [], errors: [] };
    for (const bp of this.at(address)) {
      if (bp.condition) {
        try {
          if (!truthy(await evaluate(bp.condition))) continue;
        } catch (e) {
          d.stop = true;
          d.ids.push(bp.id);
          d.errors.push(`breakpoint condition '${bp.condition}' failed: ${(e as Error).message}`);
          continue;
        }
      }
      bp.hits++;
      if (bp.hitCondition && !hitMatches(bp.hitCondition, bp.hits)) continue;
      if (bp.logMessage !== undefined) {
        d.logs.push(await renderLogMessage(bp.logMessage, evaluate));
        continue;
      }
      d.stop = true;
      d.ids.push(bp.id);
    }
    return d;
  }

  private at(address: bigint): SourceBreakpoint[] {
    const out: SourceBreakpoint[] = [];
    for (const bps of this.byFile.values())
      for (const b of bps) if (b.addresses.includes(address)) out.push(b);
    return out;
  }

  private allAddresses(): Set<bigint> {
    const all = new Set<bigint>();
    for (const bps of this.byFile.values()) for (const b of bps) for (const a of b.addresses) all.add(a);
    return all;
  }
}

/** `{expr}` parts are evaluated; `{{` and `}}` are literal braces. Values print as the evaluator gives them. */
export async function renderLogMessage(template: string, evaluate: Evaluator): Promise<string> {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i];
    if ((ch === '{' || ch === '}') && template[i + 1] === ch) {
      out += ch;
      i++;
    } else if (ch === '{') {
      const end = template.indexOf('}', i + 1);
      if (end < 0) {
        out += template.slice(i);
        break;
      }
      const expr = template.slice(i + 1, end);
      try {
        const v = await evaluate(expr);
        out += typeof v === 'bigint' ? hex(v) : String(v);
      } catch (e) {
        out += `<${(e as Error).message}>`;
      }
      i = end;
    } else out += ch;
  }
  return out;
}

function sameHit(a: HitCondition | undefined, b: HitCondition | undefined): boolean {
  return a?.op === b?.op && a?.n === b?.n;
}

function baseName(p: string): string {
  return p.slice(Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')) + 1);
}

/**
 * Directories a relative DWARF path may be relative to: the program's directory and its ancestors
 * (a build with -ffile-prefix-map=$PWD=guest records `guest/src/x.c`), then any extra roots.
 */
export function sourceRoots(programPath: string | undefined, extra: readonly string[] = []): string[] {
  const roots: string[] = [];
  if (programPath) {
    // Normalised: a program named through `..` (demo/../guest/build/demo.elf) must not give its
    // sources a second spelling, or a breakpoint set under one and removed under the other stays.
    let dir = normalizePath(programPath.replace(/\\/g, '/')).replace(/\/[^/]*$/, '');
    while (dir) {
      roots.push(dir);
      const up = dir.replace(/\/[^/]*$/, '');
      if (up === dir) break;
      dir = up;
    }
  }
  return [...roots, ...extra];
}

/**
 * The file on this machine for a DWARF path: itself when it exists, else the path (or its trailing
 * components, for a tree built elsewhere) under the first root where it exists. `exists` is the
 * caller's file check (fs.existsSync), which keeps this module free of I/O.
 */
export function localSourcePath(
  dwarfPath: string,
  roots: readonly string[],
  exists: (p: string) => boolean,
): string | undefined {
  if (dwarfPath.startsWith('/') && exists(dwarfPath)) return dwarfPath;
  const parts = dwarfPath.split('/').filter((p) => p && p !== '.');
  for (let skip = 0; skip < parts.length; skip++) {
    const tail = parts.slice(skip).join('/');
    for (const root of roots) {
      const candidate = `${root.replace(/\/$/, '')}/${tail}`;
      if (exists(candidate)) return candidate;
    }
  }
  return undefined;
}
