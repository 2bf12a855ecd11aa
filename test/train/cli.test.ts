import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset, pixelStatistics, subsetDataset } from '../../src/data/datasets.js';
import { readModelFile } from '../../src/formats/layouts.js';
import { writeNpz } from '../../src/formats/npz.js';
import { readSafetensorsFile } from '../../src/formats/safetensors.js';
import { parseCheckpointSpec } from '../../src/cli/commands/train.js';
import { runCli, type CliRun } from './cliHarness.js';

const tmp = mkdtempSync(join(tmpdir(), 'polyapprox-train-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// A small user data file: 500 MNIST training images stored as uint8, as a user would save them.
const sub = subsetDataset(loadDataset('mnist-train'), Array.from({ length: 500 }, (_, i) => i));
const dataPath = join(tmp, 'digits.npz');
writeFileSync(dataPath, writeNpz({
  x: { dtype: 'U8', shape: [500, 28, 28], data: Float64Array.from(sub.x.data, (v) => Math.round(v * 255)) },
  y: { dtype: 'I64', shape: [500], data: Float64Array.from(sub.labels) },
}));

const runDir = join(tmp, 'run');
const sgdDir = join(tmp, 'run-sgd');
const emptyDir = join(tmp, 'empty');
mkdirSync(emptyDir, { recursive: true });
const never = join(tmp, 'never');
const badValues: [string[], RegExp][] = [
  [['--lr', '-1'], /--lr must be a positive number, got "-1"/],
  [['--batch', 'ten'], /--batch must be an integer/],
  [['--optim', 'rmsprop'], /--optim must be one of adamw, sgd, got "rmsprop"/],
  [['--preset', 'slow'], /--preset must be one of paper, quick, got "slow"/],
  [['--checkpoints', 'often'], /--checkpoints must be an integer/],
  [['--noise-p', '1.5'], /--noise-p must be in \[0, 1\]/],
  [['--momentum', '0.9'], /--momentum applies to --optim sgd only/],
  [['--act', 'elu'], /--act must be one of relu, gelu, silu, sigmoid, tanh/],
  [['--holdout', '1'], /--holdout must be in \(0, 1\)/],
];
const runs: Record<string, string[]> = {
  holdout: ['train', '--data', dataPath, '--out', runDir, '--hidden', '12', '--epochs', '2', '--batch', '50', '--checkpoints', '1,3', '--seed', '5', '--json'],
  sgd: [
    'train', '--data', dataPath, '--out', sgdDir, '--hidden', '8', '--epochs', '1', '--batch', '90', '--optim', 'sgd', '--momentum', '0.5',
    '--lr', '0.05', '--wd', '0', '--schedule', 'constant', '--noise-std', '0.1', '--noise-p', '1', '--standardize', '--act', 'gelu',
  ],
  planning: ['train', '--data', dataPath, '--out', never, '--epochs', '1', '--batch', '50', '--checkpoints', '1,1000'],
  fashion: ['train', '--data', 'fashion', '--out', never],
  ...Object.fromEntries(badValues.map(([args], i) => [`bad${i}`, ['train', '--data', dataPath, '--out', never, '--epochs', '1', ...args]])),
};
const results: Record<string, CliRun> = {};
before(async () => {
  const names = Object.keys(runs);
  const out = await runCli(names.map((n) => runs[n]!), { POLYAPPROX_FASHION_MNIST_DIR: emptyDir });
  names.forEach((n, i) => (results[n] = out[i]!));
});

describe('polyapprox train', () => {
  test('trains on a data file with a hold-out test set and writes fit-readable checkpoints', () => {
    const r = results.holdout!;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /holding out 50 of 500 samples/);
    const summary = JSON.parse(r.stdout) as { steps: number; epochs: number; checkpoints: string[]; test_accuracy: number };
    assert.equal(summary.steps, 18); // 450 training samples / 50 per batch × 2 epochs
    assert.equal(summary.epochs, 2);
    assert.equal(String(summary.test_accuracy), readSafetensorsFile(join(runDir, 'step-18.safetensors')).metadata.test_accuracy);
    assert.deepEqual(readdirSync(runDir).sort(), ['step-1.safetensors', 'step-18.safetensors', 'step-3.safetensors', 'training.json']);
    const m = readModelFile(join(runDir, 'step-18.safetensors'));
    assert.equal(m.weights.arch, 'mlp');
    if (m.weights.arch === 'mlp') assert.deepEqual([m.weights.W1.rows, m.weights.W1.cols, m.weights.W2.rows], [12, 784, 10]);
    const meta = readSafetensorsFile(join(runDir, 'step-3.safetensors')).metadata;
    assert.equal(meta.preset, 'quick');
    assert.equal(meta.seed, '5');
    assert.equal(meta.dataset, 'digits.npz[train]');
  });

  test('flags override the preset (SGD, constant schedule, noise, standardize)', () => {
    const r = results.sgd!;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /trained for 5 steps \(1 epoch\)/);
    const meta = readSafetensorsFile(join(sgdDir, 'step-5.safetensors')).metadata;
    assert.equal(meta.optimizer, 'sgd');
    assert.equal(meta.activation, 'gelu');
    assert.equal(meta.lr, '0.05');
    // The whole --data file's statistics, as `polyapprox input --standardize` uses them.
    const { mean, std } = pixelStatistics(loadDataset(dataPath).x);
    assert.equal(meta.input_scaling, `uint8/255, standardized (x - ${mean})/${std}`);
  });

  test('bad values: one clear line, usage exit code, before any data is read', () => {
    badValues.forEach(([args, pattern], i) => {
      const r = results[`bad${i}`]!;
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
  });

  test('errors found while planning are reported without training', () => {
    const r = results.planning!;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /checkpoint step 1000 is beyond the 9 steps/);
    assert.equal(existsSync(never), false);
  });

  test('--data fashion without the Debian package says how to install it', () => {
    const r = results.fashion!;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /apt-get install dataset-fashion-mnist/);
  });

  test('parseCheckpointSpec', () => {
    assert.equal(parseCheckpointSpec('pow2'), 'pow2');
    assert.deepEqual(parseCheckpointSpec('1, 2,8'), [1, 2, 8]);
    assert.throws(() => parseCheckpointSpec(''), /--checkpoints must be pow2/);
    assert.throws(() => parseCheckpointSpec('0'), /--checkpoints must be an integer/);
  });
});
