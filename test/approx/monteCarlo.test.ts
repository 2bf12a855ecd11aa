/**
 * Closed-form fits against Monte Carlo least squares (tolerance: 5 sandwich standard errors, fixed seeds), for
 * MLPs and GLUs, every activation family, single Gaussians (degree 1–3) and a weighted mixture (degree 1–2).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../../src/linalg/matrix.js';
import { Rng } from '../../src/numerics/random.js';
import { forward, type Network } from '../../src/approx/network.js';
import { Gaussian, GaussianMixture, type InputModel } from '../../src/approx/inputModel.js';
import { fit } from '../../src/approx/fit/index.js';
import { featureMatrix, monomials, olsWithSandwich } from './ols.js';
import { randGaussian as sharedRandGaussian, randGlu, randMlp } from '../random.js';

/** Covariances with 0.2·I added, and unit-scale input weights (large preactivations). */
const randGaussian = (rng: Rng, d: number): Gaussian => sharedRandGaussian(rng, d, { jitter: 0.2 });
const mlp = (rng: Rng, d: number, h: number, o: number, act: string): Network => randMlp(rng, d, h, o, act, 1);
const glu = (rng: Rng, d: number, h: number, o: number, act: string): Network => randGlu(rng, d, h, o, act, 1);

/** The fitted polynomial's monomial coefficients, obtained by fitting it exactly (it is a polynomial). */
function coefficientsOf(net: Network, input: InputModel, K: number, exps: number[][], rng: Rng): Matrix {
  const approx = fit(net, input, K);
  // Evaluate the approximant on enough points to determine its monomial coefficients exactly by least squares.
  const X = input.sample(exps.length * 4, rng);
  return olsWithSandwich(featureMatrix(X, exps), approx.predict(X)).coef;
}

function check(net: Network, input: InputModel, K: number, seed: number, n = 60000): void {
  const rng = new Rng(seed);
  const d = input.dim;
  const exps = monomials(d, K);
  const X = input.sample(n, rng);
  const { coef, se } = olsWithSandwich(featureMatrix(X, exps), forward(net, X));
  const mine = coefficientsOf(net, input, K, exps, rng);
  let worst = 0;
  for (let i = 0; i < coef.data.length; i++) {
    const z = Math.abs(mine.data[i]! - coef.data[i]!) / se.data[i]!;
    worst = Math.max(worst, z);
  }
  assert.ok(worst < 5, `worst coefficient deviation ${worst.toFixed(2)} standard errors`);
}

describe('closed forms vs Monte Carlo least squares', () => {
  const cases: [string, (r: Rng) => Network, number][] = [
    ['MLP relu', (r) => mlp(r, 2, 5, 2, 'relu'), 3],
    ['MLP gelu', (r) => mlp(r, 2, 5, 2, 'gelu'), 3],
    ['MLP tanh', (r) => mlp(r, 2, 5, 2, 'tanh'), 3],
    ['MLP sigmoid', (r) => mlp(r, 2, 4, 1, 'sigmoid'), 2],
    ['MLP softplus', (r) => mlp(r, 2, 4, 1, 'softplus'), 2],
    ['MLP leaky_relu(0.1)', (r) => mlp(r, 2, 4, 1, 'leaky_relu(0.1)'), 2],
    ['MLP jumprelu(0.5)', (r) => mlp(r, 2, 4, 1, 'jumprelu(0.5)'), 2],
    ['GLU silu', (r) => glu(r, 2, 4, 2, 'silu'), 3],
    ['GLU sigmoid', (r) => glu(r, 2, 4, 1, 'sigmoid'), 2],
    ['GLU relu', (r) => glu(r, 2, 4, 1, 'relu'), 2],
  ];
  cases.forEach(([name, make, Kmax], idx) => {
    for (let K = 1; K <= Kmax; K++) {
      test(`${name}, degree ${K}, general Gaussian`, () => {
        const rng = new Rng(100 + idx);
        const net = make(rng);
        check(net, randGaussian(rng, 2), K, 1000 + 10 * idx + K);
      });
    }
  });
  for (const K of [1, 2] as const) {
    test(`MLP silu, weighted 3-component mixture, degree ${K}`, () => {
      const rng = new Rng(7);
      const net = mlp(rng, 2, 5, 2, 'silu');
      const mix = new GaussianMixture(Float64Array.from([0.5, 0.3, 0.2]), [randGaussian(rng, 2), randGaussian(rng, 2), randGaussian(rng, 2)]);
      check(net, mix, K, 77 + K);
    });
    test(`GLU gelu, weighted mixture, degree ${K}`, () => {
      const rng = new Rng(8);
      const net = glu(rng, 2, 3, 1, 'gelu');
      const mix = new GaussianMixture(Float64Array.from([0.7, 0.3]), [randGaussian(rng, 2), randGaussian(rng, 2)]);
      check(net, mix, K, 88 + K);
    });
  }
});
