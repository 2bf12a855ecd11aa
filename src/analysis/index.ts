/**
 * Analysis: metrics comparing a network with its approximants, and the training-dynamics study.
 */
export {
  accuracy, accuracyEstimate, agreementEstimate, argmaxRows, fvu, klDivergence, klEstimate, klPerSample, logSoftmaxRows,
  meanEstimate, ratioOfMeans, type Estimate, type FvuVariant,
} from './metrics.js';
export {
  runStudy, studyCheckpoint, buildStudyContext, listCheckpoints, parseInputScaling, studyRowsToCsv, writeStudyFigures,
  sampleGaussianFast, sampleMixtureFast, STUDY_APPROXIMANTS, STUDY_EVAL_SETS, STUDY_CSV_COLUMNS, STUDY_DEFINITIONS,
  STUDY_FORMAT_VERSION,
  type StudyOptions, type StudyResult, type StudyRow, type StudySettings, type StudyHooks, type CheckpointStudy,
  type CheckpointFile, type StudyContext, type StudyApproximantId, type StudyEvalSet, type StudyInputModel, type StudyMetric,
} from './study.js';
