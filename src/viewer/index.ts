/**
 * The interactive browser viewer behind `polyapprox view`: precomputation into a cache folder, and a loopback
 * HTTP server for the page.
 */
export {
  precomputeViewer, resolveViewerSource, pickDigits, defaultTestData, curvesFromStudy, curvesFromAttack, FASHION_CLASS_NAMES,
  type PrecomputeOptions, type PrecomputeResult, type PrecomputeHooks, type ResolvedSource, type SourceEntry,
} from './precompute.js';
export {
  startViewerServer, handleViewerRequest, CONTENT_SECURITY_POLICY, LOOPBACK_HOSTS, type ViewerServer, type ViewerServerOptions,
} from './server.js';
export { PAGE_HTML, PAGE_CSS, PAGE_MODULES, pageModule } from './assets.js';
export * from './schema.js';
