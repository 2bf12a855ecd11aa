/**
 * Fitted approximants.
 *
 * - `PolynomialApproximant`: degree ≤ 2 in monomial form, f̂(x)_o = α_o + Σ_i x_i β_io + xᵀ Γ_o x, with Γ kept
 *   factored (Γ_o = Σ_t C[o,t] · sym(D_{a_t} D_{b_t}ᵀ), D a few directions per hidden unit) so a batch costs
 *   O(n·r·d) instead of O(n·o·d²); dense Γ only on request.
 * - `HermiteApproximant`: any degree K, kept in the ridge/Hermite form the closed-form fit produces.
 */
import { InvalidArgumentError, ShapeError } from '../errors.js';
import { Matrix } from '../linalg/matrix.js';
import { matmul } from '../linalg/ops.js';
import { normalizedHermiteAll } from '../numerics/hermite.js';

/** Exact variance accounting under the input model (no sampling). */
export interface VarianceReport {
  /** Σ_o Var f_o under the input model. */
  readonly total: number;
  /** byDegree[k] = variance explained by the degree-k Hermite component (byDegree[0] = 0), k ≤ fitted degree. */
  readonly byDegree: Float64Array;
  /** Σ_k byDegree[k]: the variance the approximant explains. */
  readonly explained: number;
  /** Fraction of variance unexplained, E|f − f̂|² / Σ_o Var f_o. */
  readonly fvu: number;
  /** 1 − fvu. */
  readonly r2: number;
}

/** What was fitted and how; saved with the approximant. */
export interface FitInfo {
  readonly arch: 'mlp' | 'glu';
  readonly activation: string;
  readonly degree: number;
  /** Human-readable input model, e.g. "N(0, I_784)". */
  readonly inputModel: string;
  /** Which solver produced it, e.g. "closed-form (Hermite)", "normal equations". */
  readonly method: string;
  readonly variance?: VarianceReport;
}

/** Common surface of every approximant. */
export interface Approximant {
  readonly degree: number;
  readonly inputDim: number;
  readonly outputDim: number;
  readonly info: FitInfo;
  /** Evaluates the polynomial on a batch X [n, d], returning [n, o]. */
  predict(X: Matrix): Matrix;
}

/** A low-rank symmetric representation Γ_o = Σ_t C[o,t] · ½(D_a D_bᵀ + D_b D_aᵀ) with (a, b) = (termA[t], termB[t]). */
export interface FactoredGamma {
  readonly kind: 'factored';
  /** Directions D [r, d]. */
  readonly directions: Matrix;
  readonly termA: Int32Array;
  readonly termB: Int32Array;
  /** C [o, T]. */
  readonly coef: Matrix;
}

/** Γ stored densely: one symmetric d×d matrix per output. */
export interface DenseGamma {
  readonly kind: 'dense';
  readonly matrices: readonly Matrix[];
}

export type GammaRepresentation = FactoredGamma | DenseGamma;

export type Packing = 'tril' | 'triu';

function checkBatch(X: Matrix, d: number): void {
  if (X.cols !== d) throw new ShapeError(`inputs have ${X.cols} columns but the approximant takes ${d}`);
}

/** A polynomial of degree ≤ 2 in monomial form. */
export class PolynomialApproximant implements Approximant {
  readonly degree: 1 | 2;
  readonly inputDim: number;
  readonly outputDim: number;
  /** α [o] */
  readonly alpha: Float64Array;
  /** β [d, o] */
  readonly beta: Matrix;
  /** Γ (null for degree 1). */
  readonly gamma: GammaRepresentation | null;
  readonly info: FitInfo;

  constructor(alpha: Float64Array, beta: Matrix, gamma: GammaRepresentation | null, info: FitInfo) {
    if (beta.cols !== alpha.length) throw new ShapeError(`beta is ${beta.rows}×${beta.cols} but alpha has ${alpha.length} outputs`);
    if (gamma?.kind === 'factored') {
      const { directions, coef, termA, termB } = gamma;
      if (directions.cols !== beta.rows) throw new ShapeError('gamma directions do not match the input dimension');
      if (coef.rows !== alpha.length || coef.cols !== termA.length || termB.length !== termA.length) {
        throw new ShapeError('gamma coefficients do not match the outputs or terms');
      }
    } else if (gamma?.kind === 'dense') {
      if (gamma.matrices.length !== alpha.length) throw new ShapeError('one dense gamma matrix per output is needed');
      for (const G of gamma.matrices) {
        if (G.rows !== beta.rows || G.cols !== beta.rows) throw new ShapeError('dense gamma matrices must be d×d');
      }
    }
    this.degree = gamma === null ? 1 : 2;
    this.inputDim = beta.rows;
    this.outputDim = alpha.length;
    this.alpha = alpha;
    this.beta = beta;
    this.gamma = gamma;
    this.info = info;
  }

  /** Returns a copy with other metadata (e.g. after computing the variance report). */
  withInfo(info: FitInfo): PolynomialApproximant {
    return new PolynomialApproximant(this.alpha, this.beta, this.gamma, info);
  }

  /** The three parts of f̂(x) separately: constant α, linear xᵀβ and quadratic xᵀΓx, each [n, o]. */
  split(X: Matrix): { constant: Matrix; linear: Matrix; quadratic: Matrix } {
    checkBatch(X, this.inputDim);
    const n = X.rows;
    const o = this.outputDim;
    const constant = new Matrix(n, o);
    for (let i = 0; i < n; i++) constant.data.set(this.alpha, i * o);
    const linear = matmul(X, this.beta);
    const quadratic = this.quadraticPart(X);
    return { constant, linear, quadratic };
  }

  predict(X: Matrix): Matrix {
    const { constant, linear, quadratic } = this.split(X);
    const out = linear;
    const od = out.data;
    for (let i = 0; i < od.length; i++) od[i] = od[i]! + constant.data[i]! + quadratic.data[i]!;
    return out;
  }

  /** xᵀ Γ_o x for every row of X, [n, o]. */
  quadraticPart(X: Matrix): Matrix {
    const n = X.rows;
    const o = this.outputDim;
    const g = this.gamma;
    if (g === null) return new Matrix(n, o);
    if (g.kind === 'dense') {
      const out = new Matrix(n, o);
      g.matrices.forEach((G, c) => {
        const XG = matmul(X, G);
        for (let i = 0; i < n; i++) {
          let acc = 0;
          const off = i * X.cols;
          for (let j = 0; j < X.cols; j++) acc += XG.data[off + j]! * X.data[off + j]!;
          out.data[i * o + c] = acc;
        }
      });
      return out;
    }
    const P = matmul(X, g.directions, { transB: true });
    const r = g.directions.rows;
    const T = g.termA.length;
    const V = new Matrix(n, T);
    for (let i = 0; i < n; i++) {
      const prow = i * r;
      for (let t = 0; t < T; t++) V.data[i * T + t] = P.data[prow + g.termA[t]!]! * P.data[prow + g.termB[t]!]!;
    }
    return matmul(V, g.coef, { transB: true });
  }

  /** Bytes a dense Γ would take (o·d²·8). */
  denseGammaBytes(): number {
    return this.outputDim * this.inputDim * this.inputDim * 8;
  }

  /** The symmetric d×d matrix Γ_o for one output (zeros for degree 1). */
  gammaMatrix(o: number): Matrix {
    if (!Number.isInteger(o) || o < 0 || o >= this.outputDim) {
      throw new InvalidArgumentError(`output index ${o} is out of range [0, ${this.outputDim})`);
    }
    return this.gammaForDirection(oneHot(this.outputDim, o));
  }

  /** Σ_o e_o Γ_o for an output direction e [o] (e.g. one-hot for a class). */
  gammaForDirection(e: Float64Array): Matrix {
    if (e.length !== this.outputDim) throw new ShapeError(`direction has length ${e.length}, expected ${this.outputDim}`);
    const d = this.inputDim;
    const g = this.gamma;
    if (g === null) return new Matrix(d, d);
    if (g.kind === 'dense') {
      const out = new Matrix(d, d);
      g.matrices.forEach((G, c) => {
        const w = e[c]!;
        if (w === 0) return;
        for (let i = 0; i < d * d; i++) out.data[i]! += w * G.data[i]!;
      });
      return out;
    }
    const { directions: D, termA, termB, coef } = g;
    const T = termA.length;
    const w = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      let acc = 0;
      for (let c = 0; c < this.outputDim; c++) acc += e[c]! * coef.data[c * T + t]!;
      w[t] = acc;
    }
    // Γ = Dᵀ Y with Y[a] += w/2·D[b], Y[b] += w/2·D[a]: one r×d×d product instead of T outer products.
    const Y = new Matrix(D.rows, d);
    for (let t = 0; t < T; t++) {
      const a = termA[t]!;
      const b = termB[t]!;
      const half = 0.5 * w[t]!;
      if (half === 0) continue;
      for (let j = 0; j < d; j++) {
        Y.data[a * d + j]! += half * D.data[b * d + j]!;
        Y.data[b * d + j]! += half * D.data[a * d + j]!;
      }
    }
    return matmul(D, Y, { transA: true });
  }

  /** Dense Γ for every output. Refuses when it would exceed `maxBytes` (default 2 GiB). */
  gammaDense(maxBytes = 2 ** 31): Matrix[] {
    if (this.denseGammaBytes() > maxBytes) {
      throw new InvalidArgumentError(
        `dense gamma would take ${(this.denseGammaBytes() / 2 ** 30).toFixed(2)} GiB (${this.outputDim}×${this.inputDim}×${this.inputDim} doubles); use the factored form`,
      );
    }
    const out: Matrix[] = [];
    for (let o = 0; o < this.outputDim; o++) out.push(this.gammaMatrix(o));
    return out;
  }

  /**
   * Γ packed like the reference implementation: for each output the coefficients of the monomials x_i x_j over
   * the lower ('tril': (0,0),(1,0),(1,1),(2,0),…) or upper ('triu': (0,0),(0,1),…,(0,d−1),(1,1),…) triangle.
   * The coefficient of x_i x_j (i ≠ j) is 2Γ_ij; of x_i² it is Γ_ii. Returns [o, d(d+1)/2].
   */
  gammaPacked(packing: Packing): Matrix {
    const d = this.inputDim;
    const P = (d * (d + 1)) / 2;
    const out = new Matrix(this.outputDim, P);
    for (let o = 0; o < this.outputDim; o++) {
      const G = this.gammaMatrix(o).data;
      let p = 0;
      if (packing === 'tril') {
        for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) out.data[o * P + p++] = (i === j ? 1 : 2) * G[i * d + j]!;
      } else {
        for (let i = 0; i < d; i++) for (let j = i; j < d; j++) out.data[o * P + p++] = (i === j ? 1 : 2) * G[i * d + j]!;
      }
    }
    return out;
  }

  /**
   * Drops Γ, keeping this fit's α and β. Note: this is what the reference's `to_linear()` does, and it is NOT the
   * least-squares linear approximant — its intercept differs by tr(ΓΣ) + μᵀΓμ, and β by 2Γμ when μ ≠ 0. Fit
   * degree 1 for the optimal linear approximant.
   */
  toLinear(): PolynomialApproximant {
    return new PolynomialApproximant(this.alpha, this.beta, null, { ...this.info, degree: 1, method: `${this.info.method}, quadratic term dropped` });
  }
}

function oneHot(n: number, i: number): Float64Array {
  const e = new Float64Array(n);
  e[i] = 1;
  return e;
}

/** Ridge form of an MLP approximant: f̂(x) = b2 + W2 · [Σ_k c_jk ĥe_k((w_j·x + b1_j − m_j)/s_j)]_j. */
export interface MlpHermiteParams {
  readonly arch: 'mlp';
  readonly W1: Matrix;
  readonly b1: Float64Array;
  readonly m: Float64Array;
  readonly s: Float64Array;
  /** [h, K+1] */
  readonly coeffs: Matrix;
  readonly W2: Matrix;
  readonly b2: Float64Array;
}

/**
 * Ridge form of a GLU approximant: unit i ≈ R_i(p_i) + ε_i·Q_i(p_i) with p_i = (y_i − m_y,i)/s_y,i,
 * ε_i = z_i − m_z,i − (s_z ρ)_i p_i, R_i = Σ_{k≤K} r_ik ĥe_k, Q_i = Σ_{k<K} q_ik ĥe_k.
 */
export interface GluHermiteParams {
  readonly arch: 'glu';
  readonly W_gate: Matrix;
  readonly b_gate: Float64Array;
  readonly W_up: Matrix;
  readonly b_up: Float64Array;
  readonly my: Float64Array;
  readonly sy: Float64Array;
  readonly mz: Float64Array;
  /** (s_z ρ)_i = Cov(y_i, z_i)/s_y,i */
  readonly szRho: Float64Array;
  /** [h, K+1] */
  readonly r: Matrix;
  /** [h, K] */
  readonly q: Matrix;
  readonly W_out: Matrix;
  readonly b_out: Float64Array;
}

export type HermiteParams = MlpHermiteParams | GluHermiteParams;

/** An approximant of any degree in ridge/Hermite form. */
export class HermiteApproximant implements Approximant {
  readonly degree: number;
  readonly inputDim: number;
  readonly outputDim: number;
  readonly params: HermiteParams;
  readonly info: FitInfo;

  constructor(params: HermiteParams, info: FitInfo) {
    this.params = params;
    this.info = info;
    if (params.arch === 'mlp') {
      this.degree = params.coeffs.cols - 1;
      this.inputDim = params.W1.cols;
      this.outputDim = params.W2.rows;
    } else {
      this.degree = params.r.cols - 1;
      this.inputDim = params.W_gate.cols;
      this.outputDim = params.W_out.rows;
    }
  }

  withInfo(info: FitInfo): HermiteApproximant {
    return new HermiteApproximant(this.params, info);
  }

  /** Evaluates the hidden-unit projections [n, h] (before the output layer). */
  hidden(X: Matrix): Matrix {
    checkBatch(X, this.inputDim);
    const K = this.degree;
    const basis = new Float64Array(K + 1);
    const p = this.params;
    if (p.arch === 'mlp') {
      const U = matmul(X, p.W1, { transB: true });
      const h = p.W1.rows;
      const C = p.coeffs.data;
      for (let i = 0; i < X.rows; i++) {
        for (let j = 0; j < h; j++) {
          const idx = i * h + j;
          const s = p.s[j]!;
          const t = s > 0 ? (U.data[idx]! + p.b1[j]! - p.m[j]!) / s : 0;
          normalizedHermiteAll(K, t, basis);
          let acc = 0;
          for (let k = 0; k <= K; k++) acc += C[j * (K + 1) + k]! * basis[k]!;
          U.data[idx] = acc;
        }
      }
      return U;
    }
    const Y = matmul(X, p.W_gate, { transB: true });
    const Z = matmul(X, p.W_up, { transB: true });
    const h = p.W_gate.rows;
    const R = p.r.data;
    const Q = p.q.data;
    for (let i = 0; i < X.rows; i++) {
      for (let j = 0; j < h; j++) {
        const idx = i * h + j;
        const sy = p.sy[j]!;
        const t = sy > 0 ? (Y.data[idx]! + p.b_gate[j]! - p.my[j]!) / sy : 0;
        const eps = Z.data[idx]! + p.b_up[j]! - p.mz[j]! - p.szRho[j]! * t;
        normalizedHermiteAll(K, t, basis);
        let acc = 0;
        for (let k = 0; k <= K; k++) acc += R[j * (K + 1) + k]! * basis[k]!;
        let accQ = 0;
        for (let k = 0; k < K; k++) accQ += Q[j * K + k]! * basis[k]!;
        Y.data[idx] = acc + eps * accQ;
      }
    }
    return Y;
  }

  predict(X: Matrix): Matrix {
    const H = this.hidden(X);
    const p = this.params;
    const W = p.arch === 'mlp' ? p.W2 : p.W_out;
    const b = p.arch === 'mlp' ? p.b2 : p.b_out;
    const out = matmul(H, W, { transB: true });
    const o = this.outputDim;
    for (let i = 0; i < X.rows; i++) for (let c = 0; c < o; c++) out.data[i * o + c]! += b[c]!;
    return out;
  }
}
