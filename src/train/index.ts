/**
 * Training MLP classifiers: the network, loss, optimizers, schedules, the trainer with checkpoints, presets.
 */
export { softmaxCrossEntropy } from './loss.js';
export type { FloatArray, LossResult } from './loss.js';
export {
  mlpBackward,
  cloneMlp,
  evaluateMlp,
  mlpForward,
  initMlp,
  inputWidth,
  lossAndGradients,
  mlpSizes,
  MlpWorkspace,
  outputWidth,
  parameterCount,
  precisionOf,
  TRAIN_ACTIVATIONS,
} from './mlp.js';
export type { LinearLayer, Mlp, MlpGradients, Precision, TrainActivation } from './mlp.js';
export { AdamW, Sgd } from './optim.js';
export type { AdamWOptions, Optimizer, Parameter, SgdOptions } from './optim.js';
export { cosineAnnealingLr, learningRateAt, SCHEDULES } from './schedule.js';
export type { ScheduleName } from './schedule.js';
export { layerTensorNames, mlpMetadata, mlpTensors, readMlpCheckpoint, writeMlpCheckpoint } from './checkpoint.js';
export { planRun, resolveCheckpointSteps, train } from './trainer.js';
export type { CheckpointRecord, CheckpointSpec, EpochRecord, StepProgress, TrainConfig, TrainHooks, TrainResult } from './trainer.js';
export { getPreset, PRESETS } from './presets.js';
export type { PresetName, TrainPreset } from './presets.js';
