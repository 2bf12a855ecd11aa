/**
 * Maximum-entropy input models: a Gaussian N(μ, Σ) and a finite Gaussian mixture Σ_k π_k N(μ_k, Σ_k).
 *
 * Σ may be singular (MNIST has constant border pixels): nothing in the engine inverts Σ for a single
 * Gaussian, so a singular covariance only means some directions carry no variance.
 */
import { InvalidArgumentError, NotPositiveDefiniteError, ShapeError } from '../errors.js';
import { Matrix, assertFinite } from '../linalg/matrix.js';
import { cholesky, eigh, matmul, sqrtPSD } from '../linalg/ops.js';
import { Rng } from '../numerics/random.js';

/** Options for validating a covariance matrix. */
export interface CovarianceCheckOptions {
  /**
   * Relative tolerance for symmetry and positive semi-definiteness: eigenvalues down to
   * −tol·max(λ_max, 1) are accepted as rounding. Default 1e-9.
   */
  tol?: number;
}

/**
 * Checks that `cov` is a finite, symmetric, positive semi-definite d×d matrix; throws a typed error naming
 * `what` otherwise. A Cholesky factorisation of Σ + δI (δ a tiny multiple of the largest diagonal entry)
 * decides quickly; only a matrix that fails it pays for an eigendecomposition, to report the eigenvalue.
 */
export function checkCovariance(cov: Matrix, d: number, what: string, opts: CovarianceCheckOptions = {}): void {
  const tol = opts.tol ?? 1e-9;
  if (cov.rows !== d || cov.cols !== d) throw new ShapeError(`${what} is ${cov.rows}×${cov.cols}, expected ${d}×${d}`);
  assertFinite(cov.data, what);
  let maxDiag = 0;
  for (let i = 0; i < d; i++) {
    const v = cov.data[i * d + i]!;
    if (v < 0) throw new NotPositiveDefiniteError(`${what} has a negative variance ${v} on its diagonal at index ${i}`);
    maxDiag = Math.max(maxDiag, v);
  }
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < i; j++) {
      const a = cov.data[i * d + j]!;
      const b = cov.data[j * d + i]!;
      if (Math.abs(a - b) > tol * Math.max(maxDiag, 1e-300)) {
        throw new InvalidArgumentError(`${what} is not symmetric: entry (${i},${j}) = ${a} but (${j},${i}) = ${b}`);
      }
    }
  }
  if (d === 0 || maxDiag === 0) return;
  const jittered = cov.clone();
  const delta = tol * maxDiag;
  for (let i = 0; i < d; i++) jittered.data[i * d + i]! += delta;
  try {
    cholesky(jittered);
    return;
  } catch (e) {
    if (!(e instanceof NotPositiveDefiniteError)) throw e;
  }
  const { values } = eigh(cov);
  const lmin = values[0]!;
  const lmax = values[values.length - 1]!;
  if (lmin < -tol * Math.max(lmax, 1)) {
    throw new NotPositiveDefiniteError(
      `${what} is not positive semi-definite: its smallest eigenvalue is ${lmin.toExponential(3)} (largest ${lmax.toExponential(3)})`,
    );
  }
}

/**
 * A Gaussian input model N(μ, Σ). `cov === null` stands for the identity (exploited by the engine to skip
 * d×d products).
 */
export class Gaussian {
  readonly kind = 'gaussian' as const;
  readonly dim: number;
  readonly mean: Float64Array;
  readonly cov: Matrix | null;
  private sqrtCache: Matrix | null = null;
  /** W·Σ products already computed for a weight matrix (a fit and its variance report both need them). */
  private readonly covProducts = new WeakMap<Matrix, Matrix>();

  /**
   * @param mean μ [d]
   * @param cov Σ [d, d], symmetric PSD (may be singular); `null` or omitted means the identity
   */
  constructor(mean: Float64Array, cov: Matrix | null = null, opts: CovarianceCheckOptions = {}) {
    assertFinite(mean, 'mean');
    this.dim = mean.length;
    this.mean = mean;
    if (cov !== null) checkCovariance(cov, this.dim, 'cov', opts);
    this.cov = cov;
  }

  /** N(0, I_d). */
  static standard(d: number): Gaussian {
    if (!Number.isInteger(d) || d < 1) throw new InvalidArgumentError(`dimension must be a positive integer, got ${d}`);
    return new Gaussian(new Float64Array(d), null);
  }

  /** True when this is N(0, I). */
  get isStandard(): boolean {
    return this.cov === null && this.mean.every((v) => v === 0);
  }

  /** Σ as a dense matrix (the identity materialised when `cov` is null). */
  covariance(): Matrix {
    return this.cov ?? Matrix.identity(this.dim);
  }

  /**
   * W·Σ for W [h, d]: the cross-covariance of the preactivations W x with x, transposed. Memoised per W (by
   * identity), so callers must not mutate W or the result.
   */
  rightMultiplyCov(W: Matrix): Matrix {
    if (W.cols !== this.dim) throw new ShapeError(`a matrix with ${W.cols} columns cannot multiply a ${this.dim}-dimensional covariance`);
    if (this.cov === null) return W;
    let WS = this.covProducts.get(W);
    if (WS === undefined) {
      WS = matmul(W, this.cov);
      this.covProducts.set(W, WS);
    }
    return WS;
  }

  /** The symmetric PSD square root S of Σ (S S = Σ), computed once. */
  sqrtCov(): Matrix {
    if (this.sqrtCache === null) this.sqrtCache = this.cov === null ? Matrix.identity(this.dim) : sqrtPSD(this.cov);
    return this.sqrtCache;
  }

  /** n samples [n, d] drawn as μ + S z with z ~ N(0, I). */
  sample(n: number, rng: Rng): Matrix {
    const Z = new Matrix(n, this.dim, rng.fillNormal(new Float64Array(n * this.dim)));
    const X = this.cov === null ? Z : matmul(Z, this.sqrtCov());
    const { data } = X;
    for (let i = 0; i < n; i++) {
      const off = i * this.dim;
      for (let j = 0; j < this.dim; j++) data[off + j]! += this.mean[j]!;
    }
    return X;
  }

  describe(): string {
    if (this.isStandard) return `N(0, I_${this.dim})`;
    return `N(mean, cov) in ${this.dim} dimensions${this.cov === null ? ' (identity covariance)' : ''}`;
  }
}

/** A Gaussian mixture Σ_k π_k N(μ_k, Σ_k) with arbitrary non-negative weights summing to 1. */
export class GaussianMixture {
  readonly kind = 'mixture' as const;
  readonly dim: number;
  readonly weights: Float64Array;
  readonly components: readonly Gaussian[];

  /**
   * @param weights π [K], non-negative, summing to 1 within 1e-9
   * @param components K Gaussians of equal dimension
   */
  constructor(weights: Float64Array, components: readonly Gaussian[]) {
    const K = components.length;
    if (K === 0) throw new InvalidArgumentError('a mixture needs at least one component');
    if (weights.length !== K) throw new ShapeError(`mixture weights have length ${weights.length} but there are ${K} components`);
    assertFinite(weights, 'mixture weights');
    let sum = 0;
    for (let k = 0; k < K; k++) {
      if (weights[k]! < 0) throw new InvalidArgumentError(`mixture weight ${k} is negative (${weights[k]})`);
      sum += weights[k]!;
    }
    if (Math.abs(sum - 1) > 1e-9) throw new InvalidArgumentError(`mixture weights must sum to 1, they sum to ${sum}`);
    const d = components[0]!.dim;
    components.forEach((c, k) => {
      if (c.dim !== d) throw new ShapeError(`mixture component ${k} has dimension ${c.dim}, component 0 has ${d}`);
    });
    this.dim = d;
    this.weights = weights;
    this.components = components;
  }

  /** Equal weights 1/K (the reference implementation's only choice). */
  static uniform(components: readonly Gaussian[]): GaussianMixture {
    return new GaussianMixture(new Float64Array(components.length).fill(1 / components.length), components);
  }

  /** The overall mean Σ_k π_k μ_k. */
  mean(): Float64Array {
    const m = new Float64Array(this.dim);
    this.components.forEach((c, k) => {
      const w = this.weights[k]!;
      for (let i = 0; i < this.dim; i++) m[i]! += w * c.mean[i]!;
    });
    return m;
  }

  /** The overall covariance Σ_k π_k (Σ_k + μ_k μ_kᵀ) − μ̄ μ̄ᵀ (law of total covariance). */
  covariance(): Matrix {
    const d = this.dim;
    const out = new Matrix(d, d);
    const o = out.data;
    const mbar = this.mean();
    this.components.forEach((c, k) => {
      const w = this.weights[k]!;
      const S = c.covariance().data;
      for (let i = 0; i < d; i++) {
        const mi = c.mean[i]!;
        for (let j = 0; j < d; j++) o[i * d + j]! += w * (S[i * d + j]! + mi * c.mean[j]!);
      }
    });
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) o[i * d + j]! -= mbar[i]! * mbar[j]!;
    return out;
  }

  /** n samples [n, d] and the component each came from. */
  sampleWithComponents(n: number, rng: Rng): { X: Matrix; component: Int32Array } {
    const K = this.components.length;
    const component = new Int32Array(n);
    const counts = new Int32Array(K);
    for (let i = 0; i < n; i++) {
      let u = rng.uniform();
      let k = 0;
      while (k < K - 1 && u >= this.weights[k]!) {
        u -= this.weights[k]!;
        k++;
      }
      component[i] = k;
      counts[k]!++;
    }
    const X = new Matrix(n, this.dim);
    for (let k = 0; k < K; k++) {
      if (counts[k] === 0) continue;
      const Xk = this.components[k]!.sample(counts[k]!, rng);
      let r = 0;
      for (let i = 0; i < n; i++) {
        if (component[i] !== k) continue;
        X.data.set(Xk.data.subarray(r * this.dim, (r + 1) * this.dim), i * this.dim);
        r++;
      }
    }
    return { X, component };
  }

  sample(n: number, rng: Rng): Matrix {
    return this.sampleWithComponents(n, rng).X;
  }

  describe(): string {
    return `mixture of ${this.components.length} Gaussians in ${this.dim} dimensions`;
  }
}

export type InputModel = Gaussian | GaussianMixture;
