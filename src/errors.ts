/**
 * Typed errors. Every user-facing failure of the library is one of these, so that the CLI can print
 * one clear line (`error.message`) and exit non-zero instead of a stack trace.
 */

/** Base class of every error this library raises on purpose. */
export class PolyapproxError extends Error {
  /** A stable machine-readable code, e.g. `"shape"`. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Arrays whose shapes do not fit together, or a length that does not match the stated shape. */
export class ShapeError extends PolyapproxError {
  constructor(message: string) {
    super('shape', message);
  }
}

/** NaN or ±Infinity where a finite number is required. */
export class NonFiniteError extends PolyapproxError {
  constructor(message: string) {
    super('non-finite', message);
  }
}

/** A matrix that must be (semi)definite is not, e.g. Cholesky of an indefinite matrix. */
export class NotPositiveDefiniteError extends PolyapproxError {
  constructor(message: string) {
    super('not-positive-definite', message);
  }
}

/** A singular system where a unique solution is required. */
export class SingularMatrixError extends PolyapproxError {
  constructor(message: string) {
    super('singular', message);
  }
}

/** An argument outside its domain (negative variance, unknown activation, weights not summing to 1, ...). */
export class InvalidArgumentError extends PolyapproxError {
  constructor(message: string) {
    super('invalid-argument', message);
  }
}

/** A file that cannot be read: truncated, corrupt, wrong format, missing tensors. */
export class FormatError extends PolyapproxError {
  constructor(message: string) {
    super('format', message);
  }
}

/** A numerical routine that did not reach its requested accuracy or failed to converge. */
export class ConvergenceError extends PolyapproxError {
  constructor(message: string) {
    super('convergence', message);
  }
}

/** A linear-algebra backend that cannot be loaded or failed internally. */
export class BackendError extends PolyapproxError {
  constructor(message: string) {
    super('backend', message);
  }
}
