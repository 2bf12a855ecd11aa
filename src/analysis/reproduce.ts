/**
 * One-command reproduction of the paper's MNIST experiments: train with checkpoints, run the training-dynamics
 * study, then the interpretability analyses on the checkpoints, and write `report.html` (self-contained: figures
 * inline) and `results.json`.
 *
 * Every stage writes its output before the next starts, and the expensive ones are skipped when their output is
 * already there, so an interrupted run resumes where it stopped:
 * - training (minutes): skipped when `checkpoints/training.json` lists the final step and its file exists;
 * - study (minutes): its own per-checkpoint cache (study.ts);
 * - analyses and report (seconds): recomputed every time, from the cached checkpoints.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { Matrix } from '../linalg/matrix.js';
import { fitLinear, fitQuadratic } from '../approx/fit/index.js';
import { Gaussian } from '../approx/inputModel.js';
import { forward, type Network } from '../approx/network.js';
import type { PolynomialApproximant } from '../approx/result.js';
import { loadDataset, type Dataset } from '../data/index.js';
import { train } from '../train/index.js';
import { PRESETS, type PresetName } from '../train/presets.js';
import { readFileBytes } from '../formats/safetensors.js';
import { writeFileAtomic } from '../formats/atomic.js';
import { loadNetwork } from '../cli/load.js';
import { heatmapGrid, spectrumChart, writeFigure } from '../figures/index.js';
import { eigenFeatures } from './eigen.js';
import {
  attackAccuracyChart, attackedImageGrid, attackedImages, singularVectorGrid, svdAttack, svdAttackToJson,
} from './svdAttack.js';
import { decomposeLogits, logitDecompositionChart, logitDecompositionToJson } from './logits.js';
import { listCheckpoints, runStudy, type MixtureQuadraticMode, type StudyResult } from './study.js';
import { buildReport, type ReportSection } from './report.js';

export interface ReproduceOptions {
  preset: PresetName;
  out: string;
  seed?: number;
  /** Samples per synthetic evaluation set in the study. Default 10000. */
  samples?: number;
  /** Ignore every cache and recompute. */
  fresh?: boolean;
  /** Which checkpoints the study fits the quadratic mixture approximant at (default 'last'; see study.ts). */
  mixtureQuadratic?: MixtureQuadraticMode;
  /** Wall-clock budget of each quadratic mixture solve in the study, seconds (default 240). */
  mixtureQuadraticSeconds?: number;
  hooks?: {
    note?: (message: string) => void;
    /** A stage with a known number of steps starts / advances / ends. */
    stageStart?: (label: string, total: number) => void;
    stageUpdate?: (done: number, extra?: string) => void;
    stageEnd?: () => void;
  };
}

export interface ReproduceResult {
  out: string;
  report: string;
  results: string;
  seconds: number;
  reused: string[];
}

/** Class whose features the paper's Fig. 1 follows. */
const FIG1_CLASS = 3;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function toMatrix(ds: Dataset, limit?: number): Matrix {
  const n = limit === undefined ? ds.x.rows : Math.min(limit, ds.x.rows);
  return new Matrix(n, ds.x.cols, Float64Array.from(ds.x.data.subarray(0, n * ds.x.cols)));
}

async function trainStage(opts: ReproduceOptions, dir: string, reused: string[]): Promise<void> {
  const preset = PRESETS[opts.preset];
  const log = join(dir, 'training.json');
  if (!opts.fresh && existsSync(log)) {
    try {
      const j = JSON.parse(readFileSync(log, 'utf8')) as { finished?: boolean; total_steps?: number; config?: { preset?: string; seed?: number } };
      const total = j.total_steps;
      const same = j.config?.preset === preset.name && j.config?.seed === (opts.seed ?? 0);
      if (j.finished === true && same && total !== undefined && existsSync(join(dir, `step-${total}.safetensors`))) {
        reused.push('training');
        opts.hooks?.note?.(`reusing the trained checkpoints in ${dir}`);
        return;
      }
    } catch {
      // An unreadable log means the run did not finish: train again.
    }
  }
  const trainSet = loadDataset('mnist-train');
  const testSet = loadDataset('mnist-test');
  opts.hooks?.note?.(`training the ${preset.name} preset: ${preset.description}`);
  let started = false;
  await train({
    train: trainSet, test: testSet, hidden: preset.hidden, depth: preset.depth, activation: preset.activation,
    epochs: preset.epochs, ...(preset.maxSteps === undefined ? {} : { maxSteps: preset.maxSteps }),
    batchSize: preset.batchSize, optimizer: preset.optimizer, lr: preset.lr, weightDecay: preset.weightDecay,
    ...(preset.momentum === undefined ? {} : { momentum: preset.momentum }),
    schedule: preset.schedule, noise: preset.noise, checkpoints: preset.checkpoints, checkpointLast: preset.checkpointLast,
    seed: opts.seed ?? 0, outDir: dir, preset: preset.name,
  }, {
    onStart: (info) => {
      started = true;
      opts.hooks?.stageStart?.('training', info.totalSteps);
    },
    onStep: (p) => {
      if (p.step % 50 === 0 || p.step === p.totalSteps) opts.hooks?.stageUpdate?.(p.step, `loss ${p.epochLoss.toFixed(4)}`);
    },
  });
  if (started) opts.hooks?.stageEnd?.();
}

interface Analyses {
  key: string;
  final_step: number;
  fig1: { steps: number[]; eigenvalues: number[] };
  eigen: { class: number; positive: number[]; negative: number[] }[];
  attack: Record<string, unknown>;
  logits: Record<string, unknown>;
  logits_index: number;
  logits_label: number;
}

/** Renders every figure of the analyses and returns the report sections (figures inline). */
async function analysesStage(
  opts: ReproduceOptions, ckptDir: string, out: string,
): Promise<{ analyses: Analyses; sections: ReportSection[] }> {
  const files = listCheckpoints(ckptDir);
  const last = files[files.length - 1]!;
  const hash = sha256(readFileBytes(last.path));
  const key = JSON.stringify({ v: 1, preset: opts.preset, seed: opts.seed ?? 0, hash, steps: files.map((f) => f.step) });
  const analysesPath = join(out, 'analyses.json');
  const figDir = join(out, 'figures');
  mkdirSync(figDir, { recursive: true });
  const sections: ReportSection[] = [];
  const note = opts.hooks?.note;

  // Fig. 1: the top eigenvector of Γ_3 and β column 3 across checkpoints (isotropic approximants).
  const fig1Steps = files.filter((f) => f.step >= 16).map((f) => f.step);
  const chosen = fig1Steps.length > 8 ? fig1Steps.filter((_, i) => i % Math.ceil(fig1Steps.length / 8) === 0 || i === fig1Steps.length - 1) : fig1Steps;
  const eigPanels: { title: string; values: Float64Array; width: number; height: number }[] = [];
  const betaPanels: { title: string; values: Float64Array; width: number; height: number }[] = [];
  const fig1Values: number[] = [];
  const iso = Gaussian.standard(784);
  let finalNet: Network | null = null;
  let finalQuad: PolynomialApproximant | null = null;
  note?.('eigen-features across checkpoints');
  for (const step of chosen) {
    const { net } = loadNetwork(files.find((f) => f.step === step)!.path);
    const quad = fitQuadratic(net, iso);
    const ef = eigenFeatures(quad, { class: FIG1_CLASS }, { top: 1 });
    const top = ef.positive[0];
    fig1Values.push(top?.value ?? 0);
    eigPanels.push({ title: `step ${step}, λ = ${(top?.value ?? 0).toFixed(3)}`, values: top?.vector ?? new Float64Array(784), width: 28, height: 28 });
    betaPanels.push({ title: `step ${step}`, values: quad.beta.col(FIG1_CLASS), width: 28, height: 28 });
  }
  const fig1a = heatmapGrid({ title: `Top eigenvector of Γ_${FIG1_CLASS} (quadratic approximant under N(0, I)) across training`, panels: eigPanels, columns: Math.min(8, eigPanels.length), colorbar: true, colorbarLabel: 'component', cells: 'png' });
  const fig1b = heatmapGrid({ title: `β column ${FIG1_CLASS} (linear coefficients) across training`, panels: betaPanels, columns: Math.min(8, betaPanels.length), colorbar: true, colorbarLabel: 'coefficient', cells: 'png' });
  writeFigure(join(figDir, 'fig1_eigenvector_class3'), fig1a);
  writeFigure(join(figDir, 'fig1_beta_class3'), fig1b);
  sections.push({ title: 'Eigen-features across training (paper Fig. 1)', svgs: [fig1a, fig1b], text: `The top positive eigenvector of the quadratic coefficients Γ_${FIG1_CLASS} (oriented so its positive mass dominates) and column ${FIG1_CLASS} of β, for the N(0, I) approximants of the checkpoints. Shared diverging scale per row; purple positive, orange negative.` });

  // Final checkpoint: eigen-features for all classes, spectra.
  ({ net: finalNet } = loadNetwork(last.path));
  finalQuad = fitQuadratic(finalNet, iso);
  const finalLin = fitLinear(finalNet, iso);
  const classes = finalQuad.outputDim;
  const eigen: Analyses['eigen'] = [];
  const topPanels: { title: string; values: Float64Array; width: number; height: number }[] = [];
  const negPanels: { title: string; values: Float64Array; width: number; height: number }[] = [];
  const spectra: { name: string; values: Float64Array }[] = [];
  for (let c = 0; c < classes; c++) {
    const ef = eigenFeatures(finalQuad, { class: c }, { top: 3 });
    eigen.push({ class: c, positive: ef.positive.map((f) => f.value), negative: ef.negative.map((f) => f.value) });
    const p = ef.positive[0];
    const n = ef.negative[0];
    if (p) topPanels.push({ title: `class ${c}: λ = ${p.value.toFixed(3)}`, values: p.vector, width: 28, height: 28 });
    if (n) negPanels.push({ title: `class ${c}: λ = ${n.value.toFixed(3)}`, values: n.vector, width: 28, height: 28 });
    if (c < 4) spectra.push({ name: `class ${c}`, values: ef.spectrum });
  }
  const gridTop = heatmapGrid({ title: `Top positive eigenvector of Γ_c for every class (step ${last.step})`, panels: topPanels, columns: 5, colorbar: true, colorbarLabel: 'component', cells: 'png' });
  const gridNeg = heatmapGrid({ title: `Most negative eigenvector of Γ_c for every class (step ${last.step})`, panels: negPanels, columns: 5, colorbar: true, colorbarLabel: 'component', cells: 'png' });
  const spec = await spectrumChart({ title: `Eigenvalue spectra of Γ_c (step ${last.step})`, series: spectra, maxRank: 60 });
  writeFigure(join(figDir, 'eigenvectors_all_classes'), gridTop);
  writeFigure(join(figDir, 'eigenvectors_negative_all_classes'), gridNeg);
  writeFigure(join(figDir, 'eigen_spectra'), spec);
  sections.push({ title: 'Eigen-features of the final network', svgs: [gridTop, gridNeg, spec], text: 'Each class\'s quadratic coefficients Γ_c = ½E[∇²f_c] decomposed; the top eigenvectors are the input patterns that raise (positive λ) or lower (negative λ) the class logit quadratically.' });

  // SVD attack on the test set (paper Figs. 4–5).
  note?.('SVD attack on the test set');
  const test = loadDataset('mnist-test');
  const X = toMatrix(test);
  const attack = svdAttack({ net: finalNet, linear: finalLin, quadratic: finalQuad, beta: finalLin.beta, X, labels: test.labels });
  const accChart = await attackAccuracyChart(attack, classes);
  const svGrid = singularVectorGrid(attack.singular, [28, 28]);
  const three = Array.from(test.labels).indexOf(FIG1_CLASS);
  const ks = Array.from({ length: Math.min(10, attack.singular.rank) }, (_, i) => i + 1);
  const models = { net: finalNet, linear: finalLin, quadratic: finalQuad };
  const attackedThree = attackedImageGrid(attackedImages(X.row(three), attack.singular, ks, models), [28, 28], `A test '${FIG1_CLASS}' with the top k singular directions of β removed`, 5);
  const perDigit = [];
  for (let c = 0; c < classes; c++) {
    const idx = Array.from(test.labels).indexOf(c);
    const [img] = attackedImages(X.row(idx), attack.singular, [attack.singular.rank], models);
    perDigit.push({ title: `digit ${c} → ${img!.title.replace(/^k=\d+: /, '')}`, values: img!.values });
  }
  const digitsGrid = attackedImageGrid(perDigit, [28, 28], `One test example of each digit with all ${attack.singular.rank} directions removed`, 5);
  for (const [name, svg] of [['attack_accuracy', accChart], ['singular_vectors', svGrid], ['attacked_three', attackedThree], ['attacked_digits', digitsGrid]] as const) {
    writeFigure(join(figDir, name), svg);
  }
  sections.push({ title: 'SVD attack (paper Figs. 4–5)', svgs: [accChart, svGrid, attackedThree, digitsGrid], text: 'Test inputs with the top-k left singular vectors of β (the N(0, I) linear approximant) projected out. Accuracy of the network and of both approximants against k; the attack is built from the approximant alone and transfers to the network.', table: attackTable(attack.steps) });

  // Logit decomposition of the first test input.
  const idx = 0;
  const xi = X.row(idx);
  const netLogits = forward(finalNet, new Matrix(1, 784, Float64Array.from(xi))).data;
  const dec = decomposeLogits(finalQuad, xi, netLogits);
  const decChart = await logitDecompositionChart(dec, { title: `Logit decomposition of test image ${idx} (label ${test.labels[idx]})` });
  writeFigure(join(figDir, 'logit_decomposition'), decChart);
  sections.push({ title: 'Logit decomposition', svgs: [decChart], text: 'The quadratic approximant\'s logits split into constant α, linear xᵀβ and quadratic xᵀΓx parts, next to the network\'s logits.' });

  const analyses: Analyses = {
    key, final_step: last.step, fig1: { steps: chosen, eigenvalues: fig1Values }, eigen,
    attack: svdAttackToJson(attack), logits: logitDecompositionToJson(dec), logits_index: idx, logits_label: test.labels[idx]!,
  };
  writeFileAtomic(analysesPath, new TextEncoder().encode(`${JSON.stringify(analyses, null, 1)}\n`));
  return { analyses, sections };
}

function attackTable(steps: ReturnType<typeof svdAttack>['steps']): { header: string[]; rows: string[][] } {
  return {
    header: ['k removed', 'network acc', 'linear acc', 'quadratic acc', 'KL(net‖quad)', 'FVU quad'],
    rows: steps.map((s) => [String(s.k), s.accuracy.network.value.toFixed(3), s.accuracy.linear.value.toFixed(3), s.accuracy.quadratic.value.toFixed(3), s.kl.quadratic.value.toFixed(4), s.fvu.quadratic.value.toFixed(4)]),
  };
}

function studyValue(study: StudyResult, step: number, approximant: string, evalSet: string, metric: string): number | null {
  const r = study.rows.find((x) => x.step === step && x.approximant === approximant && x.eval_set === evalSet && x.metric === metric);
  return r === undefined ? null : r.value;
}

/** Study summary rows for the report: selected steps × key metrics. */
function studyTable(study: StudyResult): { header: string[]; rows: string[][] } {
  const get = (step: number, approximant: string, evalSet: string, metric: string): string => {
    const v = studyValue(study, step, approximant, evalSet, metric);
    return v === null ? '—' : v.toFixed(metric === 'accuracy' ? 3 : 4);
  };
  const steps = study.checkpoints.map((c) => c.step);
  return {
    header: ['step', 'acc net', 'acc lin N(0,I)', 'acc quad N(0,I)', 'FVU lin N(0,I) exact', 'FVU quad N(0,I) exact', 'FVU quad test', 'KL quad test'],
    rows: steps.map((s) => [String(s), get(s, 'network', 'test', 'accuracy'), get(s, 'linear_n01', 'test', 'accuracy'), get(s, 'quadratic_n01', 'test', 'accuracy'),
      get(s, 'linear_n01', 'n01', 'fvu_analytic'), get(s, 'quadratic_n01', 'n01', 'fvu_analytic'), get(s, 'quadratic_n01', 'test', 'fvu_standard'), get(s, 'quadratic_n01', 'test', 'kl')]),
  };
}

/**
 * How a checkpoint's quadratic mixture approximant was obtained, in a few words: `converged (41 applications,
 * residual 6.1e-9)` or `NOT converged: residual 3.2e-5 > 1e-8 after the 240 s budget (70 applications)` for a
 * conjugate-gradient solve, `dense normal equations` when it was fitted without one, or `not fitted` (the reason
 * is in study.json).
 */
export function mixtureSolverStatus(checkpoint: StudyResult['checkpoints'][number], fitted: boolean): string {
  const s = checkpoint.solver.quadratic_mixture;
  if (s !== undefined) {
    const res = s.relative_residual.toExponential(1);
    return s.converged
      ? `converged (${s.operator_applications} applications, residual ${res})`
      : `NOT converged: residual ${res} > ${s.tol} after ${s.stopped_by ?? 'the budget'} (${s.operator_applications} applications)`;
  }
  return fitted ? 'dense normal equations' : 'not fitted';
}

/**
 * The quadratic approximants side by side on samples of the class mixture (paper Figs. 2–3): FVU on mixture
 * samples of the N(0, I), data-Gaussian and mixture quadratics, the mixture one's exact FVU, and how its solve went.
 */
export function mixtureQuadraticTable(study: StudyResult): { header: string[]; rows: string[][] } {
  const fmt = (v: number | null): string => (v === null ? '—' : v.toFixed(4));
  return {
    header: ['step', 'FVU quad N(0,I)', 'FVU quad data Gaussian', 'FVU quad mixture', 'FVU quad mixture exact', 'acc quad mixture test', 'mixture quadratic solve'],
    rows: study.checkpoints.map((c) => {
      const mixFvu = studyValue(study, c.step, 'quadratic_mixture', 'mixture', 'fvu_standard');
      const acc = studyValue(study, c.step, 'quadratic_mixture', 'test', 'accuracy');
      return [String(c.step), fmt(studyValue(study, c.step, 'quadratic_n01', 'mixture', 'fvu_standard')),
        fmt(studyValue(study, c.step, 'quadratic_data', 'mixture', 'fvu_standard')), fmt(mixFvu),
        fmt(studyValue(study, c.step, 'quadratic_mixture', 'mixture', 'fvu_analytic')), acc === null ? '—' : acc.toFixed(3),
        mixtureSolverStatus(c, mixFvu !== null)];
    }),
  };
}

/**
 * Runs the whole reproduction into `opts.out`: checkpoints/, study/, figures/, analyses.json, results.json and
 * report.html.
 */
export async function reproduce(opts: ReproduceOptions): Promise<ReproduceResult> {
  if (!(opts.preset in PRESETS)) throw new InvalidArgumentError(`unknown preset "${opts.preset}" (quick or paper)`);
  const t0 = performance.now();
  const reused: string[] = [];
  const ckptDir = join(opts.out, 'checkpoints');
  const studyDir = join(opts.out, 'study');
  mkdirSync(opts.out, { recursive: true });
  await trainStage(opts, ckptDir, reused);
  opts.hooks?.note?.('training-dynamics study over the checkpoints');
  const files = listCheckpoints(ckptDir);
  let studyDone = 0;
  opts.hooks?.stageStart?.('study', files.length);
  const study = await runStudy({
    checkpoints: ckptDir, out: studyDir, samples: opts.samples ?? 10000, seed: opts.seed ?? 0, fresh: opts.fresh ?? false,
    ...(opts.mixtureQuadratic === undefined ? {} : { mixtureQuadratic: opts.mixtureQuadratic }),
    ...(opts.mixtureQuadraticSeconds === undefined ? {} : { mixtureQuadraticSeconds: opts.mixtureQuadraticSeconds }),
    hooks: {
      onCheckpoint: () => opts.hooks?.stageUpdate?.(++studyDone),
      onNote: (m) => opts.hooks?.note?.(m),
      onSolveProgress: (step, it, residual, seconds) => opts.hooks?.stageUpdate?.(studyDone,
        `step ${step}: quadratic mixture, iteration ${it}, residual ${residual.toExponential(2)}, ${seconds.toFixed(0)} s`),
      onSolveEnd: (step, r) => {
        if (!r.converged) opts.hooks?.note?.(`warning: step ${step}: the quadratic mixture solve did not converge: ${r.method}`);
      },
    },
  });
  opts.hooks?.stageEnd?.();
  if (study.cached === files.length) reused.push('study');
  const { analyses, sections } = await analysesStage(opts, ckptDir, opts.out);
  const trainingLog = JSON.parse(readFileSync(join(ckptDir, 'training.json'), 'utf8')) as Record<string, unknown>;
  // `files.figures` are paths without extension (each written as .svg and .png).
  const studyFigures = study.files.figures.map((f) => readFileSync(`${f}.svg`, 'utf8'));
  const allSections: ReportSection[] = [
    { title: 'Training dynamics', svgs: studyFigures, text: 'Linear and quadratic approximants of every checkpoint under N(0, I), the data Gaussian and the class-conditional Gaussian mixture, evaluated on the test set and on samples of each input model. FVU "exact" is computed in closed form under the approximant\'s own input model.', table: studyTable(study) },
    { title: 'Quadratic approximants on samples of the class mixture (paper Figs. 2–3)', svgs: [], text: `FVU (standard) on ${study.settings.samples} samples of the class-conditional Gaussian mixture for the quadratic approximants under N(0, I), the data Gaussian and the mixture itself. At d = 784 the mixture quadratic is solved by block conjugate gradients (${study.settings.mixtureQuadratic === 'all' ? 'at every checkpoint' : study.settings.mixtureQuadratic === 'last' ? 'at the last checkpoint only' : 'switched off'}; budget ${study.settings.mixtureQuadraticSeconds} s, tolerance ${study.settings.mixtureQuadraticTol}); an unconverged solve is the iterate reached, at the residual shown.`, table: mixtureQuadraticTable(study) },
    ...sections,
  ];
  const settings = {
    preset: opts.preset, preset_description: PRESETS[opts.preset].description, seed: opts.seed ?? 0,
    study_samples: opts.samples ?? 10000, study: study.settings,
  };
  const results = {
    settings, training: trainingLog,
    study: { rows: study.rows, checkpoints: study.checkpoints.map((c) => ({ step: c.step, unavailable: c.unavailable, solver: c.solver })) },
    analyses,
  };
  const resultsPath = join(opts.out, 'results.json');
  writeFileAtomic(resultsPath, new TextEncoder().encode(`${JSON.stringify(results)}\n`));
  const reportPath = join(opts.out, 'report.html');
  writeFileAtomic(reportPath, new TextEncoder().encode(buildReport({
    title: `polyapprox reproduction — ${opts.preset} preset`, settings, sections: allSections,
  })));
  return { out: opts.out, report: reportPath, results: resultsPath, seconds: (performance.now() - t0) / 1000, reused };
}
