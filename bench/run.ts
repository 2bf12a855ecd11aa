/**
 * Benchmark entry point (`npm run bench` = `node --import tsx bench/run.ts`).
 *
 * Usage: npm run bench -- [--only <section>[,<section>...]] [--backend native|js] [--runs N] [--threads N]
 *                         [--max-seconds N]
 *   --only         run only the named sections (see SECTIONS below)
 *   --backend      benchmark only this linear-algebra backend (repeatable or comma-separated)
 *   --runs         timed runs per backend, overriding the per-backend defaults
 *   --threads      BLAS thread count for the native backend
 *   --max-seconds  budget of the mixture section's solve (default 360 s, twice its 180 s target)
 *
 * Backends: `native` if the addon loads (see `npm run build:native`), and `js` if
 * `src/linalg/js.ts` exports `createJsBackend()`. A backend that is unavailable is reported with a note
 * and skipped, unless it was asked for with --backend, which is then an error.
 */
import { availableParallelism, loadavg } from 'node:os';

import type { BackendName, LinAlgBackend } from '../src/linalg/backend.js';
import { loadNativeBackend } from '../src/linalg/native.js';
import { benchLinalg } from './linalg.js';
import { benchApprox } from './approx.js';
import { benchCli } from './cli.js';
import { benchMixture } from './mixture.js';
import { setBackend } from '../src/linalg/index.js';

/** What every section receives. */
interface BenchContext {
  backends: readonly LinAlgBackend[];
  /** --runs, if given. */
  runs?: number;
  /** --threads, if given. */
  threads?: number;
  /** --max-seconds, if given. */
  maxSeconds?: number;
}

/** A named benchmark section; add new ones to SECTIONS. */
interface BenchSection {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<void>;
}

const SECTIONS: readonly BenchSection[] = [
  {
    name: 'linalg',
    description: 'GEMM f64/f32, symmetric eig, thin SVD, Cholesky solves at n = 784',
    async run({ backends, runs, threads }) {
      await benchLinalg(backends, {
        threads,
        runs: runs === undefined ? undefined : { native: runs, js: runs },
      });
    },
  },
  {
    name: 'approx',
    description: 'degree-2 fits with exact FVU: 784→256→10 and 784→4096→10 ReLU, GPT-2-size GELU (first backend only)',
    async run({ backends, runs }) {
      // The engine's targets are for the native backend; with JS these sizes take minutes, so only the first
      // (preferred) backend is measured.
      const b = backends[0];
      if (!b) return;
      setBackend(b.name);
      console.log(`backend: ${b.name}`);
      await benchApprox({ runs: runs ?? 3 });
    },
  },
  {
    name: 'cli',
    description: 'polyapprox fit end to end vs the same closed form in numpy (784→4096→10 ReLU, dense Gaussian)',
    async run({ runs }) {
      await benchCli({ runs: runs ?? 3 });
    },
  },
  {
    name: 'mixture',
    description: 'exact quadratic under the 10-class MNIST mixture by conjugate gradients (d = 784; minutes)',
    async run({ backends, maxSeconds }) {
      const b = backends[0];
      if (!b) return;
      setBackend(b.name);
      await benchMixture({ maxSeconds });
    },
  },
];

interface CliArgs {
  only?: string[];
  backends?: BackendName[];
  runs?: number;
  threads?: number;
  /** Budget of the mixture solve (default: the section's, twice the 180 s target). */
  maxSeconds?: number;
}

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): CliArgs {
  const out: CliArgs = {};
  const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);
  const positiveInt = (flag: string, v: string): number => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < 1) throw new UsageError(`${flag} needs a positive integer, got "${v}"`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--only':
        out.only = [...(out.only ?? []), ...list(value())];
        break;
      case '--backend':
        for (const b of list(value())) {
          if (b !== 'native' && b !== 'js') throw new UsageError(`--backend must be native or js, got "${b}"`);
          out.backends = [...(out.backends ?? []), b];
        }
        break;
      case '--runs':
        out.runs = positiveInt(flag, value());
        break;
      case '--threads':
        out.threads = positiveInt(flag, value());
        break;
      case '--max-seconds':
        out.maxSeconds = positiveInt(flag, value());
        break;
      case '--help':
      case '-h':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown argument "${arg}"`);
    }
  }
  for (const name of out.only ?? []) {
    if (!SECTIONS.some((s) => s.name === name)) {
      throw new UsageError(`unknown section "${name}" (available: ${SECTIONS.map((s) => s.name).join(', ')})`);
    }
  }
  return out;
}

function usage(): string {
  return [
    'usage: npm run bench -- [--only <section>[,...]] [--backend native|js] [--runs N] [--threads N] [--max-seconds N]',
    'sections:',
    ...SECTIONS.map((s) => `  ${s.name.padEnd(10)} ${s.description}`),
  ].join('\n');
}

/** The JS backend, if src/linalg/js.ts exists and exports createJsBackend(); otherwise why not. */
async function loadJsBackend(): Promise<LinAlgBackend | string> {
  let mod: Record<string, unknown>;
  try {
    // A variable specifier keeps the type checker from requiring the module to exist yet.
    const specifier = '../src/linalg/js.js';
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND') return 'src/linalg/js.ts does not exist yet';
    return `src/linalg/js.ts failed to load: ${e instanceof Error ? e.message : String(e)}`;
  }
  if (typeof mod.createJsBackend !== 'function') return 'src/linalg/js.ts does not export createJsBackend()';
  return (mod.createJsBackend as () => LinAlgBackend)();
}

async function selectBackends(wanted: readonly BackendName[] | undefined): Promise<LinAlgBackend[]> {
  const want = (name: BackendName): boolean => wanted === undefined || wanted.includes(name);
  const chosen: LinAlgBackend[] = [];
  if (want('native')) {
    try {
      chosen.push(loadNativeBackend());
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      if (wanted?.includes('native')) throw new Error(`--backend native: ${reason}`);
      console.log(`note: skipping the native backend: ${reason}`);
    }
  }
  if (want('js')) {
    const js = await loadJsBackend();
    if (typeof js === 'string') {
      if (wanted?.includes('js')) throw new Error(`--backend js: ${js}`);
      console.log(`note: skipping the js backend: ${js}`);
    } else {
      chosen.push(js);
    }
  }
  return chosen;
}

async function main(): Promise<number> {
  let args: CliArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) console.error(`bench: ${e.message}`);
    console.error(usage());
    return e.message ? 2 : 0;
  }
  let backends: LinAlgBackend[];
  try {
    backends = await selectBackends(args.backends);
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  // Benchmarks on a shared machine are only as good as its idleness; say how busy it was.
  const [load1] = loadavg();
  console.log(`machine: ${availableParallelism()} CPUs, 1-min load average ${load1!.toFixed(2)}, Node ${process.version}`);
  const sections = SECTIONS.filter((s) => args.only === undefined || args.only.includes(s.name));
  for (const section of sections) {
    console.log(`\n== ${section.name} ==`);
    await section.run({ backends, runs: args.runs, threads: args.threads, maxSeconds: args.maxSeconds });
  }
  return 0;
}

process.exitCode = await main();
