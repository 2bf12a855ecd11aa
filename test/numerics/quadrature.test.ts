import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  expectNormal,
  expectNormalDetailed,
  expectNormalVec,
  integrate,
  integrateVec,
  kronrod21Rule,
} from '../../src/numerics/quadrature.js';
import { normalMoments } from '../../src/numerics/moments.js';
import { normCdf } from '../../src/numerics/special.js';
import { ConvergenceError, InvalidArgumentError, NonFiniteError } from '../../src/errors.js';

// E[u^k g(u)], u ~ N(m, s²), mpmath tanh-sinh at 40 digits: scripts/fixtures/numerics_expect_normal.py
const enFixture = JSON.parse(readFileSync(new URL('../../fixtures/numerics/expect_normal.json', import.meta.url), 'utf8')) as {
  cases: [string, number, number, number, number][];
};

const DEFAULT_ABS = 1e-13;
const DEFAULT_REL = 1e-12;

const activations: Record<string, (u: number) => number> = {
  relu: (u) => (u > 0 ? u : 0),
  // exact GELU u·Φ(u); Φ is checked against mpmath in special.test.ts
  gelu: (u) => u * normCdf(u),
  sigmoid: (u) => 1 / (1 + Math.exp(-u)),
  silu: (u) => u / (1 + Math.exp(-u)),
  tanh: Math.tanh,
};

function tolerance(ref: number, absTol = DEFAULT_ABS, relTol = DEFAULT_REL): number {
  return Math.max(absTol, relTol * Math.abs(ref));
}

describe('Gauss–Kronrod 21 rule', () => {
  test('K21 integrates x^k exactly for k ≤ 31, G10 for k ≤ 19, neither beyond', () => {
    const { nodes, kronrodWeights, gaussWeights } = kronrod21Rule();
    const exact = (k: number): number => (k % 2 === 1 ? 0 : 2 / (k + 1));
    const rule = (w: Float64Array, k: number): number => nodes.reduce((s, x, i) => s + w[i]! * x ** k, 0);
    // 21 rounded products summed: a few ulps of 2
    for (let k = 0; k <= 31; k++) assert.ok(Math.abs(rule(kronrodWeights, k) - exact(k)) <= 2e-15, `K21, x^${k}`);
    for (let k = 0; k <= 19; k++) assert.ok(Math.abs(rule(gaussWeights, k) - exact(k)) <= 2e-15, `G10, x^${k}`);
    assert.ok(Math.abs(rule(kronrodWeights, 32) - exact(32)) > 1e-13); // 4.4e-12, far above rounding
    assert.ok(Math.abs(rule(gaussWeights, 20) - exact(20)) > 1e-8); // 2.9e-6
  });
});

describe('integrate', () => {
  const cases: [string, (x: number) => number, number, number, number, number[]?][] = [
    ['√x on [0, 1]', Math.sqrt, 0, 1, 2 / 3],
    ['log x on [0, 1] (endpoint singularity)', Math.log, 0, 1, -1],
    ['x^5 e^{−x} on [0, ∞)', (x) => x ** 5 * Math.exp(-x), 0, Infinity, 120],
    ['e^{−x²} on ℝ', (x) => Math.exp(-x * x), -Infinity, Infinity, Math.sqrt(Math.PI)],
    ['1/(1 + x²) on ℝ (algebraic tails)', (x) => 1 / (1 + x * x), -Infinity, Infinity, Math.PI],
    ['e^{x} on (−∞, 1]', Math.exp, -Infinity, 1, Math.E],
    ['cos(100x) on [0, 1]', (x) => Math.cos(100 * x), 0, 1, Math.sin(100) / 100],
    ['sin² on [0, 10π]', (x) => Math.sin(x) ** 2, 0, 10 * Math.PI, 5 * Math.PI],
    ['|x − 0.3| on [0, 1] (kink, no breakpoint)', (x) => Math.abs(x - 0.3), 0, 1, 0.29],
    ['|x − 0.3| on [0, 1] with breakpoint', (x) => Math.abs(x - 0.3), 0, 1, 0.29, [0.3]],
    ['step at 1/3 with breakpoint', (x) => (x < 1 / 3 ? 1 : 2), 0, 1, 5 / 3, [1 / 3]],
    ['x^{−0.9} on [0, 1] (strong singularity)', (x) => x ** -0.9, 0, 1, 10],
    ['1/(1 + x²) on [2, −3] (reversed)', (x) => 1 / (1 + x * x), 2, -3, -(Math.atan(2) + Math.atan(3))],
  ];
  for (const [name, f, a, b, exact, bp] of cases) {
    test(`${name}: within tolerance, honest error estimate`, () => {
      const r = integrate(f, a, b, bp ? { breakpoints: bp } : undefined);
      const err = Math.abs(r.value - exact);
      assert.ok(r.converged, `not converged: ${JSON.stringify(r)}`);
      assert.ok(err <= tolerance(exact), `error ${err} > tolerance (value ${r.value})`);
      // honesty: the estimate bounds the true error (plus the rounding of the exact value itself)
      assert.ok(err <= r.error + 2.3e-16 * Math.abs(exact), `true error ${err} > estimate ${r.error}`);
    });
  }

  test('a breakpoint saves work at a kink; loose tolerances save work', () => {
    const f = (x: number): number => Math.abs(x - 0.3);
    assert.ok(integrate(f, 0, 1, { breakpoints: [0.3] }).evaluations < integrate(f, 0, 1).evaluations);
    const g = (x: number): number => Math.exp(-x * x) * Math.cos(3 * x);
    assert.ok(integrate(g, -Infinity, Infinity, { relTol: 1e-4, absTol: 0 }).evaluations < integrate(g, -Infinity, Infinity).evaluations);
  });

  test('a = b gives 0; breakpoints outside (a, b) are ignored', () => {
    assert.deepEqual(integrate(Math.exp, 2, 2), { value: 0, error: 0, evaluations: 0, converged: true });
    const r = integrate((x) => x * x, 0, 1, { breakpoints: [-5, 0, 1, 7, Infinity] });
    assert.ok(Math.abs(r.value - 1 / 3) <= 1e-15);
  });

  test('budget exhausted → converged false; bad arguments throw', () => {
    const r = integrate((x) => x ** -0.9, 0, 1, { maxSubdivisions: 3 });
    assert.equal(r.converged, false);
    assert.ok(r.error > tolerance(10));
    assert.throws(() => integrate(Math.exp, NaN, 1), InvalidArgumentError);
    assert.throws(() => integrate(Math.exp, 0, 1, { absTol: -1 }), InvalidArgumentError);
    assert.throws(() => integrate(Math.exp, 0, 1, { maxSubdivisions: 1.5 }), InvalidArgumentError);
    assert.throws(() => integrate(Math.exp, 0, 1, { breakpoints: [NaN] }), InvalidArgumentError);
    assert.throws(() => integrate(() => NaN, 0, 1), NonFiniteError);
    // a divergent integral cannot meet any tolerance
    assert.equal(integrate((x) => 1 / (x - 0.5), 0, 1, { breakpoints: [0.5] }).converged, false);
  });
});

describe('integrateVec', () => {
  test('components share nodes; each meets its own tolerance even when magnitudes differ by 1e20', () => {
    const r = integrateVec(
      (x, out) => {
        out[0] = 1e10 * Math.exp(-x * x);
        out[1] = 1e-10 * x * x * Math.exp(-x * x);
        out[2] = Math.abs(x - 0.25) * Math.exp(-x * x);
      },
      3,
      -Infinity,
      Infinity,
      { breakpoints: [0.25] },
    );
    const sp = Math.sqrt(Math.PI);
    // ∫ |x − c| e^{−x²} = e^{−c²} + c√π·erf(c) − … : computed here by scalar integration on two pieces instead
    const third =
      integrate((x) => (0.25 - x) * Math.exp(-x * x), -Infinity, 0.25).value +
      integrate((x) => (x - 0.25) * Math.exp(-x * x), 0.25, Infinity).value;
    const refs = [1e10 * sp, 1e-10 * (sp / 2), third];
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(r.value[c]! - refs[c]!) <= tolerance(refs[c]!, 0, 1e-12) * 2, `component ${c}`);
    assert.ok(r.converged);
  });

  test('reversed limits and argument checks', () => {
    const r = integrateVec((x, out) => {
      out[0] = x;
      out[1] = 1;
    }, 2, 1, 0);
    assert.ok(Math.abs(r.value[0]! + 0.5) <= 1e-15 && Math.abs(r.value[1]! + 1) <= 1e-15, `${r.value}`);
    assert.throws(() => integrateVec(() => undefined, 0, 0, 1), InvalidArgumentError);
    assert.throws(() => integrateVec((x, out) => void (out[1] = NaN), 2, 0, 1), NonFiniteError);
  });
});

describe('expectNormal', () => {
  test('polynomials: E[u^k] equals normalMoments (m ∈ [−12, 12], s ∈ [0.05, 50], k ≤ 6), honest error', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -12, max: 12, noNaN: true }),
        fc.double({ min: 0.05, max: 50, noNaN: true }),
        fc.integer({ min: 0, max: 6 }),
        (m, s, k) => {
          const ref = normalMoments(k, m, s)[k]!;
          const r = expectNormalDetailed((u) => u ** k, m, s);
          const err = Math.abs(r.value - ref);
          assert.ok(r.converged);
          // the reference is itself rounded: ≈ k ulps of the largest term Σ C(k,2j)|m|^{k−2j}s^{2j}(2j−1)!!
          const refRounding = 8 * k * Number.EPSILON * normalMoments(k, Math.abs(m), s)[k]!;
          assert.ok(err <= Math.max(tolerance(ref), r.error) + refRounding, `m=${m} s=${s} k=${k}: ${r.value} vs ${ref}`);
          assert.ok(err <= r.error + refRounding, `estimate ${r.error} < true error ${err}`);
        },
      ),
      { numRuns: 200 },
    );
  });

  test(`activations × u^k vs mpmath (${enFixture.cases.length} cases, m ∈ [−12, 12], s ∈ [0.05, 50])`, () => {
    let worstRatio = 0;
    let honestyViolations = 0;
    for (const [name, k, m, s, ref] of enFixture.cases) {
      const g = activations[name]!;
      const opts = name === 'relu' ? { breakpoints: [0] } : undefined;
      const r = expectNormalDetailed((u) => u ** k * g(u), m, s, opts);
      assert.ok(r.converged, `${name} k=${k} m=${m} s=${s} did not converge`);
      const err = Math.abs(r.value - ref);
      const allowed = Math.max(tolerance(ref), r.error) + 2.3e-16 * Math.abs(ref);
      assert.ok(err <= allowed, `${name}·u^${k}, m=${m}, s=${s}: ${r.value} vs ${ref} (error ${err}, estimate ${r.error})`);
      if (err > r.error + 2.3e-16 * Math.abs(ref)) honestyViolations++;
      worstRatio = Math.max(worstRatio, err / tolerance(ref));
    }
    assert.equal(honestyViolations, 0, 'error estimate below the true error');
    assert.ok(worstRatio <= 1);
  });

  test('near-steps without breakpoints: sigmoid and tanh at s = 50 (width 1/50 in z), also GELU', () => {
    for (const [name, m] of [
      ['sigmoid', 0.3],
      ['sigmoid', 12],
      ['tanh', -12],
      ['tanh', 0.3],
      ['gelu', -0.7],
    ] as const) {
      const ref = enFixture.cases.find(([a, k, mm, s]) => a === name && k === 0 && mm === m && s === 50);
      assert.ok(ref, `missing ${name} ${m}`);
      const v = expectNormal(activations[name]!, m, 50);
      assert.ok(Math.abs(v - ref[4]) <= tolerance(ref[4]), `${name} m=${m}: ${v} vs ${ref[4]}`);
    }
  });

  test('s = 0 returns h(m); s → 0 is continuous', () => {
    assert.equal(expectNormal((u) => u * u + 1, 1.5, 0), 3.25);
    const v = expectNormal((u) => Math.tanh(u), 0.7, 1e-9);
    assert.ok(Math.abs(v - Math.tanh(0.7)) <= 1e-15);
  });

  test('ConvergenceError with the achieved error when the budget is too small', () => {
    assert.throws(
      () => expectNormal((u) => Math.abs(u - 0.123), 0, 1, { maxSubdivisions: 1 }),
      (e: unknown) => e instanceof ConvergenceError && /estimated error/.test(e.message) && /m = 0, s = 1/.test(e.message),
    );
    assert.throws(() => expectNormalVec((u, out) => void (out[0] = Math.abs(u - 0.123)), 1, 0, 1, { maxSubdivisions: 0 }), ConvergenceError);
  });

  test('invalid m, s and non-finite h throw typed errors', () => {
    assert.throws(() => expectNormal(Math.tanh, 0, -1), InvalidArgumentError);
    assert.throws(() => expectNormal(Math.tanh, NaN, 1), InvalidArgumentError);
    assert.throws(() => expectNormal(Math.tanh, 0, Infinity), InvalidArgumentError);
    assert.throws(() => expectNormal(() => NaN, 0, 1), NonFiniteError);
    assert.throws(() => expectNormal((u) => 1 / u, 0, 0), NonFiniteError);
  });

  test('expectNormalVec agrees with scalar expectNormal and normalMoments component-wise', () => {
    const m = 0.4;
    const s = 7;
    const h = (u: number, out: Float64Array): void => {
      out[0] = 1;
      out[1] = u;
      out[2] = u ** 6; // ≈ 1.8e7: must not swamp the tolerance of the small components
      out[3] = activations.sigmoid!(u) * 1e-9;
      out[4] = activations.relu!(u);
    };
    const v = expectNormalVec(h, 5, m, s, { breakpoints: [0] });
    const mom = normalMoments(6, m, s);
    const refs = [
      1,
      mom[1]!,
      mom[6]!,
      1e-9 * expectNormal(activations.sigmoid!, m, s),
      expectNormal(activations.relu!, m, s, { breakpoints: [0] }),
    ];
    for (let c = 0; c < 5; c++) assert.ok(Math.abs(v[c]! - refs[c]!) <= 2 * tolerance(refs[c]!), `component ${c}: ${v[c]} vs ${refs[c]}`);
    const zero = expectNormalVec((u, out) => void (out[0] = u), 1, 3, 0);
    assert.equal(zero[0], 3);
  });
});
