// Debug configuration defaults, how VS Code runs the adapter, and a tracker that tells the views when
// the target stops and resumes.

import { appendFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { PvmfwDebugSession } from '../adapter';
import { demoQemuArgs } from '../shared/demoLaunch';
import { CONFIG_SNIPPET_LABEL, DEBUG_TYPE, SETTING, SETTING_DEFAULT } from './ids';
import type { MmuChangedEventBody } from '../shared/protocol';
import type { MmuSessions } from './mmuSession';

/** The launch configuration offered when there is no launch.json (same as the package.json snippet). */
export function demoLaunchConfiguration(
  folder: vscode.WorkspaceFolder | undefined,
): vscode.DebugConfiguration {
  const ws = folder ? '${workspaceFolder}' : '.';
  return {
    type: DEBUG_TYPE,
    request: 'launch',
    name: CONFIG_SNIPPET_LABEL.launch,
    program: `${ws}/guest/build/demo.elf`,
    qemuArgs: demoQemuArgs(`${ws}/guest/build/demo.elf`),
    stopOnEntry: false,
  };
}

export class ConfigurationProvider implements vscode.DebugConfigurationProvider {
  provideDebugConfigurations(folder: vscode.WorkspaceFolder | undefined): vscode.DebugConfiguration[] {
    return [demoLaunchConfiguration(folder)];
  }

  resolveDebugConfiguration(
    folder: vscode.WorkspaceFolder | undefined,
    config: vscode.DebugConfiguration,
  ): vscode.DebugConfiguration | undefined {
    // F5 with no launch.json: VS Code passes an empty configuration.
    if (!config.type && !config.request && !config.name) config = demoLaunchConfiguration(folder);
    const settings = vscode.workspace.getConfiguration();
    if (config.lazyFlagBit === undefined) {
      config.lazyFlagBit = settings.get<number>(
        SETTING.lazyFlagBit,
        SETTING_DEFAULT[SETTING.lazyFlagBit] as number,
      );
    }
    if (config.profile === undefined) {
      config.profile = settings.get<string>(SETTING.profile, SETTING_DEFAULT[SETTING.profile] as string);
    }
    if (config.walkLimit === undefined) {
      config.walkLimit = settings.get<number>(
        SETTING.walkLimit,
        SETTING_DEFAULT[SETTING.walkLimit] as number,
      );
    }
    return config;
  }
}

/**
 * Runs the adapter inside the extension host (no process to spawn, errors land in the extension log).
 * Other DAP clients run the same session class standalone: `node dist/debugAdapter.js`.
 */
export class AdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  constructor(private readonly sessions?: MmuSessions) {}

  createDebugAdapterDescriptor(session: vscode.DebugSession): vscode.DebugAdapterDescriptor {
    // The adapter itself marks errors the views and the console show in place as not for a notification.
    const adapter = new PvmfwDebugSession();
    // The views ask it in-process (MmuSessions.request), not through the workbench.
    this.sessions?.attachAdapter(session, adapter);
    return new vscode.DebugAdapterInlineImplementation(adapter);
  }
}

interface DapMessage {
  type?: string;
  seq?: number;
  event?: string;
  body?: unknown;
  command?: string;
  request_seq?: number;
  success?: boolean;
}

const RESUMING = new Set(['continue', 'next', 'stepIn', 'stepOut', 'stepBack', 'reverseContinue', 'restart']);

/** Watches DAP traffic for stops, resumes and the adapter's `mmuChanged` (seen here as it is sent). */
export class StopTracker implements vscode.DebugAdapterTrackerFactory {
  constructor(private readonly sessions: MmuSessions) {}

  createDebugAdapterTracker(session: vscode.DebugSession): vscode.DebugAdapterTracker {
    // PVMFW_MMU_DAP_LOG=FILE (in the environment of VS Code / code-server) records every DAP message.
    const logFile = process.env.PVMFW_MMU_DAP_LOG;
    const record = (dir: string, m: unknown): void => {
      if (logFile) appendFileSync(logFile, `${Date.now()} ${dir} ${JSON.stringify(m)}\n`);
    };
    /** Resume requests in flight: marked running when sent, stopped again if the adapter refuses. */
    const resuming = new Set<number>();
    return {
      onWillReceiveMessage: (m: DapMessage) => {
        record('>', m);
        if (m.type === 'request' && m.command && RESUMING.has(m.command)) {
          if (typeof m.seq === 'number') resuming.add(m.seq);
          if (m.command === 'restart') this.sessions.markRestarted(session);
          this.sessions.markRunning(session);
        }
      },
      onDidSendMessage: (m: DapMessage) => {
        record('<', m);
        if (m.type === 'response' && typeof m.request_seq === 'number' && resuming.delete(m.request_seq)) {
          if (m.success === false) this.sessions.resumeRefused(session);
          return;
        }
        if (m.type !== 'event') return;
        if (m.event === 'stopped') this.sessions.markStopped(session);
        else if (m.event === 'continued') this.sessions.markRunning(session);
        else if (m.event === 'mmuChanged' && m.body)
          this.sessions.acceptMmuChanged(session, m.body as MmuChangedEventBody);
      },
    };
  }
}
