/**
 * The files `polyapprox view` precomputes into its cache folder and the page loads: one small JSON index
 * (`index.json`, everything needed for the first paint's text and charts), and per checkpoint one JSON detail
 * file (eigenvalue spectra, logit decompositions of the test digits) and one little-endian float32 blob
 * (eigenvectors, β columns, singular directions). The test digits themselves live in one shared float32 blob.
 *
 * This module holds types and constants only, so the browser module can import it (`import type`) without
 * pulling in any Node code.
 */

/** The `format` field of `index.json`. */
export const VIEWER_FORMAT = 'polyapprox.viewer';

/** Bumped whenever a file's meaning changes; part of every cache key. */
export const VIEWER_FORMAT_VERSION = 1;

/** A run of float32 values inside a blob: `length` values starting at element (not byte) `offset`. */
export interface BlobSection {
  offset: number;
  length: number;
}

/** The top eigenvalues of Γ_c for one class (the eigenvectors are in the checkpoint's blob). */
export interface ClassEigen {
  /** Up to `top` eigenvalues > 0, largest first. */
  positive: number[];
  /** Up to `top` eigenvalues < 0, most negative first. */
  negative: number[];
  /** Number of nonzero eigenvalues (the length of the spectrum in the detail file). */
  nonzero: number;
  /** Number of zero eigenvalues (d − nonzero). */
  zeros: number;
}

/** Accuracies (and agreement metrics) of one attack strength k. */
export interface AttackStepSummary {
  k: number;
  accuracy: { network: number; linear: number; quadratic: number };
  /** Mean KL(softmax network ‖ softmax approximant), nats. */
  kl: { linear: number; quadratic: number };
  /** Standard FVU of the approximant's logits relative to the network's. */
  fvu: { linear: number; quadratic: number };
}

/**
 * Where the float32 values of one checkpoint's blob sit:
 * - `eigenvectors`: [class][sign: 0 = positive, 1 = negative][slot 0 … top−1][d]; slots beyond the number of
 *   eigenvalues listed in {@link ClassEigen} are zeros;
 * - `beta`: [class][d], column c of β (the linear coefficients of the quadratic approximant);
 * - `singular`: [k][d] for k < kMax, the unit input directions u_k removed by the attack (rows of Uᵀ, β = U S Vᵀ).
 */
export interface BlobLayout {
  eigenvectors: BlobSection | null;
  beta: BlobSection;
  singular: BlobSection | null;
}

/** What the index says about one checkpoint (or the single approximant). */
export interface CheckpointSummary {
  /** Position in `checkpoints`, 0-based. */
  id: number;
  /** Training step, or null for a single file without one. */
  step: number | null;
  /** Shown in the checkpoint menu, e.g. `step 9370`. */
  label: string;
  /** The source file (as given on the command line, resolved). */
  file: string;
  /** File names inside the cache folder. */
  detail: string;
  blob: string;
  layout: BlobLayout;
  /** Degree of the approximant shown (2 normally; 1 for a linear approximant file, which has no Γ). */
  degree: 1 | 2;
  /** One entry per class; null for a degree-1 approximant. */
  eigen: ClassEigen[] | null;
  /** Largest |entry| over all eigenvectors stored (for a scale shared across classes), or null. */
  eigenvectorScale: number | null;
  /** Largest |β_ic| over all classes and pixels. */
  betaScale: number;
  /** Singular values of β, descending (all of them). */
  singularValues: number[];
  /** One entry per k = 0 … kMax; null without a network and test data. */
  attack: AttackStepSummary[] | null;
}

/** One line of a training curve. */
export interface CurveSeries {
  /** `network`, or the study's approximant id (`linear_n01`, `quadratic_n01`). */
  id: string;
  name: string;
  /** [step, value] pairs, ascending step. */
  points: [number, number][];
  dashed: boolean;
}

/** One small chart of a metric over training steps. */
export interface CurveChart {
  id: 'accuracy' | 'kl' | 'fvu';
  title: string;
  yLabel: string;
  /** Logarithmic y axis (KL and FVU span decades). */
  logY: boolean;
  series: CurveSeries[];
}

/** The training curves and where they come from. */
export interface Curves {
  /** `study`: the rows of study.json; `viewer`: the viewer's own evaluation on its test subset (attack k = 0). */
  source: 'study' | 'viewer';
  /** One sentence saying what the curves were evaluated on. */
  description: string;
  charts: CurveChart[];
}

/** The test digits shown by the attack panel (shared by every checkpoint). */
export interface DigitsInfo {
  /** File name of the float32 blob [count][d] inside the cache folder (inputs as the network sees them). */
  file: string;
  count: number;
  /** True class of each digit. */
  labels: number[];
  /** Row of each digit in the test data. */
  indices: number[];
}

/** How the attack was run (the same for every checkpoint). */
export interface AttackInfo {
  kMax: number;
  /** Number of test inputs scored for every k. */
  samples: number;
  /** The test data's name (built-in name or file name). */
  data: string;
  /** What was scored, e.g. `the first 2000 of the 10000 images of mnist-test`. */
  description: string;
  /** Which linear and quadratic approximants were scored. */
  linear: string;
  quadratic: string;
}

/** `index.json`. */
export interface ViewerIndex {
  format: typeof VIEWER_FORMAT;
  version: number;
  /** Hash of everything the cache depends on. */
  key: string;
  /** Heading of the page. */
  title: string;
  source: { kind: 'checkpoints' | 'model' | 'approximant'; path: string; study: string | null };
  createdAt: string;
  /** Seconds the precomputation took (0 when everything came from the cache). */
  seconds: number;
  inputDim: number;
  outputDim: number;
  /** [height, width] when inputs are images, else null (then no heatmaps are drawn). */
  imageShape: [number, number] | null;
  classNames: string[];
  /** The diverging colour map (anchors from −s through 0 to +s, linear interpolation in sRGB). */
  colormap: { name: string; anchors: string[] };
  /** How many positive and negative eigenvectors are stored per class. */
  top: number;
  checkpoints: CheckpointSummary[];
  curves: Curves | null;
  attack: AttackInfo | null;
  digits: DigitsInfo | null;
  /** Things the reader should know (what is missing and why). */
  notes: string[];
}

/** Per-digit results for one attack strength. */
export interface DigitResult {
  /** Argmax of the network, the linear and the quadratic approximant on the attacked digit. */
  predictions: { network: number; linear: number; quadratic: number };
  /** The quadratic approximant's logits split: linear part xᵀβ_c and quadratic part xᵀΓ_c x (constant: `alpha`). */
  linear: number[];
  quadratic: number[];
  /** α + linear + quadratic. */
  approximant: number[];
  /** The network's logits. */
  network: number[];
}

/** `ckpt-*.json`: what is fetched when a checkpoint is shown. */
export interface CheckpointDetail {
  id: number;
  step: number | null;
  /** The constant part α_c of the quadratic approximant. */
  alpha: number[];
  /** Per class, the nonzero eigenvalues of Γ_c, descending (float32 precision); empty for degree 1. */
  spectrum: number[][];
  /** digits[k][j]: digit j with the top-k singular directions removed; null without network and data. */
  digits: DigitResult[][] | null;
}
