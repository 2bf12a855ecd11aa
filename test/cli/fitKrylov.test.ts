/**
 * `polyapprox fit` on the Krylov route (degree 2 under a mixture with d = 70 > 64): the solver flags (--tol,
 * --max-seconds, --max-iterations, --ridge), the `solver` object of --json, the warning and exit code 0 when the
 * budget runs out, the method recorded in the file, the note when the flags do not apply, and bad flag values.
 * The written coefficients are checked against the library's fit with the same options (itself checked against the
 * dense normal equations in test/approx/fitAsync.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/numerics/random.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../../src/formats/safetensors.js';
import { loadInputModel, loadNetwork } from '../../src/cli/load.js';
import { fitQuadraticAsync, type KrylovSolveReport, type MixtureKrylovOptions } from '../../src/approx/fit/index.js';
import type { GaussianMixture } from '../../src/approx/inputModel.js';
import { runCli, type CliRun } from '../cliHarness.js';

const D = 70, H = 8, O = 3, K = 3;
let dir: string;
let model: string;
let mixFile: string;
let gaussFile: string;
const out = (name: string): string => join(dir, `${name}.safetensors`);

/** Covariance A Aᵀ/d + 0.1·I [d, d], row-major. */
function randomCovariance(rng: Rng): Float64Array {
  const A = Float64Array.from({ length: D * D }, () => rng.normal() / Math.sqrt(D));
  const S = new Float64Array(D * D);
  for (let i = 0; i < D; i++) {
    for (let j = 0; j < D; j++) {
      let s = i === j ? 0.1 : 0;
      for (let k = 0; k < D; k++) s += A[i * D + k]! * A[j * D + k]!;
      S[i * D + j] = s;
    }
  }
  return S;
}

let runs: CliRun[];
const ARGS: Record<string, string[]> = {};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'polyapprox-fit-krylov-'));
  const rng = new Rng(404);
  model = join(dir, 'model.safetensors');
  const f64 = (shape: number[], n: number, scale: number) => ({ dtype: 'F64' as const, shape, data: Float64Array.from({ length: n }, () => rng.normal() * scale) });
  writeSafetensorsFile(model, {
    W1: f64([H, D], H * D, 1 / Math.sqrt(D)), b1: f64([H], H, 0.3), W2: f64([O, H], O * H, 1 / Math.sqrt(H)), b2: f64([O], O, 0.1),
  }, { architecture: 'mlp', activation: 'relu' });
  mixFile = join(dir, 'mixture.safetensors');
  const covs = new Float64Array(K * D * D);
  for (let k = 0; k < K; k++) covs.set(randomCovariance(rng), k * D * D);
  writeSafetensorsFile(mixFile, {
    weights: { dtype: 'F64', shape: [K], data: Float64Array.from([0.2, 0.3, 0.5]) },
    means: f64([K, D], K * D, 0.5),
    covs: { dtype: 'F64', shape: [K, D, D], data: covs },
  });
  gaussFile = join(dir, 'gaussian.safetensors');
  writeSafetensorsFile(gaussFile, { mean: f64([D], D, 0.5), cov: { dtype: 'F64', shape: [D, D], data: randomCovariance(rng) } });
  const fit = ['fit', '--model', model, '--input', mixFile, '--degree', '2'];
  Object.assign(ARGS, {
    converged: [...fit, '--out', out('converged'), '--tol', '1e-8', '--max-seconds', '600', '--json'],
    iterations: [...fit, '--out', out('iterations'), '--max-iterations', '1', '--json'],
    seconds: [...fit, '--out', out('seconds'), '--max-seconds', '0.000001', '--json'],
    text: [...fit, '--out', out('text'), '--tol', '1e-4', '--ridge', '0.001'],
    degree1: ['fit', '--model', model, '--input', mixFile, '--degree', '1', '--out', out('degree1'), '--tol', '1e-6', '--ridge', 'auto', '--json'],
    gaussian: ['fit', '--model', model, '--input', gaussFile, '--out', out('gaussian'), '--max-seconds', '5'],
    quiet: ['fit', '--model', model, '--input', gaussFile, '--out', out('quiet')],
    tolZero: [...fit, '--out', out('bad1'), '--tol', '0'],
    tolBig: [...fit, '--out', out('bad2'), '--tol', '1.5'],
    secondsNeg: [...fit, '--out', out('bad3'), '--max-seconds', '-1'],
    iterationsZero: [...fit, '--out', out('bad4'), '--max-iterations', '0'],
    ridgeNeg: [...fit, '--out', out('bad5'), '--ridge', '-1'],
    ridgeWord: [...fit, '--out', out('bad6'), '--ridge', 'lots'],
  });
  runs = await runCli(Object.values(ARGS));
});

after(() => rmSync(dir, { recursive: true, force: true }));

function result(name: string): CliRun {
  return runs[Object.keys(ARGS).indexOf(name)]!;
}

function json(name: string): Record<string, unknown> {
  const r = result(name);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, r.stdout);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

interface SolverJson { converged: boolean; operator_applications: number; relative_residual: number; tol: number; ridge: number; seconds: number }

/** The library's fit of the same files with the given Krylov options, and its report. */
async function libraryFit(krylov: MixtureKrylovOptions) {
  const net = loadNetwork(model).net;
  const mix = loadInputModel(mixFile, D) as GaussianMixture;
  let report: KrylovSolveReport | undefined;
  const approx = await fitQuadraticAsync(net, mix, { krylov: { ...krylov, throwOnNonConvergence: false }, onSolved: (r) => (report = r) });
  return { approx, report: report! };
}

function maxRelDiff(file: string, approx: { alpha: Float64Array; beta: { data: Float64Array }; gammaMatrix(o: number): { data: Float64Array } }): number {
  const t = readSafetensorsFile(file).tensors;
  const gamma = new Float64Array(O * D * D);
  for (let o = 0; o < O; o++) gamma.set(approx.gammaMatrix(o).data, o * D * D);
  let worst = 0;
  for (const [name, want] of [['alpha', approx.alpha], ['beta', approx.beta.data], ['gamma', gamma]] as const) {
    const got = t.get(name)!.data;
    let num = 0;
    let den = 0;
    for (let i = 0; i < want.length; i++) {
      num += (Number(got[i]) - want[i]!) ** 2;
      den += want[i]! ** 2;
    }
    worst = Math.max(worst, Math.sqrt(num / den));
  }
  return worst;
}

describe('fit on the Krylov route', () => {
  test('converged: --json has solver { converged, operator_applications, relative_residual ≤ tol, tol, ridge, seconds }', async () => {
    const j = json('converged');
    const s = j.solver as SolverJson;
    assert.deepEqual(Object.keys(s).sort(), ['converged', 'operator_applications', 'relative_residual', 'ridge', 'seconds', 'tol']);
    assert.equal(s.converged, true);
    assert.equal(s.tol, 1e-8);
    assert.equal(s.ridge, 0);
    assert.ok(s.relative_residual > 0 && s.relative_residual <= 1e-8, String(s.relative_residual));
    assert.ok(s.operator_applications > 1 && s.seconds > 0);
    assert.doesNotMatch(result('converged').stderr, /warning/);
    const method = readSafetensorsFile(out('converged')).metadata.method!;
    assert.equal(method, `block conjugate gradients (${s.operator_applications} operator applications, relative residual ${s.relative_residual.toExponential(1)} ≤ 1e-8)`);
    assert.equal(j.method, method);
    // The exact variance accounting of --json is there too.
    assert.ok((j.fvu as number) > 0 && (j.fvu as number) < 1);
    // The same fit as the library's.
    const lib = await libraryFit({ tol: 1e-8 });
    assert.equal(lib.report.operatorApplications, s.operator_applications);
    assert.ok(maxRelDiff(out('converged'), lib.approx) < 1e-12);
  });

  test('--max-iterations 1: exit 0, a warning with the residual vs the tolerance, the iterate written with its residual', async () => {
    const r = result('iterations');
    const s = json('iterations').solver as SolverJson;
    assert.equal(s.converged, false);
    assert.ok(s.relative_residual > 1e-8);
    assert.match(r.stderr, new RegExp(`warning: the conjugate-gradient solve stopped at relative residual ${s.relative_residual.toExponential(2).replace('+', '\\+')} > tol 1e-8 after maxIterations = 1`));
    assert.ok(existsSync(out('iterations')));
    const method = readSafetensorsFile(out('iterations')).metadata.method!;
    assert.match(method, /NOT converged: relative residual \S+ > tol 1e-8 after maxIterations = 1$/);
    const lib = await libraryFit({ maxIterations: 1 });
    assert.equal(lib.report.relativeResidual, s.relative_residual);
    assert.ok(maxRelDiff(out('iterations'), lib.approx) < 1e-12);
  });

  test('--max-seconds: the wall-clock budget is named in the warning and the method', () => {
    const r = result('seconds');
    const s = json('seconds').solver as SolverJson;
    assert.equal(s.converged, false);
    assert.match(r.stderr, /warning: .* > tol 1e-8 after the 0\.000001 s budget/);
    assert.match(readSafetensorsFile(out('seconds')).metadata.method!, /NOT converged: .* after the 0\.000001 s budget$/);
  });

  test('--ridge and --tol in plain-text mode: the ridge is applied and the solver line printed', () => {
    const r = result('text');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^solver: block conjugate gradients \(\d+ operator applications, relative residual \S+ ≤ 0\.0001\)$/m);
    const meta = readSafetensorsFile(out('text')).metadata;
    assert.match(meta.input_model!, /\+ (1\.000e-3|0\.001)·I/);
  });
});

describe('fit off the Krylov route', () => {
  test('the solver flags are accepted with a one-line note, and solver is null in --json', () => {
    const j = json('degree1');
    assert.equal(j.solver, null);
    assert.match(result('degree1').stderr, /^polyapprox: note: --tol, --ridge apply only to the Krylov route \(degree 2 under a mixture with d > 64\); ignored here$/m);
    const g = result('gaussian');
    assert.equal(g.code, 0, g.stderr);
    assert.match(g.stderr, /note: --max-seconds applies only to the Krylov route/);
    assert.doesNotMatch(g.stdout, /solver:/);
    assert.doesNotMatch(result('quiet').stderr, /note/);
  });
});

describe('bad solver flag values: usage errors naming the flag, nothing written', () => {
  for (const [name, flag] of [['tolZero', '--tol'], ['tolBig', '--tol'], ['secondsNeg', '--max-seconds'], ['iterationsZero', '--max-iterations'], ['ridgeNeg', '--ridge'], ['ridgeWord', '--ridge']] as const) {
    test(`${name}`, () => {
      const r = result(name);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(flag));
    });
  }
  test('no output files', () => {
    for (let i = 1; i <= 6; i++) assert.equal(existsSync(out(`bad${i}`)), false);
  });
});
