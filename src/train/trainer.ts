/**
 * Mini-batch training of MLP classifiers with checkpoints, following the reference's `FFNModel.fit`
 * (method.md §5.3) without its bugs:
 *
 * - each epoch visits a fresh uniformly random permutation of the training set in batches of `batchSize`,
 *   dropping the last incomplete batch (`DataLoader(shuffle=True, drop_last=True)`);
 * - optional Gaussian input-noise augmentation: each training sample independently, with probability
 *   `noise.p`, gets N(0, std²) added to every entry (kornia's `RandomGaussianNoise(std, p)`); test data is
 *   never noised. (The reference configured this but never passed it to `fit`.)
 * - the learning rate is set per epoch by the schedule (cosine with T_max = `epochs`, stepped once per
 *   epoch, or constant);
 * - a checkpoint "at step s" is the state after s optimizer updates (no step-0 checkpoint), written as
 *   `step-<s>.safetensors` in the model-file contract (see checkpoint.ts);
 * - the test set is evaluated at the end of every epoch and at every checkpoint; `training.json` in the
 *   output directory is rewritten after every epoch;
 * - training stops after `epochs` epochs or `maxSteps` updates, whichever comes first (the paper preset
 *   schedules 2048 epochs but stops after its last checkpoint).
 *
 * Determinism: the seed fixes three independent `Rng` streams — initialisation, batch order, noise — so a
 * run repeats bit for bit on the same backend and machine, and switching noise on or off does not change
 * the initialisation or the batch order.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, NonFiniteError, ShapeError } from '../errors.js';
import type { LinAlgBackend } from '../linalg/backend.js';
import { getBackend } from '../linalg/index.js';
import { writeFileAtomic } from '../formats/atomic.js';
import { Rng } from '../numerics/random.js';
import { describeScaling, type Dataset } from '../data/datasets.js';
import { writeMlpCheckpoint } from './checkpoint.js';
import {
  evaluateMlp,
  initMlp,
  lossAndGradients,
  mlpSizes,
  MlpWorkspace,
  parameterCount,
  TRAIN_ACTIVATIONS,
  type FloatArray,
  type Mlp,
  type Precision,
  type TrainActivation,
} from './mlp.js';
import { AdamW, Sgd, type Optimizer, type Parameter } from './optim.js';
import { learningRateAt, SCHEDULES, type ScheduleName } from './schedule.js';

/** Which steps to checkpoint: powers of two up to the last step, or an explicit list. */
export type CheckpointSpec = 'pow2' | readonly number[];

/** Everything that defines a training run. */
export interface TrainConfig {
  train: Dataset;
  /** Evaluated at the end of each epoch and at checkpoints; optional. */
  test?: Dataset;
  /** Width of every hidden layer. */
  hidden: number;
  /** Number of hidden layers (≥ 1). */
  depth: number;
  activation: TrainActivation;
  /** Epochs to schedule (the cosine schedule's T_max) and, without `maxSteps`, to run. */
  epochs: number;
  /** Stop after this many optimizer updates, even inside an epoch. */
  maxSteps?: number;
  batchSize: number;
  optimizer: 'adamw' | 'sgd';
  lr: number;
  /** AdamW: decoupled weight decay; SGD: L2 penalty added to the gradient. */
  weightDecay: number;
  /** SGD momentum (default 0). */
  momentum?: number;
  schedule: ScheduleName;
  /** Gaussian input noise (std per entry, probability per sample); omit or null for none. */
  noise?: { std: number; p: number } | null;
  checkpoints: CheckpointSpec;
  /** Also checkpoint the final step when it is not in the list (default true). */
  checkpointLast?: boolean;
  seed: number;
  /** Directory for checkpoints and training.json; omit to write nothing. */
  outDir?: string;
  /** Recorded in metadata and the log. */
  preset?: string;
  /** Parameter and activation precision, default f32. */
  precision?: Precision;
  /** Rows per forward pass when evaluating (default 1000). */
  evalBatchSize?: number;
  /** Linear-algebra backend; default the process-wide one. */
  backend?: LinAlgBackend;
}

/** Reported after every optimizer update. */
export interface StepProgress {
  step: number;
  totalSteps: number;
  /** 1-based epoch in progress. */
  epoch: number;
  lr: number;
  /** Loss of this step's batch. */
  batchLoss: number;
  /** Mean batch loss over the epoch so far. */
  epochLoss: number;
  /** Training accuracy over the epoch so far. */
  epochAccuracy: number;
}

/** One finished (or, at `maxSteps`, cut-short) epoch. */
export interface EpochRecord {
  epoch: number;
  /** Optimizer updates done by the end of the epoch. */
  steps: number;
  lr: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number | null;
  testAccuracy: number | null;
  /** Wall-clock seconds since training started. */
  seconds: number;
}

/** One checkpoint. */
export interface CheckpointRecord {
  step: number;
  epoch: number;
  /** Absolute file path, or null when no output directory was given. */
  file: string | null;
  trainLoss: number;
  testLoss: number | null;
  testAccuracy: number | null;
}

/** Callbacks; all optional and synchronous. */
export interface TrainHooks {
  onStart?(info: { totalSteps: number; stepsPerEpoch: number; checkpointSteps: number[]; parameters: number; backend: string }): void;
  onStep?(p: StepProgress): void;
  onEpoch?(e: EpochRecord): void;
  onCheckpoint?(c: CheckpointRecord, mlp: Mlp): void;
}

/** What {@link train} returns. */
export interface TrainResult {
  mlp: Mlp;
  epochs: EpochRecord[];
  checkpoints: CheckpointRecord[];
  totalSteps: number;
  stepsPerEpoch: number;
  seconds: number;
  /** Test accuracy after the last step (null without a test set). */
  testAccuracy: number | null;
  /** Path of training.json, or null. */
  log: string | null;
}

/** A seed for stream `stream` derived from the user's seed. */
function streamSeed(seed: number, stream: number): number {
  return (seed + Math.imul(stream, 0x9e3779b9)) | 0;
}

/**
 * The sorted checkpoint steps of a run of `totalSteps` updates.
 * @param spec `pow2` → 1, 2, 4, … ≤ totalSteps; or explicit steps (each an integer in [1, totalSteps])
 * @param includeLast add `totalSteps` if absent
 * @throws InvalidArgumentError for a step outside [1, totalSteps] or not an integer
 */
export function resolveCheckpointSteps(spec: CheckpointSpec, totalSteps: number, includeLast: boolean): number[] {
  const steps = new Set<number>();
  if (spec === 'pow2') {
    for (let s = 1; s <= totalSteps; s *= 2) steps.add(s);
  } else {
    for (const s of spec) {
      if (!Number.isInteger(s) || s < 1) throw new InvalidArgumentError(`checkpoint step ${s} is not a positive integer`);
      if (s > totalSteps) throw new InvalidArgumentError(`checkpoint step ${s} is beyond the ${totalSteps} steps of this run`);
      steps.add(s);
    }
  }
  if (includeLast && totalSteps > 0) steps.add(totalSteps);
  return [...steps].sort((a, b) => a - b);
}

function positiveInteger(v: number, name: string): void {
  if (!Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${v}`);
}

function nonNegative(v: number, name: string): void {
  if (!Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`${name} must be a non-negative number, got ${v}`);
}

/** Validates a configuration; returns steps per epoch and total steps. */
export function planRun(c: TrainConfig): { stepsPerEpoch: number; totalSteps: number; classes: number } {
  positiveInteger(c.hidden, 'hidden');
  positiveInteger(c.depth, 'depth');
  positiveInteger(c.epochs, 'epochs');
  positiveInteger(c.batchSize, 'batchSize');
  if (c.maxSteps !== undefined) positiveInteger(c.maxSteps, 'maxSteps');
  if (c.evalBatchSize !== undefined) positiveInteger(c.evalBatchSize, 'evalBatchSize');
  if (!Number.isSafeInteger(c.seed)) throw new InvalidArgumentError(`seed must be an integer, got ${c.seed}`);
  if (!(c.lr > 0) || !Number.isFinite(c.lr)) throw new InvalidArgumentError(`learning rate must be a positive number, got ${c.lr}`);
  nonNegative(c.weightDecay, 'weight decay');
  nonNegative(c.momentum ?? 0, 'momentum');
  if (c.optimizer !== 'adamw' && c.optimizer !== 'sgd') throw new InvalidArgumentError(`optimizer must be adamw or sgd, got "${String(c.optimizer)}"`);
  if (c.optimizer === 'adamw' && c.momentum !== undefined && c.momentum !== 0) throw new InvalidArgumentError('momentum applies to SGD only');
  if (!SCHEDULES.includes(c.schedule)) throw new InvalidArgumentError(`schedule must be one of ${SCHEDULES.join(', ')}, got "${String(c.schedule)}"`);
  if (!TRAIN_ACTIVATIONS.includes(c.activation)) {
    throw new InvalidArgumentError(`activation must be one of ${TRAIN_ACTIVATIONS.join(', ')}, got "${String(c.activation)}"`);
  }
  if (c.noise) {
    nonNegative(c.noise.std, 'noise std');
    if (!(c.noise.p >= 0 && c.noise.p <= 1)) throw new InvalidArgumentError(`noise probability must be in [0, 1], got ${c.noise.p}`);
  }
  const n = c.train.x.rows;
  if (c.train.labels.length !== n) throw new ShapeError(`train: ${c.train.labels.length} labels for ${n} samples`);
  if (c.batchSize > n) throw new InvalidArgumentError(`batch size ${c.batchSize} exceeds the ${n} training samples`);
  let classes = c.train.classes;
  if (c.test) {
    if (c.test.x.cols !== c.train.x.cols) throw new ShapeError(`test samples have ${c.test.x.cols} entries, training samples ${c.train.x.cols}`);
    if (c.test.labels.length !== c.test.x.rows) throw new ShapeError(`test: ${c.test.labels.length} labels for ${c.test.x.rows} samples`);
    if (c.test.x.rows < 1) throw new InvalidArgumentError('the test set is empty');
    classes = Math.max(classes, c.test.classes);
  }
  if (classes < 2) throw new InvalidArgumentError(`a classifier needs at least 2 classes, the data has ${classes}`);
  const stepsPerEpoch = Math.floor(n / c.batchSize);
  const totalSteps = Math.min(c.maxSteps ?? Infinity, c.epochs * stepsPerEpoch);
  return { stepsPerEpoch, totalSteps, classes };
}

function parametersOf(mlp: Mlp, ws: MlpWorkspace): Parameter[] {
  return mlp.layers.flatMap((layer, l) => [
    { name: `layer${l}.weight`, value: layer.weight, grad: ws.grads.weight[l]! },
    { name: `layer${l}.bias`, value: layer.bias, grad: ws.grads.bias[l]! },
  ]);
}

function toPrecision(x: Float32Array, precision: Precision): FloatArray {
  return precision === 'f32' ? x : Float64Array.from(x);
}

const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Trains an MLP classifier; see the module documentation for the procedure.
 *
 * @throws InvalidArgumentError / ShapeError for an invalid configuration (checked before any work);
 *   NonFiniteError if the loss becomes NaN or infinite (divergence: lower the learning rate)
 */
export async function train(config: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  const { stepsPerEpoch, totalSteps, classes } = planRun(config);
  const precision = config.precision ?? 'f32';
  const backend = config.backend ?? getBackend();
  const checkpointSteps = resolveCheckpointSteps(config.checkpoints, totalSteps, config.checkpointLast ?? true);
  const checkpointSet = new Set(checkpointSteps);
  const { train: trainSet, test: testSet } = config;
  const d = trainSet.x.cols;
  const B = config.batchSize;

  const mlp = initMlp(mlpSizes(d, config.hidden, config.depth, classes), config.activation, new Rng(config.seed), precision);
  const orderRng = new Rng(streamSeed(config.seed, 1));
  const noiseRng = new Rng(streamSeed(config.seed, 2));
  const ws = new MlpWorkspace(mlp, B, backend);
  const evalWs = testSet ? new MlpWorkspace(mlp, Math.min(config.evalBatchSize ?? 1000, testSet.x.rows), backend) : null;
  const testX = testSet ? toPrecision(testSet.x.data, precision) : null;
  const optimizer: Optimizer =
    config.optimizer === 'adamw'
      ? new AdamW(parametersOf(mlp, ws), { weightDecay: config.weightDecay })
      : new Sgd(parametersOf(mlp, ws), { weightDecay: config.weightDecay, momentum: config.momentum ?? 0 });

  const outDir = config.outDir;
  if (outDir !== undefined) mkdirSync(outDir, { recursive: true });
  const logPath = outDir === undefined ? null : join(outDir, 'training.json');

  const n = trainSet.x.rows;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const xb = precision === 'f32' ? new Float32Array(B * d) : new Float64Array(B * d);
  const yb = new Uint8Array(B);
  const src = trainSet.x.data;
  const epochs: EpochRecord[] = [];
  const checkpoints: CheckpointRecord[] = [];
  const t0 = performance.now();
  const seconds = (): number => (performance.now() - t0) / 1000;

  const testMetrics = (): { loss: number; accuracy: number } | null =>
    testSet && evalWs && testX ? evaluateMlp(mlp, testX, testSet.labels, testSet.x.rows, evalWs) : null;

  const writeLog = (finished: boolean): void => {
    if (logPath === null) return;
    const log = {
      format: 'polyapprox.training-log',
      version: 1,
      finished,
      config: describeConfig(config, precision),
      data: {
        train: { name: trainSet.name, samples: n, classes: trainSet.classes },
        test: testSet ? { name: testSet.name, samples: testSet.x.rows, classes: testSet.classes } : null,
        input_dim: d,
        input_scaling: describeScaling(trainSet.scaling),
      },
      backend: backend.name,
      parameters: parameterCount(mlp),
      steps_per_epoch: stepsPerEpoch,
      total_steps: totalSteps,
      checkpoint_steps: checkpointSteps,
      seconds: seconds(),
      epochs: epochs.map((e) => ({
        epoch: e.epoch, steps: e.steps, lr: e.lr, train_loss: e.trainLoss, train_accuracy: e.trainAccuracy,
        test_loss: e.testLoss, test_accuracy: e.testAccuracy, seconds: e.seconds,
      })),
      checkpoints: checkpoints.map((c) => ({
        step: c.step, epoch: c.epoch, file: c.file, train_loss: c.trainLoss, test_loss: c.testLoss, test_accuracy: c.testAccuracy,
      })),
    };
    writeFileAtomic(logPath, Buffer.from(`${JSON.stringify(log, null, 2)}\n`, 'utf8'));
  };

  hooks.onStart?.({ totalSteps, stepsPerEpoch, checkpointSteps, parameters: parameterCount(mlp), backend: backend.name });
  let step = 0;
  let finalTest: { loss: number; accuracy: number } | null = null;
  for (let epoch = 0; epoch < config.epochs && step < totalSteps; epoch++) {
    const lr = learningRateAt(config.schedule, config.lr, epoch, config.epochs);
    orderRng.shuffle(order);
    let lossSum = 0;
    let correct = 0;
    let batches = 0;
    for (let b = 0; b < stepsPerEpoch && step < totalSteps; b++) {
      for (let i = 0; i < B; i++) {
        const r = order[b * B + i]!;
        xb.set(src.subarray(r * d, (r + 1) * d), i * d);
        yb[i] = trainSet.labels[r]!;
      }
      if (config.noise && config.noise.std > 0 && config.noise.p > 0) {
        const { std, p } = config.noise;
        for (let i = 0; i < B; i++) {
          if (noiseRng.uniform() >= p) continue;
          const off = i * d;
          for (let j = 0; j < d; j++) xb[off + j]! += std * noiseRng.normal();
        }
      }
      const r = lossAndGradients(mlp, xb, yb, B, ws);
      if (!Number.isFinite(r.loss)) {
        throw new NonFiniteError(`training diverged: the loss became ${r.loss} at step ${step + 1} (epoch ${epoch + 1}); lower the learning rate`);
      }
      optimizer.step(lr);
      step++;
      batches++;
      lossSum += r.loss;
      correct += r.correct;
      const epochLoss = lossSum / batches;
      hooks.onStep?.({ step, totalSteps, epoch: epoch + 1, lr, batchLoss: r.loss, epochLoss, epochAccuracy: correct / (batches * B) });
      if (checkpointSet.has(step)) {
        const t = testMetrics();
        if (step === totalSteps) finalTest = t;
        const file = outDir === undefined ? null : join(outDir, `step-${step}.safetensors`);
        const record: CheckpointRecord = { step, epoch: epoch + 1, file, trainLoss: epochLoss, testLoss: t?.loss ?? null, testAccuracy: t?.accuracy ?? null };
        if (file !== null) {
          const meta: Record<string, string> = {
            step: String(step),
            epoch: String(epoch + 1),
            train_loss: String(epochLoss),
            preset: config.preset ?? 'custom',
            seed: String(config.seed),
            dataset: trainSet.name,
            input_scaling: describeScaling(trainSet.scaling),
            optimizer: config.optimizer,
            lr: String(lr),
          };
          if (t !== null) meta.test_accuracy = String(t.accuracy);
          writeMlpCheckpoint(file, mlp, meta);
        }
        checkpoints.push(record);
        hooks.onCheckpoint?.(record, mlp);
      }
      if ((step & 15) === 0) await yieldToEventLoop();
    }
    const t: { loss: number; accuracy: number } | null = step === totalSteps && finalTest !== null ? finalTest : testMetrics();
    if (step === totalSteps) finalTest = t;
    const record: EpochRecord = {
      epoch: epoch + 1,
      steps: step,
      lr,
      trainLoss: lossSum / batches,
      trainAccuracy: correct / (batches * B),
      testLoss: t?.loss ?? null,
      testAccuracy: t?.accuracy ?? null,
      seconds: seconds(),
    };
    epochs.push(record);
    hooks.onEpoch?.(record);
    writeLog(step === totalSteps);
    await yieldToEventLoop();
  }
  return {
    mlp,
    epochs,
    checkpoints,
    totalSteps,
    stepsPerEpoch,
    seconds: seconds(),
    testAccuracy: finalTest?.accuracy ?? null,
    log: logPath,
  };
}

/** The configuration as plain JSON (datasets by name, backend by name). */
function describeConfig(c: TrainConfig, precision: Precision): Record<string, unknown> {
  return {
    preset: c.preset ?? 'custom',
    hidden: c.hidden,
    depth: c.depth,
    activation: c.activation,
    epochs: c.epochs,
    max_steps: c.maxSteps ?? null,
    batch_size: c.batchSize,
    optimizer: c.optimizer,
    lr: c.lr,
    weight_decay: c.weightDecay,
    momentum: c.optimizer === 'sgd' ? c.momentum ?? 0 : null,
    schedule: c.schedule,
    noise: c.noise ?? null,
    checkpoints: c.checkpoints === 'pow2' ? 'pow2' : [...c.checkpoints],
    checkpoint_last: c.checkpointLast ?? true,
    seed: c.seed,
    precision,
  };
}
