/**
 * Seeded random test inputs shared by the test files: matrices, vectors, covariances, Gaussians and small networks.
 * Every helper draws from the given Rng in a fixed order (row-major entries, then the mean), so a test's data is
 * fully determined by its seed.
 */
import { Matrix } from '../src/linalg/matrix.js';
import { Rng } from '../src/numerics/random.js';
import { Gaussian } from '../src/approx/inputModel.js';
import { createGLU, createMLP, type Network } from '../src/approx/network.js';

/** rows×cols with i.i.d. N(0, scale²) entries. */
export function randMatrix(rng: Rng, rows: number, cols: number, scale = 1): Matrix {
  const m = new Matrix(rows, cols);
  for (let i = 0; i < m.data.length; i++) m.data[i] = rng.normal() * scale;
  return m;
}

/** n i.i.d. N(0, scale²) entries. */
export function randVec(rng: Rng, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => rng.normal() * scale);
}

/** AAᵀ + jitter·I with A d×rank, entries N(0, 1/rank): rank-deficient when rank < d and jitter = 0. */
export function randCovariance(rng: Rng, d: number, opts: { rank?: number; jitter?: number } = {}): Matrix {
  const rank = opts.rank ?? d;
  const jitter = opts.jitter ?? 0;
  const A = randMatrix(rng, d, rank, 1 / Math.sqrt(rank));
  const S = new Matrix(d, d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = i === j ? jitter : 0;
      for (let k = 0; k < rank; k++) s += A.data[i * rank + k]! * A.data[j * rank + k]!;
      S.data[i * d + j] = s;
    }
  }
  return S;
}

/** N(μ, Σ) with Σ from {@link randCovariance} (drawn first) and μ ~ N(0, 0.25·I). */
export function randGaussian(rng: Rng, d: number, opts: { rank?: number; jitter?: number } = {}): Gaussian {
  const S = randCovariance(rng, d, opts);
  return new Gaussian(randVec(rng, d, 0.5), S);
}

/** A d→h→o MLP: W1 ~ N(0, w1Scale²) (default 1/d), b1 ~ N(0, 0.25), W2 ~ N(0, 1/h), b2 ~ N(0, 0.01). */
export function randMlp(rng: Rng, d: number, h: number, o: number, activation: string, w1Scale = 1 / Math.sqrt(d)): Network {
  return createMLP({
    W1: randMatrix(rng, h, d, w1Scale), b1: randVec(rng, h, 0.5), W2: randMatrix(rng, o, h, 1 / Math.sqrt(h)), b2: randVec(rng, o, 0.1),
    activation,
  });
}

/** A d→h→o GLU with the scales of {@link randMlp} (gate and up projections alike). */
export function randGlu(rng: Rng, d: number, h: number, o: number, activation: string, inScale = 1 / Math.sqrt(d)): Network {
  return createGLU({
    W_gate: randMatrix(rng, h, d, inScale), b_gate: randVec(rng, h, 0.5), W_up: randMatrix(rng, h, d, inScale),
    b_up: randVec(rng, h, 0.5), W_out: randMatrix(rng, o, h, 1 / Math.sqrt(h)), b_out: randVec(rng, o, 0.1), activation,
  });
}

/**
 * Class-structured data: sample i belongs to class i mod K (K = means.length) and is means[c] + mixes[c]·z with
 * z ~ N(0, I) (mixes[c] d×d row-major), so every class has its own mean and covariance.
 */
export function classStructuredData(n: number, rng: Rng, means: Float64Array[], mixes: Float64Array[]): { x: Float32Array; y: Float32Array } {
  const K = means.length;
  const d = means[0]!.length;
  const x = new Float32Array(n * d);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % K;
    y[i] = c;
    const z = rng.fillNormal(new Float64Array(d));
    for (let a = 0; a < d; a++) {
      let v = means[c]![a]!;
      for (let b = 0; b < d; b++) v += mixes[c]![a * d + b]! * z[b]!;
      x[i * d + a] = v;
    }
  }
  return { x, y };
}
