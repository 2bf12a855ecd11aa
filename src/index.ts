/**
 * polyapprox: closed-form polynomial approximants of MLPs and GLUs.
 *
 * Layers, each with its own index (data flows top to bottom):
 * - `numerics`: special functions, Hermite polynomials, quadrature, Isserlis/Wick, the master theorem
 * - `linalg`: dense matrices and the BLAS/LAPACK backends (native OpenBLAS addon, portable JS)
 * - `formats`: safetensors, npy/npz, PyTorch checkpoints, layout detection, approximant files
 * - `approx`: activations, networks, input models, fits, results, variance accounting
 */
export * from './errors.js';
export * from './linalg/index.js';
export * from './numerics/index.js';
export { Rng } from './numerics/random.js';
export * from './approx/index.js';
export * from './formats/index.js';
export { saveApproximant, loadApproximant } from './formats/approximantFile.js';
