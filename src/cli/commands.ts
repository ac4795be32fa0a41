// The four CLI commands over a Source. Output goes through `out` so tests capture it.

import {
  coalesce,
  hex,
  parseAddress,
  regimeFromRegisters,
  type RegimeKind,
  formatPerms,
  type Translation,
  walk,
  type WalkProgress,
  type WalkResult,
  type PhysReader,
  stage2Reader,
} from '../aarch64';
import { stage2For, translateTwoStage } from '../aarch64/twoStage';
import {
  guardReport,
  guardSummaryLines,
  makeSnapshot,
  ownershipLines,
  ownershipSummary,
  regimeInfos,
  stage2PaOf,
  type Snapshot,
} from '../analysis';
import { stepMeaning, translateEl1 } from '../analysis/translation';
import { type GuardReport, leafJson, predictAccess, reportJson } from '../pvmfw';
import {
  diagnosticLines,
  diagnosticsHeader,
  leafLines,
  regimeHeader,
  regionLines,
  statsLine,
  translationLines,
  type OutputColumns,
} from './render';
import {
  leafMeaning,
  profileById,
  type Profile,
  type ProfileChoice,
  type ProfileOverride,
} from '../profiles';
import { formatAddress } from '../shared/format';
import { CliError, type Source } from './source';
import { cliPicture, cliProfile } from './stop';
import { differences } from './vcpu';

/** The `verdict` member of the JSON reports: what pvmfw's handler does with this access or fault. */
function verdictJson(
  v: { kind: string; summary: string; mapIpa?: bigint } | undefined,
): { kind: string; summary: string; mapIpa?: string } | null {
  if (!v) return null;
  return { kind: v.kind, summary: v.summary, ...(v.mapIpa !== undefined ? { mapIpa: hex(v.mapIpa) } : {}) };
}

export interface CommonOptions {
  readonly regime: RegimeKind;
  readonly json: boolean;
  readonly lazyBit: number;
  readonly maxTables: number;
  readonly progress: boolean;
  readonly out: (s: string) => void;
  readonly elf?: string;
  readonly guardLog?: string;
  readonly profile?: ProfileOverride;
  /** walk: add the PA stage 2 gives each IPA (a stage-1 regime under an active stage 2). */
  readonly finalPa?: boolean;
}

/**
 * Lines written to `out` a few thousand at a time: the output of a big walk is never one string
 * (V8 caps strings at 512 MiB) nor one argument list (`push(...lines)` overflows the stack).
 */
class LineSink {
  private buf: string[] = [];
  constructor(private readonly out: (s: string) => void) {}
  line(s: string): void {
    this.buf.push(s);
    if (this.buf.length >= 4096) this.flush();
  }
  all(ls: Iterable<string>): void {
    for (const s of ls) this.line(s);
  }
  flush(): void {
    if (this.buf.length === 0) return;
    this.out(this.buf.join('\n') + '\n');
    this.buf = [];
  }
}

const lines = (o: CommonOptions, ls: Iterable<string>): void => {
  const sink = new LineSink(o.out);
  sink.all(ls);
  sink.flush();
};

/** The walk's diagnostics, capped by the walker, with a hint when the table cap stopped it. */
function diagnosticsText(sink: LineSink, w: WalkResult): void {
  const head = diagnosticsHeader(w);
  if (head === undefined) return;
  sink.line(head);
  sink.all(diagnosticLines(w));
  if (w.diagnosticTotals.tableCap)
    sink.line('  (the table cap stopped the walk: raise --max-tables to go further)');
}

/**
 * The JSON report of `reportJson`, written in pieces: the leaves one at a time (a walk may have
 * millions; their objects and one JSON string of them all would not fit in memory), then the rest.
 * `tail` adds members after `stats`.
 */
function writeReportJson(
  o: CommonOptions,
  w: WalkResult,
  guard: GuardReport | undefined,
  extra: { packets?: number },
  tail: Record<string, unknown> = {},
  profile?: Profile,
  finalPa?: (ipa: number) => number | undefined,
): void {
  const lean: WalkResult = {
    regime: w.regime,
    roots: w.roots,
    tables: w.tables,
    store: w.store,
    leaves: [],
    diagnostics: w.diagnostics,
    diagnosticTotals: w.diagnosticTotals,
    stats: w.stats,
  };
  const { regime, leaves: _leaves, regions, ...rest } = reportJson(lean, guard, extra);
  o.out(`{"regime":${JSON.stringify(regime)},"leaves":[`);
  const bit = guard?.lazyBit ?? o.lazyBit;
  const st = w.store;
  jsonItems(o, st.length, (i) => {
    const l = st.leaf(i);
    // Under stage 2, `pa` is an IPA (the report's outputAddresses says so); --final-pa adds the PA.
    const f = finalPa ? { finalPa: ((x) => (x !== undefined ? hex(x) : null))(finalPa(l.paNum)) } : {};
    if (!profile || profile.lazyMmio) return { ...leafJson(l, bit), ...f };
    // Not pvmfw: no lazy state; the profile's meaning of the software bits instead.
    const m = leafMeaning(profile, l);
    return { ...leafJson(l, bit), ...f, lazy: null, ...(m ? { meaning: m.label } : {}) };
  });
  o.out('],"regions":[');
  jsonItems(o, regions.length, (i) => regions[i]);
  o.out(`],${JSON.stringify({ ...rest, ...tail }).slice(1)}\n`);
}

/** Items 0 .. n - 1 as comma-separated JSON, written a few thousand at a time. */
function jsonItems(o: CommonOptions, n: number, item: (i: number) => unknown): void {
  let chunk: string[] = [];
  for (let i = 0; i < n; i++) {
    chunk.push(JSON.stringify(item(i)));
    if (chunk.length === 4096 || i === n - 1) {
      o.out((i >= chunk.length ? ',' : '') + chunk.join(','));
      chunk = [];
    }
  }
}

/** A progress bar on stderr, shown only once a walk has run for a second. */
function progress(enabled: boolean): { onProgress?: (p: WalkProgress) => void; done(): void } {
  if (!enabled) return { done: () => undefined };
  const t0 = Date.now();
  let shown = false;
  return {
    onProgress(p) {
      if (Date.now() - t0 < 1000) return;
      shown = true;
      const total = p.tablesRead + p.tablesPending;
      const width = 30;
      const fill = total ? Math.round((p.tablesRead / total) * width) : 0;
      process.stderr.write(
        `\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${p.tablesRead}/${total} tables, ${p.leaves} leaves `,
      );
    },
    done() {
      if (shown) process.stderr.write('\n');
    },
  };
}

/**
 * The reader for a regime's tables: EL1&0 tables under an enabled stage 2 sit at IPAs, read through
 * the stage-2 walk like the hardware does; everything else is read physically.
 */
async function tableReader(
  src: Source,
  o: CommonOptions,
  kind: RegimeKind,
): Promise<{ reader: PhysReader; stage2?: WalkResult }> {
  if (kind !== 'el1') return { reader: src.reader };
  const s2 = regimeFromRegisters('stage2', src.registers);
  if (!s2.roots[0]?.enabled) return { reader: src.reader };
  const w = await walk(s2, src.reader, { maxTables: o.maxTables });
  return { reader: stage2Reader(src.reader, w.store), stage2: w };
}

/**
 * An unreadable register is an error, never a 0: when every root of the regime is unknown (a register
 * it depends on could not be read), the command fails with the reason instead of printing an empty
 * or "MMU off" result with exit 0.
 */
function requireKnown(kind: RegimeKind, registers: Source['registers']): void {
  const roots = regimeFromRegisters(kind, registers).roots;
  if (roots.length && roots.every((r) => r.unknown))
    throw new CliError(
      `cannot walk the ${kind} regime: ${roots.map((r) => `${r.base}: ${r.reason ?? '?'}`).join('; ')}`,
    );
}

async function doWalk(
  src: Source,
  o: CommonOptions,
  kind: RegimeKind,
): Promise<{ w: WalkResult; stage2?: WalkResult }> {
  requireKnown(kind, src.registers);
  const regime = regimeFromRegisters(kind, src.registers);
  const { reader, stage2 } = await tableReader(src, o, kind);
  const bar = progress(o.progress);
  try {
    const w = await walk(regime, reader, {
      maxTables: o.maxTables,
      ...(bar.onProgress ? { onProgress: bar.onProgress } : {}),
    });
    return { w, ...(stage2 ? { stage2 } : {}) };
  } finally {
    bar.done();
  }
}

export async function runWalk(src: Source, o: CommonOptions, everyLeaf: boolean): Promise<number> {
  const p0 = src.packets();
  const { w, stage2 } = await doWalk(src, o, o.regime);
  // Under an active stage 2 a stage-1 regime outputs IPAs: say so, and give the PA on request.
  const out: OutputColumns = stage2
    ? { label: 'IPA', ...(o.finalPa ? { finalPa: stage2PaOf(stage2.store) } : {}) }
    : { label: 'PA' };
  const packets = p0 !== undefined ? (src.packets() ?? 0) - p0 : undefined;
  // What the regime's software bits mean: pvmfw's lazy MMIO (and its invariants) only under its profile.
  const choice = cliProfile(src, o, o.regime);
  const profile = profileById(choice.profile, o.lazyBit);
  // Stage 2 has no lazy state: its MEANING is the hypervisor's (pKVM's MMIO-guard notes under pvmfw).
  const column = profile.lazyMmio && o.regime !== 'stage2' ? o.lazyBit : profile;
  if (o.json) {
    // The anomalies are the analysis core's, as `guard` and the adapter report them (one answer):
    // pvmfw's invariants on EL1 under its profile, else the walk's own diagnostics.
    const core =
      profile.lazyMmio && o.regime === 'el1' ? (await cliPicture(src, o)).picture.guard : undefined;
    writeReportJson(
      o,
      w,
      undefined,
      packets !== undefined ? { packets } : {},
      {
        profile: choiceJson(choice),
        outputAddresses: out.label,
        vcpu: src.vcpu ?? null,
        ...(src.memoryPath ? { memoryPath: src.memoryPath } : {}),
        ...(core
          ? {
              anomalies: core.anomalies.map((a) => ({
                kind: a.code,
                severity: a.severity,
                ...(a.va !== undefined ? { va: a.va } : {}),
                ...(a.ipa !== undefined ? { ipa: a.ipa } : {}),
                message: a.message,
              })),
            }
          : {}),
      },
      profile,
      out.finalPa,
    );
    return 0;
  }
  const sink = new LineSink(o.out);
  sink.all(regimeHeader(w.regime, shownLabel(src)));
  sink.line(`  profile    ${choice.profile}: ${choice.evidence}`);
  const regions = coalesce(w.store);
  if (stage2)
    sink.line(
      `  note       stage 2 is on (HCR_EL2.VM = 1): the output addresses are IPAs${o.finalPa ? '; PA (stage 2) is where stage 2 maps each' : ' (--final-pa adds their PAs)'}`,
    );
  sink.all(everyLeaf ? leafLines(w, column, out) : regionLines(w, column, regions, out));
  // Which path read the tables; when it is the gdbstub on a live QEMU, why the fast path is not in use.
  const mp = src.memoryPath;
  const via = mp
    ? `; memory via ${mp.path}${mp.path === 'gdbstub' ? ` (${mp.detail.replace(/^[^:]*: /, '')})` : ''}`
    : '';
  sink.line(`${statsLine(w, packets, regions.length)}${via}`);
  diagnosticsText(sink, w);
  sink.flush();
  return 0;
}

/** Where the stop came from, with the vCPU read ("gdb 127.0.0.1:1234, vCPU 1 of 2"). */
function shownLabel(src: Source): string {
  if (src.vcpu === undefined) return src.label;
  return `${src.label}, vCPU ${src.vcpu}${src.vcpus?.length ? ` of ${src.vcpus.length}` : ''}`;
}

/** A regime's profile in the JSON reports. */
function choiceJson(c: ProfileChoice): { name: string; evidence: string; overridden: boolean } {
  return { name: c.profile, evidence: c.evidence, overridden: c.overridden };
}

/** A walk's steps in the JSON report. */
function stepsJson(t: Translation): unknown[] {
  return t.steps.map((s) => ({
    level: s.level,
    table: hex(s.table),
    index: s.index,
    descAddr: hex(s.descAddr),
    desc: s.desc !== undefined ? hex(s.desc, 16) : null,
    type: s.decoded?.type ?? null,
  }));
}

export async function runTranslate(
  src: Source,
  o: CommonOptions,
  text: string,
  access: { write: boolean; exec: boolean; el0: boolean },
): Promise<number> {
  const va = parseAddress(text);
  if (va === undefined || va >= 1n << 64n) throw new CliError(`not an address: '${text}'`);
  const regime = regimeFromRegisters(o.regime, src.registers);
  // The analysis core's translation, as the adapter's translate request gives it: EL1&0 goes on
  // through stage 2 when HCR_EL2.VM = 1 (its tables are fetched through stage 2 too).
  const x =
    o.regime === 'el1'
      ? await translateEl1(src.registers, src.reader, va, access)
      : await translateTwoStage(regime, undefined, src.reader, va, access);
  const s1 = x.stage1;
  // pvmfw's verdict is about its stage-1 tables; a stage-2 fault (on the walk or on the IPA) is
  // taken to EL2, not by pvmfw's handler.
  const s1profile = profileById(cliProfile(src, o, o.regime).profile, o.lazyBit);
  const pvmfw = s1profile.lazyMmio;
  // The regime profile's meaning of the stage-1 entry the walk ended on (PROT_NONE, a swap entry).
  const s1meaning = pvmfw ? undefined : stepMeaning(s1, regime, s1profile);
  const verdict =
    pvmfw && regime.fmt.stage === 1 && x.fault?.stage !== 2
      ? predictAccess(s1, access.write, o.lazyBit)
      : undefined;
  // What the stage-2 entry the walk ended on means (pKVM's lazy identity map, an owner, a guard note).
  const s2config = stage2For(src.registers);
  const s2meaning =
    x.twoStage && x.stage2 && s2config
      ? stepMeaning(x.stage2, s2config, profileById(cliProfile(src, o, 'stage2').profile, o.lazyBit))
      : undefined;
  if (o.json) {
    const t2 = x.stage2;
    o.out(
      JSON.stringify({
        va: hex(va),
        vcpu: src.vcpu ?? null,
        base: s1.base ?? null,
        steps: stepsJson(s1),
        // Under stage 2 the step addresses are IPAs: their PAs, null where stage 2 does not map one.
        stepsPhysical: x.twoStage
          ? s1.steps.map((_s, k) => {
              const pa = x.tableWalks?.[k]?.pa;
              return pa !== undefined ? hex(pa) : null;
            })
          : null,
        // The final physical address (through stage 2 when it applies), null when the access faults.
        pa: x.pa !== undefined ? hex(x.pa) : null,
        // The stage-1 output under stage 2 (or the IPA an invalid leaf names); null without stage 2.
        ipa: x.ipa !== undefined ? hex(x.ipa) : null,
        fault: x.fault
          ? {
              stage: x.fault.stage,
              kind: x.fault.kind,
              level: x.fault.level,
              message: x.fault.message,
              ...(x.fault.ipa !== undefined ? { ipa: hex(x.fault.ipa) } : {}),
              ...(x.fault.s1ptw
                ? { s1ptw: { level: x.fault.s1ptw.level, tableIpa: hex(x.fault.s1ptw.tableIpa) } }
                : {}),
            }
          : null,
        shadowPa: s1.shadowPa !== undefined ? hex(s1.shadowPa) : null,
        // The stage-1 leaf's memory type; `combined` is what the access gets.
        memType: s1.memType?.name ?? null,
        stage2:
          x.twoStage && t2
            ? {
                ipa: hex(t2.va),
                steps: stepsJson(t2),
                pa: t2.pa !== undefined ? hex(t2.pa) : null,
                fault: t2.fault
                  ? { kind: t2.fault.kind, level: t2.fault.level, message: t2.fault.message }
                  : null,
                memType: t2.memType && !t2.leafInvalid ? t2.memType.name : null,
                perms: t2.perms !== undefined && !t2.leafInvalid ? formatPerms('stage2', t2.perms) : null,
                meaning: s2meaning ?? null,
              }
            : null,
        combined:
          x.memType && x.perms !== undefined
            ? { memType: x.memType.name, perms: formatPerms(regime.perm, x.perms) }
            : null,
        verdict: verdictJson(verdict),
        meaning: s1meaning ?? null,
      }) + '\n',
    );
  } else {
    lines(o, translationLines(x, regime, verdict));
    if (s1meaning) o.out(`${s1profile.id}: ${s1meaning}\n`);
    if (s2meaning) o.out(`stage 2 entry: ${s2meaning}\n`);
  }
  return x.pa !== undefined ? 0 : 4;
}

export async function runGuard(src: Source, o: CommonOptions): Promise<number> {
  // The analysis core's picture of the stop: the report the adapter's guardState request gives.
  requireKnown('el1', src.registers);
  const { picture } = await cliPicture(src, o);
  const { stopId: _stopId, fault, ...guard } = guardReport(picture);
  const atFault = picture.atFault ? fault : undefined;
  if (o.json) {
    o.out(
      `${JSON.stringify({
        source: src.label,
        vcpu: src.vcpu ?? null,
        regimes: regimeInfos(picture),
        profiles: {
          el1: choiceJson(picture.profiles.el1),
          el2: choiceJson(picture.profiles.el2),
          stage2: choiceJson(picture.profiles.stage2),
        },
        guard,
        // pKVM's page ownership (host stage 2, the hypervisor's tables), when a pKVM profile applies.
        ownership: ownershipSummary(picture),
        counts: picture.guard.counts,
        // The last exception the registers record, with its walk and verdict (as the adapter's
        // Fault scope shows it); `verdict` is set only when PC is in the vector table.
        ...(fault ? { fault } : {}),
        stoppedInVector: picture.atFault,
        verdict: atFault?.verdict ?? null,
      })}\n`,
    );
  } else {
    const sink = new LineSink(o.out);
    const s1 = picture.el1.result;
    sink.all(regimeHeader(s1.regime, shownLabel(src)));
    sink.line(statsLine(s1));
    const s2 = picture.stage2?.result;
    sink.line(
      s2
        ? `stage 2: ${s2.store.length} leaves from ${formatAddress(s2.roots[0].root)} (VMID ${s2.roots[0].vmid ?? 0})`
        : `stage 2: ${regimeFromRegisters('stage2', src.registers).roots[0]?.reason ?? 'not available'}`,
    );
    for (const r of ['el1', 'el2', 'stage2'] as const)
      sink.line(`profile ${r}: ${picture.profiles[r].profile} (${picture.profiles[r].evidence})`);
    sink.all(guardSummaryLines({ ...guard, stopId: 0 }));
    sink.all(ownershipLines(ownershipSummary(picture)));
    const f = guard.firmware;
    if (f)
      sink.line(
        `  pvmfw: ${f.generation}, handler ${f.handler}, guard granule ${f.granule} (${f.granuleFrom})${f.stage2 ? `, stage 2 guard maps ${f.stage2}` : ''}`,
      );
    if (!guard.anomalies.length) sink.line('anomalies: none');
    if (atFault) sink.line(`stopped in an EL1 exception: ${atFault.verdict.summary}`);
    sink.flush();
  }
  return guard.anomalies.some((a) => a.severity === 'error') ? 3 : 0;
}

export async function runSnapshot(src: Source, o: CommonOptions): Promise<Snapshot> {
  // Everything the analysis of this stop reads (both stages, the guard log, the tracker's regions)
  // is recorded, so the snapshot answers what the live target answered.
  const { program } = await cliPicture(src, o);
  // Every other vCPU whose regimes differ: walked too, so the snapshot answers --cpu N as live.
  const mine = src.vcpus?.find((v) => v.vcpu === src.vcpu);
  for (const v of src.vcpus ?? []) {
    if (v.vcpu === src.vcpu || (mine && !differences([v, mine]).length)) continue;
    await cliPicture({ ...src, registers: { ...src.registers, ...v.registers } }, o);
  }
  return makeSnapshot(src.registers, src.reader.image, {
    source: src.label,
    symbols: program.symbols.entries(),
    ...(program.identity ? { program: program.identity } : {}),
    ...(src.vcpu !== undefined ? { vcpu: src.vcpu } : {}),
    ...(src.vcpus ? { vcpus: src.vcpus } : {}),
  });
}
