/** The train and input commands use the project's shared CLI harness. */
export { runCli, type CliRun } from '../cliHarness.js';
