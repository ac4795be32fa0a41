// Public entry of the debug adapter: the session class (run it inline in VS Code with
// `new vscode.DebugAdapterInlineImplementation(new PvmfwDebugSession())`, or over stdio via main.ts).
export { PvmfwDebugSession } from './session';
