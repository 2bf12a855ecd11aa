/**
 * The study with the quadratic mixture fit on the conjugate-gradient route: a synthetic 70-feature, 3-class problem
 * (d = 70 > 64, so the dense normal equations are not used) and 70→8→3 ReLU checkpoints at steps 1 and 16.
 * - mixtureQuadratic 'last' (default): only step 16 has quadratic-mixture rows and `solver.quadratic_mixture`;
 *   the others are empty with the reason. Its exact FVU agrees with Monte Carlo on mixture samples, and it
 *   explains at least what the linear mixture fit does.
 * - 'all' reuses the last checkpoint's cached solve and fills the others; 'none' switches it off.
 * - A budget too small to converge keeps the iterate and records converged: false with its residual.
 * - The CLI flags `--mixture-quadratic`, `--mixture-seconds`, `--mixture-tol`; the report's mixture table.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensorsFile } from '../../src/formats/safetensors.js';
import { Rng } from '../../src/numerics/random.js';
import { STUDY_FORMAT_VERSION, runStudy, type StudyHooks, type StudyResult, type StudyRow } from '../../src/analysis/study.js';
import { mixtureQuadraticTable, mixtureSolverStatus } from '../../src/analysis/reproduce.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { runCli } from '../cliHarness.js';
import { classStructuredData } from '../random.js';

const D = 70, H = 8, O = 3;
const STEPS = [1, 16];
let dir: string;
let ckDir: string;
let trainPath: string;
let testPath: string;
let last: StudyResult;
const events: string[] = [];

function writeCheckpoint(step: number, rng: Rng, scale: number): void {
  const f32 = (n: number, s: number) => Float32Array.from({ length: n }, () => rng.normal() * s);
  writeSafetensorsFile(join(ckDir, `step-${step}.safetensors`), {
    W1: { dtype: 'F32', shape: [H, D], data: f32(H * D, scale / Math.sqrt(D)) }, b1: { dtype: 'F32', shape: [H], data: f32(H, 0.2) },
    W2: { dtype: 'F32', shape: [O, H], data: f32(O * H, scale) }, b2: { dtype: 'F32', shape: [O], data: f32(O, 0.1) },
  }, { architecture: 'mlp', activation: 'relu', step: String(step), input_scaling: 'as stored, not standardized' });
}

const recorder: StudyHooks = {
  onSolveStart: (step) => events.push(`start ${step}`),
  onSolveProgress: (step, it, residual, seconds) => {
    assert.ok(it >= 1 && residual >= 0 && seconds >= 0);
    if (events.at(-1) !== `progress ${step}`) events.push(`progress ${step}`);
  },
  onSolveEnd: (step, r) => events.push(`end ${step} ${r.converged}`),
};

const base = (): Parameters<typeof runStudy>[0] => ({
  checkpoints: ckDir, out: join(dir, 'out'), samples: 3000, seed: 5, trainData: trainPath, testData: testPath, figures: false,
});

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'polyapprox-study-krylov-'));
  ckDir = join(dir, 'ck');
  mkdirSync(ckDir);
  const rng = new Rng(77);
  const means = Array.from({ length: O }, () => Float64Array.from({ length: D }, () => 0.7 * rng.normal()));
  const mixes = Array.from({ length: O }, () => Float64Array.from({ length: D * D }, () => (0.6 * rng.normal()) / Math.sqrt(D)));
  const train = classStructuredData(900, rng, means, mixes);
  const test = classStructuredData(300, rng, means, mixes);
  trainPath = join(dir, 'train.safetensors');
  testPath = join(dir, 'test.safetensors');
  writeSafetensorsFile(trainPath, { x: { dtype: 'F32', shape: [900, D], data: train.x }, y: { dtype: 'F32', shape: [900], data: train.y } });
  writeSafetensorsFile(testPath, { x: { dtype: 'F32', shape: [300, D], data: test.x }, y: { dtype: 'F32', shape: [300], data: test.y } });
  for (const [i, step] of STEPS.entries()) writeCheckpoint(step, rng, 0.5 + i);
  last = await runStudy({ ...base(), hooks: recorder });
});

after(() => rmSync(dir, { recursive: true, force: true }));

function rowsOf(result: StudyResult, step: number, approximant: string): StudyRow[] {
  return result.rows.filter((r) => r.step === step && r.approximant === approximant);
}

function value(result: StudyResult, step: number, approximant: string, evalSet: string, metric: string): StudyRow {
  const r = result.rows.find((x) => x.step === step && x.approximant === approximant && x.eval_set === evalSet && x.metric === metric);
  assert.ok(r, `${step}/${approximant}/${evalSet}/${metric}`);
  return r;
}

describe("mixtureQuadratic 'last' (default) at d = 70", () => {
  test('only the last checkpoint has quadratic-mixture rows; the others are empty with the reason', () => {
    assert.equal(last.settings.mixtureQuadratic, 'last');
    assert.equal(last.settings.mixtureQuadraticSeconds, 240);
    assert.equal(last.settings.mixtureQuadraticTol, 1e-8);
    for (const c of last.checkpoints) {
      const rows = rowsOf(last, c.step, 'quadratic_mixture');
      assert.equal(rows.length, 4 * 4 + 1);
      if (c.step === 16) {
        for (const r of rows) assert.ok(r.value !== null && Number.isFinite(r.value), `${r.eval_set}/${r.metric}`);
        assert.equal(c.unavailable.quadratic_mixture, undefined);
        assert.ok(c.seconds.fits.quadratic_mixture! > 0);
      } else {
        for (const r of rows) assert.equal(r.value, null);
        assert.equal(c.unavailable.quadratic_mixture, "fitted only at the last checkpoint (mixtureQuadratic = 'last'); pass --mixture-quadratic all");
        assert.deepEqual(c.solver, {});
      }
      // Every other approximant is complete.
      for (const r of last.rows.filter((x) => x.step === c.step && x.approximant !== 'quadratic_mixture')) assert.notEqual(r.value, null);
    }
    assert.deepEqual(events, ['start 16', 'progress 16', 'end 16 true']);
  });

  test('the solve is recorded in the checkpoint (and study.json): converged, residual ≤ tol, applications, seconds, ridge', () => {
    const s = last.checkpoints.at(-1)!.solver.quadratic_mixture!;
    assert.equal(s.converged, true);
    assert.ok(s.relative_residual > 0 && s.relative_residual <= 1e-8);
    assert.ok(s.operator_applications > 1);
    assert.equal(s.tol, 1e-8);
    assert.equal(s.max_seconds, 240);
    assert.equal(s.stopped_by, null);
    assert.equal(s.ridge, 0, 'the data covariances already carry the study\'s ε, so the automatic ridge adds nothing');
    assert.ok(s.seconds > 0 && s.seconds <= last.checkpoints.at(-1)!.seconds.fits.quadratic_mixture!);
    assert.match(s.method, /^block conjugate gradients \(\d+ operator applications, relative residual \S+ ≤ 1e-8\)$/);
    const doc = JSON.parse(readFileSync(last.files.json, 'utf8'));
    assert.equal(doc.version, STUDY_FORMAT_VERSION);
    assert.equal(doc.settings.mixtureQuadratic, 'last');
    assert.deepEqual(doc.checkpoints.at(-1).solver, { quadratic_mixture: s });
    assert.deepEqual(doc.checkpoints[0].solver, {});
  });

  test('its exact FVU under the mixture agrees with Monte Carlo on mixture samples and beats the linear mixture fit', () => {
    const exact = value(last, 16, 'quadratic_mixture', 'mixture', 'fvu_analytic').value!;
    const mc = value(last, 16, 'quadratic_mixture', 'mixture', 'fvu_standard');
    assert.ok(Math.abs(exact - mc.value!) <= 4 * mc.se! + 1e-3 * exact, `exact ${exact} vs MC ${mc.value} ± ${mc.se}`);
    const linear = value(last, 16, 'linear_mixture', 'mixture', 'fvu_analytic').value!;
    assert.ok(exact <= linear + 1e-12, `quadratic ${exact} vs linear ${linear}`);
    // The least-squares quadratic under the mixture fits mixture samples better than the N(0, I) one.
    assert.ok(exact < value(last, 16, 'quadratic_n01', 'mixture', 'fvu_standard').value!);
  });

  test("the report's mixture table: FVU on mixture samples of the three quadratics and the solve's status", () => {
    const t = mixtureQuadraticTable(last);
    assert.deepEqual(t.header, ['step', 'FVU quad N(0,I)', 'FVU quad data Gaussian', 'FVU quad mixture', 'FVU quad mixture exact', 'acc quad mixture test', 'mixture quadratic solve']);
    assert.deepEqual(t.rows.map((r) => r[0]), ['1', '16']);
    const [first, final] = t.rows;
    assert.equal(first![3], '—');
    assert.equal(first![6], 'not fitted');
    assert.equal(first![1], value(last, 1, 'quadratic_n01', 'mixture', 'fvu_standard').value!.toFixed(4));
    assert.equal(final![3], value(last, 16, 'quadratic_mixture', 'mixture', 'fvu_standard').value!.toFixed(4));
    assert.match(final![6]!, /^converged \(\d+ applications, residual \S+\)$/);
  });
});

describe('other modes and budgets', () => {
  test("'all' reuses the last checkpoint's cached solve and fills the others", async () => {
    events.length = 0;
    const all = await runStudy({ ...base(), mixtureQuadratic: 'all', hooks: recorder });
    assert.equal(all.cached, 1);
    assert.deepEqual(events, ['start 1', 'progress 1', 'end 1 true']);
    for (const c of all.checkpoints) {
      assert.deepEqual(c.unavailable, {});
      assert.equal(c.solver.quadratic_mixture!.converged, true);
      for (const r of rowsOf(all, c.step, 'quadratic_mixture')) assert.notEqual(r.value, null);
    }
    assert.deepEqual(rowsOf(all, 16, 'quadratic_mixture'), rowsOf(last, 16, 'quadratic_mixture'));
    // Back to 'last': the last checkpoint is still cached, the others are recomputed without the solve.
    const again = await runStudy(base());
    assert.equal(again.cached, 1);
    assert.deepEqual(again.rows, last.rows);
  });

  test("'none' switches it off everywhere, with the reason", async () => {
    const none = await runStudy({ ...base(), out: join(dir, 'none'), mixtureQuadratic: 'none' });
    for (const c of none.checkpoints) {
      assert.match(c.unavailable.quadratic_mixture!, /mixtureQuadratic = 'none'/);
      for (const r of rowsOf(none, c.step, 'quadratic_mixture')) assert.equal(r.value, null);
    }
    assert.equal(mixtureSolverStatus(none.checkpoints[1]!, false), 'not fitted');
  });

  test('a budget too small to converge keeps the iterate: rows filled, converged false with the residual reached', async () => {
    events.length = 0;
    const tight = await runStudy({ ...base(), out: join(dir, 'tight'), mixtureQuadraticSeconds: 1e-6, hooks: recorder });
    const c = tight.checkpoints.at(-1)!;
    const s = c.solver.quadratic_mixture!;
    assert.equal(s.converged, false);
    assert.ok(s.relative_residual > 1e-8);
    assert.equal(s.max_seconds, 1e-6);
    assert.match(s.method, /NOT converged: relative residual \S+ > tol 1e-8 after the 0\.000001 s budget$/);
    for (const r of rowsOf(tight, 16, 'quadratic_mixture')) assert.ok(r.value !== null && Number.isFinite(r.value));
    assert.deepEqual(events, ['start 16', 'progress 16', 'end 16 false']);
    assert.equal(s.stopped_by, 'the 0.000001 s budget');
    assert.match(mixtureSolverStatus(c, true), /^NOT converged: residual \S+ > 1e-8 after the 0\.000001 s budget \(\d+ applications\)$/);
  });

  test('bad settings are refused with InvalidArgumentError naming them', async () => {
    await assert.rejects(runStudy({ ...base(), mixtureQuadratic: 'some' as 'all' }), /mixtureQuadratic/);
    await assert.rejects(runStudy({ ...base(), mixtureQuadraticSeconds: 0 }), InvalidArgumentError);
    await assert.rejects(runStudy({ ...base(), mixtureQuadraticTol: 1 }), /mixtureQuadraticTol/);
  });

  test('CLI: --mixture-quadratic/--mixture-seconds/--mixture-tol reach the study; bad values exit 2', async () => {
    const args = ['study', '--checkpoints', ckDir, '--samples', '300', '--train-data', trainPath, '--test-data', testPath, '--no-figures', '--no-mixture-quadratic-fvu', '--json'];
    const [ok, bad, badSeconds] = await runCli([
      [...args, '--out', join(dir, 'cli'), '--mixture-quadratic', 'last', '--mixture-seconds', '0.000001', '--mixture-tol', '1e-6'],
      [...args, '--out', join(dir, 'cli2'), '--mixture-quadratic', 'first'],
      [...args, '--out', join(dir, 'cli3'), '--mixture-seconds', '0'],
    ]);
    assert.equal(ok!.code, 0, ok!.stderr);
    const summary = JSON.parse(ok!.stdout);
    assert.equal(summary.settings.mixtureQuadratic, 'last');
    assert.equal(summary.settings.mixtureQuadraticSeconds, 1e-6);
    assert.equal(summary.settings.mixtureQuadraticTol, 1e-6);
    const [c1, c16] = summary.checkpoints;
    assert.deepEqual(c1.solver, {});
    assert.equal(c16.solver.quadratic_mixture.converged, false);
    assert.equal(c16.solver.quadratic_mixture.tol, 1e-6);
    assert.equal(typeof c16['FVU qmix mix'], 'number');
    assert.equal(c1['FVU qmix mix'], null);
    // The unconverged solve is reported on stderr even without a terminal.
    assert.match(ok!.stderr, /warning: step 16: the quadratic mixture solve did not converge: .*NOT converged/);
    assert.equal(bad!.code, 2);
    assert.match(bad!.stderr, /--mixture-quadratic must be one of none, last, all/);
    assert.equal(badSeconds!.code, 2);
    assert.match(badSeconds!.stderr, /--mixture-seconds/);
  });
});
