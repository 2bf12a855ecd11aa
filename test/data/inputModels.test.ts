import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, ShapeError } from '../../src/errors.js';
import { Matrix, Matrix32 } from '../../src/linalg/matrix.js';
import { Rng } from '../../src/numerics/random.js';
import {
  classConditionalMixture,
  dataGaussian,
  inputModelTensors,
  sampleMoments,
  writeInputModelFile,
} from '../../src/data/inputModels.js';
import { readInputModelFile } from '../../src/formats/layouts.js';
import { readSafetensorsFile } from '../../src/formats/safetensors.js';
import { writeNpz } from '../../src/formats/npz.js';
import { pixelStatistics } from '../../src/data/datasets.js';
import { runCli, type CliRun } from '../train/cliHarness.js';

interface MomentsFixture {
  eps: number;
  x: number[][];
  labels: number[];
  classes: number;
  mean: number[];
  cov: number[][];
  priors: number[];
  class_means: number[][];
  class_covs: number[][][];
}
const fx = JSON.parse(readFileSync(fileURLToPath(new URL('../../fixtures/data/moments.json', import.meta.url)), 'utf8')) as MomentsFixture;
const X = Matrix.fromRows(fx.x);
const X32 = Matrix32.fromFloat64(X);

const tmp = mkdtempSync(join(tmpdir(), 'polyapprox-input-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    assert.ok(Math.abs(actual[i]! - e) <= tol * Math.max(1, Math.abs(e)), `${what}[${i}]: ${actual[i]} vs ${e}`);
  }
}

describe('data Gaussian and class-conditional mixture vs numpy', () => {
  for (const [name, x] of [['float64', X], ['float32', X32]] as const) {
    test(`dataGaussian on ${name} data`, () => {
      const g = dataGaussian(x, fx.eps);
      assertClose(g.mean, fx.mean, 1e-14, 'mean');
      assertClose(g.covariance().data, fx.cov.flat(), 1e-13, 'cov');
    });
    test(`classConditionalMixture on ${name} data`, () => {
      const m = classConditionalMixture(x, fx.labels, fx.classes, fx.eps);
      assertClose(m.weights, fx.priors, 0, 'priors');
      m.components.forEach((c, k) => {
        assertClose(c.mean, fx.class_means[k]!, 1e-14, `class ${k} mean`);
        assertClose(c.covariance().data, fx.class_covs[k]!.flat(), 1e-13, `class ${k} cov`);
      });
    });
  }

  test('eps = 0 leaves the constant column with zero variance', () => {
    const g = dataGaussian(X, 0);
    const d = X.cols;
    assert.equal(g.covariance().data[4 * d + 4], 0);
  });
});

describe('sampleMoments', () => {
  test('chunked GEMM accumulation matches a two-pass loop on 5000 rows', () => {
    const n = 5000;
    const d = 6;
    const rng = new Rng(5);
    const x = new Matrix(n, d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x.data[i * d + j] = 1000 + rng.normal() * (j + 1) + (j === 2 ? x.data[i * d]! * 0.5 : 0);
    const { mean, cov } = sampleMoments(x);
    const m = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) m[j]! += x.data[i * d + j]! / n;
    for (let a = 0; a < d; a++) {
      for (let b = 0; b < d; b++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += (x.data[i * d + a]! - m[a]!) * (x.data[i * d + b]! - m[b]!);
        s /= n - 1;
        assert.ok(Math.abs(cov.get(a, b) - s) <= 1e-10 * Math.max(1, Math.abs(s)), `cov(${a},${b}) ${cov.get(a, b)} vs ${s}`);
        assert.equal(cov.get(a, b), cov.get(b, a));
      }
    }
    assertClose(mean, m, 1e-13, 'mean');
  });

  test('a row subset equals the moments of the subset', () => {
    const rows = [0, 3, 5, 7, 11];
    const a = sampleMoments(X, rows);
    const b = sampleMoments(Matrix.fromRows(rows.map((r) => fx.x[r]!)));
    assertClose(a.mean, b.mean, 0, 'mean');
    assertClose(a.cov.data, b.cov.data, 1e-15, 'cov');
  });

  test('invalid arguments', () => {
    assert.throws(() => sampleMoments(X, [1]), InvalidArgumentError);
    assert.throws(() => sampleMoments(X, [0, 99]), InvalidArgumentError);
    assert.throws(() => dataGaussian(X, -1), InvalidArgumentError);
    const nan = X.clone();
    nan.data[7] = NaN;
    assert.throws(() => dataGaussian(nan), /non-finite/);
    assert.throws(() => classConditionalMixture(X, fx.labels.slice(1), fx.classes), ShapeError);
    assert.throws(() => classConditionalMixture(X, fx.labels, 2), /outside \[0, 2\)/);
    const lonely = fx.labels.slice();
    lonely.fill(0);
    lonely[0] = 1;
    assert.throws(() => classConditionalMixture(X, lonely, 2), (e: unknown) => e instanceof InvalidArgumentError && /class 1 has 1 sample/.test(e.message));
  });
});

describe('samplers reproduce the fitted models', () => {
  test('mixture component frequencies and Gaussian mean within Monte Carlo error', () => {
    const m = classConditionalMixture(X, fx.labels, fx.classes, fx.eps);
    const n = 20000;
    const { X: s, component } = m.sampleWithComponents(n, new Rng(99));
    const freq = new Array<number>(fx.classes).fill(0);
    for (const c of component) freq[c]!++;
    fx.priors.forEach((p, k) => {
      const se = Math.sqrt((p * (1 - p)) / n);
      assert.ok(Math.abs(freq[k]! / n - p) < 5 * se, `component ${k}: ${freq[k]! / n} vs ${p}`);
    });
    // Overall sample mean vs the mixture mean; per-coordinate SE from the mixture variance.
    const mu = m.mean();
    const cov = m.covariance();
    const d = m.dim;
    for (let j = 0; j < d; j++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += s.data[i * d + j]!;
      const se = Math.sqrt(cov.get(j, j) / n);
      assert.ok(Math.abs(sum / n - mu[j]!) < 5 * se + 1e-12, `mean[${j}]: ${sum / n} vs ${mu[j]}`);
    }
  });
});

describe('input-model files', () => {
  test('Gaussian: safetensors round trip through the fit contract reader', () => {
    const g = dataGaussian(X32, fx.eps);
    const path = join(tmp, 'g.safetensors');
    writeInputModelFile(path, g, { source: 'fixture' });
    const back = readInputModelFile(path);
    assert.equal(back.kind, 'gaussian');
    if (back.kind !== 'gaussian') return;
    assert.deepEqual(Array.from(back.mean), Array.from(g.mean));
    assert.deepEqual(Array.from(back.cov.data), Array.from(g.covariance().data));
    const raw = readSafetensorsFile(path);
    assert.equal(raw.tensors.get('cov')!.dtype, 'F64');
    assert.deepEqual(raw.tensors.get('cov')!.shape, [X.cols, X.cols]);
    assert.equal(raw.metadata.kind, 'gaussian');
    assert.equal(raw.metadata.source, 'fixture');
  });

  test('mixture: npz round trip, shapes [K], [K,d], [K,d,d]', () => {
    const m = classConditionalMixture(X, fx.labels, fx.classes, fx.eps);
    const t = inputModelTensors(m);
    assert.deepEqual([...t.keys()], ['weights', 'means', 'covs']);
    assert.deepEqual(t.get('covs')!.shape, [fx.classes, X.cols, X.cols]);
    const path = join(tmp, 'm.npz');
    writeInputModelFile(path, m);
    const back = readInputModelFile(path);
    assert.equal(back.kind, 'mixture');
    if (back.kind !== 'mixture') return;
    assert.deepEqual(Array.from(back.weights), fx.priors);
    back.covs.forEach((c, k) => assert.deepEqual(Array.from(c.data), Array.from(m.components[k]!.covariance().data)));
    assert.deepEqual(Array.from(back.means.data), m.components.flatMap((c) => Array.from(c.mean)));
  });
});

describe('polyapprox input', () => {
  const dataPath = join(tmp, 'data.npz');
  writeFileSync(dataPath, writeNpz({
    x: { dtype: 'F64', shape: [X.rows, X.cols], data: X.data },
    y: { dtype: 'I64', shape: [X.rows], data: Float64Array.from(fx.labels) },
  }));
  const mixOut = join(tmp, 'cli-mix.safetensors');
  const gOut = join(tmp, 'cli-g.safetensors');
  const sOut = join(tmp, 'cli-std.safetensors');
  let results: CliRun[] = [];
  before(async () => {
    results = await runCli([
      ['input', '--data', dataPath, '--kind', 'mixture', '--out', mixOut, '--json'],
      ['input', '--data', dataPath, '--out', gOut, '--eps', '0.5'],
      ['input', '--data', dataPath, '--kind', 'blob', '--out', join(tmp, 'x.safetensors')],
      ['input', '--data', dataPath, '--eps', '-1', '--out', join(tmp, 'x.safetensors')],
      ['input', '--data', join(tmp, 'nope.npz'), '--out', join(tmp, 'x.safetensors')],
      ['input', '--data', dataPath, '--standardize', '--out', sOut],
    ]);
  });

  test('--kind mixture writes the class-conditional mixture of a data file', () => {
    const r = results[0]!;
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { kind: string; components: number; dim: number };
    assert.deepEqual([summary.kind, summary.components, summary.dim], ['mixture', fx.classes, X.cols]);
    const back = readInputModelFile(mixOut);
    assert.equal(back.kind, 'mixture');
    if (back.kind === 'mixture') assertClose(back.covs[1]!.data, fx.class_covs[1]!.flat(), 1e-13, 'class 1 cov');
  });

  test('--kind gaussian with --eps', () => {
    const r = results[1]!;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote a Gaussian input model \(dimension 5, 40 samples/);
    const back = readInputModelFile(gOut);
    if (back.kind !== 'gaussian') throw new Error('expected a Gaussian');
    const d = X.cols;
    assert.ok(Math.abs(back.cov.data[4 * d + 4]! - 0.5) < 1e-15);
  });

  test('bad values give one clear line and a usage exit code', () => {
    assert.equal(results[2]!.code, 2);
    assert.match(results[2]!.stderr, /--kind must be one of gaussian, mixture, got "blob"/);
    assert.equal(results[3]!.code, 2);
    assert.match(results[3]!.stderr, /--eps must be a non-negative number/);
    assert.equal(results[4]!.code, 1);
    assert.match(results[4]!.stderr, /cannot read/);
  });

  test('--standardize maps the data by its global scalar mean and std first', () => {
    const r = results[5]!;
    assert.equal(r.code, 0, r.stderr);
    const { mean, std } = pixelStatistics(X32);
    const g = readInputModelFile(sOut);
    if (g.kind !== 'gaussian') throw new Error('expected a Gaussian');
    // Standardizing is affine: the mean maps to (μ − m)/s, the covariance to S/s² (plus eps).
    fx.mean.forEach((mu, j) => assert.ok(Math.abs(g.mean[j]! - (mu - mean) / std) < 1e-6, `mean[${j}]`));
    const d = X.cols;
    for (let i = 0; i < d * d; i++) {
      const want = (fx.cov.flat()[i]! - (i % (d + 1) === 0 ? fx.eps : 0)) / (std * std) + (i % (d + 1) === 0 ? fx.eps : 0);
      assert.ok(Math.abs(g.cov.data[i]! - want) < 1e-5 * Math.max(1, Math.abs(want)), `cov[${i}]: ${g.cov.data[i]} vs ${want}`);
    }
    assert.match(readSafetensorsFile(sOut).metadata.input_scaling!, /standardized/);
  });
});
