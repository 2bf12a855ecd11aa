import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FormatError } from '../../src/errors.js';
import { unpickle, PyDict, PyList, PyTuple, type UnpickleHooks } from '../../src/formats/pickle.js';
import { readTorchStateDict } from '../../src/formats/pytorch.js';
import type { Tensor } from '../../src/formats/tensor.js';
import { writeZip } from '../../src/formats/zip.js';

const fixture = (p: string): string => fileURLToPath(new URL(`../../fixtures/formats/${p}`, import.meta.url));
const num = (s: string): number => (s === 'nan' ? NaN : s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s));

interface Expected {
  dtype: string;
  shape: number[];
  values: string[];
}

function assertTensorEquals(actual: Tensor | undefined, expected: Expected, what: string): void {
  assert.ok(actual !== undefined, `${what}: missing`);
  assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  assert.equal(actual.data.length, expected.values.length, `${what}: length`);
  expected.values.forEach((s, i) => {
    const want = num(s);
    assert.ok(Object.is(actual.data[i], want) || (Number.isNaN(want) && Number.isNaN(actual.data[i]!)), `${what}[${i}]: ${actual.data[i]} vs ${s}`);
  });
}

describe('state_dicts written with torch.save layout', () => {
  const expected = JSON.parse(readFileSync(fixture('pt/expected.json'), 'utf8')) as Record<string, Record<string, Expected>>;
  for (const [file, tensors] of Object.entries(expected)) {
    test(file, () => {
      const got = readTorchStateDict(readFileSync(fixture(`pt/${file}`)), file);
      assert.deepEqual([...got.keys()].sort(), Object.keys(tensors).sort());
      for (const [name, want] of Object.entries(tensors)) assertTensorEquals(got.get(name), want, `${file}:${name}`);
    });
  }

  test('a float64 tensor covering its whole storage is a view of the file bytes (storages are 64-byte aligned)', () => {
    const bytes = readFileSync(fixture('pt/fc_checkpoint.pt'));
    const w = readTorchStateDict(bytes).get('state_dict.fc1.weight')!;
    assert.equal(w.dtype, 'F64');
    assert.equal(w.data.buffer, bytes.buffer);
  });

  test('nested checkpoint dicts are flattened with dotted keys; non-tensor values are skipped', () => {
    const got = readTorchStateDict(readFileSync(fixture('pt/fc_checkpoint.pt')));
    assert.deepEqual([...got.keys()].sort(), ['state_dict.fc1.bias', 'state_dict.fc1.weight', 'state_dict.fc2.bias', 'state_dict.fc2.weight']);
  });

  test('views of one storage: slices, transposes, strided columns, broadcasts', () => {
    const got = readTorchStateDict(readFileSync(fixture('pt/views.pt')));
    const base = Array.from({ length: 24 }, (_, i) => i * 1.5 - 3);
    // Independent of the fixture's expectations: the definitions of the views.
    assert.deepEqual(Array.from(got.get('slice')!.data), base.slice(4, 16));
    const t = got.get('transposed')!;
    assert.deepEqual(t.shape, [4, 3]);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) assert.equal(t.data[i * 3 + j], base[4 + i + 4 * j]);
    assert.deepEqual(Array.from(got.get('broadcast')!.data), [1.25, -2.5, 3.75, 1.25, -2.5, 3.75, 1.25, -2.5, 3.75, 1.25, -2.5, 3.75, 1.25, -2.5, 3.75]);
    assert.deepEqual(got.get('last_element')!.shape, []);
    assert.deepEqual(Array.from(got.get('last_element')!.data), [base[23]]);
  });
});

describe('refusing to execute pickled code', () => {
  const marker = readFileSync(fixture('pt/malicious/MARKER.txt'), 'utf8').trim();
  const named: Record<string, RegExp> = {
    'evil_os_system.pt': /"os\.system"/,
    'evil_posix_system.pt': /"posix\.system"/,
    'evil_eval.pt': /"builtins\.eval"/,
    'evil_unknown_reduce.pt': /"__main__\.Exploit"/,
    'evil_stack_global.pt': /"subprocess\.check_output"/,
    'evil_inst.pt': /"os\.system"/,
    'evil_nested.pt': /"os\.system"/,
    'evil_full_model.pt': /"__main__\.Net"/,
    'evil_ext.pt': /extension codes/,
  };

  test('every malicious fixture is covered', () => {
    const files = readdirSync(fixture('pt/malicious')).filter((f) => f.endsWith('.pt'));
    assert.deepEqual(files.sort(), Object.keys(named).sort());
  });

  for (const [file, pattern] of Object.entries(named)) {
    test(`${file} → FormatError naming the global, nothing executed`, () => {
      rmSync(marker, { force: true });
      assert.throws(
        () => readTorchStateDict(readFileSync(fixture(`pt/malicious/${file}`)), file),
        (e: Error) => e instanceof FormatError && e.message.startsWith(file) && pattern.test(e.message),
      );
      assert.equal(existsSync(marker), false, 'the payload ran');
    });
  }

  test('legacy (non-zip) and TorchScript files get specific messages', () => {
    assert.throws(() => readTorchStateDict(readFileSync(fixture('pt/legacy.pt')), 'legacy.pt'), /legacy \(pre-1\.6, non-zip\)/);
    assert.throws(() => readTorchStateDict(readFileSync(fixture('pt/torchscript.pt')), 'ts.pt'), /TorchScript/);
    assert.throws(() => readTorchStateDict(Buffer.from('hello world'), 'x.pt'), /not a PyTorch checkpoint/);
  });
});

/** A checkpoint zip around a hand-written pickle and storages. */
function checkpoint(pkl: number[] | Uint8Array, storages: Record<string, Uint8Array> = {}): Uint8Array {
  return writeZip([['archive/data.pkl', Uint8Array.from(pkl)], ...Object.entries(storages).map(([k, v]) => [`archive/data/${k}`, v] as const)]);
}

const ascii = (s: string): number[] => Array.from(Buffer.from(s, 'latin1'));
const GLOBAL = (m: string, n: string): number[] => [0x63, ...ascii(`${m}\n${n}\n`)];
const UNICODE = (s: string): number[] => [0x8c, s.length, ...ascii(s)];
/** ('storage', torch.FloatStorage, key, 'cpu', numel) BINPERSID */
const STORAGE = (key: string, numel: number, type = 'FloatStorage'): number[] => [
  0x28, ...UNICODE('storage'), ...GLOBAL('torch', type), ...UNICODE(key), ...UNICODE('cpu'), 0x4b, numel, 0x74, 0x51,
];
/** _rebuild_tensor_v2(storage, offset, (size...), (stride...), False, OrderedDict()) */
const TENSOR = (storage: number[], offset: number, size: number[], stride: number[]): number[] => [
  ...GLOBAL('torch._utils', '_rebuild_tensor_v2'),
  0x28, ...storage, 0x4b, offset,
  0x28, ...size.flatMap((s) => [0x4b, s]), 0x74,
  0x28, ...stride.flatMap((s) => [0x4b, s]), 0x74,
  0x89, ...GLOBAL('collections', 'OrderedDict'), 0x29, 0x52, 0x74, 0x52,
];
const DICT_OF = (entries: [string, number[]][]): number[] => [0x80, 0x02, 0x7d, 0x28, ...entries.flatMap(([k, v]) => [...UNICODE(k), ...v]), 0x75, 0x2e];
const f32 = (xs: number[]): Uint8Array => new Uint8Array(Float32Array.from(xs).buffer);

describe('storage and view validation', () => {
  test('a hand-assembled state_dict reads back', () => {
    const bytes = checkpoint(DICT_OF([['w', TENSOR(STORAGE('0', 4), 0, [2, 2], [2, 1])]]), { '0': f32([1, 2, 3, 4]) });
    assert.deepEqual(Array.from(readTorchStateDict(bytes).get('w')!.data), [1, 2, 3, 4]);
  });

  const cases: [string, Uint8Array, RegExp][] = [
    ['view past the end of its storage', checkpoint(DICT_OF([['w', TENSOR(STORAGE('0', 4), 1, [2, 2], [2, 1])]]), { '0': f32([1, 2, 3, 4]) }), /reaches element 4 of a 4-element storage/],
    ['storage byte size mismatch', checkpoint(DICT_OF([['w', TENSOR(STORAGE('0', 4), 0, [4], [1])]]), { '0': f32([1, 2, 3]) }), /has 12 bytes, but 4 × F32 needs 16/],
    ['missing storage record', checkpoint(DICT_OF([['w', TENSOR(STORAGE('0', 1), 0, [1], [1])]])), /storage "0" is missing/],
    ['size and stride of different lengths', checkpoint(DICT_OF([['w', TENSOR(STORAGE('0', 4), 0, [2, 2], [1])]]), { '0': f32([1, 2, 3, 4]) }), /differ in length/],
    ['a storage key with a path in it', checkpoint(DICT_OF([['w', TENSOR(STORAGE('../x', 1), 0, [1], [1])]])), /invalid storage key/],
    ['an unknown storage type', checkpoint(DICT_OF([['w', TENSOR(STORAGE('0', 1, 'ComplexFloatStorage'), 0, [1], [1])]])), /"torch\.ComplexFloatStorage"/],
    ['a top-level list', checkpoint([0x80, 0x02, 0x5d, 0x2e]), /holds a list, not a state_dict/],
    ['no tensors at all', checkpoint(DICT_OF([['epoch', [0x4b, 3]]])), /holds no tensors/],
    ['a pickle without STOP', checkpoint([0x80, 0x02, 0x7d]), /no STOP opcode/],
    ['an unknown opcode', checkpoint([0x80, 0x02, 0xff]), /unknown pickle opcode 0xff/],
    ['stack underflow', checkpoint([0x80, 0x02, 0x52, 0x2e]), /stack underflow/],
    ['calling a storage class', checkpoint([0x80, 0x02, ...GLOBAL('torch', 'FloatStorage'), 0x29, 0x52, 0x2e]), /cannot be called/],
    ['REDUCE of a non-callable', checkpoint([0x80, 0x02, ...UNICODE('os'), 0x29, 0x52, 0x2e]), /REDUCE of a non-callable str/],
    ['an undefined memo key', checkpoint([0x80, 0x02, 0x68, 0x05, 0x2e]), /memo key 5/],
  ];
  for (const [what, bytes, pattern] of cases) {
    test(what, () => {
      assert.throws(() => readTorchStateDict(bytes, 'c.pt'), (e: Error) => e instanceof FormatError && e.message.startsWith('c.pt') && pattern.test(e.message));
    });
  }
});

describe('the restricted unpickler on plain data', () => {
  const hooks: UnpickleHooks = {
    isAllowedGlobal: () => false,
    call: () => {
      throw new Error('unreachable');
    },
    persistentLoad: () => {
      throw new Error('unreachable');
    },
  };
  test('protocol 0 and 2 containers, numbers and strings', () => {
    // {'a': [1, -2, 3.5, True, None], 'b': ('x', b'\x01\x02'), 'big': 2**70, 'neg': -300}
    const p2 = [
      0x80, 0x02, 0x7d, 0x71, 0x00, 0x28,
      ...UNICODE('a'), 0x5d, 0x28, 0x4b, 0x01, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x47, 0x40, 0x0c, 0, 0, 0, 0, 0, 0, 0x88, 0x4e, 0x65,
      ...UNICODE('b'), ...UNICODE('x'), 0x43, 0x02, 0x01, 0x02, 0x86,
      ...UNICODE('big'), 0x8a, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x40,
      ...UNICODE('neg'), 0x8a, 0x02, 0xd4, 0xfe,
      0x75, 0x2e,
    ];
    const v = unpickle(Uint8Array.from(p2), hooks) as PyDict;
    const a = v.map.get('a') as PyList;
    assert.deepEqual(a.items, [1, -2, 3.5, true, null]);
    const b = v.map.get('b') as PyTuple;
    assert.equal(b.items[0], 'x');
    assert.deepEqual(Array.from(b.items[1] as Uint8Array), [1, 2]);
    assert.equal(v.map.get('big'), 2n ** 70n);
    assert.equal(v.map.get('neg'), -300);
    // Protocol 0: (dp0\nS'k'\np1\nI42\nsS'f'\nF-1.5e3\ns.
    const p0 = ascii("(dp0\nS'k'\np1\nI42\nsS'f'\nF-1.5e3\nsS'l'\nL12345678901234567890L\ns.");
    const d0 = unpickle(Uint8Array.from(p0), hooks) as PyDict;
    assert.equal(d0.map.get('k'), 42);
    assert.equal(d0.map.get('f'), -1500);
    assert.equal(d0.map.get('l'), 12345678901234567890n);
  });

  test('a self-referencing dict terminates', () => {
    // d = {}; d['self'] = d   →  }q\x00X\x04\x00\x00\x00selfq\x01h\x00s.
    const bytes = [0x80, 0x02, 0x7d, 0x71, 0x00, ...UNICODE('self'), 0x68, 0x00, 0x73, 0x2e];
    const d = unpickle(Uint8Array.from(bytes), hooks) as PyDict;
    assert.equal(d.map.get('self'), d);
    const pt = checkpoint([0x80, 0x02, 0x7d, 0x71, 0x00, 0x28, ...UNICODE('self'), 0x68, 0x00, ...UNICODE('w'), ...TENSOR(STORAGE('0', 1), 0, [1], [1]), 0x75, 0x2e], { '0': f32([7]) });
    assert.deepEqual([...readTorchStateDict(pt).keys()], ['w']);
  });

  test('huge integers are refused rather than parsed slowly', () => {
    assert.throws(() => unpickle(Uint8Array.from([0x80, 0x02, 0x4c, ...ascii('9'.repeat(5000)), 0x0a, 0x2e]), hooks), /too large/);
    assert.throws(() => unpickle(Uint8Array.from([0x80, 0x02, 0x8b, 0x00, 0x20, 0x00, 0x00]), hooks), /too large/);
  });
});
