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
  /** Inverses of the diagonal blocks (lower triangular), so that the solve is GEMMs only. */
  private readonly diagInv: Float64Array[] = [];

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
      this.diagInv.push(lowerTriangularInverse(diag, bs));
    }
  }

  /** X with L Lᵀ X = B, B [n, s] row-major. */
  solve(B: Float64Array, s: number, backend: LinAlgBackend): Float64Array {
    const n = this.n;
    const y = new Float64Array(n * s);
    const tmp = new Float64Array(SOLVE_BLOCK * s);
    const blocks = this.starts.length;
    // Forward, L y = B: y_b = L_bb⁻¹ (B_b − L[b, 0:r0] y[0:r0]).
    for (let b = 0; b < blocks; b++) {
      const r0 = this.starts[b]!;
      const bs = Math.min(n, r0 + SOLVE_BLOCK) - r0;
      tmp.set(B.subarray(r0 * s, (r0 + bs) * s));
      if (r0 > 0) backend.dgemm(false, false, bs, s, r0, -1, this.left[b]!, y, 1, tmp);
      backend.dgemm(false, false, bs, s, bs, 1, this.diagInv[b]!, tmp, 0, y.subarray(r0 * s, (r0 + bs) * s));
    }
    // Backward, Lᵀ x = y: x_b = L_bb⁻ᵀ (y_b − Lᵀ[b, r1:n] x[r1:n]).
    const x = new Float64Array(n * s);
    for (let b = blocks - 1; b >= 0; b--) {
      const r0 = this.starts[b]!;
      const r1 = Math.min(n, r0 + SOLVE_BLOCK);
      const bs = r1 - r0;
      tmp.set(y.subarray(r0 * s, r1 * s));
      if (r1 < n) backend.dgemm(false, false, bs, s, n - r1, -1, this.right[b]!, x.subarray(r1 * s), 1, tmp);
      backend.dgemm(true, false, bs, s, bs, 1, this.diagInv[b]!, tmp, 0, x.subarray(r0 * s, r1 * s));
    }
    return x;
  }
}

/**
 * The inverse of a lower-triangular bs×bs block (row-major), by forward substitution on the identity, column by
 * column: accurate to about κ(L_bb)·ε, small for the diagonal blocks of the factor of an SPD matrix that is
 * itself solvable. Set-up only.
 */
function lowerTriangularInverse(D: Float64Array, bs: number): Float64Array {
  const inv = new Float64Array(bs * bs);
  for (let j = 0; j < bs; j++) {
    // Column j of the inverse: zero above row j.
    inv[j * bs + j] = 1 / D[j * bs + j]!;
    for (let i = j + 1; i < bs; i++) {
      let v = 0;
      for (let k = j; k < i; k++) v -= D[i * bs + k]! * inv[k * bs + j]!;
      inv[i * bs + j] = v / D[i * bs + i]!;
    }
  }
  return inv;
}
