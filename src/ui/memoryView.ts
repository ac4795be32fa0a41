// Host side of the Memory view: one webview panel (strict CSP, one nonce per load) showing hex and
// ASCII of the followed session's memory, virtual (through the stopped vCPU's regime) or physical.
// The webview asks for the rows it shows; this side reads them with DAP `readMemory` (memoryViewRead)
// and tells the webview at every stop, so it re-reads and marks what changed. Every message from the
// webview is validated first (memoryViewMessages); nothing here writes memory.

import * as vscode from 'vscode';
import {
  hexAddress,
  parseGotoText,
  parseMemoryReferenceText,
  parseMemoryViewToHost,
  type AddressSpace,
  type HostToMemoryView,
  type NavigateMessage,
  type ReadRequest,
} from '../shared/memoryViewMessages';
import { WEBVIEW } from './ids';
import { readWindow } from './memoryViewRead';
import type { MmuSessions } from './mmuSession';
import { webviewHtml } from './webviewHtml';

export interface MemoryTarget {
  space: AddressSpace;
  address: bigint;
  /** Bytes to outline (a descriptor in its table). */
  highlight?: { address: bigint; length: number };
  /** Where it was opened from, shown above the dump. */
  origin: string;
}

export class MemoryView implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private ready = false;
  private pending: NavigateMessage | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  /** The last target shown (tests read it). */
  lastTarget: MemoryTarget | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly sessions: MmuSessions,
  ) {
    this.disposables.push(
      sessions.onDidStop(() => void this.sendTarget()),
      sessions.onDidContinue(() => void this.sendTarget()),
      sessions.onDidChangeSession(() => void this.sendTarget()),
    );
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  /** Opens (or reveals) the view at `target`. */
  show(target: MemoryTarget): void {
    this.lastTarget = target;
    const message: NavigateMessage = {
      type: 'navigate',
      space: target.space,
      address: hexAddress(target.address),
      origin: target.origin,
      ...(target.highlight
        ? { highlight: { address: hexAddress(target.highlight.address), length: target.highlight.length } }
        : {}),
    };
    if (this.panel) {
      this.panel.reveal(undefined, true);
      if (this.ready) void this.post(message);
      else this.pending = message;
      return;
    }
    this.pending = message;
    const panel = vscode.window.createWebviewPanel(
      WEBVIEW.memory,
      'Memory',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      {
        enableScripts: true,
        // Kept while hidden behind another editor: it follows every stop, so a step taken while the
        // source is in front still has the previous stop's bytes to compare with.
        retainContextWhenHidden: true,
        // Only the bundled script and the stylesheet.
        localResourceRoots: [
          vscode.Uri.joinPath(this.extensionUri, 'dist'),
          vscode.Uri.joinPath(this.extensionUri, 'media'),
        ],
      },
    );
    this.attach(panel);
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    this.ready = false;
    panel.webview.html = this.html(panel.webview);
    panel.onDidDispose(
      () => {
        this.panel = undefined;
        this.ready = false;
      },
      undefined,
      this.disposables,
    );
    panel.webview.onDidReceiveMessage((raw: unknown) => void this.receive(raw), undefined, this.disposables);
  }

  private async receive(raw: unknown): Promise<void> {
    const m = parseMemoryViewToHost(raw);
    if (!m) return;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        await this.sendTarget();
        if (this.pending) await this.post(this.pending);
        this.pending = undefined;
        break;
      case 'read':
        await this.read(m);
        break;
      case 'goto':
        await this.goto(m.text, m.space);
        break;
    }
  }

  /** Tells the webview whether the session is stopped, and at which stop of which run. */
  private async sendTarget(): Promise<void> {
    const s = this.sessions;
    if (!s.session) {
      await this.post({
        type: 'target',
        state: 'none',
        message: 'Start a pvmfw-mmu debug session to read memory.',
      });
      return;
    }
    if (!s.isStopped) {
      await this.post({
        type: 'target',
        state: 'running',
        message: 'Running… memory is read at the next stop.',
      });
      return;
    }
    const stop = s.lastChange?.stopId;
    const thread = s.lastChange?.threadId;
    const vaBits = s.lastChange?.vaBits;
    await this.post({
      type: 'target',
      state: 'stopped',
      run: s.run ?? '',
      ...(stop !== undefined ? { stop } : {}),
      ...(thread !== undefined ? { thread } : {}),
      ...(vaBits !== undefined ? { vaBits } : {}),
      message: stop !== undefined ? `stop ${stop}` : 'stopped',
    });
  }

  private async read(req: ReadRequest): Promise<void> {
    const session = this.sessions.session;
    const stop = this.sessions.lastChange?.stopId;
    const run = this.sessions.run;
    const thread = this.sessions.lastChange?.threadId;
    // Memory is read only at a stop; the webview asks again at the next one.
    if (!session || !this.sessions.isStopped || stop === undefined || run === undefined) return;
    const segments = await readWindow(
      (args) => Promise.resolve(session.customRequest('readMemory', args)),
      req.space,
      BigInt(req.address),
      req.length,
    );
    // The reply carries the stop (and vCPU) it was read at: the webview drops it if another stop or
    // another vCPU came meanwhile.
    await this.post({
      type: 'bytes',
      id: req.id,
      space: req.space,
      address: req.address,
      run,
      stop,
      ...(thread !== undefined ? { thread } : {}),
      segments,
    });
  }

  /** The address box: hex at once; an expression (symbol, register) evaluated by the adapter. */
  private async goto(text: string, space: AddressSpace): Promise<void> {
    const t = parseGotoText(text, space);
    if ('error' in t) {
      await this.post({ type: 'gotoError', message: t.error });
      return;
    }
    if ('address' in t) {
      await this.post({
        type: 'navigate',
        space: t.space,
        address: hexAddress(t.address),
        origin: text.trim(),
      });
      return;
    }
    const session = this.sessions.session;
    if (!session) {
      await this.post({ type: 'gotoError', message: 'no session: only addresses work without one' });
      return;
    }
    try {
      // 'watch': the adapter evaluates values only (no monitor, no console commands).
      const r = (await session.customRequest('evaluate', { expression: t.expression, context: 'watch' })) as {
        result?: string;
        memoryReference?: string;
      };
      const ref = parseMemoryReferenceText(r.memoryReference);
      if (!ref) {
        await this.post({
          type: 'gotoError',
          message: `${t.expression} = ${r.result ?? '?'}: not an address`,
        });
        return;
      }
      await this.post({
        type: 'navigate',
        space: t.space,
        address: hexAddress(ref.address),
        origin: text.trim(),
      });
    } catch (e) {
      await this.post({ type: 'gotoError', message: e instanceof Error ? e.message : String(e) });
    }
  }

  private async post(m: HostToMemoryView): Promise<void> {
    if (this.panel && this.ready) await this.panel.webview.postMessage(m);
  }

  private html(webview: vscode.Webview): string {
    const uri = (...path: string[]) =>
      webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, ...path)).toString();
    return webviewHtml({
      cspSource: webview.cspSource,
      script: uri('dist', 'memoryView.js'),
      style: uri('media', 'memory.css'),
      title: 'Memory',
      appId: 'memory-app',
    });
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
