/*
 * kernels.h - the loops and BLAS calls ops share: matrix products (row-major
 * wrappers over OpenBLAS's cblas_sgemm), fused activations, a counter-based
 * random number generator (so dropout masks need no memory and do not depend
 * on the thread count) and helpers for masked rows.
 */
#ifndef HEED_KERNELS_H
#define HEED_KERNELS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* C[M,N] = alpha * op(A) op(B) + beta * C, row-major; op transposes when t*. */
void heed_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
               int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* Batched: count independent products with strides between matrices. Runs the
 * batch in parallel with single-threaded BLAS when the matrices are small. */
void heed_gemm_batch(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, int64_t stride_a, const float *B, int64_t ldb,
                     int64_t stride_b, float beta, float *C, int64_t ldc, int64_t stride_c,
                     int64_t count);

/* y[r, :] += bias for each of `rows` rows of width n. */
void heed_add_bias(float *y, const float *bias, int64_t rows, int64_t n);
/* db[:] += sum over rows of dy[r, :]. */
void heed_sum_rows(float *db, const float *dy, int64_t rows, int64_t n);

/* Activations usable fused after a product. */
typedef enum heed_act { HEED_ACT_NONE, HEED_ACT_TANH, HEED_ACT_SIGMOID, HEED_ACT_RELU } heed_act;
void heed_act_forward(heed_act act, float *y, size_t n);
/* dx = dy * act'(y), from the activation's output y; dx may equal dy. */
void heed_act_backward(heed_act act, float *dx, const float *dy, const float *y, size_t n);

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
static inline float heed_uniform(uint64_t seed, uint64_t index)
{
    return (float)(heed_mix64(seed + 0x9e3779b97f4a7c15ull * (index + 1)) >> 40) * 0x1.0p-24f;
}

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
