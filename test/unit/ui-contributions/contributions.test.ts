// package.json `contributes` must match the ids the code registers (src/ui/ids.ts), and follow the
// rules the VS Code surface depends on (activation never `*`, engines no newer than code-server's).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  COLOR,
  COMMAND,
  COMMAND_CATEGORY,
  COMMAND_TITLE,
  CONFIG_SNIPPET_LABEL,
  CONTEXT_VALUE,
  DEBUG_TYPE,
  SETTING,
  SETTING_DEFAULT,
  SNAPSHOT_EXTENSION,
  VIEW,
  WEBVIEW,
} from '../../../src/ui/ids';
import { DEBUG_TYPE as PROTOCOL_DEBUG_TYPE } from '../../../src/shared/protocol';

interface Manifest {
  engines: { vscode: string };
  activationEvents: string[];
  contributes: {
    debuggers: {
      type: string;
      languages: string[];
      configurationAttributes: Record<
        string,
        { required?: string[]; properties: Record<string, { description?: string }> }
      >;
      initialConfigurations: { type: string; request: string; name: string }[];
      configurationSnippets: { label: string; body: { type: string; request: string } }[];
    }[];
    breakpoints: { language: string }[];
    views: Record<string, { id: string; name: string; when?: string }[]>;
    commands: { command: string; title: string; category?: string }[];
    menus: Record<string, { command: string; when?: string }[]>;
    configuration: { properties: Record<string, { default: unknown; type: string }> };
    colors: { id: string }[];
  };
}

const root = join(__dirname, '..', '..', '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;
const c = manifest.contributes;
const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

void describe('package.json contributes matches src/ui/ids.ts', () => {
  void test('snapshots: a launch may name a snapshot instead of qemuArgs, and the snippet opens one', () => {
    const launch = c.debuggers[0].configurationAttributes.launch;
    assert.ok(launch.properties.snapshot?.description, 'launch.snapshot is documented');
    assert.ok(!(launch.required ?? []).includes('qemuArgs'), 'a snapshot launch has no qemuArgs');
    const snippet = c.debuggers[0].configurationSnippets.find(
      (x) => x.label === CONFIG_SNIPPET_LABEL.snapshot,
    );
    const body = snippet?.body as { snapshot?: string; qemuArgs?: unknown } | undefined;
    assert.match(body?.snapshot ?? '', new RegExp(`\\.${SNAPSHOT_EXTENSION}$`));
    assert.equal(body?.qemuArgs, undefined);
  });

  void test('Open and Compare Snapshots work without a session; Export needs one', () => {
    const palette = c.menus.commandPalette;
    for (const id of [COMMAND.openSnapshot, COMMAND.compareSnapshots]) {
      assert.ok(!palette.some((m) => m.command === id && m.when), `${id} is hidden from the palette`);
      assert.ok(manifest.activationEvents.includes(`onCommand:${id}`), `${id} activates the extension`);
      const menu = c.menus['explorer/context'].find((m) => m.command === id);
      assert.match(menu?.when ?? '', new RegExp(`resourceExtname == \\.${SNAPSHOT_EXTENSION}`), id);
    }
    assert.ok(
      palette.some((m) => m.command === COMMAND.exportSnapshot && m.when === `debugType == '${DEBUG_TYPE}'`),
    );
  });

  void test('Compare Snapshots in Page Tables: in the palette without a session and on two selected snapshots', () => {
    // Contributed commands activate the extension on their own (VS Code 1.74+): no activation event needed.
    const id = COMMAND.compareSnapshotsInViews;
    assert.ok(!c.menus.commandPalette.some((m) => m.command === id && m.when), `${id} is hidden`);
    const menu = c.menus['explorer/context'].find((m) => m.command === id);
    assert.match(menu?.when ?? '', new RegExp(`resourceExtname == \\.${SNAPSHOT_EXTENSION}`));
    assert.match(menu?.when ?? '', /listMultiSelection/);
  });

  void test('commands: same ids, titles and category', () => {
    assert.deepEqual(sorted(c.commands.map((x) => x.command)), sorted(Object.values(COMMAND)));
    for (const cmd of c.commands) {
      assert.equal(cmd.title, COMMAND_TITLE[cmd.command as keyof typeof COMMAND_TITLE], cmd.command);
      assert.equal(cmd.category, COMMAND_CATEGORY, cmd.command);
    }
  });

  void test('menus only name contributed commands and known tree contextValues', () => {
    const commands = new Set<string>(Object.values(COMMAND));
    const contextValues = new Set<string>(Object.values(CONTEXT_VALUE));
    for (const [menu, items] of Object.entries(c.menus)) {
      for (const item of items) {
        assert.ok(commands.has(item.command), `${menu}: ${item.command}`);
        for (const m of (item.when ?? '').matchAll(/viewItem == ([\w.]+)/g)) {
          assert.ok(contextValues.has(m[1]), `${menu}: unknown viewItem ${m[1]}`);
        }
        for (const m of (item.when ?? '').matchAll(/\bview == ([\w.]+)/g)) {
          assert.equal(m[1], VIEW.pageTables, `${menu}: unknown view ${m[1]}`);
        }
      }
    }
  });

  void test('settings: same ids and defaults', () => {
    const props = c.configuration.properties;
    assert.deepEqual(sorted(Object.keys(props)), sorted(Object.values(SETTING)));
    for (const [id, def] of Object.entries(SETTING_DEFAULT)) assert.equal(props[id].default, def, id);
  });

  void test('the Page Tables view lives in the debug container and shows only for pvmfw-mmu sessions', () => {
    const debugViews = c.views.debug;
    const view = debugViews.find((v) => v.id === VIEW.pageTables);
    assert.ok(view);
    assert.equal(view.name, 'Page Tables');
    assert.match(view.when ?? '', new RegExp(`debugType == '${DEBUG_TYPE}'`));
  });

  void test('theme colours match', () => {
    assert.deepEqual(sorted(c.colors.map((x) => x.id)), sorted(Object.values(COLOR)));
  });

  void test('debugger: type, documented attributes, initial configuration, both snippets', () => {
    assert.equal(DEBUG_TYPE, PROTOCOL_DEBUG_TYPE);
    assert.equal(c.debuggers.length, 1);
    const d = c.debuggers[0];
    assert.equal(d.type, DEBUG_TYPE);
    for (const request of ['launch', 'attach']) {
      const props = d.configurationAttributes[request].properties;
      assert.ok(Object.keys(props).length >= 5, request);
      for (const [name, p] of Object.entries(props))
        assert.ok(p.description, `${request}.${name} has no description`);
    }
    assert.ok(d.initialConfigurations.every((x) => x.type === DEBUG_TYPE));
    assert.deepEqual(
      d.configurationSnippets.map((s) => [s.label, s.body.request]),
      [
        [CONFIG_SNIPPET_LABEL.launch, 'launch'],
        [CONFIG_SNIPPET_LABEL.launch2024, 'launch'],
        [CONFIG_SNIPPET_LABEL.launch16k, 'launch'],
        [CONFIG_SNIPPET_LABEL.launchPkvm, 'launch'],
        [CONFIG_SNIPPET_LABEL.pkvm, 'launch'],
        [CONFIG_SNIPPET_LABEL.attach, 'attach'],
        [CONFIG_SNIPPET_LABEL.snapshot, 'launch'],
      ],
    );
    for (const lang of ['c', 'rust', 'arm']) {
      assert.ok(
        c.breakpoints.some((b) => b.language === lang),
        `breakpoints for ${lang}`,
      );
    }
  });

  void test('activation: on debug resolve and our views, never *; engines no newer than 1.100', () => {
    assert.ok(manifest.activationEvents.includes(`onDebugResolve:${DEBUG_TYPE}`));
    assert.ok(manifest.activationEvents.includes(`onWebviewPanel:${WEBVIEW.guardState}`));
    assert.ok(!manifest.activationEvents.includes('*'));
    const m = /^\^1\.(\d+)\.\d+$/.exec(manifest.engines.vscode);
    assert.ok(m && Number(m[1]) <= 100, manifest.engines.vscode);
  });
});
