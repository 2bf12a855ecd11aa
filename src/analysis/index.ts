/**
 * Analysis: metrics comparing a network with its approximants, the training-dynamics study, the interpretability
 * tools (eigen-features, SVD attack, eigenvector steering, logit decomposition) and the one-command reproduction.
 */
export {
  accuracy, accuracyEstimate, agreementEstimate, argmaxRows, fvu, klDivergence, klEstimate, klPerSample, logSoftmaxRows,
  meanEstimate, ratioOfMeans, type Estimate, type FvuVariant,
} from './metrics.js';
export {
  runStudy, studyCheckpoint, buildStudyContext, listCheckpoints, parseInputScaling, studyRowsToCsv, writeStudyFigures,
  sampleGaussianFast, sampleMixtureFast, STUDY_APPROXIMANTS, STUDY_EVAL_SETS, STUDY_CSV_COLUMNS, STUDY_DEFINITIONS,
  STUDY_FORMAT_VERSION, MIXTURE_QUADRATIC_MODES, solveStudyQuadraticMixture,
  type StudyOptions, type StudyResult, type StudyRow, type StudySettings, type StudyHooks, type CheckpointStudy,
  type CheckpointFile, type StudyContext, type StudyApproximantId, type StudyEvalSet, type StudyInputModel, type StudyMetric,
  type MixtureQuadraticMode, type StudySolverRecord, type QuadraticMixtureSource,
} from './study.js';
export * from './eigen.js';
export * from './svdAttack.js';
export * from './steering.js';
export * from './logits.js';
export { reproduce, type ReproduceOptions, type ReproduceResult } from './reproduce.js';
