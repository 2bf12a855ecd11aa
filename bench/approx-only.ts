import { benchApprox } from './approx.js';
import { getBackend } from '../src/linalg/index.js';
console.log('backend', getBackend().name, getBackend().getThreads());
await benchApprox({ runs: 1 });
