// Scopes, variables, evaluate and memory requests: everything that reads the stopped target.
import type { DebugProtocol } from '@vscode/debugprotocol';
import {
  evalAddress,
  ExpressionError,
  parseAddressExpr,
  parseExpression,
  type AddressExpr,
  CONSOLE_HELP,
} from './evaluate';
import { ownershipLines } from '../analysis/ownership';
import { evaluateTranslate, guardSummary } from './mmuConsole';
import { consoleCompletions } from './consoleCompletions';
import { examine } from './memoryConsole';
import { openMemoryView, type MemoryViewHost } from './memoryViewConsole';
import { PteWatches, type PteWatchHost } from './pteWatchConsole';
import { fromLittleEndian, memoryReference, parseMemoryReference, readSpan } from './memory';
import { formatHex64, GENERAL_REGISTERS, SYSTEM_REGISTERS } from '../target/registers';
import type { AdapterHost } from './host';
import type { VariableSources } from './variables';
import { formatAddress } from '../shared/format';

export class Inspect {
  constructor(
    private readonly s: Pick<
      AdapterHost,
      | 'gdb'
      | 'port'
      | 'symbols'
      | 'lastStop'
      | 'mmu'
      | 'vars'
      | 'need'
      | 'requireStopped'
      | 'log'
      | 'refreshContext'
    > & { readonly exceptions: PteWatchHost } & MemoryViewHost,
  ) {
    this.pteWatches = new PteWatches(s.mmu, () => s.exceptions);
  }

  /** The console's `watch-pte` watches (the session asks them what a data-breakpoint stop was). */
  readonly pteWatches: PteWatches;

  private sources(): VariableSources {
    const ctx = this.s.requireStopped();
    return {
      ctx,
      symbols: this.s.symbols,
      fault: () => this.s.mmu.fault(ctx),
      memoryReference: (v) => (v >= 0x1000n && v < 1n << 48n ? memoryReference('virtual', v) : undefined),
    };
  }

  async scopes(_args: DebugProtocol.ScopesArguments): Promise<DebugProtocol.ScopesResponse['body']> {
    const ctx = this.s.requireStopped();
    const scopes: DebugProtocol.Scope[] = [
      {
        name: 'General',
        presentationHint: 'registers',
        variablesReference: this.s.vars.add({ kind: 'general' }),
        expensive: false,
      },
      {
        name: 'System',
        presentationHint: 'registers',
        variablesReference: this.s.vars.add({ kind: 'system' }),
        expensive: false,
      },
    ];
    const esr = await ctx.reg('ESR_EL1');
    if ((esr !== undefined && esr !== 0n) || this.s.lastStop?.reason === 'exception') {
      const fault: DebugProtocol.Scope = {
        name: 'Fault',
        variablesReference: this.s.vars.add({ kind: 'fault' }),
        expensive: false,
      };
      // At a fault the verdict is what the user stopped for: first, so VS Code opens it (it expands
      // the first scope), instead of 31 general registers. Elsewhere it follows the registers.
      const atFault =
        this.s.lastStop?.reason === 'exception' ||
        (await this.s.mmu.current().then(
          (p) => p.atFault,
          () => false,
        ));
      if (atFault) scopes.unshift(fault);
      else scopes.push(fault);
    }
    return { scopes };
  }

  async variables(args: DebugProtocol.VariablesArguments): Promise<DebugProtocol.VariablesResponse['body']> {
    const node = this.s.vars.get(args.variablesReference);
    if (!node) return { variables: [] };
    return { variables: await this.s.vars.variables(node, this.sources()) };
  }

  private addr(e: AddressExpr): Promise<bigint> {
    const ctx = this.s.requireStopped();
    return evalAddress(e, { register: (n) => ctx.reg(n), symbol: (n) => this.s.symbols.lookup(n)?.address });
  }

  /** FAR of the last exception the registers record (the Fault scope's): what `watch-pte fault` watches. */
  private async faultAddress(): Promise<bigint> {
    const f = await this.s.mmu.fault(this.s.requireStopped());
    if (!f) throw new Error('no exception recorded (ESR is 0): watch-pte fault has no walk to watch');
    return BigInt(f.far);
  }

  async evaluate(args: DebugProtocol.EvaluateArguments): Promise<DebugProtocol.EvaluateResponse['body']> {
    let expr;
    try {
      expr = parseExpression(args.expression);
    } catch (e) {
      if (e instanceof ExpressionError) throw new Error(e.message);
      throw e;
    }
    // Only the Debug Console is an explicit user action. Hovers evaluate whatever text is under the
    // mouse, watches re-run at every stop, and other extensions may send any context: none of them
    // may drive QEMU's monitor (`migrate "exec:…"` runs a shell command) or touch a device.
    const explicit = args.context === 'repl';
    const from = `from ${args.context === undefined ? 'an evaluate request without a context' : `the '${args.context}' context`}`;
    if (expr.kind === 'monitor' && !explicit)
      throw new Error(
        `monitor commands run only from the Debug Console; refused ${from} (QEMU's monitor can run programs on the host)`,
      );
    const port = this.s.need(this.s.port);
    switch (expr.kind) {
      case 'monitor': {
        // Shown before it runs: what reaches QEMU's monitor is never a surprise.
        this.s.log(`QEMU monitor: ${expr.command}`);
        const out = await port.monitor(expr.command);
        return { result: out.replace(/\n$/, ''), variablesReference: 0 };
      }
      case 'guard':
        return guardSummary(this.s.mmu);
      case 'ownership': {
        const lines = ownershipLines(await this.s.mmu.ownership());
        return {
          result:
            lines.join('\n') || 'no pKVM profile applies at this stop: nothing to say of page ownership',
          variablesReference: 0,
        };
      }
      case 'help':
        return { result: CONSOLE_HELP, variablesReference: 0 };
      case 'mem':
        return openMemoryView(
          this.s,
          { physical: expr.physical, text: args.expression.trim().slice(3).trim() },
          await this.addr(expr.address),
          explicit,
          from,
        );
      case 'pte':
        return evaluateTranslate(this.s.mmu, await this.addr(expr.address), expr.kind);
      case 'translate':
        return evaluateTranslate(this.s.mmu, await this.addr(expr.address), expr.kind, expr.access);
      case 'watchPte': {
        // Sets a watchpoint: an explicit action, like monitor commands.
        if (!explicit) throw new Error(`watch-pte runs only from the Debug Console; refused ${from}`);
        const result = expr.clear
          ? await this.pteWatches.clear()
          : expr.fault
            ? await this.pteWatches.add(await this.faultAddress(), expr.level)
            : expr.address
              ? await this.pteWatches.add(await this.addr(expr.address), expr.level)
              : this.pteWatches.list();
        return { result, variablesReference: 0 };
      }
      case 'examine': {
        const mmu = this.s.mmu;
        const host = {
          port,
          isDevice: (space: 'virtual' | 'physical', a: bigint) => mmu.isDevice(space, a),
          explainUnreadable: (space: 'virtual' | 'physical', a: bigint) => mmu.explainUnreadable(space, a),
          describe: (a: bigint) => this.s.symbols.describe(a),
        };
        return examine(host, expr, await this.addr(expr.address), explicit, from);
      }
      case 'deref': {
        const a = await this.addr(expr.address);
        const space = expr.physical ? 'physical' : 'virtual';
        // Reading a device register runs the device model (a UART read pops a byte).
        const device = await this.s.mmu.isDevice(space, a);
        if (device && !explicit)
          throw new Error(
            `${formatAddress(a)} is device memory: reading it has side effects, so it is read only from the Debug Console; refused ${from}`,
          );
        const r = await readSpan(port, { space, address: a }, expr.width);
        if (r.faultAt !== undefined) throw new Error(await this.s.mmu.explainUnreadable(space, r.faultAt));
        const v = fromLittleEndian(r.data);
        return {
          result: `0x${v.toString(16).padStart(expr.width * 2, '0')} (${v})`,
          type: `u${expr.width * 8}`,
          variablesReference: 0,
          memoryReference: memoryReference(space, a),
          presentationHint: device ? { attributes: ['hasSideEffects'] } : undefined,
        };
      }
      case 'value': {
        const single = expr.expr.terms.length === 1 ? expr.expr.terms[0].term : undefined;
        const v = await this.addr(expr.expr);
        const reg =
          single && single.kind !== 'number'
            ? SYSTEM_REGISTERS.find((r) => r.name.toLowerCase() === single.name.toLowerCase())
            : undefined;
        const sym = this.s.symbols.describe(v);
        return {
          result: `${formatHex64(v)}${sym ? ` <${sym}>` : ''}`,
          type: 'u64',
          variablesReference: reg?.decode ? this.s.vars.add({ kind: 'lines', lines: reg.decode(v) }) : 0,
          memoryReference: memoryReference('virtual', v),
        };
      }
    }
  }

  /** Console completions: commands and their options, `$register` names, symbols. */
  completions(args: DebugProtocol.CompletionsArguments): DebugProtocol.CompletionsResponse['body'] {
    return {
      targets: consoleCompletions(args.text, args.column, {
        registers: [...GENERAL_REGISTERS, ...SYSTEM_REGISTERS.map((x) => x.name)],
        symbols: (prefix, limit) => this.s.symbols.complete(prefix, limit),
      }),
    };
  }

  /** Writes a general register (x0–x30, sp, pc, cpsr); system registers are read-only over the stub. */
  async setVariable(
    args: DebugProtocol.SetVariableArguments,
  ): Promise<DebugProtocol.SetVariableResponse['body']> {
    const ctx = this.s.requireStopped();
    const node = this.s.vars.get(args.variablesReference);
    if (node?.kind !== 'general')
      throw new Error(`${args.name} is read-only (QEMU's gdbstub cannot write system registers)`);
    const v = await evalAddress(parseAddressExpr(args.value), {
      register: (n) => ctx.reg(n),
      symbol: (n) => this.s.symbols.lookup(n)?.address,
    });
    await this.s.need(this.s.gdb).writeRegister(args.name, v, ctx.threadId);
    // Registers are cached per stop: drop the cache so every view reads the new value.
    this.s.refreshContext();
    return { value: formatHex64(v), type: 'u64' };
  }

  async readMemory(
    args: DebugProtocol.ReadMemoryArguments,
  ): Promise<DebugProtocol.ReadMemoryResponse['body']> {
    this.s.requireStopped();
    const ref = parseMemoryReference(args.memoryReference);
    const address = BigInt.asUintN(64, ref.address + BigInt(args.offset ?? 0));
    // The request gate (requestArgs.ts) refuses counts over LIMITS.memoryBytes.
    const count = args.count;
    // Reading a device register runs the device model (a UART read pops a byte): never implicitly.
    if (await this.s.mmu.isDevice(ref.space, address)) {
      throw new Error(
        `${formatAddress(address)} is device memory: reading it has side effects. Use the Debug Console (*(u32*)${ref.space === 'physical' ? 'p:' : ''}0x${address.toString(16)}) to read one register on purpose.`,
      );
    }
    const r = await readSpan(this.s.need(this.s.port), { space: ref.space, address }, count);
    if (r.data.length === 0 && r.faultAt !== undefined)
      throw new Error(await this.s.mmu.explainUnreadable(ref.space, r.faultAt));
    return {
      address: `0x${address.toString(16)}`,
      data: Buffer.from(r.data).toString('base64'),
      unreadableBytes: count - r.data.length,
    };
  }

  async writeMemory(
    args: DebugProtocol.WriteMemoryArguments,
  ): Promise<DebugProtocol.WriteMemoryResponse['body']> {
    this.s.requireStopped();
    const gdb = this.s.need(this.s.gdb);
    const ref = parseMemoryReference(args.memoryReference);
    const address = BigInt.asUintN(64, ref.address + BigInt(args.offset ?? 0));
    const data = Buffer.from(args.data, 'base64');
    if (ref.space === 'physical') await gdb.writePhysical(address, data);
    else await gdb.writeMemory(address, data);
    this.s.mmu.invalidateMemory();
    return { bytesWritten: data.length };
  }
}
