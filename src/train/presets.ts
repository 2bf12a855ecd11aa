/**
 * Named training configurations (everything but the data, seed and output directory).
 *
 * - `paper`: the main run of Belrose & Rigg (method.md §5.3, `baseline`): 784→256→10 ReLU MLP, AdamW with
 *   lr 1e-5 and weight decay 0.1, batch 32, cosine schedule with T_max = 2048 epochs, checkpoints after
 *   2^0 … 2^19 updates; training stops after the last checkpoint (epoch ≈ 280 of 2048; the reference kept
 *   training but saved nothing later). No input noise: the reference configured std 0.05 but never
 *   applied it. Measured 15–19 ms per update on the shared 2-core machine (the JavaScript AdamW update of
 *   the 203k parameters dominates at batch 32), i.e. about 2 hours for the 2^19 updates.
 * - `quick`: the same network, optimizer, weight decay and schedule with a 100× larger learning rate and batch
 *   64, for 10 epochs (9370 updates), checkpointed at every power of two and the last step, so the
 *   early-to-late training dynamics are covered in minutes. Measured on the 2-core development machine
 *   (native OpenBLAS, shared with other jobs at load 5–6): 98.06 % MNIST test accuracy (seed 0) in
 *   99–169 s wall-clock, 75 s of CPU time.
 */
import { InvalidArgumentError } from '../errors.js';
import type { TrainActivation } from './mlp.js';
import type { ScheduleName } from './schedule.js';
import type { CheckpointSpec } from './trainer.js';

/** A preset: the architecture and optimisation part of a {@link TrainConfig}. */
export interface TrainPreset {
  name: string;
  description: string;
  hidden: number;
  depth: number;
  activation: TrainActivation;
  epochs: number;
  maxSteps?: number;
  batchSize: number;
  optimizer: 'adamw' | 'sgd';
  lr: number;
  weightDecay: number;
  momentum?: number;
  schedule: ScheduleName;
  noise: { std: number; p: number } | null;
  checkpoints: CheckpointSpec;
  checkpointLast: boolean;
}

export const PRESETS: Readonly<Record<'paper' | 'quick', TrainPreset>> = Object.freeze({
  paper: Object.freeze({
    name: 'paper',
    description: 'Belrose & Rigg main run: 784-256-10 ReLU, AdamW lr 1e-5 wd 0.1, batch 32, cosine over 2048 epochs, checkpoints at steps 2^0..2^19',
    hidden: 256,
    depth: 1,
    activation: 'relu',
    epochs: 2048,
    maxSteps: 2 ** 19,
    batchSize: 32,
    optimizer: 'adamw',
    lr: 1e-5,
    weightDecay: 0.1,
    schedule: 'cosine',
    noise: null,
    checkpoints: 'pow2',
    checkpointLast: true,
  }),
  quick: Object.freeze({
    name: 'quick',
    description: '784-256-10 ReLU, AdamW lr 1e-3 wd 0.1, batch 64, cosine over 10 epochs (9370 steps), checkpoints at steps 2^0..2^13 and 9370',
    hidden: 256,
    depth: 1,
    activation: 'relu',
    epochs: 10,
    batchSize: 64,
    optimizer: 'adamw',
    lr: 1e-3,
    weightDecay: 0.1,
    schedule: 'cosine',
    noise: null,
    checkpoints: 'pow2',
    checkpointLast: true,
  }),
});

export type PresetName = keyof typeof PRESETS;

/**
 * The preset called `name`.
 * @throws InvalidArgumentError for an unknown name
 */
export function getPreset(name: string): TrainPreset {
  if (name !== 'paper' && name !== 'quick') throw new InvalidArgumentError(`unknown preset "${name}" (known: ${Object.keys(PRESETS).join(', ')})`);
  return PRESETS[name];
}
