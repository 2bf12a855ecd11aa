import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormatError, InvalidArgumentError, NonFiniteError, ShapeError } from '../../src/errors.js';
import { loadDataset, subsetDataset, type Dataset } from '../../src/data/datasets.js';
import { readModelFile } from '../../src/formats/layouts.js';
import { readSafetensorsFile } from '../../src/formats/safetensors.js';
import { readMlpCheckpoint } from '../../src/train/checkpoint.js';
import type { Mlp } from '../../src/train/mlp.js';
import { getPreset, PRESETS } from '../../src/train/presets.js';
import { planRun, resolveCheckpointSteps, train, type TrainConfig } from '../../src/train/trainer.js';

const tmp = mkdtempSync(join(tmpdir(), 'polyapprox-train-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);
const mnistTrain = loadDataset('mnist-train');
const mnistTest = loadDataset('mnist-test');
const train2000 = subsetDataset(mnistTrain, range(0, 2000), 'mnist-train[0:2000]');
const test1000 = subsetDataset(mnistTest, range(0, 1000), 'mnist-test[0:1000]');
const train300 = subsetDataset(mnistTrain, range(0, 300), 'mnist-train[0:300]');
const test200 = subsetDataset(mnistTest, range(0, 200), 'mnist-test[0:200]');

function tiny(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return {
    train: train300, test: test200, hidden: 16, depth: 1, activation: 'relu', epochs: 2, batchSize: 25,
    optimizer: 'adamw', lr: 1e-3, weightDecay: 0.1, schedule: 'cosine', checkpoints: 'pow2', seed: 7, ...overrides,
  };
}

function sameBits(a: Mlp, b: Mlp): boolean {
  return a.layers.every((l, i) => {
    const m = b.layers[i]!;
    return Buffer.compare(Buffer.from(l.weight.buffer), Buffer.from(m.weight.buffer)) === 0 && Buffer.compare(Buffer.from(l.bias.buffer), Buffer.from(m.bias.buffer)) === 0;
  });
}

describe('training', () => {
  test('one epoch on a 2000-sample subset gets far above chance', async () => {
    let epochsSeen = 0;
    const r = await train(
      { train: train2000, test: test1000, hidden: 64, depth: 1, activation: 'relu', epochs: 1, batchSize: 16, optimizer: 'adamw', lr: 2e-3, weightDecay: 0.1, schedule: 'cosine', checkpoints: [], checkpointLast: false, seed: 1 },
      { onEpoch: () => epochsSeen++ },
    );
    assert.equal(r.totalSteps, 125);
    assert.equal(epochsSeen, 1);
    assert.ok(r.testAccuracy !== null && r.testAccuracy > 0.75, `test accuracy ${r.testAccuracy} (chance is 0.1)`);
    assert.ok(r.epochs[0]!.trainAccuracy > 0.5);
    assert.equal(r.checkpoints.length, 0);
  });

  test('the same seed gives identical weights; another seed different ones', async () => {
    const noise = { std: 0.1, p: 0.5 };
    const a = await train(tiny({ noise }));
    const b = await train(tiny({ noise }));
    const c = await train(tiny({ noise, seed: 8 }));
    assert.ok(sameBits(a.mlp, b.mlp), 'same seed, same bits');
    assert.ok(!sameBits(a.mlp, c.mlp), 'different seed');
    assert.deepEqual(a.epochs.map((e) => e.trainLoss), b.epochs.map((e) => e.trainLoss));
  });

  test('noise augmentation: p = 0 or std = 0 is no noise; noise changes the run but not init or order', async () => {
    const plain = await train(tiny({ epochs: 1, maxSteps: 3 }));
    const p0 = await train(tiny({ epochs: 1, maxSteps: 3, noise: { std: 0.5, p: 0 } }));
    const s0 = await train(tiny({ epochs: 1, maxSteps: 3, noise: { std: 0, p: 1 } }));
    const noisy = await train(tiny({ epochs: 1, maxSteps: 3, noise: { std: 0.5, p: 1 } }));
    assert.ok(sameBits(plain.mlp, p0.mlp));
    assert.ok(sameBits(plain.mlp, s0.mlp));
    assert.ok(!sameBits(plain.mlp, noisy.mlp));
  });

  test('SGD with momentum trains too', async () => {
    const r = await train(tiny({ optimizer: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0, schedule: 'constant', epochs: 3 }));
    assert.ok(r.epochs[2]!.trainLoss < r.epochs[0]!.trainLoss, 'loss decreases');
  });

  test('divergence raises NonFiniteError', async () => {
    await assert.rejects(train(tiny({ optimizer: 'sgd', lr: 1e30, weightDecay: 0 })), (e: unknown) => e instanceof NonFiniteError && /diverged/.test(e.message));
  });

  test('maxSteps stops inside an epoch; epochs are recorded', async () => {
    const r = await train(tiny({ epochs: 5, maxSteps: 17 }));
    assert.equal(r.stepsPerEpoch, 12);
    assert.equal(r.totalSteps, 17);
    assert.deepEqual(r.epochs.map((e) => e.steps), [12, 17]);
    assert.deepEqual(r.checkpoints.map((c) => c.step), [1, 2, 4, 8, 16, 17]);
    assert.deepEqual(r.checkpoints.map((c) => c.epoch), [1, 1, 1, 1, 2, 2]);
    // Cosine over T_max = 5 epochs, stepped per epoch.
    assert.equal(r.epochs[0]!.lr, 1e-3);
    assert.ok(Math.abs(r.epochs[1]!.lr - 1e-3 * (1 + Math.cos(Math.PI / 5)) / 2) < 1e-18);
  });
});

describe('checkpoints', () => {
  test('files at the requested steps in the model-file contract, readable by fit\'s reader', async () => {
    const out = join(tmp, 'run-d1');
    const r = await train(tiny({ outDir: out, preset: 'unit-test' }));
    assert.equal(r.totalSteps, 24);
    const steps = [1, 2, 4, 8, 16, 24];
    assert.deepEqual(r.checkpoints.map((c) => c.step), steps);
    assert.deepEqual(readdirSync(out).sort(), [...steps.map((s) => `step-${s}.safetensors`), 'training.json'].sort());
    for (const c of r.checkpoints) {
      const m = readModelFile(c.file!);
      assert.equal(m.weights.arch, 'mlp');
      assert.equal(m.activation, 'relu');
      assert.equal(m.mapping.startsWith('canonical MLP'), true, m.mapping);
      if (m.weights.arch !== 'mlp') continue;
      assert.deepEqual([m.weights.W1.rows, m.weights.W1.cols, m.weights.b1.length, m.weights.W2.rows, m.weights.W2.cols, m.weights.b2.length], [16, 784, 16, 10, 16, 10]);
      const raw = readSafetensorsFile(c.file!);
      assert.deepEqual([...raw.tensors.keys()].sort(), ['W1', 'W2', 'b1', 'b2']);
      for (const t of raw.tensors.values()) assert.equal(t.dtype, 'F32');
      const meta = raw.metadata;
      assert.equal(meta.architecture, 'mlp');
      assert.equal(meta.step, String(c.step));
      assert.equal(meta.epoch, String(c.epoch));
      assert.equal(meta.preset, 'unit-test');
      assert.equal(meta.seed, '7');
      assert.equal(Number(meta.train_loss), c.trainLoss);
      assert.equal(Number(meta.test_accuracy), c.testAccuracy);
      assert.match(meta.input_scaling!, /\[0,1\]/);
    }
    // The last checkpoint holds the final weights.
    assert.ok(sameBits(readMlpCheckpoint(r.checkpoints.at(-1)!.file!).mlp, r.mlp));
    const log = JSON.parse(readFileSync(r.log!, 'utf8')) as { finished: boolean; total_steps: number; epochs: unknown[]; checkpoints: { step: number }[]; config: { seed: number } };
    assert.equal(log.finished, true);
    assert.equal(log.total_steps, 24);
    assert.equal(log.epochs.length, 2);
    assert.deepEqual(log.checkpoints.map((c) => c.step), steps);
    assert.equal(log.config.seed, 7);
  });

  test('"step s" is the state after s optimizer updates', async () => {
    const out = join(tmp, 'run-after');
    const full = await train(tiny({ outDir: out, checkpoints: [5, 13] }));
    assert.deepEqual(full.checkpoints.map((c) => c.step), [5, 13, 24]);
    for (const s of [5, 13]) {
      const short = await train(tiny({ maxSteps: s, checkpoints: [], checkpointLast: false }));
      assert.ok(sameBits(readMlpCheckpoint(join(out, `step-${s}.safetensors`)).mlp, short.mlp), `step ${s}`);
    }
  });

  test('deeper networks use nn.Sequential names, and fit refuses them clearly', async () => {
    const out = join(tmp, 'run-d2');
    const r = await train(tiny({ depth: 2, activation: 'tanh', outDir: out, checkpoints: [3], checkpointLast: false, epochs: 1 }));
    const file = r.checkpoints[0]!.file!;
    const raw = readSafetensorsFile(file);
    assert.deepEqual([...raw.tensors.keys()].sort(), ['0.bias', '0.weight', '2.bias', '2.weight', '4.bias', '4.weight']);
    assert.deepEqual(raw.tensors.get('2.weight')!.shape, [16, 16]);
    assert.equal(raw.metadata.layout, 'nn.Sequential');
    assert.equal(raw.metadata.depth, '2');
    const back = readMlpCheckpoint(file).mlp;
    assert.equal(back.layers.length, 3);
    assert.equal(back.activation, 'tanh');
    assert.throws(() => readModelFile(file), (e: unknown) => e instanceof FormatError && /3 Linear layers/.test(e.message));
  });

  test('resolveCheckpointSteps', () => {
    assert.deepEqual(resolveCheckpointSteps('pow2', 100, true), [1, 2, 4, 8, 16, 32, 64, 100]);
    assert.deepEqual(resolveCheckpointSteps('pow2', 64, true), [1, 2, 4, 8, 16, 32, 64]);
    assert.deepEqual(resolveCheckpointSteps([8, 2, 8], 10, false), [2, 8]);
    assert.deepEqual(resolveCheckpointSteps('pow2', 2 ** 19, true).length, 20);
    assert.throws(() => resolveCheckpointSteps([11], 10, false), /beyond the 10 steps/);
    assert.throws(() => resolveCheckpointSteps([0], 10, false), InvalidArgumentError);
  });
});

describe('configuration checks and presets', () => {
  test('invalid configurations fail before any work', () => {
    assert.throws(() => planRun(tiny({ batchSize: 301 })), /exceeds the 300 training samples/);
    assert.throws(() => planRun(tiny({ lr: 0 })), InvalidArgumentError);
    assert.throws(() => planRun(tiny({ hidden: 0 })), InvalidArgumentError);
    assert.throws(() => planRun(tiny({ noise: { std: 0.1, p: 2 } })), /noise probability/);
    assert.throws(() => planRun(tiny({ momentum: 0.9 })), /SGD only/);
    const bad: Dataset = { ...test200, x: subsetDataset(loadDataset('mnist-test'), [0]).x };
    assert.throws(() => planRun(tiny({ test: bad })), ShapeError);
  });

  test('the paper preset is the reference configuration', () => {
    const p = getPreset('paper');
    assert.deepEqual(
      [p.hidden, p.depth, p.activation, p.optimizer, p.lr, p.weightDecay, p.batchSize, p.schedule, p.epochs, p.maxSteps, p.noise],
      [256, 1, 'relu', 'adamw', 1e-5, 0.1, 32, 'cosine', 2048, 2 ** 19, null],
    );
    const plan = planRun({ ...p, train: mnistTrain, test: mnistTest, seed: 0 });
    assert.equal(plan.stepsPerEpoch, 1875);
    assert.equal(plan.totalSteps, 2 ** 19);
    assert.deepEqual(resolveCheckpointSteps(p.checkpoints, plan.totalSteps, p.checkpointLast), range(0, 20).map((i) => 2 ** i));
    assert.ok(Object.isFrozen(PRESETS.paper));
    assert.throws(() => getPreset('slow'), /unknown preset/);
  });

  test('no output directory, no files', async () => {
    const r = await train(tiny({ epochs: 1 }));
    assert.equal(r.log, null);
    assert.ok(r.checkpoints.every((c) => c.file === null));
    assert.equal(existsSync(join(tmp, 'training.json')), false);
  });
});
