/**
 * Benchmarks of the approximation engine (issue 3 targets):
 * - degree-2 fit + analytic FVU, 784→256→10 ReLU under a dense Gaussian (target ≤ 0.5 s)
 * - the same for 784→4096→10 (≤ 3 s; the pairwise expectations behind the total variance dominate)
 * - 768→3072→768 GELU (GPT-2 MLP size), degree-2 fit in factored form under a dense Gaussian (≤ 10 s, ≤ 2 GB RSS)
 */
import { Matrix } from '../src/linalg/matrix.js';
import { matmul } from '../src/linalg/ops.js';
import { Rng } from '../src/numerics/random.js';
import { createMLP, type MLP } from '../src/approx/network.js';
import { Gaussian } from '../src/approx/inputModel.js';
import { fitQuadratic } from '../src/approx/fit/index.js';
import { gaussianVarianceReport, type VarianceDiagnostics } from '../src/approx/variance.js';

function randomMLP(d: number, h: number, o: number, act: string, seed: number): MLP {
  const rng = new Rng(seed);
  const W1 = new Matrix(h, d, rng.fillNormal(new Float64Array(h * d)).map((v) => v / Math.sqrt(d)));
  const W2 = new Matrix(o, h, rng.fillNormal(new Float64Array(o * h)).map((v) => v / Math.sqrt(h)));
  const b1 = rng.fillNormal(new Float64Array(h)).map((v) => 0.1 * v);
  return createMLP({ W1, b1, W2, b2: new Float64Array(o), activation: act });
}

/** A dense, well-conditioned covariance A Aᵀ/d + 0.1 I with a random mean. */
function denseGaussian(d: number, seed: number): Gaussian {
  const rng = new Rng(seed);
  const A = new Matrix(d, d, rng.fillNormal(new Float64Array(d * d)));
  const S = matmul(A, A, { transB: true });
  for (let i = 0; i < d * d; i++) S.data[i]! /= d;
  for (let i = 0; i < d; i++) S.data[i * d + i]! += 0.1;
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) S.data[j * d + i] = S.data[i * d + j]!;
  return new Gaussian(rng.fillNormal(new Float64Array(d)).map((v) => 0.1 * v), S);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}

export async function benchApprox(opts: { runs?: number; quick?: boolean } = {}): Promise<void> {
  const runs = opts.runs ?? 3;
  const cases: { name: string; d: number; h: number; o: number; act: string; fvu: boolean; target: number }[] = [
    { name: '784→256→10 relu, degree 2 + analytic FVU', d: 784, h: 256, o: 10, act: 'relu', fvu: true, target: 0.5 },
    { name: '784→4096→10 relu, degree 2 + analytic FVU', d: 784, h: 4096, o: 10, act: 'relu', fvu: true, target: 3 },
    { name: '768→3072→768 gelu (GPT-2 size), degree 2, factored', d: 768, h: 3072, o: 768, act: 'gelu', fvu: false, target: 10 },
    { name: '768→3072→768 gelu (GPT-2 size), analytic FVU alone', d: 768, h: 3072, o: 768, act: 'gelu', fvu: true, target: Number.NaN },
  ];
  console.log('\n## Approximation engine');
  for (const c of opts.quick ? cases.slice(0, 1) : cases) {
    const net = randomMLP(c.d, c.h, c.o, c.act, 1);
    const g = denseGaussian(c.d, 2);
    const times: number[] = [];
    let fvu = Number.NaN;
    const diag: VarianceDiagnostics = { pairs: 0, seriesTerms: 0, quadraturePairs: 0 };
    for (let r = 0; r < runs; r++) {
      times.push(time(() => {
        if (c.name.includes('FVU alone')) {
          fvu = gaussianVarianceReport(net, g, 2, {}, r === 0 ? diag : undefined).fvu;
        } else {
          const q = fitQuadratic(net, g, { variance: c.fvu });
          if (c.fvu) fvu = q.info.variance!.fvu;
        }
      }));
    }
    const t = median(times);
    const rssGiB = process.resourceUsage().maxRSS / 2 ** 20;
    const verdict = Number.isNaN(c.target) ? '' : t <= c.target ? `PASS (≤ ${c.target} s)` : `FAIL (> ${c.target} s)`;
    const extra = c.fvu ? `  FVU ${fvu.toFixed(5)}` : '';
    const pairInfo = diag.pairs > 0 ? `  pairs ${diag.pairs}, mean series terms ${(diag.seriesTerms / Math.max(1, diag.pairs - diag.quadraturePairs)).toFixed(1)}, quadrature pairs ${diag.quadraturePairs}` : '';
    console.log(`${c.name.padEnd(58)} median ${t.toFixed(3)} s over ${runs}  peak RSS ${rssGiB.toFixed(2)} GiB  ${verdict}${extra}${pairInfo}`);
  }
}
