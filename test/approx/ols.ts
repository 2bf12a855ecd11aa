/**
 * Monte Carlo least squares with heteroskedasticity-robust (sandwich) standard errors: the oracle for the closed
 * forms. The residual of a polynomial fit is a deterministic function of x, not independent noise, so the classical
 * σ²(XᵀX)⁻¹ would be wrong; the sandwich (XᵀX)⁻¹ Xᵀ diag(e²) X (XᵀX)⁻¹ is consistent.
 */
import { Matrix } from '../../src/linalg/matrix.js';
import { matmul, solveSPD } from '../../src/linalg/ops.js';

/** Monomial features of degree ≤ K in d variables: exponent vectors in graded lexicographic order. */
export function monomials(d: number, K: number): number[][] {
  const out: number[][] = [];
  const rec = (prefix: number[], left: number, total: number) => {
    if (prefix.length === d) {
      if (left === 0) out.push(prefix);
      return;
    }
    for (let e = left; e >= 0; e--) rec([...prefix, e], left - e, total);
  };
  for (let k = 0; k <= K; k++) rec([], k, k);
  return out;
}

export function featureMatrix(X: Matrix, exps: number[][]): Matrix {
  const n = X.rows, d = X.cols, F = exps.length;
  const out = new Matrix(n, F);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < F; f++) {
      let v = 1;
      for (let a = 0; a < d; a++) {
        const e = exps[f]![a]!;
        for (let t = 0; t < e; t++) v *= X.data[i * d + a]!;
      }
      out.data[i * F + f] = v;
    }
  }
  return out;
}

/** OLS of Y [n, o] on features Φ [n, F]: coefficients [F, o] and sandwich standard errors [F, o]. */
export function olsWithSandwich(Phi: Matrix, Y: Matrix): { coef: Matrix; se: Matrix } {
  const n = Phi.rows, F = Phi.cols, o = Y.cols;
  const G = matmul(Phi, Phi, { transA: true });
  const coef = solveSPD(G, matmul(Phi, Y, { transA: true }));
  const R = matmul(Phi, coef);
  const Ginv = solveSPD(G, Matrix.identity(F));
  const se = new Matrix(F, o);
  for (let c = 0; c < o; c++) {
    // Meat = Σ_i e_i² φ_i φ_iᵀ.
    const meat = new Matrix(F, F);
    for (let i = 0; i < n; i++) {
      const e = Y.data[i * o + c]! - R.data[i * o + c]!;
      const e2 = e * e;
      for (let a = 0; a < F; a++) {
        const pa = Phi.data[i * F + a]! * e2;
        for (let b = 0; b < F; b++) meat.data[a * F + b]! += pa * Phi.data[i * F + b]!;
      }
    }
    const V = matmul(matmul(Ginv, meat), Ginv);
    for (let f = 0; f < F; f++) se.data[f * o + c] = Math.sqrt(Math.max(0, V.data[f * F + f]!));
  }
  return { coef, se };
}
