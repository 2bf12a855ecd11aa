/**
 * Conventions and argument checking: the degenerate Gaussian s = 0, continuity as s → 0⁺, pointwise
 * derivatives (against central differences), behaviour at ±∞ and at kinks, and typed errors for bad
 * arguments.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../src/errors.js';
import { getActivation } from '../../src/approx/activations/index.js';

const SPECS = [
  'identity',
  'relu',
  'leaky_relu(0.2)',
  'jumprelu(1)',
  'jumprelu(-0.5)',
  'gelu',
  'gelu_tanh',
  'sigmoid',
  'silu',
  'tanh',
  'softplus',
];

describe('s = 0 evaluates everything at u = m', () => {
  for (const spec of SPECS) {
    test(spec, () => {
      const act = getActivation(spec);
      for (const m of [-3.5, -1, -0.5, 0, 0.25, 1, 2.5, 7]) {
        const g = act.value(m);
        assert.equal(act.mean(m, 0), g);
        assert.equal(act.meanDerivative(m, 0), act.derivative(m));
        assert.equal(act.meanSecondDerivative(m, 0), act.secondDerivative(m));
        const poly = act.polyMoments(m, 0, 4);
        const square = act.squarePolyMoments(m, 0, 4);
        for (let k = 0; k <= 4; k++) {
          assert.ok(Math.abs(poly[k]! - m ** k * g) <= 1e-15 * Math.abs(m ** k * g), `${spec} poly[${k}] at m = ${m}`);
          assert.ok(Math.abs(square[k]! - m ** k * g * g) <= 1e-15 * Math.abs(m ** k * g * g), `${spec} sq[${k}]`);
        }
        assert.deepEqual(Array.from(act.hermiteCoefficients(m, 0, 3)), [g, 0, 0, 0]);
      }
    });
  }

  test('Dirac parts are dropped at s = 0, also exactly at the kink', () => {
    assert.equal(getActivation('relu').meanSecondDerivative(0, 0), 0);
    assert.equal(getActivation('relu').meanDerivative(0, 0), 0); // relu′(0) = 0
    assert.equal(getActivation('leaky_relu(0.2)').meanDerivative(0, 0), 0.2);
    assert.equal(getActivation('jumprelu(1)').mean(1, 0), 0);
    assert.equal(getActivation('jumprelu(1)').meanDerivative(1, 0), 0);
    assert.equal(getActivation('jumprelu(1)').meanSecondDerivative(1, 0), 0);
    // Away from the kink a point mass does not see the Dirac parts, which is also the s → 0⁺ limit.
    assert.ok(getActivation('jumprelu(1)').meanDerivative(1.5, 1e-3) - 1 < 1e-100);
  });
});

describe('continuity as s → 0⁺ away from kinks', () => {
  for (const spec of SPECS) {
    test(spec, () => {
      const act = getActivation(spec);
      const s = 1e-6;
      for (const m of [-2, -0.3, 0.7, 3]) {
        // E[g(m + s z)] = g(m) + s²g″(m)/2 + O(s⁴), E[g′] = g′(m) + O(s²).
        assert.ok(Math.abs(act.mean(m, s) - act.value(m)) <= 1e-11 * (1 + Math.abs(act.value(m))), `${spec} mean at ${m}`);
        assert.ok(Math.abs(act.meanDerivative(m, s) - act.derivative(m)) <= 1e-10, `${spec} E[g′] at ${m}`);
        assert.ok(Math.abs(act.meanSecondDerivative(m, s) - act.secondDerivative(m)) <= 1e-8, `${spec} E[g″] at ${m}`);
      }
    });
  }
});

describe('pointwise derivatives match central differences', () => {
  for (const spec of SPECS) {
    test(spec, () => {
      const act = getActivation(spec);
      const h = 1e-5;
      for (const u of [-30, -7.5, -2.2, -0.8, -0.31, 0.13, 0.6, 1.7, 4.4, 12, 35]) {
        if (act.kinks.some((k) => Math.abs(k - u) < 10 * h)) continue;
        const fd1 = (act.value(u + h) - act.value(u - h)) / (2 * h);
        const fd2 = (act.derivative(u + h) - act.derivative(u - h)) / (2 * h);
        const scale1 = 1 + Math.abs(act.derivative(u));
        const scale2 = 1 + Math.abs(act.secondDerivative(u));
        // Central differences: truncation h²·g‴/6, rounding ε·|g|/h (|g| ≤ 35 here).
        assert.ok(Math.abs(act.derivative(u) - fd1) <= 1e-8 * scale1 * (1 + Math.abs(u)), `${spec}: g′(${u}) ${act.derivative(u)} vs ${fd1}`);
        assert.ok(Math.abs(act.secondDerivative(u) - fd2) <= 1e-8 * scale2, `${spec}: g″(${u}) ${act.secondDerivative(u)} vs ${fd2}`);
      }
    });
  }
});

describe('pointwise functions at ±∞ and far out', () => {
  for (const spec of SPECS) {
    test(spec, () => {
      const act = getActivation(spec);
      for (const u of [-Infinity, -1e300, -800, 800, 1e300, Infinity]) {
        for (const [what, v] of [
          ['value', act.value(u)],
          ['derivative', act.derivative(u)],
          ['secondDerivative', act.secondDerivative(u)],
        ] as const) {
          assert.ok(!Number.isNaN(v), `${spec}.${what}(${u}) is NaN`);
        }
      }
      assert.ok(Number.isNaN(act.value(NaN)), `${spec}.value(NaN) propagates NaN`);
    });
  }
});

describe('kink conventions (PyTorch autograd)', () => {
  test('relu, leaky_relu, jumprelu', () => {
    const relu = getActivation('relu');
    assert.equal(relu.value(0), 0);
    assert.equal(relu.derivative(0), 0);
    const leaky = getActivation('leaky_relu(0.2)');
    assert.equal(leaky.derivative(0), 0.2);
    assert.equal(leaky.value(-2), -0.4);
    const jump = getActivation('jumprelu(1)');
    assert.equal(jump.value(1), 0);
    assert.equal(jump.value(1.0000001), 1.0000001);
    assert.equal(jump.derivative(1), 0);
    assert.deepEqual(jump.kinks, [1]);
    assert.deepEqual(relu.kinks, [0]);
  });
});

describe('bad arguments throw InvalidArgumentError naming the argument', () => {
  for (const spec of SPECS) {
    test(spec, () => {
      const act = getActivation(spec);
      const calls: [string, () => unknown, RegExp][] = [
        ['mean s < 0', () => act.mean(0, -1), /standard deviation s/],
        ['mean s NaN', () => act.mean(0, NaN), /standard deviation s/],
        ['mean s ∞', () => act.mean(0, Infinity), /standard deviation s/],
        ['mean m NaN', () => act.mean(NaN, 1), /mean m/],
        ['meanDerivative m ∞', () => act.meanDerivative(Infinity, 1), /mean m/],
        ['meanSecondDerivative s < 0', () => act.meanSecondDerivative(1, -0.1), /standard deviation s/],
        ['polyMoments n < 0', () => act.polyMoments(0, 1, -1), /\bn must be an integer/],
        ['polyMoments n fractional', () => act.polyMoments(0, 1, 1.5), /\bn must be an integer/],
        ['squarePolyMoments n NaN', () => act.squarePolyMoments(0, 1, NaN), /\bn must be an integer/],
        ['hermiteCoefficients K < 0', () => act.hermiteCoefficients(0, 1, -2), /\bK must be an integer/],
        ['hermiteCoefficients m −∞', () => act.hermiteCoefficients(-Infinity, 1, 2), /mean m/],
      ];
      for (const [what, call, pattern] of calls) {
        assert.throws(call, (e: unknown) => e instanceof InvalidArgumentError && pattern.test(e.message), what);
      }
    });
  }
});

describe('tiny s against a large mean is treated as a point mass (no overflow of (θ − m)/s)', () => {
  test('relu and jumprelu', () => {
    assert.equal(getActivation('relu').mean(1e300, 1e-300), 1e300);
    assert.equal(getActivation('relu').mean(-1e300, 1e-300), 0);
    assert.equal(getActivation('jumprelu(1)').meanDerivative(1e300, 1e-300), 1);
  });
});
