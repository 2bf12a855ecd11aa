/**
 * End-to-end tests of the `polyapprox` command: each test runs the installed bin in a separate process, as a user
 * would, on fixture files written by numpy (scripts/fixtures/cli_fixtures.py) and on every golden case.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensorsFile } from '../../src/formats/safetensors.js';
import { readNpy } from '../../src/formats/npy.js';
import { goldenNames, GOLDEN_DIR, relErr } from '../approx/golden.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'polyapprox.mjs');
const FIX = join(ROOT, 'fixtures', 'cli');
const tmp = mkdtempSync(join(tmpdir(), 'polyapprox-cli-'));

function run(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, POLYAPPROX_DEBUG: '' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[]): { stdout: string; stderr: string } {
  const r = run(args);
  assert.equal(r.code, 0, `polyapprox ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
  return r;
}

function tensors(path: string) {
  return readSafetensorsFile(path).tensors;
}

function assertSameTensors(actualPath: string, expectedPath: string, names: string[], tol = 1e-9): void {
  const a = tensors(actualPath);
  const e = tensors(expectedPath);
  for (const n of names) {
    const x = a.get(n);
    const y = e.get(n);
    assert.ok(x && y, `tensor ${n} present`);
    assert.deepEqual(x.shape, y.shape, `${n} shape`);
    const err = relErr(x.data, y.data);
    assert.ok(err < tol, `${n}: relative error ${err}`);
  }
}

describe('fit and predict on numpy-written fixtures', () => {
  for (const dtype of ['f64', 'f32', 'f16', 'bf16']) {
    test(`${dtype} model under a dense Gaussian, degrees 1 and 2, match numpy's closed form`, () => {
      for (const K of [1, 2]) {
        const out = join(tmp, `relu_${dtype}_${K}.safetensors`);
        ok(['fit', '--model', join(FIX, `mlp_relu_${dtype}.safetensors`), '--input', join(FIX, 'input_gaussian.safetensors'), '--degree', String(K), '--out', out]);
        assertSameTensors(out, join(FIX, `expected_gauss_deg${K}.safetensors`), K === 1 ? ['alpha', 'beta'] : ['alpha', 'beta', 'gamma']);
        const y = join(tmp, `y_${dtype}_${K}.safetensors`);
        ok(['predict', '--approx', out, '--x', join(FIX, 'points.safetensors'), '--out', y]);
        assertSameTensors(y, join(FIX, `expected_gauss_pred_deg${K}.safetensors`), ['y']);
      }
    });
  }

  test('nn.Sequential .npz with --act, default N(0, I), .npy in and out', () => {
    const out = join(tmp, 'seq.safetensors');
    const r = ok(['fit', '--model', join(FIX, 'mlp_relu_sequential.npz'), '--act', 'relu', '--out', out]);
    assert.match(r.stdout, /wrote/);
    assertSameTensors(out, join(FIX, 'expected_iso_deg2.safetensors'), ['alpha', 'beta', 'gamma']);
    const y = join(tmp, 'seq_y.npy');
    ok(['predict', '--approx', out, '--x', join(FIX, 'points.npy'), '--out', y]);
    const Y = readNpy(new Uint8Array(readFileSync(y)));
    const E = tensors(join(FIX, 'expected_iso_pred_deg2.safetensors')).get('y')!;
    assert.ok(relErr(Y.data, E.data) < 1e-9);
  });

  test('--json prints exactly one JSON object with the exact variance accounting', () => {
    const out = join(tmp, 'json.safetensors');
    const r = ok(['fit', '--model', join(FIX, 'mlp_relu_f64.safetensors'), '--degree', '2', '--out', out, '--json']);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, `stdout: ${r.stdout}`);
    const j = JSON.parse(lines[0]!) as Record<string, unknown>;
    for (const k of ['fvu', 'r2', 'explained_variance_by_degree', 'seconds']) assert.ok(k in j, `missing ${k}`);
    const fvu = j.fvu as number;
    assert.ok(fvu > 0 && fvu < 1);
    assert.ok(Math.abs((j.r2 as number) - (1 - fvu)) < 1e-12);
    const ev = j.explained_variance_by_degree as number[];
    assert.equal(ev.length, 3);
    // The file records the same FVU.
    assert.equal(Number(readSafetensorsFile(out).metadata.fvu), fvu);
  });

  test('biases may be absent', () => {
    const out = join(tmp, 'nobias.safetensors');
    ok(['fit', '--model', join(FIX, 'mlp_relu_nobias.safetensors'), '--degree', '1', '--out', out]);
    assert.equal(tensors(out).get('alpha')!.shape[0], 3);
  });

  test('degree 3 writes the Hermite form, which predict reads', () => {
    const out = join(tmp, 'deg3.safetensors');
    ok(['fit', '--model', join(FIX, 'mlp_relu_f64.safetensors'), '--degree', '3', '--out', out]);
    const meta = readSafetensorsFile(out).metadata;
    assert.equal(meta.form, 'hermite');
    assert.equal(meta.degree, '3');
    const y = join(tmp, 'deg3_y.safetensors');
    ok(['predict', '--approx', out, '--x', join(FIX, 'points.safetensors'), '--out', y]);
    assert.deepEqual(tensors(y).get('y')!.shape, [32, 3]);
  });

  test('--gamma factored stores the documented factored form and predicts identically', () => {
    const dense = join(tmp, 'dense.safetensors');
    const fact = join(tmp, 'fact.safetensors');
    ok(['fit', '--model', join(FIX, 'mlp_relu_f64.safetensors'), '--input', join(FIX, 'input_gaussian.safetensors'), '--out', dense, '--gamma', 'dense']);
    ok(['fit', '--model', join(FIX, 'mlp_relu_f64.safetensors'), '--input', join(FIX, 'input_gaussian.safetensors'), '--out', fact, '--gamma', 'factored']);
    const t = tensors(fact);
    assert.ok(t.has('gamma_directions') && t.has('gamma_coef') && !t.has('gamma'));
    const y1 = join(tmp, 'yd.safetensors');
    const y2 = join(tmp, 'yf.safetensors');
    ok(['predict', '--approx', dense, '--x', join(FIX, 'points.safetensors'), '--out', y1]);
    ok(['predict', '--approx', fact, '--x', join(FIX, 'points.safetensors'), '--out', y2]);
    assertSameTensors(y2, y1, ['y'], 1e-12);
  });

  test('inspect describes models, approximants and input models', () => {
    const out = join(tmp, 'insp.safetensors');
    ok(['fit', '--model', join(FIX, 'mlp_relu_f32.safetensors'), '--out', out, '--fvu']);
    const m = JSON.parse(ok(['inspect', join(FIX, 'mlp_relu_f32.safetensors'), '--json']).stdout) as { kind: string; summary: Record<string, unknown> };
    assert.equal(m.kind, 'model');
    assert.equal(m.summary.hidden_dim, 10);
    assert.equal(m.summary.activation, 'relu');
    const a = JSON.parse(ok(['inspect', out, '--json']).stdout) as { kind: string; summary: Record<string, unknown> };
    assert.equal(a.kind, 'approximant');
    assert.equal(a.summary.degree, 2);
    assert.ok((a.summary.fvu as number) > 0);
    const i = ok(['inspect', join(FIX, 'input_gaussian.safetensors')]).stdout;
    assert.match(i, /input-gaussian/);
    assert.match(i, /cov\s+F64\s+\[6, 6\]/);
  });
});

describe('every golden case through the CLI', () => {
  for (const name of goldenNames()) {
    test(name, () => {
      const dir = join(GOLDEN_DIR, name);
      const input = existsSync(join(dir, 'input.safetensors')) ? ['--input', join(dir, 'input.safetensors')] : [];
      for (const file of readdirSync(dir)) {
        const m = /^expected_pred_deg(\d)\.safetensors$/.exec(file);
        if (!m) continue;
        const K = m[1]!;
        const out = join(tmp, `${name}_${K}.safetensors`);
        ok(['fit', '--model', join(dir, 'model.safetensors'), ...input, '--degree', K, '--out', out]);
        if (existsSync(join(dir, `expected_deg${K}.safetensors`))) {
          assertSameTensors(out, join(dir, `expected_deg${K}.safetensors`), K === '1' ? ['alpha', 'beta'] : ['alpha', 'beta', 'gamma']);
        }
        const y = join(tmp, `${name}_${K}_y.safetensors`);
        ok(['predict', '--approx', out, '--x', join(dir, 'points.safetensors'), '--out', y]);
        assertSameTensors(y, join(dir, file), ['y']);
      }
    });
  }
});

describe('bad input: one clear line on stderr, non-zero exit, no output left behind', () => {
  const cases: [string, string[], RegExp][] = [
    ['missing model file', ['fit', '--model', join(FIX, 'nope.safetensors'), '--out', 'OUT'], /no such file|ENOENT|not found/i],
    ['NaN weights', ['fit', '--model', join(FIX, 'mlp_nan.safetensors'), '--out', 'OUT'], /W1.*non-finite|NaN/i],
    ['shape mismatch', ['fit', '--model', join(FIX, 'mlp_shape_mismatch.safetensors'), '--out', 'OUT'], /W2/],
    ['covariance not PSD', ['fit', '--model', join(FIX, 'mlp_relu_f64.safetensors'), '--input', join(FIX, 'input_not_psd.safetensors'), '--out', 'OUT'], /cov/],
    ['unknown activation', ['fit', '--model', join(FIX, 'mlp_relu_f64.safetensors'), '--act', 'swoosh', '--out', 'OUT'], /swoosh/],
    ['bad degree', ['fit', '--model', join(FIX, 'mlp_relu_f64.safetensors'), '--degree', 'two', '--out', 'OUT'], /--degree/],
    ['input dimension mismatch', ['predict', '--approx', join(GOLDEN_DIR, 'glu_silu_gauss', 'expected_deg2.safetensors'), '--x', join(FIX, 'points.safetensors'), '--out', 'OUT'], /dimension/],
    ['truncated file', ['fit', '--model', 'TRUNC', '--out', 'OUT'], /truncated|past the end|too short|out of range|header/i],
    ['not a model', ['fit', '--model', join(FIX, 'points.safetensors'), '--out', 'OUT'], /W1|model|layout/i],
  ];
  const trunc = join(tmp, 'trunc.safetensors');
  const full = readFileSync(join(FIX, 'mlp_relu_f64.safetensors'));
  writeFileSync(trunc, full.subarray(0, full.length - 17));
  for (const [what, args, pattern] of cases) {
    test(what, () => {
      const out = join(tmp, `bad_${what.replace(/\W+/g, '_')}.safetensors`);
      const r = run(args.map((a) => (a === 'OUT' ? out : a === 'TRUNC' ? trunc : a)));
      assert.notEqual(r.code, 0);
      assert.notEqual(r.code, 70, `internal error instead of a user error:\n${r.stderr}`);
      const lines = r.stderr.trim().split('\n').filter((l) => l.length > 0);
      assert.ok(lines.length >= 1 && lines.length <= 3, `stderr should be short:\n${r.stderr}`);
      assert.match(lines[0]!, pattern);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(existsSync(out), false, 'no output file');
      assert.deepEqual(readdirSync(tmp).filter((f) => f.includes('.tmp-')), [], 'no temporary files');
    });
  }
});
