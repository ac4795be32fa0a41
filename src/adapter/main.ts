// Standalone debug adapter over stdio: `node dist/debugAdapter.js` (nvim-dap, Emacs dape, Theia...).
// VS Code runs the same session class inline (DebugAdapterInlineImplementation).
import { DebugSession } from '@vscode/debugadapter';
import { PvmfwDebugSession } from './session';

DebugSession.run(PvmfwDebugSession);
