/*
 * shallow.h - products of few terms with a bias, C = bias + A op(B) with K
 * at most 64, on AVX2 for machines without AVX-512 (where heed_gemm512_bias
 * takes them). The recurrent layers' input projections are such products:
 * [B*T, E] by [E, G*H] with E = 16 in the shipped seq2seq graphs. OpenBLAS
 * handles them as it does deep ones, packing both operands, after bias rows
 * written first and read back; there they ran at 40-115 GFLOP/s on 2 cores
 * that do about 200, and here at 107-156 (1.34-2.90x as fast over three
 * runs of bench/gemm.c's last table). op(B) is packed once per call (K x N
 * floats, 64 KiB for the LSTMs' [16, 1024]) and each 6 x 16 tile of C
 * starts its sums from the bias and is written once.
 *
 * The same tiles serve thin products, C at most 32 columns wide: the
 * recurrent layers' input gradients, [B*T, G*H] by [G*H, 16], which
 * heed_gemm split by rows between single-threaded OpenBLAS calls: 160-167
 * GFLOP/s against 80-118 for that split and 84-99 for OpenBLAS's own
 * threads (bench/gemm.c, first table).
 *
 * Shape key: A [M,K] x op(B) [K,N] -> C [M,N].
 */
#ifndef HEED_SHALLOW_H
#define HEED_SHALLOW_H

#include <stdbool.h>
#include <stdint.h>

/* Whether heed_gemm_bias should send a product here: A untransposed, K at
 * most 64, enough work to share between threads, on a machine with AVX2
 * and FMA but no AVX-512. */
bool heed_gemm_shallow_wanted(bool ta, int64_t M, int64_t N, int64_t K);

/* C[M,N] = bias + A op(B) (bias [N] on every row, or nothing when NULL),
 * A [M,K] (lda), B [N,K] (ldb) when tb else [K,N]; K <= 64. C is not read
 * and its columns past N are left alone. Runs on the OpenMP threads unless
 * already inside a parallel region; each element's sum runs in the same
 * order whatever the thread count. Returns 0, or -1 without touching C when
 * the machine lacks AVX2 or FMA, K is out of range, or the packed copy of
 * op(B) cannot be allocated (the caller then uses BLAS). */
int heed_gemm_shallow_bias(bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                           const float *B, int64_t ldb, const float *bias, float *C, int64_t ldc);

/* Whether heed_gemm should send a product here: A untransposed, C at most
 * 32 columns wide and at least 64 deep (the recurrent layers' input
 * gradients, [B*T, G*H] by [G*H, 16]), enough work, the machines of
 * heed_gemm_shallow_wanted. */
bool heed_gemm_thin_wanted(bool ta, int64_t M, int64_t N, int64_t K);

/* C[M,N] = alpha A op(B) + beta C for narrow C (N <= 32) of any depth, the
 * same tiles without a bias (beta 0: C not read). Returns 0, or -1 as
 * heed_gemm_shallow_bias (N out of range instead of K). */
int heed_gemm_thin(bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

#endif
