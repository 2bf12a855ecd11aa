/*
 * Argument validation: everything that decides which memory a BLAS/LAPACK call may touch is checked
 * here, on the JS thread, before any pointer is dereferenced. A bad argument becomes a JS TypeError
 * (wrong kind of value) or RangeError (a value or length out of range), never a crash.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "polyapprox_blas.h"

#define OUT 1
#define IN 0

static const pa_op_spec SPECS[PA_OP_COUNT] = {
  [PA_DGEMM] = {"dgemm", PA_DGEMM, 10,
                {{"transA", PA_ARG_BOOL, IN}, {"transB", PA_ARG_BOOL, IN},
                 {"m", PA_ARG_DIM, IN}, {"n", PA_ARG_DIM, IN}, {"k", PA_ARG_DIM, IN},
                 {"alpha", PA_ARG_SCALAR, IN}, {"a", PA_ARG_F64, IN}, {"b", PA_ARG_F64, IN},
                 {"beta", PA_ARG_SCALAR, IN}, {"c", PA_ARG_F64, OUT}}},
  [PA_SGEMM] = {"sgemm", PA_SGEMM, 10,
                {{"transA", PA_ARG_BOOL, IN}, {"transB", PA_ARG_BOOL, IN},
                 {"m", PA_ARG_DIM, IN}, {"n", PA_ARG_DIM, IN}, {"k", PA_ARG_DIM, IN},
                 {"alpha", PA_ARG_SCALAR, IN}, {"a", PA_ARG_F32, IN}, {"b", PA_ARG_F32, IN},
                 {"beta", PA_ARG_SCALAR, IN}, {"c", PA_ARG_F32, OUT}}},
  [PA_DSYEVD] = {"dsyevd", PA_DSYEVD, 3,
                 {{"n", PA_ARG_DIM, IN}, {"a", PA_ARG_F64, OUT}, {"w", PA_ARG_F64, OUT}}},
  [PA_DGESDD] = {"dgesdd", PA_DGESDD, 6,
                 {{"m", PA_ARG_DIM, IN}, {"n", PA_ARG_DIM, IN}, {"a", PA_ARG_F64, OUT},
                  {"s", PA_ARG_F64, OUT}, {"u", PA_ARG_F64, OUT}, {"vt", PA_ARG_F64, OUT}}},
  [PA_DPOTRF] = {"dpotrf", PA_DPOTRF, 2, {{"n", PA_ARG_DIM, IN}, {"a", PA_ARG_F64, OUT}}},
  [PA_DPOTRI] = {"dpotri", PA_DPOTRI, 2, {{"n", PA_ARG_DIM, IN}, {"a", PA_ARG_F64, OUT}}},
  [PA_DSYMMETRIZE] = {"dsymmetrize", PA_DSYMMETRIZE, 3, {{"n", PA_ARG_DIM, IN}, {"count", PA_ARG_DIM, IN}, {"a", PA_ARG_F64, OUT}}},
  [PA_DSCALESHIFTROWS] = {"dscaleShiftRows", PA_DSCALESHIFTROWS, 9,
                         {{"rows", PA_ARG_DIM, IN}, {"n", PA_ARG_DIM, IN}, {"period", PA_ARG_DIM, IN},
                          {"shift", PA_ARG_BOOL, IN}, {"scaled", PA_ARG_BOOL, IN}, {"alpha", PA_ARG_F64, IN},
                          {"b", PA_ARG_F64, IN}, {"scale", PA_ARG_F64, IN}, {"x", PA_ARG_F64, OUT}}},
  [PA_DPOTRS] = {"dpotrs", PA_DPOTRS, 4,
                 {{"n", PA_ARG_DIM, IN}, {"nrhs", PA_ARG_DIM, IN}, {"l", PA_ARG_F64, IN},
                  {"b", PA_ARG_F64, OUT}}},
  [PA_DGESV] = {"dgesv", PA_DGESV, 4,
                {{"n", PA_ARG_DIM, IN}, {"nrhs", PA_ARG_DIM, IN}, {"a", PA_ARG_F64, OUT},
                 {"b", PA_ARG_F64, OUT}}},
  [PA_DCOPYRUNS] = {"dcopyRuns", PA_DCOPYRUNS, 8,
                    {{"rows", PA_ARG_DIM, IN}, {"runs", PA_ARG_DIM, IN}, {"accumulate", PA_ARG_BOOL, IN},
                     {"rowOffsets", PA_ARG_I32, IN}, {"runTable", PA_ARG_I32, IN}, {"rowScale", PA_ARG_F64, IN},
                     {"src", PA_ARG_F64, IN}, {"dst", PA_ARG_F64, OUT}}},
  [PA_DTRMM] = {"dtrmm", PA_DTRMM, 10,
                {{"left", PA_ARG_BOOL, IN}, {"upper", PA_ARG_BOOL, IN}, {"transA", PA_ARG_BOOL, IN},
                 {"m", PA_ARG_DIM, IN}, {"n", PA_ARG_DIM, IN}, {"alpha", PA_ARG_SCALAR, IN},
                 {"a", PA_ARG_F64, IN}, {"lda", PA_ARG_DIM, IN}, {"b", PA_ARG_F64, OUT}, {"ldb", PA_ARG_DIM, IN}}},
};

const pa_op_spec *pa_spec(pa_op op) { return &SPECS[op]; }

typedef enum { PA_TYPE_ERROR, PA_RANGE_ERROR } pa_error_kind;

/* Throws a JS TypeError or RangeError with a printf-formatted message; always returns 0. */
static int fail(napi_env env, pa_error_kind kind, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (kind == PA_TYPE_ERROR) napi_throw_type_error(env, NULL, msg);
  else napi_throw_range_error(env, NULL, msg);
  return 0;
}

static const char *typedarray_type_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "an unknown typed array";
  }
}

static const char *value_type_name(napi_valuetype t) {
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: return "a number";
    case napi_string: return "a string";
    case napi_symbol: return "a symbol";
    case napi_object: return "an object";
    case napi_function: return "a function";
    case napi_external: return "an external";
    case napi_bigint: return "a bigint";
    default: return "an unknown value";
  }
}

/* Reads a JS number into *out. */
static int get_number(napi_env env, napi_value v, const char *fn, const char *arg, double *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return fail(env, PA_TYPE_ERROR, "%s: cannot inspect argument '%s'", fn, arg);
  if (t != napi_number) return fail(env, PA_TYPE_ERROR, "%s: argument '%s' must be a number, got %s", fn, arg, value_type_name(t));
  if (napi_get_value_double(env, v, out) != napi_ok) return fail(env, PA_TYPE_ERROR, "%s: cannot read argument '%s'", fn, arg);
  return 1;
}

/* Number of elements each array must have at least, from the (already validated) dimensions. */
static void required_lengths(const pa_job *job, uint64_t need[PA_MAX_ARRAYS]) {
  const uint64_t d0 = (uint64_t)job->dims[0], d1 = (uint64_t)job->dims[1], d2 = (uint64_t)job->dims[2];
  switch (job->op) {
    case PA_DGEMM:
    case PA_SGEMM: /* m = d0, n = d1, k = d2 */
      need[0] = d0 * d2;
      need[1] = d2 * d1;
      need[2] = d0 * d1;
      break;
    case PA_DSYEVD:
      need[0] = d0 * d0;
      need[1] = d0;
      break;
    case PA_DGESDD: {
      const uint64_t p = d0 < d1 ? d0 : d1;
      need[0] = d0 * d1;
      need[1] = p;
      need[2] = d0 * p;
      need[3] = p * d1;
      break;
    }
    case PA_DPOTRF:
    case PA_DPOTRI:
      need[0] = d0 * d0;
      break;
    case PA_DPOTRS:
    case PA_DGESV:
      need[0] = d0 * d0;
      need[1] = d0 * d1;
      break;
    case PA_DSYMMETRIZE: /* count blocks of n×n */
      need[0] = d0 * d0 * d1;
      break;
    case PA_DSCALESHIFTROWS: { /* rows = d0, n = d1, period = d2 (>= 1, checked in pa_parse_job); rows of block r / period */
      const uint64_t blocks = d2 == 0 ? 0 : (d0 + d2 - 1) / d2;
      need[0] = job->flags[0] ? d2 : 0;
      need[1] = job->flags[0] ? blocks * d1 : 0;
      need[2] = job->flags[1] ? blocks * d1 : 0;
      need[3] = d0 * d1;
      break;
    }
    case PA_DTRMM: { /* m = d0, n = d1, lda = d2, ldb = dims[3]; A is k×k (k = m from the left, n from the right) */
      const uint64_t k = job->flags[0] ? d0 : d1, ldb = (uint64_t)job->dims[3];
      need[0] = k == 0 ? 0 : (k - 1) * d2 + k;
      need[1] = d0 == 0 || d1 == 0 ? 0 : (d0 - 1) * ldb + d1;
      break;
    }
    case PA_DCOPYRUNS: /* rows = d0, runs = d1; the extents of src and dst come from copy_runs_extents */
      need[0] = 2 * d0;
      need[1] = 3 * d1;
      need[2] = d0;
      break;
    default:
      break;
  }
}

/*
 * dcopyRuns: every offset and run length must be >= 0, and the furthest element touched in src and dst
 * (max row offset + max over runs of column offset + length) gives their required lengths need[3], need[4]
 * (0 when nothing is copied). The tables' own lengths are already checked.
 */
static int copy_runs_extents(napi_env env, pa_job *job, const char *fn, uint64_t need[]) {
  const size_t rows = (size_t)job->dims[0], runs = (size_t)job->dims[1];
  const int32_t *row_off = job->data[0], *run = job->data[1];
  const double *scale = job->data[2];
  int64_t max_row[2] = {0, 0}, max_end[2] = {0, 0};
  need[3] = need[4] = 0;
  for (size_t t = 0; t < rows; t++) {
    for (int s = 0; s < 2; s++) {
      const int32_t o = row_off[2 * t + s];
      if (o < 0) return fail(env, PA_RANGE_ERROR, "%s: rowOffsets[%zu] = %d is negative", fn, 2 * t + s, o);
      if (o > max_row[s]) max_row[s] = o;
    }
    if (!isfinite(scale[t])) return fail(env, PA_RANGE_ERROR, "%s: rowScale[%zu] must be finite, got %g", fn, t, scale[t]);
  }
  int any = 0;
  for (size_t r = 0; r < runs; r++) {
    const int32_t sc = run[3 * r], dc = run[3 * r + 1], len = run[3 * r + 2];
    if (sc < 0 || dc < 0 || len < 0) {
      return fail(env, PA_RANGE_ERROR, "%s: run %zu has a negative offset or length (%d, %d, %d)", fn, r, sc, dc, len);
    }
    if (len == 0) continue;
    any = 1;
    if ((int64_t)sc + len > max_end[0]) max_end[0] = (int64_t)sc + len;
    if ((int64_t)dc + len > max_end[1]) max_end[1] = (int64_t)dc + len;
  }
  if (rows > 0 && any) {
    need[3] = (uint64_t)(max_row[0] + max_end[0]);
    need[4] = (uint64_t)(max_row[1] + max_end[1]);
  }
  return 1;
}

/* Limits that keep LAPACK's and LAPACKE's 32-bit index and workspace arithmetic from overflowing. */
static int check_lapack_limits(napi_env env, const pa_job *job, const char *fn, const uint64_t need[]) {
  if (job->op == PA_DGEMM || job->op == PA_SGEMM || job->op == PA_DCOPYRUNS || job->op == PA_DTRMM || job->op == PA_DSYMMETRIZE ||
      job->op == PA_DSCALESHIFTROWS) {
    return 1;
  }
  /* LAPACKE's row-major path allocates and indexes transposed copies with lapack_int products. */
  for (size_t i = 0; i < job->n_arrays; i++) {
    if (need[i] > (uint64_t)INT_MAX) {
      return fail(env, PA_RANGE_ERROR,
                  "%s: the dimensions need %llu elements in one array, more than LAPACK's 32-bit limit of %d",
                  fn, (unsigned long long)need[i], INT_MAX);
    }
  }
  if (job->op == PA_DSYEVD) {
    const uint64_t n = (uint64_t)job->dims[0];
    const uint64_t lwork = 1 + 6 * n + 2 * n * n; /* dsyevd's minimum with jobz = 'V' */
    if (lwork > (uint64_t)INT_MAX) {
      return fail(env, PA_RANGE_ERROR, "%s: n = %llu needs a LAPACK workspace of %llu doubles, more than %d",
                  fn, (unsigned long long)n, (unsigned long long)lwork, INT_MAX);
    }
  }
  if (job->op == PA_DGESDD) {
    const uint64_t m = (uint64_t)job->dims[0], n = (uint64_t)job->dims[1];
    const uint64_t p = m < n ? m : n, mx = m < n ? n : m;
    const uint64_t inner = 4 * p * p + 4 * p;
    const uint64_t lwork = 3 * p * p + (mx > inner ? mx : inner); /* dgesdd's minimum with jobz = 'S' */
    if (lwork > (uint64_t)INT_MAX) {
      return fail(env, PA_RANGE_ERROR, "%s: %llu×%llu needs a LAPACK workspace of %llu doubles, more than %d",
                  fn, (unsigned long long)m, (unsigned long long)n, (unsigned long long)lwork, INT_MAX);
    }
  }
  return 1;
}

int pa_parse_job(napi_env env, napi_callback_info info, const pa_op_spec *spec, const char *fn, pa_job *job) {
  napi_value argv[PA_MAX_ARGS + 1];
  size_t argc = PA_MAX_ARGS + 1;
  const char *array_names[PA_MAX_ARRAYS];
  size_t array_lengths[PA_MAX_ARRAYS];
  size_t array_elsize[PA_MAX_ARRAYS];
  int array_is_output[PA_MAX_ARRAYS];
  size_t n_flags = 0, n_dims = 0, n_scalars = 0;

  memset(job, 0, sizeof *job);
  job->op = spec->op;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    return fail(env, PA_TYPE_ERROR, "%s: cannot read the arguments", fn);
  }
  if (argc != spec->argc) {
    return fail(env, PA_TYPE_ERROR, "%s: expected %zu arguments, got %zu", fn, spec->argc, argc);
  }

  for (size_t i = 0; i < spec->argc; i++) {
    const pa_arg_spec *a = &spec->args[i];
    napi_value v = argv[i];
    switch (a->kind) {
      case PA_ARG_BOOL: {
        napi_valuetype t;
        bool b;
        if (napi_typeof(env, v, &t) != napi_ok || t != napi_boolean || napi_get_value_bool(env, v, &b) != napi_ok) {
          return fail(env, PA_TYPE_ERROR, "%s: argument '%s' must be a boolean", fn, a->name);
        }
        job->flags[n_flags++] = b ? 1 : 0;
        break;
      }
      case PA_ARG_DIM: {
        double d;
        if (!get_number(env, v, fn, a->name, &d)) return 0;
        if (!isfinite(d) || floor(d) != d) {
          return fail(env, PA_RANGE_ERROR, "%s: dimension '%s' must be an integer, got %g", fn, a->name, d);
        }
        if (d < 0) return fail(env, PA_RANGE_ERROR, "%s: dimension '%s' must be >= 0, got %.0f", fn, a->name, d);
        if (d > (double)INT_MAX) {
          return fail(env, PA_RANGE_ERROR, "%s: dimension '%s' = %.0f exceeds the 32-bit BLAS limit %d", fn, a->name,
                      d, INT_MAX);
        }
        job->dims[n_dims++] = (int)d;
        break;
      }
      case PA_ARG_SCALAR: {
        double d;
        if (!get_number(env, v, fn, a->name, &d)) return 0;
        if (!isfinite(d)) return fail(env, PA_RANGE_ERROR, "%s: scalar '%s' must be finite, got %g", fn, a->name, d);
        job->scalars[n_scalars++] = d;
        break;
      }
      case PA_ARG_F64:
      case PA_ARG_F32:
      case PA_ARG_I32: {
        const napi_typedarray_type want = a->kind == PA_ARG_F64   ? napi_float64_array
                                          : a->kind == PA_ARG_F32 ? napi_float32_array
                                                                  : napi_int32_array;
        bool is_typed = false;
        napi_typedarray_type type;
        size_t length;
        void *data;
        if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) {
          napi_valuetype t = napi_undefined;
          napi_typeof(env, v, &t);
          return fail(env, PA_TYPE_ERROR, "%s: argument '%s' must be a %s, got %s", fn, a->name,
                      typedarray_type_name(want), value_type_name(t));
        }
        /* Node returns the data pointer with the view's byte offset already applied; it also moves
         * V8's small on-heap typed arrays off the heap, so the pointer stays valid while referenced. */
        if (napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok) {
          return fail(env, PA_TYPE_ERROR, "%s: cannot read typed array '%s'", fn, a->name);
        }
        if (type != want) {
          return fail(env, PA_TYPE_ERROR, "%s: argument '%s' must be a %s, got %s", fn, a->name,
                      typedarray_type_name(want), typedarray_type_name(type));
        }
        const size_t k = job->n_arrays++;
        job->data[k] = data;
        job->arrays[k] = v;
        array_names[k] = a->name;
        array_lengths[k] = data == NULL ? 0 : length; /* a detached buffer has no data */
        array_elsize[k] = a->kind == PA_ARG_F64 ? sizeof(double) : a->kind == PA_ARG_F32 ? sizeof(float) : sizeof(int32_t);
        array_is_output[k] = a->is_output;
        break;
      }
    }
  }

  if (job->op == PA_DTRMM) {
    /* Leading dimensions at least the row lengths (and >= 1), as BLAS requires. */
    const int k = job->flags[0] ? job->dims[0] : job->dims[1];
    if (job->dims[2] < (k > 1 ? k : 1)) return fail(env, PA_RANGE_ERROR, "%s: lda = %d is less than max(1, %d)", fn, job->dims[2], k);
    if (job->dims[3] < (job->dims[1] > 1 ? job->dims[1] : 1)) {
      return fail(env, PA_RANGE_ERROR, "%s: ldb = %d is less than max(1, n = %d)", fn, job->dims[3], job->dims[1]);
    }
  }
  if (job->op == PA_DSCALESHIFTROWS && job->dims[2] < 1) return fail(env, PA_RANGE_ERROR, "%s: period must be at least 1, got %d", fn, job->dims[2]);
  uint64_t need[PA_MAX_ARRAYS] = {0};
  required_lengths(job, need);
  for (size_t i = 0; i < job->n_arrays; i++) {
    if ((uint64_t)array_lengths[i] < need[i]) {
      return fail(env, PA_RANGE_ERROR, "%s: array '%s' has %zu elements but the dimensions need at least %llu", fn,
                  array_names[i], array_lengths[i], (unsigned long long)need[i]);
    }
  }
  if (!check_lapack_limits(env, job, fn, need)) return 0;
  if (job->op == PA_DCOPYRUNS) {
    if (!copy_runs_extents(env, job, fn, need)) return 0;
    for (size_t i = 3; i < 5; i++) {
      if ((uint64_t)array_lengths[i] < need[i]) {
        return fail(env, PA_RANGE_ERROR, "%s: the copy reaches element %llu of '%s', which has %zu elements", fn,
                    (unsigned long long)need[i] - 1, array_names[i], array_lengths[i]);
      }
    }
  }

  /* An output sharing memory with any other operand is undefined behaviour in BLAS/LAPACK.
   * Only the extents the call actually uses are compared, so disjoint views of one buffer are fine. */
  for (size_t i = 0; i < job->n_arrays; i++) {
    for (size_t j = i + 1; j < job->n_arrays; j++) {
      if (!array_is_output[i] && !array_is_output[j]) continue;
      if (need[i] == 0 || need[j] == 0) continue;
      const uintptr_t lo_i = (uintptr_t)job->data[i], hi_i = lo_i + (uintptr_t)(need[i] * array_elsize[i]);
      const uintptr_t lo_j = (uintptr_t)job->data[j], hi_j = lo_j + (uintptr_t)(need[j] * array_elsize[j]);
      if (lo_i < hi_j && lo_j < hi_i) {
        return fail(env, PA_RANGE_ERROR, "%s: arrays '%s' and '%s' overlap in memory; %s is written by the call", fn,
                    array_names[i], array_names[j], array_is_output[j] ? array_names[j] : array_names[i]);
      }
    }
  }
  return 1;
}
