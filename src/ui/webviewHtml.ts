// The HTML of the extension's webviews (MMIO Guard, Memory), one page with one policy: nothing loads
// but the bundled script, carrying this load's nonce, and the extension's stylesheet (images only
// where a view asks for them). Pure (no `vscode`): the panels pass in what the Webview gives them.
import { randomBytes } from 'node:crypto';

export interface WebviewPage {
  /** `webview.cspSource`: the origin the webview serves the extension's files from. */
  readonly cspSource: string;
  /** `webview.asWebviewUri(...)` of the bundled script and of the stylesheet. */
  readonly script: string;
  readonly style: string;
  readonly title: string;
  /** The id of the element the script renders into. */
  readonly appId: string;
  /** Images from the extension and `data:` URIs (the MMIO Guard grid's snapshots). */
  readonly images?: boolean;
}

/** A fresh nonce for one page load. */
export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

export function webviewHtml(p: WebviewPage, nonce: string = newNonce()): string {
  const csp = [
    "default-src 'none'",
    `style-src ${p.cspSource}`,
    `script-src 'nonce-${nonce}'`,
    ...(p.images ? [`img-src ${p.cspSource} data:`] : []),
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${p.style}">
<title>${p.title}</title>
</head>
<body>
<main id="${p.appId}"><p class="placeholder">Loading…</p></main>
<script nonce="${nonce}" src="${p.script}"></script>
</body>
</html>`;
}
