/**
 * PyTorch checkpoints (`torch.save`, zip format — the default since PyTorch 1.6), read without executing
 * any pickled code.
 *
 * Layout read (what `torch.save(obj, "name.pt")` writes; `<a>` is one top-level folder, the file's stem or
 * `archive`):
 *
 *   <a>/data.pkl               the pickled object (protocol 2 by default; 0–5 accepted)
 *   <a>/byteorder              optional, "little" or "big": byte order of the storages (default little)
 *   <a>/data/<key>             raw bytes of storage <key>, numel × itemsize bytes
 *   <a>/version, <a>/.format_version, <a>/.storage_alignment, <a>/.data/serialization_id   (ignored)
 *
 * Entries are normally stored uncompressed with their data padded to 64-byte boundaries; the zip reader
 * does not depend on either. In `data.pkl`, a tensor is
 * `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[,
 * metadata])`, where `storage` is a persistent id `('storage', torch.<T>Storage, key, location, numel)`, and
 * an `nn.Parameter` wraps a tensor in `torch._utils._rebuild_parameter(tensor, requires_grad, hooks)` (or
 * `_rebuild_parameter_with_state`). A state_dict is a `collections.OrderedDict` built by REDUCE + SETITEMS,
 * with its `_metadata` attribute set by BUILD (ignored here). Element (i_0, …, i_k) of a tensor is storage
 * element `storage_offset + Σ i_j · stride_j`, so views (slices, transposes, shared storages) are read as
 * the tensors they represent.
 *
 * Only these globals are allowed: `collections.OrderedDict`, `torch._utils._rebuild_tensor`,
 * `_rebuild_tensor_v2`, `_rebuild_parameter`, `_rebuild_parameter_with_state`, and the typed storage classes
 * `torch.{Double,Float,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage`. Any other global — a model
 * class pickled by `torch.save(model)`, `os.system`, `builtins.eval`, ... — is a `FormatError` naming it.
 *
 * Nested dicts (e.g. `{'state_dict': {...}, 'epoch': 3}` or `{'model': {...}, 'optimizer': {...}}`) are
 * flattened with dotted keys (`state_dict.fc1.weight`); values that are not tensors or dicts are skipped.
 * The layout detector accepts any such prefix.
 */
import { FormatError } from '../errors.js';
import { PyDict, PyGlobal, PyList, PyOpaque, PyTuple, pyTypeName, unpickle, type PyValue } from './pickle.js';
import { checkedNumel, decodeElements, DTYPE_ITEMSIZE, formatShape, lazyTensor, type DType, type Tensor } from './tensor.js';
import { isZip, openZip, type ZipArchive } from './zip.js';

/** Storage class name (in module `torch`) → element type. */
const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

const REBUILD_FUNCTIONS = new Set(['_rebuild_tensor', '_rebuild_tensor_v2', '_rebuild_parameter', '_rebuild_parameter_with_state']);

/** Tensors built from at most this many elements may broadcast (stride 0) beyond their storage. */
const MAX_EXPANDED_NUMEL = 2 ** 24;
/** Dict nesting deeper than this is not a checkpoint. */
const MAX_NESTING = 32;

interface StorageRef {
  kind: 'storage';
  key: string;
  dtype: DType;
  numel: number;
}

interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  size: number[];
  stride: number[];
}

function isAllowedGlobal(module: string, name: string): boolean {
  if (module === 'collections' && name === 'OrderedDict') return true;
  if (module === 'torch._utils' && REBUILD_FUNCTIONS.has(name)) return true;
  return module === 'torch' && Object.prototype.hasOwnProperty.call(STORAGE_DTYPES, name);
}

function tensorOf(v: PyValue): TensorRef | undefined {
  return v instanceof PyOpaque && (v.value as TensorRef).kind === 'tensor' ? (v.value as TensorRef) : undefined;
}

/**
 * Parses a PyTorch zip checkpoint held in memory into its tensors, keyed by dotted path.
 *
 * Everything is validated immediately (archive, CRCs, pickle, storage sizes, view bounds); each tensor's
 * data is decoded on first access of `data`. Tensors covering a whole little-endian float64 storage are
 * views into `bytes`.
 *
 * @param source names the file in error messages
 * @throws FormatError for a legacy (pre-1.6, non-zip) or TorchScript file, a corrupt archive, a pickle that
 *   names any global outside the allow-list (the message names the global; nothing is executed), a
 *   top-level object that is not a dict, storages whose size does not match, views that reach outside their
 *   storage, or a checkpoint without tensors
 */
export function readTorchStateDict(bytes: Uint8Array, source = 'PyTorch checkpoint'): Map<string, Tensor> {
  if (!isZip(bytes)) {
    if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1]! <= 5) {
      throw new FormatError(
        `${source}: legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a current PyTorch (torch.save writes zip by default)`,
      );
    }
    throw new FormatError(`${source}: not a PyTorch checkpoint (not a zip archive)`);
  }
  const zip = openZip(bytes, source);
  const pkls = zip.names.filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pkls.length !== 1) {
    const listed = zip.names.slice(0, 10).join(', ');
    throw new FormatError(
      pkls.length === 0
        ? `${source}: not a PyTorch checkpoint (no <folder>/data.pkl entry; entries: ${listed}${zip.names.length > 10 ? ', ...' : ''})`
        : `${source}: ambiguous PyTorch checkpoint with several data.pkl entries: ${pkls.join(', ')}`,
    );
  }
  const prefix = pkls[0]!.slice(0, -'data.pkl'.length);
  if (zip.has(`${prefix}constants.pkl`) || zip.names.some((name) => name.startsWith(`${prefix}code/`))) {
    throw new FormatError(`${source}: TorchScript archives (torch.jit.save) are not supported; save the model's state_dict with torch.save instead`);
  }
  let littleEndian = true;
  if (zip.has(`${prefix}byteorder`)) {
    const order = new TextDecoder('latin1').decode(zip.read(`${prefix}byteorder`)).trim();
    if (order !== 'little' && order !== 'big') throw new FormatError(`${source}: unknown byteorder record ${JSON.stringify(order.slice(0, 20))}`);
    littleEndian = order === 'little';
  }

  const storages = new Map<string, StorageRef>();
  const root = unpickle(zip.read(pkls[0]!), makeHooks(storages, source), `${source}: data.pkl`);
  if (!(root instanceof PyDict)) {
    const what = tensorOf(root) ? 'a single tensor' : `a ${pyTypeName(root)}`;
    throw new FormatError(`${source}: the checkpoint holds ${what}, not a state_dict (a dict of tensors)`);
  }
  const refs = new Map<string, TensorRef>();
  flatten(root, '', refs, new Set(), 0, source);
  if (refs.size === 0) throw new FormatError(`${source}: the checkpoint holds no tensors`);

  // Storages are read and checked (CRC, byte size, view bounds) now; decoding waits for first access.
  const records = new Map<string, Uint8Array>();
  const decoded = new Map<string, Float64Array>();
  const tensors = new Map<string, Tensor>();
  for (const [name, ref] of refs) tensors.set(name, materialize(name, ref, zip, prefix, littleEndian, records, decoded, source));
  return tensors;
}

function makeHooks(storages: Map<string, StorageRef>, source: string) {
  const fail = (msg: string): never => {
    throw new FormatError(`${source}: ${msg}`);
  };
  const index = (v: PyValue, what: string): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what} must be a non-negative integer, got ${pyTypeName(v)} ${String(v)}`);
    return v as number;
  };
  const indexTuple = (v: PyValue, what: string): number[] => {
    if (!(v instanceof PyTuple || v instanceof PyList)) return fail(`${what} must be a tuple, got ${pyTypeName(v)}`);
    return v.items.map((x, i) => index(x, `${what}[${i}]`));
  };
  const rebuildTensor = (args: PyValue[]): PyValue => {
    const storage = args[0];
    if (!(storage instanceof PyOpaque) || (storage.value as StorageRef).kind !== 'storage') {
      return fail(`tensor rebuild expects a storage as its first argument, got ${pyTypeName(storage)}`);
    }
    const offset = index(args[1]!, 'tensor storage offset');
    const size = indexTuple(args[2]!, 'tensor size');
    const stride = indexTuple(args[3]!, 'tensor stride');
    if (size.length !== stride.length) fail(`tensor size ${formatShape(size)} and stride ${formatShape(stride)} differ in length`);
    const ref: TensorRef = { kind: 'tensor', storage: storage.value as StorageRef, offset, size, stride };
    return new PyOpaque(ref);
  };
  return {
    isAllowedGlobal,
    call(fn: PyGlobal, args: PyValue[]): PyValue {
      if (fn.module === 'collections') {
        const d = new PyDict();
        if (args.length === 0) return d;
        const init = args[0];
        if (args.length === 1 && (init instanceof PyList || init instanceof PyTuple)) {
          for (const pair of init.items) {
            if (!(pair instanceof PyTuple || pair instanceof PyList) || pair.items.length !== 2) fail('OrderedDict items must be pairs');
            const [k, v] = (pair as PyTuple).items;
            if (k instanceof PyList || k instanceof PyDict) fail('unhashable OrderedDict key');
            d.map.set(k, v!);
          }
          return d;
        }
        if (args.length === 1 && init instanceof PyDict) {
          for (const [k, v] of init.map) d.map.set(k, v);
          return d;
        }
        return fail('unsupported OrderedDict constructor arguments');
      }
      switch (fn.name) {
        case '_rebuild_tensor_v2':
          if (args.length !== 6 && args.length !== 7) fail(`_rebuild_tensor_v2 expects 6 or 7 arguments, got ${args.length}`);
          return rebuildTensor(args);
        case '_rebuild_tensor':
          if (args.length !== 4) fail(`_rebuild_tensor expects 4 arguments, got ${args.length}`);
          return rebuildTensor(args);
        case '_rebuild_parameter':
        case '_rebuild_parameter_with_state': {
          const expected = fn.name === '_rebuild_parameter' ? 3 : 4;
          if (args.length !== expected) fail(`${fn.name} expects ${expected} arguments, got ${args.length}`);
          if (!tensorOf(args[0]!)) fail(`${fn.name} expects a tensor, got ${pyTypeName(args[0])}`);
          return args[0]!;
        }
        default:
          return fail(`"${fn.qualifiedName}" cannot be called here`);
      }
    },
    persistentLoad(pid: PyValue): PyValue {
      if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') {
        return fail(`unsupported persistent id (expected ('storage', type, key, location, numel)), got ${pyTypeName(pid)}`);
      }
      const [, type, key, location, numelValue] = pid.items;
      if (!(type instanceof PyGlobal) || type.module !== 'torch' || !Object.prototype.hasOwnProperty.call(STORAGE_DTYPES, type.name)) {
        return fail(`persistent id names an unsupported storage type ${pyTypeName(type)}`);
      }
      if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(key)) return fail(`invalid storage key ${JSON.stringify(String(key)).slice(0, 70)}`);
      if (typeof location !== 'string') fail('storage location must be a string');
      const numel = index(numelValue!, `storage "${key}" element count`);
      const dtype = STORAGE_DTYPES[type.name]!;
      const known = storages.get(key);
      if (known !== undefined) {
        if (known.dtype !== dtype || known.numel !== numel) fail(`storage "${key}" is referenced with two different types or sizes`);
        return new PyOpaque(known);
      }
      const ref: StorageRef = { kind: 'storage', key, dtype, numel };
      storages.set(key, ref);
      return new PyOpaque(ref);
    },
  };
}

function flatten(dict: PyDict, prefix: string, out: Map<string, TensorRef>, active: Set<PyDict>, depth: number, source: string): void {
  if (depth > MAX_NESTING) throw new FormatError(`${source}: dicts nested more than ${MAX_NESTING} deep`);
  if (active.has(dict)) return; // a dict containing itself: nothing new below
  active.add(dict);
  for (const [k, v] of dict.map) {
    if (typeof k !== 'string' && typeof k !== 'number') continue;
    const name = `${prefix}${String(k)}`;
    const t = tensorOf(v);
    if (t !== undefined) {
      if (out.has(name)) throw new FormatError(`${source}: two tensors flatten to the same name "${name}"`);
      out.set(name, t);
    } else if (v instanceof PyDict) {
      flatten(v, `${name}.`, out, active, depth + 1, source);
    }
  }
  active.delete(dict);
}

function materialize(
  name: string,
  ref: TensorRef,
  zip: ZipArchive,
  prefix: string,
  littleEndian: boolean,
  records: Map<string, Uint8Array>,
  decoded: Map<string, Float64Array>,
  source: string,
): Tensor {
  const where = `${source}: tensor "${name}"`;
  const { storage, offset, size, stride } = ref;
  const count = checkedNumel(size);
  if (count === undefined) throw new FormatError(`${where}: size ${formatShape(size)} is too large`);
  if (count > 0) {
    let last = offset;
    for (let j = 0; j < size.length; j++) last += (size[j]! - 1) * stride[j]!;
    if (!Number.isSafeInteger(last) || last >= storage.numel) {
      throw new FormatError(
        `${where}: view (offset ${offset}, size ${formatShape(size)}, stride ${formatShape(stride)}) reaches element ${last} of a ${storage.numel}-element storage`,
      );
    }
    if (count > storage.numel && count > MAX_EXPANDED_NUMEL) {
      throw new FormatError(`${where}: ${count} elements broadcast from a ${storage.numel}-element storage is implausible`);
    }
  }
  let raw = records.get(storage.key);
  if (raw === undefined) {
    const entry = `${prefix}data/${storage.key}`;
    if (!zip.has(entry)) throw new FormatError(`${source}: storage "${storage.key}" is missing (no ${entry} entry)`);
    raw = zip.read(entry);
    const expected = storage.numel * DTYPE_ITEMSIZE[storage.dtype];
    if (raw.length !== expected) {
      throw new FormatError(`${source}: storage "${storage.key}" has ${raw.length} bytes, but ${storage.numel} × ${storage.dtype} needs ${expected}`);
    }
    records.set(storage.key, raw);
  }
  const bytes = raw;
  const decodeStorage = (): Float64Array => {
    let data = decoded.get(storage.key);
    if (data === undefined) {
      data = decodeElements(bytes, 0, storage.numel, storage.dtype, littleEndian, `${source}: storage "${storage.key}"`);
      decoded.set(storage.key, data);
    }
    return data;
  };
  return lazyTensor(storage.dtype, size.slice(), () => gather(decodeStorage(), offset, size, stride, count));
}

/** The row-major elements of the strided view (offset, size, stride) of `data`. */
function gather(data: Float64Array, offset: number, size: readonly number[], stride: readonly number[], count: number): Float64Array {
  let contiguous = true;
  let expected = 1;
  for (let j = size.length - 1; j >= 0; j--) {
    if (size[j] !== 1 && stride[j] !== expected) contiguous = false;
    expected *= size[j]!;
  }
  if (contiguous) return offset === 0 && count === data.length ? data : data.slice(offset, offset + count);
  const out = new Float64Array(count);
  const rank = size.length;
  const index = new Array<number>(rank).fill(0);
  let src = offset;
  for (let k = 0; k < count; k++) {
    out[k] = data[src]!;
    for (let j = rank - 1; j >= 0; j--) {
      index[j]!++;
      src += stride[j]!;
      if (index[j]! < size[j]!) break;
      src -= stride[j]! * size[j]!;
      index[j] = 0;
    }
  }
  return out;
}
