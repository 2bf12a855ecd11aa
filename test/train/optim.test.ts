import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, ShapeError } from '../../src/errors.js';
import { AdamW, Sgd, type AdamWOptions, type Optimizer, type Parameter, type SgdOptions } from '../../src/train/optim.js';
import { cosineAnnealingLr, learningRateAt } from '../../src/train/schedule.js';

interface OptimFixture {
  p0: number[];
  grads: number[][];
  lrs: number[];
  cases: Record<string, { options: AdamWOptions & SgdOptions; trajectory: number[][] }>;
}
const fx = JSON.parse(readFileSync(fileURLToPath(new URL('../../fixtures/data/optim_steps.json', import.meta.url)), 'utf8')) as OptimFixture;

function param(values: number[], f32 = false): Parameter {
  const value = f32 ? Float32Array.from(values) : Float64Array.from(values);
  return { name: 'p', value, grad: f32 ? new Float32Array(values.length) : new Float64Array(values.length) };
}

describe('AdamW', () => {
  test('one step computed by hand', () => {
    // p = 1, g = 0.5, lr = 0.1, λ = 0.1: p ← 0.99; m = 0.05, v = 0.00025; bias corrections 0.1 and 0.001;
    // step size 0.1/0.1 = 1; denominator √0.00025/√0.001 + 1e-8 = 0.5 + 1e-8; p ← 0.99 − 0.05/(0.5 + 1e-8).
    const p = param([1]);
    p.grad[0] = 0.5;
    const opt = new AdamW([p], { weightDecay: 0.1 });
    opt.step(0.1);
    assert.ok(Math.abs(p.value[0]! - (0.99 - 0.05 / (0.5 + 1e-8))) < 1e-15, `${p.value[0]}`);
    assert.ok(Math.abs(p.value[0]! - 0.890000002) < 1e-12);
    assert.equal(opt.stepCount, 1);
    // Second step with g = −0.5: m = 0.9·0.05 + 0.1·(−0.5) = −0.005, v = 0.999·0.00025 + 0.001·0.25 = 0.00049975.
    const before = p.value[0]!;
    p.grad[0] = -0.5;
    opt.step(0.1);
    const m = -0.005;
    const v = 0.00049975;
    const expected = before * 0.99 - (0.1 / (1 - 0.9 ** 2)) * (m / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** 2) + 1e-8));
    assert.ok(Math.abs(p.value[0]! - expected) < 1e-15, `${p.value[0]} vs ${expected}`);
  });

  test('zero gradient: only the decoupled weight decay acts', () => {
    const p = param([2, -3]);
    const opt = new AdamW([p], { weightDecay: 0.5 });
    opt.step(0.01);
    assert.deepEqual(Array.from(p.value), [2 * 0.995, -3 * 0.995]);
  });

  for (const name of ['adamw', 'adamw_betas']) {
    test(`${name}: six steps vs the numpy transcription of torch.optim.AdamW`, () => {
      const c = fx.cases[name]!;
      const p = param(fx.p0);
      const opt = new AdamW([p], c.options);
      fx.grads.forEach((g, t) => {
        p.grad.set(g);
        opt.step(fx.lrs[t]!);
        c.trajectory[t]!.forEach((want, i) => {
          assert.ok(Math.abs(p.value[i]! - want) <= 4e-16 * Math.max(1, Math.abs(want)) * (t + 1), `step ${t + 1}, [${i}]: ${p.value[i]} vs ${want}`);
        });
      });
    });
  }

  test('float32 parameters follow the float64 trajectory to single precision', () => {
    const c = fx.cases.adamw!;
    const p = param(fx.p0, true);
    const opt = new AdamW([p], c.options);
    fx.grads.forEach((g, t) => {
      p.grad.set(g);
      opt.step(fx.lrs[t]!);
    });
    c.trajectory[5]!.forEach((want, i) => assert.ok(Math.abs(p.value[i]! - want) < 1e-6 * Math.max(1, Math.abs(want)), `[${i}]: ${p.value[i]} vs ${want}`));
  });

  test('invalid hyperparameters', () => {
    assert.throws(() => new AdamW([param([1])], { beta1: 1 }), InvalidArgumentError);
    assert.throws(() => new AdamW([param([1])], { beta2: -0.1 }), InvalidArgumentError);
    assert.throws(() => new AdamW([param([1])], { weightDecay: -1 }), InvalidArgumentError);
    assert.throws(() => new AdamW([{ name: 'w', value: new Float64Array(2), grad: new Float64Array(3) }]), ShapeError);
    assert.throws(() => new AdamW([param([1])]).step(NaN), /learning rate/);
  });
});

describe('SGD', () => {
  test('plain, weight decay and momentum by hand', () => {
    const p = param([1]);
    const opt: Optimizer = new Sgd([p], { weightDecay: 0.1, momentum: 0.9 });
    p.grad[0] = 2;
    opt.step(0.5); // d = 2 + 0.1 = 2.1, buffer = 2.1, p = 1 − 1.05
    assert.ok(Math.abs(p.value[0]! - (1 - 0.5 * 2.1)) < 1e-15);
    p.grad[0] = 0;
    opt.step(0.5); // d = 0.1·(−0.05) = −0.005, buffer = 0.9·2.1 − 0.005 = 1.885
    assert.ok(Math.abs(p.value[0]! - (-0.05 - 0.5 * 1.885)) < 1e-15, `${p.value[0]}`);
  });

  for (const name of ['sgd', 'sgd_wd_momentum', 'sgd_nesterov']) {
    test(`${name}: six steps vs the numpy transcription of torch.optim.SGD`, () => {
      const c = fx.cases[name]!;
      const p = param(fx.p0);
      const opt = new Sgd([p], c.options);
      fx.grads.forEach((g, t) => {
        p.grad.set(g);
        opt.step(fx.lrs[t]!);
        c.trajectory[t]!.forEach((want, i) => {
          assert.ok(Math.abs(p.value[i]! - want) <= 4e-16 * Math.max(1, Math.abs(want)) * (t + 1), `step ${t + 1}, [${i}]: ${p.value[i]} vs ${want}`);
        });
      });
    });
  }

  test('invalid hyperparameters', () => {
    assert.throws(() => new Sgd([param([1])], { momentum: -1 }), InvalidArgumentError);
    assert.throws(() => new Sgd([param([1])], { nesterov: true }), /Nesterov/);
    assert.throws(() => new Sgd([param([1])]).step(-1), /learning rate/);
  });
});

describe('learning-rate schedules', () => {
  test('cosine annealing values (T_max = 4)', () => {
    const expected = [1, (1 + Math.SQRT1_2) / 2, 0.5, (1 - Math.SQRT1_2) / 2, 0];
    expected.forEach((v, e) => assert.ok(Math.abs(cosineAnnealingLr(1, e, 4) - v) < 1e-15, `epoch ${e}`));
    assert.ok(Math.abs(cosineAnnealingLr(0.3, 2, 4, 0.1) - 0.2) < 1e-15);
  });

  test('the paper run: lr 1e-5, T_max 2048, at the last checkpoint (epoch ≈ 280) ≈ 0.955e-5', () => {
    const epoch = Math.floor(2 ** 19 / 1875);
    const lr = learningRateAt('cosine', 1e-5, epoch, 2048);
    assert.ok(Math.abs(lr - 0.955e-5) < 0.001e-5, `${lr}`);
  });

  test('constant and invalid schedules', () => {
    assert.equal(learningRateAt('constant', 0.01, 7, 8), 0.01);
    assert.throws(() => learningRateAt('step' as 'constant', 0.01, 0, 8), /unknown schedule/);
    assert.throws(() => cosineAnnealingLr(1, -1, 4), InvalidArgumentError);
    assert.throws(() => cosineAnnealingLr(1, 0, 0), InvalidArgumentError);
  });
});
