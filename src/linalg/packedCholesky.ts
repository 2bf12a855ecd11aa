/**
 * Triangular solves with a large dense Cholesky factor, blocked so that the work is matrix products: see
 * {@link PackedCholesky}. Used by the mixture solver's coarse deflation (n ≈ 8000, ten right-hand sides per call).
 */
import type { LinAlgBackend } from './backend.js';

/** Rows of the triangular factors handled per GEMM in {@link PackedCholesky}. */
export const SOLVE_BLOCK = 256;

/**
 * The Cholesky factor L of an n×n SPD matrix, kept as row panels for blocked triangular solves: for each block of
 * SOLVE_BLOCK rows [r0, r1), the part of L left of the diagonal block, L[r0:r1, 0:r0], the part of Lᵀ right of it,
 * Lᵀ[r0:r1, r1:n], and the diagonal block. The off-diagonal coupling of a block is then one GEMM over exactly the
 * rows already solved (n² doubles read per solve, half of what full rows would cost, and no n×n transpose kept).
 * LAPACKE's row-major dpotrs would transpose the whole factor on every call, which at n ≈ 8000 costs more than the
 * solve.
 */
export class PackedCholesky {
  private readonly starts: number[] = [];
  private readonly left: Float64Array[] = [];
  private readonly right: Float64Array[] = [];
  private readonly diag: Float64Array[] = [];

  /** @param L the row-major lower factor [n, n] from dpotrf (read only here). */
  constructor(L: Float64Array, readonly n: number) {
    for (let r0 = 0; r0 < n; r0 += SOLVE_BLOCK) {
      const r1 = Math.min(n, r0 + SOLVE_BLOCK);
      const bs = r1 - r0;
      const left = new Float64Array(bs * r0);
      const right = new Float64Array(bs * (n - r1));
      const diag = new Float64Array(bs * bs);
      for (let i = 0; i < bs; i++) {
        left.set(L.subarray((r0 + i) * n, (r0 + i) * n + r0), i * r0);
        diag.set(L.subarray((r0 + i) * n + r0, (r0 + i) * n + r1), i * bs);
      }
      // Lᵀ[r0 + i, c] = L[c, r0 + i] for c ≥ r1 (read along the rows of L).
      const w = n - r1;
      for (let c = r1; c < n; c++) for (let i = 0; i < bs; i++) right[i * w + c - r1] = L[c * n + r0 + i]!;
      this.starts.push(r0);
      this.left.push(left);
      this.right.push(right);
      this.diag.push(diag);
    }
  }

  /** X with L Lᵀ X = B, B [n, s] row-major. */
  solve(B: Float64Array, s: number, backend: LinAlgBackend): Float64Array {
    const n = this.n;
    const y = new Float64Array(n * s);
    const tmp = new Float64Array(SOLVE_BLOCK * s);
    const blocks = this.starts.length;
    for (let b = 0; b < blocks; b++) {
      const r0 = this.starts[b]!;
      const bs = Math.min(n, r0 + SOLVE_BLOCK) - r0;
      if (r0 > 0) backend.dgemm(false, false, bs, s, r0, 1, this.left[b]!, y, 0, tmp);
      else tmp.fill(0);
      const D = this.diag[b]!;
      for (let i = 0; i < bs; i++) {
        for (let q = 0; q < s; q++) {
          let v = B[(r0 + i) * s + q]! - tmp[i * s + q]!;
          for (let k = 0; k < i; k++) v -= D[i * bs + k]! * y[(r0 + k) * s + q]!;
          y[(r0 + i) * s + q] = v / D[i * bs + i]!;
        }
      }
    }
    const x = new Float64Array(n * s);
    for (let b = blocks - 1; b >= 0; b--) {
      const r0 = this.starts[b]!;
      const r1 = Math.min(n, r0 + SOLVE_BLOCK);
      const bs = r1 - r0;
      if (r1 < n) backend.dgemm(false, false, bs, s, n - r1, 1, this.right[b]!, x.subarray(r1 * s), 0, tmp);
      else tmp.fill(0);
      const D = this.diag[b]!;
      for (let i = bs - 1; i >= 0; i--) {
        for (let q = 0; q < s; q++) {
          // Lᵀ[r0 + i, r0 + k] = L[r0 + k, r0 + i].
          let v = y[(r0 + i) * s + q]! - tmp[i * s + q]!;
          for (let k = i + 1; k < bs; k++) v -= D[k * bs + i]! * x[(r0 + k) * s + q]!;
          x[(r0 + i) * s + q] = v / D[i * bs + i]!;
        }
      }
    }
    return x;
  }
}
