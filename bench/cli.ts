/**
 * End-to-end benchmark of `polyapprox fit` (process start, load, fit, exact FVU, write) for a 784→4096→10 ReLU MLP,
 * degree 2, under a dense Gaussian, next to the same closed form hand-written in numpy (bench/numpy_fit.py), both
 * timed as whole processes in the same run. Prints medians and the ratio CLI / numpy (≤ 1 means the CLI is not slower).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Matrix } from '../src/linalg/matrix.js';
import { matmul } from '../src/linalg/ops.js';
import { Rng } from '../src/numerics/random.js';
import { writeSafetensorsFile } from '../src/formats/safetensors.js';
import { readSafetensorsFile } from '../src/formats/safetensors.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeProcess(cmd: string, args: string[]): { seconds: number; stdout: string } {
  const t = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const seconds = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return { seconds, stdout: r.stdout };
}

export async function benchCli(opts: { runs?: number } = {}): Promise<void> {
  const runs = opts.runs ?? 3;
  const d = 784, h = 4096, o = 10;
  const dir = mkdtempSync(join(tmpdir(), 'polyapprox-bench-cli-'));
  try {
    const rng = new Rng(7);
    const W1 = rng.fillNormal(new Float64Array(h * d)).map((v) => v / Math.sqrt(d));
    const W2 = rng.fillNormal(new Float64Array(o * h)).map((v) => v / Math.sqrt(h));
    const b1 = rng.fillNormal(new Float64Array(h)).map((v) => 0.1 * v);
    writeSafetensorsFile(join(dir, 'model.safetensors'), {
      W1: { dtype: 'F32', shape: [h, d], data: Float32Array.from(W1) }, b1: { dtype: 'F32', shape: [h], data: Float32Array.from(b1) },
      W2: { dtype: 'F32', shape: [o, h], data: Float32Array.from(W2) }, b2: { dtype: 'F32', shape: [o], data: new Float32Array(o) },
    }, { activation: 'relu', architecture: 'mlp' });
    const A = new Matrix(d, d, rng.fillNormal(new Float64Array(d * d)));
    const S = matmul(A, A, { transB: true });
    for (let i = 0; i < d * d; i++) S.data[i]! /= d;
    for (let i = 0; i < d; i++) S.data[i * d + i]! += 0.1;
    for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) S.data[j * d + i] = S.data[i * d + j]!;
    writeSafetensorsFile(join(dir, 'input.safetensors'), {
      mean: { dtype: 'F64', shape: [d], data: rng.fillNormal(new Float64Array(d)).map((v) => 0.1 * v) },
      cov: { dtype: 'F64', shape: [d, d], data: S.data },
    });
    const cliTimes: number[] = [];
    const npTimes: number[] = [];
    let cliFvu = Number.NaN, npFvu = Number.NaN;
    for (let r = 0; r < runs; r++) {
      const c = timeProcess(process.execPath, [join(ROOT, 'bin', 'polyapprox.mjs'), 'fit', '--model', join(dir, 'model.safetensors'), '--input', join(dir, 'input.safetensors'), '--degree', '2', '--out', join(dir, 'cli.safetensors'), '--json']);
      cliTimes.push(c.seconds);
      cliFvu = (JSON.parse(c.stdout) as { fvu: number }).fvu;
      const p = timeProcess('python3', [join(ROOT, 'bench', 'numpy_fit.py'), join(dir, 'model.safetensors'), join(dir, 'input.safetensors'), join(dir, 'np.safetensors')]);
      npTimes.push(p.seconds);
      npFvu = (JSON.parse(p.stdout) as { fvu: number }).fvu;
    }
    // Both wrote the same approximant: a sanity check that the comparison is like for like.
    const a = readSafetensorsFile(join(dir, 'cli.safetensors')).tensors;
    const b = readSafetensorsFile(join(dir, 'np.safetensors')).tensors;
    let maxRel = 0;
    for (const k of ['alpha', 'beta', 'gamma']) {
      const x = a.get(k)!.data, y = b.get(k)!.data;
      let num = 0, den = 0;
      for (let i = 0; i < y.length; i++) {
        num = Math.max(num, Math.abs(x[i]! - y[i]!));
        den = Math.max(den, Math.abs(y[i]!));
      }
      maxRel = Math.max(maxRel, num / den);
    }
    const tc = median(cliTimes), tn = median(npTimes);
    console.log('\n## polyapprox fit end to end vs numpy (784→4096→10 ReLU, degree 2, dense Gaussian, exact FVU, write)');
    console.log(`polyapprox fit (process)   median ${tc.toFixed(2)} s over ${runs}   FVU ${cliFvu.toFixed(6)}`);
    console.log(`numpy script (process)     median ${tn.toFixed(2)} s over ${runs}   FVU ${npFvu.toFixed(6)}`);
    console.log(`ratio CLI / numpy = ${(tc / tn).toFixed(2)}  ${tc <= tn ? 'PASS (not slower)' : 'FAIL (slower)'};  coefficients agree to ${maxRel.toExponential(1)} relative`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
