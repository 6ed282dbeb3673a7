/* kernels.c - see kernels.h. */
#include "kernels.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "gemm512.h"
#include "shallow.h"

/* The largest matrix (N * K floats) of a one-row product kept on the calling
 * thread: 64 Ki floats, 256 KiB, about 3 us at the memory's rate. */
#define HEED_GEMV_HERE 65536

HEED_HOT void heed_dot_rows(int64_t N, int64_t K, float alpha, const float *a, const float *B,
                           int64_t ldb, float beta, float *C)
{
    int64_t n = 0;
    /* four rows at once: four independent sums, each vectorised, and each
     * load of a serves four of them; one row at a time waited on its own
     * adds, and took twice as long over the decoder's memory rows */
    for (; n + 4 <= N; n += 4) {
        const float *w0 = B + n * ldb, *w1 = w0 + ldb, *w2 = w1 + ldb, *w3 = w2 + ldb;
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
        for (int64_t k = 0; k < K; k++) {
            s0 += a[k] * w0[k];
            s1 += a[k] * w1[k];
            s2 += a[k] * w2[k];
            s3 += a[k] * w3[k];
        }
        float acc[4] = {s0, s1, s2, s3};
        for (int i = 0; i < 4; i++)
            C[n + i] = alpha * acc[i] + (beta == 0.0f ? 0.0f : beta * C[n + i]);
    }
    for (; n < N; n++) {
        const float *w = B + n * ldb;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int64_t k = 0; k < K; k++)
            acc += a[k] * w[k];
        C[n] = alpha * acc + (beta == 0.0f ? 0.0f : beta * C[n]);
    }
}

/* C[n] = alpha a . op(B)[:, n] + beta C[n] for one contiguous row a on the
 * calling thread: B [N,K] (tb) as dot products along its rows, B [K,N] as
 * row updates. beta = 0 does not read C. */
HEED_HOT static void gemv_here(bool tb, int64_t N, int64_t K, float alpha, const float *a,
                               const float *B, int64_t ldb, float beta, float *C)
{
    if (tb) {
        heed_dot_rows(N, K, alpha, a, B, ldb, beta, C);
        return;
    }
    for (int64_t n = 0; n < N; n++)
        C[n] = beta == 0.0f ? 0.0f : beta * C[n];
    for (int64_t k = 0; k < K; k++) {
        float ak = alpha * a[k];
        const float *w = B + k * ldb;
#pragma omp simd
        for (int64_t n = 0; n < N; n++)
            C[n] += ak * w[n];
    }
}

/* OpenBLAS's sgemm, row-major; on all threads outside a parallel region. */
static void sgemm_all(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                      int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta,
                C, (blasint)ldc);
}

/* Whether a product is split by rows, one single-threaded sgemm per thread,
 * instead of handed to OpenBLAS's threads. OpenBLAS's own split of products
 * with few columns is poor here: against it at 2 threads this split ran the
 * seq2seq graphs' 16-column input and weight gradients 1.36-1.53x as fast,
 * their output layers' 59-column products 1.08-1.14x, and no product of at
 * most 256 columns slower than 0.99x (bench/gemm.c, docs/PERFORMANCE.md);
 * the Luong training step took 13% less time. Wider products keep
 * OpenBLAS's threading, which was as fast or faster on them. Tiny products
 * are not worth starting threads. */
static bool split_rows_wanted(int64_t M, int64_t N, int64_t K)
{
    return N <= HEED_SPLIT_COLS && M >= 32 && (double)M * N * K >= (double)(1 << 18) &&
           !omp_in_parallel() && omp_get_max_threads() > 1;
}

/* C = alpha op(A) op(B) + beta C with op(A)'s rows in one contiguous block
 * per thread (multiples of 16 rows, the kernels' row tiles); BLAS called
 * inside a parallel region runs on its caller's thread alone. */
static void sgemm_split_rows(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                             const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                             float *C, int64_t ldc)
{
#pragma omp parallel
    {
        int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
        int64_t per = (M + nt - 1) / nt;
        per = (per + 15) / 16 * 16;
        int64_t m0 = id * per < M ? id * per : M, m1 = m0 + per < M ? m0 + per : M;
        if (m1 > m0)
            sgemm_all(ta, tb, m1 - m0, N, K, alpha, ta ? A + m0 : A + m0 * lda, lda, B, ldb,
                      beta, C + m0 * ldc, ldc);
    }
}

heed_gemm_path heed_gemm_route(bool ta, int64_t M, int64_t N, int64_t K)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return HEED_GEMM_EMPTY;
    if (M == 1)
        /* a small matrix-vector product (a decoding step's input or output
         * layer) stays here: OpenBLAS would start its threads for a few
         * microseconds of work, and on a machine where that costs 3 us it is
         * most of it. A larger one goes to sgemv, which streams the matrix
         * once on all threads; OpenBLAS's sgemm for one row runs a
         * small-matrix kernel on one thread, about 3x slower here. */
        return !ta && N * K <= HEED_GEMV_HERE ? HEED_GEMM_ROW_HERE : HEED_GEMM_GEMV;
    if (heed_gemm512_wanted(M, N, K))
        return HEED_GEMM_OWN;
    if (heed_gemm_thin_wanted(ta, M, N, K))
        return HEED_GEMM_THIN;
    return split_rows_wanted(M, N, K) ? HEED_GEMM_ROWS : HEED_GEMM_BLAS;
}

const char *heed_gemm_path_name(heed_gemm_path path)
{
    static const char *const names[] = {"empty", "one row here", "sgemv", "gemm512",
                                        "thin",  "rows split",   "sgemm"};
    return (size_t)path < sizeof names / sizeof *names ? names[path] : "?";
}

void heed_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
               int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    switch (heed_gemm_route(ta, M, N, K)) {
    case HEED_GEMM_EMPTY:
        if (M > 0 && N > 0 && beta != 1.0f)
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++)
                    C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return;
    case HEED_GEMM_ROW_HERE:
        gemv_here(tb, N, K, alpha, A, B, ldb, beta, C);
        return;
    case HEED_GEMM_GEMV:
        /* beta = 0 must not read C (it may hold NaN): cleared first */
        if (beta == 0.0f)
            memset(C, 0, (size_t)N * sizeof *C);
        cblas_sgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, (blasint)(tb ? N : K),
                    (blasint)(tb ? K : N), alpha, B, (blasint)ldb, A, (blasint)(ta ? lda : 1), beta,
                    C, 1);
        return;
    case HEED_GEMM_OWN:
        if (heed_gemm512(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == 0)
            return;
        break; /* declined (no memory for its panels): OpenBLAS's */
    case HEED_GEMM_THIN:
        if (heed_gemm_thin(tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == 0)
            return;
        break; /* declined (no memory for the packed copy): OpenBLAS's */
    case HEED_GEMM_ROWS:
        sgemm_split_rows(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    case HEED_GEMM_BLAS:
        break;
    }
    sgemm_all(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void heed_gemm_bias(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                    int64_t lda, const float *B, int64_t ldb, const float *bias, float *C,
                    int64_t ldc)
{
    if (bias && heed_gemm512_bias_wanted(M, N, K) &&
        heed_gemm512_bias(ta, tb, M, N, K, A, lda, B, ldb, bias, C, ldc) == 0)
        return;
    if (heed_gemm_shallow_wanted(ta, M, N, K) &&
        heed_gemm_shallow_bias(tb, M, N, K, A, lda, B, ldb, bias, C, ldc) == 0)
        return;
    if (ldc == N)
        heed_fill_rows(C, bias, M, N);
    else
        for (int64_t i = 0; i < M; i++)
            heed_fill_rows(C + i * ldc, bias, 1, N);
    heed_gemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 1.0f, C, ldc);
}

void heed_gemm_batch(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, int64_t stride_a, const float *B, int64_t ldb,
                     int64_t stride_b, float beta, float *C, int64_t ldc, int64_t stride_c,
                     int64_t count)
{
    /* Small products: one per thread (BLAS runs single-threaded inside a
     * parallel region). Large ones: let BLAS use the threads. */
    if ((double)M * N * K < 64.0 * 64 * 64 && count > 1) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < count; i++)
            heed_gemm(ta, tb, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta,
                      C + i * stride_c, ldc);
    } else {
        for (int64_t i = 0; i < count; i++)
            heed_gemm(ta, tb, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta,
                      C + i * stride_c, ldc);
    }
}

void heed_zero(void *p, size_t bytes)
{
    enum { CHUNK = 64 * 1024 };
    size_t chunks = (bytes + CHUNK - 1) / CHUNK;
    HEED_FOR_IF(chunks >= 8, , for (size_t c = 0; c < chunks; c++), {
        size_t off = c * CHUNK;
        memset((char *)p + off, 0, bytes - off < CHUNK ? bytes - off : CHUNK);
    });
}

void heed_fill_rows(float *y, const float *bias, int64_t rows, int64_t n)
{
    if (!bias) {
        memset(y, 0, (size_t)(rows * n) * sizeof *y);
        return;
    }
    HEED_FOR_IF(rows * n > 65536, , for (int64_t r = 0; r < rows; r++),
        memcpy(y + r * n, bias, (size_t)n * sizeof *y););
}

HEED_HOT void heed_add_bias(float *y, const float *bias, int64_t rows, int64_t n)
{
    HEED_FOR_IF(rows * n > 32768, , for (int64_t r = 0; r < rows; r++), {
        float *row = y + r * n;
        for (int64_t j = 0; j < n; j++)
            row[j] += bias[j];
    });
}

HEED_HOT void heed_sum_rows(float *db, const float *dy, int64_t rows, int64_t n)
{
    /* column sums: parallel over columns keeps each thread's sums private */
    HEED_FOR_IF(rows * n > 32768, , for (int64_t j0 = 0; j0 < n; j0 += 64), {
        int64_t j1 = j0 + 64 < n ? j0 + 64 : n;
        float acc[64] = {0};
        for (int64_t r = 0; r < rows; r++) {
            const float *row = dy + r * n;
            for (int64_t j = j0; j < j1; j++)
                acc[j - j0] += row[j];
        }
        for (int64_t j = j0; j < j1; j++)
            db[j] += acc[j - j0];
    });
}

HEED_HOT void heed_dropout_range(float *y, const float *x, uint64_t seed, float p,
                                 uint64_t first, size_t n, bool accumulate)
{
    /* heed_uniform(seed, i) < p  <=>  its 24-bit draw < ceil(p * 2^24): both
     * sides are exact in float, so the masks are the same bit for bit */
    uint64_t keep_from = (uint64_t)ceilf(p * 0x1.0p24f);
    float scale = 1.0f / (1.0f - p);
    if (accumulate) {
        for (size_t k = 0; k < n; k++)
            y[k] += heed_draw24(seed, first + k) >= keep_from ? x[k] * scale : 0.0f;
        return;
    }
    for (size_t k = 0; k < n; k++)
        y[k] = heed_draw24(seed, first + k) >= keep_from ? x[k] * scale : 0.0f;
}

void heed_dropout(float *y, const float *x, uint64_t seed, float p, size_t n, bool accumulate)
{
    enum { CHUNK = 8192 };
    HEED_FOR_IF(n > 32768, , for (size_t c = 0; c < n; c += CHUNK),
        heed_dropout_range(y + c, x + c, seed, p, c, c + CHUNK < n ? CHUNK : n - c, accumulate););
}

HEED_HOT void heed_act_forward(heed_act act, float *y, size_t n)
{
    switch (act) {
    case HEED_ACT_NONE: return;
    /* heed_tanh and heed_sigmoid, not libm's: their loops vectorise, and
     * libm's tanhf made the Bahdanau graph's [128, 256] initial state take
     * 0.7 ms, four times its product */
    case HEED_ACT_TANH:
        HEED_FOR_IF(n > 32768, , for (size_t i = 0; i < n; i++),
            y[i] = heed_tanh(y[i]););
        return;
    case HEED_ACT_SIGMOID:
        HEED_FOR_IF(n > 32768, , for (size_t i = 0; i < n; i++),
            y[i] = heed_sigmoid(y[i]););
        return;
    case HEED_ACT_RELU:
        HEED_FOR_IF(n > 32768, , for (size_t i = 0; i < n; i++),
            y[i] = y[i] > 0.0f ? y[i] : 0.0f;);
        return;
    }
}

HEED_HOT void heed_act_backward(heed_act act, float *dx, const float *dy, const float *y, size_t n)
{
    switch (act) {
    case HEED_ACT_NONE:
        if (dx != dy)
            memcpy(dx, dy, n * sizeof *dx);
        return;
    case HEED_ACT_TANH:
        HEED_FOR_IF(n > 32768, , for (size_t i = 0; i < n; i++),
            dx[i] = dy[i] * (1.0f - y[i] * y[i]););
        return;
    case HEED_ACT_SIGMOID:
        HEED_FOR_IF(n > 32768, , for (size_t i = 0; i < n; i++),
            dx[i] = dy[i] * y[i] * (1.0f - y[i]););
        return;
    case HEED_ACT_RELU:
        HEED_FOR_IF(n > 32768, , for (size_t i = 0; i < n; i++),
            dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;);
        return;
    }
}

/* Max and sum in SOFTMAX_LANES partial results: a single running sum
 * cannot vectorise (float addition is not reassociated), and the rows here
 * are short (64 keys in the encoder, 59 classes in the seq2seq losses), so
 * a scalar pass dominated. */
enum { SOFTMAX_LANES = 16 };

/* The row helpers are inlined into each caller here, so they vectorise for
 * the caller's target; the public wrappers below have targets of their own. */
static inline float row_max(const float *x, int64_t n)
{
    int64_t full = n / SOFTMAX_LANES * SOFTMAX_LANES, j;
    float mx = x[0];
    if (full) {
        float m[SOFTMAX_LANES];
        memcpy(m, x, sizeof m);
        for (j = SOFTMAX_LANES; j < full; j += SOFTMAX_LANES)
            for (int l = 0; l < SOFTMAX_LANES; l++)
                m[l] = x[j + l] > m[l] ? x[j + l] : m[l];
        for (int l = 0; l < SOFTMAX_LANES; l++)
            mx = m[l] > mx ? m[l] : mx;
    }
    for (j = full; j < n; j++)
        mx = x[j] > mx ? x[j] : mx;
    return mx;
}

/* sum_j e^(x[j] - mx); exp_sum_in_place also writes each term over x[j].
 * Two loops, not one with an optional output: that form ran the softmax
 * rows 3% slower. */
static inline float exp_sum(const float *x, int64_t n, float mx)
{
    int64_t full = n / SOFTMAX_LANES * SOFTMAX_LANES, j;
    float s[SOFTMAX_LANES] = {0}, sum = 0.0f;
    for (j = 0; j < full; j += SOFTMAX_LANES)
        for (int l = 0; l < SOFTMAX_LANES; l++)
            s[l] += heed_exp_neg(x[j + l] - mx);
    for (j = full; j < n; j++)
        sum += heed_exp_neg(x[j] - mx);
    for (int l = 0; l < SOFTMAX_LANES; l++)
        sum += s[l];
    return sum;
}

static inline float exp_sum_in_place(float *x, int64_t n, float mx)
{
    int64_t full = n / SOFTMAX_LANES * SOFTMAX_LANES, j;
    float s[SOFTMAX_LANES] = {0}, sum = 0.0f;
    for (j = 0; j < full; j += SOFTMAX_LANES)
        for (int l = 0; l < SOFTMAX_LANES; l++) {
            x[j + l] = heed_exp_neg(x[j + l] - mx);
            s[l] += x[j + l];
        }
    for (j = full; j < n; j++)
        sum += x[j] = heed_exp_neg(x[j] - mx);
    for (int l = 0; l < SOFTMAX_LANES; l++)
        sum += s[l];
    return sum;
}

HEED_HOT float heed_row_max(const float *x, int64_t n) { return row_max(x, n); }

HEED_HOT float heed_row_exp_sum(const float *x, int64_t n, float mx)
{
    return exp_sum(x, n, mx);
}

HEED_HOT void heed_softmax_row(float *x, int64_t n, int64_t valid)
{
    if (valid <= 0) {
        memset(x, 0, (size_t)n * sizeof *x);
        return;
    }
    float inv = 1.0f / exp_sum_in_place(x, valid, row_max(x, valid));
    for (int64_t j = 0; j < valid; j++)
        x[j] *= inv;
    for (int64_t j = valid; j < n; j++)
        x[j] = 0.0f;
}

void heed_softmax_row_backward(float *dx, const float *y, const float *dy, int64_t n)
{
    float dot = 0.0f;
    for (int64_t j = 0; j < n; j++)
        dot += y[j] * dy[j];
    for (int64_t j = 0; j < n; j++)
        dx[j] += y[j] * (dy[j] - dot);
}
