/**
 * `polyapprox fit`: a model file in, an approximant file out.
 */
import { totalmem } from 'node:os';
import type { Command } from 'commander';
import {
  DEFAULT_KRYLOV_MAX_ITERATIONS, DEFAULT_KRYLOV_TOL, fitAsync, quadraticUsesKrylov, type AsyncFitOptions, type KrylovSolveReport,
} from '../../approx/fit/index.js';
import { hiddenDim, inputDim, outputDim } from '../../approx/network.js';
import { PolynomialApproximant } from '../../approx/result.js';
import { saveApproximant, DEFAULT_DENSE_GAMMA_LIMIT } from '../../formats/approximantFile.js';
import { UsageError, action } from '../errors.js';
import { loadInputModel, loadNetwork } from '../load.js';
import { createProgress } from '../progress.js';
import { parseArch, parseGammaForm, parseInteger, parseNumber } from '../options.js';

interface FitFlags {
  model: string;
  degree: string;
  out: string;
  input?: string;
  act?: string;
  arch?: string;
  layer?: string;
  keys?: string;
  json?: boolean;
  fvu?: boolean;
  gamma: string;
  tol?: string;
  maxSeconds?: string;
  maxIterations?: string;
  ridge?: string;
}

/** The solver flags of the Krylov route, validated. */
interface KrylovFlags {
  tol: number;
  maxSeconds: number | null;
  maxIterations: number;
  ridge: number | 'auto';
  /** The flags given on the command line (to say they were ignored off the Krylov route). */
  given: string[];
}

function parseKrylovFlags(flags: FitFlags): KrylovFlags {
  const given: string[] = [];
  let tol = DEFAULT_KRYLOV_TOL;
  if (flags.tol !== undefined) {
    given.push('--tol');
    tol = parseNumber(flags.tol, '--tol');
    if (!(tol > 0 && tol < 1)) throw new UsageError(`--tol must be in (0, 1), got "${flags.tol}"`);
  }
  let maxSeconds: number | null = null;
  if (flags.maxSeconds !== undefined) {
    given.push('--max-seconds');
    maxSeconds = parseNumber(flags.maxSeconds, '--max-seconds');
    if (!(maxSeconds > 0)) throw new UsageError(`--max-seconds must be > 0, got "${flags.maxSeconds}"`);
  }
  let maxIterations = DEFAULT_KRYLOV_MAX_ITERATIONS;
  if (flags.maxIterations !== undefined) {
    given.push('--max-iterations');
    maxIterations = parseInteger(flags.maxIterations, '--max-iterations', 1);
  }
  let ridge: number | 'auto' = 'auto';
  if (flags.ridge !== undefined) {
    given.push('--ridge');
    if (flags.ridge.trim() !== 'auto') {
      ridge = parseNumber(flags.ridge, '--ridge');
      if (ridge < 0) throw new UsageError(`--ridge must be a number ≥ 0 or auto, got "${flags.ridge}"`);
    }
  }
  return { tol, maxSeconds, maxIterations, ridge, given };
}

export function registerFit(program: Command): void {
  program
    .command('fit')
    .description('fit the least-squares polynomial approximant of an MLP or GLU under a Gaussian or mixture input model')
    .requiredOption('--model <file>', 'model weights (.safetensors, .pt/.pth/.bin, .npz)')
    .option('--degree <K>', 'polynomial degree (1, 2, or any K ≥ 3 under a single Gaussian)', '2')
    .requiredOption('--out <file>', 'where to write the approximant (.safetensors)')
    .option('--input <file>', 'input model: mean/cov (Gaussian) or weights/means/covs (mixture); default N(0, I)')
    .option('--act <name>', 'activation, overriding the file (relu, gelu, gelu_tanh, silu, sigmoid, tanh, softplus, identity, leaky_relu(a), jumprelu(t))')
    .option('--arch <mlp|glu>', 'architecture, overriding the file')
    .option('--layer <n>', 'which block of a multi-layer checkpoint (TransformerLens, GPT-2, LLaMA layouts)')
    .option('--keys <map>', 'tensor names, e.g. "W1=enc.weight,b1=enc.bias,W2=dec.weight,b2=dec.bias" (suffix ^T: stored transposed)')
    .option('--json', 'print one JSON object with fvu, r2, explained_variance_by_degree and seconds on stdout')
    .option('--fvu', 'compute the exact variance accounting (always on with --json)')
    .option('--gamma <form>', 'how to store a degree-2 gamma: dense, factored or auto (dense up to 512 MiB)', 'auto')
    .option('--tol <x>', `Krylov route: relative residual to reach (default ${DEFAULT_KRYLOV_TOL})`)
    .option('--max-seconds <s>', 'Krylov route: wall-clock budget of the solve (default: none)')
    .option('--max-iterations <n>', `Krylov route: cap on block iterations (default ${DEFAULT_KRYLOV_MAX_ITERATIONS})`)
    .option('--ridge <eps|auto>', 'Krylov route: ε added to every component covariance, or auto (default auto)')
    .addHelpText('after', `
Krylov route: degree 2 under a mixture with d > 64 is solved by block conjugate gradients (--tol, --max-seconds,
--max-iterations, --ridge apply only there). When the budget runs out before --tol is reached, the last iterate is
still written, with a warning on stderr, the residual it reached in the file's "method" metadata and, with --json,
in "solver"; the exit code is then 0 (the file is a valid approximant with a stated residual).

Examples:
  polyapprox fit --model mlp.safetensors --degree 2 --out quad.safetensors
  polyapprox fit --model gpt2.safetensors --layer 3 --input acts.safetensors --gamma factored --out l3.safetensors --json
  polyapprox fit --model net.pt --keys "W1=fc.weight,b1=fc.bias,W2=head.weight,b2=head.bias" --act gelu --out a.safetensors`)
    .action(action(async (flags: FitFlags) => {
      const t0 = performance.now();
      const degree = parseInteger(flags.degree, '--degree', 1);
      const gammaForm = parseGammaForm(flags.gamma);
      const progress = createProgress();
      const loaded = loadNetwork(flags.model, {
        layer: flags.layer === undefined ? undefined : parseInteger(flags.layer, '--layer', 0),
        keys: flags.keys, arch: parseArch(flags.arch), act: flags.act,
      });
      const { net } = loaded;
      const d = inputDim(net), h = hiddenDim(net), o = outputDim(net);
      progress.note(`polyapprox: ${loaded.mapping}`);
      const input = loadInputModel(flags.input, d);
      if (input.kind === 'mixture' && degree > 2) throw new UsageError('under a mixture input model only degrees 1 and 2 are available');
      const denseBytes = o * d * d * 8;
      if (degree === 2 && gammaForm === 'dense' && denseBytes > Math.min(totalmem() / 2, 2 ** 34)) {
        throw new UsageError(`a dense gamma would take ${(denseBytes / 2 ** 30).toFixed(1)} GiB (${o}×${d}×${d} doubles), more than this machine can hold; use --gamma factored`);
      }
      const variance = Boolean(flags.json || flags.fvu);
      const krylovFlags = parseKrylovFlags(flags);
      const krylov = degree === 2 && quadraticUsesKrylov(input);
      if (!krylov && krylovFlags.given.length > 0) {
        process.stderr.write(`polyapprox: note: ${krylovFlags.given.join(', ')} ${krylovFlags.given.length === 1 ? 'applies' : 'apply'} only to the Krylov route (degree 2 under a mixture with d > 64); ignored here\n`);
      }
      let solve: KrylovSolveReport | null = null;
      const opts: AsyncFitOptions = {
        variance,
        krylov: {
          tol: krylovFlags.tol, maxIterations: krylovFlags.maxIterations, ridge: krylovFlags.ridge, throwOnNonConvergence: false,
          ...(krylovFlags.maxSeconds === null ? {} : { maxSeconds: krylovFlags.maxSeconds }),
          onIteration: (it, residual) => progress.update(it, `relative residual ${residual.toExponential(2)}`),
        },
        onSolved: (report) => {
          solve = report;
          // Before the variance report, which can take a while at large d.
          progress.stop();
          if (!report.converged) {
            process.stderr.write(`polyapprox: warning: the conjugate-gradient solve stopped at relative residual ${report.relativeResidual.toExponential(2)} > tol ${report.tol} after ${report.stoppedBy}; writing the iterate reached, with that residual recorded in its method metadata\n`);
          }
        },
      };
      if (krylov) progress.start('conjugate gradients', krylovFlags.maxIterations);
      progress.note(`polyapprox: fitting degree ${degree} under ${input.describe()}${variance ? ' with exact variance accounting' : ''}`);
      const approx = await fitAsync(net, input, degree, opts);
      if (krylov) progress.stop();
      const solver = solverJson(solve);
      saveApproximant(flags.out, approx, { gamma: gammaForm, denseLimitBytes: DEFAULT_DENSE_GAMMA_LIMIT, metadata: { source_model: flags.model, mapping: loaded.mapping } });
      const seconds = (performance.now() - t0) / 1000;
      const v = approx.info.variance;
      if (flags.json) {
        const out = {
          fvu: v ? nullIfNaN(v.fvu) : null,
          r2: v ? nullIfNaN(v.r2) : null,
          explained_variance_by_degree: v ? Array.from(v.byDegree) : null,
          total_variance: v ? v.total : null,
          seconds,
          degree,
          architecture: net.arch,
          activation: net.activation.name,
          dims: { input: d, hidden: h, output: o },
          input_model: input.describe(),
          mapping: loaded.mapping,
          gamma_form: approx instanceof PolynomialApproximant ? (approx.gamma === null ? 'none' : gammaStored(approx, gammaForm)) : 'none',
          method: approx.info.method,
          solver,
          out: flags.out,
        };
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } else {
        process.stdout.write(`fitted a degree-${degree} approximant of a ${d}→${h}→${o} ${net.activation.name} ${net.arch.toUpperCase()} under ${input.describe()} in ${seconds.toFixed(2)} s\n`);
        if (v) process.stdout.write(`FVU ${fmt(v.fvu)} (R² ${fmt(v.r2)}); explained variance by degree: ${Array.from(v.byDegree.subarray(1), fmt).join(', ')} of ${fmt(v.total)}\n`);
        if (solve !== null) process.stdout.write(`solver: ${approx.info.method}\n`);
        process.stdout.write(`wrote ${flags.out}\n`);
      }
    }));
}

/** The `solver` object of the --json output (null off the Krylov route). */
function solverJson(solve: KrylovSolveReport | null): Record<string, unknown> | null {
  if (solve === null) return null;
  return {
    converged: solve.converged,
    operator_applications: solve.operatorApplications,
    relative_residual: solve.relativeResidual,
    tol: solve.tol,
    ridge: solve.ridge,
    seconds: solve.seconds,
  };
}

function gammaStored(a: PolynomialApproximant, form: 'dense' | 'factored' | 'auto'): string {
  if (a.gamma?.kind === 'dense' || form === 'dense') return 'dense';
  if (form === 'factored') return 'factored';
  return a.denseGammaBytes() <= DEFAULT_DENSE_GAMMA_LIMIT ? 'dense' : 'factored';
}

function nullIfNaN(x: number): number | null {
  return Number.isNaN(x) ? null : x;
}

function fmt(x: number): string {
  return Number.isNaN(x) ? 'undefined' : x.toPrecision(6);
}
