#!/usr/bin/env node
// Entry point of the `polyapprox` command: runs the compiled CLI (built by `npm ci`/`npm install` via `prepare`).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(compiled)) {
  process.stderr.write('polyapprox: the compiled CLI is missing (dist/); run `npm run build` in the package directory\n');
  process.exit(70);
}
await import(compiled.href);
