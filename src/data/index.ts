/**
 * Datasets (MNIST, Fashion-MNIST, user data), the IDX format, and input models estimated from data.
 */
export { encodeIdx, isGzip, parseIdx } from './idx.js';
export type { IdxArray, IdxData, IdxDType } from './idx.js';
export {
  BUILTIN_DATASETS,
  clearDatasetCache,
  DEBIAN_FASHION_MNIST_DIR,
  describeScaling,
  fashionMnistDir,
  isBuiltinDataset,
  loadDataset,
  loadIdxDataset,
  loadUserDataset,
  mnistDataDir,
  pixelStatistics,
  readIdxFile,
  splitHoldout,
  standardizeDataset,
  subsetDataset,
} from './datasets.js';
export type { BuiltinDatasetName, Dataset, LoadDatasetOptions, PixelScaling } from './datasets.js';
export {
  classConditionalMixture,
  dataGaussian,
  DEFAULT_COVARIANCE_EPS,
  inputModelTensors,
  sampleMoments,
  writeInputModelFile,
} from './inputModels.js';
export type { SampleMoments } from './inputModels.js';
