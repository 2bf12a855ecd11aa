import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FormatError, InvalidArgumentError, NonFiniteError, ShapeError } from '../../src/errors.js';
import type { Matrix } from '../../src/linalg/matrix.js';
import { detectNetwork, readInputModelFile, readModelFile, readTensorFile, type NetworkWeights } from '../../src/formats/layouts.js';
import { writeNpy } from '../../src/formats/npy.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../../src/formats/safetensors.js';
import type { Tensor } from '../../src/formats/tensor.js';

const fixture = (p: string): string => fileURLToPath(new URL(`../../fixtures/formats/${p}`, import.meta.url));
const num = (s: string): number => (s === 'nan' ? NaN : s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s));
const dir = mkdtempSync(join(tmpdir(), 'polyapprox-layouts-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Expected {
  dtype: string;
  shape: number[];
  values: string[];
}

function assertArrayEquals(actual: Float64Array, shape: number[], expected: Expected, what: string): void {
  assert.deepEqual(shape, expected.shape, `${what}: shape`);
  assert.equal(actual.length, expected.values.length, `${what}: length`);
  expected.values.forEach((s, i) => assert.ok(Object.is(actual[i], num(s)), `${what}[${i}]: ${actual[i]} vs ${s}`));
}

const matrixShape = (m: Matrix): number[] => [m.rows, m.cols];

function assertWeights(w: NetworkWeights, want: Record<string, Expected>, what: string): void {
  if (w.arch === 'mlp') {
    assertArrayEquals(w.W1.data, matrixShape(w.W1), want.W1!, `${what} W1`);
    assertArrayEquals(w.b1, [w.b1.length], want.b1!, `${what} b1`);
    assertArrayEquals(w.W2.data, matrixShape(w.W2), want.W2!, `${what} W2`);
    assertArrayEquals(w.b2, [w.b2.length], want.b2!, `${what} b2`);
  } else {
    for (const k of ['W_gate', 'W_up', 'W_out'] as const) assertArrayEquals(w[k].data, matrixShape(w[k]), want[k]!, `${what} ${k}`);
    for (const k of ['b_gate', 'b_up', 'b_out'] as const) assertArrayEquals(w[k], [w[k].length], want[k]!, `${what} ${k}`);
  }
}

describe('layouts written by Python (weights equal the intended nn.Linear orientation)', () => {
  const expected = JSON.parse(readFileSync(fixture('layouts/expected.json'), 'utf8')) as Record<
    string,
    { arch: 'mlp' | 'glu'; layer?: number; activation?: string; keys?: string } & Record<string, unknown>
  >;
  const names: Record<string, RegExp> = {
    'pt/sequential.pt': /^nn\.Sequential: W1=net\.0\.weight, b1=net\.0\.bias, W2=net\.2\.weight, b2=net\.2\.bias$/,
    'pt/fc_checkpoint.pt': /^fc1\/fc2: W1=state_dict\.fc1\.weight, .*b2=state_dict\.fc2\.bias$/,
    'pt/gpt2.pt': /^Hugging Face GPT-2 MLP \(Conv1D\) \(layer 1\): W1=transformer\.h\.1\.mlp\.c_fc\.weight\^T, .* W2=transformer\.h\.1\.mlp\.c_proj\.weight\^T, .*implies activation gelu_tanh$/,
    'pt/tl_gated.pt': /^TransformerLens gated MLP \(layer 2\): W_gate=blocks\.2\.mlp\.W_gate\^T, b_gate=0, W_up=blocks\.2\.mlp\.W_in\^T, b_up=blocks\.2\.mlp\.b_in, /,
    'pt/llama.pt': /^LLaMA-style SwiGLU MLP \(layer 0\): W_gate=model\.layers\.0\.mlp\.gate_proj\.weight, b_gate=0, .*b_out=0; implies activation silu$/,
    'layouts/gpt2.safetensors': /^Hugging Face GPT-2 MLP \(Conv1D\) \(layer 1\): W1=h\.1\.mlp\.c_fc\.weight\^T/,
    'layouts/tl.safetensors': /^TransformerLens MLP \(layer 0\): W1=blocks\.0\.mlp\.W_in\^T, b1=blocks\.0\.mlp\.b_in, W2=blocks\.0\.mlp\.W_out\^T/,
    'layouts/llama.safetensors': /^LLaMA-style SwiGLU MLP \(layer 0\)/,
    'layouts/sequential.safetensors': /^nn\.Sequential: W1=model\.0\.weight, b1=model\.0\.bias, W2=model\.2\.weight, b2=0$/,
    'layouts/custom.safetensors': /^user key map: W1=encoder\.weight, b1=encoder\.bias, W2=decoder\.weight\^T, b2=decoder\.bias$/,
  };

  test('every fixture has a mapping expectation', () => {
    assert.deepEqual(Object.keys(expected).sort(), Object.keys(names).sort());
  });

  for (const [file, want] of Object.entries(expected)) {
    test(file, () => {
      const opts: { layer?: number; keys?: string } = {};
      if (want.layer !== undefined) opts.layer = want.layer;
      if (want.keys !== undefined) opts.keys = want.keys;
      const model = readModelFile(fixture(file), opts);
      assert.equal(model.weights.arch, want.arch);
      assert.equal(model.activation, want.activation);
      assert.match(model.mapping, names[file]!);
      assertWeights(model.weights, want as unknown as Record<string, Expected>, file);
    });
  }
});

describe('picking a block', () => {
  test('several blocks and no --layer: the error lists the layers', () => {
    assert.throws(
      () => readModelFile(fixture('pt/gpt2.pt')),
      (e: Error) => e instanceof FormatError && /gpt2\.pt: the file holds 2 Hugging Face GPT-2 MLP \(Conv1D\) blocks \(layers 0, 1\); choose one with --layer/.test(e.message),
    );
    assert.throws(() => readModelFile(fixture('layouts/gpt2.safetensors')), /layers 0, 1, 2/);
  });

  test('a missing layer lists the available ones', () => {
    assert.throws(() => readModelFile(fixture('pt/tl_gated.pt'), { layer: 7 }), /no block with layer 7; available layers: 0, 1, 2/);
  });

  test('--layer on a network that is not split into layers', () => {
    assert.throws(() => readModelFile(fixture('pt/sequential.pt'), { layer: 0 }), /not split into numbered layers/);
  });

  test('two layouts in one file are ambiguous until a key map decides', () => {
    assert.throws(() => readModelFile(fixture('layouts/ambiguous.safetensors')), /ambiguous: several layouts match \(canonical MLP; fc1\/fc2\)/);
    const m = readModelFile(fixture('layouts/ambiguous.safetensors'), { keys: 'W1=fc1.weight, W2=fc2.weight' });
    assert.equal(m.mapping, 'user key map: W1=fc1.weight, b1=0, W2=fc2.weight, b2=0');
  });

  test('{l} in a key map is replaced by the layer', () => {
    const m = readModelFile(fixture('pt/gpt2.pt'), { layer: 0, keys: 'W1=transformer.h.{l}.mlp.c_fc.weight^T,W2=transformer.h.{l}.mlp.c_proj.weight^T' });
    const auto = readModelFile(fixture('pt/gpt2.pt'), { layer: 0 });
    assert.deepEqual(Array.from((m.weights as { W1: Matrix }).W1.data), Array.from((auto.weights as { W1: Matrix }).W1.data));
  });

  test('the architecture filter', () => {
    assert.throws(() => readModelFile(fixture('pt/sequential.pt'), { arch: 'glu' }), /no GLU layout found; the file matches: nn\.Sequential at "net\."/);
    assert.equal(readModelFile(fixture('pt/llama.pt'), { layer: 1, arch: 'glu' }).weights.arch, 'glu');
  });
});

describe('golden models (canonical names, metadata)', () => {
  const cases = ['mlp_relu_iso', 'mlp_gelu_gauss', 'mlp_sigmoid_wide', 'mlp_tanh_gauss', 'mlp_silu_mixture', 'glu_silu_gauss', 'glu_bilinear', 'mlp_relu_tail'];
  for (const c of cases) {
    test(c, () => {
      const path = fixture(`golden/${c}/model.safetensors`);
      const raw = readSafetensorsFile(path);
      const m = readModelFile(path);
      assert.equal(m.architecture, raw.metadata.architecture);
      assert.equal(m.activation, raw.metadata.activation);
      assert.equal(m.weights.arch, raw.metadata.architecture);
      assert.equal(m.format, 'safetensors');
      assert.match(m.mapping, m.weights.arch === 'mlp' ? /^canonical MLP: W1=W1, b1=b1, W2=W2, b2=b2$/ : /^canonical GLU: W_gate=W_gate, b_gate=b_gate/);
      const w = m.weights as unknown as Record<string, Matrix | Float64Array>;
      for (const [name, t] of raw.tensors) {
        const v = w[name]!;
        assert.deepEqual(Array.from(v instanceof Float64Array ? v : v.data), Array.from(t.data), name);
      }
    });
  }

  test('input models: Gaussian and mixture', () => {
    const g = readInputModelFile(fixture('golden/mlp_gelu_gauss/input.safetensors'));
    const rawG = readSafetensorsFile(fixture('golden/mlp_gelu_gauss/input.safetensors')).tensors;
    assert.equal(g.kind, 'gaussian');
    if (g.kind === 'gaussian') {
      assert.deepEqual(Array.from(g.mean), Array.from(rawG.get('mean')!.data));
      assert.deepEqual([g.cov.rows, g.cov.cols], [5, 5]);
      assert.deepEqual(Array.from(g.cov.data), Array.from(rawG.get('cov')!.data));
    }
    const m = readInputModelFile(fixture('golden/mlp_silu_mixture/input.safetensors'));
    const rawM = readSafetensorsFile(fixture('golden/mlp_silu_mixture/input.safetensors')).tensors;
    assert.equal(m.kind, 'mixture');
    if (m.kind === 'mixture') {
      assert.equal(m.covs.length, 3);
      assert.deepEqual([m.means.rows, m.means.cols], [3, 4]);
      assert.deepEqual(Array.from(m.weights), Array.from(rawM.get('weights')!.data));
      assert.deepEqual(Array.from(m.covs[2]!.data), Array.from(rawM.get('covs')!.data.subarray(32, 48)));
    }
  });
});

describe('other containers', () => {
  test('an .npz model', () => {
    const expected = JSON.parse(readFileSync(fixture('npz/expected.json'), 'utf8')).model_mlp as Record<string, Expected>;
    const m = readModelFile(fixture('npz/model_mlp.npz'));
    assert.equal(m.format, 'npz');
    assertWeights(m.weights, expected, 'model_mlp.npz');
  });

  test('.npy and unknown files are refused with a reason', () => {
    const npy = join(dir, 'w.npy');
    writeFileSync(npy, writeNpy({ dtype: 'F64', shape: [1], data: new Float64Array(1) }));
    assert.throws(() => readModelFile(npy), /single unnamed array/);
    const junk = join(dir, 'model.weights');
    writeFileSync(junk, 'not a model');
    assert.throws(() => readModelFile(junk), /unrecognized file format/);
    const truncated = join(dir, 'cut.safetensors');
    writeFileSync(truncated, readFileSync(fixture('golden/mlp_relu_iso/model.safetensors')).subarray(0, 100));
    assert.throws(() => readModelFile(truncated), /cut\.safetensors: header length 336 runs past the end/);
    const emptyZip = Buffer.from('PK\x05\x06' + '\0'.repeat(18), 'latin1');
    assert.equal(readTensorFile(emptyZip, 'empty.npz').tensors.size, 0);
    assert.throws(() => detectNetwork(readTensorFile(emptyZip, 'empty.npz').tensors), /\(no tensors\)/);
  });
});

const f64 = (shape: number[], values?: number[]): Tensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'F64', shape, data: Float64Array.from(values ?? Array.from({ length: n }, (_, i) => i + 1)) };
};
const tensors = (entries: Record<string, Tensor>): Map<string, Tensor> => new Map(Object.entries(entries));

describe('validation of detected networks', () => {
  test('nothing recognizable: lists the tensors, the layouts tried, and near misses', () => {
    assert.throws(
      () => detectNetwork(tensors({ W1: f64([2, 2]), foo: f64([3]) })),
      (e: Error) =>
        e instanceof FormatError &&
        /tried: canonical MLP, canonical GLU, fc1\/fc2, TransformerLens MLP, TransformerLens gated MLP, Hugging Face GPT-2 MLP \(Conv1D\), LLaMA-style SwiGLU MLP, nn\.Sequential/.test(e.message) &&
        /canonical MLP: found "W1" but not "W2"/.test(e.message) &&
        /W1 \[2, 2\], foo \[3\]/.test(e.message) &&
        /--keys/.test(e.message),
    );
    assert.throws(() => detectNetwork(tensors({ '0.weight': f64([2, 2]), '2.weight': f64([2, 2]), '4.weight': f64([2, 2]) })), /3 Linear layers \(0, 2, 4\)/);
  });

  test('shape mismatches name the tensors and shapes', () => {
    assert.throws(
      () => detectNetwork(tensors({ 'net.0.weight': f64([4, 3]), 'net.2.weight': f64([2, 5]) })),
      (e: Error) => e instanceof ShapeError && /W2 \("net\.2\.weight", shape \[2, 5\]\) does not fit W1 \("net\.0\.weight", shape \[4, 3\]\)/.test(e.message),
    );
    assert.throws(
      () => detectNetwork(tensors({ W1: f64([4, 3]), b1: f64([3]), W2: f64([2, 4]) })),
      (e: Error) => e instanceof ShapeError && /b1 \("b1", shape \[3\]\) must have length 4/.test(e.message),
    );
    assert.throws(
      () => detectNetwork(tensors({ W_gate: f64([4, 3]), W_up: f64([4, 2]), W_out: f64([2, 4]) })),
      (e: Error) => e instanceof ShapeError && /W_up \("W_up", shape \[4, 2\]\) must have the same \[h, d\] = \[4, 3\]/.test(e.message),
    );
    assert.throws(() => detectNetwork(tensors({ W1: f64([4]), W2: f64([2, 4]) })), (e: Error) => e instanceof ShapeError && /W1 \("W1", shape \[4\]\) must be 2-D/.test(e.message));
    assert.throws(
      () => detectNetwork(tensors({ 'blocks.0.mlp.W_in': f64([3, 4]), 'blocks.0.mlp.W_out': f64([5, 3]) })),
      (e: Error) => e instanceof ShapeError && /stored transposed/.test(e.message),
    );
    assert.throws(() => detectNetwork(tensors({ W1: f64([0, 3]), W2: f64([2, 0]) })), /at least 1/);
  });

  test('NaN and Inf name the tensor', () => {
    assert.throws(
      () => detectNetwork(tensors({ W1: f64([2, 2], [1, NaN, 3, 4]), W2: f64([1, 2]) })),
      (e: Error) => e instanceof NonFiniteError && /tensor "W1" \(W1\) contains a non-finite value \(NaN\) at flat index 1/.test(e.message),
    );
    assert.throws(() => detectNetwork(tensors({ W1: f64([2, 2]), W2: f64([1, 2]), b2: f64([1], [Infinity]) })), NonFiniteError);
  });

  test('integer weights are refused', () => {
    assert.throws(() => readModelFile(fixture('layouts/int_weights.safetensors')), /dtype I32; network weights must be F64, F32, F16 or BF16/);
  });

  test('key map syntax errors', () => {
    const t = tensors({ a: f64([2, 2]), b: f64([1, 2]), c: f64([2]) });
    assert.throws(() => detectNetwork(t, { keys: 'W1=a,W3=b' }), (e: Error) => e instanceof InvalidArgumentError && /unknown role "W3"/.test(e.message));
    assert.throws(() => detectNetwork(t, { keys: 'W1=a,W_out=b' }), /mixes MLP roles/);
    assert.throws(() => detectNetwork(t, { keys: 'W1=a' }), /does not map W2/);
    assert.throws(() => detectNetwork(t, { keys: 'W1=a,W2=b,b1=c^T' }), /"\^T" only applies to weights/);
    assert.throws(() => detectNetwork(t, { keys: 'W1=a,W2=zzz' }), (e: Error) => e instanceof FormatError && /tensor "zzz" \(for W2\) is not in the file/.test(e.message));
    assert.throws(() => detectNetwork(t, { keys: 'W1=a,W1=b' }), /mapped twice/);
    assert.throws(() => detectNetwork(t, { keys: 'W1' }), /role=tensor/);
    assert.throws(() => detectNetwork(t, { keys: 'W1=x.{l},W2=b' }), /no layer was given/);
    assert.throws(() => detectNetwork(t, { keys: 'W1=a,W2=b', arch: 'glu' }), /describes a MLP/);
    assert.throws(() => detectNetwork(t, { layer: -1 }), InvalidArgumentError);
    const ok = detectNetwork(t, { keys: ' W1 = a , W2 = b , b1 = c ' });
    assert.equal(ok.mapping, 'user key map: W1=a, b1=c, W2=b, b2=0');
  });
});

describe('input model files', () => {
  const write = (name: string, t: Record<string, Tensor>): string => {
    const p = join(dir, name);
    writeSafetensorsFile(p, t);
    return p;
  };
  test('shape, completeness and finiteness checks', () => {
    assert.throws(() => readInputModelFile(write('both.safetensors', { mean: f64([2]), cov: f64([2, 2]), weights: f64([1]) })), /both a Gaussian/);
    assert.throws(() => readInputModelFile(write('nocov.safetensors', { mean: f64([2]) })), /"cov" is missing/);
    assert.throws(() => readInputModelFile(write('badcov.safetensors', { mean: f64([2]), cov: f64([3, 3]) })), (e: Error) => e instanceof ShapeError && /"cov" must be \[2, 2\]/.test(e.message));
    assert.throws(
      () => readInputModelFile(write('nan.safetensors', { mean: f64([2], [0, NaN]), cov: f64([2, 2]) })),
      (e: Error) => e instanceof NonFiniteError && /"mean" contains a non-finite value/.test(e.message),
    );
    assert.throws(
      () => readInputModelFile(write('badmix.safetensors', { weights: f64([2]), means: f64([2, 3]), covs: f64([2, 3, 2]) })),
      /"covs" must be \[2, 3, 3\]/,
    );
    assert.throws(() => readInputModelFile(write('none.safetensors', { x: f64([1]) })), /not an input model/);
  });
});
