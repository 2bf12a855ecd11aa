/**
 * The study end to end on a small synthetic problem (12 features, 3 classes, 12→6→3 ReLU checkpoints), small
 * enough that every approximant — including the dense quadratic mixture fit — runs in milliseconds, so the test
 * can afford enough samples to check the exact FVUs against Monte Carlo.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { PNG } from 'pngjs';
import { writeSafetensorsFile } from '../../src/formats/safetensors.js';
import { Rng } from '../../src/numerics/random.js';
import {
  STUDY_APPROXIMANTS, STUDY_CSV_COLUMNS, listCheckpoints, parseInputScaling, runStudy, type StudyResult, type StudyRow,
} from '../../src/analysis/study.js';
import { registerStudy } from '../../src/cli/commands/study.js';
import { describeScaling } from '../../src/data/datasets.js';
import { FormatError, InvalidArgumentError } from '../../src/errors.js';
import { classStructuredData } from '../random.js';

const D = 12, H = 6, O = 3;
let dir: string;
let ckDir: string;
let trainPath: string;
let testPath: string;
const testSet: { x: Float32Array; y: Float32Array } = { x: new Float32Array(0), y: new Float32Array(0) };
const nets = new Map<number, { W1: Float32Array; b1: Float32Array; W2: Float32Array; b2: Float32Array }>();

function writeCheckpoint(step: number, rng: Rng, scale: number): void {
  const W1 = Float32Array.from({ length: H * D }, () => (rng.normal() * scale) / Math.sqrt(D));
  const b1 = Float32Array.from({ length: H }, () => 0.2 * rng.normal());
  const W2 = Float32Array.from({ length: O * H }, () => rng.normal() * scale);
  const b2 = Float32Array.from({ length: O }, () => 0.1 * rng.normal());
  nets.set(step, { W1, b1, W2, b2 });
  writeSafetensorsFile(join(ckDir, `step-${step}.safetensors`), {
    W1: { dtype: 'F32', shape: [H, D], data: W1 }, b1: { dtype: 'F32', shape: [H], data: b1 },
    W2: { dtype: 'F32', shape: [O, H], data: W2 }, b2: { dtype: 'F32', shape: [O], data: b2 },
  }, { architecture: 'mlp', activation: 'relu', step: String(step), input_scaling: 'as stored, not standardized' });
}

/** The network's test accuracy computed independently of the library (plain loops). */
function directAccuracy(step: number): number {
  const { W1, b1, W2, b2 } = nets.get(step)!;
  const n = testSet.y.length;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const h = Array.from({ length: H }, (_, j) => {
      let u = b1[j]!;
      for (let a = 0; a < D; a++) u += W1[j * D + a]! * testSet.x[i * D + a]!;
      return Math.max(0, u);
    });
    const out = Array.from({ length: O }, (_, c) => b2[c]! + h.reduce((s, v, j) => s + W2[c * H + j]! * v, 0));
    if (out.indexOf(Math.max(...out)) === testSet.y[i]) hits++;
  }
  return hits / n;
}

function value(rows: readonly StudyRow[], step: number, approximant: string, evalSet: string, metric: string): StudyRow {
  const r = rows.find((x) => x.step === step && x.approximant === approximant && x.eval_set === evalSet && x.metric === metric);
  assert.ok(r, `row ${step}/${approximant}/${evalSet}/${metric}`);
  return r;
}

let first: StudyResult;
let firstLoopSeconds = 0;

function timedHooks(sink: { seconds: number; notes: string[] }): NonNullable<Parameters<typeof runStudy>[0]['hooks']> {
  let t0 = 0;
  return {
    onStart: () => { t0 = performance.now(); },
    onCheckpoint: () => { sink.seconds = (performance.now() - t0) / 1000; },
    onNote: (m) => sink.notes.push(m),
  };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'polyapprox-study-'));
  ckDir = join(dir, 'ck');
  mkdirSync(ckDir);
  const rng = new Rng(42);
  const means = Array.from({ length: O }, () => Float64Array.from({ length: D }, () => rng.normal()));
  const mixes = Array.from({ length: O }, () => Float64Array.from({ length: D * D }, () => (0.5 * rng.normal()) / Math.sqrt(D)));
  const train = classStructuredData(900, rng, means, mixes);
  const test = classStructuredData(300, rng, means, mixes);
  testSet.x = test.x;
  testSet.y = test.y;
  trainPath = join(dir, 'train.safetensors');
  testPath = join(dir, 'test.safetensors');
  writeSafetensorsFile(trainPath, { x: { dtype: 'F32', shape: [900, D], data: train.x }, y: { dtype: 'F32', shape: [900], data: train.y } });
  writeSafetensorsFile(testPath, { x: { dtype: 'F32', shape: [300, D], data: test.x }, y: { dtype: 'F32', shape: [300], data: test.y } });
  writeCheckpoint(1, rng, 0.5);
  writeCheckpoint(8, rng, 2);
  writeFileSync(join(ckDir, 'training.json'), '{}');
  const sink = { seconds: 0, notes: [] as string[] };
  first = await runStudy({ checkpoints: ckDir, out: join(dir, 'out'), samples: 4000, seed: 3, trainData: trainPath, testData: testPath, hooks: timedHooks(sink) });
  firstLoopSeconds = sink.seconds;
  assert.ok(sink.notes.length > 0, 'the first run builds the data context');
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('study on a synthetic problem', () => {
  test('study.csv has the documented columns and one row per checkpoint × approximant × evaluation set × metric', () => {
    const lines = readFileSync(first.files.csv, 'utf8').trimEnd().split('\n');
    assert.equal(lines[0], 'step,approximant,input_model,degree,eval_set,metric,value,se');
    assert.deepEqual(lines[0]!.split(','), [...STUDY_CSV_COLUMNS]);
    const perCheckpoint = 1 + STUDY_APPROXIMANTS.length * 4 * 4 + STUDY_APPROXIMANTS.length;
    assert.equal(lines.length - 1, 2 * perCheckpoint);
    assert.equal(first.rows.length, 2 * perCheckpoint);
    // Every value is present here (d = 12: even the dense quadratic mixture fit runs) and the CSV round-trips.
    lines.slice(1).forEach((line, k) => {
      const f = line.split(',');
      const r = first.rows[k]!;
      assert.deepEqual(f.slice(0, 6), [String(r.step), r.approximant, r.input_model, r.degree === null ? '' : String(r.degree), r.eval_set, r.metric]);
      assert.equal(Number(f[6]), r.value);
      assert.ok(f[6] !== '', `value missing in ${line}`);
      assert.equal(f[7] === '' ? null : Number(f[7]), r.se);
    });
    assert.deepEqual(first.checkpoints.map((c) => c.step), [1, 8]);
    assert.deepEqual(first.checkpoints.map((c) => c.unavailable), [{}, {}]);
  });

  test('study.json holds the settings and the same rows', () => {
    const doc = JSON.parse(readFileSync(first.files.json, 'utf8'));
    assert.deepEqual(doc.rows, first.rows);
    assert.equal(doc.settings.samples, 4000);
    assert.equal(doc.settings.seed, 3);
    assert.equal(doc.settings.eps, 1e-6);
    assert.equal(doc.settings.train, trainPath);
    assert.deepEqual(doc.columns, [...STUDY_CSV_COLUMNS]);
    assert.equal(doc.checkpoints.length, 2);
    assert.equal(doc.checkpoints[0].sha256.length, 64);
  });

  test('the network\'s test accuracy matches an independent computation', () => {
    for (const step of [1, 8]) {
      const r = value(first.rows, step, 'network', 'test', 'accuracy');
      assert.equal(r.value, directAccuracy(step));
      assert.ok(Math.abs(r.se! - Math.sqrt((r.value! * (1 - r.value!)) / 300)) < 1e-15);
    }
  });

  test('exact FVUs agree with the Monte Carlo FVU on samples of the same input model', () => {
    for (const step of [1, 8]) {
      for (const a of STUDY_APPROXIMANTS) {
        const exact = value(first.rows, step, a.id, a.inputModel, 'fvu_analytic');
        const mc = value(first.rows, step, a.id, a.inputModel, 'fvu_standard');
        assert.equal(exact.se, null);
        const tol = 4 * mc.se! + 1e-3 * exact.value!;
        assert.ok(Math.abs(exact.value! - mc.value!) <= tol, `step ${step} ${a.id}: exact ${exact.value} vs MC ${mc.value} ± ${mc.se}`);
      }
      // The quadratic explains at least what the linear does, and dropping Γ costs variance under N(0, I).
      const f = (id: string, m: string): number => value(first.rows, step, id, m, 'fvu_analytic').value!;
      assert.ok(f('quadratic_n01', 'n01') <= f('linear_n01', 'n01'));
      assert.ok(f('linear_trunc_n01', 'n01') >= f('linear_n01', 'n01'));
      assert.ok(f('quadratic_mixture', 'mixture') <= f('linear_mixture', 'mixture') + 1e-12);
    }
  });

  test('metrics are sane: accuracies in [0, 1], KL ≥ 0, on synthetic sets accuracy is agreement with the network', () => {
    for (const r of first.rows) {
      if (r.metric === 'accuracy') assert.ok(r.value! >= 0 && r.value! <= 1);
      if (r.metric === 'kl' || r.metric.startsWith('fvu')) assert.ok(r.value! >= 0);
    }
    // The network never appears on synthetic sets (its agreement with itself would be 1 by definition).
    assert.ok(!first.rows.some((r) => r.approximant === 'network' && r.eval_set !== 'test'));
  });

  test('the charts are written as SVG and PNG', () => {
    const names = ['accuracy_test', 'accuracy_test_all', 'fvu_test', 'fvu_n01', 'kl_test', 'kl_n01', 'fvu_mixture', 'kl_mixture', 'fvu_analytic_n01', 'fvu_analytic_all'];
    assert.deepEqual(first.files.figures.map((f) => f.split('/').pop()), names);
    for (const f of first.files.figures) {
      assert.match(readFileSync(`${f}.svg`, 'utf8'), /^<svg[^>]* width="640" height="400"/);
      const png = PNG.sync.read(readFileSync(`${f}.png`));
      assert.deepEqual([png.width, png.height], [640, 400]);
    }
  });

  test('a re-run reuses the cache: no data loaded, identical rows, faster; changed checkpoints and settings are recomputed', async () => {
    const sink = { seconds: 0, notes: [] as string[] };
    const again = await runStudy({ checkpoints: ckDir, out: join(dir, 'out'), samples: 4000, seed: 3, trainData: trainPath, testData: testPath, figures: false, hooks: timedHooks(sink) });
    assert.equal(again.cached, 2);
    assert.deepEqual(sink.notes, []);
    assert.deepEqual(again.rows, first.rows);
    assert.ok(sink.seconds < firstLoopSeconds, `cached loop ${sink.seconds} s vs computed ${firstLoopSeconds} s`);
    assert.equal(readFileSync(join(dir, 'out', 'study.csv'), 'utf8'), readFileSync(first.files.csv, 'utf8'));

    // Rewriting one checkpoint invalidates only its entry.
    writeCheckpoint(8, new Rng(5), 1);
    const changed = await runStudy({ checkpoints: ckDir, out: join(dir, 'out'), samples: 4000, seed: 3, trainData: trainPath, testData: testPath, figures: false });
    assert.equal(changed.cached, 1);
    assert.deepEqual(changed.rows.filter((r) => r.step === 1), first.rows.filter((r) => r.step === 1));
    assert.notDeepEqual(changed.rows.filter((r) => r.step === 8), first.rows.filter((r) => r.step === 8));
    assert.equal(value(changed.rows, 8, 'network', 'test', 'accuracy').value, directAccuracy(8));

    // Other settings, or --fresh, recompute everything.
    const reseeded = await runStudy({ checkpoints: ckDir, out: join(dir, 'out'), samples: 500, seed: 4, trainData: trainPath, testData: testPath, figures: false });
    assert.equal(reseeded.cached, 0);
    const fresh = await runStudy({ checkpoints: ckDir, out: join(dir, 'out'), samples: 500, seed: 4, trainData: trainPath, testData: testPath, figures: false, fresh: true });
    assert.equal(fresh.cached, 0);
    assert.deepEqual(fresh.rows, reseeded.rows);
  });

  test('the CLI command runs the study and prints a JSON summary; bad input exits non-zero with a message', async () => {
    const run = async (args: string[]): Promise<{ out: string; err: string; code: number }> => {
      const program = new Command('polyapprox').exitOverride();
      registerStudy(program);
      let out = '';
      let err = '';
      const ow = process.stdout.write.bind(process.stdout);
      const ew = process.stderr.write.bind(process.stderr);
      // The command writes strings; node's test runner talks to its parent through stdout with Buffers, which
      // must pass through untouched.
      process.stdout.write = ((s: string | Uint8Array, ...rest: never[]) => {
        if (typeof s !== 'string') return ow(s, ...rest);
        out += s;
        return true;
      }) as typeof process.stdout.write;
      process.stderr.write = ((s: string | Uint8Array, ...rest: never[]) => {
        if (typeof s !== 'string') return ew(s, ...rest);
        err += s;
        return true;
      }) as typeof process.stderr.write;
      const before = process.exitCode;
      process.exitCode = 0;
      try {
        await program.parseAsync(['node', 'polyapprox', ...args]);
      } finally {
        process.stdout.write = ow;
        process.stderr.write = ew;
      }
      const code = Number(process.exitCode ?? 0);
      process.exitCode = before;
      return { out, err, code };
    };
    const outDir = join(dir, 'cli');
    const ok = await run(['study', '--checkpoints', ckDir, '--out', outDir, '--samples', '300', '--train-data', trainPath, '--test-data', testPath, '--no-figures', '--json']);
    assert.equal(ok.code, 0, ok.err);
    const summary = JSON.parse(ok.out);
    assert.deepEqual(summary.checkpoints.map((c: { step: number }) => c.step), [1, 8]);
    assert.equal(summary.checkpoints[0]['acc net'], directAccuracy(1));
    assert.ok(existsSync(join(outDir, 'study.csv')) && existsSync(join(outDir, 'study.json')));
    assert.ok(!existsSync(join(outDir, 'figures')));

    const missing = await run(['study', '--checkpoints', join(dir, 'nope'), '--out', outDir]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /checkpoints directory .*nope/);
    const usage = await run(['study', '--checkpoints', ckDir, '--out', outDir, '--samples', 'many']);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /--samples/);
    const half = await run(['study', '--checkpoints', ckDir, '--out', outDir, '--train-data', trainPath]);
    assert.equal(half.code, 2);
  });
});

describe('study helpers', () => {
  test('listCheckpoints sorts by step numerically and ignores other files', () => {
    const d = mkdtempSync(join(tmpdir(), 'polyapprox-ck-'));
    try {
      for (const n of ['step-16.safetensors', 'step-2.safetensors', 'step-128.safetensors', 'notes.txt', 'step-x.safetensors', 'training.json']) writeFileSync(join(d, n), '');
      assert.deepEqual(listCheckpoints(d).map((c) => c.step), [2, 16, 128]);
      rmSync(join(d, 'step-2.safetensors'));
      assert.equal(listCheckpoints(d)[0]!.path, join(d, 'step-16.safetensors'));
      const empty = mkdtempSync(join(tmpdir(), 'polyapprox-ck-'));
      assert.throws(() => listCheckpoints(empty), InvalidArgumentError);
      rmSync(empty, { recursive: true });
      assert.throws(() => listCheckpoints(join(d, 'missing')), InvalidArgumentError);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('parseInputScaling reads what the trainer writes', () => {
    assert.equal(parseInputScaling(undefined), null);
    assert.equal(parseInputScaling(describeScaling({ kind: 'unit' })), null);
    assert.deepEqual(
      parseInputScaling(describeScaling({ kind: 'standardized', base: 'unit', mean: 0.1307, std: 0.3081 })),
      { mean: 0.1307, std: 0.3081 },
    );
    assert.throws(() => parseInputScaling('standardized somehow'), FormatError);
  });

  test('a checkpoint whose metadata step disagrees with its name is refused', async () => {
    const d = mkdtempSync(join(tmpdir(), 'polyapprox-ck-'));
    try {
      writeSafetensorsFile(join(d, 'step-4.safetensors'), {
        W1: { dtype: 'F32', shape: [1, D], data: new Float32Array(D) }, W2: { dtype: 'F32', shape: [O, 1], data: new Float32Array(O) },
      }, { step: '5', activation: 'relu' });
      await assert.rejects(runStudy({ checkpoints: d, out: join(d, 'o'), trainData: trainPath, testData: testPath }), FormatError);
      await assert.rejects(runStudy({ checkpoints: d, out: join(d, 'o'), trainData: trainPath }), InvalidArgumentError);
      await assert.rejects(runStudy({ checkpoints: d, out: join(d, 'o'), samples: 1 }), InvalidArgumentError);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
