/**
 * polyapprox: closed-form polynomial approximants of MLPs and GLUs.
 * The public surface is re-exported from each layer's own index.
 */
export * from './errors.js';
export { Matrix, Matrix32 } from './linalg/matrix.js';
