/**
 * Independent routes agree: closed form ≡ master theorem + normal equations; the Hermite form ≡ the monomial form
 * at degrees 1–2; the bilinear GLU is exact at degree 2; analytic FVU ≡ Monte Carlo FVU; the variance series ≡
 * its quadrature fallback; singular covariances work; bad input raises typed errors.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../../src/linalg/matrix.js';
import { Rng } from '../../src/numerics/random.js';
import { createMLP, type Network } from '../../src/approx/network.js';
import { Gaussian, GaussianMixture } from '../../src/approx/inputModel.js';
import {
  explainedVariance, fitByMasterTheorem, fitHermiteGaussian, fitLinear, fitQuadratic, fitQuadraticMixtureDense,
} from '../../src/approx/fit/index.js';
import { gaussianVarianceReport } from '../../src/approx/variance.js';
import { monteCarloFvu } from '../../src/approx/monteCarlo.js';
import type { PolynomialApproximant } from '../../src/approx/result.js';
import { InvalidArgumentError, NonFiniteError, NotPositiveDefiniteError, ShapeError } from '../../src/errors.js';
import { relErr } from './golden.js';
import { randGaussian as sharedRandGaussian, randGlu as glu, randMatrix, randMlp as mlp } from '../random.js';

const randGaussian = (rng: Rng, d: number, rank = d): Gaussian => sharedRandGaussian(rng, d, { rank });

/** Max coefficient difference relative to the largest coefficient of b (α, β and Γ together). */
function samePolynomial(a: PolynomialApproximant, b: PolynomialApproximant, tol: number, what: string): void {
  const all = (p: PolynomialApproximant) => {
    const parts = [Array.from(p.alpha), Array.from(p.beta.data)];
    for (let o = 0; o < p.outputDim; o++) parts.push(Array.from(p.gammaMatrix(o).data));
    return parts.flat();
  };
  const e = relErr(all(a), all(b));
  assert.ok(e < tol, `${what}: relative coefficient difference ${e}`);
}

const CLOSED = ['identity', 'relu', 'leaky_relu(0.2)', 'jumprelu(0.3)', 'gelu'];
const QUAD = ['sigmoid', 'silu', 'tanh', 'softplus', 'gelu_tanh'];

describe('closed form ≡ master theorem route', () => {
  for (const act of [...CLOSED, ...QUAD]) {
    const tol = 1e-12;
    test(`MLP ${act}, degree 1 and 2, general Gaussian (${tol})`, () => {
      const rng = new Rng(act.length * 31);
      const net = mlp(rng, 4, 6, 2, act);
      const g = randGaussian(rng, 4);
      samePolynomial(fitLinear(net, g), fitByMasterTheorem(net, g, 1), tol, 'linear');
      samePolynomial(fitQuadratic(net, g), fitByMasterTheorem(net, g, 2), tol, 'quadratic');
    });
    test(`GLU ${act}, degree 1 and 2, general Gaussian (${tol})`, () => {
      const rng = new Rng(act.length * 37);
      const net = glu(rng, 3, 4, 2, act);
      const g = randGaussian(rng, 3);
      samePolynomial(fitLinear(net, g), fitByMasterTheorem(net, g, 1), tol, 'linear');
      samePolynomial(fitQuadratic(net, g), fitByMasterTheorem(net, g, 2), tol, 'quadratic');
    });
  }
});

test('Hermite form at degrees 1 and 2 equals the monomial form (MLP and GLU)', () => {
  const rng = new Rng(5);
  for (const net of [mlp(rng, 3, 5, 2, 'gelu'), glu(rng, 3, 4, 2, 'silu')]) {
    const g = randGaussian(rng, 3);
    const X = g.sample(50, rng);
    for (const K of [1, 2]) {
      const mono = K === 1 ? fitLinear(net, g) : fitQuadratic(net, g);
      const herm = fitHermiteGaussian(net, g, K);
      const e = relErr(herm.predict(X).data, mono.predict(X).data);
      assert.ok(e < 1e-12, `${net.arch} degree ${K}: ${e}`);
    }
  }
});

test('the quadratic fit under a single Gaussian equals the dense normal equations of a one-component mixture', () => {
  const rng = new Rng(9);
  const net = mlp(rng, 4, 6, 2, 'tanh');
  const g = randGaussian(rng, 4);
  samePolynomial(fitQuadratic(net, g), fitQuadraticMixtureDense(net, new GaussianMixture(Float64Array.of(1), [g])), 1e-10, 'dense');
});

test('bilinear GLU: the quadratic approximant is exact (FVU = 0) and reproduces the network', () => {
  const rng = new Rng(11);
  const net = glu(rng, 4, 5, 3, 'identity');
  const g = randGaussian(rng, 4);
  const quad = fitQuadratic(net, g, { variance: true });
  assert.ok(quad.info.variance!.fvu < 1e-12, `fvu ${quad.info.variance!.fvu}`);
  const mc = monteCarloFvu(net, quad, g, 2000, { seed: 1 });
  assert.ok(mc.fvu < 1e-20, `sampled fvu ${mc.fvu}`);
});

describe('analytic FVU ≡ Monte Carlo FVU (within 4 standard errors)', () => {
  const cases: [string, (r: Rng) => Network][] = [
    ['MLP relu', (r) => mlp(r, 5, 12, 3, 'relu')],
    ['MLP gelu', (r) => mlp(r, 5, 12, 3, 'gelu')],
    ['MLP sigmoid', (r) => mlp(r, 5, 8, 2, 'sigmoid')],
    ['MLP tanh', (r) => mlp(r, 5, 8, 2, 'tanh')],
    ['GLU silu', (r) => glu(r, 4, 6, 2, 'silu')],
    ['GLU relu', (r) => glu(r, 4, 6, 2, 'relu')],
  ];
  cases.forEach(([name, make], idx) => {
    for (const K of [1, 2, 3]) {
      test(`${name}, degree ${K}`, () => {
        const rng = new Rng(200 + idx);
        const net = make(rng);
        const g = randGaussian(rng, net.arch === 'mlp' ? 5 : 4);
        const report = explainedVariance(net, g, K);
        const approx = K <= 2 ? (K === 1 ? fitLinear(net, g) : fitQuadratic(net, g)) : fitHermiteGaussian(net, g, K);
        const mc = monteCarloFvu(net, approx, g, 100000, { seed: 300 + idx * 7 + K });
        assert.ok(Math.abs(report.fvu - mc.fvu) < 4 * mc.se, `analytic ${report.fvu} vs MC ${mc.fvu} ± ${mc.se}`);
        // Explained variance is monotone in the degree.
        if (K > 1) assert.ok(report.fvu <= explainedVariance(net, g, K - 1).fvu + 1e-15);
      });
    }
  });
  test('weighted mixture, degrees 1 and 2', () => {
    const rng = new Rng(21);
    const net = mlp(rng, 3, 6, 2, 'silu');
    const mix = new GaussianMixture(Float64Array.from([0.6, 0.4]), [randGaussian(rng, 3), randGaussian(rng, 3)]);
    for (const K of [1, 2]) {
      const report = explainedVariance(net, mix, K);
      const approx = K === 1 ? fitLinear(net, mix) : fitQuadratic(net, mix);
      const mc = monteCarloFvu(net, approx, mix, 100000, { seed: 40 + K });
      assert.ok(Math.abs(report.fvu - mc.fvu) < 4 * mc.se, `degree ${K}: analytic ${report.fvu} vs MC ${mc.fvu} ± ${mc.se}`);
    }
  });
});

test('variance series ≡ exact pairwise quadrature (forcing the fallback with a low maximum order)', () => {
  const rng = new Rng(31);
  for (const net of [mlp(rng, 3, 6, 2, 'relu'), mlp(rng, 3, 6, 2, 'sigmoid'), glu(rng, 3, 4, 2, 'gelu')]) {
    const g = randGaussian(rng, 3);
    const series = gaussianVarianceReport(net, g, 2);
    const diag = { pairs: 0, seriesTerms: 0, quadraturePairs: 0 };
    const quad = gaussianVarianceReport(net, g, 2, { maxOrder: 3 }, diag);
    assert.ok(diag.quadraturePairs > 0, 'fallback was exercised');
    assert.ok(Math.abs(series.total - quad.total) < 1e-9 * series.total, `${net.arch} ${net.activation.name}: ${series.total} vs ${quad.total}`);
  }
});

test('duplicated hidden units (correlation exactly 1) are handled', () => {
  const rng = new Rng(41);
  const W1 = randMatrix(rng, 3, 4, 0.5);
  const dup = new Matrix(4, 4);
  dup.data.set(W1.data, 0);
  dup.data.set(W1.data.subarray(0, 4), 12); // unit 3 = unit 0
  const net = createMLP({ W1: dup, b1: Float64Array.from([0.1, 0, -0.2, 0.1]), W2: randMatrix(rng, 2, 4, 0.5), activation: 'relu' });
  const g = randGaussian(rng, 4);
  const report = explainedVariance(net, g, 2);
  const mc = monteCarloFvu(net, fitQuadratic(net, g), g, 100000, { seed: 3 });
  assert.ok(Math.abs(report.fvu - mc.fvu) < 4 * mc.se, `analytic ${report.fvu} vs MC ${mc.fvu} ± ${mc.se}`);
});

test('a singular covariance (constant coordinates) works for every fit and the variance report', () => {
  const rng = new Rng(51);
  const net = mlp(rng, 5, 7, 2, 'gelu');
  const g = randGaussian(rng, 5, 3);
  const quad = fitQuadratic(net, g, { variance: true });
  assert.ok(Number.isFinite(quad.info.variance!.fvu));
  const mc = monteCarloFvu(net, quad, g, 100000, { seed: 5 });
  assert.ok(Math.abs(quad.info.variance!.fvu - mc.fvu) < 4 * mc.se, `analytic ${quad.info.variance!.fvu} vs MC ${mc.fvu} ± ${mc.se}`);
  const lin = fitLinear(net, new GaussianMixture(Float64Array.from([0.5, 0.5]), [g, randGaussian(rng, 5, 2)]));
  assert.ok(lin.beta.data.every(Number.isFinite));
});

describe('bad input raises typed errors', () => {
  const rng = new Rng(61);
  const W1 = randMatrix(rng, 3, 2, 1);
  const W2 = randMatrix(rng, 1, 3, 1);
  test('shape mismatches', () => {
    assert.throws(() => createMLP({ W1, W2: randMatrix(rng, 1, 4, 1), activation: 'relu' }), ShapeError);
    assert.throws(() => createMLP({ W1, W2, b1: new Float64Array(2), activation: 'relu' }), /b1/);
    const net = createMLP({ W1, W2, activation: 'relu' });
    assert.throws(() => fitLinear(net, Gaussian.standard(3)), InvalidArgumentError);
  });
  test('NaN weights', () => {
    const bad = W1.clone();
    bad.data[2] = Number.NaN;
    assert.throws(() => createMLP({ W1: bad, W2, activation: 'relu' }), NonFiniteError);
  });
  test('unknown activation', () => {
    assert.throws(() => createMLP({ W1, W2, activation: 'swoosh' }), InvalidArgumentError);
  });
  test('covariances that are not PSD, not symmetric, or have negative variances', () => {
    assert.throws(() => new Gaussian(new Float64Array(2), Matrix.fromRows([[1, 2], [2, 1]])), NotPositiveDefiniteError);
    assert.throws(() => new Gaussian(new Float64Array(2), Matrix.fromRows([[1, 0.5], [0.1, 1]])), /symmetric/);
    assert.throws(() => new Gaussian(new Float64Array(2), Matrix.fromRows([[-1, 0], [0, 1]])), /negative variance/);
    assert.throws(() => new Gaussian(Float64Array.of(0, Number.POSITIVE_INFINITY)), NonFiniteError);
  });
  test('mixture weights that do not sum to 1', () => {
    const g = Gaussian.standard(2);
    assert.throws(() => new GaussianMixture(Float64Array.from([0.5, 0.6]), [g, g]), /sum to 1/);
    assert.throws(() => new GaussianMixture(Float64Array.from([1.5, -0.5]), [g, g]), /negative/);
  });
  test('degree must be a positive integer', () => {
    const net = createMLP({ W1, W2, activation: 'relu' });
    assert.throws(() => fitHermiteGaussian(net, Gaussian.standard(2), 0), InvalidArgumentError);
  });
});
