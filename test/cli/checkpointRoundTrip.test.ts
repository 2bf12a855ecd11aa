/**
 * Checkpoints written by the trainer round-trip through `polyapprox fit`: the CLI's approximant of a checkpoint equals
 * the library's approximant of the same weights, and its metadata says what was trained.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset, subsetDataset } from '../../src/data/index.js';
import { train } from '../../src/train/index.js';
import { readModelFile } from '../../src/formats/layouts.js';
import { readSafetensorsFile } from '../../src/formats/safetensors.js';
import { createMLP } from '../../src/approx/network.js';
import { Gaussian } from '../../src/approx/inputModel.js';
import { fitQuadratic } from '../../src/approx/fit/index.js';
import { relErr } from '../approx/golden.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('trainer checkpoints → polyapprox fit → the same approximant as the library', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'polyapprox-ckpt-'));
  const full = loadDataset('mnist-train');
  const ds = subsetDataset(full, Int32Array.from({ length: 512 }, (_, i) => i * 7));
  await train({
    train: ds, hidden: 16, depth: 1, activation: 'relu', epochs: 1, batchSize: 64, optimizer: 'adamw', lr: 1e-3,
    weightDecay: 0.1, schedule: 'cosine', checkpoints: [1, 4], seed: 3, outDir: dir,
  });
  const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
  assert.deepEqual(files, ['step-1.safetensors', 'step-4.safetensors', 'step-8.safetensors']);
  for (const f of files) {
    const out = join(dir, `approx-${f}`);
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'polyapprox.mjs'), 'fit', '--model', join(dir, f), '--degree', '2', '--out', out, '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout) as { fvu: number; dims: { input: number; hidden: number; output: number } };
    assert.deepEqual(json.dims, { input: 784, hidden: 16, output: 10 });
    assert.ok(json.fvu >= 0 && json.fvu < 1);
    const m = readModelFile(join(dir, f));
    assert.equal(m.activation, 'relu');
    const w = m.weights;
    if (w.arch !== 'mlp') throw new Error('expected an MLP');
    const mine = fitQuadratic(createMLP({ ...w, activation: 'relu' }), Gaussian.standard(784));
    const t = readSafetensorsFile(out).tensors;
    assert.ok(relErr(t.get('alpha')!.data, mine.alpha) < 1e-12);
    assert.ok(relErr(t.get('beta')!.data, mine.beta.data) < 1e-12);
    assert.ok(relErr(t.get('gamma')!.data.subarray(0, 784 * 784), mine.gammaMatrix(0).data) < 1e-12);
    assert.equal(readSafetensorsFile(join(dir, f)).metadata.step, f.match(/\d+/)![0]);
  }
});
