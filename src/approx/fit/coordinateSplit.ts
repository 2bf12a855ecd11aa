/**
 * Which coordinates of a Gaussian component are coupled to the others. A coordinate whose covariance row is zero off
 * the diagonal (an MNIST pixel constant within a class, kept alive only by the ridge) is independent of the rest under
 * that component: the mixture operator skips it in its matrix products (mixtureKrylov.ts), and the preconditioner
 * counts in how many components each coordinate varies (pooledPreconditioner.ts).
 */

/** Splits {0..d−1} into coordinates with some non-zero off-diagonal covariance (`coupled`) and those without. */
export function splitCoordinates(cov: Float64Array, d: number): { coupled: Int32Array; decoupled: Int32Array } {
  const coupled: number[] = [];
  const decoupled: number[] = [];
  for (let i = 0; i < d; i++) {
    let isolated = true;
    for (let j = 0; j < d && isolated; j++) if (j !== i && cov[i * d + j] !== 0) isolated = false;
    (isolated ? decoupled : coupled).push(i);
  }
  return { coupled: Int32Array.from(coupled), decoupled: Int32Array.from(decoupled) };
}
