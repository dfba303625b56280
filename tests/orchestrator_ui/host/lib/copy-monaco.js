// Before `next build`: copy the Monaco editor (the components' JSON and code views) into public/monaco/vs, so the
// browser loads it from this server instead of cdn.jsdelivr.net (the default of @monaco-editor/loader), and the UI
// works offline. lib/shell.js points the loader here.
const fs = require('node:fs');
const path = require('node:path');

const source = path.dirname(require.resolve('monaco-editor')); // the package's min/vs
const target = path.join(__dirname, '..', 'public', 'monaco', 'vs');
fs.rmSync(target, { recursive: true, force: true });
fs.cpSync(source, target, { recursive: true });
