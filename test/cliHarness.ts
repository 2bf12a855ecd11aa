/**
 * Runs `polyapprox` command lines in one child process, each on a fresh command tree built by `buildProgram` with
 * commander's exits turned into exceptions, and returns each run's exit code, stdout and stderr. A child process is
 * needed because the commands write to the process's own stdout, which the test runner uses.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MARKER = '\u0000CLI-HARNESS-RESULTS\u0000';

const CHILD = `
import { buildProgram } from './src/cli/program.ts';
const results = [];
const write = process.stdout.write.bind(process.stdout);
for (const args of JSON.parse(process.argv[1])) {
  let stdout = '', stderr = '';
  process.stdout.write = (s) => ((stdout += s), true);
  process.stderr.write = (s) => ((stderr += s), true);
  process.exitCode = 0;
  const program = buildProgram({ exitOverride: true });
  try {
    await program.parseAsync(['node', 'polyapprox', ...args]);
  } catch (e) {
    stderr += 'commander: ' + (e && e.message) + '\\n';
    process.exitCode = e && typeof e.exitCode === 'number' ? e.exitCode : 99;
  }
  results.push({ code: Number(process.exitCode ?? 0), stdout, stderr });
}
process.exitCode = 0;
write(${JSON.stringify(MARKER)} + JSON.stringify(results));
`;

const childArgs = (runs: string[][]) => ['--import', 'tsx', '--input-type=module', '-e', CHILD, JSON.stringify(runs)];

function parse(code: number | null, out: string, err: string): CliRun[] {
  const at = out.indexOf(MARKER);
  if (code !== 0 || at < 0) throw new Error(`CLI harness failed (exit ${code}): ${err}${out}`);
  return JSON.parse(out.slice(at + MARKER.length)) as CliRun[];
}

/** Runs each argument list (e.g. `['eig', '--approx', f]`); blocks until all are done. */
export function runCliSync(runs: string[][], env: Record<string, string> = {}): CliRun[] {
  const r = spawnSync(process.execPath, childArgs(runs), { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
  return parse(r.status, r.stdout, r.stderr);
}

/** {@link runCliSync} without blocking the test process's event loop. */
export function runCli(runs: string[][], env: Record<string, string> = {}): Promise<CliRun[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, childArgs(runs), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve(parse(code, out, err));
      } catch (e) {
        reject(e);
      }
    });
  });
}
