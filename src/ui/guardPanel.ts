// Host side of the MMIO Guard webview panel: builds its HTML (strict CSP, one nonce per load), waits
// for the webview's `ready`, then sends the adapter's `guardState` once per stop (with the comparison
// when the stop is compared with an earlier snapshot). Clicking a page in the webview reveals its PTE
// in the Page Tables tree. Every message from the webview is validated field by field first.

import * as vscode from 'vscode';
import type { GuardStateMessage, HostToWebview, RenderedMessage } from '../shared/webviewMessages';
import { parseWebviewToHost } from '../shared/webviewMessages';
import { COMMAND, WEBVIEW } from './ids';
import type { MmuSessions } from './mmuSession';
import type { StopTiming } from './stopTiming';
import { webviewHtml } from './webviewHtml';

export class GuardPanel implements vscode.Disposable, vscode.WebviewPanelSerializer {
  private panel: vscode.WebviewPanel | undefined;
  private ready = false;
  /** Last render the webview reported (what a user sees); tests in the extension host read it. */
  lastRendered: RenderedMessage | undefined;
  /** Last guard state sent to the webview (tests read what the host asked it to show). */
  lastSent: GuardStateMessage | undefined;
  private readonly renderedEmitter = new vscode.EventEmitter<RenderedMessage>();
  readonly onDidRender = this.renderedEmitter.event;
  private readonly disposables: vscode.Disposable[] = [];
  /** Drops replies to requests overtaken by a newer stop. */
  private generation = 0;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly sessions: MmuSessions,
  ) {
    this.disposables.push(
      this.renderedEmitter,
      sessions.onDidStop(() => void this.update()),
      sessions.onDidChangeSession(() => void this.update()),
    );
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  show(): void {
    if (this.panel) {
      this.panel.reveal(undefined, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      WEBVIEW.guardState,
      'MMIO Guard',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      this.options(),
    );
    this.attach(panel);
  }

  /** Restores the panel after a window reload (its own state comes back through getState). */
  deserializeWebviewPanel(panel: vscode.WebviewPanel): Thenable<void> {
    panel.webview.options = this.options();
    this.attach(panel);
    return Promise.resolve();
  }

  private options(): vscode.WebviewOptions & vscode.WebviewPanelOptions {
    return {
      enableScripts: true,
      // Only the bundled script and the stylesheet; nothing else of the extension is reachable.
      localResourceRoots: [
        vscode.Uri.joinPath(this.extensionUri, 'dist'),
        vscode.Uri.joinPath(this.extensionUri, 'media'),
      ],
    };
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
    panel.webview.onDidReceiveMessage(
      (raw: unknown) => {
        const m = parseWebviewToHost(raw);
        if (!m) return;
        switch (m.type) {
          case 'ready':
            this.ready = true;
            void this.update();
            break;
          case 'refresh':
            void this.update();
            break;
          case 'revealPage':
            void vscode.commands.executeCommand(COMMAND.revealPte, m.address);
            break;
          case 'rendered': {
            this.lastRendered = m;
            const t = this.timing(m.stopId);
            if (m.received !== undefined) this.sessions.timings.mark(t, 'viewReceived', m.received);
            if (m.drawn !== undefined) this.sessions.timings.mark(t, 'viewDrawn', m.drawn);
            this.renderedEmitter.fire(m);
            break;
          }
          case 'painted':
            this.sessions.timings.mark(this.timing(m.stopId), 'viewPainted', m.at);
            break;
        }
      },
      undefined,
      this.disposables,
    );
  }

  /** The latency record of the followed session's stop `stopId`. */
  private timing(stopId: number): StopTiming | undefined {
    const s = this.sessions.session;
    return s ? this.sessions.timings.of(s.id, stopId) : undefined;
  }

  /** Outlines one page in the grid (after a reveal from elsewhere). */
  focusPage(address: string): void {
    void this.post({ type: 'focusPage', address });
  }

  /** Asks the adapter for the guard state of the current stop and sends it to the webview. */
  async update(): Promise<void> {
    if (!this.panel || !this.ready) return;
    const generation = ++this.generation;
    const session = this.sessions.session;
    if (!session) {
      await this.post({
        type: 'noSession',
        message: 'Start a pvmfw-mmu debug session to see the MMIO guard state.',
      });
      return;
    }
    if (!this.sessions.isStopped) {
      await this.post({ type: 'noSession', message: 'Running… the guard state is read at the next stop.' });
      return;
    }
    try {
      const state = await this.sessions.request('guardState', {});
      if (generation !== this.generation) return;
      const baseline = this.sessions.baseline;
      const message: GuardStateMessage = {
        type: 'guardState',
        session: session.name,
        ...(this.sessions.run ? { run: this.sessions.run } : {}),
        state,
        change: this.sessions.lastChange,
        ...(baseline ? { comparison: { since: baseline.since, transitions: baseline.transitions } } : {}),
      };
      this.lastSent = message;
      this.sessions.timings.mark(this.timing(state.stopId), 'guardPosted');
      await this.post(message);
    } catch (err) {
      if (generation !== this.generation) return;
      await this.post({
        type: 'error',
        message: `guardState failed: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
  }

  private async post(m: HostToWebview): Promise<void> {
    if (this.panel && this.ready) await this.panel.webview.postMessage(m);
  }

  private html(webview: vscode.Webview): string {
    const uri = (...path: string[]) =>
      webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, ...path)).toString();
    return webviewHtml({
      cspSource: webview.cspSource,
      script: uri('dist', 'webview.js'),
      style: uri('media', 'guard.css'),
      title: 'MMIO Guard',
      appId: 'app',
      images: true,
    });
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
