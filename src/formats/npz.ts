/**
 * NumPy's `.npz` archives: a zip of `.npy` files, one per array (`numpy.savez` stores them,
 * `numpy.savez_compressed` deflates them). Array names are the entry names without the `.npy` suffix.
 */
import { InvalidArgumentError } from '../errors.js';
import { readNpy, writeNpy } from './npy.js';
import type { Tensor, WritableTensor } from './tensor.js';
import { openZip, writeZip } from './zip.js';

/**
 * Parses an `.npz` archive held in memory (stored or deflated entries). Entries whose names do not end in
 * `.npy` are ignored.
 * @param source names the file in error messages
 * @throws FormatError for a corrupt archive or array (see {@link readNpy})
 */
export function readNpz(bytes: Uint8Array, source = 'npz data'): Map<string, Tensor> {
  const zip = openZip(bytes, source);
  const out = new Map<string, Tensor>();
  for (const entry of zip.names) {
    if (!entry.endsWith('.npy')) continue;
    out.set(entry.slice(0, -4), readNpy(zip.read(entry), `${source}: ${entry}`));
  }
  return out;
}

/**
 * Serializes tensors as an uncompressed `.npz` archive (entries `<name>.npy`, as `numpy.savez` names them).
 * @throws InvalidArgumentError for an empty name or a tensor {@link writeNpy} cannot encode
 */
export function writeNpz(tensors: Map<string, Tensor | WritableTensor> | Record<string, Tensor | WritableTensor>): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  return writeZip(
    list.map(([name, t]) => {
      if (name.length === 0) throw new InvalidArgumentError('writeNpz: array names must not be empty');
      return [`${name}.npy`, writeNpy(t)] as const;
    }),
  );
}
