/**
 * `polyapprox predict`: evaluate an approximant file on a batch of inputs.
 */
import { extname } from 'node:path';
import type { Command } from 'commander';
import { ShapeError } from '../../errors.js';
import { loadApproximant } from '../../formats/approximantFile.js';
import { writeSafetensorsFile } from '../../formats/safetensors.js';
import { writeNpy } from '../../formats/npy.js';
import { writeFileAtomic } from '../../formats/atomic.js';
import { action } from '../errors.js';
import { loadBatch } from '../load.js';

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('evaluate an approximant on inputs x [n, d], writing y [n, o]')
    .requiredOption('--approx <file>', 'approximant written by `polyapprox fit`')
    .requiredOption('--x <file>', 'inputs: tensor "x" of a .safetensors/.npz file, or an .npy array')
    .requiredOption('--out <file>', 'outputs: .safetensors (tensor "y") or .npy')
    .addHelpText('after', `
Example:
  polyapprox predict --approx quad.safetensors --x points.safetensors --out y.safetensors`)
    .action(action(async (flags: { approx: string; x: string; out: string }) => {
      const approx = loadApproximant(flags.approx);
      const X = loadBatch(flags.x);
      if (X.cols !== approx.inputDim) {
        throw new ShapeError(`${flags.x} has inputs of dimension ${X.cols} but the approximant takes ${approx.inputDim}`);
      }
      const Y = approx.predict(X);
      if (extname(flags.out).toLowerCase() === '.npy') {
        writeFileAtomic(flags.out, writeNpy({ dtype: 'F64', shape: [Y.rows, Y.cols], data: Y.data }));
      } else {
        writeSafetensorsFile(flags.out, { y: { dtype: 'F64', shape: [Y.rows, Y.cols], data: Y.data } }, { source_approximant: flags.approx });
      }
      process.stdout.write(`wrote ${Y.rows}×${Y.cols} predictions to ${flags.out}\n`);
    }));
}
