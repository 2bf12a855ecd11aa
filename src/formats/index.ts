/**
 * Model and tensor file formats: safetensors, NumPy .npy/.npz, PyTorch zip checkpoints (read without
 * executing pickled code), layout detection for common network naming schemes, and atomic writes.
 */
export {
  bfloat16BitsToNumber,
  checkedNumel,
  decodeElements,
  DTYPE_ITEMSIZE,
  encodeElements,
  float16BitsToNumber,
  formatShape,
  isDType,
  isFloatDType,
  lazyTensor,
  matrixToTensor,
  numberToBFloat16Bits,
  numberToFloat16Bits,
  numel,
  tensorToMatrix,
  tensorToVector,
  vectorToTensor,
} from './tensor.js';
export type { DType, Tensor, WritableTensor } from './tensor.js';
export { writeAllSync, writeFileAtomic } from './atomic.js';
export {
  MAX_HEADER_BYTES,
  readFileBytes,
  readSafetensors,
  readSafetensorsFile,
  writeSafetensors,
  writeSafetensorsFile,
} from './safetensors.js';
export type { SafetensorsContents, TensorCollection } from './safetensors.js';
export { isNpy, readNpy, writeNpy } from './npy.js';
export { readNpz, writeNpz } from './npz.js';
export { readTorchStateDict } from './pytorch.js';
export { crc32, isZip, openZip, writeZip } from './zip.js';
export type { ZipArchive, ZipEntry } from './zip.js';
export { detectNetwork, readInputModelFile, readModelFile, readTensorFile } from './layouts.js';
export type {
  DetectedNetwork,
  DetectOptions,
  GluWeights,
  InputModelFile,
  MlpWeights,
  ModelFile,
  NetworkWeights,
  TensorFile,
  TensorFileFormat,
} from './layouts.js';
