import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Matrix } from '../../src/linalg/matrix.js';
import { Rng } from '../../src/numerics/random.js';
import {
  accuracy, accuracyEstimate, agreementEstimate, argmaxRows, fvu, klDivergence, klEstimate, klPerSample, logSoftmaxRows,
  meanEstimate, ratioOfMeans,
} from '../../src/analysis/metrics.js';
import { InvalidArgumentError, NonFiniteError, ShapeError } from '../../src/errors.js';

const M = (rows: number[][]): Matrix => Matrix.fromRows(rows);

/** The reference experiments' pooled FVU written out directly: torch.var(P − Q, unbiased=False) / torch.var(P, unbiased=False). */
function pooledDirect(P: Matrix, Q: Matrix): number {
  const varFlat = (x: number[]): number => {
    const m = x.reduce((a, b) => a + b, 0) / x.length;
    return x.reduce((a, b) => a + (b - m) ** 2, 0) / x.length;
  };
  return varFlat(Array.from(P.data, (v, i) => v - Q.data[i]!)) / varFlat(Array.from(P.data));
}

const close = (a: number, b: number, tol: number, what = ''): void => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

describe('accuracy', () => {
  test('hand-computed values and the binomial standard error', () => {
    const logits = M([[1, 2, 0], [3, 1, 1], [0, 0, 5], [0.5, 0.4, 0.1]]);
    assert.deepEqual(Array.from(argmaxRows(logits)), [1, 0, 2, 0]);
    const e = accuracyEstimate(logits, [1, 0, 0, 2]);
    assert.equal(e.value, 0.5);
    close(e.se!, Math.sqrt(0.25 / 4), 1e-15);
    assert.equal(accuracy(logits, Uint8Array.from([1, 0, 2, 0])), 1);
  });

  test('ties go to the first index (torch.argmax)', () => {
    assert.deepEqual(Array.from(argmaxRows(M([[2, 2, 1], [0, 1, 1]]))), [0, 1]);
  });

  test('agreement is the accuracy against the network\'s own argmax', () => {
    const net = M([[1, 0], [0, 1], [1, 0]]);
    const approx = M([[2, 1], [3, 1], [0, 4]]);
    assert.equal(agreementEstimate(net, approx).value, 1 / 3);
  });

  test('rejects bad labels and logits', () => {
    const l = M([[1, 2], [3, 4]]);
    assert.throws(() => accuracy(l, [0]), ShapeError);
    assert.throws(() => accuracy(l, [0, 2]), InvalidArgumentError);
    assert.throws(() => accuracy(l, [0, 0.5]), InvalidArgumentError);
    assert.throws(() => accuracy(M([[NaN, 1]]), [0]), NonFiniteError);
  });
});

describe('KL divergence', () => {
  test('hand-computed: softmax(0,0) vs softmax(0, ln 3)', () => {
    const p = M([[0, 0], [5, 5]]);
    const q = M([[0, Math.log(3)], [0, 0]]);
    const row0 = 0.5 * Math.log(0.5 / 0.25) + 0.5 * Math.log(0.5 / 0.75);
    const per = klPerSample(p, q);
    close(per[0]!, row0, 1e-15);
    close(per[1]!, 0, 1e-15);
    close(klDivergence(p, q), row0 / 2, 1e-15);
    const e = klEstimate(p, q);
    close(e.se!, Math.abs(row0) / 2, 1e-15); // sd of {row0, 0} / √2 = |row0|/√2/√2
  });

  test('identical logits, and logits shifted per row, give exactly 0', () => {
    const p = M([[1, -2, 3], [1000, 999, -1000], [-745, 0, 745]]);
    assert.equal(klDivergence(p, p), 0);
    const shifted = M([[11, 8, 13], [1e3 - 7, 992, -1007], [-740, 5, 750]]);
    close(klDivergence(p, shifted), 0, 1e-12);
  });

  test('huge logits do not overflow; log-softmax rows exponentiate to 1', () => {
    const ls = logSoftmaxRows(M([[1e308, 0], [-1e308, 0], [710, 709]]));
    for (let i = 0; i < 3; i++) close(Math.exp(ls.data[2 * i]!) + Math.exp(ls.data[2 * i + 1]!), 1, 1e-15, `row ${i}`);
    assert.ok(Number.isFinite(klDivergence(M([[800, 0]]), M([[0, 800]]))));
    close(klDivergence(M([[800, 0]]), M([[0, 800]])), 800, 1e-9); // p ≈ (1, 0): log p₀ − log q₀ = 0 − (−800)
  });

  test('non-negative and invariant to per-row shifts of either argument (property)', () => {
    const row = fc.array(fc.double({ min: -30, max: 30, noNaN: true }), { minLength: 4, maxLength: 4 });
    fc.assert(fc.property(row, row, fc.double({ min: -50, max: 50, noNaN: true }), (a, b, s) => {
      const p = M([a]);
      const q = M([b]);
      const kl = klDivergence(p, q);
      assert.ok(kl >= 0);
      close(klDivergence(M([a.map((v) => v + s)]), q), kl, 1e-9 * (1 + kl));
    }));
  });

  test('shape mismatch is an error', () => {
    assert.throws(() => klDivergence(M([[1, 2]]), M([[1, 2, 3]])), ShapeError);
  });
});

describe('FVU', () => {
  const f = M([[1, 0], [3, 2]]);

  test('standard: hand-computed value, f̂ = f gives 0, f̂ = per-output mean gives exactly 1', () => {
    close(fvu(f, M([[1, 1], [2, 2]])).value, 0.5, 1e-15);
    assert.equal(fvu(f, f).value, 0);
    const rng = new Rng(1);
    const F = new Matrix(50, 3, rng.fillNormal(new Float64Array(150)));
    const mean = [0, 1, 2].map((c) => Array.from({ length: 50 }, (_, i) => F.data[i * 3 + c]!).reduce((a, b) => a + b) / 50);
    const Fbar = new Matrix(50, 3, Float64Array.from({ length: 150 }, (_, k) => mean[k % 3]!));
    close(fvu(F, Fbar).value, 1, 1e-14);
  });

  test('pooled: matches var(P − Q)/var(P) over flattened entries; a common constant is free, per-output offsets are not', () => {
    const rng = new Rng(2);
    const P = new Matrix(40, 4, rng.fillNormal(new Float64Array(160)));
    const Q = new Matrix(40, 4, Float64Array.from(P.data, (v) => 0.8 * v + 0.3 * rng.normal()));
    close(fvu(P, Q, 'pooled').value, pooledDirect(P, Q), 1e-13);
    const shifted = new Matrix(40, 4, Float64Array.from(P.data, (v) => v + 7.5));
    close(fvu(P, shifted, 'pooled').value, 0, 1e-15);
    assert.ok(fvu(P, shifted, 'standard').value > 1, 'the standard FVU counts a constant offset');
    // Hand-computed: f = [[1,0],[3,2]], f̂ = f + [1,−1]: var(d) = 1, var(f) = 1.25.
    const offset = M([[2, -1], [4, 1]]);
    close(fvu(f, offset, 'pooled').value, 0.8, 1e-15);
    assert.ok(fvu(P, new Matrix(40, 4, Float64Array.from(P.data, (v, k) => v + (k % 4) * 0.1)), 'pooled').value > 0);
  });

  test('the standard errors match the spread of estimates over independent batches', () => {
    const rng = new Rng(7);
    const n = 200, o = 3, reps = 300;
    const est: Record<string, number[]> = { standard: [], pooled: [], kl: [] };
    const ses: Record<string, number[]> = { standard: [], pooled: [], kl: [] };
    for (let r = 0; r < reps; r++) {
      const X = rng.fillNormal(new Float64Array(n));
      const P = new Matrix(n, o, Float64Array.from({ length: n * o }, (_, k) => Math.abs(X[Math.floor(k / o)]!) * (k % o) + X[Math.floor(k / o)]! + 0.3 * rng.normal()));
      const Q = new Matrix(n, o, Float64Array.from({ length: n * o }, (_, k) => 0.7 * X[Math.floor(k / o)]! * (1 + (k % o)) + (k % o) * 0.5));
      for (const v of ['standard', 'pooled'] as const) {
        const e = fvu(P, Q, v);
        est[v]!.push(e.value);
        ses[v]!.push(e.se!);
      }
      const k = klEstimate(P, Q);
      est.kl!.push(k.value);
      ses.kl!.push(k.se!);
    }
    for (const key of Object.keys(est)) {
      const e = est[key]!;
      const m = e.reduce((a, b) => a + b) / reps;
      const sd = Math.sqrt(e.reduce((a, b) => a + (b - m) ** 2, 0) / (reps - 1));
      const rms = Math.sqrt(ses[key]!.reduce((a, b) => a + b * b, 0) / reps);
      // The sd of 300 draws is itself uncertain by ≈ 1/√(2·299) ≈ 4 %; allow 20 %.
      assert.ok(Math.abs(rms / sd - 1) < 0.2, `${key}: mean se ${rms} vs sd of estimates ${sd}`);
    }
  });

  test('degenerate and malformed inputs throw instead of returning NaN', () => {
    const constant = M([[1, 2], [1, 2], [1, 2]]);
    assert.throws(() => fvu(constant, M([[0, 0], [0, 0], [0, 0]])), InvalidArgumentError);
    assert.throws(() => fvu(M([[1, 1], [1, 1]]), M([[0, 0], [0, 0]]), 'pooled'), InvalidArgumentError);
    assert.throws(() => fvu(M([[1, 2]]), M([[1, 2]])), InvalidArgumentError);
    assert.throws(() => fvu(f, M([[1, 2]])), ShapeError);
    assert.throws(() => fvu(f, M([[1, NaN], [0, 0]])), NonFiniteError);
    assert.throws(() => fvu(f, f, 'other' as 'pooled'), InvalidArgumentError);
  });

  test('helpers: meanEstimate and ratioOfMeans', () => {
    assert.deepEqual(meanEstimate([3]), { value: 3, se: null });
    const e = meanEstimate([1, 2, 3, 4]);
    assert.equal(e.value, 2.5);
    close(e.se!, Math.sqrt(5 / 3 / 4), 1e-15);
    assert.throws(() => meanEstimate([]), InvalidArgumentError);
    const r = ratioOfMeans(Float64Array.from([1, 2]), Float64Array.from([2, 4]));
    assert.equal(r.value, 0.5);
    close(r.se!, 0, 1e-15); // num = den/2 exactly: no spread in the ratio
    assert.throws(() => ratioOfMeans(Float64Array.from([1]), Float64Array.from([0])), InvalidArgumentError);
  });
});
