/*
 * Shared declarations of the polyapprox BLAS/LAPACK addon.
 *
 * A call is described by a `pa_job`: the operation, its validated scalar arguments and raw pointers
 * into the caller's typed arrays. `pa_parse_job` (validate.c) builds a job from JS arguments and
 * refuses anything that could make the BLAS/LAPACK call touch memory outside those arrays;
 * `pa_run_job` (kernels.c) performs the call and never touches JS values, so the same job can run
 * synchronously or on a libuv worker thread (binding.c).
 */
#ifndef POLYAPPROX_BLAS_H
#define POLYAPPROX_BLAS_H

#include <stddef.h>
#include <stdint.h>
#include <node_api.h>

/* Bumped whenever the JS-visible interface of the addon changes; src/linalg/native.ts checks it so a
 * stale build fails loudly instead of being called with the wrong arguments. */
#define PA_ABI_VERSION 3

/* `info` returned when LAPACK's workspace query asks for more than a 32-bit LAPACK integer can hold.
 * (LAPACKE itself uses -1010 for a failed workspace allocation and -1011 for a failed transpose buffer.) */
#define PA_INFO_WORKSPACE_TOO_LARGE (-2001)

typedef enum {
  PA_DGEMM,
  PA_SGEMM,
  PA_DSYEVD,
  PA_DGESDD,
  PA_DPOTRF,
  PA_DPOTRS,
  PA_DGESV,
  PA_DCOPYRUNS,
  PA_DTRMM,
  PA_DPOTRI,
  PA_DSYMMETRIZE,
  PA_DSCALESHIFTROWS,
  PA_OP_COUNT
} pa_op;

typedef enum { PA_ARG_BOOL, PA_ARG_DIM, PA_ARG_SCALAR, PA_ARG_F64, PA_ARG_F32, PA_ARG_I32 } pa_arg_kind;

#define PA_MAX_ARGS 10
#define PA_MAX_FLAGS 3
#define PA_MAX_DIMS 4
#define PA_MAX_SCALARS 2
#define PA_MAX_ARRAYS 5

typedef struct {
  const char *name;  /* as in the TS signature, used in error messages */
  pa_arg_kind kind;
  int is_output;     /* arrays only: written by the call, so it must not overlap any other array */
} pa_arg_spec;

typedef struct {
  const char *name;  /* JS-visible name of the synchronous function */
  pa_op op;
  size_t argc;
  pa_arg_spec args[PA_MAX_ARGS];
} pa_op_spec;

typedef struct {
  pa_op op;
  /* Arguments in the order they appear in the JS call, grouped by kind. */
  int flags[PA_MAX_FLAGS];
  int dims[PA_MAX_DIMS];          /* each in [0, INT_MAX] */
  double scalars[PA_MAX_SCALARS]; /* finite */
  void *data[PA_MAX_ARRAYS];      /* start of each typed array's view (byte offset applied) */
  size_t n_arrays;
  napi_value arrays[PA_MAX_ARRAYS]; /* valid only during the JS call that built the job */
  /* Result: LAPACK info (0 for BLAS calls). */
  int info;
  /* Async calls only. */
  napi_ref refs[PA_MAX_ARRAYS];
  napi_deferred deferred;
  napi_async_work work;
} pa_job;

/* The argument table of `op`. */
const pa_op_spec *pa_spec(pa_op op);

/*
 * Reads and validates the JS arguments of a call to `fn_name` (the spec's name, or its Async variant)
 * into `job`. Returns 1 on success; otherwise a JS TypeError/RangeError is pending and 0 is returned.
 */
int pa_parse_job(napi_env env, napi_callback_info info, const pa_op_spec *spec, const char *fn_name,
                 pa_job *job);

/* Performs the BLAS/LAPACK call described by a validated job and stores LAPACK's info in job->info.
 * Touches no JS value, so it may run on any thread. */
void pa_run_job(pa_job *job);

/* OpenBLAS runtime controls (thin wrappers, so binding.c need not include cblas.h).
 * pa_try_set_num_threads changes the process-wide thread count only if no BLAS/LAPACK call is running
 * on any thread; it returns 1 if it did, 0 if calls were running. */
int pa_try_set_num_threads(int n);
int pa_get_num_threads(void);
const char *pa_blas_config(void);
const char *pa_blas_corename(void);

#endif
