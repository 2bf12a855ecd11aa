/**
 * Gaussian numerics: special functions, normal moments, Hermite polynomials and Gauss–Hermite rules, adaptive
 * Gauss–Kronrod quadrature and Gaussian expectations, Isserlis/Wick moments, and the master theorem.
 */
export * from './special.js';
export * from './moments.js';
export * from './hermite.js';
export * from './quadrature.js';
export * from './wick.js';
export * from './masterTheorem.js';
