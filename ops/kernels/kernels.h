/*
 * kernels.h - the loops and BLAS calls ops share: matrix products (row-major
 * wrappers over OpenBLAS's cblas_sgemm), fused activations, a counter-based
 * random number generator (so dropout masks need no memory and do not depend
 * on the thread count) and helpers for masked rows.
 */
#ifndef HEED_KERNELS_H
#define HEED_KERNELS_H

#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* `loop` (a for header) over `body`, split statically between the threads
 * when `cond` holds and no parallel region is running, else on the calling
 * thread without entering the OpenMP runtime. `clauses` adds to the pragma
 * (a reduction; empty for none). This replaces `#pragma omp parallel for
 * if (cond)`: an `if` clause that comes out false still starts a team of
 * one, and libgomp makes a futex call for it, which took 1.5 us at the top
 * level and 3.8 us inside another region on the machine of
 * docs/PERFORMANCE.md. A decoding step of one sequence met such a loop 6
 * times, the encoder of a decoding 58 times (once per step and direction). */
#define HEED_PRAGMA_(x) _Pragma(#x)
#define HEED_FOR_IF(cond, clauses, loop, ...)                                                      \
    do {                                                                                           \
        if ((cond) && !omp_in_parallel()) {                                                        \
            HEED_PRAGMA_(omp parallel for schedule(static) clauses)                                \
            loop __VA_ARGS__                                                                       \
        } else {                                                                                   \
            loop __VA_ARGS__                                                                       \
        }                                                                                          \
    } while (0)

/* Products with at most this many columns split their rows between the
 * threads themselves (see split_rows_wanted in kernels.c). */
#define HEED_SPLIT_COLS 256

/* C[M,N] = alpha * op(A) op(B) + beta * C, row-major; op transposes when t*. */
void heed_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
               int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* Which code heed_gemm runs a product with, called from outside a parallel
 * region with the current thread count (bench/gemm.c prints it). */
typedef enum heed_gemm_path {
    HEED_GEMM_EMPTY,    /* nothing to multiply (M, N or K is 0) */
    HEED_GEMM_ROW_HERE, /* one small row, on the calling thread */
    HEED_GEMM_GEMV,     /* one row, OpenBLAS's sgemv */
    HEED_GEMM_OWN,      /* heed_gemm512 (ops/kernels/gemm512.c) */
    HEED_GEMM_THIN,     /* heed_gemm_thin (ops/kernels/shallow.c) */
    HEED_GEMM_ROWS,     /* rows split between the threads, sgemm on each */
    HEED_GEMM_BLAS,     /* OpenBLAS's sgemm on all threads */
} heed_gemm_path;
heed_gemm_path heed_gemm_route(bool ta, int64_t M, int64_t N, int64_t K);
const char *heed_gemm_path_name(heed_gemm_path path);

/* C[M,N] = op(A) op(B) + bias (bias[N] added to every row; NULL: none);
 * C is not read. heed_gemm512 where heed_gemm512_bias_wanted says so, the
 * shallow product where heed_gemm_shallow_wanted does (both start their sums
 * from the bias), else bias rows then heed_gemm with beta 1. */
void heed_gemm_bias(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                    int64_t lda, const float *B, int64_t ldb, const float *bias, float *C,
                    int64_t ldc);

/* Batched: count independent products with strides between matrices. Runs the
 * batch in parallel with single-threaded BLAS when the matrices are small. */
void heed_gemm_batch(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, int64_t stride_a, const float *B, int64_t ldb,
                     int64_t stride_b, float beta, float *C, int64_t ldc, int64_t stride_c,
                     int64_t count);

/* Clears `bytes` bytes at p, large buffers on all threads (outside a
 * parallel region): one core's stores clearing the encoder's 8 MiB gradient
 * buffers left the other core waiting. */
void heed_zero(void *p, size_t bytes);

/* y[r, :] = bias for each of `rows` rows of width n (or 0 when bias is NULL):
 * a product then accumulates with beta = 1, which spares OpenBLAS a pass
 * that zeroes the output for beta = 0 and the separate bias addition. */
void heed_fill_rows(float *y, const float *bias, int64_t rows, int64_t n);
/* y[r, :] += bias for each of `rows` rows of width n. */
void heed_add_bias(float *y, const float *bias, int64_t rows, int64_t n);
/* db[:] += sum over rows of dy[r, :]. */
void heed_sum_rows(float *db, const float *dy, int64_t rows, int64_t n);

/* Activations usable fused after a product. */
typedef enum heed_act { HEED_ACT_NONE, HEED_ACT_TANH, HEED_ACT_SIGMOID, HEED_ACT_RELU } heed_act;
void heed_act_forward(heed_act act, float *y, size_t n);
/* dx = dy * act'(y), from the activation's output y; dx may equal dy. */
void heed_act_backward(heed_act act, float *dx, const float *dy, const float *y, size_t n);

/* Hot loops get an AVX2+FMA version chosen at load time, beside the
 * baseline one: the binary still runs on any x86-64. (GCC only: clang 14
 * names the resolvers so that calls from other files do not link.) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(HEED_NO_CLONES)
#define HEED_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HEED_HOT
#endif

/*
 * e^x in float, within 2 ulp on [-87, 88] (clamped outside: e^-87 is already
 * below every value that matters here, e^88 near the largest float). Written
 * without branches or calls so loops over it vectorise: round to the nearest
 * power of two, a degree-6 polynomial for the rest (Cephes' expf), and the
 * power built in the exponent bits. Rounding uses the 1.5 * 2^23 trick, which
 * relies on the compiler not reassociating float arithmetic (no -ffast-math).
 */
#define HEED_EXP_LOG2E 1.44269504088896341f /* heed_exp's constants, for its vector twins */
#define HEED_EXP_ROUND 12582912.0f /* 1.5 * 2^23 */
#define HEED_EXP_LN2_HI 0.693359375f /* ln 2 = HI - LO, HI exact in few bits */
#define HEED_EXP_LN2_LO 2.12194440e-4f
#define HEED_EXP_P5 1.9875691500E-4f /* the polynomial, highest first */
#define HEED_EXP_P4 1.3981999507E-3f
#define HEED_EXP_P3 8.3334519073E-3f
#define HEED_EXP_P2 4.1665795894E-2f
#define HEED_EXP_P1 1.6666665459E-1f
#define HEED_EXP_P0 5.0000001201E-1f

static inline float heed_exp_clamped(float x) /* x in [-87, 88], or NaN */
{
    /* t's low bits hold round(x log2 e) as an integer: the power is built
     * from them, not by converting n, whose conversion is undefined for a
     * NaN x (which the polynomial then carries through to the result) */
    float t = x * HEED_EXP_LOG2E + HEED_EXP_ROUND;
    float n = t - HEED_EXP_ROUND;
    float r = x - n * HEED_EXP_LN2_HI;
    r = r + n * HEED_EXP_LN2_LO;
    float p = HEED_EXP_P5;
    p = p * r + HEED_EXP_P4;
    p = p * r + HEED_EXP_P3;
    p = p * r + HEED_EXP_P2;
    p = p * r + HEED_EXP_P1;
    p = p * r + HEED_EXP_P0;
    p = p * r * r + r + 1.0f;
    uint32_t tb;
    memcpy(&tb, &t, sizeof tb);
    uint32_t bits = (tb - 0x4B400000u + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float heed_exp(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    return heed_exp_clamped(x);
}

/* heed_exp for x <= 0 (softmax's shifted scores, tanh's e^-2|x|, GELU's
 * tails), the same values without the upper clamp: its compare and select
 * were 12% of GELU's time. */
static inline float heed_exp_neg(float x)
{
    return heed_exp_clamped(x < -87.0f ? -87.0f : x);
}

static inline float heed_sigmoid(float x)
{
    return 1.0f / (1.0f + heed_exp(-x));
}

#define HEED_TANH_P4 1.3726503928293554e-08f /* heed_tanh's P and Q, highest first */
#define HEED_TANH_P3 2.0881488073033695e-05f
#define HEED_TANH_P2 3.5123299050615325e-03f
#define HEED_TANH_P1 1.3395190336709817e-01f
#define HEED_TANH_Q4 7.9299259811454375e-07f
#define HEED_TANH_Q3 3.3128791655832451e-04f
#define HEED_TANH_Q2 2.5940881440159932e-02f
#define HEED_TANH_Q1 4.6728513835298596e-01f

/* tanh as x P(x^2) / Q(x^2), two degree-4 polynomials fitted for relative
 * error on [0, 9] (tests/fixtures/fit_tanh.py; over every float, within
 * 3.4e-7 of tanh relative to its value with fused multiply-adds and 3.7e-7
 * without), with x clamped at +-9 and the result at +-1, where tanh rounds to
 * +-1 in float. One division and nine multiply-adds: over a vector loop on
 * an AVX2 core 1.6x as fast as tanh from heed_exp (0.50 against 0.80 ns an
 * element), which was most of the additive attention's scoring and a third
 * of a GRU cell's transcendental work. NaN stays NaN. */
static inline float heed_tanh(float x)
{
    x = x < -9.0f ? -9.0f : x;
    x = x > 9.0f ? 9.0f : x;
    float t = x * x;
    float p = HEED_TANH_P4;
    p = p * t + HEED_TANH_P3;
    p = p * t + HEED_TANH_P2;
    p = p * t + HEED_TANH_P1;
    p = p * t + 1.0f;
    float q = HEED_TANH_Q4;
    q = q * t + HEED_TANH_Q3;
    q = q * t + HEED_TANH_Q2;
    q = q * t + HEED_TANH_Q1;
    q = q * t + 1.0f;
    float y = x * p / q;
    /* the fit overshoots 1 by up to 2 ulp near the clamp */
    y = y > 1.0f ? 1.0f : y;
    return y < -1.0f ? -1.0f : y;
}

/* Kept for code that wants libm's exact values. */
static inline float heed_sigmoidf(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* Counter-based random numbers: the same (seed, index) always gives the same
 * value, whatever the thread that asks. */
static inline uint64_t heed_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}
/* The 24-bit draw number `index` of stream `seed`; heed_uniform scales it. */
static inline uint64_t heed_draw24(uint64_t seed, uint64_t index)
{
    return heed_mix64(seed + 0x9e3779b97f4a7c15ull * (index + 1)) >> 40;
}
static inline float heed_uniform(uint64_t seed, uint64_t index)
{
    return (float)heed_draw24(seed, index) * 0x1.0p-24f;
}

/* C[n] = alpha a . B[n, :K] + beta C[n] for the N rows of B (ld ldb), on the
 * calling thread; beta = 0 does not read C. A one-row product against a
 * transposed weight, and attention's scores of one query against its keys. */
void heed_dot_rows(int64_t N, int64_t K, float alpha, const float *a, const float *B,
                   int64_t ldb, float beta, float *C);

/* Dropout of n elements whose draws are numbered first, first + 1, ...:
 * element k is dropped when heed_uniform(seed, first + k) < p and kept scaled
 * by 1/(1-p) otherwise; y = that (y may be x), or with `accumulate` y += that
 * (backward). The keep test is on the integer draw, so the loop vectorises. */
void heed_dropout_range(float *y, const float *x, uint64_t seed, float p, uint64_t first,
                        size_t n, bool accumulate);
/* The same for draws 0..n-1, in parallel when n is large. */
void heed_dropout(float *y, const float *x, uint64_t seed, float p, size_t n, bool accumulate);

/* The largest of x[0..n-1] (n >= 1), and sum_j e^(x[j] - mx) with mx at
 * least that largest (heed_exp, so e^0 = 1 and no term overflows). */
float heed_row_max(const float *x, int64_t n);
float heed_row_exp_sum(const float *x, int64_t n, float mx);
/* Softmax of one row in place, over the first `valid` entries; the rest are set
 * to 0 (masked). A row with valid == 0 becomes all zeros. */
void heed_softmax_row(float *x, int64_t n, int64_t valid);
/* dx[j] += y[j] * (dy[j] - sum_k y[k] dy[k]) over a row. */
void heed_softmax_row_backward(float *dx, const float *y, const float *dy, int64_t n);

/* The valid length of sequence b: len ? len[b] : full. */
static inline int64_t heed_len(const int32_t *len, int64_t b, int64_t full)
{
    return len ? (len[b] < full ? len[b] : full) : full;
}

#endif /* HEED_KERNELS_H */
