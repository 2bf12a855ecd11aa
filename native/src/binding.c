/*
 * N-API glue: exports a synchronous and a promise-returning variant of every operation, plus the
 * OpenBLAS thread controls.
 *
 * Synchronous calls return LAPACK's `info` (undefined for the GEMMs). Async calls validate on the JS
 * thread, hold a reference to every typed array so the GC keeps them alive, run the BLAS/LAPACK call
 * on a libuv worker thread, and resolve with the same value. They reject only if the work could not
 * run (e.g. cancelled at shutdown); LAPACK failures are reported through `info`.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "polyapprox_blas.h"

/* Throws a plain Error describing the last failed N-API call unless an exception is already pending. */
static void throw_last_napi_error(napi_env env, const char *context) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *err = NULL;
  napi_get_last_error_info(env, &err);
  char msg[256];
  snprintf(msg, sizeof msg, "%s: N-API call failed (%s)", context,
           err != NULL && err->error_message != NULL ? err->error_message : "unknown error");
  napi_throw_error(env, NULL, msg);
}

static napi_value job_result(napi_env env, const pa_job *job) {
  napi_value result = NULL;
  if (job->op == PA_DGEMM || job->op == PA_SGEMM || job->op == PA_DCOPYRUNS || job->op == PA_DTRMM || job->op == PA_DSYMMETRIZE ||
      job->op == PA_DSCALESHIFTROWS) {
    napi_get_undefined(env, &result);
  } else {
    napi_create_int32(env, job->info, &result);
  }
  return result;
}

static napi_value run_sync(napi_env env, napi_callback_info info, pa_op op) {
  const pa_op_spec *spec = pa_spec(op);
  pa_job job;
  if (!pa_parse_job(env, info, spec, spec->name, &job)) return NULL;
  pa_run_job(&job);
  return job_result(env, &job);
}

static void release_refs(napi_env env, pa_job *job) {
  for (size_t i = 0; i < job->n_arrays; i++) {
    if (job->refs[i] != NULL) napi_delete_reference(env, job->refs[i]);
    job->refs[i] = NULL;
  }
}

static void execute_job(napi_env env, void *data) {
  (void)env; /* must not be used off the JS thread */
  pa_run_job((pa_job *)data);
}

static void complete_job(napi_env env, napi_status status, void *data) {
  pa_job *job = (pa_job *)data;
  if (status == napi_ok) {
    napi_resolve_deferred(env, job->deferred, job_result(env, job));
  } else {
    napi_value msg, err;
    const char *text = status == napi_cancelled ? "polyapprox_blas: async work was cancelled"
                                                : "polyapprox_blas: async work failed to run";
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, job->deferred, err);
  }
  release_refs(env, job);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value run_async(napi_env env, napi_callback_info info, pa_op op) {
  const pa_op_spec *spec = pa_spec(op);
  char fn[64];
  snprintf(fn, sizeof fn, "%sAsync", spec->name);
  napi_value resource_name, promise;
  pa_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, NULL, "polyapprox_blas: out of memory");
    return NULL;
  }
  if (!pa_parse_job(env, info, spec, fn, job)) {
    free(job);
    return NULL;
  }
  for (size_t i = 0; i < job->n_arrays; i++) {
    if (napi_create_reference(env, job->arrays[i], 1, &job->refs[i]) != napi_ok) goto fail;
    job->arrays[i] = NULL; /* handles die with this call's scope; the references are what we keep */
  }
  if (napi_create_string_utf8(env, fn, NAPI_AUTO_LENGTH, &resource_name) != napi_ok) goto fail;
  if (napi_create_async_work(env, NULL, resource_name, execute_job, complete_job, job, &job->work) != napi_ok) {
    job->work = NULL;
    goto fail;
  }
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok) goto fail;
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_value msg, err;
    throw_last_napi_error(env, fn);
    /* The promise already exists: settle it so nothing waits forever, then report synchronously. */
    napi_create_string_utf8(env, "polyapprox_blas: could not queue async work", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, job->deferred, err);
    release_refs(env, job);
    napi_delete_async_work(env, job->work);
    free(job);
    return NULL;
  }
  return promise;

fail:
  throw_last_napi_error(env, fn);
  release_refs(env, job);
  if (job->work != NULL) napi_delete_async_work(env, job->work);
  free(job);
  return NULL;
}

#define DEFINE_OP(js_name, op)                                                                          \
  static napi_value js_name(napi_env env, napi_callback_info info) { return run_sync(env, info, op); } \
  static napi_value js_name##_async(napi_env env, napi_callback_info info) { return run_async(env, info, op); }

DEFINE_OP(js_dgemm, PA_DGEMM)
DEFINE_OP(js_sgemm, PA_SGEMM)
DEFINE_OP(js_dsyevd, PA_DSYEVD)
DEFINE_OP(js_dgesdd, PA_DGESDD)
DEFINE_OP(js_dpotrf, PA_DPOTRF)
DEFINE_OP(js_dpotri, PA_DPOTRI)
DEFINE_OP(js_dpotrs, PA_DPOTRS)
DEFINE_OP(js_dgesv, PA_DGESV)
DEFINE_OP(js_dtrmm, PA_DTRMM)

/* Memory-bound and short: synchronous only. */
static napi_value js_dcopy_runs(napi_env env, napi_callback_info info) { return run_sync(env, info, PA_DCOPYRUNS); }
static napi_value js_dsymmetrize(napi_env env, napi_callback_info info) { return run_sync(env, info, PA_DSYMMETRIZE); }
static napi_value js_dscale_shift_rows(napi_env env, napi_callback_info info) { return run_sync(env, info, PA_DSCALESHIFTROWS); }

/* OpenBLAS clamps larger requests to its compile-time maximum; anything above this is a caller bug. */
#define PA_MAX_THREADS_ARG 4096

static napi_value js_set_num_threads(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  napi_valuetype t;
  double d;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    throw_last_napi_error(env, "setNumThreads");
    return NULL;
  }
  if (argc != 1) {
    napi_throw_type_error(env, NULL, "setNumThreads: expected 1 argument");
    return NULL;
  }
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_number || napi_get_value_double(env, argv[0], &d) != napi_ok) {
    napi_throw_type_error(env, NULL, "setNumThreads: argument 'n' must be a number");
    return NULL;
  }
  if (!isfinite(d) || floor(d) != d || d < 1 || d > PA_MAX_THREADS_ARG) {
    char msg[128];
    snprintf(msg, sizeof msg, "setNumThreads: 'n' must be an integer in [1, %d], got %g", PA_MAX_THREADS_ARG, d);
    napi_throw_range_error(env, NULL, msg);
    return NULL;
  }
  if (!pa_try_set_num_threads((int)d)) {
    napi_throw_error(env, "EBUSY", "setNumThreads: BLAS/LAPACK calls are running; change the thread count when none are in flight");
  }
  return NULL;
}

static napi_value js_get_num_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_int32(env, pa_get_num_threads(), &result);
  return result;
}

static napi_value make_string(napi_env env, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s != NULL ? s : "", NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value js_blas_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "config", make_string(env, pa_blas_config()));
  napi_set_named_property(env, result, "corename", make_string(env, pa_blas_corename()));
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value abi, workspace_code;
  const napi_property_descriptor props[] = {
    {"dgemm", NULL, js_dgemm, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sgemm", NULL, js_sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dsyevd", NULL, js_dsyevd, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dgesdd", NULL, js_dgesdd, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dpotrf", NULL, js_dpotrf, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dpotrs", NULL, js_dpotrs, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dpotri", NULL, js_dpotri, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dpotriAsync", NULL, js_dpotri_async, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dgesv", NULL, js_dgesv, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dcopyRuns", NULL, js_dcopy_runs, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dsymmetrize", NULL, js_dsymmetrize, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dscaleShiftRows", NULL, js_dscale_shift_rows, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dtrmm", NULL, js_dtrmm, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dtrmmAsync", NULL, js_dtrmm_async, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dgemmAsync", NULL, js_dgemm_async, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sgemmAsync", NULL, js_sgemm_async, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dsyevdAsync", NULL, js_dsyevd_async, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dgesddAsync", NULL, js_dgesdd_async, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dpotrfAsync", NULL, js_dpotrf_async, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dpotrsAsync", NULL, js_dpotrs_async, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dgesvAsync", NULL, js_dgesv_async, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setNumThreads", NULL, js_set_num_threads, NULL, NULL, NULL, napi_enumerable, NULL},
    {"getNumThreads", NULL, js_get_num_threads, NULL, NULL, NULL, napi_enumerable, NULL},
    {"blasInfo", NULL, js_blas_info, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  napi_create_int32(env, PA_ABI_VERSION, &abi);
  napi_create_int32(env, PA_INFO_WORKSPACE_TOO_LARGE, &workspace_code);
  napi_set_named_property(env, exports, "abiVersion", abi);
  napi_set_named_property(env, exports, "INFO_WORKSPACE_TOO_LARGE", workspace_code);
  return exports;
}
