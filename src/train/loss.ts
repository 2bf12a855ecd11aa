/**
 * Softmax cross-entropy on logits, the loss of `torch.nn.CrossEntropyLoss()` (mean over the batch).
 */
import { InvalidArgumentError, ShapeError } from '../errors.js';

/** Float32Array or Float64Array: the training code runs in either precision. */
export type FloatArray = Float32Array | Float64Array;

/** Mean loss and number of correct predictions over a batch. */
export interface LossResult {
  /** Mean over the batch of −log softmax(z)_y, accumulated in float64. */
  loss: number;
  /** Samples whose largest logit (first one on ties, like `torch.argmax`) is the label. */
  correct: number;
}

/**
 * Mean softmax cross-entropy of a batch of logits, and optionally its gradient.
 *
 * Each row is evaluated through the log-sum-exp with the row maximum subtracted, so no exponential
 * overflows: loss_i = m_i + log Σ_j exp(z_ij − m_i) − z_{i,y_i} with m_i = max_j z_ij.
 *
 * @param logits [batch, classes] row-major (only the first batch·classes entries are read)
 * @param labels class of each row, integers in [0, classes)
 * @param dlogits if given, receives ∂loss/∂z = (softmax(z) − onehot(y)) / batch, [batch, classes]
 * @throws ShapeError if an array is too short; InvalidArgumentError for a label outside [0, classes) or a
 *   non-positive batch or class count
 */
export function softmaxCrossEntropy(
  logits: FloatArray, labels: ArrayLike<number>, batch: number, classes: number, dlogits?: FloatArray,
): LossResult {
  if (!Number.isInteger(batch) || batch < 1) throw new InvalidArgumentError(`softmaxCrossEntropy: batch must be a positive integer, got ${batch}`);
  if (!Number.isInteger(classes) || classes < 1) throw new InvalidArgumentError(`softmaxCrossEntropy: classes must be a positive integer, got ${classes}`);
  const need = batch * classes;
  if (logits.length < need) throw new ShapeError(`softmaxCrossEntropy: logits has ${logits.length} entries, batch·classes = ${need} needed`);
  if (labels.length < batch) throw new ShapeError(`softmaxCrossEntropy: ${labels.length} labels for a batch of ${batch}`);
  if (dlogits !== undefined && dlogits.length < need) {
    throw new ShapeError(`softmaxCrossEntropy: dlogits has ${dlogits.length} entries, batch·classes = ${need} needed`);
  }
  let total = 0;
  let correct = 0;
  const scale = 1 / batch;
  for (let i = 0; i < batch; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= classes) {
      throw new InvalidArgumentError(`softmaxCrossEntropy: label ${i} is ${y}, outside [0, ${classes})`);
    }
    const off = i * classes;
    let max = -Infinity;
    let argmax = 0;
    for (let j = 0; j < classes; j++) {
      const z = logits[off + j]!;
      if (z > max) {
        max = z;
        argmax = j;
      }
    }
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += Math.exp(logits[off + j]! - max);
    const lse = max + Math.log(sum);
    total += lse - logits[off + y]!;
    if (argmax === y) correct++;
    if (dlogits !== undefined) {
      for (let j = 0; j < classes; j++) dlogits[off + j] = Math.exp(logits[off + j]! - lse) * scale;
      dlogits[off + y]! -= scale;
    }
  }
  return { loss: total / batch, correct };
}
