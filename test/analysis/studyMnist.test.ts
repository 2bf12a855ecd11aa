/**
 * The study on MNIST itself (d = 784) with a tiny random 784→16→10 checkpoint and a subset of the data: the
 * built-in dataset path, and the quadratic-mixture column recorded as not available (empty, with a reason) when
 * its conjugate-gradient solve is switched off (mixtureQuadratic = 'none'; a solve at d = 784 takes seconds per
 * operator application, too slow here; the route is tested end to end at d = 70 in studyKrylov.test.ts) and when
 * the dense route is asked for at d = 784 (studyCheckpoint's default source) — never a made-up number.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensorsFile } from '../../src/formats/safetensors.js';
import { Rng } from '../../src/numerics/random.js';
import { buildStudyContext, runStudy, studyCheckpoint, type StudyResult } from '../../src/analysis/study.js';
import { loadNetwork } from '../../src/cli/load.js';

const D = 784, H = 16, O = 10;
let dir: string;
let result: StudyResult;

let checkpointPath: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'polyapprox-study-mnist-'));
  const ck = join(dir, 'ck');
  mkdirSync(ck);
  const rng = new Rng(11);
  const W1 = Float32Array.from({ length: H * D }, () => rng.normal() / 28);
  const W2 = Float32Array.from({ length: O * H }, () => rng.normal() / 4);
  checkpointPath = join(ck, 'step-64.safetensors');
  writeSafetensorsFile(checkpointPath, {
    W1: { dtype: 'F32', shape: [H, D], data: W1 }, b1: { dtype: 'F32', shape: [H], data: new Float32Array(H).fill(0.05) },
    W2: { dtype: 'F32', shape: [O, H], data: W2 }, b2: { dtype: 'F32', shape: [O], data: new Float32Array(O) },
  }, { architecture: 'mlp', activation: 'relu', step: '64', dataset: 'mnist-train', input_scaling: 'uint8/255 in [0,1], not standardized' });
  result = await runStudy({ checkpoints: ck, out: join(dir, 'out'), samples: 300, trainLimit: 1000, testLimit: 300, figures: false, mixtureQuadratic: 'none' });
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('study on MNIST', () => {
  test('uses the MNIST splits named by the checkpoint', () => {
    assert.equal(result.settings.train, 'mnist-train');
    assert.equal(result.settings.test, 'mnist-test');
    const acc = result.rows.find((r) => r.approximant === 'network' && r.metric === 'accuracy')!;
    assert.ok(acc.value! >= 0 && acc.value! <= 1);
    // A random network on 10 classes is near chance; 300 test images give a binomial se of ≈ 0.017.
    assert.ok(Math.abs(acc.se! - Math.sqrt((acc.value! * (1 - acc.value!)) / 300)) < 1e-15);
  });

  test('every approximant but the switched-off quadratic mixture has values; that one is empty with the reason', () => {
    const [c] = result.checkpoints;
    assert.equal(result.settings.mixtureQuadratic, 'none');
    for (const r of result.rows) {
      if (r.approximant === 'quadratic_mixture') assert.equal(r.value, null, `${r.eval_set}/${r.metric}`);
      else assert.ok(r.value !== null && Number.isFinite(r.value), `${r.approximant}/${r.eval_set}/${r.metric}`);
    }
    assert.match(c!.unavailable.quadratic_mixture!, /mixtureQuadratic = 'none'/);
    assert.deepEqual(c!.solver, {});
    const csv = readFileSync(result.files.csv, 'utf8').split('\n').filter((l) => l.includes(',quadratic_mixture,'));
    assert.equal(csv.length, 4 * 4 + 1);
    for (const line of csv) assert.match(line, /,,$/, line);
  });

  test('studyCheckpoint\'s default (dense) source refuses d = 784 and records why instead of a number', () => {
    const ctx = buildStudyContext(result.settings);
    const r = studyCheckpoint(loadNetwork(checkpointPath).net, 64, ctx, result.settings);
    assert.match(r.unavailable.quadratic_mixture!, /not available here: .*d = 784 exceeds the limit 64/);
    for (const row of r.rows.filter((x) => x.approximant === 'quadratic_mixture')) assert.equal(row.value, null);
  });

  test('the exact linear FVUs at d = 784 agree with Monte Carlo', () => {
    for (const [id, model] of [['linear_n01', 'n01'], ['quadratic_n01', 'n01'], ['linear_data', 'data_gaussian'], ['linear_mixture', 'mixture']] as const) {
      const exact = result.rows.find((r) => r.approximant === id && r.eval_set === model && r.metric === 'fvu_analytic')!.value!;
      const mc = result.rows.find((r) => r.approximant === id && r.eval_set === model && r.metric === 'fvu_standard')!;
      assert.ok(Math.abs(exact - mc.value!) <= 4 * mc.se! + 1e-3 * exact, `${id}: exact ${exact} vs MC ${mc.value} ± ${mc.se}`);
    }
  });
});
