/**
 * The slow, independent route to degree ≤ 2 approximants under a single Gaussian: dense normal equations whose
 * right-hand sides E[ψ(x) f(x)] come from the master theorem (method.md §2.2) — E[g(X) Y_1⋯Y_n] reduced to the
 * activation's univariate moments E[X^m g(X)] — instead of Stein's lemma. It shares nothing with the closed forms
 * but the activation tables, which is what makes it a useful oracle in the tests. Small d only.
 */
import { InvalidArgumentError, NotPositiveDefiniteError } from '../../errors.js';
import { Matrix } from '../../linalg/matrix.js';
import { cholesky, matmul, solve } from '../../linalg/ops.js';
import { masterTheorem, masterTheoremExpectation } from '../../numerics/masterTheorem.js';
import { Gaussian } from '../inputModel.js';
import { createGLU, createMLP, inputDim, outputDim, type Network } from '../network.js';
import { PolynomialApproximant } from '../result.js';
import {
  DEFAULT_MAX_DENSE_DIM, accumulateFeatureSecondMoments, featureCount, quadraticPairs, solveNormalEquations,
  unpackFeatureCoefficients,
} from './normalEquations.js';

/**
 * Degree-1 or degree-2 least-squares approximant under N(μ, Σ) through the master theorem.
 *
 * For a non-singular Σ the problem is first whitened (x = μ + L z, Σ = L Lᵀ): polynomials of degree ≤ 2 are
 * invariant under affine maps, and under N(0, I) the normal equations are exactly diagonal, so the oracle's own
 * rounding stays at the level of the moments instead of being amplified by the condition number of E[ψψᵀ].
 */
export function fitByMasterTheorem(net: Network, g: Gaussian, degree: 1 | 2): PolynomialApproximant {
  if (g.cov !== null) {
    let L: Matrix | null = null;
    try {
      L = cholesky(g.cov);
    } catch (e) {
      if (!(e instanceof NotPositiveDefiniteError)) throw e;
    }
    if (L !== null) return unwhiten(fitRaw(whiten(net, g.mean, L), Gaussian.standard(g.dim), degree), g, L);
  }
  return fitRaw(net, g, degree);
}

/** The network seen from whitened inputs z, x = μ + L z: first-layer weights W L, biases b + W μ. */
function whiten(net: Network, mu: Float64Array, L: Matrix): Network {
  const shift = (W: Matrix, b: Float64Array) => {
    const out = Float64Array.from(b);
    for (let i = 0; i < W.rows; i++) for (let j = 0; j < W.cols; j++) out[i]! += W.data[i * W.cols + j]! * mu[j]!;
    return out;
  };
  if (net.arch === 'mlp') {
    return createMLP({ W1: matmul(net.W1, L), b1: shift(net.W1, net.b1), W2: net.W2, b2: net.b2, activation: net.activation });
  }
  return createGLU({
    W_gate: matmul(net.W_gate, L), b_gate: shift(net.W_gate, net.b_gate), W_up: matmul(net.W_up, L), b_up: shift(net.W_up, net.b_up),
    W_out: net.W_out, b_out: net.b_out, activation: net.activation,
  });
}

/**
 * Maps a fit in z = L⁻¹(x − μ) back to x: Γ_x = L⁻ᵀ Γ_z L⁻¹, β_x = L⁻ᵀ β_z − 2 Γ_x μ,
 * α_x = α_z − μᵀ L⁻ᵀ β_z + μᵀ Γ_x μ.
 */
function unwhiten(fz: PolynomialApproximant, g: Gaussian, L: Matrix): PolynomialApproximant {
  const d = g.dim;
  const o = fz.outputDim;
  const mu = g.mean;
  const Linv = solve(L, Matrix.identity(d));
  const LinvT = Linv.transpose();
  const bz = matmul(LinvT, fz.beta); // L⁻ᵀ β_z [d, o]
  const gammas = fz.gamma === null ? null : Array.from({ length: o }, (_, c) => matmul(matmul(LinvT, fz.gammaMatrix(c)), Linv));
  const beta = bz.clone();
  const alpha = Float64Array.from(fz.alpha);
  for (let c = 0; c < o; c++) {
    for (let a = 0; a < d; a++) alpha[c]! -= mu[a]! * bz.data[a * o + c]!;
    if (gammas) {
      const G = gammas[c]!.data;
      for (let a = 0; a < d; a++) {
        let Gmu = 0;
        for (let b = 0; b < d; b++) Gmu += G[a * d + b]! * mu[b]!;
        beta.data[a * o + c]! -= 2 * Gmu;
        alpha[c]! += mu[a]! * Gmu;
      }
    }
  }
  return new PolynomialApproximant(alpha, beta, gammas ? { kind: 'dense', matrices: gammas } : null, { ...fz.info, inputModel: g.describe() });
}

function fitRaw(net: Network, g: Gaussian, degree: 1 | 2): PolynomialApproximant {
  const d = inputDim(net);
  if (d !== g.dim) throw new InvalidArgumentError(`the network takes ${d} inputs but the input model has dimension ${g.dim}`);
  if (d > DEFAULT_MAX_DENSE_DIM) throw new InvalidArgumentError(`the master-theorem route is for small d (≤ ${DEFAULT_MAX_DENSE_DIM}), got ${d}`);
  const o = outputDim(net);
  const F = featureCount(d, degree);
  const G = new Matrix(F, F);
  accumulateFeatureSecondMoments(G, g, degree, 1);
  const Eψ = G.data.slice(0, F);
  const mu = g.mean;
  const S = g.covariance();
  const Sd = S.data;
  const pairs = degree === 2 ? quadraticPairs(d) : new Int32Array(0);
  const P = pairs.length / 2;
  const act = net.activation;
  const h = net.arch === 'mlp' ? net.W1.rows : net.W_gate.rows;
  const Wout = net.arch === 'mlp' ? net.W2 : net.W_out;
  const bout = net.arch === 'mlp' ? net.b2 : net.b_out;
  // E[ψ · unit_j] for every unit, [F, h].
  const unitMoments = new Matrix(F, h);
  const Wg = net.arch === 'mlp' ? net.W1 : net.W_gate;
  const bg = net.arch === 'mlp' ? net.b1 : net.b_gate;
  for (let j = 0; j < h; j++) {
    // X = gate (or only) preactivation; Cov(X, x) = Σ w.
    const w = Wg.data.subarray(j * d, (j + 1) * d);
    const Sw = new Float64Array(d);
    for (let a = 0; a < d; a++) {
      let acc = 0;
      for (let b = 0; b < d; b++) acc += Sd[a * d + b]! * w[b]!;
      Sw[a] = acc;
    }
    let muX = bg[j]!;
    let varX = 0;
    for (let a = 0; a < d; a++) {
      muX += w[a]! * mu[a]!;
      varX += w[a]! * Sw[a]!;
    }
    varX = Math.max(0, varX);
    // Extra Gaussian factors multiplying g(X): none for an MLP, the up projection z for a GLU.
    const extraMean: number[] = [];
    const extraCovX: number[] = [];
    const extraCovx: Float64Array[] = [];
    const extraVar: number[] = [];
    if (net.arch === 'glu') {
      const u = net.W_up.data.subarray(j * d, (j + 1) * d);
      const Su = new Float64Array(d);
      for (let a = 0; a < d; a++) {
        let acc = 0;
        for (let b = 0; b < d; b++) acc += Sd[a * d + b]! * u[b]!;
        Su[a] = acc;
      }
      let mz = net.b_up[j]!;
      let vz = 0;
      let cxz = 0;
      for (let a = 0; a < d; a++) {
        mz += u[a]! * mu[a]!;
        vz += u[a]! * Su[a]!;
        cxz += w[a]! * Su[a]!;
      }
      extraMean.push(mz);
      extraVar.push(vz);
      extraCovX.push(cxz);
      extraCovx.push(Su);
    }
    const expect = (inputs: number[]): number => {
      // Y = (extra..., x_inputs...).
      const n = extraMean.length + inputs.length;
      const muY = new Float64Array(n);
      const covXY = new Float64Array(n);
      const covY = new Matrix(n, n);
      const means: number[] = [...extraMean, ...inputs.map((a) => mu[a]!)];
      const cx: number[] = [...extraCovX, ...inputs.map((a) => Sw[a]!)];
      // Cov between Y entries.
      const cov = (p: number, q: number): number => {
        const pe = p < extraMean.length, qe = q < extraMean.length;
        if (pe && qe) return extraVar[p]!;
        if (pe) return extraCovx[p]![inputs[q - extraMean.length]!]!;
        if (qe) return extraCovx[q]![inputs[p - extraMean.length]!]!;
        return Sd[inputs[p - extraMean.length]! * d + inputs[q - extraMean.length]!]!;
      };
      for (let p = 0; p < n; p++) {
        muY[p] = means[p]!;
        covXY[p] = cx[p]!;
        for (let q = 0; q < n; q++) covY.data[p * n + q] = cov(p, q);
      }
      const kappa = masterTheorem({ muX, varX, muY, covY, covXY });
      return masterTheoremExpectation(kappa, act.polyMoments(muX, Math.sqrt(varX), n));
    };
    unitMoments.data[0 * h + j] = expect([]);
    for (let a = 0; a < d; a++) unitMoments.data[(1 + a) * h + j] = expect([a]);
    for (let p = 0; p < P; p++) unitMoments.data[(1 + d + p) * h + j] = expect([pairs[2 * p]!, pairs[2 * p + 1]!]);
  }
  const R = new Matrix(F, o);
  for (let f = 0; f < F; f++) {
    for (let c = 0; c < o; c++) {
      let acc = bout[c]! * Eψ[f]!;
      for (let j = 0; j < h; j++) acc += Wout.data[c * h + j]! * unitMoments.data[f * h + j]!;
      R.data[f * o + c] = acc;
    }
  }
  const { alpha, beta, gamma } = unpackFeatureCoefficients(solveNormalEquations(G, R), d, degree);
  return new PolynomialApproximant(alpha, beta, gamma ? { kind: 'dense', matrices: gamma } : null, {
    arch: net.arch, activation: act.name, degree, inputModel: g.describe(), method: 'master theorem + normal equations',
  });
}
