/**
 * The exact least-squares quadratic approximant under a weighted Gaussian mixture Σ_k π_k N(μ_k, Σ_k) for large d
 * (MNIST: d = 784, K = 10), by block preconditioned conjugate gradients, without forming the normal equations.
 *
 * Unknowns per output: θ = (a, b, S), S symmetric, representing p(x) = a + bᵀx + xᵀSx, with the inner product
 * ⟨θ, θ'⟩ = a a' + bᵀb' + ⟨S, S'⟩_F. The moment operator
 *
 *     A θ = (E p, E[x p], E[x xᵀ p])          (E = Σ_k π_k E_k)
 *
 * is self-adjoint and positive semi-definite in that inner product (⟨θ', A θ⟩ = E[p' p]), and the least-squares fit
 * of an output f solves A θ = r with r = (E f, E[x f], E[x xᵀ f]): the same θ as the dense normal equations.
 *
 * - Operator, per component N(μ, Σ): E p = a + bᵀμ + tr(SΣ) + μᵀSμ, Cov(x, p) = Σ(b + 2Sμ) (Stein), and
 *   E[x xᵀ p] = 2ΣSΣ + E p·(Σ + μμᵀ) + μ Cov(x,p)ᵀ + Cov(x,p) μᵀ. Coordinates whose covariance row is zero off the
 *   diagonal (pixels that are constant within a class, kept alive only by the ridge) are split off exactly, so the
 *   products run on the coupled coordinates A only (MNIST: ~570 of 784 per class); those decoupled with one variance
 *   in most components (MNIST: 192 pixels, 67 of them in every class) get their cross products with the coupled ones
 *   from one product for all components ({@link SharedDecoupledRows}). The outputs are gathered
 *   interleaved (native sub-block copies, linalg/copyRuns.ts) so that each product serves the whole block, and
 *   ΣSΣ on A×A is C(UC) + (C(UC))ᵀ with U the upper triangle of S: a triangular product and one GEMM, 1.5 a³
 *   multiply-adds per output instead of 2 a³. With the native backend the components run in two lanes of about
 *   equal work, each on half the BLAS threads, so that one lane's copies and JavaScript overlap the other's products.
 * - Right-hand side, per component (Stein's lemma to second order): E[f (x − μ)] = Σ E[∇f] and
 *   E[f (x − μ)(x − μ)ᵀ] = Σ E[∇²f] Σ + E f·Σ, with E[∇²f_o] = 2Γ_o taken from the factored single-Gaussian fit
 *   (Σ Γ_o Σ = (DΣ)ᵀ Y_o with D the hidden directions), never a dense h·d² object.
 * - Preconditioner (pooledPreconditioner.ts): the operator of the pooled Gaussian N(μ̄, Σ̄) (the mixture's mean and
 *   covariance), inverted in closed form in Hermite coordinates y = x − μ̄ ('pooled'; exact when K = 1). The default,
 *   'scaled-pooled', rescales its quadratic block to the mixture's fourth moments pixel pair by pixel pair, and
 *   coordinates that vary in at most `rareComponents` (default 3) of the components get an exactly modelled row
 *   block each (MNIST: 104 border pixels).
 * - Deflation: the pooled inverse is wrapped in an A-DEF2 deflation (Tang, Nabben, Vuik & Erlangga 2009) whose
 *   coarse problem is solved exactly at every iteration. The pooled Gaussian gets the mixture's moments wrong mostly
 *   through the spread of the class means: it makes affine and centred quadratic parts orthogonal, which the mean
 *   spread couples, and it underweights the quadratics x·(δᵀx) along the mean directions δ_k = μ_k − μ̄.
 *   'affine' (coarseDeflation.ts) deflates the affine functions through the mixture's (d+1)×(d+1) second-moment
 *   matrix, nearly free; 'mean' (coarseDeflation.ts) adds the mean-direction quadratics, dimension 1 + d + d·J
 *   (J ≤ K − 1; MNIST 7841), with a dense coarse matrix in closed form (≈ 7 s and ≈ 1 GB at MNIST size) and ≈ 0.2 s
 *   more per iteration there; the coordinates independent of the component (coordinateSplit.ts) leave it before the
 *   factorisation (MNIST: 7171 kept). Default 'auto': 'mean' up to dimension 8192, else 'affine'.
 *   Every (re)start first applies the exact coarse correction; its image AΦc comes in closed form with it
 *   (coarseDeflation.ts), so the corrected residual costs no operator application (≈ 0.2 s instead of ≈ 1.3–2 s at
 *   MNIST size).
 * - Convergence (measured with bench/mixture.ts, native backend, 2 cores):
 *   - d = 196 (MNIST 14×14, random 196→256→10 ReLU, Σ_k + 1e-6·I), operator applications to 1e-8 (seconds):
 *     default (scaled-pooled, row blocks, mean deflation) 59 with residual smoothing, 67 without (65 with an
 *     older version); before the row blocks: 'scaled-pooled' —
 *     none 150 (28.2 s), affine 97 (17.8 s), mean 66 (16.4 s); 'pooled' — affine 324 (52.6 s), mean 249 (47.4 s)
 *     (those with the slower operator of the time).
 *   - d = 784 (quick preset's last checkpoint, Σ_k + 1e-6·I), mean-direction deflation, block solve to 1e-8:
 *     default (final code: residual smoothing, and its passes, the preconditioner's centring and scaling and the
 *     decoupled block through BLAS and the dscaleShiftRows kernel instead of JavaScript loops) 91 applications
 *     (per output 70–90), 166.0 s (reference GEMM 79 GF/s before the solve, 51 after; set-up 11.8 s, operator
 *     94.0 s, preconditioner 46.6 s, the rest 13.6 s), 174.6 s (GEMM 104/104 GF/s) and 184.7 s (GEMM 59/57 GF/s),
 *     peak RSS 2.61–2.69 GiB (a fourth run, 218.0 s, had a type-check competing with its set-up; on a slow day, GEMM
 *     53–65 GF/s, 235.4 s). Session 8 cut ≈ 8 % off an iteration at equal machine speed (the preconditioner's isolated
 *     pixels and triangle product, the deflation's direction rows as products, one Hadamard pass for the decoupled
 *     products, PᵀAP and PᵀR at once): six runs 150.5, 163.0, 165.0, 165.2, 179.4 and 187.6 s at GEMM 50–103 GF/s
 *     (set-up 10.7–13.0 s, operator 88–114 s, preconditioner 39–47 s, the rest 12.0–14.3 s). Session 9 removed the
 *     operator application of the coarse start (89 applications instead of 90) and measured, without a gain: the
 *     triangle step of ΣSΣ as strided GEMMs over block rows instead of dtrmm (paired in-process A/B over 30
 *     applications with two lanes: +22 ± 32 ms), the coarse Cholesky solves on the factor in place (the backward
 *     sweep's transposed panels are ≈ 2× slower in OpenBLAS's skinny GEMM: 194–199 vs 120–131 ms per solve), and dsymm
 *     for the rare-pixel rows (115 vs 80 ms for the 104 products: it reads half the matrix but packs it slowly).
 *     Session 10 made an application ≈ 10 % cheaper (the shared cross products: paired A/Bs −74 ± 28 and −60 ± 24 ms
 *     per application of the operator) and the coarse space 670 coordinates smaller (set-up ≈ 1–3 s less, the
 *     deflated preconditioner −40 ± 16 ms per application); 89–90 applications (by rounding at the last iteration: 90
 *     with the full coarse space as well), 158.5 s at a reference GEMM of 51–61 GF/s where session 9's code took
 *     189.5–193.5 s at 53–61 GF/s. Full A-reorthogonalisation of every search block against all
 *     earlier ones (an experiment, 9.2 GiB) took 84 applications instead of 89–90: the loss of orthogonality costs
 *     ≈ 6 %, less than any reorthogonalisation would (≈ 30–40 ms per stored block and iteration). With the
 *     smoothing alone: 90 applications, 218.6 s and 230.0 s (GEMM 56–58 GF/s; operator 118–126 s, preconditioner
 *     64–67 s, the rest 23–24 s), against ≈ 255 s for the code before it on a day as slow; smoothing from the first
 *     iteration instead of near the tolerance gave the same 90 (234.5 s, GEMM 49–57 GF/s).
 *     Before the smoothing: default ('scaled-pooled' with the rare-coordinate row blocks, 104 of them) 103 applications (per output
 *     77–102; the count moves between 103 and 110 with rounding), 178.7 s and 189.5 s in two runs of the final code
 *     (set-up 10.9–11.9 s, operator 100–106 s, preconditioner 54–56 s, the rest of the iterations 15 s; ≈ 1.8 s
 *     per full block iteration), 2.4e-8 at 180 s, peak RSS 2.63 GiB; earlier versions of the same round 191–236 s
 *     on a machine whose GEMM rate varied by up to 1.8×. The same solve took 351 s before the operator's
 *     products were batched over the outputs and its gathers and scatters moved to native code (≈ 3.9 s per
 *     iteration: the JavaScript copies then cost as much as the products). The operator's two lanes (later) cut an
 *     application by 5–13 % (three in-process A/Bs); on a slow day (reference GEMM 58–68 instead
 *     of ≈ 100 GF/s) the code before them took 254.5 s (103 applications) and the code with them 255.0 s and
 *     261.5 s (110 and 106: more iterations by rounding, ≈ 6 % less per iteration). With J = 5 instead of 9 mean
 *     directions: 144 applications, 230 s; with the affine coarse space only: 3.8e-6 after 60 applications.
 *     Without the row blocks (rareComponents 0, older operator) 168 applications, 434 s; 'pooled' without row
 *     blocks 6.4e-7 after 60 and 1.3e-7 after 120 applications; without deflation ('pooled') 1.2e-4 at 180 s.
 *   Why the last decades are slow (Lanczos values from single-output PCG at d = 784): the top of the
 *   preconditioned spectrum is a few outliers found within 20 iterations (43 with 'pooled', 14.6 with
 *   'scaled-pooled'); what keeps CG going is a dense bottom, Ritz values still falling through 2–3e-3 after 200
 *   iterations. The bottom Ritz vectors are quadratics u(x)·v(x) of pixel groups that no class lights together
 *   (e.g. u on the bottom row, lit only by 7s and 9s, and v on top pixels no 7 lights), whose mixture moments come
 *   from the 1e-6 ridge and from rare digits, far below the pooled Gaussian's. With Σ_k + 1e-4·I the same
 *   single-output solve reaches 1e-8 in 60 iterations instead of 145 (at 1e-4-level residuals the two ridges look
 *   alike, which once suggested otherwise). The rare-coordinate row blocks (pooledPreconditioner.ts) model exactly
 *   the rows of such border pixels and take the single-output count to ≈ 97; what remains are the same products
 *   for pixels lit in more classes, where a row model loses to the pooled one. Tried against it without a gain:
 *   a class-adapted inverse in whitened coordinates (exclusive class subspaces
 *   X_c with S ↦ S M_c on X_c × rest, Hadamard weights on X × X), a Jacobi block on the pixel pairs whose mixture
 *   moment is below 2–10 % of the pooled one (bottom Ritz value ×4, but the top rose to 44–91), and adding the top
 *   class-exclusive whitened directions to the mean-direction coarse space (J = 17: no change). Pairs never lit
 *   together in any class at all carry only 1–2 % of the bottom Ritz vectors' energy.
 *   Also tried and measured without a wall-clock gain: Hadamard (Jacobi) preconditioners in the pooled,
 *   jointly-diagonalised (JADE) and pixel bases, additive per-class inverses, two-group generalised-eigenvector
 *   inverses, a coarse space of top pooled PCs, an A-DEF2 deflation of the top 9–40 principal directions of every
 *   class (16 % fewer iterations at d = 196, none at d = 784, at twice the cost per iteration), and float32 matrix
 *   products with float64 residual replacement (1.9× faster GEMMs, but at d = 784 it needed 137 applications to
 *   reach what float64 reaches in 82 — the ridge-level moments that set the late rate are below float32's
 *   resolution). Measured in numpy at d = 196 but not built: geometric coarse spaces (quadratics in 2×2-pooled
 *   pixels) catch only 5–9 % of the remaining error.
 *   Bound the time with `maxSeconds` and `throwOnNonConvergence: false` to keep the iterate reached. CG minimises
 *   E[(p − p*)²] = E[(f − p)²] − E[(f − p*)²] over growing Krylov spaces, so the iterate's exact FVU (e.g. from
 *   `mixtureVarianceReport`) decreases monotonically and bounds the optimum's from above.
 * - Solver: breakdown-free block PCG (Ji & Li, BIT 2017) over the outputs: one block Krylov space serves all
 *   outputs, the search block is re-orthonormalised (dropping dependent directions), and outputs leave the block
 *   once their relative residual ‖r − Aθ‖/‖r‖ ≤ tol. Near the tolerance each output's iterates go through minimal
 *   residual smoothing (residualSmoothing.ts): the solve stops on, and returns, the smoothed iterate, whose residual
 *   is 0.4–0.8 of CG's in the late iterations (MNIST, d = 784: 90–91 operator applications instead of 103–110,
 *   since CG minimises the A-norm of the error, not the residual norm the tolerance is stated in). On convergence the true
 *   residual r − Aθ is recomputed (one more operator application) and the iteration restarts from it if rounding
 *   let the recurrence drift.
 * - Ridge: a mixture with singular component covariances makes the normal equations singular. Every component
 *   covariance then becomes Σ_k + εI (see {@link MixtureKrylovOptions.ridge}); the fit is the exact least-squares
 *   quadratic under that regularised mixture (the right-hand side uses it too). The data helpers
 *   (`classConditionalMixture`) already add the MNIST study's 1e-6·I, in which case the automatic rule adds nothing.
 */
import { ConvergenceError, NonFiniteError, InvalidArgumentError, NotPositiveDefiniteError, ShapeError } from '../../errors.js';
import type { LinAlgBackend } from '../../linalg/backend.js';
import { getBackend } from '../../linalg/index.js';
import { runInLanes } from '../../linalg/lanes.js';
import { Matrix, symmetrizeInPlace } from '../../linalg/matrix.js';
import { cholesky, eigh, solveSPD } from '../../linalg/ops.js';
import { Gaussian, GaussianMixture } from '../inputModel.js';
import type { Network } from '../network.js';
import { inputDim, outputDim } from '../network.js';
import { PolynomialApproximant, type FactoredGamma } from '../result.js';
import { splitCoordinates } from './coordinateSplit.js';
import { ResidualSmoother } from './residualSmoothing.js';
import { blockRowOffsets, columnRunTable, copyPlan, indexRuns, runCopyPlan, type CopyPlan } from '../../linalg/copyRuns.js';
import { checkRareComponents, DEFAULT_RARE_COMPONENTS, pooledGaussianPreconditioner, type MixturePreconditioner } from './pooledPreconditioner.js';
import { affineDeflation, MEAN_DEFLATION_MAX_DIM, meanDirectionCoarseDim, meanDirectionDeflation } from './coarseDeflation.js';
import { fitLinearGaussian, fitQuadraticGaussian, outputMean } from './gaussian.js';
import {
  addAffineMoments, blockGemm, columnNorms, copyBlock, meanTerms, quadraticBlockGram, quadraticBlockGrams, releaseBlock, replicatePlan, scatterColumns, selectColumns, symmetrizeBlock,
  uninitialisedQuadraticBlock, upperTriangleProducts, zeroQuadraticBlock,
  type MomentOperator, type MomentPreconditioner, type QuadraticBlock,
} from './quadraticBlock.js';

export { quadraticBlockGram, zeroQuadraticBlock, type MomentOperator, type MomentPreconditioner, type QuadraticBlock };
export { DEFAULT_RARE_COMPONENTS, pooledGaussianPreconditioner, rareCoordinates, type MixturePreconditioner } from './pooledPreconditioner.js';

/** Default stopping tolerance on the relative residual ‖r − Aθ‖/‖r‖ of every output. */
export const DEFAULT_KRYLOV_TOL = 1e-8;
/** Default cap on operator applications (block iterations). */
export const DEFAULT_KRYLOV_MAX_ITERATIONS = 500;
/** The automatic ridge is this multiple of the mean diagonal of the pooled covariance, tr(Σ̄)/d. */
export const AUTO_RIDGE_RELATIVE = 1e-6;

/** Coarse-space deflations of {@link fitQuadraticMixtureKrylov} (see {@link MixtureKrylovOptions.deflation}). */
export type MixtureDeflation = 'auto' | 'mean' | 'affine' | 'none';

export interface MixtureKrylovOptions {
  /** Stop when every output's relative residual ‖r − Aθ‖/‖r‖ is at most this. Default 1e-8. */
  tol?: number;
  /** Block iterations (operator applications on search blocks) allowed. Default 500. */
  maxIterations?: number;
  /**
   * Wall-clock budget of the whole solve in seconds, setup (deflation, right-hand side) included; checked before every
   * iteration. Default: unlimited.
   */
  maxSeconds?: number;
  /**
   * When the budget runs out before `tol` is reached: throw a ConvergenceError (default true), or return the current
   * iterate with `converged: false` and its true residuals.
   */
  throwOnNonConvergence?: boolean;
  /**
   * ε added to every component covariance (Σ_k + εI), in squared input units, or 'auto' (default): no ridge when
   * every component covariance has smallest eigenvalue above ε_auto = 1e-6·tr(Σ̄)/d (Σ̄ the pooled covariance), and
   * ε_auto otherwise. With ε = 0 all components should be positive definite, or at least the pooled covariance
   * must be (it is inverted by the preconditioner); then the solution is one of the minimisers.
   */
  ridge?: number | 'auto';
  /**
   * Default 'scaled-pooled' (the pooled-Gaussian inverse with the fourth-moment rescaling of the quadratic block;
   * without the row blocks it needs 168 operator applications to 1e-8 at d = 784, where 'pooled' is still at 1.3e-7
   * after 120); 'pooled' without the rescaling.
   */
  preconditioner?: MixturePreconditioner;
  /**
   * Coordinates that vary in at least one and at most this many components (and not in all) get their own row block
   * in the preconditioner, modelled exactly (pooledPreconditioner.ts): MNIST's border pixels, whose products with the
   * pixels their classes leave dark set the late convergence rate. Default 3; 0 turns it off.
   */
  rareComponents?: number;
  /**
   * Coarse-space deflation of the preconditioner (A-DEF2; the coarse problem is solved exactly at every iteration):
   * 'mean' — the affine functions plus the quadratics x·(δᵀx) along the class-mean directions δ (coarseDeflation.ts;
   * dimension 1 + d + d·J, J ≤ K − 1; at MNIST size ≈ 8 s of setup and 1 GB at its peak, then far fewer iterations);
   * 'affine' — the affine functions only (coarseDeflation.ts; dimension d + 1, nearly free); 'none' — the pooled
   * inverse alone. Default 'auto': 'mean' when its dimension is at most 8192, else 'affine'.
   */
  deflation?: MixtureDeflation;
  /**
   * Minimal residual smoothing of the CG iterates (residualSmoothing.ts): the solve stops on, and returns, the
   * smoothed iterate, whose residual norm is never above CG's. Default true (MNIST, d = 784: 90–91 operator
   * applications to 1e-8 instead of 103–110); false returns the plain CG iterate.
   */
  residualSmoothing?: boolean;
  /** Called after every operator application with its count and the largest relative residual of the outputs. */
  onIteration?: (iteration: number, residual: number) => void;
  /** Linear-algebra backend; default `getBackend()`. */
  backend?: LinAlgBackend;
}

export interface MixtureKrylovResult {
  /** The fit, with dense Γ (one d×d matrix per output). */
  approx: PolynomialApproximant;
  /** False only when the budget ran out and `throwOnNonConvergence` is false. */
  converged: boolean;
  /**
   * Per output: the operator application at which its residual reached `tol` (0 for an output with zero moments,
   * −1 if it did not converge).
   */
  iterations: number[];
  /** Per output: the final relative residual ‖r − Aθ‖/‖r‖, recomputed from θ (not the recurrence). */
  residuals: number[];
  /** Operator applications in total, including the final true-residual check(s). */
  operatorApplications: number;
  /** The ε actually added to every component covariance. */
  ridge: number;
  /** The deflation used ('auto' resolved). */
  deflation: 'mean' | 'affine' | 'none';
  seconds: number;
  /**
   * Where the seconds went: set-up (preconditioner, deflation and right-hand side), operator applications,
   * preconditioner applications (including coarse solves), and the rest of the iteration (block updates, norms).
   */
  timings: MixtureKrylovTimings;
}

/** See {@link MixtureKrylovResult.timings}. */
export interface MixtureKrylovTimings {
  setupSeconds: number;
  operatorSeconds: number;
  preconditionerSeconds: number;
  otherSeconds: number;
}

// ---------------------------------------------------------------------------------------------------------------
// The moment operator

/** One component, with its coordinates split into coupled ones (A) and ones with a diagonal covariance row (Ā). */
interface ComponentOperatorData {
  weight: number;
  mean: Float64Array;
  /** Dense Σ [d, d]. */
  cov: Float64Array;
  coupled: Int32Array;
  decoupled: Int32Array;
  /** Σ[A, A] [a, a]. */
  coupledCov: Float64Array;
  /** diag Σ[Ā] [d − a]. */
  decoupledVar: Float64Array;
  /**
   * The rows t whose cross products S[t, A]Σ[A, A] this component adds itself, ascending, and their weights: the
   * coordinates of Ā that are not shared, with 4πv_t, and the coupled coordinates that are shared, with −4πv_t (see
   * {@link SharedDecoupledRows}).
   */
  crossRows: Int32Array;
  crossScale: Float64Array;
  /** A followed by the cross rows. */
  rowOrder: Int32Array;
  /** Column runs of A: gathering full rows into packed ones, and scattering packed rows back. */
  gatherCoupled: Int32Array;
  scatterCoupled: Int32Array;
  /** Copy plans per block size (see {@link componentPlans}). */
  plans: Map<number, ComponentPlans>;
}

function componentOperatorData(g: Gaussian, weight: number): ComponentOperatorData {
  const d = g.dim;
  const cov = g.covariance().data;
  const { coupled, decoupled } = splitCoordinates(cov, d);
  const a = coupled.length;
  const coupledCov = new Float64Array(a * a);
  for (let i = 0; i < a; i++) for (let j = 0; j < a; j++) coupledCov[i * a + j] = cov[coupled[i]! * d + coupled[j]!]!;
  const decoupledVar = Float64Array.from(decoupled, (i) => cov[i * d + i]!);
  const A = indexRuns(coupled);
  return {
    weight, mean: g.mean, cov, coupled, decoupled, coupledCov, decoupledVar,
    crossRows: decoupled, crossScale: decoupledVar.map((v) => 4 * weight * v),
    rowOrder: Int32Array.from([...coupled, ...decoupled]),
    gatherCoupled: columnRunTable(A, true), scatterCoupled: columnRunTable(A, false), plans: new Map(),
  };
}

/**
 * Rows whose cross products with the coupled coordinates are cheaper summed over the components. Component k adds
 * 4π_k v S[t, A_k]Σ_k[A_k, A_k] to row t of E[x xᵀ p] for every t decoupled in it with variance v (see
 * {@link addCovarianceSandwich}), that is 4v·S[t, ·]·π_kΣ̂_k with Σ̂_k the covariance zeroed outside A_k × A_k. When
 * t is decoupled with one variance v_t in a set D_t of components and coupled in the others N_t, the sum over D_t is
 * 4v_t·S[t, ·](Σ̂ − Σ_{k∈N_t} π_kΣ̂_k) with Σ̂ = Σ_k π_kΣ̂_k (non-zero only on the union U of the A_k): one shared
 * product [n·s, u]·[u, u] for all such rows, and in each component of N_t the row t again with weight −4π_k v_t,
 * instead of one row per component of D_t. A row is shared when that costs fewer multiply-adds, u² + Σ_{N_t} a_k²
 * against Σ_{D_t} a_k². MNIST: the 67 pixels no training image lights (D_t all ten classes) and 125 more that are
 * dark in most classes, 192 rows; the cross products of all components take 3.4 instead of 6.9 G multiply-adds for
 * ten outputs (0.99 shared, 0.97 taken back out, 1.41 still per component). Paired in-process A/Bs: the 67 pixels
 * alone −74 ± 28 ms per application, the other 125 a further −60 ± 24 ms.
 */
interface SharedDecoupledRows {
  rows: Int32Array;
  /** 4v_t per row. */
  scale: Float64Array;
  /** U, ascending, and Σ̂ on U × U. */
  cols: Int32Array;
  cov: Float64Array;
  gather: Int32Array;
  scatter: Int32Array;
  plans: Map<number, { gather: CopyPlan; scatter: CopyPlan }>;
}

/**
 * Chooses the shared rows (null if none pays) and sets every component's own cross rows accordingly (module-level
 * documentation of {@link SharedDecoupledRows}).
 */
function sharedDecoupledRows(comps: ComponentOperatorData[], d: number): SharedDecoupledRows | null {
  if (comps.length === 0) return null;
  const inUnion = new Uint8Array(d);
  for (const c of comps) for (const i of c.coupled) inUnion[i] = 1;
  const u = inUnion.reduce((n, v) => n + v, 0);
  // variance[k][t]: the variance of t in component k if t is decoupled there, else NaN.
  const variance = comps.map((c) => {
    const v = new Float64Array(d).fill(NaN);
    c.decoupled.forEach((t, i) => { v[t] = c.decoupledVar[i]!; });
    return v;
  });
  const rows: number[] = [];
  const scale: number[] = [];
  for (let t = 0; t < d; t++) {
    const D = comps.map((_, k) => k).filter((k) => !Number.isNaN(variance[k]![t]!));
    if (D.length === 0) continue;
    const v = variance[D[0]!]![t]!;
    if (!D.every((k) => variance[k]![t] === v)) continue;
    let own = 0;
    let shared = u * u;
    comps.forEach((c, k) => {
      if (Number.isNaN(variance[k]![t]!)) shared += c.coupled.length ** 2;
      else own += c.coupled.length ** 2;
    });
    if (shared < own) {
      rows.push(t);
      scale.push(4 * v);
    }
  }
  if (rows.length === 0) return null;
  const sharedVar = new Float64Array(d).fill(NaN);
  rows.forEach((t, i) => { sharedVar[t] = scale[i]! / 4; });
  for (const c of comps) {
    // Own decoupled rows that are not shared (weight 4πv), and coupled rows that are (weight −4πv_t), ascending.
    const cross: [number, number][] = [];
    c.decoupled.forEach((t, i) => {
      if (Number.isNaN(sharedVar[t]!)) cross.push([t, 4 * c.weight * c.decoupledVar[i]!]);
    });
    for (const t of c.coupled) if (!Number.isNaN(sharedVar[t]!)) cross.push([t, -4 * c.weight * sharedVar[t]!]);
    cross.sort((p, q) => p[0] - q[0]);
    c.crossRows = Int32Array.from(cross, ([t]) => t);
    c.crossScale = Float64Array.from(cross, ([, w]) => w);
    c.rowOrder = Int32Array.from([...c.coupled, ...c.crossRows]);
  }
  const cols = Int32Array.from(Array.from(inUnion.keys()).filter((i) => inUnion[i] === 1));
  const position = new Int32Array(d).fill(-1);
  cols.forEach((i, p) => { position[i] = p; });
  const cov = new Float64Array(u * u);
  for (const c of comps) {
    const a = c.coupled.length;
    for (let i = 0; i < a; i++) {
      const row = position[c.coupled[i]!]! * u;
      for (let j = 0; j < a; j++) cov[row + position[c.coupled[j]!]!]! += c.weight * c.coupledCov[i * a + j]!;
    }
  }
  const U = indexRuns(cols);
  return {
    rows: Int32Array.from(rows), scale: Float64Array.from(scale), cols, cov,
    gather: columnRunTable(U, true), scatter: columnRunTable(U, false), plans: new Map(),
  };
}

/** out_q[t, U] += 4v_t·S_q[t, ·]Σ̂ for the shared decoupled rows t (see {@link SharedDecoupledRows}). */
async function addSharedCrossProducts(shared: SharedDecoupledRows, x: QuadraticBlock, out: QuadraticBlock, backend: LinAlgBackend): Promise<void> {
  const d = x.dim;
  const s = x.count;
  const d2 = d * d;
  const n = shared.rows.length;
  const u = shared.cols.length;
  if (u === 0) return;
  let plans = shared.plans.get(s);
  if (plans === undefined) {
    const scale = new Float64Array(n * s);
    for (let q = 0; q < s; q++) scale.set(shared.scale, q * n);
    plans = {
      gather: copyPlan(blockRowOffsets(n, s, 'tq', (t, q) => [q * d2 + shared.rows[t]! * d, (t * s + q) * u]), shared.gather, false),
      scatter: copyPlan(blockRowOffsets(n, s, 'qt', (t, q) => [(t * s + q) * u, q * d2 + shared.rows[t]! * d]), shared.scatter, true, scale),
    };
    shared.plans.set(s, plans);
  }
  const G = new Float64Array(n * s * u);
  const Y = new Float64Array(n * s * u);
  runCopyPlan(backend, plans.gather, x.S, G);
  await backend.dgemmAsync(false, false, n * s, u, u, 1, G, shared.cov, 0, Y);
  runCopyPlan(backend, plans.scatter, Y, out.S);
}

/**
 * The copies of one operator application for a block of s outputs, in the interleaved layout of
 * {@link addCovarianceSandwich}: row (i, q) of the gathered block is S_q[rowOrder_i, A], at (i·s + q)·a. Every plan
 * lists its rows in increasing destination order, so that native copies may split them between two threads.
 */
interface ComponentPlans {
  /** S_q[rowOrder_i, A] → G[(i, q), ·]. */
  gather: CopyPlan;
  /** out_q[A_i, A] += Z[i, q·a + ·]. */
  scatter: CopyPlan;
  /** out_q[t, A] += w_t·Y[a + t, q·a + ·] for the component's cross rows t and their weights w_t (crossScale). */
  cross: CopyPlan;
  /** C = Σ[A, A] into every block of W [a, s·a]: W[i, q·a + ·] = C[i, ·]. */
  replicateCov: CopyPlan;
}

function componentPlans(c: ComponentOperatorData, d: number, s: number): ComponentPlans {
  const cached = c.plans.get(s);
  if (cached !== undefined) return cached;
  const a = c.coupled.length;
  const e = c.crossRows.length;
  const d2 = d * d;
  const crossScale = new Float64Array(e * s);
  for (let q = 0; q < s; q++) crossScale.set(c.crossScale, q * e);
  const plans: ComponentPlans = {
    gather: copyPlan(blockRowOffsets(a + e, s, 'tq', (i, q) => [q * d2 + c.rowOrder[i]! * d, (i * s + q) * a]), c.gatherCoupled, false),
    scatter: copyPlan(blockRowOffsets(a, s, 'qt', (i, q) => [i * s * a + q * a, q * d2 + c.coupled[i]! * d]), c.scatterCoupled, true),
    cross: copyPlan(blockRowOffsets(e, s, 'qt', (t, q) => [(a + t) * s * a + q * a, q * d2 + c.crossRows[t]! * d]), c.scatterCoupled, true, crossScale),
    replicateCov: replicatePlan(a, s),
  };
  c.plans.set(s, plans);
  return plans;
}

/**
 * The moment operator A θ = (E p, E[x p], E[x xᵀ p]) of a mixture (components with zero weight are skipped), applied
 * to a block of polynomials at once. Cost per application: about 2·Σ_k a_k²(d + a_k)·count flops, a_k the number
 * of coupled coordinates of component k (a_k = d for a generic covariance: 4d³ per output and component).
 *
 * `lanes` (default 'auto'): 2 splits the components between two lanes that run concurrently, each on half the BLAS
 * threads, so that one lane's copies and JavaScript overlap the other's products (MNIST, d = 784, 2 threads: 5–13 %
 * less time per application than one lane, medians of three in-process A/Bs: 1271 vs 1345, 1391 vs 1597 and
 * 1448 vs 1569 ms); 'auto' uses 2 when the backend computes off the main thread (native) and there are two
 * components. With fewer than two BLAS threads the lanes run in turn. The result does not depend on the lanes
 * beyond rounding.
 */
export function mixtureMomentOperator(
  mix: GaussianMixture, backend: LinAlgBackend = getBackend(), lanes: 1 | 2 | 'auto' = 'auto',
): MomentOperator {
  const d = mix.dim;
  const comps: ComponentOperatorData[] = [];
  mix.components.forEach((g, k) => {
    if (mix.weights[k]! > 0) comps.push(componentOperatorData(g, mix.weights[k]!));
  });
  const K = comps.length;
  // U [d, K]: the component means as columns.
  const U = new Float64Array(d * K);
  comps.forEach((c, k) => {
    for (let i = 0; i < d; i++) U[i * K + k] = c.mean[i]!;
  });
  if (lanes !== 1 && lanes !== 2 && lanes !== 'auto') throw new InvalidArgumentError(`lanes must be 1, 2 or 'auto', got ${String(lanes)}`);
  const laneCount = lanes === 'auto' ? (backend.name === 'native' ? 2 : 1) : lanes;
  const split = operatorLanes(comps, laneCount);
  const decoupledWeights = decoupledProducts(comps, d);
  const shared = sharedDecoupledRows(comps, d);
  const maxCoupled = Math.max(0, ...comps.map((c) => c.coupled.length));
  const maxRows = Math.max(0, ...comps.map((c) => c.rowOrder.length));
  const newScratch = (): OperatorScratch[] => split.map(() => new OperatorScratch(maxRows, maxCoupled));
  const scratch = newScratch();
  let busy = false;
  return {
    dim: d,
    async apply(x) {
      // The work arrays are reused from one application to the next; an application that overlaps another (the
      // same operator used from two async tasks) gets its own.
      if (busy) return applyMomentOperator(comps, U, decoupledWeights, shared, split, x, newScratch(), backend);
      busy = true;
      try {
        return await applyMomentOperator(comps, U, decoupledWeights, shared, split, x, scratch, backend);
      } finally {
        busy = false;
      }
    },
  };
}

/** Exposed for tests: the rows whose cross products the operator of `mix` shares (see {@link SharedDecoupledRows}). */
export function sharedCrossRowsForTests(mix: GaussianMixture): number[] {
  const comps = mix.components.flatMap((g, k) => (mix.weights[k]! > 0 ? [componentOperatorData(g, mix.weights[k]!)] : []));
  return Array.from(sharedDecoupledRows(comps, mix.dim)?.rows ?? []);
}

/**
 * The components (indices, ascending) of each lane: with two lanes and at least two components, about equal
 * product work a_k³ per lane (largest first, each to the lighter lane); else one lane with all of them.
 */
function operatorLanes(comps: readonly ComponentOperatorData[], lanes: number): number[][] {
  const K = comps.length;
  if (lanes < 2 || K < 2) return [comps.map((_, k) => k)];
  const work = comps.map((c) => c.coupled.length ** 3);
  const order = comps.map((_, k) => k).sort((p, q) => work[q]! - work[p]! || p - q);
  const split: number[][] = [[], []];
  const load = [0, 0];
  for (const k of order) {
    const l = load[0]! <= load[1]! ? 0 : 1;
    split[l]!.push(k);
    load[l]! += work[k]!;
  }
  return split.map((ks) => ks.sort((p, q) => p - q));
}

/**
 * Work arrays of the operator, grown to the largest block seen and then reused (the largest are ~o·d² doubles):
 * `maxRows` is the most rows a component gathers (its coupled coordinates and its cross rows).
 */
class OperatorScratch {
  gathered = new Float64Array(0);
  product = new Float64Array(0);
  square = new Float64Array(0);
  constructor(readonly maxRows: number, readonly maxCoupled: number) {}
  ensure(count: number): void {
    const need = count * this.maxRows * this.maxCoupled;
    if (this.gathered.length < need) {
      this.gathered = new Float64Array(need);
      this.product = new Float64Array(need);
      this.square = new Float64Array(count * this.maxCoupled * this.maxCoupled);
    }
  }
}

/**
 * H [d, d] = Σ_k 2π_k v_k,t v_k,r over the components in which both t and r are decoupled (v_k the variances of the
 * decoupled coordinates Ā_k): on Ā_k × Ā_k component k adds 2π diag(v) S diag(v) to E[x xᵀ p], so all components
 * together add H∘S. One pass over the block instead of a gather, scaling and scatter of the short runs of Ā_k per
 * component (those took ≈ 60 ms of the main thread per application at MNIST size; the application became ≈ 2 %
 * faster). Null when no component has decoupled coordinates (the application then starts from zero).
 */
function decoupledProducts(comps: readonly ComponentOperatorData[], d: number): Float64Array | null {
  if (comps.every((c) => c.decoupled.length === 0)) return null;
  const H = new Float64Array(d * d);
  for (const c of comps) {
    const Abar = c.decoupled;
    const v = c.decoupledVar;
    for (let t = 0; t < Abar.length; t++) {
      const f = 2 * c.weight * v[t]!;
      const row = Abar[t]! * d;
      for (let r = 0; r < Abar.length; r++) H[row + Abar[r]!]! += f * v[r]!;
    }
  }
  return H;
}

async function applyMomentOperator(
  comps: readonly ComponentOperatorData[], U: Float64Array, decoupledWeights: Float64Array | null, shared: SharedDecoupledRows | null,
  lanes: readonly number[][], x: QuadraticBlock, scratch: readonly OperatorScratch[], backend: LinAlgBackend,
): Promise<QuadraticBlock> {
  const d = x.dim;
  const s = x.count;
  const K = comps.length;
  if (s === 0) return zeroQuadraticBlock(0, d);
  // out.S starts as H∘S (the decoupled products of every component; see decoupledProducts), the rest at zero.
  let out: QuadraticBlock;
  if (decoupledWeights === null) out = zeroQuadraticBlock(s, d);
  else {
    out = uninitialisedQuadraticBlock(s, d);
    out.S.set(x.S);
    backend.dscaleShiftRows(s, d * d, s, false, true, NONE, NONE, decoupledWeights, out.S);
  }
  if (shared !== null) await addSharedCrossProducts(shared, x, out, backend);
  // SU[(q, i), k] = (S_q μ_k)_i.
  const SU = new Float64Array(s * d * K);
  await backend.dgemmAsync(false, false, s * d, K, d, 1, x.S, U, 0, SU);
  // Gt[(q, i), k] = π_k g_kq,i with g_kq = Cov_k(x, p_q) + ½E_k p_q μ_k; Σ_k π_k μ_k g_kqᵀ enters E[x xᵀ p_q] twice.
  const Gt = new Float64Array(s * d * K);
  // Every lane sums its components into its own block, so that the result does not depend on which lane finishes
  // first; the lanes' blocks are added in lane order at the end.
  const outs = lanes.map((_, l) => (l === 0 ? out : zeroQuadraticBlock(s, d)));
  const runLane = async (l: number): Promise<void> => {
    const sc = scratch[l]!;
    sc.ensure(s);
    const u = new Float64Array(s * d);
    const cov = new Float64Array(s * d);
    const Ep = new Float64Array(s);
    for (const k of lanes[l]!) {
      const c = comps[k]!;
      // u_q = b_q + 2 S_q μ; Cov(x, p_q) = Σ u_q (rows of `cov`, Σ symmetric); Ep = a + bᵀμ + μᵀSμ so far.
      meanTerms(x, SU, K, k, c.mean, u, Ep);
      await backend.dgemmAsync(false, false, s, d, d, 1, u, c.cov, 0, cov);
      // Adds tr(SΣ) to Ep (the first big product yields it for free), then 2πΣSΣ + πE_p Σ to out.S.
      await addCovarianceSandwich(c, x, Ep, outs[l]!, sc, backend);
      accumulateLowRankTerms(c.weight, c.mean, Ep, cov, outs[l]!, Gt, K, k);
    }
  };
  if (lanes.length === 1) await runLane(0);
  else {
    // Two lanes, each on half the BLAS threads: one lane's copies and JavaScript run while the other's products do
    // (in turn when there are fewer than two threads or the count cannot be lowered; linalg/lanes.ts).
    await runInLanes(backend, lanes.map((_, l) => () => runLane(l)));
    for (let l = 1; l < lanes.length; l++) {
      blockGemm(1, outs[l]!, identity(s), 1, out, backend);
      releaseBlock(outs[l]!);
    }
  }
  // out.S_q += 2 Σ_k π_k g_kq μ_kᵀ (stacked over q); the symmetrisation below turns it into G + Gᵀ.
  await backend.dgemmAsync(false, true, s * d, d, K, 2, Gt, U, 1, out.S);
  symmetrizeBlock(out, backend);
  return out;
}

/** out.a += πE_p, out.b += π(μE_p + Cov(x,p)), and the column k of Gt (see applyMomentOperator). */
function accumulateLowRankTerms(
  w: number, mu: Float64Array, Ep: Float64Array, cov: Float64Array, out: QuadraticBlock, Gt: Float64Array, K: number, k: number,
): void {
  addAffineMoments(w, mu, Ep, cov, out);
  const d = out.dim;
  for (let q = 0; q < out.count; q++) {
    const e = Ep[q]!;
    for (let i = 0; i < d; i++) Gt[(q * d + i) * K + k] = w * (cov[q * d + i]! + 0.5 * e * mu[i]!);
  }
}

/**
 * Adds tr(S_qΣ) to Ep[q], then π(2ΣS_qΣ + E_q·Σ) to out.S_q for every q, up to the symmetrisation that follows and
 * except the products 2π diag(v) S_q diag(v) on Ā × Ā, which the application adds for all components at once:
 * only the coupled coordinates A go through matrix products (on the decoupled ones Ā, Σ = diag(v)), and each
 * product is one call for the whole block (row (i, q) of the gathered G holds S_q[rowOrder_i, A]).
 *
 * - [A, A]: with U_q the upper triangle of S_q[A, A] (diagonal halved), S_q = U_q + U_qᵀ and C S_q C =
 *   C U_q C + (C U_q C)ᵀ, so adding M_q = 4π C(U_qC + ¼E_q I) and averaging the two triangles gives
 *   2πCS_qC + πE_qC. W_q = U_qC is a triangular product (half the flops of S_qC), written side by side into
 *   W [a, s·a], and C·W is one product; tr(S_qC) = 2 tr(W_q).
 * - [Ā, A]: S_q[Ā, A]C from one product over the Ā rows of G, added with weight 4πv_t to the rows Ā (twice the
 *   weight, and nothing to [A, Ā], for the same averaging): the component's cross rows, that is the rows of Ā that
 *   are not shared, and the coupled rows that are shared, with weight −4πv_t ({@link SharedDecoupledRows}).
 */
async function addCovarianceSandwich(
  c: ComponentOperatorData, x: QuadraticBlock, Ep: Float64Array, out: QuadraticBlock, scratch: OperatorScratch,
  backend: LinAlgBackend,
): Promise<void> {
  const d = x.dim;
  const s = x.count;
  const w = c.weight;
  const a = c.coupled.length;
  const e = c.crossRows.length;
  const plans = componentPlans(c, d, s);
  addDecoupledTrace(x, c.decoupled, c.decoupledVar, Ep);
  if (a > 0) {
    const G = scratch.gathered;
    const Y = scratch.product;
    const W = scratch.square;
    const C = c.coupledCov;
    const sa = s * a;
    runCopyPlan(backend, plans.gather, x.S, G);
    await upperTriangleProducts(G, C, W, a, s, plans.replicateCov, backend);
    addTracesAndShift(W, a, s, Ep);
    await backend.dgemmAsync(false, false, a, sa, a, 4 * w, C, W, 0, Y);
    runCopyPlan(backend, plans.scatter, Y, out.S);
    if (e > 0) {
      // The cross rows of G (the last e·s rows) times C: Y[(a + t, q), ·] = S_q[t, A]C, as the cross plan reads them.
      const cross = Y.subarray(a * sa);
      await backend.dgemmAsync(false, false, e * s, a, a, 1, G.subarray(a * sa), C, 0, cross);
      runCopyPlan(backend, plans.cross, Y, out.S);
    }
  }
  addDecoupledShift(w, c.decoupled, c.decoupledVar, Ep, out);
}

// The element loops of the async functions above live in synchronous helpers: a loop of this kind ran ≈ 4× slower
// inside an async function than in a helper (Node 20; V8 does not slow every such loop down).

/** Ep[q] += 2 tr(W_q), then W_q += ¼Ep[q]·I, for the blocks W_q = W[·, q·a + ·] of W [a, s·a]. */
function addTracesAndShift(W: Float64Array, a: number, s: number, Ep: Float64Array): void {
  const sa = s * a;
  for (let q = 0; q < s; q++) {
    let tr = 0;
    for (let i = 0; i < a; i++) tr += W[i * sa + q * a + i]!;
    Ep[q]! += 2 * tr;
    const quarter = 0.25 * Ep[q]!;
    for (let i = 0; i < a; i++) W[i * sa + q * a + i]! += quarter;
  }
}

/** Ep[q] += Σ_{t ∈ Ā} S_q[t, t]·v_t. */
function addDecoupledTrace(x: QuadraticBlock, Abar: Int32Array, v: Float64Array, Ep: Float64Array): void {
  const d = x.dim;
  for (let q = 0; q < x.count; q++) {
    let tr = 0;
    for (let t = 0; t < Abar.length; t++) tr += x.S[q * d * d + Abar[t]! * d + Abar[t]!]! * v[t]!;
    Ep[q]! += tr;
  }
}

/**
 * out_q[t, t] += π E_q v_t on Ā: the E_q·diag(v) part of component k's Ā × Ā block (its products 2π diag(v) S diag(v)
 * are in the H∘S that the application starts from; see decoupledProducts).
 */
function addDecoupledShift(w: number, Abar: Int32Array, v: Float64Array, Ep: Float64Array, out: QuadraticBlock): void {
  const d = out.dim;
  for (let q = 0; q < out.count; q++) {
    const f = w * Ep[q]!;
    for (let t = 0; t < Abar.length; t++) out.S[q * d * d + Abar[t]! * (d + 1)]! += f * v[t]!;
  }
}

const NONE = new Float64Array(0);

// ---------------------------------------------------------------------------------------------------------------
// Right-hand side

/**
 * r = (E f, E[x f], E[x xᵀ f]) of every output of `net` under the mixture, from the per-component Gaussian
 * derivative moments E f, E[∇f] and E[∇²f] = 2Γ (Stein's lemma; Γ kept factored).
 */
export async function networkMixtureMoments(net: Network, mix: GaussianMixture, backend: LinAlgBackend = getBackend()): Promise<QuadraticBlock> {
  const d = mix.dim;
  const o = outputDim(net);
  const out = zeroQuadraticBlock(o, d);
  for (let k = 0; k < mix.components.length; k++) {
    const w = mix.weights[k]!;
    if (w === 0) continue;
    const g = mix.components[k]!;
    const mu = g.mean;
    const cov = g.covariance().data;
    const Ef = outputMean(net, g);
    const grad = fitLinearGaussian(net, g).beta; // E[∇f] [d, o]
    const gamma = fitQuadraticGaussian(net, g).gamma;
    if (gamma?.kind !== 'factored') throw new InvalidArgumentError('the single-Gaussian quadratic fit did not return a factored Γ');
    // Cov(x, f_q) = Σ E[∇f_q]: C [d, o].
    const C = new Float64Array(d * o);
    await backend.dgemmAsync(false, false, d, o, d, 1, cov, grad.data, 0, C);
    await addFactoredSandwich(gamma, g, 2 * w, out, backend);
    addGaussianMomentTerms(w, Ef, C, mu, cov, out, backend);
  }
  symmetrizeBlock(out, backend);
  return out;
}

/**
 * The terms of component k besides ΣE[∇²f]Σ: out.a_q += πE f_q, out.b_q += π(μE f_q + c_q), out.S_q += π(E f_q(Σ + μμᵀ)
 * + μc_qᵀ + c_qμᵀ), with c_q = Cov(x, f_q) the columns of C [d, o]. The S part is one rank-1 product over all
 * outputs and a rank-2 product per output (a JavaScript loop over the o·d² entries took ≈ 0.17 s per component).
 */
function addGaussianMomentTerms(
  w: number, Ef: ArrayLike<number>, C: Float64Array, mu: Float64Array, cov: Float64Array, out: QuadraticBlock, backend: LinAlgBackend,
): void {
  const d = out.dim;
  const o = out.count;
  const d2 = d * d;
  for (let q = 0; q < o; q++) {
    const e = Ef[q]!;
    out.a[q]! += w * e;
    for (let i = 0; i < d; i++) out.b[q * d + i]! += w * (mu[i]! * e + C[i * o + q]!);
  }
  const M = Float64Array.from(cov);
  backend.dgemm(false, true, d, d, 1, 1, mu, mu, 1, M);
  const we = Float64Array.from({ length: o }, (_, q) => w * Ef[q]!);
  backend.dgemm(false, false, o, d2, 1, 1, we, M, 1, out.S);
  const left = new Float64Array(d * 2);
  const right = new Float64Array(d * 2);
  for (let q = 0; q < o; q++) {
    for (let i = 0; i < d; i++) {
      const ci = C[i * o + q]!;
      left[2 * i] = mu[i]!;
      left[2 * i + 1] = ci;
      right[2 * i] = w * ci;
      right[2 * i + 1] = w * mu[i]!;
    }
    backend.dgemm(false, true, d, d, 2, 1, left, right, 1, out.S.subarray(q * d2, (q + 1) * d2));
  }
}

/**
 * out.S_q += alpha·Σ Γ_q Σ for a factored Γ_q = Σ_t C[q,t]·½(D_a D_bᵀ + D_b D_aᵀ): with P = DΣ,
 * Σ Γ_q Σ = Pᵀ Y_q, Y_q[a] += ½C[q,t]·P[b], Y_q[b] += ½C[q,t]·P[a].
 */
async function addFactoredSandwich(gamma: FactoredGamma, g: Gaussian, alpha: number, out: QuadraticBlock, backend: LinAlgBackend): Promise<void> {
  const d = out.dim;
  const r = gamma.directions.rows;
  const P = g.rightMultiplyCov(gamma.directions).data;
  const Y = new Float64Array(r * d);
  for (let q = 0; q < out.count; q++) {
    factoredRows(gamma, q, P, d, Y);
    await backend.dgemmAsync(true, false, d, d, r, alpha, P, Y, 1, out.S.subarray(q * d * d, (q + 1) * d * d));
  }
}

/** Y = ½Σ_t coef_qt (e_{A_t} P_{B_t}ᵀ + e_{B_t} P_{A_t}ᵀ) [r, d] for output q (rows of P = D Σ). Synchronous, like the other loops. */
function factoredRows(gamma: FactoredGamma, q: number, P: Float64Array, d: number, Y: Float64Array): void {
  const { termA, termB, coef } = gamma;
  const T = termA.length;
  Y.fill(0);
  for (let t = 0; t < T; t++) {
    const half = 0.5 * coef.data[q * T + t]!;
    if (half === 0) continue;
    const ra = termA[t]! * d;
    const rb = termB[t]! * d;
    for (let j = 0; j < d; j++) {
      Y[ra + j]! += half * P[rb + j]!;
      Y[rb + j]! += half * P[ra + j]!;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Block preconditioned conjugate gradients

interface BlockPcgOptions {
  /** performance.now() at which the maxSeconds budget started (default: when blockPcg is called). */
  startedAt?: number;
  /**
   * An exact solve on a coarse space (see coarseDeflation.ts), applied at every (re)start: x ← x + Φ E⁻¹ Φᵀ r and
   * r ← r − A Φ E⁻¹ Φᵀ r (the image comes with the solution), so that the deflated preconditioner sees residuals
   * orthogonal to the coarse space.
   */
  coarseSolve?: (r: QuadraticBlock) => Promise<{ solution: QuadraticBlock; image: QuadraticBlock }>;
  tol: number;
  maxIterations: number;
  maxSeconds: number;
  throwOnNonConvergence: boolean;
  /** Stop on (and return) the minimal-residual-smoothed iterates (residualSmoothing.ts). */
  smoothing: boolean;
  onIteration?: (iteration: number, residual: number) => void;
}

interface BlockPcgResult {
  x: QuadraticBlock;
  iterations: number[];
  residuals: number[];
  operatorApplications: number;
  converged: boolean;
}

/**
 * A basis of the span of the columns of W that is orthonormal in the block inner product, dropping directions whose
 * singular value is below 1e-7 of the largest after the columns are scaled to unit norm (Gram–eigen
 * orthonormalisation). A second pass runs only when the scaled Gram matrix had a condition number above 1e6: after
 * one pass the basis is then orthonormal to about 1e6·ε, and CG needs no more — its small systems (PᵀAP)α = PᵀR
 * are solved exactly for any basis. Each pass reads and writes the whole block, so this saves one pass per iteration.
 */
function orthonormalize(W: QuadraticBlock, backend: LinAlgBackend): QuadraticBlock {
  let X = W;
  for (let pass = 0; pass < 2; pass++) {
    const s = X.count;
    if (s === 0) return X;
    const G = quadraticBlockGram(X, X, backend);
    if (!G.every(Number.isFinite)) {
      throw new NonFiniteError('the block conjugate-gradient solve met a non-finite search direction (the preconditioner returned NaN or ±∞)');
    }
    const norms = Float64Array.from({ length: s }, (_, i) => Math.sqrt(Math.max(0, G[i * s + i]!)));
    const nmax = Math.max(...norms);
    if (!(nmax > 0)) return zeroQuadraticBlock(0, X.dim);
    const inv = Float64Array.from(norms, (n) => (n > 1e-300 * nmax ? 1 / n : 0));
    const Gs = new Matrix(s, s);
    for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) Gs.data[i * s + j] = G[i * s + j]! * inv[i]! * inv[j]!;
    const { values, vectors } = eigh(Gs);
    const lmax = values[s - 1]!;
    const keep: number[] = [];
    for (let j = 0; j < s; j++) if (values[j]! > 1e-14 * lmax) keep.push(j);
    const T = new Float64Array(s * keep.length);
    keep.forEach((j, c) => {
      const f = 1 / Math.sqrt(values[j]!);
      for (let i = 0; i < s; i++) T[i * keep.length + c] = inv[i]! * vectors.data[i * s + j]! * f;
    });
    // blockGemm with beta = 0 overwrites every entry: no need to zero the recycled array first.
    const next = uninitialisedQuadraticBlock(keep.length, X.dim);
    blockGemm(1, X, T, 0, next, backend);
    if (X !== W) releaseBlock(X);
    X = next;
    if (keep.length === s && values[0]! >= 1e-6 * lmax) break;
  }
  return X;
}

/**
 * The column norms of a block, which must be finite: a NaN residual would otherwise compare as "not above the
 * tolerance" and pass for convergence.
 */
function finiteNorms(x: QuadraticBlock, what: string, backend: LinAlgBackend): Float64Array {
  const norms = columnNorms(x, backend);
  if (!norms.every(Number.isFinite)) {
    throw new NonFiniteError(`the block conjugate-gradient solve met a non-finite norm of ${what} (the operator, preconditioner or data contain NaN or ±∞)`);
  }
  return norms;
}

/** Solves the small SPD system H Y = B (H [n, n], B [n, m], row-major). */
function solveSmallSPD(H: Float64Array, n: number, B: Float64Array, m: number): Float64Array {
  const Hm = new Matrix(n, n, H.slice());
  symmetrizeInPlace(Hm.data, n);
  return solveSPD(Hm, new Matrix(n, m, B)).data;
}

/**
 * Breakdown-free block PCG (Ji & Li 2017) for A X = B with per-column stopping: a column leaves the active set when
 * its relative residual (the smoothed one once its smoothing has started, with `opts.smoothing`) reaches tol; at the
 * end the true residual B − AX of the (smoothed) iterate is recomputed and the iteration restarted from it if needed.
 * `maxIterations` and `maxSeconds` bound the block iterations (the true-residual checks are extra
 * operator applications); when they run out the solve throws or returns the current iterate.
 */
async function blockPcg(
  op: MomentOperator, prec: MomentPreconditioner, B: QuadraticBlock, opts: BlockPcgOptions, backend: LinAlgBackend,
): Promise<BlockPcgResult> {
  const start = opts.startedAt ?? performance.now();
  const s = B.count;
  const bnorm = finiteNorms(B, 'the right-hand side', backend);
  const X = zeroQuadraticBlock(s, B.dim);
  let R = copyBlock(B);
  const iterations: number[] = Array.from(bnorm, (n) => (n === 0 ? 0 : -1));
  const relres: number[] = Array.from(bnorm, (n) => (n === 0 ? 0 : 1));
  let applications = 0;
  let blockIterations = 0;
  /** The true residual B − A·X of every column: one operator application. */
  const trueResidual = async (): Promise<QuadraticBlock> => {
    const AX = await op.apply(X);
    applications++;
    const Rx = copyBlock(B);
    blockGemm(-1, AX, identity(s), 1, Rx, backend);
    releaseBlock(AX);
    return Rx;
  };
  const outOfBudget = (): boolean => blockIterations >= opts.maxIterations || (performance.now() - start) / 1000 >= opts.maxSeconds;
  const budgetError = (): ConvergenceError => new ConvergenceError(
    `the block conjugate-gradient solve of the mixture normal equations did not reach the relative residual ${opts.tol} ` +
      `within maxIterations = ${opts.maxIterations}${Number.isFinite(opts.maxSeconds) ? ` / maxSeconds = ${opts.maxSeconds}` : ''} ` +
      `(${blockIterations} iterations, ${((performance.now() - start) / 1000).toFixed(1)} s); residuals reached per output: ` +
      `[${relres.map((r) => r.toExponential(2)).join(', ')}]`,
  );
  let converged = false;
  for (;;) {
    // (Re)start from the current residual of the columns that have not converged.
    let active = relres.map((r, j) => (r > opts.tol ? j : -1)).filter((j) => j >= 0);
    if (active.length === 0) {
      converged = true;
      break;
    }
    let Ract = selectColumns(R, active);
    if (opts.coarseSolve !== undefined) {
      const all = active.length === s;
      const Xact = all ? X : selectColumns(X, active);
      const { solution, image } = await opts.coarseSolve(Ract);
      blockGemm(1, solution, identity(active.length), 1, Xact, backend);
      if (!all) scatterColumns(Xact, X, active);
      // Ract is the true residual of X (B at the start, recomputed before a restart), so the corrected one is
      // Ract − AΦc, with AΦc in closed form instead of an operator application (≈ 1.3 s at MNIST size).
      blockGemm(-1, image, identity(active.length), 1, Ract, backend);
      releaseBlock(solution);
      releaseBlock(image);
      const norms = finiteNorms(Ract, `the residual after the coarse correction (${applications} operator applications)`, backend);
      active.forEach((j, c) => {
        relres[j] = norms[c]! / bnorm[j]!;
      });
    }
    const smoother = opts.smoothing ? ResidualSmoother.of(X, backend) : null;
    const Z0 = await prec.apply(Ract);
    let P = orthonormalize(Z0, backend);
    if (P !== Z0) releaseBlock(Z0);
    let stopped = false;
    while (active.length > 0 && P.count > 0) {
      if (outOfBudget()) {
        stopped = true;
        break;
      }
      const Q = await op.apply(P);
      applications++;
      blockIterations++;
      const n = P.count;
      // PᵀAP and PᵀR at once (quadraticBlockGrams: two single-thread products beat two in turn).
      const [PQ, PR] = await quadraticBlockGrams([[P, Q], [P, Ract]], backend) as [Float64Array, Float64Array];
      const alpha = solveSmallSPD(PQ, n, PR, active.length);
      // Update X in place when every column is active (the common case); R is rebuilt from B − AX after the loop.
      const all = active.length === s;
      const Xact = all ? X : selectColumns(X, active);
      blockGemm(1, P, alpha, 1, Xact, backend);
      blockGemm(-1, Q, alpha, 1, Ract, backend);
      if (!all) scatterColumns(Xact, X, active);
      const norms = finiteNorms(Ract, `the residual after ${applications} operator applications`, backend);
      active.forEach((j, c) => {
        // The smoothed residual counts once smoothing has started (it is never larger than CG's).
        const start = norms[c]! <= SMOOTHING_STARTS_AT * opts.tol * bnorm[j]!;
        relres[j] = (smoother === null ? norms[c]! : smoother.update(j, X, Ract, c, norms[c]!, start)) / bnorm[j]!;
      });
      opts.onIteration?.(applications, Math.max(...relres));
      const still = active.filter((j) => relres[j]! > opts.tol);
      for (const j of active) if (relres[j]! <= opts.tol && iterations[j] === -1) iterations[j] = applications;
      if (still.length === 0) break;
      if (still.length < active.length) {
        // Only when an output left: the copy is a pass over the whole block.
        const kept = selectColumns(Ract, still.map((j) => active.indexOf(j)));
        releaseBlock(Ract);
        Ract = kept;
        active = still;
      }
      const Z = await prec.apply(Ract);
      const beta = solveSmallSPD(PQ, n, quadraticBlockGram(Q, Z, backend), active.length);
      blockGemm(-1, P, beta, 1, Z, backend);
      // Q, Z and the old P are dead from here on: their arrays go back to the pool for the next iteration.
      releaseBlock(Q);
      const nextP = orthonormalize(Z, backend);
      if (nextP !== Z) releaseBlock(Z);
      releaseBlock(P);
      P = nextP;
    }
    smoother?.finish(X);
    if (stopped && opts.throwOnNonConvergence) throw budgetError();
    // True residual of every column.
    R = await trueResidual();
    const norms = finiteNorms(R, `the recomputed residual after ${applications} operator applications`, backend);
    let worst = 0;
    for (let j = 0; j < s; j++) {
      relres[j] = bnorm[j] === 0 ? 0 : norms[j]! / bnorm[j]!;
      worst = Math.max(worst, relres[j]!);
      if (relres[j]! > opts.tol) iterations[j] = -1;
    }
    opts.onIteration?.(applications, worst);
    if (worst <= opts.tol) {
      converged = true;
      break;
    }
    if (stopped || outOfBudget()) {
      if (opts.throwOnNonConvergence) throw budgetError();
      break;
    }
  }
  return { x: X, iterations, residuals: relres, operatorApplications: applications, converged };
}

/**
 * An output's residual smoothing starts once its CG residual is within this factor of the tolerance. The smoothed
 * residual is dominated by the last few dozen CG residuals (residualSmoothing.ts), so smoothing from the start gains
 * nothing measurable (d = 784: 90 applications either way; d = 196: 59 either way, but 61 from 10× and 63 from 3×)
 * and costs passes over every column per iteration.
 */
const SMOOTHING_STARTS_AT = 100;

function identity(n: number): Float64Array {
  const I = new Float64Array(n * n);
  for (let i = 0; i < n; i++) I[i * n + i] = 1;
  return I;
}

// ---------------------------------------------------------------------------------------------------------------
// Ridge and the public entry point

/** True when the smallest eigenvalue of Σ exceeds eps (Cholesky of Σ − εI succeeds). */
function definiteAbove(g: Gaussian, eps: number): boolean {
  const S = g.covariance().clone();
  for (let i = 0; i < g.dim; i++) S.data[i * g.dim + i]! -= eps;
  try {
    cholesky(S);
    return true;
  } catch (e) {
    if (e instanceof NotPositiveDefiniteError) return false;
    throw e;
  }
}

/**
 * The ridge ε of {@link MixtureKrylovOptions.ridge}: the given number, or for 'auto' 0 when every component with
 * positive weight has λ_min(Σ_k) > ε_auto = 1e-6·tr(Σ̄)/d, else ε_auto.
 */
export function mixtureRidge(mix: GaussianMixture, ridge: number | 'auto' = 'auto'): number {
  if (ridge !== 'auto') {
    if (typeof ridge !== 'number' || !Number.isFinite(ridge) || ridge < 0) {
      throw new InvalidArgumentError(`ridge must be a finite non-negative number or 'auto', got ${String(ridge)}`);
    }
    return ridge;
  }
  const d = mix.dim;
  const pooled = mix.covariance();
  let trace = 0;
  for (let i = 0; i < d; i++) trace += pooled.data[i * d + i]!;
  const eps = AUTO_RIDGE_RELATIVE * (trace > 0 ? trace / d : 1);
  const allDefinite = mix.components.every((g, k) => mix.weights[k] === 0 || definiteAbove(g, eps));
  return allDefinite ? 0 : eps;
}

/** The mixture with Σ_k + εI (the same object when ε = 0). */
export function ridgedMixture(mix: GaussianMixture, eps: number): GaussianMixture {
  if (eps === 0) return mix;
  const comps = mix.components.map((g) => {
    const S = g.covariance().clone();
    for (let i = 0; i < g.dim; i++) S.data[i * g.dim + i]! += eps;
    return new Gaussian(g.mean, S);
  });
  return new GaussianMixture(mix.weights, comps);
}

function checkOptions(opts: MixtureKrylovOptions): {
  tol: number; maxIterations: number; maxSeconds: number; preconditioner: MixturePreconditioner; deflation: MixtureDeflation;
  rareComponents: number; smoothing: boolean;
} {
  const tol = opts.tol ?? DEFAULT_KRYLOV_TOL;
  if (typeof tol !== 'number' || !(tol > 0 && tol < 1)) throw new InvalidArgumentError(`tol must be a number in (0, 1), got ${String(tol)}`);
  const maxIterations = opts.maxIterations ?? DEFAULT_KRYLOV_MAX_ITERATIONS;
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new InvalidArgumentError(`maxIterations must be a positive integer, got ${String(maxIterations)}`);
  }
  const maxSeconds = opts.maxSeconds ?? Number.POSITIVE_INFINITY;
  if (typeof maxSeconds !== 'number' || !(maxSeconds > 0)) throw new InvalidArgumentError(`maxSeconds must be a positive number, got ${String(maxSeconds)}`);
  const preconditioner = opts.preconditioner ?? 'scaled-pooled';
  if (preconditioner !== 'scaled-pooled' && preconditioner !== 'pooled') {
    throw new InvalidArgumentError(`preconditioner must be 'scaled-pooled' or 'pooled', got ${String(preconditioner)}`);
  }
  const deflation = opts.deflation ?? 'auto';
  if (deflation !== 'auto' && deflation !== 'affine' && deflation !== 'mean' && deflation !== 'none') {
    throw new InvalidArgumentError(`deflation must be 'auto', 'mean', 'affine' or 'none', got ${String(deflation)}`);
  }
  const rareComponents = checkRareComponents(opts.rareComponents ?? DEFAULT_RARE_COMPONENTS);
  const smoothing = opts.residualSmoothing ?? true;
  if (typeof smoothing !== 'boolean') throw new InvalidArgumentError(`residualSmoothing must be true or false, got ${String(smoothing)}`);
  return { tol, maxIterations, maxSeconds, preconditioner, deflation, rareComponents, smoothing };
}

/**
 * The exact least-squares quadratic approximant of `net` under the mixture `mix` (every component covariance
 * regularised by the ridge, see {@link MixtureKrylovOptions.ridge}), by block PCG on the moment operator.
 * Memory: about 12 blocks of o·d² doubles (≈ 0.6 GB at d = 784, o = 10) plus K covariances, plus with the mean-direction
 * deflation its dense coarse matrix and factor (16·n² bytes at the peak of the setup, n = 1 + d + d·J: ≈ 1 GB at MNIST
 * size; 8·n² afterwards).
 *
 * @throws ShapeError if the network's input dimension differs from the mixture's
 * @throws InvalidArgumentError for bad options
 * @throws NotPositiveDefiniteError if the pooled covariance is singular and no ridge is applied
 * @throws ConvergenceError if the residual tolerance is not reached within maxIterations / maxSeconds (unless
 *   `throwOnNonConvergence` is false)
 */
export async function fitQuadraticMixtureKrylov(
  net: Network, mix: GaussianMixture, opts: MixtureKrylovOptions = {},
): Promise<MixtureKrylovResult> {
  const start = performance.now();
  if (inputDim(net) !== mix.dim) {
    throw new ShapeError(`the network takes ${inputDim(net)} inputs but the mixture has dimension ${mix.dim}`);
  }
  const { tol, maxIterations, maxSeconds, preconditioner, deflation: asked, rareComponents, smoothing } = checkOptions(opts);
  const backend = opts.backend ?? getBackend();
  const eps = mixtureRidge(mix, opts.ridge ?? 'auto');
  const model = ridgedMixture(mix, eps);
  const op = mixtureMomentOperator(model, backend);
  const pooled = pooledGaussianPreconditioner(model, { kind: preconditioner, rareComponents }, backend);
  const deflation = asked === 'auto' ? (meanDirectionCoarseDim(model) <= MEAN_DEFLATION_MAX_DIM ? 'mean' : 'affine') : asked;
  const deflated = deflation === 'affine' ? await affineDeflation(model, pooled, backend)
    : deflation === 'mean' ? await meanDirectionDeflation(model, pooled, backend) : null;
  const rhs = await networkMixtureMoments(net, model, backend);
  const setupSeconds = (performance.now() - start) / 1000;
  const clock = { operator: 0, preconditioner: 0 };
  const timed = <T, R>(key: keyof typeof clock, f: (x: T) => Promise<R>) => async (x: T): Promise<R> => {
    const t0 = performance.now();
    const y = await f(x);
    clock[key] += (performance.now() - t0) / 1000;
    return y;
  };
  const prec = deflated ?? pooled;
  const sol = await blockPcg({ dim: op.dim, apply: timed('operator', op.apply) }, { apply: timed('preconditioner', prec.apply) }, rhs, {
    startedAt: start,
    coarseSolve: deflated === null ? undefined : timed('preconditioner', (r: QuadraticBlock) => deflated.coarseSolve(r)),
    tol, maxIterations, maxSeconds, throwOnNonConvergence: opts.throwOnNonConvergence ?? true, smoothing, onIteration: opts.onIteration,
  }, backend);
  const approx = toApproximant(net, mix, sol.x, eps, preconditioner, deflation, tol);
  const seconds = (performance.now() - start) / 1000;
  return {
    approx,
    converged: sol.converged,
    iterations: sol.iterations,
    residuals: sol.residuals,
    operatorApplications: sol.operatorApplications,
    ridge: eps,
    deflation,
    seconds,
    timings: {
      setupSeconds, operatorSeconds: clock.operator, preconditionerSeconds: clock.preconditioner,
      otherSeconds: Math.max(0, seconds - setupSeconds - clock.operator - clock.preconditioner),
    },
  };
}

function toApproximant(
  net: Network, mix: GaussianMixture, x: QuadraticBlock, eps: number, preconditioner: MixturePreconditioner, deflation: MixtureDeflation,
  tol: number,
): PolynomialApproximant {
  const d = x.dim;
  const o = x.count;
  const beta = new Matrix(d, o);
  for (let q = 0; q < o; q++) for (let i = 0; i < d; i++) beta.data[i * o + q] = x.b[q * d + i]!;
  const gamma: Matrix[] = [];
  for (let q = 0; q < o; q++) gamma.push(new Matrix(d, d, x.S.slice(q * d * d, (q + 1) * d * d)));
  const ridgeNote = eps > 0 ? `, covariances + ${eps.toExponential(3)}·I` : '';
  return new PolynomialApproximant(x.a.slice(), beta, { kind: 'dense', matrices: gamma }, {
    arch: net.arch,
    activation: net.activation.name,
    degree: 2,
    inputModel: `${mix.describe()}${ridgeNote}`,
    method: `block preconditioned conjugate gradients (${preconditioner} preconditioner${deflation === 'none' ? '' : ` with ${deflation === 'affine' ? 'affine' : 'mean-direction'} deflation`}, relative residual ≤ ${tol})`,
  });
}
