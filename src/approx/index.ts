/**
 * The approximation engine: activations, networks, input models, fits, results and variance accounting.
 */
export * from './activations/index.js';
export * from './network.js';
export * from './inputModel.js';
export * from './result.js';
export * from './fit/index.js';
export { gaussianVarianceReport, type VarianceOptions, type VarianceDiagnostics } from './variance.js';
export { mixtureVarianceReport } from './fit/mixture.js';
export { monteCarloFvu, type MonteCarloFvu } from './monteCarlo.js';
