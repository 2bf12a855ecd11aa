/**
 * Learning-rate schedules, evaluated per epoch (the reference steps its scheduler once per epoch).
 */
import { InvalidArgumentError } from '../errors.js';

/** The schedules the trainer offers. */
export type ScheduleName = 'cosine' | 'constant';

export const SCHEDULES: readonly ScheduleName[] = ['cosine', 'constant'];

/**
 * Cosine annealing, the closed form of `torch.optim.lr_scheduler.CosineAnnealingLR`:
 *
 *   lr(e) = η_min + (lr₀ − η_min) · (1 + cos(π e / T_max)) / 2
 *
 * for epoch e = 0, 1, … (e = 0 gives lr₀, e = T_max gives η_min). PyTorch computes the same values by a
 * recursion, so they agree up to rounding.
 *
 * @throws InvalidArgumentError for a negative or non-integer epoch, T_max < 1, or a non-finite rate
 */
export function cosineAnnealingLr(baseLr: number, epoch: number, tMax: number, etaMin = 0): number {
  if (!Number.isFinite(baseLr) || !Number.isFinite(etaMin)) throw new InvalidArgumentError(`cosineAnnealingLr: rates must be finite, got ${baseLr} and ${etaMin}`);
  if (!Number.isInteger(epoch) || epoch < 0) throw new InvalidArgumentError(`cosineAnnealingLr: epoch must be a non-negative integer, got ${epoch}`);
  if (!Number.isInteger(tMax) || tMax < 1) throw new InvalidArgumentError(`cosineAnnealingLr: T_max must be a positive integer, got ${tMax}`);
  return etaMin + ((baseLr - etaMin) * (1 + Math.cos((Math.PI * epoch) / tMax))) / 2;
}

/**
 * The learning rate of epoch `epoch` (0-based) under `schedule`: cosine annealing with T_max = `epochs`,
 * or the constant `baseLr`.
 */
export function learningRateAt(schedule: ScheduleName, baseLr: number, epoch: number, epochs: number): number {
  switch (schedule) {
    case 'cosine':
      return cosineAnnealingLr(baseLr, epoch, epochs);
    case 'constant':
      if (!Number.isFinite(baseLr)) throw new InvalidArgumentError(`learning rate must be finite, got ${baseLr}`);
      return baseLr;
    default:
      throw new InvalidArgumentError(`unknown schedule "${String(schedule)}" (known: ${SCHEDULES.join(', ')})`);
  }
}
