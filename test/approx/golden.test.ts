/**
 * Every golden case at every degree it gives: α, β, Γ and predictions within 1e-9 relative; the analytic FVU
 * within 4 standard errors of the golden Monte Carlo value.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fit, fitLinear, fitQuadratic, explainedVariance } from '../../src/approx/fit/index.js';
import { PolynomialApproximant } from '../../src/approx/result.js';
import { goldenNames, loadGolden, relErr } from './golden.js';

for (const name of goldenNames()) {
  describe(`golden ${name}`, () => {
    const c = loadGolden(name);
    for (const [K, exp] of c.expected) {
      test(`degree ${K} coefficients match within 1e-9`, () => {
        const approx = K === 1 ? fitLinear(c.net, c.input) : fitQuadratic(c.net, c.input);
        assert.ok(relErr(approx.alpha, exp.alpha) < 1e-9, `alpha rel err ${relErr(approx.alpha, exp.alpha)}`);
        assert.ok(relErr(approx.beta.data, exp.beta.data) < 1e-9, `beta rel err ${relErr(approx.beta.data, exp.beta.data)}`);
        exp.gamma.forEach((G, o) => {
          const mine = approx.gammaMatrix(o);
          // Degree-1 golden files carry zero Γ: compare absolutely against the scale of β.
          const err = K === 1 ? Math.max(...Array.from(mine.data, Math.abs)) : relErr(mine.data, G.data);
          assert.ok(err < 1e-9, `gamma[${o}] err ${err}`);
        });
      });
    }
    for (const [K, Y] of c.predictions) {
      test(`degree ${K} predictions match within 1e-9`, () => {
        const approx = fit(c.net, c.input, K);
        const err = relErr(approx.predict(c.points).data, Y.data);
        assert.ok(err < 1e-9, `prediction rel err ${err}`);
      });
    }
    for (const [K, { fvu, se }] of c.fvu) {
      test(`degree ${K} analytic FVU within 4 standard errors of Monte Carlo`, () => {
        const report = explainedVariance(c.net, c.input, K);
        if (se === null) return;
        // The bilinear GLU is exact: the golden "FVU" is Monte Carlo rounding noise (~1e-31); ours is 1 − 1 in
        // double precision, so its floor is rounding too.
        const allowed = Math.max(4 * se, 1e-12);
        assert.ok(Math.abs(report.fvu - fvu) <= allowed, `fvu ${report.fvu} vs golden ${fvu} ± ${se}`);
      });
    }
  });
}

test('fit returns the monomial form for degree ≤ 2', () => {
  const c = loadGolden('mlp_relu_iso');
  assert.ok(fit(c.net, c.input, 2) instanceof PolynomialApproximant);
});
