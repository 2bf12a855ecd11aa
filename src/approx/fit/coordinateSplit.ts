/**
 * Which coordinates of a Gaussian component are coupled to the others. A coordinate whose covariance row is zero off
 * the diagonal (an MNIST pixel constant within a class, kept alive only by the ridge) is independent of the rest under
 * that component: the mixture operator skips it in its matrix products (mixtureKrylov.ts), and the preconditioner
 * counts in how many components each coordinate varies (pooledPreconditioner.ts). A coordinate decoupled in every
 * component with one mean and one variance throughout is independent of the component as well
 * ({@link componentIndependentCoordinates}).
 */

/** Splits {0..d−1} into coordinates with some non-zero off-diagonal covariance (`coupled`) and those without. */
export function splitCoordinates(cov: Float64Array, d: number): { coupled: Int32Array; decoupled: Int32Array } {
  const coupled: number[] = [];
  const decoupled: number[] = [];
  for (let i = 0; i < d; i++) (decoupledRow(cov, d, i) ? decoupled : coupled).push(i);
  return { coupled: Int32Array.from(coupled), decoupled: Int32Array.from(decoupled) };
}

/**
 * The coordinates t that are independent of the component and of the other coordinates under a mixture: decoupled in
 * every component (covariance row zero off the diagonal) with the same mean and the same variance in all of them
 * (compared exactly; MNIST with the ridge: the 67 pixels no training image lights). Then x_t ~ N(m_t, v_t) whatever
 * the component, so the pooled Gaussian has the mixture's moments for every product of x_t − m_t with an affine
 * function of the other coordinates. Pass the components with positive weight.
 */
export function componentIndependentCoordinates(comps: readonly { mean: Float64Array; cov: Float64Array }[], d: number): Int32Array {
  if (comps.length === 0) return new Int32Array(0);
  const { mean, cov } = comps[0]!;
  const out: number[] = [];
  for (let t = 0; t < d; t++) {
    if (comps.every((c) => c.mean[t] === mean[t] && c.cov[t * d + t] === cov[t * d + t] && decoupledRow(c.cov, d, t))) out.push(t);
  }
  return Int32Array.from(out);
}

/** Whether row t of the d×d covariance is zero off the diagonal. */
function decoupledRow(cov: Float64Array, d: number, t: number): boolean {
  for (let j = 0; j < d; j++) if (j !== t && cov[t * d + j] !== 0) return false;
  return true;
}
