#!/usr/bin/env node
/**
 * The `polyapprox` command line.
 */
import { reportError } from './errors.js';
import { buildProgram } from './program.js';

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    process.exitCode = reportError(e);
  }
}

await main(process.argv);
