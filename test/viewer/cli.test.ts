/**
 * `polyapprox view` as a command: the built `registerView` (dist/, which `npm test` compiles first, as for the
 * other command-line tests) on a fresh commander program in a child process — so the test does not depend on
 * the command's registration in main.ts: precompute-only with JSON output, serving until SIGINT with the URL on
 * stdout (and the built page modules), and usage errors.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeSyntheticRun, type SyntheticRun } from './synthetic.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

interface Child {
  code: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
  kill: (signal: NodeJS.Signals) => void;
  waitFor: (re: RegExp, ms: number) => Promise<RegExpExecArray>;
}

function startCli(script: string, args: string[]): Child {
  const p = spawn(process.execPath, [script, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  p.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    for (const w of [...waiters]) {
      const m = w.re.exec(out);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  p.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = new Promise<number | null>((resolve) => p.on('close', (c) => resolve(c)));
  return {
    code, stdout: () => out, stderr: () => err, kill: (s) => p.kill(s),
    waitFor: (re, ms) => new Promise((resolve, reject) => {
      const m = re.exec(out);
      if (m) return resolve(m);
      const timer = setTimeout(() => reject(new Error(`no ${re} on stdout within ${ms} ms; stdout: ${out}; stderr: ${err}`)), ms);
      waiters.push({ re, resolve: (x) => { clearTimeout(timer); resolve(x); } });
      void code.then(() => reject(new Error(`the command exited before printing ${re}; stdout: ${out}; stderr: ${err}`)));
    }),
  };
}

describe('polyapprox view (command)', () => {
  let root: string;
  let run: SyntheticRun;
  let script: string;
  let common: string[];

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'polyapprox-viewer-cli-'));
    run = makeSyntheticRun(join(root, 'run'), { steps: [1, 50], n: 60 });
    const built = join(repo, 'dist', 'cli', 'commands', 'view.js');
    assert.ok(existsSync(built), `${built} is missing: build first (npm run build; npm test does it)`);
    // The script lives outside the repository, so packages are imported by resolved URL.
    script = join(root, 'cli.mjs');
    writeFileSync(script, [
      `import { Command } from ${JSON.stringify(import.meta.resolve('commander'))};`,
      `import { registerView } from ${JSON.stringify(pathToFileURL(built).href)};`,
      `const program = new Command('polyapprox').exitOverride((e) => { process.exitCode = e.exitCode; throw e; });`,
      `registerView(program);`,
      `try { await program.parseAsync(process.argv.slice(2), { from: 'user' }); } catch { /* commander already printed the usage error */ }`,
    ].join('\n'));
    common = ['view', run.dir, '--data', run.dataFile, '--top', '2', '--k-max', '2', '--digits-per-class', '1'];
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  test('--no-serve --json precomputes and prints one JSON summary', async () => {
    const c = startCli(script, [...common, '--no-serve', '--json', '--test-limit', 'all']);
    assert.equal(await c.code, 0, c.stderr());
    const s = JSON.parse(c.stdout()) as { cache: string; checkpoints: number; computed: number; attack: { samples: number; kMax: number }; curves: string };
    assert.equal(s.cache, join(run.dir, 'viewer'));
    assert.equal(s.checkpoints, 2);
    assert.equal(s.computed, 2);
    assert.deepEqual(s.attack, { samples: 60, kMax: 2, data: 'test.safetensors' });
    assert.equal(s.curves, 'viewer');
  });

  test('serves on a loopback port, prints the URL, and stops cleanly on SIGINT', async () => {
    const c = startCli(script, [...common, '--test-limit', 'all']);
    const m = await c.waitFor(/^(http:\/\/127\.0\.0\.1:(\d+)\/)$/m, 60000);
    const index = (await (await fetch(`${m[1]}data/index.json`)).json()) as { checkpoints: unknown[] };
    assert.equal(index.checkpoints.length, 2);
    assert.equal((await fetch(m[1]!)).status, 200);
    const app = await fetch(`${m[1]}page/app.js`);
    assert.equal(app.status, 200, 'the built page module is served');
    assert.match(await app.text(), /viewer-ready/);
    assert.match(c.stdout(), /\(Ctrl-C to stop\)/);
    c.kill('SIGINT');
    assert.equal(await c.code, 0, c.stderr());
  });

  test('usage and input errors exit non-zero with one clear line', async () => {
    const usage = startCli(script, [...common, '--json']);
    assert.equal(await usage.code, 2);
    assert.match(usage.stderr(), /--json needs --no-serve/);
    const missing = startCli(script, ['view', join(root, 'nowhere'), '--no-serve']);
    assert.equal(await missing.code, 1);
    assert.match(missing.stderr(), /^polyapprox: error: ".*nowhere" does not exist/m);
  });
});
