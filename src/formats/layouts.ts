/**
 * From named tensors to a network: detection of common weight layouts, a user key map for everything
 * else, and the model / input-model file readers built on it.
 *
 * Conventions (as in the paper and the engine): an MLP is f(x) = W2 act(W1 x + b1) + b2 with W1 [h,d],
 * W2 [o,h]; a GLU is f(x) = W_out (act(W_gate x + b_gate) ⊙ (W_up x + b_up)) + b_out with W_gate, W_up
 * [h,d] and W_out [o,h] — i.e. `nn.Linear` layout, [out_features, in_features]. Layouts that store weights
 * the other way round ([in, out]: TransformerLens, GPT-2's Conv1D) are transposed on read. Absent biases
 * are zero.
 *
 * Layouts detected, each under any dotted prefix (`net.`, `model.`, `transformer.h.5.mlp.`, ...):
 *
 * | layout | tensors (suffixes after the prefix) |
 * |---|---|
 * | canonical MLP | `W1` [h,d], `b1`, `W2` [o,h], `b2` |
 * | canonical GLU | `W_gate`, `b_gate`, `W_up`, `b_up`, `W_out`, `b_out` (nn.Linear layout) |
 * | nn.Sequential | `<i>.weight`, `<i>.bias`, `<j>.weight`, `<j>.bias`: exactly two 2-D `.weight`s, i < j |
 * | fc1/fc2 | `fc1.weight`, `fc1.bias`, `fc2.weight`, `fc2.bias` |
 * | TransformerLens | `W_in` [d,h], `b_in`, `W_out` [h,d], `b_out` (transposed) |
 * | TransformerLens gated | `W_gate` [d,h], `W_in`, `b_in`, `W_out`, `b_out` (transposed; b_in is the up-branch bias) |
 * | Hugging Face GPT-2 | `c_fc.weight` [d,4d], `c_fc.bias`, `c_proj.weight` [4d,d], `c_proj.bias` (Conv1D, transposed; gelu_tanh) |
 * | LLaMA-style SwiGLU | `gate_proj.weight`, `up_proj.weight`, `down_proj.weight`, optional `.bias`es (silu) |
 *
 * When several blocks match (a transformer), the last integer component of the prefix is the block's layer
 * number (`blocks.3.mlp.` → 3) and `layer` picks one.
 */
import { FormatError, InvalidArgumentError, NonFiniteError, ShapeError } from '../errors.js';
import { Matrix } from '../linalg/matrix.js';
import { readNpz } from './npz.js';
import { isNpy } from './npy.js';
import { readTorchStateDict } from './pytorch.js';
import { readFileBytes, readSafetensors } from './safetensors.js';
import { formatShape, isFloatDType, type Tensor } from './tensor.js';
import { isZip, openZip } from './zip.js';

/** A one-hidden-layer MLP, f(x) = W2 act(W1 x + b1) + b2. */
export interface MlpWeights {
  arch: 'mlp';
  /** [h, d] */
  W1: Matrix;
  /** [h] */
  b1: Float64Array;
  /** [o, h] */
  W2: Matrix;
  /** [o] */
  b2: Float64Array;
}

/** A gated linear unit, f(x) = W_out (act(W_gate x + b_gate) ⊙ (W_up x + b_up)) + b_out. */
export interface GluWeights {
  arch: 'glu';
  /** [h, d] */
  W_gate: Matrix;
  /** [h] */
  b_gate: Float64Array;
  /** [h, d] */
  W_up: Matrix;
  /** [h] */
  b_up: Float64Array;
  /** [o, h] */
  W_out: Matrix;
  /** [o] */
  b_out: Float64Array;
}

export type NetworkWeights = MlpWeights | GluWeights;

/** Options of {@link detectNetwork} and {@link readModelFile}. */
export interface DetectOptions {
  /** Block to use when the file holds several (a transformer's layer number). */
  layer?: number;
  /**
   * A key map `role=tensor[^T],...`, e.g. `W1=encoder.weight,b1=encoder.bias,W2=decoder.weight`; `^T`
   * marks a weight stored transposed ([in, out]); `{l}` in a tensor name is replaced by `layer`.
   * Roles: W1 b1 W2 b2 (MLP) or W_gate b_gate W_up b_up W_out b_out (GLU); biases may be omitted (zero).
   */
  keys?: string;
  /** Restrict detection to one architecture. */
  arch?: 'mlp' | 'glu';
}

/** The network found in a set of tensors. */
export interface DetectedNetwork {
  weights: NetworkWeights;
  /** The activation the layout implies (GPT-2: gelu_tanh, LLaMA: silu), if any. */
  activation?: string;
  /** One human-readable line saying which layout and tensors were used. */
  mapping: string;
}

type MlpRole = 'W1' | 'b1' | 'W2' | 'b2';
type GluRole = 'W_gate' | 'b_gate' | 'W_up' | 'b_up' | 'W_out' | 'b_out';
type Role = MlpRole | GluRole;

const MLP_ROLES: readonly MlpRole[] = ['W1', 'b1', 'W2', 'b2'];
const GLU_ROLES: readonly GluRole[] = ['W_gate', 'b_gate', 'W_up', 'b_up', 'W_out', 'b_out'];
const WEIGHT_ROLES = new Set<Role>(['W1', 'W2', 'W_gate', 'W_up', 'W_out']);

interface Binding {
  key: string;
  transposed: boolean;
}

/** One way of reading a network out of the tensors. */
interface Candidate {
  layout: string;
  arch: 'mlp' | 'glu';
  prefix: string;
  layer?: number;
  roles: Partial<Record<Role, Binding>>;
  activation?: string;
}

interface RoleSpec {
  suffix: string;
  transposed?: boolean;
  optional?: boolean;
}

interface SuffixLayout {
  name: string;
  arch: 'mlp' | 'glu';
  /** The first role's suffix anchors the search; its key minus the suffix is the prefix. */
  roles: Partial<Record<Role, RoleSpec>>;
  /** Suffixes whose presence under the same prefix rules this layout out. */
  excludes?: string[];
  activation?: string;
}

const SUFFIX_LAYOUTS: readonly SuffixLayout[] = [
  {
    name: 'canonical MLP',
    arch: 'mlp',
    roles: { W1: { suffix: 'W1' }, b1: { suffix: 'b1', optional: true }, W2: { suffix: 'W2' }, b2: { suffix: 'b2', optional: true } },
  },
  {
    name: 'canonical GLU',
    arch: 'glu',
    roles: {
      W_up: { suffix: 'W_up' },
      W_gate: { suffix: 'W_gate' },
      b_gate: { suffix: 'b_gate', optional: true },
      b_up: { suffix: 'b_up', optional: true },
      W_out: { suffix: 'W_out' },
      b_out: { suffix: 'b_out', optional: true },
    },
    excludes: ['W_in'],
  },
  {
    name: 'fc1/fc2',
    arch: 'mlp',
    roles: {
      W1: { suffix: 'fc1.weight' },
      b1: { suffix: 'fc1.bias', optional: true },
      W2: { suffix: 'fc2.weight' },
      b2: { suffix: 'fc2.bias', optional: true },
    },
  },
  {
    name: 'TransformerLens MLP',
    arch: 'mlp',
    roles: {
      W1: { suffix: 'W_in', transposed: true },
      b1: { suffix: 'b_in', optional: true },
      W2: { suffix: 'W_out', transposed: true },
      b2: { suffix: 'b_out', optional: true },
    },
    excludes: ['W_gate'],
  },
  {
    name: 'TransformerLens gated MLP',
    arch: 'glu',
    roles: {
      W_up: { suffix: 'W_in', transposed: true },
      b_up: { suffix: 'b_in', optional: true },
      W_gate: { suffix: 'W_gate', transposed: true },
      b_gate: { suffix: 'b_gate', optional: true },
      W_out: { suffix: 'W_out', transposed: true },
      b_out: { suffix: 'b_out', optional: true },
    },
  },
  {
    name: 'Hugging Face GPT-2 MLP (Conv1D)',
    arch: 'mlp',
    roles: {
      W1: { suffix: 'c_fc.weight', transposed: true },
      b1: { suffix: 'c_fc.bias', optional: true },
      W2: { suffix: 'c_proj.weight', transposed: true },
      b2: { suffix: 'c_proj.bias', optional: true },
    },
    activation: 'gelu_tanh',
  },
  {
    name: 'LLaMA-style SwiGLU MLP',
    arch: 'glu',
    roles: {
      W_gate: { suffix: 'gate_proj.weight' },
      b_gate: { suffix: 'gate_proj.bias', optional: true },
      W_up: { suffix: 'up_proj.weight' },
      b_up: { suffix: 'up_proj.bias', optional: true },
      W_out: { suffix: 'down_proj.weight' },
      b_out: { suffix: 'down_proj.bias', optional: true },
    },
    activation: 'silu',
  },
];

const LAYOUT_NAMES = [...SUFFIX_LAYOUTS.map((l) => l.name), 'nn.Sequential'];

/** The layer number of a prefix: its last all-digit dotted component. */
function layerOf(prefix: string): number | undefined {
  const parts = prefix.split('.').filter((p) => /^\d+$/.test(p));
  return parts.length === 0 ? undefined : Number(parts[parts.length - 1]);
}

/** `a [3, 4], b [4], ...` for messages. */
function listTensors(tensors: Map<string, Tensor>, max = 24): string {
  const names = [...tensors.keys()];
  const shown = names.slice(0, max).map((n) => `${n} ${formatShape(tensors.get(n)!.shape)}`);
  if (names.length > max) shown.push(`... (${names.length - max} more)`);
  return shown.length === 0 ? '(no tensors)' : shown.join(', ');
}

function findSuffixCandidates(tensors: Map<string, Tensor>, nearMisses: string[]): Candidate[] {
  const out: Candidate[] = [];
  for (const layout of SUFFIX_LAYOUTS) {
    const entries = Object.entries(layout.roles) as [Role, RoleSpec][];
    const [, anchor] = entries[0]!;
    for (const key of tensors.keys()) {
      if (!key.endsWith(anchor.suffix)) continue;
      const prefix = key.slice(0, key.length - anchor.suffix.length);
      if (prefix !== '' && !prefix.endsWith('.')) continue;
      if (layout.excludes?.some((s) => tensors.has(prefix + s))) continue;
      const roles: Partial<Record<Role, Binding>> = {};
      const missing: string[] = [];
      for (const [role, spec] of entries) {
        const k = prefix + spec.suffix;
        if (tensors.has(k)) roles[role] = { key: k, transposed: spec.transposed === true };
        else if (spec.optional !== true) missing.push(k);
      }
      if (missing.length > 0) {
        nearMisses.push(`${layout.name}: found "${key}" but not ${missing.map((m) => `"${m}"`).join(', ')}`);
        continue;
      }
      const candidate: Candidate = { layout: layout.name, arch: layout.arch, prefix, roles };
      const layer = layerOf(prefix);
      if (layer !== undefined) candidate.layer = layer;
      if (layout.activation !== undefined) candidate.activation = layout.activation;
      out.push(candidate);
    }
  }
  return out;
}

const SEQUENTIAL_WEIGHT = /^((?:.*\.)?)(\d+)\.weight$/;

function findSequentialCandidates(tensors: Map<string, Tensor>, nearMisses: string[]): Candidate[] {
  const byPrefix = new Map<string, number[]>();
  for (const [key, t] of tensors) {
    const m = SEQUENTIAL_WEIGHT.exec(key);
    if (m === null || t.shape.length !== 2) continue;
    const list = byPrefix.get(m[1]!) ?? [];
    list.push(Number(m[2]));
    byPrefix.set(m[1]!, list);
  }
  const out: Candidate[] = [];
  for (const [prefix, indices] of byPrefix) {
    indices.sort((a, b) => a - b);
    if (indices.length !== 2) {
      nearMisses.push(
        `nn.Sequential at "${prefix}": ${indices.length} Linear layer${indices.length === 1 ? '' : 's'} (${indices.join(', ')}); a one-hidden-layer MLP needs exactly 2`,
      );
      continue;
    }
    const [i, j] = indices as [number, number];
    const roles: Partial<Record<Role, Binding>> = {
      W1: { key: `${prefix}${i}.weight`, transposed: false },
      W2: { key: `${prefix}${j}.weight`, transposed: false },
    };
    if (tensors.has(`${prefix}${i}.bias`)) roles.b1 = { key: `${prefix}${i}.bias`, transposed: false };
    if (tensors.has(`${prefix}${j}.bias`)) roles.b2 = { key: `${prefix}${j}.bias`, transposed: false };
    const candidate: Candidate = { layout: 'nn.Sequential', arch: 'mlp', prefix, roles };
    const layer = layerOf(prefix);
    if (layer !== undefined) candidate.layer = layer;
    out.push(candidate);
  }
  return out;
}

/** Parses a user key map (see {@link DetectOptions.keys}) into a candidate. */
function parseKeyMap(spec: string, layer: number | undefined, tensors: Map<string, Tensor>): Candidate {
  const roles: Partial<Record<Role, Binding>> = {};
  const items = spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new InvalidArgumentError('keys: the key map is empty (expected e.g. "W1=fc.weight,W2=out.weight")');
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`keys: "${item}" is not of the form role=tensor`);
    const role = item.slice(0, eq).trim() as Role;
    let key = item.slice(eq + 1).trim();
    if (!(MLP_ROLES as readonly string[]).includes(role) && !(GLU_ROLES as readonly string[]).includes(role)) {
      throw new InvalidArgumentError(`keys: unknown role "${role}" (roles: ${[...MLP_ROLES, ...GLU_ROLES].join(', ')})`);
    }
    if (roles[role] !== undefined) throw new InvalidArgumentError(`keys: role ${role} is mapped twice`);
    let transposed = false;
    if (key.endsWith('^T')) {
      transposed = true;
      key = key.slice(0, -2).trim();
      if (!WEIGHT_ROLES.has(role)) throw new InvalidArgumentError(`keys: ${role} is a bias; "^T" only applies to weights`);
    }
    if (key.includes('{l}')) {
      if (layer === undefined) throw new InvalidArgumentError(`keys: "${key}" contains {l} but no layer was given`);
      key = key.split('{l}').join(String(layer));
    }
    if (key.length === 0) throw new InvalidArgumentError(`keys: role ${role} has an empty tensor name`);
    if (!tensors.has(key)) throw new FormatError(`keys: tensor "${key}" (for ${role}) is not in the file; it has: ${listTensors(tensors)}`);
    roles[role] = { key, transposed };
  }
  const mapped = Object.keys(roles) as Role[];
  const isMlp = mapped.some((r) => (MLP_ROLES as readonly string[]).includes(r));
  const isGlu = mapped.some((r) => (GLU_ROLES as readonly string[]).includes(r));
  if (isMlp && isGlu) throw new InvalidArgumentError(`keys: mixes MLP roles (W1 b1 W2 b2) with GLU roles (W_gate ... b_out): ${mapped.join(', ')}`);
  const required: Role[] = isMlp ? ['W1', 'W2'] : ['W_gate', 'W_up', 'W_out'];
  const missing = required.filter((r) => roles[r] === undefined);
  if (missing.length > 0) throw new InvalidArgumentError(`keys: the key map does not map ${missing.join(', ')}`);
  return { layout: 'user key map', arch: isMlp ? 'mlp' : 'glu', prefix: '', roles };
}

function describeCandidate(c: Candidate): string {
  const where = c.prefix === '' ? '' : ` at "${c.prefix}"`;
  return `${c.layout}${where}`;
}

/** Picks the one candidate the options select, or explains why there is none. */
function choose(candidates: Candidate[], nearMisses: string[], opts: DetectOptions, tensors: Map<string, Tensor>): Candidate {
  const noneFound = (): never => {
    const near = nearMisses.length > 0 ? ` Partial matches: ${nearMisses.slice(0, 8).join('; ')}.` : '';
    throw new FormatError(
      `no known network layout found (tried: ${LAYOUT_NAMES.join(', ')}).${near} The file has: ${listTensors(tensors)}. ` +
        'Name the tensors with a key map, e.g. --keys "W1=a.weight,b1=a.bias,W2=b.weight,b2=b.bias" (append ^T to a weight stored [in, out]).',
    );
  };
  if (candidates.length === 0) noneFound();
  let pool = candidates;
  if (opts.arch !== undefined) {
    pool = pool.filter((c) => c.arch === opts.arch);
    if (pool.length === 0) {
      throw new FormatError(`no ${opts.arch.toUpperCase()} layout found; the file matches: ${candidates.map(describeCandidate).join('; ')}`);
    }
  }
  if (opts.layer !== undefined) {
    const layers = [...new Set(pool.map((c) => c.layer).filter((l): l is number => l !== undefined))].sort((a, b) => a - b);
    pool = pool.filter((c) => c.layer === opts.layer);
    if (pool.length === 0) {
      throw new FormatError(
        layers.length === 0
          ? `layer ${opts.layer} was requested, but the network in the file is not split into numbered layers (found: ${candidates.map(describeCandidate).join('; ')})`
          : `no block with layer ${opts.layer}; available layers: ${layers.join(', ')}`,
      );
    }
  }
  if (pool.length === 1) return pool[0]!;
  const layers = pool.map((c) => c.layer);
  const distinctLayers = new Set(layers);
  if (opts.layer === undefined && layers.every((l) => l !== undefined) && distinctLayers.size === pool.length) {
    const sorted = [...distinctLayers].sort((a, b) => a! - b!);
    const layouts = [...new Set(pool.map((c) => c.layout))].join(' / ');
    throw new FormatError(`the file holds ${pool.length} ${layouts} blocks (layers ${sorted.join(', ')}); choose one with --layer`);
  }
  throw new FormatError(
    `ambiguous: several layouts match (${pool.map(describeCandidate).join('; ')}); choose with --layer, --arch or a --keys map`,
  );
}

interface Resolved {
  role: Role;
  binding: Binding;
  stored: Tensor;
}

function describe(r: Resolved): string {
  return `${r.role} ("${r.binding.key}"${r.binding.transposed ? ', stored transposed' : ''}, shape ${formatShape(r.stored.shape)})`;
}

function resolve(c: Candidate, tensors: Map<string, Tensor>): Partial<Record<Role, Resolved>> {
  const out: Partial<Record<Role, Resolved>> = {};
  for (const [role, binding] of Object.entries(c.roles) as [Role, Binding][]) {
    const stored = tensors.get(binding.key)!;
    const r: Resolved = { role, binding, stored };
    if (!isFloatDType(stored.dtype)) {
      throw new FormatError(`${describe(r)} has dtype ${stored.dtype}; network weights must be F64, F32, F16 or BF16`);
    }
    const rank = WEIGHT_ROLES.has(role) ? 2 : 1;
    if (stored.shape.length !== rank) throw new ShapeError(`${describe(r)} must be ${rank}-D`);
    const data = stored.data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) {
        throw new NonFiniteError(`tensor "${binding.key}" (${role}) contains a non-finite value (${data[i]}) at flat index ${i}`);
      }
    }
    out[role] = r;
  }
  return out;
}

/** The transpose of the row-major rows×cols `data`, in cache-friendly tiles (large weights are common here). */
function transposed(data: Float64Array, rows: number, cols: number): Matrix {
  const out = new Float64Array(rows * cols);
  const TILE = 32;
  for (let i0 = 0; i0 < rows; i0 += TILE) {
    const i1 = Math.min(rows, i0 + TILE);
    for (let j0 = 0; j0 < cols; j0 += TILE) {
      const j1 = Math.min(cols, j0 + TILE);
      for (let i = i0; i < i1; i++) {
        for (let j = j0; j < j1; j++) out[j * rows + i] = data[i * cols + j]!;
      }
    }
  }
  return new Matrix(cols, rows, out);
}

/** The weight in [out, in] orientation. */
function weightOf(r: Resolved): Matrix {
  const [a, b] = r.stored.shape as [number, number];
  return r.binding.transposed ? transposed(r.stored.data, a, b) : new Matrix(a, b, r.stored.data);
}

function biasOf(r: Resolved | undefined, length: number, lengthName: string, against: string): Float64Array {
  if (r === undefined) return new Float64Array(length);
  if (r.stored.shape[0] !== length) {
    throw new ShapeError(`${describe(r)} must have length ${length} (${lengthName} of ${against})`);
  }
  return r.stored.data;
}

function requirePositive(dims: Record<string, number>, what: string): void {
  for (const [name, v] of Object.entries(dims)) {
    if (v < 1) throw new ShapeError(`${what}: dimension ${name} is ${v}; every dimension must be at least 1`);
  }
}

function build(c: Candidate, tensors: Map<string, Tensor>): NetworkWeights {
  const r = resolve(c, tensors);
  if (c.arch === 'mlp') {
    const rW1 = r.W1!;
    const rW2 = r.W2!;
    const W1 = weightOf(rW1);
    const W2 = weightOf(rW2);
    requirePositive({ h: W1.rows, d: W1.cols, o: W2.rows }, describe(rW1));
    if (W2.cols !== W1.rows) {
      throw new ShapeError(`${describe(rW2)} does not fit ${describe(rW1)}: W2 must be [o, h] with h = ${W1.rows}, got [${W2.rows}, ${W2.cols}]`);
    }
    const b1 = biasOf(r.b1, W1.rows, 'the hidden width h', describe(rW1));
    const b2 = biasOf(r.b2, W2.rows, 'the output width o', describe(rW2));
    return { arch: 'mlp', W1, b1, W2, b2 };
  }
  const rGate = r.W_gate!;
  const rUp = r.W_up!;
  const rOut = r.W_out!;
  const W_gate = weightOf(rGate);
  const W_up = weightOf(rUp);
  const W_out = weightOf(rOut);
  requirePositive({ h: W_gate.rows, d: W_gate.cols, o: W_out.rows }, describe(rGate));
  if (W_up.rows !== W_gate.rows || W_up.cols !== W_gate.cols) {
    throw new ShapeError(`${describe(rUp)} must have the same [h, d] = [${W_gate.rows}, ${W_gate.cols}] as ${describe(rGate)}`);
  }
  if (W_out.cols !== W_gate.rows) {
    throw new ShapeError(`${describe(rOut)} does not fit ${describe(rGate)}: W_out must be [o, h] with h = ${W_gate.rows}, got [${W_out.rows}, ${W_out.cols}]`);
  }
  const b_gate = biasOf(r.b_gate, W_gate.rows, 'the hidden width h', describe(rGate));
  const b_up = biasOf(r.b_up, W_gate.rows, 'the hidden width h', describe(rUp));
  const b_out = biasOf(r.b_out, W_out.rows, 'the output width o', describe(rOut));
  return { arch: 'glu', W_gate, b_gate, W_up, b_up, W_out, b_out };
}

function mappingLine(c: Candidate): string {
  const roles = c.arch === 'mlp' ? MLP_ROLES : GLU_ROLES;
  const parts = roles.map((role) => {
    const b = c.roles[role];
    return b === undefined ? `${role}=0` : `${role}=${b.key}${b.transposed ? '^T' : ''}`;
  });
  const block = c.layer !== undefined ? ` (layer ${c.layer})` : '';
  const act = c.activation !== undefined ? `; implies activation ${c.activation}` : '';
  return `${c.layout}${block}: ${parts.join(', ')}${act}`;
}

/**
 * Finds the MLP or GLU in a set of named tensors.
 *
 * With `opts.keys`, the key map decides; otherwise every layout in the module documentation is tried
 * under every dotted prefix, then `opts.arch` and `opts.layer` narrow the matches to exactly one.
 *
 * @returns the weights in nn.Linear orientation (data may be shared with the input tensors), the
 *   activation the layout implies, and a one-line description of the mapping used
 * @throws FormatError if nothing matches (listing the tensors found and the layouts tried), if several
 *   blocks or layouts match and the options do not pick one (listing the layers), or a weight has an
 *   integer dtype; ShapeError naming tensors and shapes that do not fit together; NonFiniteError naming a
 *   tensor with NaN/Inf; InvalidArgumentError for a malformed key map
 */
export function detectNetwork(tensors: Map<string, Tensor>, opts: DetectOptions = {}): DetectedNetwork {
  if (opts.layer !== undefined && (!Number.isSafeInteger(opts.layer) || opts.layer < 0)) {
    throw new InvalidArgumentError(`layer must be a non-negative integer, got ${opts.layer}`);
  }
  let chosen: Candidate;
  if (opts.keys !== undefined) {
    chosen = parseKeyMap(opts.keys, opts.layer, tensors);
    if (opts.arch !== undefined && opts.arch !== chosen.arch) {
      throw new InvalidArgumentError(`keys: the key map describes a ${chosen.arch.toUpperCase()}, but arch ${opts.arch} was requested`);
    }
  } else {
    const nearMisses: string[] = [];
    const candidates = [...findSuffixCandidates(tensors, nearMisses), ...findSequentialCandidates(tensors, nearMisses)];
    chosen = choose(candidates, nearMisses, opts, tensors);
  }
  const weights = build(chosen, tensors);
  const result: DetectedNetwork = { weights, mapping: mappingLine(chosen) };
  if (chosen.activation !== undefined) result.activation = chosen.activation;
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// Files

/** The container formats a tensor file can have. */
export type TensorFileFormat = 'safetensors' | 'pytorch' | 'npz';

/** The tensors of a file, whatever its format. */
export interface TensorFile {
  format: TensorFileFormat;
  tensors: Map<string, Tensor>;
  /** safetensors `__metadata__`; empty for other formats. */
  metadata: Record<string, string>;
}

function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  return n >= 2 && n <= bytes.length - 8 && bytes[8] === 0x7b;
}

/**
 * Reads the tensors of a model or input-model file held in memory, choosing the reader by content (magic
 * bytes) and, for files too damaged to recognize, by the extension of `source`: `.safetensors`; `.pt`,
 * `.pth`, `.bin`, `.ckpt` (PyTorch zip checkpoint); `.npz`. A `.npy` file holds one unnamed array and is
 * refused.
 * @throws FormatError if the format is not recognized or the file is malformed
 */
export function readTensorFile(bytes: Uint8Array, source: string): TensorFile {
  const ext = /\.([A-Za-z0-9]+)$/.exec(source)?.[1]?.toLowerCase() ?? '';
  if (isZip(bytes)) {
    const zip = openZip(bytes, source);
    if (zip.names.some((n) => /^[^/]+\/data\.pkl$/.test(n))) return { format: 'pytorch', tensors: readTorchStateDict(bytes, source), metadata: {} };
    if (zip.names.length === 0 || zip.names.some((n) => n.endsWith('.npy'))) return { format: 'npz', tensors: readNpz(bytes, source), metadata: {} };
    if (ext === 'npz') return { format: 'npz', tensors: readNpz(bytes, source), metadata: {} };
    return { format: 'pytorch', tensors: readTorchStateDict(bytes, source), metadata: {} };
  }
  if (isNpy(bytes) || ext === 'npy') {
    throw new FormatError(`${source}: a .npy file holds a single unnamed array; save the tensors together as .npz (numpy.savez) or .safetensors`);
  }
  if (looksLikeSafetensors(bytes) || ext === 'safetensors') {
    const { tensors, metadata } = readSafetensors(bytes, source);
    return { format: 'safetensors', tensors, metadata };
  }
  if (['pt', 'pth', 'bin', 'ckpt'].includes(ext) || (bytes.length >= 2 && bytes[0] === 0x80)) {
    return { format: 'pytorch', tensors: readTorchStateDict(bytes, source), metadata: {} };
  }
  if (ext === 'npz') return { format: 'npz', tensors: readNpz(bytes, source), metadata: {} };
  throw new FormatError(`${source}: unrecognized file format (expected .safetensors, a PyTorch .pt/.pth/.bin checkpoint, or .npz)`);
}

/** What {@link readModelFile} returns. */
export interface ModelFile {
  weights: NetworkWeights;
  /** `__metadata__.activation` if present, else the activation the layout implies, else undefined. */
  activation?: string;
  /** `__metadata__.architecture` if present (verbatim), else the detected `weights.arch`. */
  architecture?: string;
  mapping: string;
  metadata: Record<string, string>;
  format: TensorFileFormat;
}

/**
 * Reads a network from a model file (see {@link readTensorFile} for formats and {@link detectNetwork} for
 * layouts). A safetensors `__metadata__.architecture` of `mlp`/`glu` restricts detection unless
 * `opts.arch` or a key map is given.
 * @throws FormatError, ShapeError, NonFiniteError, InvalidArgumentError as {@link readTensorFile} and
 *   {@link detectNetwork} do
 */
export function readModelFile(path: string, opts: DetectOptions = {}): ModelFile {
  const file = readTensorFile(readFileBytes(path), path);
  const metaArch = file.metadata['architecture'];
  const metaHint = opts.keys === undefined && (metaArch === 'mlp' || metaArch === 'glu') ? metaArch : undefined;
  const arch = opts.arch ?? metaHint;
  const detectOpts: DetectOptions = { ...opts };
  if (arch !== undefined) detectOpts.arch = arch;
  let detected: DetectedNetwork;
  try {
    detected = detectNetwork(file.tensors, detectOpts);
  } catch (e) {
    if (e instanceof FormatError || e instanceof ShapeError || e instanceof NonFiniteError) {
      const Ctor = e.constructor as new (message: string) => Error;
      throw new Ctor(`${path}: ${e.message}`);
    }
    throw e;
  }
  const result: ModelFile = {
    weights: detected.weights,
    architecture: metaArch ?? detected.weights.arch,
    mapping: detected.mapping,
    metadata: file.metadata,
    format: file.format,
  };
  const activation = file.metadata['activation'] ?? detected.activation;
  if (activation !== undefined) result.activation = activation;
  return result;
}

/** A Gaussian or Gaussian-mixture input model as stored in a file. */
export type InputModelFile =
  | { kind: 'gaussian'; mean: Float64Array; cov: Matrix }
  | { kind: 'mixture'; weights: Float64Array; means: Matrix; covs: Matrix[] };

function inputTensor(tensors: Map<string, Tensor>, name: string, rank: number, path: string): Tensor {
  const t = tensors.get(name)!;
  if (t.shape.length !== rank) throw new ShapeError(`${path}: tensor "${name}" must be ${rank}-D, got shape ${formatShape(t.shape)}`);
  if (!isFloatDType(t.dtype)) throw new FormatError(`${path}: tensor "${name}" has dtype ${t.dtype}; expected F64, F32, F16 or BF16`);
  const data = t.data;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw new NonFiniteError(`${path}: tensor "${name}" contains a non-finite value (${data[i]}) at flat index ${i}`);
  }
  for (const dim of t.shape) if (dim < 1) throw new ShapeError(`${path}: tensor "${name}" has an empty dimension, shape ${formatShape(t.shape)}`);
  return t;
}

/**
 * Reads an input model: `mean` [d] and `cov` [d,d] (Gaussian), or `weights` [K], `means` [K,d] and
 * `covs` [K,d,d] (mixture). Shapes are validated; positive-definiteness and weight normalization are left
 * to the engine.
 * @throws FormatError if the tensors of neither (or both) models are present, or the file is malformed;
 *   ShapeError for shapes that do not fit together; NonFiniteError for NaN/Inf entries
 */
export function readInputModelFile(path: string): InputModelFile {
  const { tensors } = readTensorFile(readFileBytes(path), path);
  const gaussian = tensors.has('mean') || tensors.has('cov');
  const mixture = tensors.has('weights') || tensors.has('means') || tensors.has('covs');
  if (gaussian && mixture) {
    throw new FormatError(`${path}: holds tensors of both a Gaussian (mean, cov) and a mixture (weights, means, covs); keep one set`);
  }
  if (gaussian) {
    for (const n of ['mean', 'cov']) if (!tensors.has(n)) throw new FormatError(`${path}: a Gaussian input model needs "mean" and "cov"; "${n}" is missing`);
    const mean = inputTensor(tensors, 'mean', 1, path);
    const cov = inputTensor(tensors, 'cov', 2, path);
    const d = mean.shape[0]!;
    if (cov.shape[0] !== d || cov.shape[1] !== d) {
      throw new ShapeError(`${path}: "cov" must be [${d}, ${d}] to match "mean" ${formatShape(mean.shape)}, got ${formatShape(cov.shape)}`);
    }
    return { kind: 'gaussian', mean: mean.data, cov: new Matrix(d, d, cov.data) };
  }
  if (mixture) {
    for (const n of ['weights', 'means', 'covs']) {
      if (!tensors.has(n)) throw new FormatError(`${path}: a mixture input model needs "weights", "means" and "covs"; "${n}" is missing`);
    }
    const weights = inputTensor(tensors, 'weights', 1, path);
    const means = inputTensor(tensors, 'means', 2, path);
    const covs = inputTensor(tensors, 'covs', 3, path);
    const k = weights.shape[0]!;
    const d = means.shape[1]!;
    if (means.shape[0] !== k) throw new ShapeError(`${path}: "means" must be [${k}, d] to match "weights" ${formatShape(weights.shape)}, got ${formatShape(means.shape)}`);
    if (covs.shape[0] !== k || covs.shape[1] !== d || covs.shape[2] !== d) {
      throw new ShapeError(`${path}: "covs" must be [${k}, ${d}, ${d}] to match "weights" and "means", got ${formatShape(covs.shape)}`);
    }
    const list: Matrix[] = [];
    for (let i = 0; i < k; i++) list.push(new Matrix(d, d, covs.data.subarray(i * d * d, (i + 1) * d * d)));
    return { kind: 'mixture', weights: weights.data, means: new Matrix(k, d, means.data), covs: list };
  }
  throw new FormatError(
    `${path}: not an input model: expected "mean" and "cov" (Gaussian) or "weights", "means" and "covs" (mixture); it has: ${listTensors(tensors)}`,
  );
}
