/**
 * The viewer's precomputation on a tiny synthetic run (2 checkpoints of random 784→16→10 ReLU MLPs, 300 test
 * images), checked against independent computations: eigenvalues against a dense `eigh` of Γ_c and against the
 * trace and Frobenius norm of Γ_c, eigenvectors by their residual ‖Γv − λv‖, attack directions from the
 * eigendecomposition of βᵀβ (not the SVD), attacked accuracies and logit parts recomputed with plain loops.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, ShapeError } from '../../src/errors.js';
import { Matrix } from '../../src/linalg/matrix.js';
import { eigh } from '../../src/linalg/ops.js';
import { fitLinear, fitQuadratic } from '../../src/approx/fit/index.js';
import { Gaussian } from '../../src/approx/inputModel.js';
import { createMLP, forward } from '../../src/approx/network.js';
import type { PolynomialApproximant } from '../../src/approx/result.js';
import { signedMass } from '../../src/analysis/eigen.js';
import { saveApproximant } from '../../src/formats/approximantFile.js';
import { writeSafetensorsFile } from '../../src/formats/safetensors.js';
import { PUOR_ANCHORS } from '../../src/figures/colormap.js';
import { pickDigits, precomputeViewer, resolveViewerSource, defaultTestData } from '../../src/viewer/precompute.js';
import type { CheckpointDetail, ViewerIndex } from '../../src/viewer/schema.js';
import { SYN_D, SYN_O, makeSyntheticRun, randomMlp, asStored, writeCheckpoint, type SyntheticRun } from './synthetic.js';

const TOP = 3;
const KMAX = 5;
const PER_CLASS = 1;

function readBlob(dir: string, name: string): Float32Array {
  const b = readFileSync(join(dir, name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function readDetail(dir: string, name: string): CheckpointDetail {
  return JSON.parse(readFileSync(join(dir, name), 'utf8')) as CheckpointDetail;
}

function matvec(A: Matrix, v: ArrayLike<number>): Float64Array {
  const out = new Float64Array(A.rows);
  for (let i = 0; i < A.rows; i++) {
    let s = 0;
    for (let j = 0; j < A.cols; j++) s += A.data[i * A.cols + j]! * v[j]!;
    out[i] = s;
  }
  return out;
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/**
 * The top-k left singular vectors of β [d, o], from the eigendecomposition of the small o × o matrix βᵀβ
 * (u_i = β v_i / σ_i): a route independent of the library's SVD. Returned as columns of a d × k matrix.
 */
function topLeftSingular(beta: Matrix, k: number): Matrix {
  const o = beta.cols;
  const d = beta.rows;
  const BtB = new Matrix(o, o);
  for (let a = 0; a < o; a++) for (let b = 0; b < o; b++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += beta.data[i * o + a]! * beta.data[i * o + b]!;
    BtB.data[a * o + b] = s;
  }
  const { values, vectors } = eigh(BtB);
  const U = new Matrix(d, k);
  for (let j = 0; j < k; j++) {
    const col = o - 1 - j;
    const sigma = Math.sqrt(values[col]!);
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let c = 0; c < o; c++) s += beta.data[i * o + c]! * vectors.data[c * o + col]!;
      U.data[i * k + j] = s / sigma;
    }
  }
  return U;
}

/** Rows of X with the first k columns of U projected out, by plain loops. */
function projectRows(X: Matrix, U: Matrix, k: number): Matrix {
  const d = X.cols;
  const out = X.clone();
  for (let r = 0; r < X.rows; r++) {
    for (let j = 0; j < k; j++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += X.data[r * d + i]! * U.data[i * U.cols + j]!;
      for (let i = 0; i < d; i++) out.data[r * d + i]! -= dot * U.data[i * U.cols + j]!;
    }
  }
  return out;
}

function argmaxRow(M: Matrix, r: number): number {
  let b = 0;
  for (let c = 1; c < M.cols; c++) if (M.data[r * M.cols + c]! > M.data[r * M.cols + b]!) b = c;
  return b;
}

function accuracyOf(F: Matrix, labels: ArrayLike<number>): number {
  let hits = 0;
  for (let r = 0; r < F.rows; r++) if (argmaxRow(F, r) === labels[r]) hits++;
  return hits / F.rows;
}

/** α + Xβ for a linear approximant, by plain loops. */
function linearLogits(a: PolynomialApproximant, X: Matrix): Matrix {
  const o = a.outputDim;
  const d = a.inputDim;
  const F = new Matrix(X.rows, o);
  for (let r = 0; r < X.rows; r++) for (let c = 0; c < o; c++) {
    let s = a.alpha[c]!;
    for (let i = 0; i < d; i++) s += X.data[r * d + i]! * a.beta.data[i * o + c]!;
    F.data[r * o + c] = s;
  }
  return F;
}

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tolerance ${tol})`);
}

describe('viewer precompute on a synthetic run', () => {
  let root: string;
  let run: SyntheticRun;
  let index: ViewerIndex;
  let cacheDir: string;
  const quads: PolynomialApproximant[] = [];
  const gammas: Matrix[][] = [];

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'polyapprox-viewer-pre-'));
    run = makeSyntheticRun(join(root, 'run'));
    const r = await precomputeViewer({ source: run.dir, data: run.dataFile, top: TOP, kMax: KMAX, digitsPerClass: PER_CLASS });
    index = r.index;
    cacheDir = r.cacheDir;
    assert.equal(r.computed, 2);
    for (const net of run.nets) {
      const q = fitQuadratic(net, Gaussian.standard(SYN_D));
      quads.push(q);
      gammas.push(Array.from({ length: SYN_O }, (_, c) => q.gammaMatrix(c)));
    }
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  test('finds the checkpoints in a subfolder and caches into <dir>/viewer', () => {
    assert.equal(cacheDir, join(run.dir, 'viewer'));
    assert.equal(index.format, 'polyapprox.viewer');
    assert.deepEqual(index.checkpoints.map((c) => c.step), [10, 200]);
    assert.deepEqual(index.checkpoints.map((c) => c.label), ['step 10', 'step 200']);
    assert.equal(index.inputDim, SYN_D);
    assert.equal(index.outputDim, SYN_O);
    assert.deepEqual(index.imageShape, [28, 28]);
    assert.deepEqual(index.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.deepEqual(index.colormap.anchors, [...PUOR_ANCHORS]);
    assert.equal(index.source.kind, 'checkpoints');
    assert.equal(index.top, TOP);
  });

  test('top eigenvalues equal a dense eigh of Γ_c (class 0 and 7 of the last checkpoint)', () => {
    for (const c of [0, 7]) {
      const { values } = eigh(gammas[1]![c]!);
      const scale = Math.max(Math.abs(values[0]!), Math.abs(values[values.length - 1]!));
      const e = index.checkpoints[1]!.eigen![c]!;
      assert.equal(e.positive.length, TOP);
      assert.equal(e.negative.length, TOP);
      for (let j = 0; j < TOP; j++) {
        close(e.positive[j]!, values[values.length - 1 - j]!, 1e-9 * scale, `class ${c} λ+${j}`);
        close(e.negative[j]!, values[j]!, 1e-9 * scale, `class ${c} λ−${j}`);
      }
    }
  });

  test('spectra: rank 16, trace and Frobenius norm of Γ_c; eigenvectors: unit, oriented, ‖Γv − λv‖ small', () => {
    for (const [k, s] of index.checkpoints.entries()) {
      const detail = readDetail(cacheDir, s.detail);
      const blob = readBlob(cacheDir, s.blob);
      assert.equal(blob.length, s.layout.eigenvectors!.length + s.layout.beta.length + s.layout.singular!.length);
      for (let c = 0; c < SYN_O; c++) {
        const G = gammas[k]![c]!;
        const e = s.eigen![c]!;
        const spec = detail.spectrum[c]!;
        assert.equal(e.nonzero, 16, 'Γ_c = W1ᵀ diag(·) W1 has rank h = 16');
        assert.equal(e.zeros, SYN_D - 16);
        assert.equal(spec.length, 16);
        for (let j = 1; j < spec.length; j++) assert.ok(spec[j - 1]! >= spec[j]!, 'spectrum descending');
        let trace = 0;
        let frob = 0;
        for (let i = 0; i < SYN_D; i++) trace += G.data[i * SYN_D + i]!;
        for (let i = 0; i < SYN_D * SYN_D; i++) frob += G.data[i]! ** 2;
        const absSum = spec.reduce((a, v) => a + Math.abs(v), 0);
        close(spec.reduce((a, v) => a + v, 0), trace, 1e-6 * absSum, `tr Γ_${c}`);
        close(spec.reduce((a, v) => a + v * v, 0), frob, 1e-6 * frob, `‖Γ_${c}‖²`);
        const lmax = Math.max(Math.abs(spec[0]!), Math.abs(spec[spec.length - 1]!));
        for (const [sign, list] of [[0, e.positive], [1, e.negative]] as const) {
          list.forEach((lambda, j) => {
            close(lambda, sign === 0 ? spec[j]! : spec[spec.length - 1 - j]!, 1e-6 * lmax, 'index λ = spectrum λ');
            const off = s.layout.eigenvectors!.offset + ((c * 2 + sign) * TOP + j) * SYN_D;
            const v = blob.subarray(off, off + SYN_D);
            close(norm(v), 1, 1e-5, 'unit eigenvector');
            const Gv = matvec(G, v);
            const res = norm(Gv.map((x, i) => x - lambda * v[i]!));
            assert.ok(res <= 2e-6 * lmax, `residual ${res} of class ${c} eigenvector ${sign}/${j} (λmax ${lmax})`);
            const m = signedMass(v);
            assert.ok(m.positive >= m.negative, 'orientation: positive mass dominates');
          });
        }
      }
      // β columns.
      const q = quads[k]!;
      const bmax = Math.max(...Array.from(q.beta.data, Math.abs));
      close(s.betaScale, bmax, 1e-12 * bmax, 'betaScale');
      for (let c = 0; c < SYN_O; c++) for (let i = 0; i < SYN_D; i += 37) {
        close(blob[s.layout.beta.offset + c * SYN_D + i]!, q.beta.data[i * SYN_O + c]!, 1e-6 * bmax, `β[${i}, ${c}]`);
      }
    }
  });

  test('attack: directions span the top singular subspace of β; accuracies match a plain-loop recomputation', () => {
    assert.equal(index.attack!.samples, 300);
    assert.equal(index.attack!.description, 'the 300 images of test.safetensors');
    assert.equal(index.attack!.kMax, KMAX);
    for (const [k, s] of index.checkpoints.entries()) {
      const net = run.nets[k]!;
      const lin = fitLinear(net, Gaussian.standard(SYN_D));
      const quad = quads[k]!;
      const U = topLeftSingular(lin.beta, KMAX);
      const blob = readBlob(cacheDir, s.blob);
      // Each stored direction u_i lies in span(U[:, :i+1]) and the spans agree: ‖u − U Uᵀ u‖ ≈ 0.
      for (let i = 0; i < KMAX; i++) {
        const u = blob.subarray(s.layout.singular!.offset + i * SYN_D, s.layout.singular!.offset + (i + 1) * SYN_D);
        const P = projectRows(new Matrix(1, SYN_D, Float64Array.from(u)), U, i + 1);
        assert.ok(norm(P.data) < 1e-5, `direction ${i} outside the top-${i + 1} singular subspace (${norm(P.data)})`);
      }
      assert.equal(s.attack!.length, KMAX + 1);
      for (const kk of [0, 1, 3, KMAX]) {
        const Xk = projectRows(run.X, U, kk);
        const step = s.attack![kk]!;
        assert.equal(step.k, kk);
        assert.equal(step.accuracy.network, accuracyOf(forward(net, Xk), run.labels), `network accuracy at k=${kk}`);
        assert.equal(step.accuracy.linear, accuracyOf(linearLogits(lin, Xk), run.labels), `linear accuracy at k=${kk}`);
        assert.equal(step.accuracy.quadratic, accuracyOf(quad.predict(Xk), run.labels), `quadratic accuracy at k=${kk}`);
      }
    }
    assert.ok(index.checkpoints[1]!.attack![0]!.accuracy.network > 0.6, 'labels mostly follow the last network');
  });

  test('digits: one per class; logit parts sum to the approximant and match Γ, β and the network', () => {
    const dg = index.digits!;
    assert.equal(dg.count, SYN_O * PER_CLASS);
    assert.deepEqual(dg.indices, pickDigits(run.labels, SYN_O, PER_CLASS));
    assert.deepEqual(dg.labels, dg.indices.map((i) => run.labels[i]));
    const digits = readBlob(cacheDir, dg.file);
    for (let j = 0; j < dg.count; j++) for (let i = 0; i < SYN_D; i += 53) {
      assert.equal(digits[j * SYN_D + i], Math.fround(run.X.data[dg.indices[j]! * SYN_D + i]!));
    }
    for (const [k, s] of index.checkpoints.entries()) {
      const detail = readDetail(cacheDir, s.detail);
      const net = run.nets[k]!;
      const quad = quads[k]!;
      const U = topLeftSingular(fitLinear(net, Gaussian.standard(SYN_D)).beta, KMAX);
      detail.alpha.forEach((a, c) => close(a, quad.alpha[c]!, 1e-6 * Math.abs(quad.alpha[c]!) + 1e-12, `α_${c}`));
      for (const kk of [0, KMAX]) {
        const X = new Matrix(dg.count, SYN_D);
        dg.indices.forEach((row, j) => X.data.set(run.X.data.subarray(row * SYN_D, (row + 1) * SYN_D), j * SYN_D));
        const Xk = projectRows(X, U, kk);
        const F = forward(net, Xk);
        for (let j = 0; j < dg.count; j++) {
          const r = detail.digits![kk]![j]!;
          const x = Xk.data.subarray(j * SYN_D, (j + 1) * SYN_D);
          for (let c = 0; c < SYN_O; c++) {
            let lin = 0;
            for (let i = 0; i < SYN_D; i++) lin += x[i]! * quad.beta.data[i * SYN_O + c]!;
            const Gx = matvec(gammas[k]![c]!, x);
            let qd = 0;
            for (let i = 0; i < SYN_D; i++) qd += x[i]! * Gx[i]!;
            const tol = (v: number) => 2e-6 * Math.abs(v) + 1e-9;
            close(r.linear[c]!, lin, tol(lin), `linear part, k=${kk}, digit ${j}, class ${c}`);
            close(r.quadratic[c]!, qd, tol(qd), `quadratic part, k=${kk}, digit ${j}, class ${c}`);
            const sum = quad.alpha[c]! + lin + qd;
            close(r.approximant[c]!, sum, tol(sum), 'approximant = α + linear + quadratic');
            const fn = F.data[j * SYN_O + c]!;
            close(r.network[c]!, fn, tol(fn), 'network logit');
          }
          assert.equal(r.predictions.network, argmaxRow(F, j));
        }
      }
    }
  });

  test('without study.json the curves come from the attack at k = 0', () => {
    const curves = index.curves!;
    assert.equal(curves.source, 'viewer');
    const acc = curves.charts.find((c) => c.id === 'accuracy')!;
    assert.deepEqual(acc.series.map((s) => s.id), ['network', 'linear_n01', 'quadratic_n01']);
    const net = acc.series[0]!;
    assert.deepEqual(net.points, index.checkpoints.map((c) => [c.step, c.attack![0]!.accuracy.network]));
    const kl = curves.charts.find((c) => c.id === 'kl')!;
    assert.deepEqual(kl.series[1]!.points, index.checkpoints.map((c) => [c.step, c.attack![0]!.kl.quadratic]));
    assert.equal(kl.logY, true);
  });

  test('a second run reuses the cache; a changed checkpoint is recomputed and its old files removed', async () => {
    const again = await precomputeViewer({ source: run.dir, data: run.dataFile, top: TOP, kMax: KMAX, digitsPerClass: PER_CLASS });
    assert.equal(again.computed, 0);
    assert.equal(again.cached, 2);
    assert.equal(again.index.key, index.key);
    const oldFiles = [index.checkpoints[1]!.detail, index.checkpoints[1]!.blob];
    writeCheckpoint(join(run.dir, 'checkpoints', 'step-200.safetensors'), asStored(randomMlp(99)), 200);
    const changed = await precomputeViewer({ source: run.dir, data: run.dataFile, top: TOP, kMax: KMAX, digitsPerClass: PER_CLASS });
    assert.equal(changed.computed, 1);
    assert.equal(changed.cached, 1);
    assert.notEqual(changed.index.key, index.key);
    for (const f of oldFiles) assert.equal(existsSync(join(cacheDir, f)), false, `${f} should have been removed`);
    assert.equal(changed.index.checkpoints[0]!.detail, index.checkpoints[0]!.detail);
    assert.notDeepEqual(changed.index.checkpoints[1]!.eigen, index.checkpoints[1]!.eigen);
    const other = await precomputeViewer({ source: run.dir, data: run.dataFile, top: 2, kMax: KMAX, digitsPerClass: PER_CLASS });
    assert.equal(other.computed, 2, 'other settings recompute everything');
    const files = readdirSync(cacheDir).filter((f) => f.startsWith('ckpt-'));
    assert.equal(files.length, 4, `only the current checkpoints' files remain: ${files.join(', ')}`);
    const refreshed = await precomputeViewer({ source: run.dir, data: run.dataFile, top: 2, kMax: KMAX, digitsPerClass: PER_CLASS, refresh: true });
    assert.equal(refreshed.computed, 2);
    // Restore the original checkpoint and cache for the other tests.
    writeCheckpoint(join(run.dir, 'checkpoints', 'step-200.safetensors'), run.nets[1]!, 200);
    const restored = await precomputeViewer({ source: run.dir, data: run.dataFile, top: TOP, kMax: KMAX, digitsPerClass: PER_CLASS });
    assert.equal(restored.index.key, index.key, 'the same inputs give the same cache key');
  });

  test('study.json in a subfolder provides the curves (network and N(0, I) approximants on the test set)', async () => {
    const studyDir = join(run.dir, 'study');
    mkdirSync(studyDir, { recursive: true });
    const row = (step: number, approximant: string, metric: string, value: number | null, evalSet = 'test') => ({
      step, approximant, input_model: approximant === 'network' ? '' : 'n01', degree: null, eval_set: evalSet, metric, value, se: null,
    });
    const rows = [
      row(200, 'network', 'accuracy', 0.9), row(10, 'network', 'accuracy', 0.5),
      row(10, 'linear_n01', 'accuracy', 0.4), row(200, 'linear_n01', 'accuracy', 0.7),
      row(10, 'quadratic_n01', 'kl', 0.2), row(200, 'quadratic_n01', 'kl', 0.05),
      row(10, 'quadratic_n01', 'kl', 9, 'n01'), row(200, 'linear_n01', 'fvu_standard', null),
      row(10, 'linear_data', 'accuracy', 0.3),
    ];
    writeFileSync(join(studyDir, 'study.json'), JSON.stringify({ settings: { test: 'mnist-test', testLimit: 500 }, rows }));
    const r = await precomputeViewer({ source: run.dir, data: run.dataFile, top: TOP, kMax: KMAX, digitsPerClass: PER_CLASS });
    assert.equal(r.index.source.study, join(studyDir, 'study.json'));
    const curves = r.index.curves!;
    assert.equal(curves.source, 'study');
    assert.match(curves.description, /mnist-test, first 500 images/);
    assert.deepEqual(curves.charts.map((c) => c.id), ['accuracy', 'kl'], 'no FVU chart: its only value is missing');
    const acc = curves.charts[0]!;
    assert.deepEqual(acc.series.map((s) => [s.id, s.points]), [['network', [[10, 0.5], [200, 0.9]]], ['linear_n01', [[10, 0.4], [200, 0.7]]]]);
    assert.deepEqual(curves.charts[1]!.series.map((s) => [s.id, s.points]), [['quadratic_n01', [[10, 0.2], [200, 0.05]]]]);
    assert.equal(r.computed, 0, 'a new study.json does not invalidate the checkpoints');
    rmSync(studyDir, { recursive: true });
  });

  test('a single approximant file: eigen-features only, or the attack too with --model', async () => {
    // Γ stored densely here (the dense eigensolver route), factored below.
    const file = join(root, 'quad.safetensors');
    saveApproximant(file, quads[0]!, { gamma: 'dense' });
    const alone = await precomputeViewer({ source: file, top: TOP });
    assert.equal(alone.cacheDir, `${file}.viewer`);
    assert.equal(alone.index.source.kind, 'approximant');
    assert.equal(alone.index.attack, null);
    assert.equal(alone.index.digits, null);
    assert.equal(alone.index.curves, null);
    assert.equal(alone.index.checkpoints[0]!.step, null);
    assert.ok(alone.index.notes.some((n) => /--model/.test(n)));
    const ref = index.checkpoints[0]!.eigen!;
    alone.index.checkpoints[0]!.eigen!.forEach((e, c) => {
      assert.equal(e.nonzero, 16, 'the dense route finds the same rank');
      e.positive.forEach((v, j) => close(v, ref[c]!.positive[j]!, 1e-9 * Math.abs(v), 'same eigenvalues as the checkpoint'));
      e.negative.forEach((v, j) => close(v, ref[c]!.negative[j]!, 1e-9 * Math.abs(v), 'same eigenvalues as the checkpoint'));
    });
    const factored = join(root, 'quad-factored.safetensors');
    saveApproximant(factored, quads[0]!, { gamma: 'factored' });
    const model = join(run.dir, 'checkpoints', 'step-10.safetensors');
    const withModel = await precomputeViewer({ source: factored, model, data: run.dataFile, top: TOP, kMax: KMAX, digitsPerClass: PER_CLASS, cacheDir: join(root, 'c2') });
    const a = withModel.index.checkpoints[0]!.attack!;
    assert.equal(a.length, KMAX + 1);
    assert.equal(a[0]!.accuracy.network, index.checkpoints[0]!.attack![0]!.accuracy.network);
    assert.match(withModel.index.attack!.linear, /Γ dropped/);
    const lin = join(root, 'lin.safetensors');
    saveApproximant(lin, fitLinear(run.nets[0]!, Gaussian.standard(SYN_D)));
    const linear = await precomputeViewer({ source: lin });
    assert.equal(linear.index.checkpoints[0]!.eigen, null);
    assert.equal(linear.index.checkpoints[0]!.degree, 1);
    assert.ok(linear.index.notes.some((n) => /degree-1/.test(n)));
  });

  test('a single model file is one checkpoint with its step from the metadata', () => {
    const src = resolveViewerSource(join(run.dir, 'checkpoints', 'step-200.safetensors'));
    assert.equal(src.kind, 'model');
    assert.deepEqual(src.entries.map((e) => e.step), [200]);
  });

  test('errors name the problem', async () => {
    await assert.rejects(precomputeViewer({ source: join(root, 'nope') }), (e: unknown) => e instanceof InvalidArgumentError && /does not exist/.test(e.message));
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await assert.rejects(precomputeViewer({ source: empty }), (e: unknown) => e instanceof InvalidArgumentError && /no step-<s>\.safetensors/.test(e.message));
    await assert.rejects(precomputeViewer({ source: run.dir, model: join(root, 'x') }), (e: unknown) => e instanceof InvalidArgumentError && /model applies only/.test(e.message));
    const blocker = join(root, 'blocker');
    writeFileSync(blocker, 'a file');
    await assert.rejects(precomputeViewer({ source: run.dir, data: run.dataFile, cacheDir: join(blocker, 'cache') }), (e: unknown) => e instanceof InvalidArgumentError && /--cache/.test(e.message));
    await assert.rejects(precomputeViewer({ source: run.dir, top: 0 }), (e: unknown) => e instanceof InvalidArgumentError && /top/.test(e.message));
    const small = join(root, 'small.safetensors');
    writeSafetensorsFile(small, { x: { dtype: 'F32', shape: [4, 10], data: new Float32Array(40) }, y: { dtype: 'I32', shape: [4], data: new Float64Array([0, 1, 2, 3]) } });
    await assert.rejects(precomputeViewer({ source: run.dir, data: small, cacheDir: join(root, 'c3') }), (e: unknown) => e instanceof ShapeError && /dimension 10/.test(e.message));
  });

  test('without test data for non-image inputs, the attack is left out with a note', async () => {
    const dir = join(root, 'tiny');
    mkdirSync(dir);
    // A 784-input network with no dataset metadata defaults to mnist-test, which may not be installed; a
    // 5-input network has no default at all.
    const net5 = createMLP({
      W1: new Matrix(3, 5, Float64Array.from({ length: 15 }, (_, i) => Math.sin(i + 1))), W2: new Matrix(2, 3, Float64Array.from({ length: 6 }, (_, i) => Math.cos(i))), activation: 'relu',
    });
    writeCheckpoint(join(dir, 'step-1.safetensors'), net5, 1);
    const r = await precomputeViewer({ source: dir, top: 1 });
    assert.equal(r.index.attack, null);
    assert.equal(r.index.imageShape, null);
    assert.ok(r.index.notes.some((n) => /--data/.test(n)));
    assert.equal(r.index.checkpoints[0]!.eigen!.length, 2);
    // A new (empty) study.json rebuilds the index from the cached checkpoint: the notes still say what is missing.
    writeFileSync(join(dir, 'study.json'), JSON.stringify({ rows: [] }));
    const again = await precomputeViewer({ source: dir, top: 1 });
    assert.equal(again.computed, 0);
    assert.ok(again.index.notes.some((n) => /--data/.test(n)), again.index.notes.join('; '));
    assert.ok(again.index.notes.some((n) => /no test-set rows/.test(n)));
  });
});

describe('pickDigits', () => {
  test('rounds of one example per class, in class order, skipping absent classes', () => {
    assert.deepEqual(pickDigits([2, 0, 0, 1, 2, 1, 0], 3, 2), [1, 3, 0, 2, 5, 4]);
    assert.deepEqual(pickDigits([0, 0, 0], 3, 2), [0, 1]);
    assert.deepEqual(pickDigits([1, 0], 2, 0), []);
  });
});

describe('defaultTestData', () => {
  test('follows the training data named in the metadata, else MNIST for 784 inputs', () => {
    assert.equal(defaultTestData('fashion-train', 784), 'fashion-test');
    assert.equal(defaultTestData('mnist-train', 784), 'mnist-test');
    assert.equal(defaultTestData(undefined, 784), 'mnist-test');
    assert.equal(defaultTestData(undefined, 5), null);
  });
});
