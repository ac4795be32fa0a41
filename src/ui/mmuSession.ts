// Which pvmfw-mmu debug session the views follow, the typed custom requests to its adapter, and the
// `mmuChanged` events it sends after every stop. Views never talk to QEMU: everything goes through here.

import * as vscode from 'vscode';
import type {
  CustomRequestArguments,
  CustomRequestCommand,
  CustomResponseBody,
  MmuChangedEventBody,
} from '../shared/protocol';
import { DEBUG_TYPE } from './ids';

export interface MmuStop {
  session: vscode.DebugSession;
  change: MmuChangedEventBody;
}

export class MmuSessions implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly lastStop = new Map<string, MmuChangedEventBody>();
  private current: vscode.DebugSession | undefined;
  /** Sessions whose vCPUs are stopped (from DAP `stopped`/`continued`, seen by the tracker). */
  private readonly stopped = new Set<string>();

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
        if (s.type === DEBUG_TYPE) this.follow(s);
      }),
      vscode.debug.onDidChangeActiveDebugSession((s) => {
        if (s?.type === DEBUG_TYPE && s !== this.current) this.follow(s);
      }),
      vscode.debug.onDidTerminateDebugSession((s) => {
        this.lastStop.delete(s.id);
        this.stopped.delete(s.id);
        if (s === this.current) {
          const next = vscode.debug.activeDebugSession;
          this.current = undefined;
          if (next?.type === DEBUG_TYPE) this.follow(next);
          else this.sessionEmitter.fire(undefined);
        }
      }),
      vscode.debug.onDidReceiveDebugSessionCustomEvent((e) => {
        if (e.session.type !== DEBUG_TYPE || e.event !== 'mmuChanged') return;
        const change = e.body as MmuChangedEventBody;
        this.lastStop.set(e.session.id, change);
        this.stopped.add(e.session.id);
        if (e.session !== this.current) this.follow(e.session);
        this.stopEmitter.fire({ session: e.session, change });
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

  /** True while the followed session is stopped: only then are its tables worth reading. */
  get isStopped(): boolean {
    return this.current !== undefined && this.stopped.has(this.current.id);
  }

  /** Called by the adapter tracker on DAP `stopped` (before the adapter's `mmuChanged` arrives). */
  markStopped(session: vscode.DebugSession): void {
    this.stopped.add(session.id);
  }

  /** Called by the adapter tracker when the session resumes. */
  markRunning(session: vscode.DebugSession): void {
    this.stopped.delete(session.id);
    if (session === this.current) this.runEmitter.fire(session);
  }

  /** Typed custom request to the followed session's adapter. */
  async request<C extends CustomRequestCommand>(
    command: C,
    args: CustomRequestArguments<C>,
  ): Promise<CustomResponseBody<C>> {
    const s = this.current;
    if (!s) throw new Error('No pvmfw-mmu debug session is running.');
    return (await s.customRequest(command, args)) as CustomResponseBody<C>;
  }

  private follow(s: vscode.DebugSession): void {
    this.current = s;
    this.sessionEmitter.fire(s);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
