// Which pvmfw-mmu debug session the views follow, the typed custom requests to its adapter, and the
// `mmuChanged` events it sends after every stop. Views never talk to QEMU: everything goes through here.
// The adapter runs inline in this extension host: its `mmuChanged` is taken from the adapter tracker
// as it is sent, and the views' read-only MMU requests are handed to it directly (the same checks and
// handlers as a customRequest, without two trips through the workbench, which is busy drawing the
// stop), so both views can show a stop while the workbench still fetches its stack.

import * as vscode from 'vscode';
import type {
  Anomaly,
  CustomRequestArguments,
  CustomRequestCommand,
  CustomResponseBody,
  GuardCall,
  MmuChangedEventBody,
  PteChange,
} from '../shared/protocol';
import type { StopComparison } from '../shared/webviewMessages';
import { DEBUG_TYPE } from './ids';
import { StopTimings } from './stopTiming';

/** The inline adapter's in-process entry (PvmfwDebugSession.answer). */
export interface InlineAdapter {
  answer(command: string, args: unknown): Promise<unknown>;
}

/** Requests that only read the current stop's MMU picture: safe to answer in-process at any time. */
const DIRECT: ReadonlySet<CustomRequestCommand> = new Set<CustomRequestCommand>([
  'guardState',
  'pageTable',
  'regimes',
  'translate',
]);

export interface MmuStop {
  session: vscode.DebugSession;
  change: MmuChangedEventBody;
}

/**
 * What a session's stop is compared with instead of its previous stop: an earlier snapshot (Compare
 * Snapshots → Show in Page Tables). The views then mark what changed since that snapshot with the
 * marks a live stop's changes get. All of it comes from the analysis core's diffStops.
 */
export interface StopBaseline extends StopComparison {
  changes: PteChange[];
  newAnomalies: Anomaly[];
  newGuardCalls: GuardCall[];
}

export class MmuSessions implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly lastStop = new Map<string, MmuChangedEventBody>();
  /** Baselines waiting for the session on their snapshot file to start, by file path. */
  private readonly pendingBaselines = new Map<string, StopBaseline>();
  /** Baselines of running sessions, by session id. */
  private readonly baselines = new Map<string, StopBaseline>();
  private current: vscode.DebugSession | undefined;
  /** Sessions whose vCPUs are stopped (from DAP `stopped`/`continued`, seen by the tracker). */
  private readonly stopped = new Set<string>();
  /** Restarts per session: a restarted machine is compared with nothing from before it. */
  private readonly restarts = new Map<string, number>();
  /** Inline adapters by session id (AdapterFactory registers them). */
  private readonly adapters = new Map<string, InlineAdapter>();
  /** Where each stop's time goes (Show Stop Latency). */
  readonly timings = new StopTimings();

  private readonly stopEmitter = new vscode.EventEmitter<MmuStop>();
  /** After every stop of the followed session, with what changed. */
  readonly onDidStop = this.stopEmitter.event;

  private readonly sessionEmitter = new vscode.EventEmitter<vscode.DebugSession | undefined>();
  /** The followed session started, ended, or another one became active. */
  readonly onDidChangeSession = this.sessionEmitter.event;

  private readonly runEmitter = new vscode.EventEmitter<vscode.DebugSession>();
  /** The followed session resumed (continue, step): its tables are about to change. */
  readonly onDidContinue = this.runEmitter.event;

  constructor() {
    this.disposables.push(
      this.stopEmitter,
      this.sessionEmitter,
      this.runEmitter,
      vscode.debug.onDidStartDebugSession((s) => {
        if (s.type !== DEBUG_TYPE) return;
        const file: unknown = s.configuration.snapshot;
        const baseline = typeof file === 'string' ? this.pendingBaselines.get(file) : undefined;
        if (baseline && typeof file === 'string') {
          this.pendingBaselines.delete(file);
          this.baselines.set(s.id, baseline);
        }
        this.follow(s);
      }),
      vscode.debug.onDidChangeActiveDebugSession((s) => {
        if (s?.type === DEBUG_TYPE && s !== this.current) this.follow(s);
      }),
      vscode.debug.onDidTerminateDebugSession((s) => {
        this.adapters.delete(s.id);
        this.lastStop.delete(s.id);
        this.stopped.delete(s.id);
        this.baselines.delete(s.id);
        this.restarts.delete(s.id);
        if (s === this.current) {
          const next = vscode.debug.activeDebugSession;
          this.current = undefined;
          if (next?.type === DEBUG_TYPE) this.follow(next);
          else this.sessionEmitter.fire(undefined);
        }
      }),
      // The views follow the vCPU selected in the Call Stack (its regimes can differ).
      vscode.debug.onDidChangeActiveStackItem((item) => {
        if (!item || item.session.type !== DEBUG_TYPE || !this.stopped.has(item.session.id)) return;
        if (this.lastStop.get(item.session.id)?.threadId === item.threadId) return;
        void Promise.resolve(item.session.customRequest('selectThread', { threadId: item.threadId })).catch(
          () => undefined,
        );
      }),
    );
    const active = vscode.debug.activeDebugSession;
    if (active?.type === DEBUG_TYPE) this.current = active;
  }

  get session(): vscode.DebugSession | undefined {
    return this.current;
  }

  /** The last `mmuChanged` of the followed session (undefined while running or before the first stop). */
  get lastChange(): MmuChangedEventBody | undefined {
    return this.current ? this.lastStop.get(this.current.id) : undefined;
  }

  /** What the followed session's stop is compared with, when not its previous stop. */
  get baseline(): StopBaseline | undefined {
    return this.current ? this.baselines.get(this.current.id) : undefined;
  }

  /**
   * The next session started on `snapshotFile` reports its stop as changed since `baseline` (its
   * first stop has no previous one). Dispose to forget it if that session never starts.
   */
  compareNextSession(snapshotFile: string, baseline: StopBaseline): vscode.Disposable {
    this.pendingBaselines.set(snapshotFile, baseline);
    return new vscode.Disposable(() => {
      if (this.pendingBaselines.get(snapshotFile) === baseline) this.pendingBaselines.delete(snapshotFile);
    });
  }

  /** Resolves with the session's stop once it has one (at once if it has), or undefined after `ms`. */
  stopOf(session: vscode.DebugSession, ms: number): Promise<MmuChangedEventBody | undefined> {
    const have = this.lastStop.get(session.id);
    if (have) return Promise.resolve(have);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        sub.dispose();
        resolve(undefined);
      }, ms);
      const sub = this.stopEmitter.event(({ session: s, change }) => {
        if (s.id !== session.id) return;
        clearTimeout(timer);
        sub.dispose();
        resolve(change);
      });
    });
  }

  /** A stop's change as the views show it: since the session's baseline when it has one. */
  private againstBaseline(session: vscode.DebugSession, change: MmuChangedEventBody): MmuChangedEventBody {
    const b = this.baselines.get(session.id);
    if (!b) return change;
    return {
      ...change,
      changes: b.changes,
      newAnomalies: b.newAnomalies,
      newGuardCalls: b.newGuardCalls,
    };
  }

  /**
   * Which run of the followed session the views show: its id and restart count. Views compare a stop
   * with the previous one only within one run, so neither a new session (whose name is the same) nor
   * a restart inherits the changes of the old one.
   */
  get run(): string | undefined {
    return this.current ? `${this.current.id}#${this.restarts.get(this.current.id) ?? 0}` : undefined;
  }

  /** Called by the adapter tracker on a `restart` request: the session's stops start over. */
  markRestarted(session: vscode.DebugSession): void {
    this.restarts.set(session.id, (this.restarts.get(session.id) ?? 0) + 1);
    this.lastStop.delete(session.id);
    this.baselines.delete(session.id);
  }

  /** True while the followed session is stopped: only then are its tables worth reading. */
  get isStopped(): boolean {
    return this.current !== undefined && this.stopped.has(this.current.id);
  }

  /** Called by the adapter tracker on DAP `stopped` (before the adapter's `mmuChanged` arrives). */
  markStopped(session: vscode.DebugSession): void {
    this.timings.stopped(session.id);
    this.stopped.add(session.id);
  }

  /** Called by the adapter tracker when the session resumes. */
  markRunning(session: vscode.DebugSession): void {
    this.timings.resumed(session.id);
    this.stopped.delete(session.id);
    if (session === this.current) this.runEmitter.fire(session);
  }

  /**
   * Called by the adapter tracker when a resume was refused (a snapshot session does not run): the
   * session is still at its last stop, so the views show that stop again instead of "Running…".
   */
  resumeRefused(session: vscode.DebugSession): void {
    const change = this.lastStop.get(session.id);
    if (!change) return;
    this.stopped.add(session.id);
    if (session === this.current) this.stopEmitter.fire({ session, change });
  }

  /** Typed custom request to the followed session's adapter (in-process when it runs inline). */
  async request<C extends CustomRequestCommand>(
    command: C,
    args: CustomRequestArguments<C>,
  ): Promise<CustomResponseBody<C>> {
    const s = this.current;
    if (!s) throw new Error('No pvmfw-mmu debug session is running.');
    const inline = DIRECT.has(command) ? this.adapters.get(s.id) : undefined;
    if (inline) return (await inline.answer(command, args)) as CustomResponseBody<C>;
    return (await s.customRequest(command, args)) as CustomResponseBody<C>;
  }

  /** Called by the adapter factory: the session's adapter runs in this process. */
  attachAdapter(session: vscode.DebugSession, adapter: InlineAdapter): void {
    this.adapters.set(session.id, adapter);
  }

  /**
   * Called by the adapter tracker as the adapter sends `mmuChanged` (in this process, before the
   * workbench sees it): the views follow the stop from here, not from the workbench's echo.
   */
  acceptMmuChanged(session: vscode.DebugSession, body: MmuChangedEventBody): void {
    this.timings.mmuChanged(session.id, body.stopId, body.reason, body.computeMs);
    const change = this.againstBaseline(session, body);
    this.lastStop.set(session.id, change);
    this.stopped.add(session.id);
    if (session !== this.current) this.follow(session);
    this.stopEmitter.fire({ session, change });
  }

  private follow(s: vscode.DebugSession): void {
    this.current = s;
    this.sessionEmitter.fire(s);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
