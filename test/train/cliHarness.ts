/**
 * Runs `polyapprox train` / `polyapprox input` invocations in one child process (the test runner's own
 * stdout must not be intercepted in-process), each on a fresh commander program, and returns each run's
 * exit code, stdout and stderr.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const MARKER = '\u0000CLI-HARNESS-RESULTS\u0000';

const CHILD = `
import { Command } from 'commander';
import { registerTrain } from './src/cli/commands/train.ts';
import { registerInput } from './src/cli/commands/input.ts';
const runs = JSON.parse(process.argv[1]);
const results = [];
const ow = process.stdout.write.bind(process.stdout);
for (const args of runs) {
  let stdout = '', stderr = '';
  process.stdout.write = (s) => ((stdout += s), true);
  process.stderr.write = (s) => ((stderr += s), true);
  process.exitCode = 0;
  const program = new Command('polyapprox').exitOverride();
  registerTrain(program);
  registerInput(program);
  try {
    await program.parseAsync(['node', 'polyapprox', ...args]);
  } catch (e) {
    stderr += 'commander: ' + (e && e.message) + '\\n';
    process.exitCode = e && typeof e.exitCode === 'number' ? e.exitCode : 99;
  }
  results.push({ code: Number(process.exitCode ?? 0), stdout, stderr });
}
process.exitCode = 0;
ow(${JSON.stringify(MARKER)} + JSON.stringify(results));
`;

/**
 * Runs each argument list (e.g. `['train', '--out', dir]`) as a `polyapprox` command line.
 * @param env extra environment variables for the child
 */
export function runCli(runs: string[][], env: Record<string, string> = {}): Promise<CliRun[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD, JSON.stringify(runs)], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      const at = out.indexOf(MARKER);
      if (code !== 0 || at < 0) {
        reject(new Error(`CLI harness failed (exit ${code}): ${err}${out}`));
        return;
      }
      resolve(JSON.parse(out.slice(at + MARKER.length)) as CliRun[]);
    });
  });
}
