/**
 * First-order optimizers with PyTorch's update rules (`torch.optim.AdamW`, `torch.optim.SGD`, single-tensor
 * implementation), over parameters stored in Float32Array or Float64Array.
 *
 * Arithmetic is done in float64 and rounded once when stored, so float32 parameters and states may differ
 * from PyTorch's float32 kernels in the last bit; float64 parameters follow the formulas exactly.
 */
import { InvalidArgumentError, ShapeError } from '../errors.js';
import type { FloatArray } from './loss.js';

/** A parameter tensor and the array its gradient is written to (same length). */
export interface Parameter {
  name: string;
  value: FloatArray;
  grad: FloatArray;
}

/** Common interface of the optimizers. */
export interface Optimizer {
  readonly kind: 'adamw' | 'sgd';
  /** Number of updates done so far. */
  readonly stepCount: number;
  /** Applies one update with learning rate `lr` using the current gradients. */
  step(lr: number): void;
}

function checkParams(params: readonly Parameter[], who: string): void {
  for (const p of params) {
    if (p.value.length !== p.grad.length) {
      throw new ShapeError(`${who}: parameter "${p.name}" has ${p.value.length} entries but its gradient ${p.grad.length}`);
    }
  }
}

function checkLr(lr: number, who: string): void {
  if (!Number.isFinite(lr) || lr < 0) throw new InvalidArgumentError(`${who}: learning rate must be a non-negative number, got ${lr}`);
}

function zerosLike(a: FloatArray): FloatArray {
  return a instanceof Float32Array ? new Float32Array(a.length) : new Float64Array(a.length);
}

/** Hyperparameters of {@link AdamW} (PyTorch's defaults). */
export interface AdamWOptions {
  /** β₁, default 0.9. */
  beta1?: number;
  /** β₂, default 0.999. */
  beta2?: number;
  /** ε added to the denominator, default 1e-8. */
  eps?: number;
  /** Decoupled weight decay λ, default 0.01. */
  weightDecay?: number;
}

/**
 * AdamW (Loshchilov & Hutter) as `torch.optim.AdamW` implements it. At update t (1-based), for every
 * parameter p with gradient g:
 *
 *   p ← p · (1 − lr·λ)                          (decoupled weight decay, before the Adam step)
 *   m ← m + (1 − β₁)(g − m)                     (= β₁ m + (1 − β₁) g)
 *   v ← β₂ v + (1 − β₂) g²
 *   p ← p − (lr / (1 − β₁ᵗ)) · (m / (√v / √(1 − β₂ᵗ) + ε))
 *
 * with m = v = 0 initially. Every parameter passed is decayed (biases included), as with
 * `AdamW(model.parameters(), weight_decay=λ)`.
 */
export class AdamW implements Optimizer {
  readonly kind = 'adamw' as const;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly params: readonly Parameter[];
  /** First-moment estimates, one per parameter. */
  readonly expAvg: FloatArray[];
  /** Second-moment estimates, one per parameter. */
  readonly expAvgSq: FloatArray[];
  private t = 0;

  /**
   * @throws InvalidArgumentError for β outside [0, 1), a negative ε or weight decay;
   *   ShapeError for a gradient whose length differs from its parameter's
   */
  constructor(params: readonly Parameter[], opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    for (const [name, b] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(b >= 0 && b < 1)) throw new InvalidArgumentError(`AdamW: ${name} must be in [0, 1), got ${b}`);
    }
    if (!(this.eps >= 0)) throw new InvalidArgumentError(`AdamW: eps must be non-negative, got ${this.eps}`);
    if (!(this.weightDecay >= 0) || !Number.isFinite(this.weightDecay)) {
      throw new InvalidArgumentError(`AdamW: weight decay must be a non-negative number, got ${this.weightDecay}`);
    }
    checkParams(params, 'AdamW');
    this.params = params;
    this.expAvg = params.map((p) => zerosLike(p.value));
    this.expAvgSq = params.map((p) => zerosLike(p.value));
  }

  get stepCount(): number {
    return this.t;
  }

  step(lr: number): void {
    checkLr(lr, 'AdamW.step');
    this.t++;
    const { beta1, beta2, eps } = this;
    const decay = 1 - lr * this.weightDecay;
    const stepSize = lr / (1 - beta1 ** this.t);
    const sqrtBc2 = Math.sqrt(1 - beta2 ** this.t);
    const a1 = 1 - beta1;
    const a2 = 1 - beta2;
    for (let k = 0; k < this.params.length; k++) {
      const param = this.params[k]!;
      adamwUpdate(param.value, param.grad, this.expAvg[k]!, this.expAvgSq[k]!, decay, a1, beta2, a2, stepSize, sqrtBc2, eps);
    }
  }
}

/** The element loop of {@link AdamW.step}, kept in its own small function so V8 optimises it well. */
function adamwUpdate(
  p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray,
  decay: number, a1: number, beta2: number, a2: number, stepSize: number, sqrtBc2: number, eps: number,
): void {
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    m[i] = m[i]! + a1 * (gi - m[i]!);
    v[i] = beta2 * v[i]! + a2 * gi * gi;
    // Read back the stored (possibly float32-rounded) moments, as the framework does.
    p[i] = p[i]! * decay - stepSize * (m[i]! / (Math.sqrt(v[i]!) / sqrtBc2 + eps));
  }
}

/** Hyperparameters of {@link Sgd} (PyTorch's defaults: plain gradient descent). */
export interface SgdOptions {
  /** Momentum μ, default 0. */
  momentum?: number;
  /** Dampening τ of the momentum buffer, default 0. */
  dampening?: number;
  /** L2 weight decay λ added to the gradient (coupled), default 0. */
  weightDecay?: number;
  /** Nesterov momentum, default false. */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent as `torch.optim.SGD` implements it:
 *
 *   d ← g + λ p
 *   if μ ≠ 0:  b ← d at the first update, else b ← μ b + (1 − τ) d;   d ← d + μ b (Nesterov) or d ← b
 *   p ← p − lr · d
 */
export class Sgd implements Optimizer {
  readonly kind = 'sgd' as const;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  private readonly params: readonly Parameter[];
  /** Momentum buffers (empty arrays when μ = 0). */
  readonly momentumBuffer: FloatArray[];
  private t = 0;

  /**
   * @throws InvalidArgumentError for a negative momentum, dampening or weight decay, or Nesterov without
   *   momentum or with dampening (as PyTorch); ShapeError for a gradient of the wrong length
   */
  constructor(params: readonly Parameter[], opts: SgdOptions = {}) {
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.nesterov = opts.nesterov ?? false;
    for (const [name, v] of [['momentum', this.momentum], ['dampening', this.dampening], ['weight decay', this.weightDecay]] as const) {
      if (!(v >= 0) || !Number.isFinite(v)) throw new InvalidArgumentError(`SGD: ${name} must be a non-negative number, got ${v}`);
    }
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new InvalidArgumentError('SGD: Nesterov momentum requires a positive momentum and zero dampening');
    }
    checkParams(params, 'SGD');
    this.params = params;
    this.momentumBuffer = params.map((p) => (this.momentum !== 0 ? zerosLike(p.value) : new Float64Array(0)));
  }

  get stepCount(): number {
    return this.t;
  }

  step(lr: number): void {
    checkLr(lr, 'SGD.step');
    const first = this.t === 0;
    this.t++;
    const { momentum: mu, dampening, weightDecay: wd, nesterov } = this;
    for (let k = 0; k < this.params.length; k++) {
      const param = this.params[k]!;
      sgdUpdate(param.value, param.grad, this.momentumBuffer[k]!, lr, wd, mu, dampening, nesterov, first);
    }
  }
}

/** The element loop of {@link Sgd.step}. */
function sgdUpdate(
  p: FloatArray, g: FloatArray, buf: FloatArray, lr: number, wd: number, mu: number, dampening: number, nesterov: boolean, first: boolean,
): void {
  const n = p.length;
  for (let i = 0; i < n; i++) {
    let d = g[i]! + wd * p[i]!;
    if (mu !== 0) {
      buf[i] = first ? d : mu * buf[i]! + (1 - dampening) * d;
      d = nesterov ? d + mu * buf[i]! : buf[i]!;
    }
    p[i] = p[i]! - lr * d;
  }
}
