/**
 * `polyapprox study`: the training-dynamics study over a directory of checkpoints (see src/analysis/study.ts).
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { MIXTURE_QUADRATIC_MODES, runStudy, type StudyResult, type StudyRow } from '../../analysis/study.js';
import { UsageError, action } from '../errors.js';
import { parseChoice, parseInteger, parseNumber } from '../options.js';
import { createProgress } from '../progress.js';

interface StudyFlags {
  checkpoints: string;
  out: string;
  samples: string;
  eps: string;
  seed: string;
  data?: string;
  trainData?: string;
  testData?: string;
  trainLimit?: string;
  testLimit?: string;
  fresh?: boolean;
  mixtureQuadraticFvu: boolean;
  mixtureQuadratic: string;
  mixtureSeconds: string;
  mixtureTol: string;
  figures: boolean;
  json?: boolean;
}

export function registerStudy(program: Command): void {
  program
    .command('study')
    .description('for every checkpoint: fit linear and quadratic approximants under N(0, I), the data Gaussian and the class mixture, and compare them with the network on the test set and on samples (accuracy, KL, FVU, exact FVU)')
    .requiredOption('--checkpoints <dir>', 'directory of step-<s>.safetensors checkpoints (as written by polyapprox train)')
    .requiredOption('--out <dir>', 'output directory: study.csv, study.json, figures/, cache/')
    .option('--samples <n>', 'samples drawn from each input model for evaluation', '10000')
    .option('--eps <x>', 'ridge added to the data covariances', '1e-6')
    .option('--seed <n>', 'seed of the evaluation samples (the same samples for every checkpoint)', '0')
    .option('--data <name>', 'dataset: mnist or fashion (default: from the checkpoints\' metadata, else mnist)')
    .option('--train-data <file>', 'your own training data instead (.safetensors/.npz with x and y, IDX, .npy); needs --test-data')
    .option('--test-data <file>', 'your own test data, with --train-data')
    .option('--train-limit <n>', 'use only the first n training images for the data Gaussian and mixture')
    .option('--test-limit <n>', 'evaluate on the first n test images only')
    .option('--fresh', 'recompute every checkpoint instead of reusing cache/step-<s>.json')
    .option('--mixture-quadratic <which>', 'checkpoints that get the quadratic mixture fit when d > 64 (conjugate gradients, minutes each): none, last or all (at d ≤ 64 it is cheap and always fitted unless none)', 'last')
    .option('--mixture-seconds <s>', 'wall-clock budget of each quadratic mixture solve; when it runs out the iterate reached is used and its residual recorded', '240')
    .option('--mixture-tol <x>', 'relative residual each quadratic mixture solve aims for', '1e-8')
    .option('--no-mixture-quadratic-fvu', 'skip the exact variance report of the quadratic mixture fit (slow at d = 784)')
    .option('--no-figures', 'skip the charts')
    .option('--json', 'print one JSON summary object on stdout')
    .addHelpText('after', `
Examples:
  polyapprox train --preset quick --out runs/quick
  polyapprox study --checkpoints runs/quick --out runs/quick-study
  polyapprox study --checkpoints runs/quick --out /tmp/s --samples 2000 --train-limit 10000 --test-limit 2000
  polyapprox study --checkpoints runs/quick --out runs/quick-study --mixture-quadratic all --mixture-seconds 600

An unconverged quadratic mixture solve is not an error: study.json records it under the checkpoint's
solver.quadratic_mixture (converged false, the relative residual reached) and a warning goes to stderr.`)
    .action(action(async (flags: StudyFlags) => {
      const t0 = performance.now();
      const samples = parseInteger(flags.samples, '--samples', 2);
      const eps = parseNumber(flags.eps, '--eps');
      if (eps < 0) throw new UsageError(`--eps must be ≥ 0, got "${flags.eps}"`);
      const seed = parseInteger(flags.seed, '--seed', -(2 ** 31), 2 ** 31 - 1);
      const data = flags.data === undefined ? undefined : parseChoice(flags.data, '--data', ['mnist', 'fashion'] as const);
      if ((flags.trainData === undefined) !== (flags.testData === undefined)) throw new UsageError('--train-data and --test-data go together');
      if (flags.trainData !== undefined && data !== undefined) throw new UsageError('--data cannot be combined with --train-data/--test-data');
      const trainLimit = flags.trainLimit === undefined ? null : parseInteger(flags.trainLimit, '--train-limit', 2);
      const testLimit = flags.testLimit === undefined ? null : parseInteger(flags.testLimit, '--test-limit', 2);
      const mixtureQuadratic = parseChoice(flags.mixtureQuadratic, '--mixture-quadratic', MIXTURE_QUADRATIC_MODES);
      const mixtureSeconds = parseNumber(flags.mixtureSeconds, '--mixture-seconds');
      if (!(mixtureSeconds > 0)) throw new UsageError(`--mixture-seconds must be > 0, got "${flags.mixtureSeconds}"`);
      const mixtureTol = parseNumber(flags.mixtureTol, '--mixture-tol');
      if (!(mixtureTol > 0 && mixtureTol < 1)) throw new UsageError(`--mixture-tol must be in (0, 1), got "${flags.mixtureTol}"`);
      const progress = createProgress();
      let done = 0;
      const result = await runStudy({
        checkpoints: flags.checkpoints, out: flags.out, samples, eps, seed, trainLimit, testLimit,
        fresh: Boolean(flags.fresh), mixtureQuadraticVariance: flags.mixtureQuadraticFvu, figures: flags.figures,
        mixtureQuadratic, mixtureQuadraticSeconds: mixtureSeconds, mixtureQuadraticTol: mixtureTol,
        ...(data === undefined ? {} : { data }),
        ...(flags.trainData === undefined ? {} : { trainData: flags.trainData, testData: flags.testData! }),
        hooks: {
          onStart: (total) => progress.start('study', total),
          onCheckpoint: (n, step, cached) => {
            done = n;
            progress.update(n, `step ${step}${cached ? ' (cached)' : ''}`);
          },
          onNote: (m) => progress.note(m),
          onSolveStart: (step, _maxIterations, maxSeconds) => progress.update(done, `step ${step}: quadratic mixture by conjugate gradients (≤ ${maxSeconds} s)`),
          onSolveProgress: (step, it, residual, secs) => progress.update(done, `step ${step}: quadratic mixture, iteration ${it}, residual ${residual.toExponential(2)}, ${secs.toFixed(0)}/${mixtureSeconds} s`),
          onSolveEnd: (step, r) => {
            if (!r.converged) progress.note(`polyapprox: warning: step ${step}: the quadratic mixture solve did not converge: ${r.method}; its rows describe the iterate reached`, true);
          },
        },
      });
      progress.stop();
      const seconds = (performance.now() - t0) / 1000;
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ ...summary(result), seconds })}\n`);
        return;
      }
      process.stdout.write(summaryTable(result));
      process.stdout.write(`${result.checkpoints.length} checkpoints (${result.cached} from cache) in ${seconds.toFixed(1)} s\n`);
      process.stdout.write(`wrote ${result.files.csv}, ${result.files.json}${result.files.figures.length > 0 ? ` and ${result.files.figures.length} figures (.svg, .png) in ${join(flags.out, 'figures')}` : ''}\n`);
    }));
}

function pick(rows: readonly StudyRow[], step: number, approximant: string, evalSet: string, metric: string): number | null {
  return rows.find((r) => r.step === step && r.approximant === approximant && r.eval_set === evalSet && r.metric === metric)?.value ?? null;
}

const COLUMNS: readonly [string, string, string, string][] = [
  ['acc net', 'network', 'test', 'accuracy'],
  ['acc lin', 'linear_n01', 'test', 'accuracy'],
  ['acc quad', 'quadratic_n01', 'test', 'accuracy'],
  ['FVU lin n01', 'linear_n01', 'n01', 'fvu_analytic'],
  ['FVU quad n01', 'quadratic_n01', 'n01', 'fvu_analytic'],
  ['FVU quad test', 'quadratic_n01', 'test', 'fvu_standard'],
  ['KL quad test', 'quadratic_n01', 'test', 'kl'],
  ['FVU qmix mix', 'quadratic_mixture', 'mixture', 'fvu_standard'],
];

function summary(result: StudyResult): Record<string, unknown> {
  return {
    settings: result.settings,
    files: result.files,
    cached: result.cached,
    checkpoints: result.checkpoints.map((c) => ({
      step: c.step,
      ...Object.fromEntries(COLUMNS.map(([name, a, e, m]) => [name, pick(result.rows, c.step, a, e, m)])),
      unavailable: Object.keys(c.unavailable),
      solver: c.solver,
    })),
  };
}

function summaryTable(result: StudyResult): string {
  const header = ['step', ...COLUMNS.map((c) => c[0])];
  const lines = [header.map((h) => h.padStart(13)).join('')];
  for (const c of result.checkpoints) {
    const cells = COLUMNS.map(([, a, e, m]) => {
      const v = pick(result.rows, c.step, a, e, m);
      return (v === null ? 'n/a' : v.toPrecision(4)).padStart(13);
    });
    lines.push([String(c.step).padStart(13), ...cells].join(''));
  }
  return `${lines.join('\n')}\n`;
}
