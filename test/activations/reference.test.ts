/**
 * Every activation against 34-digit mpmath reference values (fixtures/activations/reference.json, from
 * scripts/fixtures/activations_reference.py): m = c + r·s with c the kink (0 for smooth activations),
 * r ∈ {−12, −4, −1, 0, 0.6, 2.5, 12}, s ∈ {0.05, 0.5, 1, 3, 10, 50}, plus ReLU at m/s = −20, −30;
 * E[g], E[g′], E[g″] (distributional), E[u^k g] and E[u^k g²] for k ≤ 5, Hermite coefficients k ≤ 8.
 *
 * Tolerances are relative to the fixture's scale E|integrand| of each quantity (the natural size of the
 * rounding error of any method): closed forms 1e-12 of it; quadrature activations 1e-10 absolute plus
 * 1e-11 of it. Additionally the ReLU far tail must be positive with relative error ≤ 1e-12 of the value.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { getActivation } from '../../src/approx/activations/index.js';
import { assertClose, type Tolerance } from './propertyHelpers.js';

interface Quantities<T> {
  mean: T;
  meanDerivative: T;
  meanSecondDerivative: T;
  polyMoments: T[];
  hermite: T[];
  squarePolyMoments: T[];
}
type Case = { activation: string; m: number; s: number; scale: Quantities<number> } & Omit<Quantities<number>, never>;

const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/activations/reference.json', import.meta.url), 'utf8'),
) as { cases: Case[] };

const CLOSED: Tolerance = { abs: 1e-300, rel: 1e-12 };
const QUADRATURE: Tolerance = { abs: 1e-10, rel: 1e-11 };
const CLOSED_FORM = new Set(['identity', 'relu', 'leaky_relu(0.2)', 'jumprelu(1)', 'jumprelu(-0.5)', 'gelu']);

function toleranceFor(activation: string, quantity: keyof Quantities<number>): Tolerance {
  if (activation === 'gelu' && quantity === 'squarePolyMoments') return QUADRATURE;
  return CLOSED_FORM.has(activation) ? CLOSED : QUADRATURE;
}

const byActivation = new Map<string, Case[]>();
for (const c of fixture.cases) byActivation.set(c.activation, [...(byActivation.get(c.activation) ?? []), c]);

describe('activations against mpmath reference values', () => {
  test('the fixture covers every built-in activation', () => {
    for (const name of ['identity', 'relu', 'leaky_relu(0.2)', 'jumprelu(1)', 'gelu', 'gelu_tanh', 'sigmoid', 'silu', 'tanh', 'softplus']) {
      assert.ok((byActivation.get(name)?.length ?? 0) >= 42, name);
    }
  });

  for (const [name, cases] of byActivation) {
    test(name, () => {
      const act = getActivation(name);
      for (const c of cases) {
        const at = `${name} at m = ${c.m}, s = ${c.s}`;
        const scalar = (q: 'mean' | 'meanDerivative' | 'meanSecondDerivative', got: number): void =>
          assertClose(got, c[q], c.scale[q], toleranceFor(name, q), `${at}: ${q}`);
        scalar('mean', act.mean(c.m, c.s));
        scalar('meanDerivative', act.meanDerivative(c.m, c.s));
        scalar('meanSecondDerivative', act.meanSecondDerivative(c.m, c.s));
        const vector = (q: 'polyMoments' | 'hermite' | 'squarePolyMoments', got: Float64Array): void => {
          assert.equal(got.length, c[q].length, `${at}: ${q} length`);
          c[q].forEach((want, k) => assertClose(got[k]!, want, c.scale[q][k]!, toleranceFor(name, q), `${at}: ${q}[${k}]`));
        };
        vector('polyMoments', act.polyMoments(c.m, c.s, c.polyMoments.length - 1));
        vector('hermite', act.hermiteCoefficients(c.m, c.s, c.hermite.length - 1));
        vector('squarePolyMoments', act.squarePolyMoments(c.m, c.s, c.squarePolyMoments.length - 1));
      }
    });
  }

  test('ReLU far tail (m/s ≤ −12): positive, relative error ≤ 1e-12', () => {
    const relu = getActivation('relu');
    const tail = byActivation.get('relu')!.filter((c) => c.m / c.s <= -12);
    assert.ok(tail.some((c) => c.m / c.s === -30));
    for (const c of tail) {
      const at = `relu at m/s = ${c.m / c.s}, s = ${c.s}`;
      const pairs: [string, number, number][] = [
        ['mean', relu.mean(c.m, c.s), c.mean],
        ['meanDerivative', relu.meanDerivative(c.m, c.s), c.meanDerivative],
        ['meanSecondDerivative', relu.meanSecondDerivative(c.m, c.s), c.meanSecondDerivative],
      ];
      relu.polyMoments(c.m, c.s, 5).forEach((v, k) => pairs.push([`polyMoments[${k}]`, v, c.polyMoments[k]!]));
      relu.hermiteCoefficients(c.m, c.s, 8).forEach((v, k) => pairs.push([`hermite[${k}]`, v, c.hermite[k]!]));
      relu.squarePolyMoments(c.m, c.s, 5).forEach((v, k) => pairs.push([`squarePolyMoments[${k}]`, v, c.squarePolyMoments[k]!]));
      for (const [what, got, want] of pairs) {
        if (want < 1e-290) continue; // subnormal range: relative accuracy ends there
        assert.ok(got > 0, `${at}: ${what} must be positive, got ${got}`);
        assert.ok(Math.abs(got / want - 1) <= 1e-12, `${at}: ${what} = ${got}, want ${want}`);
      }
    }
  });
});
