/*
 * The BLAS/LAPACK calls. Jobs arrive fully validated (validate.c): every array holds at least the
 * elements its dimensions need, outputs do not overlap other operands, and all LAPACK sizes fit
 * 32-bit integers. Nothing here touches JS values, so these functions also run on libuv threads.
 */
#define _POSIX_C_SOURCE 200809L /* pthread_rwlock_t under -std=c11 */

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "polyapprox_blas.h"

/* OpenBLAS's cblas.h declares its runtime controls; a generic cblas.h earlier on the include path
 * does not, and the library we link is OpenBLAS either way. */
#ifndef OPENBLAS_VERSION
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
char *openblas_get_corename(void);
#endif

/* Leading dimensions must be >= 1 even for empty matrices, or BLAS/LAPACK reject the call. */
static int ld(int x) { return x > 1 ? x : 1; }

/* C = beta·C over the first `len` elements; beta = 0 writes zeros so NaN in C does not survive. */
static void scale_d(double *c, size_t len, double beta) {
  if (beta == 1.0) return;
  if (beta == 0.0) {
    for (size_t i = 0; i < len; i++) c[i] = 0.0;
    return;
  }
  for (size_t i = 0; i < len; i++) c[i] *= beta;
}

static void scale_s(float *c, size_t len, float beta) {
  if (beta == 1.0f) return;
  if (beta == 0.0f) {
    for (size_t i = 0; i < len; i++) c[i] = 0.0f;
    return;
  }
  for (size_t i = 0; i < len; i++) c[i] *= beta;
}

static void run_gemm(pa_job *job) {
  const int m = job->dims[0], n = job->dims[1], k = job->dims[2];
  const int trans_a = job->flags[0], trans_b = job->flags[1];
  const double alpha = job->scalars[0], beta = job->scalars[1];
  if (m == 0 || n == 0) return;
  /* An empty inner dimension leaves C = beta·C; done here so it does not depend on how a BLAS
   * treats zero-size leading dimensions. */
  if (k == 0) {
    if (job->op == PA_DGEMM) scale_d(job->data[2], (size_t)m * (size_t)n, beta);
    else scale_s(job->data[2], (size_t)m * (size_t)n, (float)beta);
    return;
  }
  /* Row-major storage: A is m×k (lda = k) or, transposed, k×m (lda = m); likewise B. */
  const int lda = ld(trans_a ? m : k), ldb = ld(trans_b ? k : n), ldc = ld(n);
  const enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
  const enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
  if (job->op == PA_DGEMM) {
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, job->data[0], lda, job->data[1], ldb, beta, job->data[2], ldc);
  } else {
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, (float)alpha, job->data[0], lda, job->data[1], ldb, (float)beta,
                job->data[2], ldc);
  }
}

/* B = alpha·op(A)·B (left) or alpha·B·op(A) (right), A triangular with a non-unit diagonal, row-major with leading
 * dimensions lda and ldb (so that blocks of interleaved matrices can be used in place). */
static void run_dtrmm(pa_job *job) {
  const int left = job->flags[0], upper = job->flags[1], trans = job->flags[2];
  const int m = job->dims[0], n = job->dims[1], lda = job->dims[2], ldb = job->dims[3];
  if (m == 0 || n == 0) return;
  cblas_dtrmm(CblasRowMajor, left ? CblasLeft : CblasRight, upper ? CblasUpper : CblasLower, trans ? CblasTrans : CblasNoTrans,
              CblasNonUnit, m, n, job->scalars[0], job->data[0], lda, job->data[1], ldb);
}

/* Converts a LAPACK workspace-query answer to a size, or returns 0 if it does not fit lapack_int. */
static lapack_int workspace_size(double query) {
  if (!(query >= 1.0) || query > (double)INT_MAX) return 0;
  return (lapack_int)query;
}

static int run_dsyevd(pa_job *job) {
  const lapack_int n = job->dims[0];
  double *a = job->data[0], *w = job->data[1];
  if (n == 0) return 0;
  double work_query = 0;
  lapack_int iwork_query = 0;
  lapack_int info =
    LAPACKE_dsyevd_work(LAPACK_ROW_MAJOR, 'V', 'L', n, a, n, w, &work_query, -1, &iwork_query, -1);
  if (info != 0) return info;
  const lapack_int lwork = workspace_size(work_query);
  const lapack_int liwork = iwork_query;
  if (lwork == 0 || liwork < 1) return PA_INFO_WORKSPACE_TOO_LARGE;
  double *work = malloc(sizeof(double) * (size_t)lwork);
  lapack_int *iwork = malloc(sizeof(lapack_int) * (size_t)liwork);
  if (work == NULL || iwork == NULL) {
    free(work);
    free(iwork);
    return LAPACK_WORK_MEMORY_ERROR;
  }
  info = LAPACKE_dsyevd_work(LAPACK_ROW_MAJOR, 'V', 'L', n, a, n, w, work, lwork, iwork, liwork);
  free(work);
  free(iwork);
  return info;
}

static int run_dgesdd(pa_job *job) {
  const lapack_int m = job->dims[0], n = job->dims[1];
  const lapack_int p = m < n ? m : n;
  double *a = job->data[0], *s = job->data[1], *u = job->data[2], *vt = job->data[3];
  if (p == 0) return 0;
  /* Row-major thin SVD: U is m×p (ldu = p), Vᵀ is p×n (ldvt = n). */
  lapack_int *iwork = malloc(sizeof(lapack_int) * 8 * (size_t)p);
  if (iwork == NULL) return LAPACK_WORK_MEMORY_ERROR;
  double work_query = 0;
  lapack_int info = LAPACKE_dgesdd_work(LAPACK_ROW_MAJOR, 'S', m, n, a, n, s, u, p, vt, n, &work_query, -1, iwork);
  if (info != 0) {
    free(iwork);
    return info;
  }
  const lapack_int lwork = workspace_size(work_query);
  if (lwork == 0) {
    free(iwork);
    return PA_INFO_WORKSPACE_TOO_LARGE;
  }
  double *work = malloc(sizeof(double) * (size_t)lwork);
  if (work == NULL) {
    free(iwork);
    return LAPACK_WORK_MEMORY_ERROR;
  }
  info = LAPACKE_dgesdd_work(LAPACK_ROW_MAJOR, 'S', m, n, a, n, s, u, p, vt, n, work, lwork, iwork);
  free(work);
  free(iwork);
  return info;
}

static int run_dpotrf(pa_job *job) {
  const lapack_int n = job->dims[0];
  double *a = job->data[0];
  if (n == 0) return 0;
  /* A symmetric matrix reads the same in either storage order, and the column-major upper factor U (A = UᵀU) is,
   * read row-major, the lower factor L: so no transposed copies (LAPACKE's row-major path makes two). */
  const lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', n, a, n);
  if (info == 0) {
    /* LAPACK leaves the unused triangle as it was; the interface promises a clean L. */
    for (size_t i = 0; i < (size_t)n; i++) {
      memset(a + i * (size_t)n + i + 1, 0, sizeof(double) * ((size_t)n - i - 1));
    }
  }
  return info;
}

/* The inverse of L Lᵀ from the factor L of dpotrf, written to both triangles. */
static int run_dpotri(pa_job *job) {
  const lapack_int n = job->dims[0];
  double *a = job->data[0];
  if (n == 0) return 0;
  /* The row-major lower factor is the column-major upper one (see run_dpotrf); the inverse fills the column-major
   * upper triangle, i.e. the row-major lower one. */
  const lapack_int info = LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', n, a, n);
  if (info == 0) {
    for (size_t i = 0; i < (size_t)n; i++) {
      for (size_t j = 0; j < i; j++) a[j * (size_t)n + i] = a[i * (size_t)n + j];
    }
  }
  return info;
}

static int run_dpotrs(pa_job *job) {
  const lapack_int n = job->dims[0], nrhs = job->dims[1];
  if (n == 0 || nrhs == 0) return 0;
  return LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'L', n, nrhs, job->data[0], n, job->data[1], nrhs);
}

static int run_dgesv(pa_job *job) {
  const lapack_int n = job->dims[0], nrhs = job->dims[1];
  if (n == 0) return 0;
  lapack_int *ipiv = malloc(sizeof(lapack_int) * (size_t)n);
  if (ipiv == NULL) return LAPACK_WORK_MEMORY_ERROR;
  /* OpenBLAS's dgesv returns before factorising when nrhs = 0; factorise explicitly so a singular
   * matrix is still reported (and `a` is overwritten by its LU factors, as with nrhs > 0). */
  const lapack_int info = nrhs == 0 ? LAPACKE_dgetrf(LAPACK_ROW_MAJOR, n, n, job->data[0], n, ipiv)
                                    : LAPACKE_dgesv(LAPACK_ROW_MAJOR, n, nrhs, job->data[0], n, ipiv, job->data[1], nrhs);
  free(ipiv);
  return info;
}

/* The rows [r0, r1) of a row-wise kernel's job (the part one thread does). */
typedef struct {
  const pa_job *job;
  size_t r0, r1;
} job_rows;

/* dst[dr + dc + j] = (accumulate ? dst[dr + dc + j] : 0) + scale_t·src[sr + sc + j] for every row t = (sr, dr) and
 * run (sc, dc, len), j < len, over the rows [r0, r1): gathers and scatters of sub-blocks given as column runs. */

static void *copy_runs_rows(void *arg) {
  const job_rows *part = arg;
  const pa_job *job = part->job;
  const size_t runs = (size_t)job->dims[1];
  const int accumulate = job->flags[0];
  const int32_t *row_off = job->data[0], *run = job->data[1];
  const double *scale = job->data[2], *src = job->data[3];
  double *dst = job->data[4];
  for (size_t t = part->r0; t < part->r1; t++) {
    const double *s_row = src + row_off[2 * t];
    double *d_row = dst + row_off[2 * t + 1];
    const double f = scale[t];
    for (size_t r = 0; r < runs; r++) {
      const double *restrict s = s_row + run[3 * r];
      double *restrict d = d_row + run[3 * r + 1];
      const size_t len = (size_t)run[3 * r + 2];
      if (accumulate) {
        for (size_t j = 0; j < len; j++) d[j] += f * s[j];
      } else if (f == 1.0) {
        memcpy(d, s, len * sizeof(double));
      } else {
        for (size_t j = 0; j < len; j++) d[j] = f * s[j];
      }
    }
  }
  return NULL;
}

/* Copies of at least this many elements use a second thread: they are memory-bound, and one core draws only about
 * 60 % of the memory bandwidth that two do. */
#define PA_COPY_PARALLEL_ELEMENTS (1 << 18)

/* [lo, hi): the span of dst written by the rows [t0, t1) (run columns from col_lo to col_hi). */
static void dst_span(const int32_t *row_off, size_t t0, size_t t1, int64_t col_lo, int64_t col_hi, int64_t *lo, int64_t *hi) {
  int64_t a = INT64_MAX, b = INT64_MIN;
  for (size_t t = t0; t < t1; t++) {
    const int64_t o = row_off[2 * t + 1];
    if (o < a) a = o;
    if (o > b) b = o;
  }
  *lo = a + col_lo;
  *hi = b + col_hi;
}

/* Runs work(second) on a new thread and work(first) on this one, then waits for both; without a thread, both here in
 * turn. The memory-bound kernels below split their rows or blocks this way; the halves touch disjoint memory. */
static void run_in_halves(void *(*work)(void *), void *first, void *second) {
  pthread_t thread;
  if (pthread_create(&thread, NULL, work, second) == 0) {
    work(first);
    pthread_join(thread, NULL);
  } else {
    work(first);
    work(second);
  }
}

/* (A + Aᵀ)/2 in place for the blocks [b0, b1) of n×n, in 32×32 tiles so that the transposed reads stay in cache. */
typedef struct {
  double *a;
  size_t n, b0, b1;
} sym_blocks;

static void *symmetrize_blocks(void *arg) {
  const sym_blocks *p = arg;
  const size_t n = p->n, T = 32;
  for (size_t b = p->b0; b < p->b1; b++) {
    double *a = p->a + b * n * n;
    for (size_t i0 = 0; i0 < n; i0 += T) {
      const size_t i1 = i0 + T < n ? i0 + T : n;
      for (size_t j0 = 0; j0 <= i0; j0 += T) {
        for (size_t i = i0; i < i1; i++) {
          const size_t j1 = j0 + T < i ? j0 + T : i;
          for (size_t j = j0; j < j1; j++) {
            const double v = 0.5 * (a[i * n + j] + a[j * n + i]);
            a[i * n + j] = v;
            a[j * n + i] = v;
          }
        }
      }
    }
  }
  return NULL;
}

static void run_symmetrize(pa_job *job) {
  const size_t n = (size_t)job->dims[0], count = (size_t)job->dims[1];
  sym_blocks all = {job->data[0], n, 0, count};
  if (count >= 2 && n * n * count >= PA_COPY_PARALLEL_ELEMENTS) {
    /* Memory-bound like the copies: half of the blocks on a second thread. */
    sym_blocks first = {job->data[0], n, 0, count / 2}, second = {job->data[0], n, count / 2, count};
    run_in_halves(symmetrize_blocks, &first, &second);
    return;
  }
  symmetrize_blocks(&all);
}

/* x[r, ·] = (x[r, ·] + alpha[r % period]·b[r / period, ·]) ∘ scale[r / period, ·] for the rows [r0, r1). */
static void *scale_shift_rows(void *arg) {
  const job_rows *p = arg;
  const size_t n = (size_t)p->job->dims[1], period = (size_t)p->job->dims[2];
  const int shift = p->job->flags[0], scaled = p->job->flags[1];
  const double *alpha = p->job->data[0], *b = p->job->data[1], *scale = p->job->data[2];
  double *x = p->job->data[3];
  for (size_t r = p->r0; r < p->r1; r++) {
    double *row = x + r * n;
    const size_t blk = (r / period) * n;
    if (shift) {
      const double a = alpha[r % period];
      const double *br = b + blk;
      if (scaled) {
        const double *sr = scale + blk;
        for (size_t j = 0; j < n; j++) row[j] = (row[j] + a * br[j]) * sr[j];
      } else {
        for (size_t j = 0; j < n; j++) row[j] += a * br[j];
      }
    } else if (scaled) {
      const double *sr = scale + blk;
      for (size_t j = 0; j < n; j++) row[j] *= sr[j];
    }
  }
  return NULL;
}

static void run_scale_shift_rows(pa_job *job) {
  const size_t rows = (size_t)job->dims[0], n = (size_t)job->dims[1];
  job_rows all = {job, 0, rows};
  if (rows >= 2 && rows * n >= PA_COPY_PARALLEL_ELEMENTS) {
    /* Memory-bound: half of the rows (disjoint rows of x) on a second thread. */
    job_rows first = {job, 0, rows / 2}, second = {job, rows / 2, rows};
    run_in_halves(scale_shift_rows, &first, &second);
    return;
  }
  scale_shift_rows(&all);
}

static void run_copy_runs(pa_job *job) {
  const size_t rows = (size_t)job->dims[0], runs = (size_t)job->dims[1];
  const int32_t *row_off = job->data[0], *run = job->data[1];
  job_rows all = {job, 0, rows};
  int64_t per_row = 0, col_lo = INT64_MAX, col_hi = 0;
  for (size_t r = 0; r < runs; r++) {
    const int64_t dc = run[3 * r + 1], len = run[3 * r + 2];
    if (len == 0) continue;
    per_row += len;
    if (dc < col_lo) col_lo = dc;
    if (dc + len > col_hi) col_hi = dc + len;
  }
  if (rows >= 2 && per_row > 0 && (int64_t)rows * per_row >= PA_COPY_PARALLEL_ELEMENTS) {
    /* Two threads only when the halves write provably disjoint spans of dst, so accumulation never races. */
    const size_t mid = rows / 2;
    int64_t lo1, hi1, lo2, hi2;
    dst_span(row_off, 0, mid, col_lo, col_hi, &lo1, &hi1);
    dst_span(row_off, mid, rows, col_lo, col_hi, &lo2, &hi2);
    if (hi1 <= lo2 || hi2 <= lo1) {
      job_rows first = {job, 0, mid}, second = {job, mid, rows};
      run_in_halves(copy_runs_rows, &first, &second);
      return;
    }
  }
  copy_runs_rows(&all);
}

/* OpenBLAS's thread count is process-wide and changing it while another thread is inside a BLAS
 * call is unsafe, so calls hold this lock shared and a thread-count change takes it exclusively. */
static pthread_rwlock_t blas_calls_lock = PTHREAD_RWLOCK_INITIALIZER;

static void run_job_unlocked(pa_job *job) {
  switch (job->op) {
    case PA_DGEMM:
    case PA_SGEMM: run_gemm(job); job->info = 0; break;
    case PA_DSYEVD: job->info = run_dsyevd(job); break;
    case PA_DGESDD: job->info = run_dgesdd(job); break;
    case PA_DPOTRF: job->info = run_dpotrf(job); break;
    case PA_DPOTRI: job->info = run_dpotri(job); break;
    case PA_DSYMMETRIZE: run_symmetrize(job); job->info = 0; break;
    case PA_DSCALESHIFTROWS: run_scale_shift_rows(job); job->info = 0; break;
    case PA_DPOTRS: job->info = run_dpotrs(job); break;
    case PA_DGESV: job->info = run_dgesv(job); break;
    case PA_DCOPYRUNS: run_copy_runs(job); job->info = 0; break;
    case PA_DTRMM: run_dtrmm(job); job->info = 0; break;
    default: job->info = -1; break;
  }
}

void pa_run_job(pa_job *job) {
  pthread_rwlock_rdlock(&blas_calls_lock);
  run_job_unlocked(job);
  pthread_rwlock_unlock(&blas_calls_lock);
}

int pa_try_set_num_threads(int n) {
  if (pthread_rwlock_trywrlock(&blas_calls_lock) != 0) return 0;
  openblas_set_num_threads(n);
  pthread_rwlock_unlock(&blas_calls_lock);
  return 1;
}

int pa_get_num_threads(void) { return openblas_get_num_threads(); }
const char *pa_blas_config(void) { return openblas_get_config(); }
const char *pa_blas_corename(void) { return openblas_get_corename(); }
