import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidArgumentError, ShapeError } from '../../src/errors.js';
import { getBackend } from '../../src/linalg/index.js';
import { Rng } from '../../src/numerics/random.js';
import { softmaxCrossEntropy } from '../../src/train/loss.js';
import {
  cloneMlp,
  evaluateMlp,
  mlpForward,
  initMlp,
  lossAndGradients,
  mlpSizes,
  MlpWorkspace,
  parameterCount,
  TRAIN_ACTIVATIONS,
  type Mlp,
} from '../../src/train/mlp.js';

const backend = getBackend();

/** The mean cross-entropy of a float64 MLP, by a plain-loop forward pass written independently. */
function referenceLoss(mlp: Mlp, x: Float64Array, labels: number[], batch: number): number {
  const act: Record<string, (z: number) => number> = {
    relu: (z) => Math.max(z, 0),
    gelu: (z) => 0.5 * z * (1 + erfRef(z / Math.SQRT2)),
    silu: (z) => z / (1 + Math.exp(-z)),
    sigmoid: (z) => 1 / (1 + Math.exp(-z)),
    tanh: Math.tanh,
  };
  let total = 0;
  for (let i = 0; i < batch; i++) {
    let h = Array.from(x.subarray(i * mlp.layers[0]!.inFeatures, (i + 1) * mlp.layers[0]!.inFeatures));
    mlp.layers.forEach((l, li) => {
      const out: number[] = [];
      for (let o = 0; o < l.outFeatures; o++) {
        let s = l.bias[o]!;
        for (let k = 0; k < l.inFeatures; k++) s += l.weight[o * l.inFeatures + k]! * h[k]!;
        out.push(li + 1 < mlp.layers.length ? act[mlp.activation]!(s) : s);
      }
      h = out;
    });
    const m = Math.max(...h);
    total += m + Math.log(h.reduce((a, z) => a + Math.exp(z - m), 0)) - h[labels[i]!]!;
  }
  return total / batch;
}

/** erf by its Maclaurin series (|x| small here), independent of the library's special functions. */
function erfRef(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

describe('gradients vs central finite differences (float64)', () => {
  for (const activation of TRAIN_ACTIVATIONS) {
    for (const depth of [1, 2]) {
      test(`${activation}, depth ${depth}`, () => {
        const rng = new Rng(depth * 100 + activation.length);
        const sizes = mlpSizes(5, 4, depth, 3);
        const mlp = initMlp(sizes, activation, rng, 'f64');
        // Larger weights than the default init so the activations are exercised away from 0.
        for (const l of mlp.layers) for (let i = 0; i < l.weight.length; i++) l.weight[i]! *= 2;
        const batch = 6;
        const x = rng.fillNormal(new Float64Array(batch * 5));
        const labels = [0, 1, 2, 2, 1, 0];
        const ws = new MlpWorkspace(mlp, batch, backend);
        const r = lossAndGradients(mlp, x, labels, batch, ws);
        assert.ok(Math.abs(r.loss - referenceLoss(mlp, x, labels, batch)) < 1e-13, 'loss vs independent forward pass');
        const h = 1e-6;
        let worst = 0;
        mlp.layers.forEach((layer, l) => {
          for (const [params, grad] of [[layer.weight, ws.grads.weight[l]!], [layer.bias, ws.grads.bias[l]!]] as const) {
            for (let i = 0; i < params.length; i++) {
              const saved = params[i]!;
              params[i] = saved + h;
              const up = referenceLoss(mlp, x, labels, batch);
              params[i] = saved - h;
              const down = referenceLoss(mlp, x, labels, batch);
              params[i] = saved;
              const fd = (up - down) / (2 * h);
              const err = Math.abs(fd - grad[i]!) / Math.max(1e-3, Math.abs(fd));
              worst = Math.max(worst, err);
              assert.ok(err < 1e-6, `layer ${l} param ${i}: analytic ${grad[i]} vs finite difference ${fd}`);
            }
          }
        });
        assert.ok(worst < 1e-6);
      });
    }
  }
});

describe('PyTorch nn.Linear default initialisation', () => {
  test('weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))', () => {
    const mlp = initMlp([784, 256, 10], 'relu', new Rng(42));
    assert.equal(parameterCount(mlp), 784 * 256 + 256 + 256 * 10 + 10);
    for (const l of mlp.layers) {
      assert.ok(l.weight instanceof Float32Array);
      const bound = 1 / Math.sqrt(l.inFeatures);
      for (const arr of [l.weight, l.bias]) {
        let sum = 0;
        let sq = 0;
        let max = 0;
        for (const v of arr) {
          sum += v;
          sq += v * v;
          max = Math.max(max, Math.abs(v));
        }
        const n = arr.length;
        assert.ok(max <= bound, `|value| ${max} exceeds the bound ${bound}`);
        // U(-b, b): mean 0, variance b²/3, Var(x²) = 4b⁴/45; 5-sigma bands.
        assert.ok(Math.abs(sum / n) < 5 * bound / Math.sqrt(3 * n), `mean ${sum / n}`);
        if (n > 100) {
          assert.ok(Math.abs(sq / n - bound * bound / 3) < 5 * Math.sqrt(4 / 45 / n) * bound * bound, `second moment ${sq / n}`);
          assert.ok(max > 0.99 * bound, 'the range is covered');
        }
      }
    }
  });

  test('the same seed gives the same network, another seed another', () => {
    const a = initMlp([10, 8, 3], 'relu', new Rng(1));
    const b = initMlp([10, 8, 3], 'relu', new Rng(1));
    const c = initMlp([10, 8, 3], 'relu', new Rng(2));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.layers[0]!.weight, c.layers[0]!.weight);
  });

  test('invalid sizes and activations', () => {
    assert.throws(() => initMlp([10], 'relu', new Rng(0)), InvalidArgumentError);
    assert.throws(() => initMlp([10, 0, 3], 'relu', new Rng(0)), InvalidArgumentError);
    assert.throws(() => initMlp([10, 3], 'elu' as 'relu', new Rng(0)), /unknown activation/);
    assert.throws(() => mlpSizes(784, 256, 0, 10), InvalidArgumentError);
  });
});

describe('forward pass', () => {
  test('float32 logits agree with float64 to single precision', () => {
    const m64 = initMlp([20, 16, 16, 4], 'gelu', new Rng(3), 'f64');
    const m32: Mlp = { activation: m64.activation, layers: m64.layers.map((l) => ({ ...l, weight: Float32Array.from(l.weight), bias: Float32Array.from(l.bias) })) };
    const x64 = new Rng(4).fillNormal(new Float64Array(8 * 20));
    const x32 = Float32Array.from(x64);
    const l64 = mlpForward(m64, Float64Array.from(x32), 8, new MlpWorkspace(m64, 8, backend));
    const l32 = mlpForward(m32, x32, 8, new MlpWorkspace(m32, 8, backend));
    for (let i = 0; i < l64.length; i++) assert.ok(Math.abs(l64[i]! - l32[i]!) < 1e-5, `logit ${i}: ${l64[i]} vs ${l32[i]}`);
  });

  test('batches smaller than the workspace and argument checks', () => {
    const mlp = initMlp([3, 4, 2], 'relu', new Rng(0), 'f64');
    const ws = new MlpWorkspace(mlp, 10, backend);
    const x = Float64Array.from([1, 2, 3, -1, 0.5, 2]);
    const two = Array.from(mlpForward(mlp, x, 2, ws));
    const first = Array.from(mlpForward(mlp, x.subarray(0, 3), 1, ws));
    assert.deepEqual(two.slice(0, 2), first);
    assert.throws(() => mlpForward(mlp, x, 11, ws), InvalidArgumentError);
    assert.throws(() => mlpForward(mlp, x, 3, ws), ShapeError);
    assert.throws(() => mlpForward(mlp, Float32Array.from(x), 2, ws), /Float32Array/);
  });

  test('evaluate counts argmax hits over chunks', () => {
    const mlp = initMlp([3, 5, 4], 'tanh', new Rng(9), 'f64');
    const n = 23;
    const x = new Rng(10).fillNormal(new Float64Array(n * 3));
    const ws = new MlpWorkspace(mlp, 7, backend);
    const all = new MlpWorkspace(mlp, n, backend);
    const logits = mlpForward(mlp, x, n, all);
    const labels = new Uint8Array(n);
    let expectLoss = 0;
    let hits = 0;
    for (let i = 0; i < n; i++) {
      labels[i] = i % 4;
      const row = Array.from(logits.subarray(i * 4, i * 4 + 4));
      if (row.indexOf(Math.max(...row)) === labels[i]) hits++;
      const m = Math.max(...row);
      expectLoss += m + Math.log(row.reduce((a, z) => a + Math.exp(z - m), 0)) - row[labels[i]!]!;
    }
    const r = evaluateMlp(mlp, x, labels, n, ws);
    assert.equal(r.accuracy, hits / n);
    assert.ok(Math.abs(r.loss - expectLoss / n) < 1e-14);
  });

  test('cloneMlp is deep', () => {
    const a = initMlp([3, 2, 2], 'relu', new Rng(0));
    const b = cloneMlp(a);
    b.layers[0]!.weight[0] = 99;
    assert.notEqual(a.layers[0]!.weight[0], 99);
  });
});

describe('softmax cross-entropy', () => {
  test('matches log-sum-exp for moderate logits and its gradient rows sum to zero', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -20, max: 20, noNaN: true }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 3 }), (z, y) => {
        const logits = Float64Array.from(z);
        const grad = new Float64Array(4);
        const r = softmaxCrossEntropy(logits, [y], 1, 4, grad);
        const direct = -Math.log(Math.exp(z[y]!) / z.reduce((a, v) => a + Math.exp(v), 0));
        assert.ok(Math.abs(r.loss - direct) < 1e-12 * Math.max(1, direct));
        // Each softmax entry carries a rounding error of about eps·|logsumexp|; the exact sum is 0.
        const bound = 4 * 4 * Number.EPSILON * (1 + Math.max(...z.map(Math.abs)));
        assert.ok(Math.abs(grad.reduce((a, v) => a + v, 0)) < bound, `gradient sum ${grad.reduce((a, v) => a + v, 0)}`);
        assert.ok(grad[y]! <= 0);
      }),
    );
  });

  test('huge logits do not overflow', () => {
    const r = softmaxCrossEntropy(Float32Array.from([1000, 0, -1000, 999]), [3], 1, 4, new Float32Array(4));
    // logsumexp = 1000 + log(1 + e⁻¹ + e⁻¹⁰⁰⁰ + e⁻²⁰⁰⁰), minus the label's logit 999.
    assert.ok(Math.abs(r.loss - (1 + Math.log1p(Math.exp(-1)))) < 1e-12, `loss ${r.loss}`);
    assert.equal(r.correct, 0);
  });

  test('ties go to the first index, like torch.argmax', () => {
    assert.equal(softmaxCrossEntropy(Float64Array.from([2, 2]), [0], 1, 2).correct, 1);
    assert.equal(softmaxCrossEntropy(Float64Array.from([2, 2]), [1], 1, 2).correct, 0);
  });

  test('bad labels and sizes', () => {
    assert.throws(() => softmaxCrossEntropy(new Float64Array(4), [4], 1, 4), InvalidArgumentError);
    assert.throws(() => softmaxCrossEntropy(new Float64Array(4), [1.5], 1, 4), InvalidArgumentError);
    assert.throws(() => softmaxCrossEntropy(new Float64Array(3), [0], 1, 4), ShapeError);
    assert.throws(() => softmaxCrossEntropy(new Float64Array(4), [], 1, 4), ShapeError);
  });
});
