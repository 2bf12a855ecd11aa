#!/usr/bin/env node
// Runs the whole test suite with node's built-in runner through tsx.
// Node 20's `--test` does not expand globs itself, so the files are collected here.
// Before the tests it type-checks the whole project (src, tests, benchmarks) and compiles dist/, which the
// end-to-end tests run through bin/polyapprox.mjs exactly as a user would.
// Usage: node scripts/run-tests.mjs [--no-build] [filter...]   (filters are substrings of test file paths)
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const build = !args.includes('--no-build');
const filters = args.filter((a) => a !== '--no-build');

function step(label, cmd, cmdArgs) {
  const t = Date.now();
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`${label} failed`);
    process.exit(r.status ?? 1);
  }
  console.log(`# ${label}: ok (${((Date.now() - t) / 1000).toFixed(1)} s)`);
}

if (build) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  step('type-check', process.execPath, [tsc, '-p', 'tsconfig.json', '--noEmit']);
  step('build dist/', process.execPath, [tsc, '-p', 'tsconfig.build.json']);
}

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = collect(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(r.status ?? 1);
