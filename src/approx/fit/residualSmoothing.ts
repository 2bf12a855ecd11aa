/**
 * Minimal residual smoothing (Schönauer 1987; Weiss 1990; Zhou & Walker, SIAM J. Sci. Comput. 15, 1994) of the
 * iterates of the mixture solver's block conjugate gradients (mixtureKrylov.ts), one output (column) at a time.
 *
 * CG minimises the A-norm of the error, not the residual norm ‖r − Aθ‖ the solver stops on, and its residual
 * norms fall unevenly. Alongside each CG iterate x_k with residual r_k the smoother keeps
 *
 *     y_k = y_{k−1} + η_k (x_k − y_{k−1}),   s_k = s_{k−1} + η_k (r_k − s_{k−1}),   η_k = −⟨s_{k−1}, r_k − s_{k−1}⟩ / ‖r_k − s_{k−1}‖²,
 *
 * so that s_k = r − Ay_k is the smallest residual on the line through y_{k−1} and x_k: ‖s_k‖ ≤ min(‖s_{k−1}‖, ‖r_k‖).
 * It costs no operator application, only a few passes over the column per iteration, made through BLAS (at MNIST
 * size ≈ 35 ms per iteration for ten outputs inside the solve, where the same passes as JavaScript element loops took
 * 100–230 ms: they ran at ≈ 4 GB/s, BLAS at ≈ 13 GB/s), and the solver starts it per output only near the tolerance
 * (see SMOOTHING_STARTS_AT in mixtureKrylov.ts). For residuals that are
 * orthogonal (unpreconditioned CG) it gives the minimal residual over all iterates; here, measured on the residuals
 * of the d = 196 solve, it reaches 0.4–0.5 of CG's residual in the late iterations, where the best combination of
 * all iterates reaches 0.35–0.4. At d = 784 (MNIST, quick preset's last checkpoint) the block solve to 1e-8 took
 * 90 operator applications instead of 103–110.
 *
 * The recurrences drift from the true residual r − Ay_k by rounding like CG's own; the solver recomputes the true
 * residual at the end.
 */
import type { LinAlgBackend } from '../../linalg/backend.js';
import { getBackend } from '../../linalg/index.js';
import type { QuadraticBlock } from './quadraticBlock.js';
import { copyBlock, quadraticBlockGram, releaseBlock, zeroQuadraticBlock } from './quadraticBlock.js';

/**
 * Smoothed iterates y and residuals s of the columns of a block solve. A column is smoothed from the first update
 * with `start` true (see {@link ResidualSmoother.update}); until then its y is the iterate the smoother began with.
 */
export class ResidualSmoother {
  private readonly started: Uint8Array;
  private readonly norm2: Float64Array;

  private constructor(readonly y: QuadraticBlock, private readonly s: QuadraticBlock, private readonly backend: LinAlgBackend) {
    this.started = new Uint8Array(y.count);
    this.norm2 = new Float64Array(y.count);
  }

  /** A smoother for the columns of the block iterate X (copied). */
  static of(X: QuadraticBlock, backend: LinAlgBackend = getBackend()): ResidualSmoother {
    return new ResidualSmoother(copyBlock(X), zeroQuadraticBlock(X.count, X.dim), backend);
  }

  /**
   * One step for column j, given the new CG iterate (column j of X), its residual (column c of R) and that
   * residual's norm. A column not yet started either stays unsmoothed (`start` false: returns `norm`) or starts
   * here from y = x, s = r. Returns the smoothed residual norm ‖s_j‖.
   */
  update(j: number, X: QuadraticBlock, R: QuadraticBlock, c: number, norm: number, start: boolean): number {
    const { y, s } = this;
    if (this.started[j] === 0) {
      if (!start) return norm;
      this.started[j] = 1;
      this.norm2[j] = norm * norm;
      copyColumn(R, c, s, j);
      copyColumn(X, j, y, j);
      return norm;
    }
    const sj = columnView(s, j);
    const rc = columnView(R, c);
    // ⟨s, r − s⟩ and ‖r − s‖² from ⟨s, r⟩ (one BLAS pass), ‖s‖² (kept) and ‖r‖² (given): the passes over the
    // columns dominate this step, and BLAS makes them faster than element loops.
    const ss = this.norm2[j]!;
    const rr = norm * norm;
    const sr = this.dot(sj, rc);
    let su = sr - ss;
    let uu = rr - 2 * sr + ss;
    if (!(uu > 1e-8 * (rr + ss))) {
      // r nearly equals s: the expansion would cancel, so the difference is formed exactly.
      const dots = new Float64Array(2);
      for (const [sv, rv] of [[sj.a, rc.a], [sj.b, rc.b], [sj.S, rc.S]] as const) differenceDots(sv, rv, dots);
      [su, uu] = dots as unknown as [number, number];
      // r_k = s_{k−1} (a restart, or an exact CG step that changed nothing): any η gives the same residual.
      if (!(uu > 0)) return Math.sqrt(ss);
    }
    const eta = -su / uu;
    const yj = columnView(y, j);
    const xj = columnView(X, j);
    let norm2: number;
    if (Math.abs(eta) <= 2) {
      this.blend(sj, rc, eta);
      this.blend(yj, xj, eta);
      norm2 = this.dot(sj, sj);
    } else {
      // A far line minimum (r close to s): (1 − η)u + ηv would lose ≈ |η|·ε to cancellation, u + η(v − u) does not.
      norm2 = 0;
      for (const [u, v] of [[sj.a, rc.a], [sj.b, rc.b], [sj.S, rc.S]] as const) norm2 += blendTowards(u, v, eta, true);
      for (const [u, v] of [[yj.a, xj.a], [yj.b, xj.b], [yj.S, xj.S]] as const) blendTowards(u, v, eta, false);
    }
    this.norm2[j] = norm2;
    return Math.sqrt(norm2);
  }

  /** ⟨u, v⟩ of two one-column blocks (S through BLAS). */
  private dot(u: QuadraticBlock, v: QuadraticBlock): number {
    return quadraticBlockGram(u, v, this.backend)[0]!;
  }

  /** u ← u + η(v − u) = (1 − η)u + ηv (S through BLAS: a rank-1 product with β = 1 − η). */
  private blend(u: QuadraticBlock, v: QuadraticBlock, eta: number): void {
    this.backend.dgemm(false, false, 1, u.S.length, 1, eta, ONE, v.S, 1 - eta, u.S);
    u.a[0] = (1 - eta) * u.a[0]! + eta * v.a[0]!;
    for (let i = 0; i < u.b.length; i++) u.b[i] = (1 - eta) * u.b[i]! + eta * v.b[i]!;
  }

  /**
   * Copies the smoothed iterates of the started columns into X and releases the smoother's blocks (it must not be
   * used afterwards).
   */
  finish(X: QuadraticBlock): void {
    for (let j = 0; j < X.count; j++) if (this.started[j] === 1) copyColumn(this.y, j, X, j);
    releaseBlock(this.y);
    releaseBlock(this.s);
  }
}

/** Column i of x into column j of y. */
function copyColumn(x: QuadraticBlock, i: number, y: QuadraticBlock, j: number): void {
  const d = x.dim;
  const d2 = d * d;
  y.a[j] = x.a[i]!;
  y.b.set(x.b.subarray(i * d, (i + 1) * d), j * d);
  y.S.set(x.S.subarray(i * d2, (i + 1) * d2), j * d2);
}

const ONE = Float64Array.of(1);

/** Column j of a block as a one-column block sharing its memory. */
function columnView(x: QuadraticBlock, j: number): QuadraticBlock {
  const d = x.dim;
  const d2 = d * d;
  return { count: 1, dim: d, a: x.a.subarray(j, j + 1), b: x.b.subarray(j * d, (j + 1) * d), S: x.S.subarray(j * d2, (j + 1) * d2) };
}

// The exact element loops of the rare cases (r close to s): synchronous and monomorphic.

/** dots[0] += ⟨s, r − s⟩ and dots[1] += ‖r − s‖². */
function differenceDots(s: Float64Array, r: Float64Array, dots: Float64Array): void {
  let su = 0;
  let uu = 0;
  for (let i = 0; i < s.length; i++) {
    const si = s[i]!;
    const u = r[i]! - si;
    su += si * u;
    uu += u * u;
  }
  dots[0]! += su;
  dots[1]! += uu;
}

/** u ← u + η(v − u), element by element; returns the new Σ u² when `norm` is set (else 0). */
function blendTowards(u: Float64Array, v: Float64Array, eta: number, norm: boolean): number {
  let norm2 = 0;
  for (let i = 0; i < u.length; i++) {
    const w = u[i]! + eta * (v[i]! - u[i]!);
    u[i] = w;
    if (norm) norm2 += w * w;
  }
  return norm2;
}
