// Webview entry (filled in by the VS Code experience work).
export {};
