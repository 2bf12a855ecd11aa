/**
 * The generic QuadratureActivation base, as a user plugging in a new activation would use it:
 *   - JumpReLU re-implemented on the base (pointwise g, g′, g″ plus declared jumps) must reproduce the
 *     closed-form JumpReluActivation, which checks the base's Dirac parts of E[g′] and E[g″];
 *   - the Heaviside step (a pure jump) against its closed forms E[g′] = φ(m/s)/s, E[g″] = −m·φ(m/s)/s³;
 *   - the hard-tanh example of the index.ts documentation against the independent oracle;
 *   - registration through registerActivation.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  getActivation,
  JumpReluActivation,
  QuadratureActivation,
  registerActivation,
  type ActivationJump,
} from '../../src/approx/activations/index.js';
import { normCdf, normPdf } from '../../src/numerics/index.js';
import { assertClose, checkAgainstOracle, gaussianCase, K_MAX } from './propertyHelpers.js';

const QUADRATURE_TOLERANCE = { abs: 1e-10, rel: 1e-11 };

class QuadratureJumpRelu extends QuadratureActivation {
  readonly name: string;
  override readonly kinks: readonly number[];
  override readonly jumps: readonly ActivationJump[];
  constructor(private readonly theta: number) {
    super();
    this.name = `quadrature_jumprelu(${theta})`;
    this.kinks = [theta];
    this.jumps = [{ at: theta, valueJump: theta, slopeJump: 1 }];
  }
  value(u: number): number {
    return u > this.theta ? u : 0;
  }
  derivative(u: number): number {
    return u > this.theta ? 1 : 0;
  }
  secondDerivative(_u: number): number {
    return 0;
  }
}

class Heaviside extends QuadratureActivation {
  readonly name = 'heaviside';
  override readonly kinks = [0];
  override readonly jumps = [{ at: 0, valueJump: 1, slopeJump: 0 }];
  value(u: number): number {
    return u > 0 ? 1 : 0;
  }
  derivative(_u: number): number {
    return 0;
  }
  secondDerivative(_u: number): number {
    return 0;
  }
}

// The documentation example of src/approx/activations/index.ts, verbatim.
class HardTanhActivation extends QuadratureActivation {
  readonly name = 'hardtanh';
  override readonly kinks = [-1, 1];
  override readonly jumps = [
    { at: -1, valueJump: 0, slopeJump: 1 },
    { at: 1, valueJump: 0, slopeJump: -1 },
  ];
  value(u: number) {
    return Math.min(1, Math.max(-1, u));
  }
  derivative(u: number) {
    return u > -1 && u < 1 ? 1 : 0;
  }
  secondDerivative(_u: number) {
    return 0;
  }
}

describe('QuadratureActivation subclasses', () => {
  for (const theta of [1, -0.5]) {
    test(`JumpReLU(${theta}) on the generic base equals the closed form`, () => {
      const generic = new QuadratureJumpRelu(theta);
      const closed = new JumpReluActivation(theta);
      fc.assert(
        fc.property(gaussianCase, ({ m, s, n }) => {
          const at = `θ = ${theta}, m = ${m}, s = ${s}`;
          const pairs: [string, number, number][] = [
            ['mean', generic.mean(m, s), closed.mean(m, s)],
            ['meanDerivative', generic.meanDerivative(m, s), closed.meanDerivative(m, s)],
            ['meanSecondDerivative', generic.meanSecondDerivative(m, s), closed.meanSecondDerivative(m, s)],
          ];
          const gp = generic.polyMoments(m, s, n);
          const cp = closed.polyMoments(m, s, n);
          const gh = generic.hermiteCoefficients(m, s, K_MAX);
          const ch = closed.hermiteCoefficients(m, s, K_MAX);
          const gs = generic.squarePolyMoments(m, s, n);
          const cs = closed.squarePolyMoments(m, s, n);
          for (let k = 0; k <= n; k++) pairs.push([`polyMoments[${k}]`, gp[k]!, cp[k]!], [`squarePolyMoments[${k}]`, gs[k]!, cs[k]!]);
          for (let k = 0; k <= K_MAX; k++) pairs.push([`hermite[${k}]`, gh[k]!, ch[k]!]);
          for (const [what, got, want] of pairs) assertClose(got, want, Math.abs(want), QUADRATURE_TOLERANCE, `${at}: ${what}`);
        }),
        { numRuns: 25, seed: 3 },
      );
    });
  }

  test('Heaviside step: the Dirac parts alone', () => {
    const step = new Heaviside();
    for (const [m, s] of [
      [0.3, 1],
      [-2, 0.5],
      [5, 3],
      [0, 0.05],
    ] as const) {
      const density = normPdf(m / s) / s;
      assertClose(step.mean(m, s), normCdf(m / s), 1, QUADRATURE_TOLERANCE, `mean at ${m}, ${s}`);
      assertClose(step.meanDerivative(m, s), density, density, { abs: 1e-14, rel: 1e-14 }, `E[g′] at ${m}, ${s}`);
      const second = (-m / (s * s)) * density;
      assertClose(step.meanSecondDerivative(m, s), second, Math.abs(second), { abs: 1e-14, rel: 1e-14 }, `E[g″] at ${m}, ${s}`);
    }
  });

  test('hard tanh (documentation example) agrees with the independent oracle', () => {
    registerActivation('hardtanh_test', () => new HardTanhActivation());
    const act = getActivation('HardTanh_Test');
    assert.ok(act instanceof HardTanhActivation);
    // The documented value of E[g″] at (0.3, 2).
    const documented = (normPdf((-1 - 0.3) / 2) - normPdf((1 - 0.3) / 2)) / 2;
    assertClose(act.meanSecondDerivative(0.3, 2), documented, Math.abs(documented), { abs: 1e-15, rel: 1e-14 }, 'E[g″]');
    fc.assert(
      fc.property(gaussianCase, ({ m, s, n }) => checkAgainstOracle(act, m, s, n, QUADRATURE_TOLERANCE)),
      { numRuns: 25, seed: 5 },
    );
  });
});
