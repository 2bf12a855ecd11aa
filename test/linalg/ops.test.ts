/**
 * The linear-algebra API (src/linalg/ops.ts) on every available backend, and backend selection.
 *
 * Oracles are independent of the code under test:
 * - products against compensated (double-double) dot products, with Higham's componentwise bound
 *   |Ĉ − C| ≤ γ_k·|A||B| (any summation order, FMA or not);
 * - decompositions through their defining identities (residual, orthogonality, ordering), plus exact
 *   spectra/solutions of fixed float64 matrices computed with mpmath at 60 digits
 *   (fixtures/linalg/reference.json, from scripts/fixtures/linalg_reference.py), compared with
 *   backward-stability error bounds;
 * - the pseudo-inverse through the four Moore–Penrose conditions;
 * - backend selection through child processes with a controlled environment.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';

import {
  BackendError,
  InvalidArgumentError,
  NonFiniteError,
  NotPositiveDefiniteError,
  ShapeError,
  SingularMatrixError,
} from '../../src/errors.js';
import {
  Matrix,
  Matrix32,
  availableBackends,
  cholesky,
  eigh,
  eighAsync,
  matmul,
  matmul32,
  matmul32Async,
  matmulAsync,
  matvec,
  pinv,
  pinvSqrtPSD,
  solve,
  solveAsync,
  solveSPD,
  solveSPDAsync,
  sqrtPSD,
  svd,
  svdAsync,
} from '../../src/linalg/index.js';
import {
  EPS,
  Rng,
  U32,
  U64,
  absMatrix,
  accurateMatmul,
  columnOrthonormalityError,
  frobenius,
  gamma,
  loadLinalgFixture,
  maxAbs,
  naiveMatmul,
  randomMatrix,
  randomMatrix32,
  randomSpd,
  randomSymmetric,
  randomVector,
  rowOrthonormalityError,
  scaleColumns,
  subtract,
  symmetricWithSpectrum,
  transposeAny,
} from './helpers.js';

const fixture = loadLinalgFixture().cases;
const backends = availableBackends();
/** Relative accuracy demanded of residuals and orthogonality by the task specification. */
const REL_TOL = 1e-12;

type AnyMatrix = { rows: number; cols: number; data: ArrayLike<number> };

/**
 * Checks `|actual − exact| ≤ γ_k(u)·(|op(A)||op(B)|) + 2·u64·(|A||B|)` elementwise, where `exact` is the
 * compensated product (its own error is covered by the second term).
 */
function assertProductWithinBound(actual: AnyMatrix, opA: AnyMatrix, opB: AnyMatrix, u: number, label: string): void {
  const exact = accurateMatmul(opA, opB);
  const magnitude = naiveMatmul(absMatrix(opA), absMatrix(opB));
  const k = opA.cols;
  assert.equal(actual.rows, exact.rows, `${label}: rows`);
  assert.equal(actual.cols, exact.cols, `${label}: cols`);
  for (let i = 0; i < exact.data.length; i++) {
    const bound = (gamma(k, u) + 2 * U64) * magnitude.data[i]!;
    const err = Math.abs(actual.data[i]! - exact.data[i]!);
    assert.ok(err <= bound, `${label}: entry ${i} off by ${err} > bound ${bound}`);
  }
}

function fromRows(rows: number[][]): Matrix {
  return Matrix.fromRows(rows);
}

/** ‖A V − V Λ‖_F / ‖A‖_F. */
function eighResidual(a: Matrix, values: Float64Array, vectors: Matrix): number {
  const av = naiveMatmul(a, vectors);
  const vl = scaleColumns(vectors, values);
  return frobenius(subtract(av, vl)) / Math.max(frobenius(a), Number.MIN_VALUE);
}

/** ‖A − U diag(S) Vt‖_F / ‖A‖_F. */
function svdResidual(a: Matrix, U: Matrix, S: Float64Array, Vt: Matrix): number {
  const rebuilt = naiveMatmul(scaleColumns(U, S), Vt);
  return frobenius(subtract(a, rebuilt)) / Math.max(frobenius(a), Number.MIN_VALUE);
}

function assertAscending(values: ArrayLike<number>, label: string): void {
  for (let i = 1; i < values.length; i++) assert.ok(values[i - 1]! <= values[i]!, `${label}: not ascending at ${i}`);
}

function assertEighValid(a: Matrix, result: { values: Float64Array; vectors: Matrix }, label: string): void {
  const n = a.rows;
  assert.equal(result.values.length, n, `${label}: values length`);
  assert.deepEqual(result.vectors.shape, [n, n], `${label}: vectors shape`);
  assertAscending(result.values, label);
  if (n === 0) return;
  const residual = eighResidual(a, result.values, result.vectors);
  assert.ok(residual <= REL_TOL, `${label}: residual ${residual}`);
  const orth = columnOrthonormalityError(result.vectors);
  assert.ok(orth <= REL_TOL, `${label}: orthogonality error ${orth}`);
}

function assertSvdValid(a: Matrix, result: { U: Matrix; S: Float64Array; Vt: Matrix }, label: string): void {
  const p = Math.min(a.rows, a.cols);
  assert.deepEqual(result.U.shape, [a.rows, p], `${label}: U shape`);
  assert.equal(result.S.length, p, `${label}: S length`);
  assert.deepEqual(result.Vt.shape, [p, a.cols], `${label}: Vt shape`);
  for (let i = 0; i < p; i++) assert.ok(result.S[i]! >= 0, `${label}: negative singular value`);
  for (let i = 1; i < p; i++) assert.ok(result.S[i - 1]! >= result.S[i]!, `${label}: S not descending at ${i}`);
  if (p === 0) return;
  if (frobenius(a) > 0) {
    const residual = svdResidual(a, result.U, result.S, result.Vt);
    assert.ok(residual <= REL_TOL, `${label}: reconstruction residual ${residual}`);
  } else {
    assert.equal(maxAbs(result.S), 0, `${label}: zero matrix must have zero singular values`);
  }
  const orthU = columnOrthonormalityError(result.U);
  const orthV = rowOrthonormalityError(result.Vt);
  assert.ok(orthU <= REL_TOL, `${label}: U orthogonality ${orthU}`);
  assert.ok(orthV <= REL_TOL, `${label}: Vt orthogonality ${orthV}`);
}

/** Relative residual ‖A X − B‖_F / (‖A‖_F ‖X‖_F) of a solve (backward error). */
function solveResidual(a: Matrix, x: Matrix, b: Matrix): number {
  return frobenius(subtract(naiveMatmul(a, x), b)) / (frobenius(a) * frobenius(x));
}

function assertUnchanged(before: Float64Array, after: Matrix, label: string): void {
  assert.deepEqual(after.data, before, `${label}: input was modified`);
}

for (const backend of backends) {
  const tag = `[${backend.name}]`;
  const opts = { backend };

  describe(`linalg ops ${tag}`, () => {
    // -------------------------------------------------------------------------------------------
    // Products

    test(`${tag} matmul, all transposes and odd sizes, matches compensated products within γ_k·|A||B|`, () => {
      const rng = new Rng(1);
      const sizes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [17, 9, 13], [33, 65, 31], [70, 130, 5], [5, 1, 66]];
      for (const [m, k, n] of sizes) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const a = transA ? randomMatrix(rng, k, m) : randomMatrix(rng, m, k);
            const b = transB ? randomMatrix(rng, n, k) : randomMatrix(rng, k, n);
            const aCopy = a.data.slice(), bCopy = b.data.slice();
            const c = matmul(a, b, { transA, transB, backend });
            const opA = transA ? a.transpose() : a;
            const opB = transB ? b.transpose() : b;
            assertProductWithinBound(c, opA, opB, U64, `${m}×${k}×${n} transA=${transA} transB=${transB}`);
            assertUnchanged(aCopy, a, 'a');
            assertUnchanged(bCopy, b, 'b');
          }
        }
      }
    });

    test(`${tag} matmul32, all transposes and odd sizes, within the float32 bound γ_k(2⁻²⁴)·|A||B|`, () => {
      const rng = new Rng(2);
      const sizes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [17, 9, 13], [33, 65, 31], [70, 130, 5]];
      for (const [m, k, n] of sizes) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const a = transA ? randomMatrix32(rng, k, m) : randomMatrix32(rng, m, k);
            const b = transB ? randomMatrix32(rng, n, k) : randomMatrix32(rng, k, n);
            const c = matmul32(a, b, { transA, transB, backend });
            assert.ok(c instanceof Matrix32);
            const opA = transA ? transposeAny(a) : a;
            const opB = transB ? transposeAny(b) : b;
            assertProductWithinBound(c, opA, opB, U32, `f32 ${m}×${k}×${n} transA=${transA} transB=${transB}`);
          }
        }
      }
    });

    test(`${tag} matmul with empty dimensions gives zero-filled results`, () => {
      assert.deepEqual(matmul(new Matrix(0, 3), new Matrix(3, 4), opts).shape, [0, 4]);
      assert.deepEqual(matmul(new Matrix(3, 4), new Matrix(4, 0), opts).shape, [3, 0]);
      const inner0 = matmul(new Matrix(3, 0), new Matrix(0, 2), opts);
      assert.deepEqual(inner0.shape, [3, 2]);
      assert.deepEqual(Array.from(inner0.data), [0, 0, 0, 0, 0, 0]);
      assert.deepEqual(matmul32(new Matrix32(2, 0), new Matrix32(0, 2), opts).data, new Float32Array(4));
    });

    test(`${tag} matmulAsync and matmul32Async agree with the synchronous products`, async () => {
      const rng = new Rng(3);
      const a = randomMatrix(rng, 23, 41), b = randomMatrix(rng, 19, 41);
      const c = await matmulAsync(a, b, { transB: true, backend });
      assertProductWithinBound(c, a, b.transpose(), U64, 'async f64');
      const a32 = randomMatrix32(rng, 41, 23), b32 = randomMatrix32(rng, 41, 19);
      const c32 = await matmul32Async(a32, b32, { transA: true, backend });
      assertProductWithinBound(c32, transposeAny(a32), b32, U32, 'async f32');
    });

    test(`${tag} matvec, with and without transpose`, () => {
      const rng = new Rng(4);
      const a = randomMatrix(rng, 13, 29);
      const x = randomVector(rng, 29);
      const y = matvec(a, x, opts);
      assertProductWithinBound(new Matrix(13, 1, y), a, new Matrix(29, 1, x), U64, 'a x');
      const z = randomVector(rng, 13);
      const w = matvec(a, z, { trans: true, backend });
      assertProductWithinBound(new Matrix(29, 1, w), a.transpose(), new Matrix(13, 1, z), U64, 'aᵀ z');
    });

    test(`${tag} raw dgemm/sgemm honour alpha and beta, and beta = 0 ignores NaN in C`, () => {
      // Small integers: every intermediate is exact, so the results are exact on any backend.
      const a = new Float64Array([1, 2, 3, 4, 5, 6]); // 2×3
      const b = new Float64Array([1, 0, -1, 2, 3, 1]); // 3×2
      const c = new Float64Array([NaN, NaN, NaN, NaN]);
      backend.dgemm(false, false, 2, 2, 3, 1, a, b, 0, c);
      assert.deepEqual(Array.from(c), [8, 7, 17, 16]);
      backend.dgemm(false, false, 2, 2, 3, -1, a, b, 2, c);
      assert.deepEqual(Array.from(c), [8, 7, 17, 16]);
      backend.dgemm(true, true, 3, 3, 2, 2, a, b, 0, new Float64Array(9)); // shapes accepted
      const c32 = new Float32Array([NaN, NaN, NaN, NaN]);
      backend.sgemm(false, false, 2, 2, 3, 0.5, Float32Array.from(a), Float32Array.from(b), 0, c32);
      assert.deepEqual(Array.from(c32), [4, 3.5, 8.5, 8]);
    });

    test(`${tag} property: (AB)C ≈ A(BC) and aᵀbᵀ = (ba)ᵀ within rounding bounds (sizes ≤ 12)`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }),
          fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          (m, k1, k2, n, seed) => {
            const rng = new Rng(seed);
            const a = randomMatrix(rng, m, k1), b = randomMatrix(rng, k1, k2), c = randomMatrix(rng, k2, n);
            const left = matmul(matmul(a, b, opts), c, opts);
            const right = matmul(a, matmul(b, c, opts), opts);
            const magnitude = naiveMatmul(naiveMatmul(absMatrix(a), absMatrix(b)), absMatrix(c));
            // Each side is within (γ_k1 + γ_k2 + γ_k1·γ_k2)·|A||B||C| of the exact product.
            const g = gamma(k1, U64) + gamma(k2, U64);
            for (let i = 0; i < left.data.length; i++) {
              if (Math.abs(left.data[i]! - right.data[i]!) > 2 * (g + g * g) * magnitude.data[i]!) return false;
            }
            // With x (k1×m) and y (n×k1): xᵀ·yᵀ = (y·x)ᵀ, each side within γ_k1·|y||x| of the exact product.
            const x = randomMatrix(rng, k1, m), y = randomMatrix(rng, n, k1);
            const xtyt = matmul(x, y, { transA: true, transB: true, backend });
            const yxT = matmul(y, x, opts).transpose();
            const mag2 = naiveMatmul(absMatrix(y), absMatrix(x)).transpose();
            for (let i = 0; i < xtyt.data.length; i++) {
              if (Math.abs(xtyt.data[i]! - yxT.data[i]!) > 2 * gamma(k1, U64) * mag2.data[i]!) return false;
            }
            return true;
          },
        ),
        { numRuns: 60, seed: 1234 },
      );
    });

    // -------------------------------------------------------------------------------------------
    // eigh

    test(`${tag} eigh on random symmetric matrices (1…60 and one 200×200): residual and orthogonality ≤ 1e-12`, () => {
      const rng = new Rng(5);
      for (const n of [1, 2, 3, 7, 31, 60, 200]) {
        const a = randomSymmetric(rng, n);
        const before = a.data.slice();
        assertEighValid(a, eigh(a, opts), `n=${n}`);
        assertUnchanged(before, a, `n=${n}`);
      }
    });

    test(`${tag} eigh on Q·diag(logspace(-12, 0))·Qᵀ matches mpmath eigenvalues within 10·n·ε·‖A‖`, () => {
      const { a: rows, eigenvalues } = fixture.ill_conditioned_sym;
      const a = fromRows(rows);
      const result = eigh(a, opts);
      assertEighValid(a, result, 'ill-conditioned');
      const bound = 10 * a.rows * EPS * Math.max(...eigenvalues.map(Math.abs));
      for (let i = 0; i < eigenvalues.length; i++) {
        const err = Math.abs(result.values[i]! - eigenvalues[i]!);
        assert.ok(err <= bound, `eigenvalue ${i}: error ${err} > ${bound}`);
      }
    });

    test(`${tag} eigh with near-duplicate and repeated eigenvalues keeps the eigenvectors orthonormal`, () => {
      const { a: rows, eigenvalues } = fixture.near_duplicate_sym;
      const a = fromRows(rows);
      const result = eigh(a, opts);
      assertEighValid(a, result, 'near-duplicate');
      const bound = 10 * a.rows * EPS * Math.max(...eigenvalues.map(Math.abs));
      for (let i = 0; i < eigenvalues.length; i++) {
        assert.ok(Math.abs(result.values[i]! - eigenvalues[i]!) <= bound, `eigenvalue ${i}`);
      }
      // A matrix with an exactly repeated eigenvalue built here: identity plus a rank-one term.
      const rng = new Rng(6);
      const b = symmetricWithSpectrum(rng, [2, 2, 2, 2, 5, 5, -1]);
      assertEighValid(b, eigh(b, opts), 'repeated');
    });

    test(`${tag} eigh edge cases: 0×0, 1×1, zero and diagonal matrices`, () => {
      const empty = eigh(new Matrix(0, 0), opts);
      assert.equal(empty.values.length, 0);
      assert.deepEqual(empty.vectors.shape, [0, 0]);
      const one = eigh(fromRows([[-3.5]]), opts);
      assert.deepEqual(Array.from(one.values), [-3.5]);
      assert.equal(Math.abs(one.vectors.get(0, 0)), 1);
      const zero = eigh(new Matrix(4, 4), opts);
      assert.deepEqual(Array.from(zero.values), [0, 0, 0, 0]);
      assert.ok(columnOrthonormalityError(zero.vectors) <= REL_TOL);
      const diag = eigh(Matrix.diag([3, -1, 2]), opts);
      assert.deepEqual(Array.from(diag.values), [-1, 2, 3]);
    });

    test(`${tag} eighAsync gives a valid decomposition`, async () => {
      const a = randomSymmetric(new Rng(7), 25);
      const result = await eighAsync(a, opts);
      assertEighValid(a, result, 'async');
      const sync = eigh(a, opts);
      for (let i = 0; i < 25; i++) assert.ok(Math.abs(result.values[i]! - sync.values[i]!) <= 1e-13 * maxAbs(sync.values));
    });

    test(`${tag} property: eigh reconstructs random symmetric matrices (n ≤ 12, entries over 6 decades)`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: -3, max: 3 }), (n, seed, exponent) => {
          const a = randomSymmetric(new Rng(seed), n);
          const scale = 10 ** exponent;
          for (let i = 0; i < a.data.length; i++) a.data[i] = a.data[i]! * scale;
          const { values, vectors } = eigh(a, opts);
          const rebuilt = naiveMatmul(scaleColumns(vectors, values), vectors.transpose());
          return (
            frobenius(subtract(rebuilt, a)) <= REL_TOL * frobenius(a) &&
            columnOrthonormalityError(vectors) <= REL_TOL &&
            values.every((v, i) => i === 0 || values[i - 1]! <= v)
          );
        }),
        { numRuns: 80, seed: 99 },
      );
    });

    // -------------------------------------------------------------------------------------------
    // SVD

    test(`${tag} svd on random tall, wide and square matrices: reconstruction and orthogonality ≤ 1e-12`, () => {
      const rng = new Rng(8);
      const shapes: [number, number][] = [[1, 1], [1, 7], [7, 1], [9, 5], [5, 9], [40, 60], [60, 40], [33, 33]];
      for (const [m, n] of shapes) {
        const a = randomMatrix(rng, m, n);
        const before = a.data.slice();
        assertSvdValid(a, svd(a, opts), `${m}×${n}`);
        assertUnchanged(before, a, `${m}×${n}`);
      }
    });

    test(`${tag} svd singular values match mpmath within 10·max(m,n)·ε·σ_max (general and rank-deficient, both orientations)`, () => {
      const cases: [string, Matrix, number[]][] = [
        ['general 9×5', fromRows(fixture.svd_general.a), fixture.svd_general.singular_values],
        ['rank-4 7×11', fromRows(fixture.svd_rank_deficient.a), fixture.svd_rank_deficient.singular_values],
        ['rank-4 11×7', fromRows(fixture.svd_rank_deficient.a).transpose(), fixture.svd_rank_deficient.singular_values],
      ];
      for (const [label, a, exact] of cases) {
        const result = svd(a, opts);
        assertSvdValid(a, result, label);
        const bound = 10 * Math.max(a.rows, a.cols) * EPS * exact[0]!;
        for (let i = 0; i < exact.length; i++) {
          const err = Math.abs(result.S[i]! - exact[i]!);
          assert.ok(err <= bound, `${label}: σ${i} error ${err} > ${bound}`);
        }
      }
    });

    test(`${tag} svd edge cases: empty, zero and rank-one matrices`, () => {
      const wide0 = svd(new Matrix(0, 3), opts);
      assert.deepEqual([wide0.U.shape, wide0.S.length, wide0.Vt.shape], [[0, 0], 0, [0, 3]]);
      const tall0 = svd(new Matrix(4, 0), opts);
      assert.deepEqual([tall0.U.shape, tall0.S.length, tall0.Vt.shape], [[4, 0], 0, [0, 0]]);
      const zero = new Matrix(4, 3);
      assertSvdValid(zero, svd(zero, opts), 'zero 4×3');
      const rankOne = naiveMatmul(new Matrix(5, 1, Float64Array.from([1, 2, 3, 4, 5])), new Matrix(1, 4, Float64Array.from([1, -1, 2, 0.5])));
      const r = svd(rankOne, opts);
      assertSvdValid(rankOne, r, 'rank one');
      const exact = Math.sqrt(55) * Math.sqrt(1 + 1 + 4 + 0.25);
      assert.ok(Math.abs(r.S[0]! - exact) <= 10 * 5 * EPS * exact);
      for (let i = 1; i < 4; i++) assert.ok(r.S[i]! <= 10 * 5 * EPS * exact, `σ${i} = ${r.S[i]}`);
    });

    test(`${tag} svdAsync gives a valid decomposition`, async () => {
      const a = randomMatrix(new Rng(9), 17, 29);
      assertSvdValid(a, await svdAsync(a, opts), 'async');
    });

    test(`${tag} property: svd reconstructs random matrices (m, n ≤ 12)`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (m, n, seed) => {
          const a = randomMatrix(new Rng(seed), m, n);
          const { U, S, Vt } = svd(a, opts);
          return (
            svdResidual(a, U, S, Vt) <= REL_TOL &&
            columnOrthonormalityError(U) <= REL_TOL &&
            rowOrthonormalityError(Vt) <= REL_TOL &&
            S.every((s, i) => s >= 0 && (i === 0 || S[i - 1]! >= s))
          );
        }),
        { numRuns: 80, seed: 7 },
      );
    });

    // -------------------------------------------------------------------------------------------
    // Cholesky and solves

    test(`${tag} cholesky: L lower-triangular with positive diagonal and ‖LLᵀ − A‖ ≤ 1e-12‖A‖`, () => {
      const rng = new Rng(10);
      const cases: [string, Matrix][] = [
        ['1×1', fromRows([[4]])],
        ['random 4', randomSpd(rng, 4)],
        ['random 30', randomSpd(rng, 30)],
        ['random 60', randomSpd(rng, 60)],
        // κ = 1e12: Cholesky still succeeds since 20·n^{3/2}·κ·ε < 1 (Demmel's sufficient condition).
        ['logspace(-12, 0)', fromRows(fixture.ill_conditioned_sym.a)],
      ];
      for (const [label, a] of cases) {
        const before = a.data.slice();
        const l = cholesky(a, opts);
        const n = a.rows;
        for (let i = 0; i < n; i++) {
          assert.ok(l.get(i, i) > 0, `${label}: diagonal ${i}`);
          for (let j = i + 1; j < n; j++) assert.equal(l.get(i, j), 0, `${label}: upper (${i}, ${j})`);
        }
        const residual = frobenius(subtract(naiveMatmul(l, l.transpose()), a)) / frobenius(a);
        assert.ok(residual <= REL_TOL, `${label}: residual ${residual}`);
        assertUnchanged(before, a, label);
      }
      assert.deepEqual(cholesky(new Matrix(0, 0), opts).shape, [0, 0]);
    });

    test(`${tag} cholesky and solveSPD match mpmath within 10·n·ε·κ₂`, async () => {
      const { a: aRows, b: bRows, l: lRows, x: xRows, cond2 } = fixture.spd;
      const a = fromRows(aRows), b = fromRows(bRows), lExact = fromRows(lRows), xExact = fromRows(xRows);
      const n = a.rows;
      const tol = 10 * n * EPS * cond2;
      const l = cholesky(a, opts);
      assert.ok(maxAbs(subtract(l, lExact)) <= tol * maxAbs(lExact), 'L');
      for (const x of [solveSPD(a, b, opts), await solveSPDAsync(a, b, opts)]) {
        assert.ok(maxAbs(subtract(x, xExact)) <= tol * maxAbs(xExact), 'X');
        assert.ok(solveResidual(a, x, b) <= REL_TOL, 'residual');
      }
      const x0 = solveSPD(a, b.col(0), opts);
      assert.ok(x0 instanceof Float64Array && x0.length === n);
      for (let i = 0; i < n; i++) assert.ok(Math.abs(x0[i]! - xExact.get(i, 0)) <= tol * maxAbs(xExact));
    });

    test(`${tag} solve (LU) matches mpmath within 10·n·ε·κ₂; vector and matrix right-hand sides`, async () => {
      const { a: aRows, b: bRows, x: xRows, cond2 } = fixture.solve_general;
      const a = fromRows(aRows), b = fromRows(bRows), xExact = fromRows(xRows);
      const tol = 10 * a.rows * EPS * cond2;
      const aBefore = a.data.slice(), bBefore = b.data.slice();
      for (const x of [solve(a, b, opts), await solveAsync(a, b, opts)]) {
        assert.ok(x instanceof Matrix);
        assert.ok(maxAbs(subtract(x, xExact)) <= tol * maxAbs(xExact), 'X');
        assert.ok(solveResidual(a, x, b) <= REL_TOL, 'residual');
      }
      assertUnchanged(aBefore, a, 'a');
      assertUnchanged(bBefore, b, 'b');
      const bVec = b.col(1);
      for (const x of [solve(a, bVec, opts), await solveAsync(a, bVec, opts)]) {
        assert.ok(x instanceof Float64Array);
        for (let i = 0; i < a.rows; i++) assert.ok(Math.abs(x[i]! - xExact.get(i, 1)) <= tol * maxAbs(xExact));
      }
    });

    test(`${tag} solve and solveSPD residuals ≤ 1e-12 on random systems, including a permutation-needing one`, () => {
      const rng = new Rng(11);
      for (const n of [1, 5, 40, 60]) {
        const a = randomMatrix(rng, n, n);
        const b = randomMatrix(rng, n, 3);
        assert.ok(solveResidual(a, solve(a, b, opts), b) <= REL_TOL, `LU n=${n}`);
        const s = randomSpd(rng, n);
        assert.ok(solveResidual(s, solveSPD(s, b, opts), b) <= REL_TOL, `SPD n=${n}`);
      }
      // A zero leading entry forces a row exchange.
      const p = fromRows([[0, 1], [1, 0]]);
      assert.deepEqual(Array.from(solve(p, Float64Array.from([2, 3]), opts)), [3, 2]);
      assert.deepEqual(solve(new Matrix(0, 0), new Matrix(0, 2), opts).shape, [0, 2]);
    });

    // -------------------------------------------------------------------------------------------
    // Pseudo-inverse

    function assertMoorePenrose(a: Matrix, x: Matrix, label: string): void {
      assert.deepEqual(x.shape, [a.cols, a.rows], `${label}: shape`);
      const ax = naiveMatmul(a, x), xa = naiveMatmul(x, a);
      const normA = frobenius(a), normX = frobenius(x);
      const c1 = frobenius(subtract(naiveMatmul(ax, a), a)) / normA;
      const c2 = frobenius(subtract(naiveMatmul(xa, x), x)) / normX;
      const c3 = frobenius(subtract(ax, ax.transpose())) / Math.max(frobenius(ax), 1);
      const c4 = frobenius(subtract(xa, xa.transpose())) / Math.max(frobenius(xa), 1);
      assert.ok(c1 <= REL_TOL, `${label}: AXA = A (${c1})`);
      assert.ok(c2 <= REL_TOL, `${label}: XAX = X (${c2})`);
      assert.ok(c3 <= REL_TOL, `${label}: (AX)ᵀ = AX (${c3})`);
      assert.ok(c4 <= REL_TOL, `${label}: (XA)ᵀ = XA (${c4})`);
    }

    test(`${tag} pinv satisfies the four Moore–Penrose conditions (full-rank and rank-deficient)`, () => {
      const rng = new Rng(12);
      const deficient = fromRows(fixture.svd_rank_deficient.a);
      const cases: [string, Matrix][] = [
        ['tall 9×4', randomMatrix(rng, 9, 4)],
        ['wide 4×9', randomMatrix(rng, 4, 9)],
        ['square 6×6', randomMatrix(rng, 6, 6)],
        ['rank-4 7×11', deficient],
        ['rank-4 11×7', deficient.transpose()],
      ];
      for (const [label, a] of cases) assertMoorePenrose(a, pinv(a, opts), label);
      // Rank is exactly 4: AX is the projector onto the 4-dimensional column space.
      const ax = naiveMatmul(deficient, pinv(deficient, opts));
      let trace = 0;
      for (let i = 0; i < ax.rows; i++) trace += ax.get(i, i);
      assert.ok(Math.abs(trace - 4) <= 1e-12, `trace(AX) = ${trace}`);
    });

    test(`${tag} pinv of a nonsingular matrix is its inverse; zero and empty matrices; rcond`, () => {
      const a = fromRows(fixture.solve_general.a);
      const inv = solve(a, Matrix.identity(a.rows), opts);
      const x = pinv(a, opts);
      const tol = 10 * a.rows * EPS * fixture.solve_general.cond2;
      assert.ok(maxAbs(subtract(x, inv)) <= tol * maxAbs(inv));
      assert.deepEqual(pinv(new Matrix(3, 2), opts), new Matrix(2, 3));
      assert.deepEqual(pinv(new Matrix(0, 2), opts).shape, [2, 0]);
      const nearlySingular = Matrix.diag([1, 1e-20]);
      assert.deepEqual(pinv(nearlySingular, opts).toArray(), [[1, 0], [0, 0]]);
      const full = pinv(nearlySingular, { rcond: 0, backend });
      assert.equal(full.get(1, 1), 1e20);
    });

    // -------------------------------------------------------------------------------------------
    // PSD square roots

    test(`${tag} sqrtPSD: R symmetric, R·R = A on random PSD matrices`, () => {
      const rng = new Rng(13);
      for (const n of [1, 6, 30]) {
        const g = randomMatrix(rng, n, Math.max(1, n - 2)); // rank-deficient for n > 2
        const a = naiveMatmul(g, g.transpose());
        const r = sqrtPSD(a, opts);
        assert.deepEqual(r.toArray(), r.transpose().toArray(), 'symmetric');
        const residual = frobenius(subtract(naiveMatmul(r, r), a)) / frobenius(a);
        assert.ok(residual <= REL_TOL, `n=${n}: ‖R² − A‖/‖A‖ = ${residual}`);
      }
    });

    test(`${tag} sqrtPSD and pinvSqrtPSD of a singular covariance with zero rows match mpmath`, () => {
      const { a: rows, sqrt, pinv_sqrt: pinvSqrt, zero_rows: zeroRows, eigenvalues } = fixture.psd_singular;
      const a = fromRows(rows);
      const n = a.rows;
      const normA = Math.max(...eigenvalues);
      // Backward error of eigh: ‖ΔA‖ ≤ c·n·ε·‖A‖ (c = 10). The square root is Hölder-½ on PSD matrices,
      // ‖√A − √B‖₂ ≤ ‖A − B‖₂^{1/2}, which bounds the error at the zero eigenvalues.
      const deltaA = 10 * n * EPS * normA;
      const r = sqrtPSD(a, opts);
      const rExact = fromRows(sqrt);
      assert.ok(maxAbs(subtract(r, rExact)) <= Math.sqrt(deltaA), `sqrt error ${maxAbs(subtract(r, rExact))}`);
      assert.ok(frobenius(subtract(naiveMatmul(r, r), a)) <= REL_TOL * frobenius(a), 'R² = A');
      for (const i of zeroRows) {
        for (let j = 0; j < n; j++) assert.ok(Math.abs(r.get(i, j)) <= Math.sqrt(deltaA), `zero row ${i}`);
      }
      // pinvSqrt: the cutoff separates the zero eigenvalues from the smallest positive one λ₊; first-order
      // perturbation gives ‖ΔW‖ ≤ ‖ΔA‖·(1/(2λ₊^{3/2}) + 2‖W‖/λ₊).
      const lambdaPlus = eigenvalues.find((v) => v > 0)!;
      const wExact = fromRows(pinvSqrt);
      const wBound = deltaA * (1 / (2 * lambdaPlus ** 1.5) + (2 * maxAbs(wExact) * n) / lambdaPlus);
      const w = pinvSqrtPSD(a, opts);
      assert.ok(maxAbs(subtract(w, wExact)) <= wBound, `pinvSqrt error ${maxAbs(subtract(w, wExact))} > ${wBound}`);
      // W A W is the orthogonal projector onto range(A): idempotent, trace = rank = 7.
      const proj = naiveMatmul(naiveMatmul(w, a), w);
      assert.ok(maxAbs(subtract(naiveMatmul(proj, proj), proj)) <= 1e-12);
      let trace = 0;
      for (let i = 0; i < n; i++) trace += proj.get(i, i);
      assert.ok(Math.abs(trace - (n - zeroRows.length)) <= 1e-12, `trace ${trace}`);
    });

    test(`${tag} sqrtPSD clamps rounding-level negative eigenvalues and rejects indefinite matrices`, () => {
      assert.deepEqual(sqrtPSD(Matrix.diag([4, -1e-14]), opts).toArray(), [[2, 0], [0, 0]]);
      assert.deepEqual(sqrtPSD(new Matrix(3, 3), opts).toArray(), new Matrix(3, 3).toArray());
      assert.throws(() => sqrtPSD(Matrix.diag([1, -0.5]), opts), (e: unknown) =>
        e instanceof NotPositiveDefiniteError && /not positive semidefinite: smallest eigenvalue -0\.5/.test(e.message));
      assert.throws(() => sqrtPSD(Matrix.diag([1, -1e-6]), opts), NotPositiveDefiniteError);
      assert.deepEqual(sqrtPSD(Matrix.diag([1, -1e-6]), { tol: 1e-5, backend }).toArray(), [[1, 0], [0, 0]]);
      assert.throws(() => pinvSqrtPSD(Matrix.diag([-2, -1]), opts), NotPositiveDefiniteError);
      assert.deepEqual(pinvSqrtPSD(Matrix.diag([4, 1e-30, 0]), opts).toArray(), [[0.5, 0, 0], [0, 0, 0], [0, 0, 0]]);
    });

    // -------------------------------------------------------------------------------------------
    // Typed errors

    test(`${tag} mismatched shapes throw ShapeError naming both shapes`, () => {
      const a = new Matrix(2, 3), b = new Matrix(4, 2);
      assert.throws(() => matmul(a, b, opts), (e: unknown) => e instanceof ShapeError && /2×3/.test(e.message) && /4×2/.test(e.message));
      assert.throws(() => matmul(a, a, { transB: false, backend }), ShapeError);
      assert.throws(() => matmul32(new Matrix32(2, 3), new Matrix32(2, 3), opts), ShapeError);
      assert.throws(() => matvec(a, new Float64Array(2), opts), ShapeError);
      assert.throws(() => eigh(a, opts), (e: unknown) => e instanceof ShapeError && /square/.test(e.message));
      assert.throws(() => cholesky(a, opts), ShapeError);
      assert.throws(() => solve(Matrix.identity(3), new Matrix(2, 1), opts), (e: unknown) => e instanceof ShapeError && /3×3/.test(e.message) && /2×1/.test(e.message));
      assert.throws(() => solve(Matrix.identity(3), new Float64Array(4), opts), ShapeError);
      assert.throws(() => solveSPD(Matrix.identity(3), new Matrix(2, 2), opts), ShapeError);
      assert.throws(() => sqrtPSD(a, opts), ShapeError);
    });

    test(`${tag} NaN and Infinity in inputs throw NonFiniteError naming the argument`, async () => {
      const bad = fromRows([[1, 2], [2, NaN]]);
      const ok = Matrix.identity(2);
      assert.throws(() => matmul(ok, bad, opts), (e: unknown) => e instanceof NonFiniteError && /\bb\b/.test(e.message) && /\(1, 1\)/.test(e.message));
      assert.throws(() => matmul32(Matrix32.fromFloat64(bad), Matrix32.fromFloat64(ok), opts), NonFiniteError);
      assert.throws(() => matvec(ok, Float64Array.from([1, Infinity]), opts), NonFiniteError);
      assert.throws(() => eigh(bad, opts), NonFiniteError);
      assert.throws(() => svd(bad, opts), NonFiniteError);
      assert.throws(() => cholesky(bad, opts), NonFiniteError);
      assert.throws(() => solve(bad, ok, opts), NonFiniteError);
      assert.throws(() => solveSPD(ok, Float64Array.from([NaN, 1]), opts), NonFiniteError);
      assert.throws(() => pinv(bad, opts), NonFiniteError);
      assert.throws(() => sqrtPSD(bad, opts), NonFiniteError);
      await assert.rejects(eighAsync(bad, opts), NonFiniteError);
      await assert.rejects(matmulAsync(bad, ok, opts), NonFiniteError);
    });

    test(`${tag} non-symmetric input to eigh/cholesky/sqrtPSD throws InvalidArgumentError "not symmetric"`, async () => {
      const a = fromRows([[2, 1], [0.5, 2]]);
      for (const f of [() => eigh(a, opts), () => cholesky(a, opts), () => sqrtPSD(a, opts), () => solveSPD(a, Matrix.identity(2), opts)]) {
        assert.throws(f, (e: unknown) => e instanceof InvalidArgumentError && /not symmetric/.test(e.message));
      }
      await assert.rejects(eighAsync(a, opts), InvalidArgumentError);
      // Rounding-level asymmetry is accepted (and symmetrised) by default; symmetryTol tightens it.
      const nearly = fromRows([[2, 1], [1 + 1e-14, 2]]);
      assertEighValid(fromRows([[2, 1 + 5e-15], [1 + 5e-15, 2]]), eigh(nearly, opts), 'nearly symmetric');
      assert.throws(() => eigh(nearly, { symmetryTol: 0, backend }), InvalidArgumentError);
    });

    test(`${tag} indefinite input to cholesky/solveSPD throws NotPositiveDefiniteError naming the leading minor`, async () => {
      const a = fromRows([[4, 2, 0], [2, 1, 0], [0, 0, 1]]); // leading minor of order 2 is 0
      assert.throws(() => cholesky(a, opts), (e: unknown) => e instanceof NotPositiveDefiniteError && /minor[^0-9]*2\b/.test(e.message));
      assert.throws(() => solveSPD(a, Matrix.identity(3), opts), NotPositiveDefiniteError);
      await assert.rejects(solveSPDAsync(a, Matrix.identity(3), opts), NotPositiveDefiniteError);
      assert.throws(() => cholesky(Matrix.diag([-1]), opts), (e: unknown) => e instanceof NotPositiveDefiniteError && /minor[^0-9]*1\b/.test(e.message));
    });

    test(`${tag} singular input to solve throws SingularMatrixError`, async () => {
      const a = fromRows([[1, 2, 3], [2, 4, 6], [1, 0, 1]]);
      assert.throws(() => solve(a, Float64Array.from([1, 2, 3]), opts), SingularMatrixError);
      await assert.rejects(solveAsync(a, Float64Array.from([1, 2, 3]), opts), SingularMatrixError);
      assert.throws(() => solve(new Matrix(2, 2), Matrix.identity(2), opts), SingularMatrixError);
    });
  });
}

// -------------------------------------------------------------------------------------------------
// Backend selection (child processes, so each sees a fresh environment and module state)

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const nativeLoadsHere = backends.some((b) => b.name === 'native');
const NOTICE = /^polyapprox: native OpenBLAS backend unavailable \(.+\); using the slower JS backend\. See README "Native backend"\.$/;

interface ChildResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs ES-module `code` in a child `node --import tsx` with `env` added to a copy of this process's env. */
function runChild(code: string, env: Record<string, string | undefined>): Promise<ChildResult> {
  const childEnv: Record<string, string | undefined> = { ...process.env };
  delete childEnv.POLYAPPROX_BACKEND;
  delete childEnv.POLYAPPROX_NATIVE_PATH;
  Object.assign(childEnv, env);
  // The parent's test runner sets NODE_TEST_CONTEXT; the child is a plain script.
  delete childEnv.NODE_TEST_CONTEXT;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', code],
      { cwd: repoRoot, env: childEnv as NodeJS.ProcessEnv, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ stdout, stderr, code: error ? (typeof error.code === 'number' ? error.code : 1) : 0 }),
    );
  });
}

const CHILD_PRELUDE = `
import { createRequire } from 'node:module';
const L = await import('./src/linalg/index.ts');
const loadedAddons = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => k.endsWith('.node')).length;
const out = {};
`;

describe('backend selection', () => {
  test('POLYAPPROX_REQUIRE_NATIVE=1 (CI) requires the native backend to be available', () => {
    if (process.env.POLYAPPROX_REQUIRE_NATIVE === '1') {
      assert.ok(nativeLoadsHere, 'native backend did not load');
    }
    assert.equal(backends.at(-1)!.name, 'js', 'the JS backend is always available, listed last');
  });

  test('environment handling, lazy loading and the one-time fallback notice (child processes)', async () => {
    const [forcedJs, fallback, nativeMissing, bogus, auto] = await Promise.all([
      runChild(`${CHILD_PRELUDE}
        out.name = L.getBackend().name; out.addons = loadedAddons();
        console.log(JSON.stringify(out));`, { POLYAPPROX_BACKEND: 'js' }),
      runChild(`${CHILD_PRELUDE}
        out.before = loadedAddons();
        out.names = [L.getBackend().name, L.getBackend().name, L.setBackend('auto').name];
        out.available = L.availableBackends().map((b) => b.name);
        out.product = L.matmul(L.Matrix.identity(2), L.Matrix.identity(2)).data[0];
        console.log(JSON.stringify(out));`, { POLYAPPROX_NATIVE_PATH: '/nonexistent/polyapprox_blas.node' }),
      runChild(`${CHILD_PRELUDE}
        for (const f of [() => L.getBackend(), () => L.setBackend('native')]) {
          try { f(); out.threw = 'nothing'; } catch (e) { (out.errors ??= []).push(e.name); }
        }
        out.fallbackToJs = L.setBackend('js').name;
        console.log(JSON.stringify(out));`, { POLYAPPROX_BACKEND: 'native', POLYAPPROX_NATIVE_PATH: '/nonexistent/polyapprox_blas.node' }),
      // Also: an explicit setBackend('js') never tries native, so it prints no notice.
      runChild(`${CHILD_PRELUDE}
        try { L.getBackend(); } catch (e) { out.error = e.name; out.message = e.message; }
        try { L.setBackend('gpu'); } catch (e) { out.setError = e.name; }
        out.explicit = [L.setBackend('js').name, L.getBackend().name];
        console.log(JSON.stringify(out));`, { POLYAPPROX_BACKEND: 'bogus', POLYAPPROX_NATIVE_PATH: '/nonexistent/polyapprox_blas.node' }),
      runChild(`${CHILD_PRELUDE}
        out.before = loadedAddons();
        out.name = L.getBackend().name;
        out.after = loadedAddons();
        console.log(JSON.stringify(out));`, {}),
    ]);
    const parse = (r: ChildResult, label: string): Record<string, unknown> => {
      assert.equal(r.code, 0, `${label} exited with ${r.code}: ${r.stderr}`);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };

    // POLYAPPROX_BACKEND=js: JS, no notice, and the addon is never loaded.
    assert.deepEqual(parse(forcedJs, 'forced js'), { name: 'js', addons: 0 });
    assert.equal(forcedJs.stderr, '');

    // Native unavailable under auto: JS everywhere and exactly one notice line.
    assert.deepEqual(parse(fallback, 'fallback'), { before: 0, names: ['js', 'js', 'js'], available: ['js'], product: 1 });
    const noticeLines = fallback.stderr.split('\n').filter((line) => line.length > 0);
    assert.equal(noticeLines.length, 1, `stderr: ${fallback.stderr}`);
    assert.match(noticeLines[0]!, NOTICE);
    assert.match(noticeLines[0]!, /\/nonexistent\/polyapprox_blas\.node/);

    // POLYAPPROX_BACKEND=native with the addon missing: BackendError on use, and no notice.
    assert.deepEqual(parse(nativeMissing, 'native missing'), { errors: ['BackendError', 'BackendError'], fallbackToJs: 'js' });
    assert.equal(nativeMissing.stderr, '');

    // An unknown POLYAPPROX_BACKEND value is an InvalidArgumentError naming the variable.
    const bogusOut = parse(bogus, 'bogus');
    assert.equal(bogusOut.error, 'InvalidArgumentError');
    assert.match(String(bogusOut.message), /POLYAPPROX_BACKEND.*"bogus"/);
    assert.equal(bogusOut.setError, 'InvalidArgumentError');
    assert.deepEqual(bogusOut.explicit, ['js', 'js']);
    assert.equal(bogus.stderr, '');

    // Default (auto): native when it loads here, loaded only on first use; JS plus the notice otherwise.
    const autoOut = parse(auto, 'auto');
    if (nativeLoadsHere) {
      assert.deepEqual(autoOut, { before: 0, name: 'native', after: 1 });
      assert.equal(auto.stderr, '');
    } else {
      assert.deepEqual(autoOut, { before: 0, name: 'js', after: 0 });
      assert.match(auto.stderr.trim(), NOTICE);
    }

  });

  test('setBackend and getBackend in this process; BackendError and InvalidArgumentError types', async () => {
    const { getBackend, setBackend, setThreads } = await import('../../src/linalg/index.js');
    const previous = getBackend();
    try {
      assert.equal(setBackend('js').name, 'js');
      assert.equal(getBackend().name, 'js');
      if (nativeLoadsHere) assert.equal(setBackend('native').name, 'native');
      else assert.throws(() => setBackend('native'), BackendError);
      assert.throws(() => setBackend('cuda' as 'js'), InvalidArgumentError);
      assert.throws(() => setThreads(0), InvalidArgumentError);
      assert.throws(() => setThreads(1.5), InvalidArgumentError);
    } finally {
      setBackend(previous.name);
    }
  });
});


describe('symmetrizeInPlace', () => {
  test('averages the two triangles of a block at any offset, across tile edges, leaving the rest alone', async () => {
    const { symmetrizeInPlace } = await import('../../src/linalg/matrix.js');
    for (const n of [1, 2, 63, 64, 65, 130]) {
      const offset = 7;
      const data = Float64Array.from({ length: offset + n * n + 3 }, (_, i) => Math.sin(i * 1.7) * 10);
      const before = data.slice();
      symmetrizeInPlace(data, n, offset);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const want = 0.5 * (before[offset + i * n + j]! + before[offset + j * n + i]!);
          assert.equal(data[offset + i * n + j], want, `n ${n} (${i}, ${j})`);
        }
      }
      for (let i = 0; i < offset; i++) assert.equal(data[i], before[i]);
      for (let i = offset + n * n; i < data.length; i++) assert.equal(data[i], before[i]);
    }
  });
});

describe('principalSubmatricesInPlace', () => {
  test('writes A[keep, keep] of every block to the front, as the copies would', async () => {
    const { principalSubmatricesInPlace } = await import('../../src/linalg/matrix.js');
    for (const [n, count, keep] of [[5, 1, [0, 2, 4]], [6, 3, [1, 2, 3, 5]], [4, 2, [0, 1, 2, 3]], [3, 2, [2]], [3, 1, []]] as const) {
      const blocks = Float64Array.from({ length: count * n * n }, (_, i) => i + 0.5);
      const before = blocks.slice();
      const m = keep.length;
      const out = principalSubmatricesInPlace(blocks, count, n, Int32Array.from(keep));
      assert.equal(out.length, count * m * m);
      assert.equal(out.buffer, blocks.buffer);
      for (let b = 0; b < count; b++) {
        for (let r = 0; r < m; r++) {
          for (let c = 0; c < m; c++) assert.equal(out[b * m * m + r * m + c], before[b * n * n + keep[r]! * n + keep[c]!], `n ${n} block ${b} (${r}, ${c})`);
        }
      }
    }
  });

  test('refuses unsorted or out-of-range indices and too short storage', async () => {
    const { principalSubmatricesInPlace } = await import('../../src/linalg/matrix.js');
    const { InvalidArgumentError, ShapeError } = await import('../../src/errors.js');
    const a = new Float64Array(9);
    assert.throws(() => principalSubmatricesInPlace(a, 1, 3, Int32Array.of(1, 0)), InvalidArgumentError);
    assert.throws(() => principalSubmatricesInPlace(a, 1, 3, Int32Array.of(1, 1)), InvalidArgumentError);
    assert.throws(() => principalSubmatricesInPlace(a, 1, 3, Int32Array.of(0, 3)), InvalidArgumentError);
    assert.throws(() => principalSubmatricesInPlace(a, 1, 3, Int32Array.of(-1)), InvalidArgumentError);
    assert.throws(() => principalSubmatricesInPlace(a, 2, 3, Int32Array.of(0)), ShapeError);
  });
});

describe('assertFinite', () => {
  test('finds NaN and ±∞ at every position (typed fast paths and the generic one) and names the first index', async () => {
    const { assertFinite } = await import('../../src/linalg/matrix.js');
    const { NonFiniteError } = await import('../../src/errors.js');
    for (const n of [1, 3, 4, 5, 9]) {
      const kinds: [string, (xs: number[]) => ArrayLike<number>][] = [
        ['Float64Array', (xs) => Float64Array.from(xs)], ['Float32Array', (xs) => Float32Array.from(xs)], ['Array', (xs) => xs],
      ];
      for (const [kind, make] of kinds) {
        const clean = Array.from({ length: n }, (_, i) => (i % 2 ? -1.5e30 : 2.5) * (i + 1));
        assert.doesNotThrow(() => assertFinite(make(clean), 'x'), `${kind} n ${n}`);
        assert.doesNotThrow(() => assertFinite(make(clean.map(() => -0)), 'x'));
        for (let at = 0; at < n; at++) {
          for (const bad of [Number.NaN, Infinity, -Infinity]) {
            const xs = clean.slice();
            xs[at] = bad;
            if (at + 1 < n) xs[n - 1] = Number.NaN;
            const first = Math.min(at, at + 1 < n ? n - 1 : at);
            assert.throws(() => assertFinite(make(xs), 'the input'), (e: unknown) => e instanceof NonFiniteError
              && e.message === `the input contains a non-finite value (${xs[first]}) at flat index ${first}`, `${kind} n ${n} at ${at} ${bad}`);
          }
        }
      }
    }
  });
});
