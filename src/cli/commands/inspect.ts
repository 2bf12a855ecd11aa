/**
 * `polyapprox inspect`: what a model, approximant, input-model or tensor file holds.
 */
import { extname } from 'node:path';
import type { Command } from 'commander';
import { readFileBytes, readSafetensors } from '../../formats/safetensors.js';
import { readNpz } from '../../formats/npz.js';
import { readNpy } from '../../formats/npy.js';
import { readTorchStateDict } from '../../formats/pytorch.js';
import { isZip } from '../../formats/zip.js';
import { detectNetwork } from '../../formats/layouts.js';
import { APPROXIMANT_FORMAT } from '../../formats/approximantFile.js';
import { FormatError, PolyapproxError } from '../../errors.js';
import type { Tensor } from '../../formats/tensor.js';
import { action } from '../errors.js';

interface Inspection {
  file: string;
  format: string;
  kind: 'approximant' | 'model' | 'input-gaussian' | 'input-mixture' | 'tensors';
  tensors: { name: string; dtype: string; shape: number[] }[];
  metadata: Record<string, string>;
  summary: Record<string, unknown>;
}

function readAny(path: string): { format: string; tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const bytes = readFileBytes(path);
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') return { format: 'npy', tensors: new Map([['array', readNpy(bytes, path)]]), metadata: {} };
  if (ext === '.npz') return { format: 'npz', tensors: readNpz(bytes, path), metadata: {} };
  if (isZip(bytes)) return { format: 'pytorch', tensors: readTorchStateDict(bytes, path), metadata: {} };
  const st = readSafetensors(bytes, path);
  return { format: 'safetensors', tensors: st.tensors, metadata: st.metadata };
}

export function inspectFile(path: string): Inspection {
  const { format, tensors, metadata } = readAny(path);
  const list = [...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }));
  const base = { file: path, format, tensors: list, metadata };
  if (metadata.format === APPROXIMANT_FORMAT || (tensors.has('alpha') && tensors.has('beta'))) {
    const beta = tensors.get('beta');
    return {
      ...base, kind: 'approximant',
      summary: {
        degree: Number(metadata.degree ?? (tensors.has('gamma') || tensors.has('gamma_coef') ? 2 : 1)),
        form: metadata.form ?? 'monomial', gamma_form: metadata.gamma_form ?? (tensors.has('gamma') ? 'dense' : 'none'),
        architecture: metadata.architecture, activation: metadata.activation, input_model: metadata.input_model,
        input_dim: beta?.shape[0], output_dim: beta?.shape[1],
        fvu: metadata.fvu === undefined ? undefined : Number(metadata.fvu),
        r2: metadata.r2 === undefined ? undefined : Number(metadata.r2),
      },
    };
  }
  if (tensors.has('mean') && tensors.has('cov')) {
    return { ...base, kind: 'input-gaussian', summary: { dim: tensors.get('mean')!.shape[0] } };
  }
  if (tensors.has('weights') && tensors.has('means') && tensors.has('covs')) {
    const m = tensors.get('means')!;
    return { ...base, kind: 'input-mixture', summary: { components: m.shape[0], dim: m.shape[1] } };
  }
  try {
    const det = detectNetwork(tensors);
    const w = det.weights;
    const [h, d] = w.arch === 'mlp' ? [w.W1.rows, w.W1.cols] : [w.W_gate.rows, w.W_gate.cols];
    const o = w.arch === 'mlp' ? w.W2.rows : w.W_out.rows;
    return {
      ...base, kind: 'model',
      summary: {
        architecture: metadata.architecture ?? w.arch, activation: metadata.activation ?? det.activation ?? 'unknown (pass --act to fit)',
        input_dim: d, hidden_dim: h, output_dim: o, mapping: det.mapping,
      },
    };
  } catch (e) {
    if (!(e instanceof PolyapproxError)) throw e;
    return { ...base, kind: 'tensors', summary: { note: `not recognised as a model: ${e.message}` } };
  }
}

export function registerInspect(program: Command): void {
  program
    .command('inspect <file>')
    .description('show what a model, approximant, input-model or tensor file holds')
    .option('--json', 'print the description as JSON')
    .addHelpText('after', `
Examples:
  polyapprox inspect model.safetensors
  polyapprox inspect quad.safetensors --json`)
    .action(action(async (file: string, flags: { json?: boolean }) => {
      const info = inspectFile(file);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(info)}\n`);
        return;
      }
      const lines = [`${info.file}: ${info.kind} (${info.format})`];
      for (const [k, v] of Object.entries(info.summary)) if (v !== undefined) lines.push(`  ${k}: ${typeof v === 'number' ? v : String(v)}`);
      lines.push(`  tensors (${info.tensors.length}):`);
      for (const t of info.tensors.slice(0, 200)) lines.push(`    ${t.name.padEnd(32)} ${t.dtype.padEnd(5)} [${t.shape.join(', ')}]`);
      if (info.tensors.length > 200) lines.push(`    … ${info.tensors.length - 200} more`);
      const meta = Object.entries(info.metadata);
      if (meta.length > 0) {
        lines.push('  metadata:');
        for (const [k, v] of meta) lines.push(`    ${k}: ${v.length > 200 ? `${v.slice(0, 200)}…` : v}`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    }));
}

export { FormatError };
