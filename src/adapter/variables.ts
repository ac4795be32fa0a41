// Scopes and variables: General (x0–x30, sp, pc, cpsr decoded), System (each register expands into
// its decoded fields), Fault (ESR decoded, FAR, the walk of FAR, pvmfw's verdict). Every node is
// built from the stop's cached registers; an unreadable register shows as "unavailable".
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { FaultInfo, WalkStep } from '../shared/protocol';
import { cpsrFields, formatHex64, GENERAL_REGISTERS, SYSTEM_REGISTERS } from '../target/registers';
import type { StopContext } from '../target/stopContext';
import type { SymbolTable } from '../elf/symbolTable';

export type VarNode =
  | { kind: 'general' }
  | { kind: 'system' }
  | { kind: 'fault' }
  | { kind: 'lines'; lines: readonly string[] }
  | { kind: 'children'; vars: DebugProtocol.Variable[] }
  /** Children computed when expanded (source variables: struct members, array elements, *p). */
  | { kind: 'lazy'; load: () => Promise<DebugProtocol.Variable[]> };

export interface VariableSources {
  ctx: StopContext;
  symbols: SymbolTable;
  fault(): Promise<FaultInfo | undefined>;
  /** Memory reference for a value, or undefined when it is not a plausible address. */
  memoryReference(value: bigint): string | undefined;
}

export class VariableStore {
  private nodes = new Map<number, VarNode>();
  private next = 1;

  reset(): void {
    this.nodes.clear();
    this.next = 1;
  }

  add(node: VarNode): number {
    const id = this.next++;
    this.nodes.set(id, node);
    return id;
  }

  get(id: number): VarNode | undefined {
    return this.nodes.get(id);
  }

  private lineVars(lines: readonly string[]): DebugProtocol.Variable[] {
    return lines.map((line) => {
      const eq = line.indexOf(' = ');
      return eq > 0
        ? { name: line.slice(0, eq), value: line.slice(eq + 3), variablesReference: 0 }
        : { name: '', value: line, variablesReference: 0 };
    });
  }

  async variables(node: VarNode, src: VariableSources): Promise<DebugProtocol.Variable[]> {
    switch (node.kind) {
      case 'lines':
        return this.lineVars(node.lines);
      case 'children':
        return node.vars;
      case 'lazy':
        return node.load();
      case 'general':
        return this.general(src);
      case 'system':
        return this.system(src);
      case 'fault':
        return this.faultVars(src);
    }
  }

  private unavailable(name: string): DebugProtocol.Variable {
    return {
      name,
      value: 'unavailable',
      variablesReference: 0,
      presentationHint: { attributes: ['readOnly'] },
    };
  }

  private async general(src: VariableSources): Promise<DebugProtocol.Variable[]> {
    const values = await src.ctx.regs(GENERAL_REGISTERS);
    const out: DebugProtocol.Variable[] = [];
    for (const name of GENERAL_REGISTERS) {
      const v = values.get(name);
      if (v === undefined) {
        out.push(this.unavailable(name));
        continue;
      }
      if (name === 'cpsr') {
        const fields = cpsrFields(v);
        out.push({
          name,
          value: `0x${v.toString(16)} ${fields[0].replace('M = ', '')}`,
          variablesReference: this.add({ kind: 'lines', lines: fields }),
        });
        continue;
      }
      const sym = name === 'pc' || name === 'x30' ? src.symbols.describe(v) : undefined;
      out.push({
        name,
        value: `${formatHex64(v)}${sym ? ` <${sym}>` : ''}`,
        variablesReference: 0,
        memoryReference: src.memoryReference(v),
        evaluateName: `$${name}`,
        type: 'u64',
      });
    }
    return out;
  }

  private async system(src: VariableSources): Promise<DebugProtocol.Variable[]> {
    const regs = SYSTEM_REGISTERS.filter((r) => r.el === 1 || src.ctx.has(r.name));
    const values = await src.ctx.regs(regs.map((r) => r.name));
    return regs.map((r) => {
      const v = values.get(r.name);
      if (v === undefined) return this.unavailable(r.name);
      const sym = r.name.startsWith('ELR') || r.name.startsWith('VBAR') ? src.symbols.describe(v) : undefined;
      return {
        name: r.name,
        value: `${formatHex64(v)}${sym ? ` <${sym}>` : ''}`,
        variablesReference: r.decode ? this.add({ kind: 'lines', lines: r.decode(v) }) : 0,
        evaluateName: `$${r.name}`,
        presentationHint: { attributes: ['readOnly'] },
        type: 'u64',
      };
    });
  }

  private async faultVars(src: VariableSources): Promise<DebugProtocol.Variable[]> {
    const f = await src.fault();
    if (!f) return [{ name: 'fault', value: 'no exception recorded (ESR is 0)', variablesReference: 0 }];
    const out: DebugProtocol.Variable[] = [
      {
        name: 'verdict',
        value: f.verdict.summary,
        variablesReference: 0,
        presentationHint: { attributes: ['readOnly'] },
      },
    ];
    if (f.vector) out.push({ name: 'vector', value: f.vector, variablesReference: 0 });
    out.push({
      name: 'ESR',
      value: `${f.esr.raw} ${f.esr.ecName}${f.esr.fscName ? `: ${f.esr.fscName}` : ''}`,
      variablesReference: this.add({ kind: 'lines', lines: f.esr.fields }),
    });
    out.push({ name: 'FAR', value: f.far, variablesReference: 0, memoryReference: f.far });
    out.push({
      name: 'ELR',
      value: `${f.elr}${f.elrSymbol ? ` <${f.elrSymbol}>` : ''}`,
      variablesReference: 0,
      memoryReference: f.elr,
    });
    // Each stage-1 entry of the walk offers "Break When This Entry Is Written" (watch-pte fault).
    const walkVars = walkRows(f.walk).map((v) => ({ ...v, __vscodeVariableMenuContext: FAULT_PTE_MENU }));
    out.push({
      name: 'walk of FAR',
      value: `${f.walk.length} level(s)`,
      variablesReference: this.add({ kind: 'children', vars: walkVars }),
    });
    const s2 = f.stage2;
    if (s2) {
      // A stage-2 abort taken to EL2: the IPA (HPFAR_EL2), its stage-2 walk and what the entry means.
      const s2walk = walkRows(s2.walk);
      out.push({
        name: 'IPA (HPFAR_EL2)',
        // An IPA, not a PA: no memory reference (the stage-2 walk's entries have theirs).
        value: `${s2.ipa}${s2.s1ptw ? ' (S1PTW: a stage-1 table fetch)' : ''}`,
        variablesReference: 0,
      });
      out.push({
        name: 'stage-2 walk of IPA',
        value: `${s2.fault ?? 'translates'}${s2.meaning ? ` — ${s2.meaning}` : ''}`,
        variablesReference: this.add({ kind: 'children', vars: s2walk }),
      });
    }
    if (f.verdict.mapIpa)
      out.push({ name: 'MMIO_GUARD_MAP IPA', value: f.verdict.mapIpa, variablesReference: 0 });
    if (f.verdict.splitLevel !== undefined) {
      const size = f.verdict.splitLevel === 1 ? '1 GiB' : '2 MiB';
      out.push({
        name: 'split',
        value: `the level-${f.verdict.splitLevel} lazy ${size} block becomes a table`,
        variablesReference: 0,
      });
    }
    if (f.verdict.detail) out.push({ name: 'handler', value: f.verdict.detail, variablesReference: 0 });
    return out;
  }
}

/**
 * The context VS Code gives a Variables-view row's menu (its `__vscodeVariableMenuContext`, read as
 * `debugProtocolVariableMenuContext` in package.json): the Fault scope's stage-1 walk entries.
 */
export const FAULT_PTE_MENU = 'pvmfwMmu.faultPte';

/** A walk's steps as Fault-scope rows, each opening its descriptor in the memory view. */
function walkRows(steps: readonly WalkStep[]): DebugProtocol.Variable[] {
  return steps.map((s) => ({
    name: `L${s.level}[${s.index}]`,
    value: `${s.descriptor ?? '(unreadable)'}${s.kind ? ` ${s.kind}` : ''} @ ${s.descriptorAddress}${s.stop ? ` — ${s.stop}` : ''}`,
    variablesReference: 0,
    memoryReference: `p:${s.descriptorAddress}`,
  }));
}
